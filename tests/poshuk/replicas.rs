//! Two coordinator replicas sharing one PostgreSQL database (a throwaway
//! cluster this test starts on a Unix socket): searches through either, a
//! request replayed to the other replica refused, a contact request made
//! through one and listed through the other, a key rotation started through
//! one and finished through the other, and one replica killed mid-search
//! with nothing of the shared state lost.
//!
//! PostgreSQL comes from Debian's packages (`.ci/run` installs it and sets
//! `POSHUK_REQUIRE_POSTGRES=1`, so CI cannot skip this test); without it,
//! elsewhere, the test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::federation::{Coordinator, guarded, joins, search, shared_person, start_coordinator};
use crate::rotation::{ADMIN_TOKEN, admin, fetch_key, node_epochs, pins_admin_key};
use crate::support::{
    Credential, NodeProcess, authorization, poshuk, spawn_server, synth_data,
    workspace_with_keyring,
};

/// A PostgreSQL cluster in a temporary directory, reached on a Unix socket
/// there (no port to pick); stopped and removed on drop.
struct TempPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    socket: PathBuf,
    bin: PathBuf,
    /// As root, the server runs as the `postgres` OS user.
    as_postgres: bool,
}

impl TempPostgres {
    /// A cluster, or `None` (and the test says it was skipped) where
    /// PostgreSQL is not installed and CI does not require it.
    fn start_or_skip() -> Option<TempPostgres> {
        let started = TempPostgres::start();
        if started.is_none() {
            assert!(
                std::env::var("POSHUK_REQUIRE_POSTGRES").is_err(),
                "PostgreSQL is required here (POSHUK_REQUIRE_POSTGRES) and not installed"
            );
            eprintln!("skipped: PostgreSQL is not installed (apt-get install postgresql)");
        }
        started
    }

    fn start() -> Option<TempPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("initdb").exists())?;
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, socket) = (dir.path().join("data"), dir.path().join("socket"));
        std::fs::create_dir_all(&socket).expect("socket dir");
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let id = |flag: &str| -> u32 {
                let output = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("id");
                String::from_utf8_lossy(&output.stdout)
                    .trim()
                    .parse()
                    .expect("an id")
            };
            let (uid, gid) = (id("-u"), id("-g"));
            for path in [dir.path(), socket.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
            }
        }
        let postgres = TempPostgres {
            _dir: dir,
            data,
            socket,
            bin,
            as_postgres,
        };
        let initdb = postgres.run(
            "initdb",
            &[
                "-D",
                &postgres.data.display().to_string(),
                "--auth=trust",
                "-U",
                "postgres",
            ],
        );
        assert!(initdb, "initdb failed");
        let options = format!(
            "-c listen_addresses='' -k {} -c fsync=off",
            postgres.socket.display()
        );
        let started = postgres.run(
            "pg_ctl",
            &[
                "-D",
                &postgres.data.display().to_string(),
                "-w",
                "-o",
                &options,
                "-l",
                &postgres.data.join("server.log").display().to_string(),
                "start",
            ],
        );
        assert!(started, "PostgreSQL did not start");
        Some(postgres)
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The connection string the coordinators use.
    fn url(&self) -> String {
        format!(
            "host={} user=postgres dbname=postgres",
            self.socket.display()
        )
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }
}

/// A coordinator replica's config: its own state directory and audit log,
/// the shared database, the port it bound written in (to restart it there).
fn replica(
    dir: &Path,
    name: &str,
    registry: &[(&str, &str)],
    database: &str,
) -> (Coordinator, String) {
    replica_with(dir, name, registry, database, &|_| {})
}

/// [`replica`], its config completed by `configure`.
fn replica_with(
    dir: &Path,
    name: &str,
    registry: &[(&str, &str)],
    database: &str,
    configure: &dyn Fn(&mut poshuk_coordinator::CoordinatorConfig),
) -> (Coordinator, String) {
    let (coordinator, url) = start_coordinator(dir, registry, 1500, &|config| {
        configure(config);
        config.admin_token = Some(ADMIN_TOKEN.into());
        config.status_interval_ms = 200;
        config.database_url = Some(database.to_string());
        config.state_dir = format!("state-{name}").into();
        config.audit_log = format!("audit-{name}.jsonl").into();
    });
    let address = url.trim_start_matches("http://");
    let config = std::fs::read_to_string(dir.join("coordinator.toml"))
        .expect("config")
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{address}\""),
        );
    crate::support::write_private(&dir.join(format!("coordinator-{name}.toml")), &config);
    (coordinator, url)
}

/// A request signed as `partner`, sent to `url`; (status, body).
fn signed(
    method: &str,
    url: &str,
    partner: &str,
    body: &[u8],
    header: Option<&str>,
) -> (u16, String, String) {
    let credential = Credential::Signed(partner.to_string(), crate::federation::token(partner));
    let value = header
        .map(str::to_string)
        .unwrap_or_else(|| authorization(&credential, method, url, body));
    let client = reqwest::blocking::Client::new();
    let request = match method {
        "POST" => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec()),
        _ => client.get(url),
    };
    let response = request
        .header("authorization", &value)
        .send()
        .expect("answers");
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default(), value)
}

#[test]
fn two_coordinator_replicas_share_one_federations_state() {
    let Some(postgres) = TempPostgres::start_or_skip() else {
        return;
    };
    let database = postgres.url();
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    synth_data(dir, 200, 12);
    let pins = pins_admin_key(dir);
    let mut nodes = Vec::new();
    let mut publics = Vec::new();
    for (id, file) in [("ngo-ua", "ngo_ua"), ("intl-org", "intl_org")] {
        let keyring = format!("{id}-keyring.toml");
        std::fs::copy(dir.join("keyring.toml"), dir.join(&keyring)).expect("keyring");
        let node = NodeProcess::start_with_keyring(dir, id, &keyring, &|config| {
            guarded(id)(config);
            pins(config);
        });
        let identity = poshuk(
            dir,
            &["keys", "identity", "--config", &format!("{id}.toml")],
        );
        assert!(identity.success, "{}", identity.stderr);
        publics.push(format!("{id}={}", identity.stdout.trim()));
        let run = poshuk(
            dir,
            &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
        );
        assert!(run.success, "{}", run.stderr);
        nodes.push(node);
    }
    let registry = [
        ("ngo-ua", nodes[0].federation.clone()),
        ("intl-org", nodes[1].federation.clone()),
    ];
    let registry: Vec<(&str, &str)> = registry
        .iter()
        .map(|(id, url)| (*id, url.as_str()))
        .collect();
    // Replica A was a single coordinator: its own key state (an epoch 0
    // retired, standing in for a past rotation) moves into the empty
    // database when it starts with one, and replica B sees it.
    std::fs::create_dir_all(dir.join("state-a")).expect("state");
    std::fs::write(
        dir.join("state-a/keys.json"),
        r#"{"retired": [0], "suspended": []}"#,
    )
    .expect("keys.json");
    let (mut replica_a, url_a) = replica(dir, "a", &registry, &database);
    let (_replica_b, url_b) = replica(dir, "b", &registry, &database);
    // The NGO's node talks to replica A, the international organization's
    // to replica B.
    nodes[0].reconfigure(dir, &joins(&url_a, "ngo-ua"));
    nodes[1].reconfigure(dir, &joins(&url_b, "intl-org"));
    let (ngo, intl) = (&nodes[0], &nodes[1]);
    let (_, epochs_b, _) = signed("GET", &format!("{url_b}/v1/epochs"), "ngo-ua", b"", None);
    assert!(
        epochs_b.contains("\"retired\":[0]"),
        "A's own state was not imported: {epochs_b}"
    );

    // Searches through either replica find the person at the other partner.
    let person = shared_person(dir);
    let (status, through_b) = search(intl, &person);
    assert_eq!(status, 200, "{through_b}");
    assert!(
        through_b["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ngo-ua")
    );
    let (status, through_a) = search(ngo, &person);
    assert_eq!(status, 200, "{through_a}");
    assert!(
        through_a["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "intl-org")
    );

    // A signed request seen by one replica is a replay at the other.
    let partners_at = |base: &str| format!("{base}/v1/partners");
    let (status, _, header) = signed("GET", &partners_at(&url_a), "ngo-ua", b"", None);
    assert_eq!(status, 200);
    let (status, body, _) = signed("GET", &partners_at(&url_b), "ngo-ua", b"", Some(&header));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("replayed"), "{body}");

    // A contact request made through A is listed through B.
    let letter = serde_json::to_vec(&serde_json::json!({
        "to": "ngo-ua", "handle": "00112233445566778899aabbccddeeff", "sealed_message": "00ff"
    }))
    .expect("JSON");
    let (status, created, _) = signed(
        "POST",
        &format!("{url_a}/v1/contacts"),
        "intl-org",
        &letter,
        None,
    );
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).expect("JSON")["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let (status, listed, _) = signed("GET", &format!("{url_b}/v1/contacts"), "ngo-ua", b"", None);
    assert_eq!(status, 200);
    assert!(listed.contains(&id), "{listed}");

    // A rotation started through A (sealed keys left there) and finished
    // through B (the nodes fetch and B retires the old epoch).
    assert!(admin(dir, &["keys", "rotate", "--keyring", "keyring.toml"]).success);
    let mut seal = vec![
        "keys",
        "seal",
        "--keyring",
        "keyring.toml",
        "--out-dir",
        "sealed",
        "--upload",
        "--coordinator",
        &url_a,
    ];
    for recipient in &publics {
        seal.extend(["--to", recipient.as_str()]);
    }
    let sealed = admin(dir, &seal);
    assert!(sealed.success, "{}", sealed.stderr);
    for node in [ngo, intl] {
        let fetched = fetch_key(dir, node);
        assert!(fetched.success, "{}", fetched.stderr);
    }
    let mut retired = false;
    for _ in 0..300 {
        if node_epochs(ngo) == [1, 2] && node_epochs(intl) == [1, 2] {
            let run = admin(dir, &["keys", "retire", "1", "--coordinator", &url_b]);
            if run.success {
                retired = true;
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(retired, "epoch 1 could not be retired through B");
    // Replica A learns it (its next poll) and answers for epoch 2 only.
    let mut live_at_a = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, epochs, _) = signed("GET", &format!("{url_a}/v1/epochs"), "ngo-ua", b"", None);
        live_at_a = serde_json::from_str(&epochs).unwrap_or_default();
        if live_at_a["retired"] == serde_json::json!([0, 1]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        live_at_a["retired"],
        serde_json::json!([0, 1]),
        "{live_at_a}"
    );
    assert_eq!(live_at_a["live"], serde_json::json!([2]), "{live_at_a}");

    // Replica A killed while searches run through it: the searches through
    // B go on, and nothing of the shared state is lost.
    let searching = {
        let (ngo_local, person) = (ngo.local.clone(), person.clone());
        std::thread::spawn(move || {
            for _ in 0..20 {
                let _ = crate::support::post_json(
                    &format!("{ngo_local}/local/v1/federated-search"),
                    &serde_json::json!({"record": person, "limit": 10}),
                );
            }
        })
    };
    let _ = replica_a.0.kill();
    let _ = replica_a.0.wait();
    let _ = searching.join();
    let (status, after_kill) = search(intl, &person);
    assert_eq!(status, 200, "{after_kill}");
    assert_eq!(after_kill["partial"], false, "{after_kill}");
    let (_, listed, _) = signed("GET", &format!("{url_b}/v1/contacts"), "ngo-ua", b"", None);
    assert!(
        listed.contains(&id),
        "the contact request was lost: {listed}"
    );
    // A restarted where it was: the same state, from the database.
    let (mut restarted, _) = spawn_server(
        dir,
        &["coordinator", "--config", "coordinator-a.toml"],
        &dir.join("coordinator-a-restarted.log"),
    );
    let (_, epochs, _) = signed("GET", &format!("{url_a}/v1/epochs"), "ngo-ua", b"", None);
    let epochs: serde_json::Value = serde_json::from_str(&epochs).expect("JSON");
    assert_eq!(epochs["retired"], serde_json::json!([0, 1]), "{epochs}");
    let (status, listed, _) = signed(
        "GET",
        &format!("{url_a}/v1/contacts"),
        "intl-org",
        b"",
        None,
    );
    assert_eq!(status, 200);
    assert!(listed.contains(&id), "{listed}");
    let (status, again) = search(ngo, &person);
    assert_eq!(status, 200, "{again}");
    assert!(
        again["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "intl-org")
    );
    let _ = restarted.kill();
    let _ = restarted.wait();
    drop(postgres);
}

/// An outbound node keeps a connection to each replica it names, so either
/// replica searches it (a replica searches only the nodes connected to it).
#[test]
fn an_outbound_node_is_searched_through_either_replica() {
    let Some(postgres) = TempPostgres::start_or_skip() else {
        return;
    };
    let database = postgres.url();
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    synth_data(dir, 300, 9);
    let ngo = NodeProcess::start_loaded(dir, "ngo-ua", "ngo_ua", &guarded("ngo-ua"));
    let mut intl = NodeProcess::start_loaded(dir, "intl-org", "intl_org", &guarded("intl-org"));
    let registry = [
        ("ngo-ua", ngo.federation.as_str()),
        ("ru-sources", ""),
        ("intl-org", intl.federation.as_str()),
    ];
    let outbound = |config: &mut poshuk_coordinator::CoordinatorConfig| {
        for partner in &mut config.partners {
            partner.outbound = partner.id == "ru-sources";
        }
    };
    let (_replica_a, url_a) = replica_with(dir, "a", &registry, &database, &outbound);
    let (_replica_b, url_b) = replica_with(dir, "b", &registry, &database, &outbound);
    let (a, b) = (url_a.clone(), url_b.clone());
    let _hidden = NodeProcess::start_loaded(dir, "ru-sources", "ru_sources", &move |config| {
        config.listen.federation = None;
        config.coordinator = Some(poshuk_node::config::CoordinatorLink {
            outbound: true,
            tunnel_urls: vec![a.clone(), b.clone()],
            ..poshuk_node::config::CoordinatorLink::new(&a, &crate::federation::token("ru-sources"))
        });
        config.federation.token = Some(crate::federation::node_token("ru-sources"));
    });
    let person = shared_person(dir);
    for url in [&url_a, &url_b] {
        intl.reconfigure(dir, &joins(url, "intl-org"));
        let started = std::time::Instant::now();
        loop {
            let (status, body) = search(&intl, &person);
            assert_eq!(status, 200, "{body}");
            if body["partners"]["ru-sources"]["status"] == "ok" {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the replica at {url} never reached the outbound node: {body}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}
