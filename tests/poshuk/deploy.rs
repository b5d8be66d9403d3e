//! Operations: what probes see (`/readyz` means ready: the index open with
//! a key epoch, the coordinator reachable) through `poshuk probe`, as a
//! container's or Kubernetes' probe runs it; the coordinator's plain
//! loopback listener for probes.

use std::process::Command;

use crate::federation::{guarded, joins, start_coordinator};
use crate::support::{NodeProcess, poshuk, spawn_server, synth_data, workspace_with_keyring};

fn probe(dir: &std::path::Path, url: &str) -> bool {
    poshuk(dir, &["probe", url]).success
}

#[test]
fn readiness_means_the_index_and_the_coordinator_and_probes_say_so() {
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    let mut node = NodeProcess::start_with(dir, "ngo-ua", &guarded("ngo-ua"));
    // Without a coordinator in its config: ready once the index is open.
    assert!(probe(dir, &format!("{}/readyz", node.local)));
    assert!(probe(dir, &format!("{}/livez", node.local)));
    let (mut coordinator, url) =
        start_coordinator(dir, &[("ngo-ua", &node.federation)], 1000, &|_| {});
    node.reconfigure(dir, &joins(&url, "ngo-ua"));
    assert!(
        probe(dir, &format!("{}/readyz", node.local)),
        "ready with its coordinator up"
    );
    // The coordinator gone: alive, not ready (within the 5 s the answer is
    // trusted; asked until it says so, at most 100 times).
    let _ = coordinator.0.kill();
    let _ = coordinator.0.wait();
    let mut ready = true;
    for _ in 0..100 {
        ready = probe(dir, &format!("{}/readyz", node.local));
        if !ready {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        !ready,
        "a node that cannot reach its coordinator says it is ready"
    );
    assert!(
        probe(dir, &format!("{}/livez", node.local)),
        "and still alive"
    );
    let refused = poshuk(dir, &["probe", "http://192.0.2.1:7402/readyz"]);
    assert!(
        !refused.success && refused.stderr.contains("loopback"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_coordinator_answers_probes_on_its_loopback_health_listener() {
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    let node = NodeProcess::start_with(dir, "ngo-ua", &guarded("ngo-ua"));
    let (coordinator, _) =
        start_coordinator(dir, &[("ngo-ua", &node.federation)], 1000, &|config| {
            config.health_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        });
    drop(coordinator);
    // Started again by hand to read both addresses from its line.
    let (mut child, words) = spawn_server(
        dir,
        &["coordinator", "--config", "coordinator.toml"],
        &dir.join("coordinator-health.log"),
    );
    let health = words
        .iter()
        .find_map(|word| word.strip_prefix("health="))
        .expect("the health listener's address")
        .to_string();
    assert!(probe(dir, &format!("{health}/livez")));
    assert!(probe(dir, &format!("{health}/readyz")));
    // Nothing else is served there.
    let partners = poshuk(dir, &["probe", &format!("{health}/v1/partners")]);
    assert!(!partners.success);
    let _ = child.kill();
    let _ = child.wait();
    // A health listener beyond loopback is refused at start.
    let config = std::fs::read_to_string(dir.join("coordinator.toml")).expect("config");
    let exposed = config.replace(
        "health_listen = \"127.0.0.1:0\"",
        "health_listen = \"0.0.0.0:0\"",
    );
    assert_ne!(config, exposed, "the config names its health listener");
    crate::support::write_private(&dir.join("exposed.toml"), &exposed);
    let started = Command::new(env!("CARGO_BIN_EXE_poshuk"))
        .args(["coordinator", "--config", "exposed.toml"])
        .current_dir(dir)
        .output()
        .expect("runs");
    assert!(!started.status.success());
    assert!(
        String::from_utf8_lossy(&started.stderr).contains("not a loopback address"),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
}

/// The coordinator's config with the port it bound written in (the tests
/// start it on port 0), so that it can be started again where nodes expect
/// it.
fn pin_coordinator_address(dir: &std::path::Path, url: &str) {
    let path = dir.join("coordinator.toml");
    let address = url.split("://").nth(1).unwrap_or(url);
    let config = std::fs::read_to_string(&path).expect("config").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{address}\""),
    );
    crate::support::write_private(&path, &config);
}

/// (partner, handle, score, band) of every hit, in order.
fn hits(answer: &serde_json::Value) -> Vec<(String, String, String, String)> {
    answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| {
            (
                hit["partner"].to_string(),
                hit["handle"].to_string(),
                hit["score"].to_string(),
                hit["band"].to_string(),
            )
        })
        .collect()
}

#[test]
fn a_node_and_a_coordinator_restored_from_backups_give_the_same_answers() {
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    synth_data(dir, 200, 3);
    let mut ngo = NodeProcess::start_with(dir, "ngo-ua", &guarded("ngo-ua"));
    let mut intl = NodeProcess::start_with(dir, "intl-org", &guarded("intl-org"));
    for (node, file) in [(&ngo, "ngo_ua"), (&intl, "intl_org")] {
        let run = poshuk(
            dir,
            &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
        );
        assert!(run.success, "{}", run.stderr);
    }
    let registry = [
        ("ngo-ua", ngo.federation.clone()),
        ("intl-org", intl.federation.clone()),
    ];
    let registry: Vec<(&str, &str)> = registry
        .iter()
        .map(|(id, url)| (*id, url.as_str()))
        .collect();
    let (mut coordinator, url) = start_coordinator(dir, &registry, 2000, &|_| {});
    pin_coordinator_address(dir, &url);
    ngo.reconfigure(dir, &joins(&url, "ngo-ua"));
    intl.reconfigure(dir, &joins(&url, "intl-org"));
    let person = crate::federation::shared_person(dir);
    let (status, before) = crate::federation::search(&intl, &person);
    assert_eq!(status, 200, "{before}");
    let ngo_hit = before["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|hit| hit["partner"] == "ngo-ua")
        .and_then(|hit| hit["handle"].as_str())
        .expect("a hit at the NGO")
        .to_string();
    let case_before = poshuk(dir, &["resolve", &ngo_hit, "--node", &ngo.local]);
    assert!(case_before.success, "{}", case_before.stderr);

    // A running node is not copied.
    let refused = poshuk(dir, &["backup", "ngo-ua.toml", "-o", "running-backup"]);
    assert!(
        !refused.success && refused.stderr.contains("stop it first"),
        "{}",
        refused.stderr
    );
    assert!(!dir.join("running-backup").exists());

    // Stopped, backed up, and the originals lost.
    ngo.kill();
    let _ = coordinator.0.kill();
    let _ = coordinator.0.wait();
    let node_backup = poshuk(dir, &["backup", "ngo-ua.toml", "-o", "backups/ngo-ua"]);
    assert!(node_backup.success, "{}", node_backup.stderr);
    let coordinator_backup = poshuk(
        dir,
        &["backup", "coordinator.toml", "-o", "backups/coordinator"],
    );
    assert!(coordinator_backup.success, "{}", coordinator_backup.stderr);
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in [
            "backups/ngo-ua/keyring.toml",
            "backups/ngo-ua/data/node.key",
        ] {
            let mode = std::fs::metadata(dir.join(secret))
                .expect(secret)
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{secret} is readable by others in the backup"
            );
        }
    }
    std::fs::rename(dir.join("ngo-ua-data"), dir.join("lost-ngo-ua-data")).expect("lost");
    std::fs::rename(
        dir.join("coordinator-state"),
        dir.join("lost-coordinator-state"),
    )
    .ok();

    // Restored: started from the backups, in a fresh place.
    let restored = dir.join("restored");
    std::fs::create_dir_all(&restored).expect("restored");
    std::fs::rename(dir.join("backups/ngo-ua"), restored.join("ngo-ua")).expect("moved");
    std::fs::rename(
        dir.join("backups/coordinator"),
        restored.join("coordinator"),
    )
    .expect("moved");
    let (mut restored_coordinator, _) = spawn_server(
        dir,
        &[
            "coordinator",
            "--config",
            &restored
                .join("coordinator/coordinator.toml")
                .display()
                .to_string(),
        ],
        &dir.join("restored-coordinator.log"),
    );
    let (mut restored_node, words) = spawn_server(
        dir,
        &[
            "node",
            "--config",
            &restored.join("ngo-ua/node.toml").display().to_string(),
        ],
        &dir.join("restored-node.log"),
    );
    assert!(
        words
            .iter()
            .any(|word| word == &format!("local={}", ngo.local)),
        "the restored node listens where the original did: {words:?}"
    );
    let mut after = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, answer) = crate::federation::search(&intl, &person);
        if status == 200 && answer["partial"] == false {
            after = answer;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(hits(&after), hits(&before), "{after}");
    // The node's own secret came back: the same handle is the same case.
    let case_after = poshuk(dir, &["resolve", &ngo_hit, "--node", &ngo.local]);
    assert!(case_after.success, "{}", case_after.stderr);
    assert_eq!(case_after.stdout, case_before.stdout);
    let _ = restored_node.kill();
    let _ = restored_node.wait();
    let _ = restored_coordinator.kill();
    let _ = restored_coordinator.wait();
}
