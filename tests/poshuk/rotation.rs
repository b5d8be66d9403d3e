//! Key rotation end to end, with real processes: three nodes and a
//! coordinator rotated from epoch 1 to 2 while searches run, a partner left
//! out of the next rotation, a node killed mid re-key, and refused inputs.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use poshuk_node::NodeConfig;

use crate::federation::{
    Coordinator, PARTNERS, guarded, joins, node_token, search, start_coordinator,
};
use crate::support::{
    NodeProcess, get_json, poshuk, post_json, read_csv, synth_data, workspace_with_keyring,
};

pub(crate) const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

/// Runs `poshuk` with the admin token in the environment.
pub(crate) fn admin(dir: &Path, args: &[&str]) -> crate::support::Run {
    std::process::Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(args)
        .current_dir(dir)
        .env("POSHUK_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("the poshuk binary runs")
        .into()
}

/// Creates the admin's signing key in `dir` (the default `poshuk-admin.key`)
/// and returns the `[keys]` section every node's config needs.
/// Makes the admin's signing key; returns what completes a node's config to
/// pin its public key.
pub(crate) fn pins_admin_key(dir: &Path) -> impl Fn(&mut NodeConfig) {
    let run = admin(dir, &["keys", "admin-key"]);
    assert!(run.success, "{}", run.stderr);
    let public = run.stdout.trim().to_string();
    move |config| config.keys.admin_key = Some(public.clone())
}

/// Three nodes, each with its own copy of the keyring and its own identity,
/// their lists ingested, and a coordinator with an admin token. Returns the
/// coordinator, its URL, the nodes and their public keys.
fn rotating_federation(
    dir: &Path,
    persons: usize,
) -> (Coordinator, String, Vec<NodeProcess>, Vec<String>) {
    let synth = poshuk(
        dir,
        &[
            "synth",
            "--persons",
            &persons.to_string(),
            "--seed",
            "11",
            "-o",
            "data",
        ],
    );
    assert!(synth.success, "{}", synth.stderr);
    let pins = pins_admin_key(dir);
    let mut nodes = Vec::new();
    let mut publics = Vec::new();
    for (id, file) in PARTNERS.iter() {
        let keyring = format!("{id}-keyring.toml");
        std::fs::copy(dir.join("keyring.toml"), dir.join(&keyring)).expect("copy keyring");
        let node = NodeProcess::start_with_keyring(dir, id, &keyring, &|config| {
            guarded(id)(config);
            pins(config);
        });
        let identity = poshuk(
            dir,
            &["keys", "identity", "--config", &format!("{id}.toml")],
        );
        assert!(identity.success, "{}", identity.stderr);
        publics.push(identity.stdout.trim().to_string());
        let run = poshuk(
            dir,
            &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
        );
        assert!(run.success, "{}", run.stderr);
        nodes.push(node);
    }
    let registry: Vec<(&str, &str)> = PARTNERS
        .iter()
        .zip(&nodes)
        .map(|((id, _), node)| (*id, node.federation.as_str()))
        .collect();
    let (coordinator, url) = start_coordinator(dir, &registry, 1500, &|config| {
        config.admin_token = Some(ADMIN_TOKEN.into());
        config.status_interval_ms = 200;
    });
    // The nodes learn where the coordinator is (a restart on the same
    // addresses): every server took port 0.
    for ((id, _), node) in PARTNERS.iter().zip(&mut nodes) {
        node.reconfigure(dir, &joins(&url, id));
    }
    (coordinator, url, nodes, publics)
}

/// `poshuk keys install FILE` at a node.
fn install_file(dir: &Path, node: &NodeProcess, file: &str) -> crate::support::Run {
    poshuk(dir, &["keys", "install", file, "--node", &node.local])
}

/// `poshuk keys install --from-coordinator` at a node.
pub(crate) fn fetch_key(dir: &Path, node: &NodeProcess) -> crate::support::Run {
    poshuk(
        dir,
        &[
            "keys",
            "install",
            "--from-coordinator",
            "--node",
            &node.local,
        ],
    )
}

/// Up to `count` people known to all three partners, as the international
/// organization wrote them (the query).
fn known_persons(dir: &Path, count: usize) -> Vec<serde_json::Value> {
    let truth = read_csv(&dir.join("data/truth.csv"));
    let mut sources: HashMap<String, usize> = HashMap::new();
    for row in &truth[1..] {
        *sources.entry(row[2].clone()).or_default() += 1;
    }
    let person_of: HashMap<&String, &String> =
        truth[1..].iter().map(|row| (&row[1], &row[2])).collect();
    read_csv(&dir.join("data/intl_org.csv"))[1..]
        .iter()
        .filter(|row| sources[person_of[&row[0]]] == 3 && row[6].len() == 10)
        .take(count)
        .map(|row| {
            serde_json::json!({
                "given_name": row[1], "family_name": row[2], "patronymic": row[3],
                "sex": row[5], "birth_date": row[6], "birth_place": row[7]
            })
        })
        .collect()
}

/// The (partner, handle) pairs of the strong hits from other partners.
fn strong_hits(body: &serde_json::Value) -> BTreeSet<(String, String)> {
    body["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter(|hit| hit["band"] == "strong" && hit["own"] == false)
                .map(|hit| {
                    (
                        hit["partner"].as_str().unwrap_or("").to_string(),
                        hit["handle"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn node_epochs(node: &NodeProcess) -> Vec<u64> {
    let (_, status) = get_json(&format!("{}/local/v1/status", node.local));
    status["epochs"]
        .as_array()
        .map(|epochs| epochs.iter().filter_map(|e| e.as_u64()).collect())
        .unwrap_or_default()
}

/// Searches continuously from the searcher node until stopped; returns
/// (searches done, failures described).
/// Searches until `stop`, counting the searches answered in `answered`
/// (so the test waits for a number of searches, not for a length of time).
fn search_continuously(
    searcher_local: String,
    persons: Vec<(serde_json::Value, BTreeSet<(String, String)>)>,
    stop: Arc<AtomicBool>,
    answered: Arc<std::sync::atomic::AtomicUsize>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let mut done = 0;
        let mut failures = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            for (person, expected) in &persons {
                let url = format!("{searcher_local}/local/v1/federated-search");
                let credential = crate::support::credential_for(&url).expect("registered");
                let body = serde_json::to_vec(&serde_json::json!({"record": person, "limit": 10}))
                    .expect("JSON");
                let authorization = crate::support::authorization(&credential, "POST", &url, &body);
                let response = client
                    .post(url)
                    .header("authorization", authorization)
                    .header("content-type", "application/json")
                    .body(body)
                    .send();
                done += 1;
                answered.fetch_add(1, Ordering::SeqCst);
                let (status, body) = match response {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        (
                            status,
                            response.json::<serde_json::Value>().unwrap_or_default(),
                        )
                    }
                    Err(error) => {
                        failures.push(format!("request failed: {error}"));
                        continue;
                    }
                };
                if status != 200 || body["partial"] != false {
                    failures.push(format!("search {done}: {status} {body}"));
                    continue;
                }
                let found = strong_hits(&body);
                if !expected.is_subset(&found) {
                    failures.push(format!(
                        "search {done} lost a match: expected {expected:?}, found {found:?}"
                    ));
                }
            }
        }
        (done, failures)
    })
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rotating_keys_loses_no_search_and_shuts_out_a_left_out_partner() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let (_coordinator, url, nodes, publics) = rotating_federation(root, 300);
    let (ngo, ru, intl) = (&nodes[0], &nodes[1], &nodes[2]);

    // What each known person finds before any rotation: the baseline that
    // must hold at every moment of the rotation.
    let persons: Vec<(serde_json::Value, BTreeSet<(String, String)>)> = known_persons(root, 6)
        .into_iter()
        .map(|person| {
            let (status, body) = search(intl, &person);
            assert_eq!(status, 200, "{body}");
            let expected = strong_hits(&body);
            (person, expected)
        })
        .filter(|(_, expected)| expected.len() == 2)
        .collect();
    assert!(persons.len() >= 3, "too few people found by both others");

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let searcher = search_continuously(
        intl.local.clone(),
        persons.clone(),
        stop.clone(),
        answered.clone(),
    );
    // At least `count` more searches answered from now on.
    let searches_after = |count: usize| {
        let from = answered.load(Ordering::SeqCst);
        wait_for("searches to run", || {
            answered.load(Ordering::SeqCst) >= from + count
        });
    };

    // Admin: rotate, seal for all three, leave the files at the coordinator.
    let run = admin(root, &["keys", "rotate", "--keyring", "keyring.toml"]);
    assert!(run.success, "{}", run.stderr);
    let mut seal = vec![
        "keys",
        "seal",
        "--keyring",
        "keyring.toml",
        "--out-dir",
        "sealed",
        "--upload",
        "--coordinator",
        &url,
    ];
    let recipients: Vec<String> = PARTNERS
        .iter()
        .zip(&publics)
        .map(|((id, _), public)| format!("{id}={public}"))
        .collect();
    for recipient in &recipients {
        seal.extend(["--to", recipient.as_str()]);
    }
    let run = admin(root, &seal);
    assert!(run.success, "{}", run.stderr);

    // A file for another partner is refused, and nothing changes.
    let keyring_before = std::fs::read(root.join("ru-sources-keyring.toml")).expect("keyring");
    let run = install_file(root, ru, "sealed/ngo-ua.epoch-2.sealed");
    assert!(!run.success);
    assert!(
        run.stderr.contains("for partner `ngo-ua`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(root.join("ru-sources-keyring.toml")).expect("keyring"),
        keyring_before
    );

    // The NGO installs from the file; retiring now is refused (two nodes
    // still lack epoch 2) and changes nothing.
    let run = install_file(root, ngo, "sealed/ngo-ua.epoch-2.sealed");
    assert!(run.success, "{}", run.stderr);
    assert_eq!(node_epochs(ngo), vec![1, 2]);
    let run = admin(root, &["keys", "retire", "1", "--coordinator", &url]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("`ru-sources` serves only epochs [1]")
            && run.stderr.contains("nothing changed"),
        "{}",
        run.stderr
    );
    assert_eq!(node_epochs(ngo), vec![1, 2]);

    // The other two fetch their files through the coordinator.
    for node in [ru, intl] {
        let run = fetch_key(root, node);
        assert!(run.success, "{}", run.stderr);
        assert_eq!(node_epochs(node), vec![1, 2]);
    }
    let status = admin(root, &["keys", "status", "--coordinator", &url]);
    assert!(status.success, "{}", status.stderr);
    for (id, _) in PARTNERS {
        assert!(
            status
                .stdout
                .lines()
                .any(|line| line.starts_with(id) && line.contains("1,2")),
            "{}",
            status.stdout
        );
    }
    // Searches run while every node serves both epochs.
    searches_after(15);

    let run = admin(
        root,
        &[
            "keys",
            "retire",
            "1",
            "--coordinator",
            &url,
            "--keyring",
            "keyring.toml",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    for node in &nodes {
        assert_eq!(node_epochs(node), vec![2]);
    }
    for (id, _) in PARTNERS {
        assert!(!root.join(format!("{id}-data/index-epoch-1")).exists());
        assert!(root.join(format!("{id}-data/index-epoch-2")).exists());
    }
    searches_after(15);
    stop.store(true, Ordering::SeqCst);
    let (searches, failures) = searcher.join().expect("searcher thread");
    assert!(searches >= 30, "only {searches} searches ran");
    assert!(
        failures.is_empty(),
        "{} of {searches} searches failed or lost a match: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );

    // Second rotation: the Russian sources are left out (compromised, say).
    let run = admin(root, &["keys", "rotate", "--keyring", "keyring.toml"]);
    assert!(run.success, "{}", run.stderr);
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "keyring.toml",
            "--out-dir",
            "sealed",
            "--upload",
            "--coordinator",
            &url,
            "--to",
            &recipients[0],
            "--to",
            &recipients[2],
        ],
    );
    assert!(run.success, "{}", run.stderr);
    let run = fetch_key(root, ru);
    assert!(!run.success, "a left-out partner must not obtain the key");
    assert!(run.stderr.contains("no sealed key"), "{}", run.stderr);
    let run = install_file(root, ru, "sealed/intl-org.epoch-3.sealed");
    assert!(!run.success);
    for node in [ngo, intl] {
        let run = fetch_key(root, node);
        assert!(run.success, "{}", run.stderr);
    }
    let run = admin(
        root,
        &[
            "keys",
            "retire",
            "2",
            "--coordinator",
            &url,
            "--exclude",
            "ru-sources",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    wait_for("the nodes to drop epoch 2", || {
        node_epochs(ngo) == vec![3] && node_epochs(intl) == vec![3]
    });
    // Even a file sealed for it by mistake is neither accepted by the relay
    // nor handed out: the partner is suspended.
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "keyring.toml",
            "--out-dir",
            "late",
            "--upload",
            "--coordinator",
            &url,
            "--to",
            &recipients[1],
        ],
    );
    assert!(
        !run.success && run.stderr.contains("suspended"),
        "{}",
        run.stderr
    );
    let run = poshuk(
        root,
        &[
            "keys",
            "install",
            "--from-coordinator",
            "--epoch",
            "3",
            "--node",
            &ru.local,
        ],
    );
    assert!(
        !run.success && run.stderr.contains("suspended"),
        "{}",
        run.stderr
    );

    // The left-out partner finds nothing, and is found by no one.
    let (person, _) = &persons[0];
    let (status, body) = search(ru, person);
    assert!(
        status != 200 || strong_hits(&body).is_empty(),
        "a left-out partner still finds matches: {body}"
    );
    let (status, body) = search(intl, person);
    assert_eq!(status, 200, "{body}");
    let found = strong_hits(&body);
    assert!(
        found.iter().any(|(partner, _)| partner == "ngo-ua"),
        "{body}"
    );
    assert!(!found.iter().any(|(partner, _)| partner == "ru-sources"));
    // Even straight to another node, with the coordinator's own token, its
    // epoch-2 tokens are no longer answered.
    let query = serde_json::json!({"epoch": 2, "tokens": {"GivenWhole": ["00".repeat(16)]}});
    let (status, _) = crate::support::post_json_with(
        &format!("{}/v1/search", ngo.federation),
        Some(&crate::support::Credential::Signed(
            poshuk_protocol::signed::COORDINATOR_KEY_ID.to_string(),
            node_token("ngo-ua"),
        )),
        &query,
    );
    assert_eq!(status, 409);
    // No key leaves a keyring file: not in the sealed files, the
    // coordinator's state and audit log, the nodes' data or the log.
    let admin_keyring = std::fs::read_to_string(root.join("keyring.toml")).expect("keyring");
    let keys: Vec<&str> = admin_keyring
        .lines()
        .filter_map(|line| line.strip_prefix("key = "))
        .map(|key| key.trim_matches('"'))
        .collect();
    assert_eq!(keys.len(), 3);
    // Nor does any raw value of the partners' lists: surnames, birth dates
    // and document numbers are in no index generation, log, state or
    // sealed file after two rotations.
    let mut raw_values: Vec<String> = Vec::new();
    for (_, list) in PARTNERS {
        for row in &read_csv(&root.join(format!("data/{list}.csv")))[1..] {
            for value in [&row[2], &row[6]] {
                if value.chars().count() >= 6 {
                    raw_values.push(value.to_lowercase());
                }
            }
            for document in row[8].split(';') {
                let number = document.rsplit(':').next().unwrap_or("").trim();
                if number.chars().count() >= 6 {
                    raw_values.push(number.to_lowercase());
                }
            }
        }
    }
    assert!(raw_values.len() > 500, "{}", raw_values.len());
    for file in crate::support::files_under(root) {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with("keyring.toml") || file.starts_with(root.join("data")) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for key in &keys {
            assert!(!text.contains(key), "a key is in {}", file.display());
        }
        for value in &raw_values {
            assert!(
                !text.contains(value.as_str()),
                "a raw value of a list is in {}",
                file.display()
            );
        }
    }
    // Re-ingesting from source computes the whole chain: nothing changes.
    let run = poshuk(root, &["ingest", "--node", &ngo.local, "data/ngo_ua.csv"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains("0 added") && run.stderr.contains("0 updated"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_node_killed_during_a_rekey_completes_it_after_a_restart() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    synth_data(root, 9000, 5);
    let pins = pins_admin_key(root);
    let mut node = NodeProcess::start_with(root, "ngo-ua", &pins);
    let run = poshuk(root, &["ingest", "--node", &node.local, "data/ngo_ua.csv"]);
    assert!(run.success, "{}", run.stderr);
    let (_, before) = get_json(&format!("{}/local/v1/status", node.local));
    let records = before["records"].as_u64().expect("records");
    assert!(records > 3000, "{before}");
    let identity = poshuk(root, &["keys", "identity", "--config", "ngo-ua.toml"]);
    assert!(identity.success, "{}", identity.stderr);
    std::fs::copy(root.join("keyring.toml"), root.join("admin-keyring.toml")).expect("copy");
    assert!(admin(root, &["keys", "rotate", "--keyring", "admin-keyring.toml"]).success);
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "admin-keyring.toml",
            "--out-dir",
            "sealed",
            "--to",
            &format!("ngo-ua={}", identity.stdout.trim()),
        ],
    );
    assert!(run.success, "{}", run.stderr);

    // Before: a search in the local API finds a known record.
    let rows = read_csv(&root.join("data/ngo_ua.csv"));
    let probe = serde_json::json!({"record": {
        "given_name": rows[1][1], "family_name": rows[1][2], "birth_date": rows[1][6]
    }, "limit": 3});
    let (_, found_before) = post_json(&format!("{}/local/v1/search", node.local), &probe);
    let handle_before = found_before["hits"][0]["handle"].clone();
    assert!(handle_before.is_string(), "{found_before}");

    let run = poshuk(
        root,
        &[
            "keys",
            "install",
            "sealed/ngo-ua.epoch-2.sealed",
            "--node",
            &node.local,
            "--no-wait",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    // Kill it while the re-key runs.
    let mut killed_at = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let (_, status) = get_json(&format!("{}/local/v1/status", node.local));
        if status["epochs"] == serde_json::json!([1, 2]) {
            break;
        }
        if let Some(done) = status["rekey"]["done"].as_u64()
            && done > 0
        {
            node.kill();
            killed_at = Some(done);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = killed_at.expect("the node was killed during its re-key");
    assert!(done < records || root.join("ngo-ua-data/index-epoch-2.building").exists());

    // Restarted, it serves epoch 1 at once, never the half-built epoch 2,
    // and completes the re-key by itself.
    node.restart(root);
    let epochs = node_epochs(&node);
    assert!(epochs == vec![1] || epochs == vec![1, 2], "{epochs:?}");
    wait_for("the re-key to complete after the restart", || {
        node_epochs(&node) == vec![1, 2]
    });
    assert!(!root.join("ngo-ua-data/index-epoch-2.building").exists());
    let (_, after) = get_json(&format!("{}/local/v1/status", node.local));
    assert_eq!(after["records"].as_u64(), Some(records), "{after}");
    // The local search now runs in epoch 2 and finds the same record.
    let (_, found_after) = post_json(&format!("{}/local/v1/search", node.local), &probe);
    assert_eq!(
        found_after["hits"][0]["handle"], handle_before,
        "{found_after}"
    );

    // While both epochs are served, a new record goes into both generations
    // under one handle: found in epoch 2 (local search) and in epoch 1 (a
    // federation query tokenized under the old key).
    std::fs::write(
        root.join("new.csv"),
        format!(
            "{}NEW-1,Зиновія,Пшеничаківська,Фортунатівна,,F,1987-03-14,Умань,\n",
            crate::support::HEADER
        ),
    )
    .expect("write");
    let run = poshuk(root, &["ingest", "--node", &node.local, "new.csv"]);
    assert!(run.success, "{}", run.stderr);
    let new_person = serde_json::json!({
        "given_name": "Зиновия", "family_name": "Пшеничаковская", "birth_date": "1987-03-14"
    });
    let (_, in_two) = post_json(
        &format!("{}/local/v1/search", node.local),
        &serde_json::json!({"record": new_person, "limit": 1}),
    );
    assert_eq!(in_two["hits"][0]["band"], "strong", "{in_two}");
    let ring = poshuk_keys::files::load(&root.join("keyring.toml")).expect("keyring");
    let tokens = poshuk_core::Tokenizer::new(ring.hasher(poshuk_core::Epoch(1)).expect("epoch 1"))
        .tokenize_query(&poshuk_core::Record {
            given_name: "Зиновия".into(),
            family_name: "Пшеничаковская".into(),
            birth_date: poshuk_core::BirthDate::parse("1987-03-14").ok(),
            ..poshuk_core::Record::default()
        });
    let query = poshuk_protocol::TokenQuery::from_record(1, &tokens, 1);
    let (_, in_one) = post_json(
        &format!("{}/v1/search", node.federation),
        &serde_json::to_value(&query).expect("json"),
    );
    assert_eq!(
        in_one["hits"][0]["handle"], in_two["hits"][0]["handle"],
        "{in_one}"
    );
}

#[test]
fn damaged_and_out_of_sequence_keys_are_refused_and_change_nothing() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let pins = pins_admin_key(root);
    let node = NodeProcess::start_with(root, "ngo-ua", &pins);
    let identity = poshuk(root, &["keys", "identity", "--config", "ngo-ua.toml"]);
    assert!(identity.success, "{}", identity.stderr);
    let recipient = format!("ngo-ua={}", identity.stdout.trim());
    std::fs::copy(root.join("keyring.toml"), root.join("admin.toml")).expect("copy");
    assert!(admin(root, &["keys", "rotate", "--keyring", "admin.toml"]).success);
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "admin.toml",
            "--out-dir",
            "s2",
            "--to",
            &recipient,
        ],
    );
    assert!(run.success, "{}", run.stderr);
    // A second rotation needs the first finished: refused while pending.
    let run = admin(root, &["keys", "rotate", "--keyring", "admin.toml"]);
    assert!(
        !run.success && run.stderr.contains("still pending"),
        "{}",
        run.stderr
    );
    // Mark epoch 2 active in the admin's keyring (as `retire` would) and
    // rotate again to epoch 3.
    let text = std::fs::read_to_string(root.join("admin.toml")).expect("admin keyring");
    std::fs::write(root.join("admin.toml"), text.replace("pending", "active")).expect("write");
    assert!(admin(root, &["keys", "rotate", "--keyring", "admin.toml"]).success);
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "admin.toml",
            "--out-dir",
            "s3",
            "--to",
            &recipient,
        ],
    );
    assert!(run.success, "{}", run.stderr);

    let keyring_before = std::fs::read(root.join("keyring.toml")).expect("keyring");
    let sealed = std::fs::read(root.join("s2/ngo-ua.epoch-2.sealed")).expect("sealed");
    std::fs::write(root.join("truncated.sealed"), &sealed[..sealed.len() - 40]).expect("write");
    let mut corrupted = sealed.clone();
    let middle = corrupted.len() - 60;
    corrupted[middle] ^= 0x20;
    std::fs::write(root.join("corrupted.sealed"), &corrupted).expect("write");
    std::fs::write(root.join("plain.sealed"), b"epoch 2 key: 00112233\n").expect("write");
    // Sealed to this node's identity by someone holding the keyring (a
    // partner being left out, say) but not the admin's signing key.
    assert!(admin(root, &["keys", "admin-key", "--out", "forger.key"]).success);
    let run = admin(
        root,
        &[
            "keys",
            "seal",
            "--keyring",
            "admin.toml",
            "--epoch",
            "2",
            "--signing-key",
            "forger.key",
            "--out-dir",
            "forged",
            "--to",
            &recipient,
        ],
    );
    assert!(run.success, "{}", run.stderr);
    let install = |file: &str| poshuk(root, &["keys", "install", file, "--node", &node.local]);
    for (file, expected) in [
        ("truncated.sealed", "corrupted or truncated"),
        ("corrupted.sealed", "corrupted or truncated"),
        ("plain.sealed", "not a poshuk sealed key file"),
        (
            "forged/ngo-ua.epoch-2.sealed",
            "not signed by this federation's admin key",
        ),
        ("s3/ngo-ua.epoch-3.sealed", "expected epoch 2, found 3"),
    ] {
        let run = install(file);
        assert!(!run.success, "{file} was accepted");
        assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
        assert_eq!(
            std::fs::read(root.join("keyring.toml")).expect("keyring"),
            keyring_before,
            "{file} changed the keyring"
        );
        assert_eq!(node_epochs(&node), vec![1]);
    }
    // The good one installs, in sequence; the same again is refused.
    assert!(install("s2/ngo-ua.epoch-2.sealed").success);
    let again = install("s2/ngo-ua.epoch-2.sealed");
    assert!(
        !again.success && again.stderr.contains("already installed"),
        "{}",
        again.stderr
    );
    assert_eq!(node_epochs(&node), vec![1, 2]);
    assert!(install("s3/ngo-ua.epoch-3.sealed").success);
    assert_eq!(node_epochs(&node), vec![1, 2, 3]);
    // No key material in the node's log.
    let log = std::fs::read_to_string(root.join("node.log")).unwrap_or_default();
    let admin_text = std::fs::read_to_string(root.join("admin.toml")).expect("admin keyring");
    for line in admin_text.lines().filter(|line| line.starts_with("key = ")) {
        let key = line.trim_start_matches("key = ").trim_matches('"');
        assert!(!log.contains(key), "a key reached the log");
    }
}
