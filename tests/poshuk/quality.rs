//! The quality floor: on a small synthetic federation, every pairing keeps
//! F1 at the default threshold above a floor, and twins are never strong.

use crate::support::poshuk;

#[test]
fn quality_floor_on_a_small_federation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = poshuk(
        dir.path(),
        &[
            "bench",
            "quality",
            "--persons",
            "1500",
            "--seed",
            "3",
            "--json",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("json report");
    let pairings = report["pairings"].as_array().expect("pairings");
    assert_eq!(pairings.len(), 3);
    for pairing in pairings {
        let name = format!("{}-{}", pairing["left"], pairing["right"]);
        let f1 = pairing["f1"].as_f64().expect("f1");
        let recall_at_1 = pairing["recall_at_1"].as_f64().expect("recall@1");
        assert!(f1 >= 0.95, "{name}: F1 {f1}");
        assert!(recall_at_1 >= 0.93, "{name}: recall@1 {recall_at_1}");
        assert_eq!(
            pairing["twins_strong"].as_u64(),
            Some(0),
            "{name}: a twin pair scored strong"
        );
        assert!(
            pairing["true_pairs"].as_u64().expect("count") > 100,
            "{name}: too few true pairs to measure"
        );
    }
}
