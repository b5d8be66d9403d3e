//! Taking part without a node: a partner tokenizes its list on its own
//! machine and asks through the coordinator, or seals its queries to one
//! partner, who answers with its node in a file sealed back.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::federation::{guarded, joins, start_coordinator, token};
use crate::support::{NodeProcess, poshuk, read_csv, synth_data, write_private};

/// Per partner, the cases with a strong hit, from the summary `overlap`
/// prints.
fn strong_per_partner(stdout: &str) -> HashMap<String, usize> {
    stdout
        .lines()
        .filter_map(|line| {
            let (partner, rest) = line.trim().split_once(": ")?;
            let strong = rest.split_once(" with a strong hit")?.0.parse().ok()?;
            Some((partner.to_string(), strong))
        })
        .collect()
}

/// The Russian sources' cases whose person the NGO also holds.
fn shared_with_ngo(root: &Path) -> usize {
    let truth = read_csv(&root.join("data/truth.csv"));
    let mut sources: HashMap<&str, HashSet<&str>> = HashMap::new();
    for row in &truth[1..] {
        sources.entry(&row[2]).or_default().insert(&row[0]);
    }
    let ru_people: HashSet<&str> = truth[1..]
        .iter()
        .filter(|row| row[0] == "ru_sources")
        .map(|row| row[2].as_str())
        .collect();
    ru_people
        .iter()
        .filter(|person| sources[*person].contains("ngo_ua"))
        .count()
}

#[test]
fn a_partner_without_a_node_finds_its_cases_through_the_coordinator_or_a_sealed_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    assert!(poshuk(root, &["keys", "init", "-o", "keyring.toml"]).success);
    synth_data(root, 300, 9);
    let mut nodes: Vec<NodeProcess> = [("ngo-ua", "ngo_ua"), ("intl-org", "intl_org")]
        .iter()
        .map(|(id, file)| NodeProcess::start_loaded(root, id, file, &guarded(id)))
        .collect();
    // The Russian sources run no node: a partner that may search, and is
    // searched by no one.
    let (_coordinator, url) = start_coordinator(
        root,
        &[
            ("ngo-ua", &nodes[0].federation),
            ("intl-org", &nodes[1].federation),
            ("ru-sources", ""),
        ],
        2000,
        &|config| {
            for partner in &mut config.partners {
                if partner.id == "ru-sources" {
                    partner.permissions = vec![poshuk_coordinator::Permission::Search];
                }
            }
        },
    );
    for (node, id) in nodes.iter_mut().zip(["ngo-ua", "intl-org"]) {
        node.reconfigure(root, &joins(&url, id));
    }
    // The offline partner: its keyring, an identity, the coordinator.
    let identity = poshuk(root, &["keys", "identity", "--out", "ru-identity.age"]);
    assert!(identity.success, "{}", identity.stderr);
    write_private(
        &root.join("ru-offline.toml"),
        &format!(
            "partner_id = \"ru-sources\"\nkeyring = \"keyring.toml\"\nidentity = \"ru-identity.age\"\n\n[coordinator]\nurl = \"{url}\"\ntoken = \"{}\"\n",
            token("ru-sources")
        ),
    );

    // Through the coordinator, end to end.
    let through = poshuk(
        root,
        &[
            "overlap",
            "--offline",
            "ru-offline.toml",
            "data/ru_sources.csv",
            "-o",
            "through.csv",
        ],
    );
    assert!(through.success, "{}\n{}", through.stdout, through.stderr);
    let found = strong_per_partner(&through.stdout);
    let shared = shared_with_ngo(root);
    assert!(shared > 20, "the data must share persons: {shared}");
    let at_ngo = found.get("ngo-ua").copied().unwrap_or(0);
    assert!(
        at_ngo * 10 >= shared * 8,
        "{at_ngo} of {shared} shared cases found strong at the NGO:\n{}",
        through.stdout
    );
    println!("through the coordinator: {at_ngo} of {shared} shared cases strong at the NGO");
    let report = std::fs::read_to_string(root.join("through.csv")).expect("the report");
    assert!(report.contains("ngo-ua") && report.contains("strong"));

    // Straight to the NGO, in sealed files.
    let ngo_identity = poshuk(root, &["keys", "identity", "--config", "ngo-ua.toml"]);
    assert!(ngo_identity.success, "{}", ngo_identity.stderr);
    let ngo_key = ngo_identity.stdout.trim().to_string();
    let sealed = poshuk(
        root,
        &[
            "overlap",
            "--offline",
            "ru-offline.toml",
            "data/ru_sources.csv",
            "--sealed-to",
            &ngo_key,
            "-o",
            "request.age",
        ],
    );
    assert!(sealed.success, "{}", sealed.stderr);
    let request = std::fs::read(root.join("request.age")).expect("the request");
    assert!(request.starts_with(b"age-encryption.org/v1"));
    let cases = read_csv(&root.join("data/ru_sources.csv"));
    for row in &cases[1..20] {
        assert!(
            !String::from_utf8_lossy(&request).contains(&row[2]),
            "a name in the clear"
        );
    }
    // Another partner cannot open it, with or without an identity.
    let no_identity = poshuk(
        root,
        &[
            "overlap",
            "--answer",
            "request.age",
            "--node",
            &nodes[1].local,
            "-o",
            "wrong.age",
        ],
    );
    assert!(!no_identity.success);
    assert!(
        no_identity.stderr.contains("keys identity"),
        "{}",
        no_identity.stderr
    );
    assert!(poshuk(root, &["keys", "identity", "--config", "intl-org.toml"]).success);
    let wrong = poshuk(
        root,
        &[
            "overlap",
            "--answer",
            "request.age",
            "--node",
            &nodes[1].local,
            "-o",
            "wrong.age",
        ],
    );
    assert!(!wrong.success);
    assert!(
        wrong.stderr.contains("cannot be opened"),
        "{}",
        wrong.stderr
    );
    let answered = poshuk(
        root,
        &[
            "overlap",
            "--answer",
            "request.age",
            "--node",
            &nodes[0].local,
            "-o",
            "reply.age",
        ],
    );
    assert!(answered.success, "{}", answered.stderr);
    let read = poshuk(
        root,
        &[
            "overlap",
            "--offline",
            "ru-offline.toml",
            "data/ru_sources.csv",
            "--read",
            "reply.age",
            "-o",
            "sealed.csv",
        ],
    );
    assert!(read.success, "{}\n{}", read.stdout, read.stderr);
    assert_eq!(
        strong_per_partner(&read.stdout).get("ngo-ua").copied(),
        Some(at_ngo),
        "the same cases as through the coordinator:\n{}",
        read.stdout
    );
    // A reply forged by anyone else (the public key is no secret) lacks the
    // request's secret and is refused.
    let identity = std::fs::read_to_string(root.join("ru-identity.age")).expect("identity");
    let sealed_reply = std::fs::read(root.join("reply.age")).expect("reply");
    let opened = poshuk_keys::letters::open_bytes(&identity, &sealed_reply).expect("opens");
    let mut forged: poshuk_protocol::offline::OfflineReply =
        serde_json::from_slice(&opened).expect("a reply");
    forged.nonce = "0".repeat(64);
    let public = poshuk_keys::letters::public_key_of(&identity).expect("key");
    let bytes =
        poshuk_keys::letters::seal_bytes(&public, &serde_json::to_vec(&forged).expect("JSON"))
            .expect("sealed");
    std::fs::write(root.join("forged.age"), bytes).expect("written");
    let refused = poshuk(
        root,
        &[
            "overlap",
            "--offline",
            "ru-offline.toml",
            "data/ru_sources.csv",
            "--read",
            "forged.age",
            "-o",
            "forged.csv",
        ],
    );
    assert!(!refused.success);
    assert!(refused.stderr.contains("secret"), "{}", refused.stderr);
    // A reply is read against the list its request was made of.
    let other = poshuk(
        root,
        &[
            "overlap",
            "--offline",
            "ru-offline.toml",
            "data/intl_org.csv",
            "--read",
            "reply.age",
            "-o",
            "other.csv",
        ],
    );
    assert!(!other.success);
    assert!(other.stderr.contains("another list"), "{}", other.stderr);
    // The NGO's node wrote down that it answered, not what.
    let audit = std::fs::read_to_string(root.join("ngo-ua-data/audit.jsonl")).expect("audit");
    assert!(audit.contains("offline_request_from"), "{audit}");
    assert!(!audit.contains(&cases[1][2]), "a name in the audit log");
}
