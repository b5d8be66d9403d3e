//! Outbound-only nodes: a partner's node that opens no federation port,
//! connects out to the coordinator and answers the federation over that
//! connection; cut off, it gives partial answers and comes back by itself.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poshuk_node::NodeConfig;
use poshuk_node::config::CoordinatorLink;

use crate::federation::{
    guarded, joins, node_token, search, shared_person, start_coordinator, token,
};
use crate::support::{NodeProcess, get_json, poshuk, synth_data, workspace_with_keyring};

/// A TCP relay between a node and the coordinator that a test can cut
/// (close every connection, as a reset does) or silence (drop every byte,
/// as a network that stops delivering does, without closing anything).
struct Relay {
    port: u16,
    silent: Arc<AtomicBool>,
    /// New connections are closed at once (the open ones carry on).
    closed_to_new: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    /// Connections relayed so far.
    relayed: Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let silent = Arc::new(AtomicBool::new(false));
        let closed_to_new = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let relayed: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (held, quiet, closed, counted) = (
            connections.clone(),
            silent.clone(),
            closed_to_new.clone(),
            relayed.clone(),
        );
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                if closed.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(target) else {
                    continue;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                for stream in [&inbound, &outbound] {
                    if let (Ok(clone), Ok(mut held)) = (stream.try_clone(), held.lock()) {
                        held.push(clone);
                    }
                }
                for (from, to) in [(&inbound, &outbound), (&outbound, &inbound)] {
                    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    let quiet = quiet.clone();
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(_) if quiet.load(Ordering::SeqCst) => {}
                                Ok(read) => {
                                    if to.write_all(&buffer[..read]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay {
            port,
            silent,
            closed_to_new,
            connections,
            relayed,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn close_to_new(&self, closed: bool) {
        self.closed_to_new.store(closed, Ordering::SeqCst);
    }

    fn silence(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    fn cut(&self) {
        if let Ok(mut connections) = self.connections.lock() {
            for connection in connections.drain(..) {
                let _ = connection.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The TCP ports a process listens on (from `/proc`: its sockets' inodes
/// among the listening sockets).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the process's descriptors")
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().to_string();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let columns: Vec<&str> = line.split_whitespace().collect();
            // Column 3 is the state (0A: listening), column 9 the inode.
            if columns.len() > 9 && columns[3] == "0A" && inodes.iter().any(|i| i == columns[9]) {
                let port = columns[1]
                    .rsplit(':')
                    .next()
                    .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                    .expect("a port");
                ports.push(port);
            }
        }
    }
    ports
}

/// Waits until the node says it is ready (its connection open), by its
/// status, for at most `limit`.
fn wait_ready(node: &NodeProcess, limit: Duration) {
    let started = Instant::now();
    loop {
        let (status, body) = get_json(&format!("{}/readyz", node.local));
        if status == 200 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the node did not become ready: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Completes an outbound node's config: no federation listener, a
/// connection to the coordinator (through `url`) instead.
fn outbound_to(url: &str, partner: &str) -> impl Fn(&mut NodeConfig) {
    let (url, partner) = (url.to_string(), partner.to_string());
    move |config| {
        config.listen.federation = None;
        config.coordinator = Some(CoordinatorLink {
            outbound: true,
            ..CoordinatorLink::new(&url, &token(&partner))
        });
        config.federation.token = Some(node_token(&partner));
    }
}

fn synth(root: &Path) {
    synth_data(root, 400, 9);
}

fn coordinator_address(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .split_whitespace()
        .next()
        .and_then(|address| address.parse().ok())
        .expect("the coordinator's address")
}

#[test]
fn an_outbound_node_opens_no_port_answers_searches_and_comes_back_after_a_cut() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    synth(root);
    let ngo = NodeProcess::start_loaded(root, "ngo-ua", "ngo_ua", &guarded("ngo-ua"));
    let mut searcher =
        NodeProcess::start_loaded(root, "intl-org", "intl_org", &guarded("intl-org"));
    let (_coordinator, url) = start_coordinator(
        root,
        &[
            ("ngo-ua", &ngo.federation),
            ("ru-sources", ""),
            ("intl-org", &searcher.federation),
        ],
        1000,
        &|config| {
            for partner in &mut config.partners {
                partner.outbound = partner.id == "ru-sources";
            }
        },
    );
    searcher.reconfigure(root, &joins(&url, "intl-org"));
    let relay = Relay::start(coordinator_address(&url));
    let hidden =
        NodeProcess::start_with(root, "ru-sources", &outbound_to(&relay.url(), "ru-sources"));
    assert_eq!(hidden.federation, poshuk_node::OUTBOUND);
    let ingest = poshuk(
        root,
        &["ingest", "--node", &hidden.local, "data/ru_sources.csv"],
    );
    assert!(ingest.success, "{}", ingest.stderr);
    wait_ready(&hidden, Duration::from_secs(60));

    // The node listens on its local API alone: nothing a scan could find.
    let local_port: u16 = hidden
        .local
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the local port");
    assert_eq!(listening_ports(hidden.child.id()), [local_port]);

    // Searched over its connection like any other partner.
    let person = shared_person(root);
    let (status, body) = search(&searcher, &person);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partial"], false, "{body}");
    assert_eq!(body["partners"]["ru-sources"]["status"], "ok", "{body}");
    let hit = body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|hit| hit["partner"] == "ru-sources")
        .unwrap_or_else(|| panic!("no hit from the outbound node: {body}"));
    assert_eq!(hit["band"], "strong", "{hit}");

    // Its own requests to the coordinator ride the same connection: with
    // every new connection refused, its staff still search the federation,
    // and its key fetch reaches the coordinator (which has none waiting).
    relay.close_to_new(true);
    let (status, own) = search(&hidden, &person);
    assert_eq!(status, 200, "{own}");
    assert!(
        own["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ngo-ua"),
        "{own}"
    );
    let fetch = poshuk(
        root,
        &[
            "keys",
            "install",
            "--from-coordinator",
            "--node",
            &hidden.local,
        ],
    );
    assert!(!fetch.success);
    assert!(
        fetch.stderr.contains("no sealed key"),
        "the coordinator answered over the connection: {}",
        fetch.stderr
    );
    assert_eq!(
        relay.relayed.load(Ordering::SeqCst),
        1,
        "one connection carried the federation's requests and the node's own"
    );
    relay.close_to_new(false);

    // The network stops delivering: the search still answers, with the
    // others' hits, and names the node that did not.
    relay.silence(true);
    let (status, body) = search(&searcher, &person);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partial"], true, "{body}");
    let outcome = body["partners"]["ru-sources"]["status"]
        .as_str()
        .expect("an outcome");
    assert!(
        ["timed_out", "unavailable"].contains(&outcome),
        "{outcome}: {body}"
    );
    assert_eq!(body["partners"]["ngo-ua"]["status"], "ok", "{body}");
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ngo-ua"),
        "{body}"
    );

    // The network comes back and the old connection is reset: the node
    // reconnects by itself and is searched again.
    relay.silence(false);
    relay.cut();
    wait_ready(&hidden, Duration::from_secs(120));
    let started = Instant::now();
    let body = loop {
        let (status, body) = search(&searcher, &person);
        assert_eq!(status, 200, "{body}");
        if body["partners"]["ru-sources"]["status"] == "ok" {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the coordinator never searched the node again: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["partner"] == "ru-sources" && hit["band"] == "strong"),
        "{body}"
    );

    // The coordinator's audit log has each connection and its end.
    let audit = std::fs::read_to_string(root.join("audit.jsonl")).expect("the audit log");
    let events = |event: &str| {
        audit
            .lines()
            .filter(|line| line.contains(event) && line.contains("ru-sources"))
            .count()
    };
    assert!(events("\"node_connected\"") >= 2, "{audit}");
    assert!(events("\"node_disconnected\"") >= 1, "{audit}");
}

#[test]
fn a_federation_with_an_outbound_node_answers_as_one_of_listening_nodes() {
    let (dir, _keyring) = workspace_with_keyring();
    let root = dir.path();
    synth(root);
    let mut nodes: Vec<NodeProcess> = [
        ("ngo-ua", "ngo_ua"),
        ("ru-sources", "ru_sources"),
        ("intl-org", "intl_org"),
    ]
    .iter()
    .map(|(id, file)| NodeProcess::start_loaded(root, id, file, &guarded(id)))
    .collect();
    // Two coordinators of the same three partners: one searches every node
    // at its listener, the other searches the Russian partner's node over
    // the connection that node opens.
    let listening_dir = root.join("listening");
    let outbound_dir = root.join("outbound");
    for dir in [&listening_dir, &outbound_dir] {
        std::fs::create_dir_all(dir).expect("a directory");
    }
    let registry: Vec<(&str, &str)> = nodes
        .iter()
        .zip(["ngo-ua", "ru-sources", "intl-org"])
        .map(|(node, id)| (id, node.federation.as_str()))
        .collect();
    let (_listening, listening_url) = start_coordinator(&listening_dir, &registry, 2000, &|_| {});
    let (_outbound, outbound_url) = start_coordinator(&outbound_dir, &registry, 2000, &|config| {
        for partner in &mut config.partners {
            if partner.id == "ru-sources" {
                partner.outbound = true;
                partner.node_url.clear();
            }
        }
    });
    nodes[1].reconfigure(root, &|config| {
        config.coordinator = Some(CoordinatorLink {
            outbound: true,
            ..CoordinatorLink::new(&outbound_url, &token("ru-sources"))
        });
    });
    wait_ready(&nodes[1], Duration::from_secs(60));

    // The international organization's first cases, as queries.
    let cases = crate::support::read_csv(&root.join("data/intl_org.csv"));
    let queries: Vec<serde_json::Value> = cases[1..31]
        .iter()
        .map(|row| {
            serde_json::json!({
                "given_name": row[1], "family_name": row[2], "patronymic": row[3],
                "sex": row[5], "birth_date": row[6], "birth_place": row[7]
            })
        })
        .collect();
    let answers = |searcher: &NodeProcess| -> Vec<serde_json::Value> {
        queries
            .iter()
            .map(|query| {
                let (status, body) = search(searcher, query);
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["partial"], false, "{body}");
                body["hits"].clone()
            })
            .collect()
    };
    nodes[2].reconfigure(root, &joins(&outbound_url, "intl-org"));
    let over_connection = answers(&nodes[2]);
    nodes[2].reconfigure(root, &joins(&listening_url, "intl-org"));
    let over_listeners = answers(&nodes[2]);
    let from_outbound = over_connection
        .iter()
        .flat_map(|hits| hits.as_array().into_iter().flatten())
        .filter(|hit| hit["partner"] == "ru-sources")
        .count();
    assert!(
        from_outbound >= 10,
        "the outbound node's hits are part of the comparison: {from_outbound}"
    );
    assert_eq!(over_connection, over_listeners);
}
