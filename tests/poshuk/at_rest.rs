//! Encryption at rest and wiping: a node whose disk is seized without its
//! storage key gives nothing back, and `poshuk node wipe` makes its data
//! unreadable even with the key.

use std::path::{Path, PathBuf};
use std::process::Command;

use poshuk_node::NodeConfig;

use crate::support::{
    NodeProcess, poshuk, post_json, read_csv, synth_data, workspace_with_keyring,
};

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path, bytes));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// An encrypted node's config: the key in a file outside the data
/// directory (a removable drive).
fn encrypted(key: &Path) -> impl Fn(&mut NodeConfig) {
    let key = key.to_path_buf();
    move |config| {
        config.storage.encrypted = true;
        config.storage.key = Some(format!("file:{}", key.display()));
    }
}

fn local_search(node: &NodeProcess, record: &serde_json::Value) -> serde_json::Value {
    let (status, body) = post_json(
        &format!("{}/local/v1/search", node.local),
        &serde_json::json!({"record": record, "limit": 5}),
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_seized_encrypted_node_gives_nothing_back_and_a_wipe_is_final() {
    let (dir, keyring) = workspace_with_keyring();
    let root = dir.path();
    let keyring_text = std::fs::read(&keyring).expect("the keyring");
    synth_data(root, 200, 5);
    let usb = root.join("usb");
    std::fs::create_dir(&usb).expect("the removable drive");
    let key = usb.join("storage.key");
    crate::support::write_private(&key, "a long random storage key on a usb stick");

    let mut node = NodeProcess::start_with(root, "ngo-ua", &encrypted(&key));
    let ingest = poshuk(root, &["ingest", "--node", &node.local, "data/ngo_ua.csv"]);
    assert!(ingest.success, "{}", ingest.stderr);
    // A staff account and a review: the node's database has content.
    crate::support::add_staff(
        root,
        &node.local,
        "olena-hidden-staff",
        "a staff password of length",
    );

    // The partner's identity is made sealed, never in the clear, and its
    // public key read back through the vault.
    let config = node.config.to_string_lossy().to_string();
    let identity = poshuk(root, &["keys", "identity", "--config", &config]);
    assert!(identity.success, "{}", identity.stderr);
    let public = identity.stdout.trim().to_string();
    assert!(public.starts_with("age1"), "{public}");
    let again = poshuk(root, &["keys", "identity", "--config", &config]);
    assert_eq!(again.stdout.trim(), public, "{}", again.stderr);
    let rows = read_csv(&root.join("data/ngo_ua.csv"));
    let row = &rows[1];
    let record = serde_json::json!({
        "given_name": row[1], "family_name": row[2], "patronymic": row[3],
        "sex": row[5], "birth_date": row[6], "birth_place": row[7]
    });
    let found = local_search(&node, &record);
    let handle = found["hits"][0]["handle"]
        .as_str()
        .expect("a hit")
        .to_string();
    let (status, resolved) =
        crate::support::get_json(&format!("{}/local/v1/resolve/{handle}", node.local));
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["record_id"], row[0].as_str(), "{resolved}");

    // What a seizure takes: the data directory and the keyring beside it.
    let data_dir = root.join("ngo-ua-data");
    let mut seized = files_under(&data_dir);
    seized.push((keyring.clone(), std::fs::read(&keyring).expect("keyring")));
    let secrets: Vec<Vec<u8>> = rows[1..]
        .iter()
        .flat_map(|row| [row[0].clone(), row[2].clone()])
        .filter(|text| text.chars().count() >= 4)
        .map(String::into_bytes)
        .chain([
            b"olena-hidden-staff".to_vec(),
            keyring_text.clone(),
            b"[[epoch]]".to_vec(),
            b"AGE-SECRET-KEY".to_vec(),
        ])
        .collect();
    for (path, bytes) in &seized {
        for secret in &secrets {
            assert!(
                !contains(bytes, secret),
                "{} holds {:?} in the clear",
                path.display(),
                String::from_utf8_lossy(secret)
            );
        }
    }
    assert!(
        !data_dir.join("node.key").exists() && !data_dir.join("node.db").exists(),
        "no secret and no database in the clear"
    );
    // The index's own files are sealed too (no tantivy file is readable).
    let generation = std::fs::read_dir(&data_dir)
        .expect("data dir")
        .flatten()
        .find(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("index-epoch-")
        })
        .expect("a generation")
        .path();
    let meta = std::fs::read(generation.join("meta.json")).expect("meta.json");
    assert!(meta.starts_with(b"PSKX") && !contains(&meta, b"segments"));

    // The node restarts with its key and serves the same.
    node.restart(root);
    assert_eq!(
        local_search(&node, &record)["hits"][0]["handle"],
        handle.as_str()
    );

    // Without the drive, or with another key, it does not start.
    let config = node.config.clone();
    node.kill();
    std::fs::rename(&key, root.join("elsewhere.key")).expect("the drive removed");
    let without = poshuk(root, &["node", "--config", &config.to_string_lossy()]);
    assert!(!without.success);
    assert!(without.stderr.contains("storage key"), "{}", without.stderr);
    crate::support::write_private(&key, "another key that is long enough");
    let wrong = poshuk(root, &["node", "--config", &config.to_string_lossy()]);
    assert!(!wrong.success);
    assert!(wrong.stderr.contains("does not open"), "{}", wrong.stderr);
    std::fs::rename(root.join("elsewhere.key"), &key).expect("the drive back");

    // Wiped while running: the vault's key goes first, the node is killed,
    // and what a forensic copy of the disk kept is unreadable with the key.
    node.restart(root);
    let copy = root.join("copy-of-the-disk");
    let copied = Command::new("cp")
        .args(["-a"])
        .arg(&data_dir)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(copied.success());
    let wipe = poshuk(
        root,
        &[
            "node",
            "wipe",
            "--config",
            &config.to_string_lossy(),
            "--yes",
        ],
    );
    assert!(wipe.success, "{}\n{}", wipe.stdout, wipe.stderr);
    let destroyed: Vec<&str> = wipe
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("destroyed: "))
        .collect();
    assert!(destroyed[0].contains("wrapped data key"), "{}", wipe.stdout);
    assert!(
        destroyed.iter().any(|line| line.contains("running node")),
        "{}",
        wipe.stdout
    );
    assert!(destroyed.iter().any(|line| line.contains("keyring")));
    assert!(
        destroyed
            .iter()
            .any(|line| line.contains("index generation"))
    );
    assert!(node.child.wait().is_ok_and(|status| !status.success()));
    assert!(!data_dir.join(poshuk_node::vault::VAULT_FILE).exists());
    assert!(!keyring.exists());
    // Not even a sign that a node ran: no credential, log or lock is left.
    let left: Vec<_> = files_under(&data_dir)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // The copy without its vault key: nothing opens, even with the storage key.
    std::fs::remove_file(copy.join(poshuk_node::vault::VAULT_FILE)).expect("as wiped");
    let mut copied_config = NodeConfig::read(&config).expect("config");
    copied_config.data_dir = copy.clone();
    copied_config.keyring = root.join("restored-keyring.toml");
    std::fs::write(&copied_config.keyring, &keyring_text).expect("a keyring copy");
    let copied_path = root.join("copy.toml");
    crate::support::write_private(&copied_path, &copied_config.to_toml());
    let reopened = poshuk(root, &["node", "--config", &copied_path.to_string_lossy()]);
    assert!(!reopened.success);
    assert!(reopened.stderr.contains("wiped"), "{}", reopened.stderr);
}
