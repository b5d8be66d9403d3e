//! Operations: what probes see (`/readyz` means ready: the index open with
//! a key epoch, the coordinator reachable) through `poshuk probe`, as a
//! container's or Kubernetes' probe runs it; the coordinator's plain
//! loopback listener for probes.

use std::process::Command;

use crate::federation::{guarded, joins, start_coordinator};
use crate::support::{NodeProcess, poshuk, spawn_server, workspace_with_keyring};

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
