//! HTTPS between the federation's parties: the federation's own CA from
//! `poshuk tls init`, a coordinator and two nodes serving TLS, a search that
//! crosses both hops, and connections that must fail.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;

use poshuk_coordinator::{CoordinatorConfig, PartnerConfig};
use poshuk_node::NodeConfig;
use poshuk_node::config::CoordinatorLink;
use std::time::Duration;

use crate::support::{poshuk, post_json, spawn_server, synth_data, workspace_with_keyring};

struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes a node's config and starts it; returns the process and its
/// federation and local URLs as it announced them.
fn start_node(root: &Path, id: &str, node: &NodeConfig) -> (Child, String, String) {
    let config = format!("{id}.toml");
    crate::support::write_private(&root.join(&config), &node.to_toml());
    let log = root.join(format!("{id}.log"));
    let (child, words) = spawn_server(root, &["node", "--config", &config], &log);
    let url = |key: &str| {
        words
            .iter()
            .find_map(|word| word.strip_prefix(key))
            .expect("an address")
            .to_string()
    };
    let (federation, local) = (url("federation="), url("local="));
    crate::support::remember_node(
        &local,
        &federation,
        &root.join(&node.data_dir),
        node.federation.token.as_deref(),
    );
    (child, federation, local)
}

/// The address of a URL (`https://127.0.0.1:1234` → `127.0.0.1:1234`).
fn address(url: &str) -> SocketAddr {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .parse()
        .expect("an address")
}

const ADMIN_TOKEN: &str = "admin-token-for-the-tls-test-0123456789";

#[test]
fn the_federation_speaks_https_with_its_own_ca() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    synth_data(root, 200, 3);
    let run = poshuk(
        root,
        &[
            "tls",
            "init",
            "--out-dir",
            "tls",
            "--party",
            "coordinator=127.0.0.1,localhost",
            "--party",
            "ngo-ua=127.0.0.1,localhost",
            "--party",
            "intl-org=127.0.0.1,localhost",
            "--party",
            "ru-sources",
            "--party",
            "admin",
        ],
    );
    assert!(run.success, "{}", run.stderr);
    // Running it again would replace the CA everyone trusts: refused, and
    // the CA's files stay as they were.
    let ca_before = std::fs::read(root.join("tls/ca.pem")).expect("ca");
    let again = poshuk(
        root,
        &[
            "tls",
            "init",
            "--out-dir",
            "tls",
            "--party",
            "new-node=127.0.0.1",
        ],
    );
    assert!(
        !again.success && again.stderr.contains("exists already"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read(root.join("tls/ca.pem")).expect("ca"),
        ca_before
    );
    let named_ca = poshuk(
        root,
        &[
            "tls",
            "init",
            "--out-dir",
            "tls2",
            "--party",
            "ca=127.0.0.1",
        ],
    );
    assert!(
        !named_ca.success && named_ca.stderr.contains("is taken"),
        "{}",
        named_ca.stderr
    );

    // Every server on port 0: the nodes first, then the coordinator with
    // their addresses, then the nodes again, on the same addresses, now
    // knowing the coordinator's.
    let mut running = Running(Vec::new());
    let mut nodes = Vec::new();
    for id in ["ngo-ua", "intl-org"] {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut node =
            NodeConfig::new(id, format!("{id}-data"), "keyring.toml", any_port, any_port);
        node.listen.tls_cert = Some(format!("tls/{id}.pem").into());
        node.listen.tls_key = Some(format!("tls/{id}.key").into());
        node.listen.tls_ca = Some("tls/ca.pem".into());
        node.federation.token = Some(format!("node-token-of-{id}-0123456789"));
        let (child, federation, local) = start_node(root, id, &node);
        assert!(federation.starts_with("https://"), "{federation}");
        running.0.push(child);
        let file = id.replace('-', "_");
        let run = poshuk(
            root,
            &["ingest", "--node", &local, &format!("data/{file}.csv")],
        );
        assert!(run.success, "{}", run.stderr);
        node.listen.federation = Some(address(&federation));
        node.listen.local = address(&local);
        nodes.push((id, federation, local, node));
    }
    let mut partners: Vec<PartnerConfig> = nodes
        .iter()
        .map(|(id, federation, _, _)| PartnerConfig {
            node_token: Some(format!("node-token-of-{id}-0123456789")),
            ..PartnerConfig::new(id, federation, &format!("token-of-{id}-0123456789"))
        })
        .collect();
    // A third partner whose node opens no port: it connects out.
    partners.push(PartnerConfig {
        node_token: Some("node-token-of-ru-sources-0123456789".into()),
        outbound: true,
        ..PartnerConfig::new("ru-sources", "", "token-of-ru-sources-0123456789")
    });
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut coordinator_config = CoordinatorConfig::new(listen, "audit.jsonl", partners);
    coordinator_config.tls.cert = Some("tls/coordinator.pem".into());
    coordinator_config.tls.key = Some("tls/coordinator.key".into());
    coordinator_config.tls.ca = Some("tls/ca.pem".into());
    coordinator_config.admin_token = Some(ADMIN_TOKEN.into());
    let config = coordinator_config.to_toml();
    crate::support::write_private(&root.join("coordinator.toml"), &config);
    let (child, words) = spawn_server(
        root,
        &["coordinator", "--config", "coordinator.toml"],
        &root.join("coordinator.log"),
    );
    running.0.push(child);
    let coordinator = words.join("");
    assert!(
        coordinator.starts_with("https://127.0.0.1:"),
        "{coordinator}"
    );
    for (position, (id, federation, local, node)) in nodes.iter_mut().enumerate() {
        let child = &mut running.0[position];
        let _ = child.kill();
        let _ = child.wait();
        node.coordinator = Some(CoordinatorLink {
            ca: Some("tls/ca.pem".into()),
            ..CoordinatorLink::new(&coordinator, &format!("token-of-{id}-0123456789"))
        });
        let (restarted, again_federation, again_local) = start_node(root, id, node);
        assert_eq!((&again_federation, &again_local), (&*federation, &*local));
        running.0[position] = restarted;
    }

    // The outbound node dials the coordinator over mutual TLS with its own
    // certificate and answers over that connection.
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut hidden = NodeConfig::new(
        "ru-sources",
        "ru-sources-data",
        "keyring.toml",
        any_port,
        any_port,
    );
    hidden.listen.federation = None;
    hidden.federation.token = Some("node-token-of-ru-sources-0123456789".into());
    hidden.coordinator = Some(CoordinatorLink {
        ca: Some("tls/ca.pem".into()),
        cert: Some("tls/ru-sources.pem".into()),
        key: Some("tls/ru-sources.key".into()),
        outbound: true,
        ..CoordinatorLink::new(&coordinator, "token-of-ru-sources-0123456789")
    });
    let (child, hidden_federation, hidden_local) = start_node(root, "ru-sources", &hidden);
    running.0.push(child);
    assert_eq!(hidden_federation, poshuk_node::OUTBOUND);
    let run = poshuk(
        root,
        &["ingest", "--node", &hidden_local, "data/ru_sources.csv"],
    );
    assert!(run.success, "{}", run.stderr);
    let started = std::time::Instant::now();
    while crate::support::get_json(&format!("{hidden_local}/readyz")).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Another partner's certificate with this partner's token opens no
    // connection.
    let stolen = poshuk_tls::tunnel::Endpoint {
        url: coordinator.clone(),
        ca: Some(root.join("tls/ca.pem")),
        cert: Some(root.join("tls/ngo-ua.pem")),
        key: Some(root.join("tls/ngo-ua.key")),
        partner_id: "ru-sources".into(),
        token: zeroize::Zeroizing::new("token-of-ru-sources-0123456789".into()),
    };
    let refused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(poshuk_tls::tunnel::connect(&stolen));
    assert!(
        matches!(&refused, Err(poshuk_tls::tunnel::ConnectError::Refused(why)) if why.contains("403")),
        "{:?}",
        refused.map(|_| "connected")
    );

    // A search from the international organization's node crosses both
    // hops over TLS and finds the NGO's records.
    let rows = crate::support::read_csv(&root.join("data/intl_org.csv"));
    let (status, body) = post_json(
        &format!("{}/local/v1/federated-search", nodes[1].2),
        &serde_json::json!({"record": {
            "given_name": rows[1][1], "family_name": rows[1][2], "birth_date": rows[1][6]
        }, "limit": 10}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partial"], false, "{body}");
    for (id, _, _, _) in &nodes {
        assert_eq!(body["partners"][id]["status"], "ok", "{body}");
    }
    assert_eq!(body["partners"]["ru-sources"]["status"], "ok", "{body}");
    assert!(!body["hits"].as_array().expect("hits").is_empty(), "{body}");

    // Mutual TLS: the certificate must be the federation's, and its party
    // the one that signs.
    let as_party = |party: Option<&str>| {
        let mut builder = poshuk_tls::blocking_client_builder(Some(&root.join("tls/ca.pem")))
            .expect("client")
            .timeout(Duration::from_secs(5));
        if let Some(party) = party {
            let identity = poshuk_tls::client_identity(
                &root.join(format!("tls/{party}.pem")),
                &root.join(format!("tls/{party}.key")),
            )
            .expect("identity");
            builder = builder.identity(identity);
        }
        builder.build().expect("client")
    };
    let signed_get = |client: &reqwest::blocking::Client, url: &str, key_id: &str, secret: &str| {
        let credential = crate::support::Credential::Signed(key_id.into(), secret.into());
        let authorization = crate::support::authorization(&credential, "GET", url, b"");
        client
            .get(url)
            .header("authorization", authorization)
            .send()
            .map(|response| response.status().as_u16())
    };
    let epochs = format!("{coordinator}/v1/epochs");
    let (ngo_token, intl_token) = ("token-of-ngo-ua-0123456789", "token-of-intl-org-0123456789");
    // Without a certificate, the handshake fails, even with a valid token.
    assert!(signed_get(&as_party(None), &epochs, "ngo-ua", ngo_token).is_err());
    // The NGO's certificate with its own token: let in.
    assert_eq!(
        signed_get(&as_party(Some("ngo-ua")), &epochs, "ngo-ua", ngo_token).ok(),
        Some(200)
    );
    // The NGO's certificate with the international organization's token
    // (stolen, say): refused.
    assert_eq!(
        signed_get(&as_party(Some("ngo-ua")), &epochs, "intl-org", intl_token).ok(),
        Some(403)
    );
    // A header seen on the wire and sent first from the wrong host does not
    // use up the honest request's nonce.
    let credential = crate::support::Credential::Signed("intl-org".into(), intl_token.into());
    let header = crate::support::authorization(&credential, "GET", &epochs, b"");
    let send = |party: &str| {
        as_party(Some(party))
            .get(&epochs)
            .header("authorization", header.clone())
            .send()
            .map(|response| response.status().as_u16())
            .ok()
    };
    assert_eq!(send("ngo-ua"), Some(403));
    assert_eq!(send("intl-org"), Some(200));
    assert_eq!(send("intl-org"), Some(401), "and then it is spent");
    // A node answers the coordinator's certificate only: a partner holding
    // a leaked coordinator token cannot search it from its own host.
    let node_status = format!("{}/v1/status", nodes[0].1);
    let node_token = "node-token-of-ngo-ua-0123456789";
    assert!(signed_get(&as_party(None), &node_status, "coordinator", node_token).is_err());
    assert_eq!(
        signed_get(
            &as_party(Some("intl-org")),
            &node_status,
            "coordinator",
            node_token
        )
        .ok(),
        Some(403)
    );
    assert_eq!(
        signed_get(
            &as_party(Some("coordinator")),
            &node_status,
            "coordinator",
            node_token
        )
        .ok(),
        Some(200)
    );
    // The key admin's command line over mutual TLS, with its certificate.
    let keys = |cert: &str| {
        let run: crate::support::Run = std::process::Command::new(env!("CARGO_BIN_EXE_poshuk"))
            .args([
                "keys",
                "status",
                "--coordinator",
                &coordinator,
                "--ca",
                "tls/ca.pem",
                "--cert",
                &format!("tls/{cert}.pem"),
                "--key",
                &format!("tls/{cert}.key"),
            ])
            .current_dir(root)
            .env("POSHUK_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .expect("poshuk runs")
            .into();
        run
    };
    let status = keys("admin");
    assert!(status.success, "{}", status.stderr);
    assert!(status.stdout.contains("ngo-ua"), "{}", status.stdout);
    let borrowed = keys("ngo-ua");
    assert!(
        !borrowed.success,
        "a partner's certificate is not the admin's"
    );
    assert!(borrowed.stderr.contains("403"), "{}", borrowed.stderr);

    // Plain HTTP to a TLS port gets nothing; a client that trusts only the
    // system's roots refuses the federation's certificates.
    let plain = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let node_federation = nodes[0].1.trim_start_matches("https://").to_string();
    assert!(
        plain
            .get(format!("http://{node_federation}/livez"))
            .send()
            .ok()
            .filter(|response| response.status().is_success())
            .is_none()
    );
    let error = plain
        .get(format!("https://{node_federation}/livez"))
        .send()
        .expect_err("an unknown CA is refused");
    assert!(error.is_connect() || error.is_request(), "{error}");
    // The CA's key is the one secret of this setup: mode 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("tls/ca.key"))
        .expect("ca key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0);
}

#[test]
fn plain_http_is_refused_beyond_loopback_and_unless_the_config_says_so() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    let start = |config: &str| poshuk(root, &["node", "--config", config]);
    let mut node = NodeConfig::new(
        "ngo-ua",
        "data",
        "keyring.toml",
        SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    );
    node.federation.token = Some("node-token-of-ngo-ua-0123456789".into());
    node.plain_http_on_loopback = true;
    crate::support::write_private(&root.join("open.toml"), &node.to_toml());
    let run = start("open.toml");
    assert!(!run.success);
    assert!(run.stderr.contains("beyond loopback"), "{}", run.stderr);
    node.listen.federation = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    node.plain_http_on_loopback = false;
    crate::support::write_private(&root.join("unsaid.toml"), &node.to_toml());
    let run = start("unsaid.toml");
    assert!(!run.success);
    assert!(
        run.stderr.contains("plain_http_on_loopback"),
        "{}",
        run.stderr
    );
    // A coordinator reached over plain HTTP on another host: refused too.
    node.plain_http_on_loopback = true;
    node.coordinator = Some(CoordinatorLink::new(
        "http://192.0.2.10:7400",
        "token-of-ngo-ua-0123456789",
    ));
    crate::support::write_private(&root.join("far.toml"), &node.to_toml());
    let run = start("far.toml");
    assert!(!run.success);
    assert!(run.stderr.contains("coordinator.url"), "{}", run.stderr);
    // The coordinator alike.
    let partners = vec![PartnerConfig::new(
        "ngo-ua",
        "http://127.0.0.1:7401",
        "token-of-ngo-ua-0123456789",
    )];
    let config = CoordinatorConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "audit.jsonl",
        partners,
    );
    crate::support::write_private(&root.join("coordinator.toml"), &config.to_toml());
    let run = poshuk(root, &["coordinator", "--config", "coordinator.toml"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("plain_http_on_loopback"),
        "{}",
        run.stderr
    );
}
