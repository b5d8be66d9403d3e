//! `poshuk node`: run one partner's node.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use poshuk_node::NodeConfig;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct NodeArgs {
    /// The node's configuration file (see config/node.example.toml).
    #[arg(long, required = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    action: Option<NodeAction>,
}

#[derive(clap::Subcommand)]
enum NodeAction {
    /// Destroys this node's key material and index at once: the vault's
    /// wrapped data key first (after which nothing it sealed can be read,
    /// with or without the storage key), then the keyring, the identity,
    /// the database and the index. A running node is killed. Says what it
    /// destroyed.
    Wipe(WipeArgs),
}

#[derive(Args)]
struct WipeArgs {
    /// The node's configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub(crate) fn run(args: NodeArgs) -> anyhow::Result<()> {
    if let Some(NodeAction::Wipe(wipe)) = args.action {
        return run_wipe(wipe);
    }
    let Some(path) = args.config else {
        anyhow::bail!("give --config, the node's configuration file");
    };
    let config = NodeConfig::load(&path)?;
    // A storage key typed at start: asked here, before anything is opened.
    let storage_key = match config.storage.source().map_err(anyhow::Error::msg)? {
        Some(poshuk_node::vault::KeySource::Prompt) => {
            let typed = zeroize::Zeroizing::new(
                rpassword::prompt_password(format!(
                    "storage passphrase of node {}: ",
                    config.partner_id
                ))
                .context("cannot read the storage passphrase from the terminal")?,
            );
            Some(poshuk_node::vault::StorageKey::new(typed.as_bytes())?)
        }
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(poshuk_node::serve(
        config,
        storage_key,
        crate::commands::signals::shutdown_signal(),
        crate::commands::signals::announce_listening_node,
    ))?;
    Ok(())
}

/// `poshuk node wipe`.
fn run_wipe(args: WipeArgs) -> anyhow::Result<()> {
    // Read, not loaded: a config whose other checks fail must not stop a
    // wipe.
    let config = NodeConfig::read(&args.config)?;
    if !args.yes {
        eprint!(
            "This destroys the keys and the index of node {} in {}, for good. Type WIPE to go on: ",
            config.partner_id,
            config.data_dir.display()
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "WIPE" {
            anyhow::bail!("nothing was wiped");
        }
    }
    let started = std::time::Instant::now();
    // The vault's key first: from here on nothing it sealed can be read.
    let vault_key = config.data_dir.join(poshuk_node::vault::VAULT_FILE);
    let early = poshuk_node::vault::wipe_file(&vault_key, "the vault's wrapped data key");
    let killed = stop_running_node(&config.data_dir);
    let mut report = poshuk_node::vault::wipe(
        &config.data_dir,
        &config.keyring,
        &config.identity_path(),
        &config.audit_log_path(),
    );
    report.destroyed.splice(0..0, early.destroyed);
    report.failed.splice(0..0, early.failed);
    match killed {
        Some(Ok(line)) => report.destroyed.insert(report.destroyed.len().min(1), line),
        Some(Err(line)) => report.failed.push(line),
        None => {}
    }
    // The note by which this user's commands found the node's credentials.
    let local = config.listen.local.to_string();
    if let Some(note) = poshuk_protocol::local_credentials::registry_entry(&local) {
        let removed = poshuk_node::vault::wipe_file(&note, "the note of where the node ran");
        report.destroyed.extend(removed.destroyed);
        report.failed.extend(removed.failed);
    }
    for line in &report.destroyed {
        println!("destroyed: {line}");
    }
    for line in &report.failed {
        println!("NOT destroyed: {line}");
    }
    println!(
        "wiped in {} ms. Other copies are not touched: backups, exports, and the storage key itself (destroy the removable drive or the secret too).",
        started.elapsed().as_millis()
    );
    if !report.failed.is_empty() {
        anyhow::bail!("some of the node's data could not be destroyed (see above)");
    }
    Ok(())
}

/// Kills the node process holding the data directory's lock, if one runs
/// (SIGKILL: it must not write anything more). The process named in the
/// lock file is killed only if it holds that very lock open: a pid written
/// there by someone else names no node. `Err` says what could not be done.
fn stop_running_node(data_dir: &std::path::Path) -> Option<Result<String, String>> {
    let lock_path = data_dir.join("node.lock");
    let lock = std::fs::File::open(&lock_path).ok()?;
    let free = rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockShared).is_ok();
    if free {
        return None;
    }
    let Some(pid) = std::fs::read_to_string(&lock_path)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
    else {
        return Some(Err(
            "a node holds the data directory, and its lock names no process: stop it yourself"
                .into(),
        ));
    };
    let lock_file = std::fs::canonicalize(&lock_path).unwrap_or(lock_path);
    let holds_lock = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries.flatten().any(|entry| {
                std::fs::read_link(entry.path()).is_ok_and(|target| target == lock_file)
            })
        })
        .unwrap_or(false);
    if !holds_lock {
        return Some(Err(format!(
            "process {pid}, named in the lock, does not hold this node's lock (or cannot be seen from this user): NOT killed; stop the node yourself"
        )));
    }
    let Some(process) = rustix::process::Pid::from_raw(pid) else {
        return Some(Err(format!("process {pid} is not a process id")));
    };
    Some(
        match rustix::process::kill_process(process, rustix::process::Signal::KILL) {
            Ok(()) => Ok(format!(
                "the running node (process {pid}, killed: its keys in memory are gone)"
            )),
            Err(error) => Err(format!(
                "the running node (process {pid}) could NOT be killed: {error}"
            )),
        },
    )
}
