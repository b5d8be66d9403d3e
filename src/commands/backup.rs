//! `poshuk backup CONFIG -o DIR`: a stopped node's or coordinator's whole
//! state as one self-contained directory, and the restore is running from
//! it: `poshuk node --config DIR/node.toml` (or `coordinator --config
//! DIR/coordinator.toml`) on the same or another machine.
//!
//! A node's backup holds its data directory (every index generation, the
//! node's own secret `node.key` that keys handles and seals case ids, the
//! local credentials, `node.db`, the audit log), the keyring, the partner's
//! identity and its TLS files; the config is written again with paths inside
//! the backup. A coordinator's holds its state directory and audit log.
//! Both hold secrets: every file stays 0600 and every directory 0700, and
//! the backup should be encrypted wherever it is kept.
//!
//! The server must be stopped: a node's lock on its data directory is taken
//! for the copy (a running node holds it); a coordinator is taken as running
//! when its address is in use on this machine.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use poshuk_coordinator::CoordinatorConfig;
use poshuk_node::NodeConfig;

#[derive(Args)]
pub(crate) struct BackupArgs {
    /// The node's or the coordinator's config.
    config: PathBuf,
    /// The backup directory to create (must not exist).
    #[arg(long, short = 'o')]
    out: PathBuf,
}

pub(crate) fn run(args: BackupArgs) -> anyhow::Result<()> {
    if args.out.exists() {
        bail!(
            "{} exists: a backup goes into a new directory",
            args.out.display()
        );
    }
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let is_node = text
        .lines()
        .any(|line| line.trim_start().starts_with("partner_id"));
    private_directory(&args.out)?;
    let result = if is_node {
        backup_node(&args.config, &args.out)
    } else {
        backup_coordinator(&args.config, &args.out)
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&args.out);
    }
    let config = result?;
    println!(
        "backup in {}: start from it with `poshuk {} --config {}`; it holds secrets (keys, tokens): encrypt it where it is kept",
        args.out.display(),
        if is_node { "node" } else { "coordinator" },
        config.display()
    );
    Ok(())
}

fn private_directory(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Copies a file keeping its mode (0600 stays 0600).
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(parent) = to.parent() {
        private_directory(parent)?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Copies a directory tree, directories 0700, files with their modes;
/// `skip` names files left out (a lock).
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<u64> {
    private_directory(to)?;
    let mut bytes = 0;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            bytes += copy_tree(&entry.path(), &target, skip)?;
        } else if kind.is_file() {
            copy_file(&entry.path(), &target)?;
            bytes += entry.metadata()?.len();
        }
    }
    Ok(bytes)
}

/// Copies `path` (if set and present) into `out` under `name`; the new
/// relative path for the config.
fn take(path: Option<&Path>, out: &Path, name: &str) -> anyhow::Result<Option<PathBuf>> {
    match path {
        Some(path) if path.exists() => {
            copy_file(path, &out.join(name))?;
            Ok(Some(PathBuf::from(name)))
        }
        Some(path) => bail!("{} is named in the config and missing", path.display()),
        None => Ok(None),
    }
}

fn backup_node(config_path: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let mut config = NodeConfig::load(config_path)?;
    // The node's own lock: held by a running node, and held by this copy.
    let lock_path = config.data_dir.join("node.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        bail!(
            "the node is running on {}: stop it first (a copy of a running index may be torn)",
            config.data_dir.display()
        );
    }
    let identity = config.identity_path();
    let audit_log = config.audit_log_path();
    let bytes = copy_tree(&config.data_dir, &out.join("data"), &["node.lock"])?;
    copy_file(&config.keyring, &out.join("keyring.toml"))?;
    config.keyring = PathBuf::from("keyring.toml");
    config.keys.identity = take(
        identity.exists().then_some(identity.as_path()),
        out,
        "identity.age",
    )?;
    // An audit log outside the data directory comes along, with its rotated
    // files.
    if !audit_log.starts_with(&config.data_dir) {
        for file in poshuk_audit::rotated_files(&audit_log)
            .into_iter()
            .chain(std::iter::once(audit_log.clone()))
            .filter(|file| file.exists())
        {
            let name = file.file_name().map(PathBuf::from).unwrap_or_default();
            copy_file(&file, &out.join(&name))?;
        }
        config.audit_log = audit_log.file_name().map(PathBuf::from);
    } else {
        config.audit_log = None;
    }
    config.data_dir = PathBuf::from("data");
    config.listen.tls_cert = take(config.listen.tls_cert.as_deref(), out, "tls/node.pem")?;
    config.listen.tls_key = take(config.listen.tls_key.as_deref(), out, "tls/node.key")?;
    config.listen.tls_ca = take(config.listen.tls_ca.as_deref(), out, "tls/ca.pem")?;
    if let Some(link) = config.coordinator.as_mut() {
        link.ca = take(link.ca.as_deref(), out, "tls/coordinator-ca.pem")?;
        link.cert = take(link.cert.as_deref(), out, "tls/client.pem")?;
        link.key = take(link.key.as_deref(), out, "tls/client.key")?;
    }
    let written = out.join("node.toml");
    crate::commands::processes::write_private(&written, &config.to_toml())?;
    drop(lock);
    eprintln!(
        "copied the node's data directory ({:.1} MB), keyring, identity and TLS files",
        bytes as f64 / 1e6
    );
    Ok(written)
}

fn backup_coordinator(config_path: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let mut config = CoordinatorConfig::load(config_path)?;
    if std::net::TcpListener::bind(config.listen).is_err() && config.listen.port() != 0 {
        bail!(
            "the coordinator seems to be running ({} is in use): stop it first (a copy of a running database may be torn)",
            config.listen
        );
    }
    let bytes = if config.state_dir.exists() {
        copy_tree(&config.state_dir, &out.join("state"), &[])?
    } else {
        0
    };
    let audit_log = config.audit_log.clone();
    let inside_state = audit_log.starts_with(&config.state_dir);
    if !inside_state {
        for file in poshuk_audit::rotated_files(&audit_log)
            .into_iter()
            .chain(std::iter::once(audit_log.clone()))
            .filter(|file| file.exists())
        {
            let name = file.file_name().map(PathBuf::from).unwrap_or_default();
            copy_file(&file, &out.join(&name))?;
        }
        config.audit_log = audit_log
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("audit.jsonl"));
    } else if let Ok(inner) = audit_log.strip_prefix(&config.state_dir) {
        config.audit_log = Path::new("state").join(inner);
    }
    config.state_dir = PathBuf::from("state");
    config.tls.cert = take(config.tls.cert.as_deref(), out, "tls/coordinator.pem")?;
    config.tls.key = take(config.tls.key.as_deref(), out, "tls/coordinator.key")?;
    config.tls.ca = take(config.tls.ca.as_deref(), out, "tls/ca.pem")?;
    let written = out.join("coordinator.toml");
    crate::commands::processes::write_private(&written, &config.to_toml())?;
    eprintln!(
        "copied the coordinator's state ({:.1} MB), audit log and TLS files",
        bytes as f64 / 1e6
    );
    Ok(written)
}
