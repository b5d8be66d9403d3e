//! The federation end to end: real nodes and a real coordinator on loopback
//! sockets, searched through a node's local API as a searcher would.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use poshuk_coordinator::{CoordinatorConfig, PartnerConfig};
use poshuk_node::NodeConfig;
use poshuk_node::config::CoordinatorLink;

use crate::support::{
    NodeProcess, poshuk, post_json, read_csv, spawn_server, synth_data, workspace_with_keyring,
};

pub(crate) const PARTNERS: [(&str, &str); 3] = [
    ("ngo-ua", "ngo_ua"),
    ("ru-sources", "ru_sources"),
    ("intl-org", "intl_org"),
];

pub(crate) struct Coordinator(pub(crate) Child);

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn token(partner: &str) -> String {
    format!("test-token-of-{partner}-0123456789")
}

pub(crate) fn node_token(partner: &str) -> String {
    format!("node-token-of-{partner}-0123456789")
}

/// Writes the coordinator's config for the given (id, node URL) partners and
/// starts it on port 0; returns it with its URL, as it reports it once bound.
pub(crate) fn start_coordinator(
    dir: &Path,
    partners: &[(&str, &str)],
    per_node_ms: u64,
    configure: &dyn Fn(&mut CoordinatorConfig),
) -> (Coordinator, String) {
    let registry = partners
        .iter()
        .map(|(id, node_url)| PartnerConfig {
            node_token: Some(node_token(id)),
            contact: format!("cases@{id}.example.org"),
            ..PartnerConfig::new(id, node_url, &token(id))
        })
        .collect();
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = CoordinatorConfig::new(listen, "audit.jsonl", registry);
    config.plain_http_on_loopback = true;
    config.deadlines.per_node_ms = per_node_ms;
    config.deadlines.overall_ms = per_node_ms + 500;
    // The tests search far faster than a case worker: the limits are
    // raised here, and tested on their own below.
    config.limits.searches_per_minute = 1_000_000;
    config.limits.searches_per_day = 1_000_000;
    config.limits.concurrent_searches = 64;
    config.limits.hits_per_day_min = 1_000_000;
    configure(&mut config);
    let config = config.to_toml();
    crate::support::write_private(&dir.join("coordinator.toml"), &config);
    let (child, words) = spawn_server(
        dir,
        &["coordinator", "--config", "coordinator.toml"],
        &dir.join("coordinator.log"),
    );
    (Coordinator(child), words.join(""))
}

/// Completes a node's config to answer only the coordinator's token: how
/// nodes start, before the coordinator (which needs their addresses) exists.
pub(crate) fn guarded(partner: &str) -> impl Fn(&mut NodeConfig) {
    let partner = partner.to_string();
    move |config| config.federation.token = Some(node_token(&partner))
}

/// Completes a node's config to join the coordinator at `url`: this
/// partner's token there, and the coordinator's token here.
pub(crate) fn joins(url: &str, partner: &str) -> impl Fn(&mut NodeConfig) {
    let (url, partner) = (url.to_string(), partner.to_string());
    move |config| {
        config.coordinator = Some(CoordinatorLink::new(&url, &token(&partner)));
        config.federation.token = Some(node_token(&partner));
    }
}

/// Three partner nodes with their synthetic lists ingested, and a coordinator.
fn federation(dir: &Path, persons: usize) -> (Coordinator, String, Vec<NodeProcess>) {
    federation_with(dir, persons, &|_| {})
}

/// [`federation`] with the coordinator's config completed by `configure`.
fn federation_with(
    dir: &Path,
    persons: usize,
    configure: &dyn Fn(&mut CoordinatorConfig),
) -> (Coordinator, String, Vec<NodeProcess>) {
    assert!(
        poshuk(
            dir,
            &[
                "synth",
                "--persons",
                &persons.to_string(),
                "--seed",
                "9",
                "-o",
                "data"
            ]
        )
        .success
    );
    // Every server on port 0: the nodes first, then the coordinator with
    // their addresses, then the nodes learn the coordinator's (a restart on
    // the same addresses).
    let mut nodes: Vec<NodeProcess> = PARTNERS
        .iter()
        .map(|(id, file)| {
            let node = NodeProcess::start_with(dir, id, &guarded(id));
            let run = poshuk(
                dir,
                &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
            );
            assert!(run.success, "{}", run.stderr);
            node
        })
        .collect();
    let registry: Vec<(&str, &str)> = PARTNERS
        .iter()
        .zip(&nodes)
        .map(|((id, _), node)| (*id, node.federation.as_str()))
        .collect();
    let (coordinator, url) = start_coordinator(dir, &registry, 1000, configure);
    for ((id, _), node) in PARTNERS.iter().zip(&mut nodes) {
        node.reconfigure(dir, &joins(&url, id));
    }
    (coordinator, url, nodes)
}

/// A person known to the NGO and the Russian sources, as the international
/// organization wrote them: (query fields, NGO record id).
pub(crate) fn shared_person(dir: &Path) -> serde_json::Value {
    let truth = read_csv(&dir.join("data/truth.csv"));
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    for row in &truth[1..] {
        sources
            .entry(row[2].clone())
            .or_default()
            .push(row[0].clone());
    }
    let international = read_csv(&dir.join("data/intl_org.csv"));
    let person_of: HashMap<&String, &String> =
        truth[1..].iter().map(|row| (&row[1], &row[2])).collect();
    let row = international[1..]
        .iter()
        .find(|row| {
            let known = &sources[person_of[&row[0]]];
            known.len() == 3 && !row[6].is_empty() && row[6].len() == 10 && !row[3].is_empty()
        })
        .expect("a person known to all three partners");
    serde_json::json!({
        "given_name": row[1], "family_name": row[2], "patronymic": row[3],
        "sex": row[5], "birth_date": row[6], "birth_place": row[7]
    })
}

pub(crate) fn search(node: &NodeProcess, record: &serde_json::Value) -> (u16, serde_json::Value) {
    post_json(
        &format!("{}/local/v1/federated-search", node.local),
        &serde_json::json!({"record": record, "limit": 10}),
    )
}

#[test]
fn a_person_known_to_two_partners_is_found_from_the_third() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let (_coordinator, _url, nodes) = federation(root, 400);
    let person = shared_person(root);
    let (status, body) = search(&nodes[2], &person);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partial"], false);
    let hits = body["hits"].as_array().expect("hits");
    for partner in ["ngo-ua", "ru-sources"] {
        let hit = hits
            .iter()
            .find(|hit| hit["partner"] == partner)
            .unwrap_or_else(|| panic!("no hit from {partner}: {body}"));
        assert_eq!(hit["band"], "strong", "{partner}: {hit}");
        assert_eq!(hit["own"], false);
        assert!(
            hit.get("record_id").is_none(),
            "another partner's case id must never appear"
        );
    }
    let own = hits
        .iter()
        .find(|hit| hit["own"] == true)
        .expect("the searcher's own record");
    assert!(
        own["record_id"]
            .as_str()
            .expect("own case id")
            .starts_with("INT-")
    );
    for partner in ["ngo-ua", "ru-sources", "intl-org"] {
        assert_eq!(body["partners"][partner]["status"], "ok", "{body}");
    }
    // Ordered best first, ties broken deterministically.
    let scores: Vec<f64> = hits
        .iter()
        .map(|hit| hit["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|pair| pair[0] >= pair[1]));
    let (_, again) = search(&nodes[2], &person);
    assert_eq!(again["hits"], body["hits"]);

    // The command-line search shows the same in a table.
    let fields = [
        "--given",
        person["given_name"].as_str().expect("given"),
        "--family",
        person["family_name"].as_str().expect("family"),
        "--birth-date",
        person["birth_date"].as_str().expect("date"),
    ];
    let mut args = vec!["search", "--node", nodes[2].local.as_str()];
    args.extend_from_slice(&fields);
    let run = poshuk(root, &args);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("strong") && run.stdout.contains("whom to ask"),
        "{}",
        run.stdout
    );
    // Whom to ask about each other partner's hit, from the registry.
    assert!(
        run.stdout.contains("cases@ngo-ua.example.org"),
        "{}",
        run.stdout
    );
    // The whole name in one, as a passport line writes it.
    let name = format!(
        "{} {}",
        person["family_name"]
            .as_str()
            .expect("family")
            .to_uppercase(),
        person["given_name"].as_str().expect("given").to_uppercase()
    );
    let date = person["birth_date"].as_str().expect("date");
    let searcher = nodes[2].local.clone();
    let search_cli = |more: &[&str]| {
        let mut args = vec!["search", "--node", searcher.as_str()];
        args.extend_from_slice(more);
        poshuk(root, &args)
    };
    let by_name = search_cli(&["--name", &name, "--birth-date", date]);
    assert!(by_name.success, "{}", by_name.stderr);
    assert!(by_name.stdout.contains("strong"), "{}", by_name.stdout);
    // A surname alone is refused before it is sent, saying what to add.
    let thin = search_cli(&["--family", person["family_name"].as_str().expect("family")]);
    assert!(!thin.success);
    assert!(
        thin.stderr.contains("a surname alone is not enough"),
        "{}",
        thin.stderr
    );
    // A searcher who knows the year only roughly gives a range.
    let year = poshuk_core::BirthDate::parse(date).expect("a date").year;
    let range = format!("{}-{}", year - 1, year + 2);
    let by_range = search_cli(&["--name", &name, "--birth-date", &range]);
    assert!(by_range.success, "{}", by_range.stderr);
    assert!(
        by_range.stdout.contains("strong") || by_range.stdout.contains("possible"),
        "{}",
        by_range.stdout
    );

    // Through the API, a name with a year is answered with what to add; a
    // surname alone is refused (422) saying what to add; a full date needs
    // no advice.
    let year_only = serde_json::json!({
        "given_name": person["given_name"],
        "family_name": person["family_name"],
        "birth_date": year.to_string(),
    });
    let (status, body) = search(&nodes[2], &year_only);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["advice"]
            .as_str()
            .is_some_and(|advice| advice.contains("add the full birth date")),
        "{body}"
    );
    let (status, body) = search(
        &nodes[2],
        &serde_json::json!({"family_name": person["family_name"]}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "thin_query", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("a surname alone is not enough")),
        "{body}"
    );
    let (status, body) = search(
        &nodes[2],
        &serde_json::json!({
            "given_name": person["given_name"],
            "family_name": person["family_name"],
            "birth_date": date,
        }),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.get("advice").is_none(), "{body}");
    // What looks like enough in plain text but makes no token the
    // federation counts (a diminutive as the only other name, a place that
    // is only the word "village") is refused here, with 422, not by the
    // coordinator.
    for thin in [
        serde_json::json!({"given_name": "Олександр", "other_names": ["Саша"], "birth_date": "2010"}),
        serde_json::json!({"given_name": "Олександр", "family_name": "Коваленко", "birth_place": "село"}),
    ] {
        let (status, body) = search(&nodes[2], &thin);
        assert_eq!(status, 422, "{thin}: {body}");
        assert_eq!(body["code"], "thin_query", "{body}");
    }
    // A short form of a dozen names makes more tokens than one search may
    // carry: refused here, saying to give the full name.
    let (status, body) = search(
        &nodes[2],
        &serde_json::json!({"given_name": "Слава", "family_name": "Коваленко", "birth_date": "2010-01-02"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("full given name")),
        "{body}"
    );

    // Bad input: no usable field, an unknown partner.
    let (status, body) = search(&nodes[2], &serde_json::json!({"sex": "M"}));
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("no usable field")
    );
    let (status, body) = post_json(
        &format!("{}/local/v1/federated-search", nodes[2].local),
        &serde_json::json!({"record": person, "partners": ["nobody"]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("unknown partner `nobody`"),
        "{body}"
    );
    // A search restricted to one partner asks that partner alone.
    let (status, body) = post_json(
        &format!("{}/local/v1/federated-search", nodes[2].local),
        &serde_json::json!({"record": person, "partners": ["ngo-ua"]}),
    );
    assert_eq!(status, 200, "{body}");
    let asked: Vec<&String> = body["partners"]
        .as_object()
        .expect("statuses")
        .keys()
        .collect();
    assert_eq!(asked, ["ngo-ua"], "{body}");
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .all(|hit| hit["partner"] == "ngo-ua"),
        "{body}"
    );
    // The nodes answer only the coordinator.
    let query = serde_json::json!({"epoch": 1, "tokens": {"GivenWhole": ["00".repeat(16)]}});
    let (status, body) =
        crate::support::post_json_as(&format!("{}/v1/search", nodes[0].federation), None, &query);
    assert_eq!(status, 401, "{body}");
    let audit = std::fs::read_to_string(root.join("audit.jsonl")).expect("audit log");
    assert!(audit.lines().count() >= 3 && audit.contains("\"requester\":\"intl-org\""));
    assert!(!audit.contains(person["family_name"].as_str().expect("family")));
    // Searches carry a keyed fingerprint of the query, never its tokens.
    assert!(audit.contains("\"query\":\""), "{audit}");

    // The chain holds; an edited line breaks it, and `verify` says where.
    let verified = poshuk(root, &["audit", "verify", "audit.jsonl"]);
    assert!(verified.success, "{}", verified.stderr);
    assert!(
        verified.stdout.contains("chain intact"),
        "{}",
        verified.stdout
    );
    let tampered = audit.replacen("\"requester\":\"intl-org\"", "\"requester\":\"ngo-ua\"", 1);
    std::fs::write(root.join("tampered.jsonl"), tampered).expect("write");
    let broken = poshuk(root, &["audit", "verify", "tampered.jsonl"]);
    assert!(!broken.success);
    assert!(
        broken.stderr.contains("the chain breaks here"),
        "{}",
        broken.stderr
    );
}

#[test]
fn a_killed_node_gives_partial_results_within_the_deadline() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let (_coordinator, _url, mut nodes) = federation(root, 300);
    let person = shared_person(root);
    // An overlap run of the international organization's first 30 cases,
    // everyone answering: a report, and which partners know them.
    let rows = crate::support::read_csv(&root.join("data/intl_org.csv"));
    let mut writer = csv::Writer::from_path(root.join("first.csv")).expect("csv");
    for row in rows.iter().take(31) {
        writer.write_record(row).expect("row");
    }
    writer.flush().expect("flush");
    let searcher = nodes[2].local.clone();
    let overlap = |out: &str| {
        poshuk(
            root,
            &[
                "overlap",
                "first.csv",
                "--node",
                searcher.as_str(),
                "-o",
                out,
            ],
        )
    };
    let complete = overlap("complete.csv");
    assert!(complete.success, "{}", complete.stderr);
    assert!(complete.stdout.contains("ngo-ua:"), "{}", complete.stdout);
    // The same report as a workbook staff open in Excel: the same cases.
    let workbook = overlap("complete.xlsx");
    assert!(workbook.success, "{}", workbook.stderr);
    let csv_rows = crate::support::read_csv(&root.join("complete.csv"));
    // Your own columns, all of them, then the partner's hit.
    let own_header = &rows[0];
    assert_eq!(csv_rows[0][..own_header.len()], own_header[..]);
    assert_eq!(
        csv_rows[0][own_header.len()..],
        ["partner", "handle", "score", "band", "why"]
    );
    let mut csv_cases: Vec<&str> = csv_rows[1..].iter().map(|row| row[0].as_str()).collect();
    csv_cases.dedup();
    let options = poshuk_records::ReadOptions {
        merge_duplicate_ids: true,
        ..poshuk_records::ReadOptions::default()
    };
    let read_back = poshuk_records::read_file(&root.join("complete.xlsx"), &options).expect("xlsx");
    assert_eq!(read_back.records.len(), csv_cases.len());
    assert!(!csv_cases.is_empty());
    // The same cases as a batch of queries: a JSON line per query, or a
    // workbook with a row per hit.
    let batch = |out: &str| {
        poshuk(
            root,
            &[
                "search",
                "--batch",
                "first.csv",
                "--node",
                searcher.as_str(),
                "-o",
                out,
            ],
        )
    };
    let lines = batch("batch.jsonl");
    assert!(lines.success, "{}", lines.stderr);
    let text = std::fs::read_to_string(root.join("batch.jsonl")).expect("jsonl");
    assert_eq!(text.lines().count(), 30, "{text}");
    let sheet = batch("batch.xlsx");
    assert!(sheet.success, "{}", sheet.stderr);
    let options = poshuk_records::ReadOptions {
        id_from_row: true,
        ..poshuk_records::ReadOptions::default()
    };
    let hits = poshuk_records::read_file(&root.join("batch.xlsx"), &options).expect("xlsx");
    assert!(
        hits.records.len() >= csv_rows.len() - 1,
        "{}",
        hits.records.len()
    );
    nodes[1].kill();
    // Statuses, not a wall-clock window: the dead node is reported
    // unavailable and the others' hits still arrive. The coordinator's own
    // account of its time is bounded by its overall deadline (1.5 s here),
    // with a second of slack for a loaded machine.
    let (status, body) = search(&nodes[2], &person);
    assert_eq!(status, 200, "{body}");
    let took = body["partners"]["ru-sources"]["took_ms"]
        .as_u64()
        .expect("took_ms");
    assert!(took <= 2500, "the dead node cost {took} ms: {body}");
    assert_eq!(body["partial"], true);
    assert_eq!(
        body["partners"]["ru-sources"]["status"], "unavailable",
        "{body}"
    );
    assert_eq!(body["partners"]["ngo-ua"]["status"], "ok");
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ngo-ua" && hit["band"] == "strong")
    );
    // The same overlap run with a partner down is not a success: its
    // "known elsewhere" would read as complete.
    let partial = overlap("partial.csv");
    assert!(!partial.success, "{}", partial.stdout);
    assert!(
        partial.stderr.contains("were partial"),
        "{}",
        partial.stderr
    );
}

#[test]
fn a_stalled_node_is_reported_timed_out_while_other_hits_arrive() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    synth_data(root, 300, 9);
    // A server that accepts connections and never answers.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stalled_port = stalled.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut connection in stalled.incoming().flatten() {
            let mut buffer = [0u8; 1024];
            let _ = connection.set_read_timeout(Some(Duration::from_millis(100)));
            let _ = connection.read(&mut buffer);
            held.push(connection);
        }
    });
    let ngo = NodeProcess::start_with(root, "ngo-ua", &guarded("ngo-ua"));
    assert!(poshuk(root, &["ingest", "--node", &ngo.local, "data/ngo_ua.csv"]).success);
    let mut searcher = NodeProcess::start_with(root, "intl-org", &guarded("intl-org"));
    let stalled_url = format!("http://127.0.0.1:{stalled_port}");
    let (_coordinator, url) = start_coordinator(
        root,
        &[
            ("ngo-ua", &ngo.federation),
            ("stalled", &stalled_url),
            ("intl-org", &searcher.federation),
        ],
        800,
        &|_| {},
    );
    searcher.reconfigure(root, &joins(&url, "intl-org"));
    let person = shared_person(root);
    let started = Instant::now();
    let (status, body) = search(&searcher, &person);
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    // The stalled node cannot answer, so the search waited for its deadline
    // (800 ms), then answered with it timed out and the others' hits.
    assert!(took >= Duration::from_millis(700), "took {took:?}");
    let stalled = body["partners"]["stalled"]["took_ms"]
        .as_u64()
        .expect("took_ms");
    assert!(
        (700..=2300).contains(&stalled),
        "the stalled node was given up on at its deadline (800 ms), not later: {stalled} ms"
    );
    assert_eq!(body["partners"]["stalled"]["status"], "timed_out", "{body}");
    assert_eq!(body["partial"], true);
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ngo-ua" && hit["band"] == "strong"),
        "{body}"
    );
}

#[test]
fn coordinator_config_errors_fail_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let partner = |id: &str, url: &str| {
        format!(
            "[[partner]]\nid = \"{id}\"\nname = \"x\"\nnode_url = \"{url}\"\ntoken = \"{}\"\n",
            token(id)
        )
    };
    std::fs::write(
        root.join("duplicate.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\naudit_log = \"a.jsonl\"\n{}{}",
            partner("ngo", "http://127.0.0.1:1"),
            partner("ngo", "http://127.0.0.1:2")
        ),
    )
    .expect("write");
    let run = poshuk(root, &["coordinator", "--config", "duplicate.toml"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("duplicate.toml") && run.stderr.contains("duplicate partner id `ngo`"),
        "{}",
        run.stderr
    );
    std::fs::write(
        root.join("url.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\naudit_log = \"a.jsonl\"\n{}",
            partner("intl", "not a url")
        ),
    )
    .expect("write");
    let run = poshuk(root, &["coordinator", "--config", "url.toml"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("`intl`") && run.stderr.contains("node_url"),
        "{}",
        run.stderr
    );
}

#[test]
fn demo_runs_a_federation_and_finds_people_across_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Seven consecutive free ports.
    let base = (20_000..60_000)
        .step_by(97)
        .find(|base| {
            (0..7).all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok())
        })
        .expect("free ports");
    let run = poshuk(
        dir.path(),
        &[
            "demo",
            "--persons",
            "600",
            "--no-wait",
            "--base-port",
            &base.to_string(),
            "--dir",
            "demo",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("Ukrainian NGO") && run.stdout.contains("Sources in Russia"),
        "{}",
        run.stdout
    );
    let strong_from_others = run
        .stdout
        .lines()
        .filter(|line| {
            line.contains("strong")
                && (line.starts_with("Ukrainian NGO") || line.starts_with("Sources in Russia"))
        })
        .count();
    assert!(strong_from_others >= 4, "{}", run.stdout);
    assert!(!run.stdout.contains("PARTIAL"), "{}", run.stdout);
    // Each hit says why, in words (the demo's partners share field levels).
    assert!(
        run.stdout.contains("given name: ") && run.stdout.contains("family name: "),
        "{}",
        run.stdout
    );
    // Every node serves its staff's page, with an account to log in with.
    assert!(
        run.stdout.contains("web pages (log in as `demo`"),
        "{}",
        run.stdout
    );
    // A name alone is refused, saying what to add; with a year it is
    // searched, with advice for a surer answer.
    assert!(
        run.stdout.contains("refused: 422") && run.stdout.contains("a name alone is not enough"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("add the full birth date"),
        "{}",
        run.stdout
    );
}

/// Whatever its queries, a partner receives from another at most its daily
/// budget of hits (a share of that partner's list, here one hit): beyond
/// it the hits are withheld and the partner's status says so.
#[test]
fn a_partners_daily_hits_from_another_are_bounded() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let (_coordinator, _url, nodes) = federation_with(root, 200, &|config| {
        config.limits.hits_per_day_share = 0.0;
        config.limits.hits_per_day_min = 1;
    });
    let person = shared_person(root);
    let (status, first) = search(&nodes[2], &person);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["partners"]["ngo-ua"]["status"], "ok", "{first}");
    let from_ngo = |body: &serde_json::Value| {
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .filter(|hit| hit["partner"] == "ngo-ua")
            .count()
    };
    assert_eq!(from_ngo(&first), 1, "{first}");
    let (status, second) = search(&nodes[2], &person);
    assert_eq!(status, 200, "{second}");
    assert_eq!(from_ngo(&second), 0, "{second}");
    assert_eq!(
        second["partners"]["ngo-ua"]["status"], "limited",
        "{second}"
    );
    assert_eq!(second["partners"]["ngo-ua"]["hits"], 0, "{second}");
    // Once the budget is used, the partner is not asked at all: a person it
    // does not know reads the same, so `limited` tells nothing.
    let (status, nobody) = search(
        &nodes[2],
        &serde_json::json!({"given_name": "Євстахій", "family_name": "Неіснуючий",
                            "birth_date": "1931-02-03"}),
    );
    assert_eq!(status, 200, "{nobody}");
    assert_eq!(
        nobody["partners"]["ngo-ua"]["status"],
        second["partners"]["ngo-ua"]["status"]
    );
    assert_eq!(
        nobody["partners"]["ngo-ua"]["error"],
        second["partners"]["ngo-ua"]["error"]
    );
    // The searcher's own hits are its own: never withheld.
    assert!(
        second["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["own"] == true),
        "{second}"
    );
}
