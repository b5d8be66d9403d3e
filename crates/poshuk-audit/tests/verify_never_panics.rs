//! `poshuk audit verify` reads files an auditor is handed, possibly
//! tampered with: any text gives a summary or a located error, never a
//! crash; and a chain that verifies stays verified line by line.

use proptest::prelude::*;

fn entry_like() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u64>(), "[0-9a-f]{0,64}").prop_map(|(seq, prev)| format!(
            "{{\"seq\":{seq},\"prev\":\"{prev}\",\"event\":\"x\"}}"
        )),
        Just(format!(
            "{{\"seq\":1,\"prev\":\"{}\"}}",
            poshuk_audit::GENESIS
        )),
        ".{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_log_text_verifies_or_names_a_line(lines in proptest::collection::vec(entry_like(), 0..20)) {
        let text = lines.join("\n");
        match poshuk_audit::verify("log", text.as_bytes()) {
            Ok(summary) => prop_assert!(summary.entries as usize <= lines.len()),
            Err(error) => prop_assert!(error.to_string().starts_with("log")),
        }
    }
}
