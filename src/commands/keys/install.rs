//! `poshuk keys install`, at a partner's node: install a sealed key (a file,
//! or fetched from the coordinator's relay) and follow the re-key.

use std::time::Duration;

use anyhow::{Context, bail};
use poshuk_protocol::routes::local;
use poshuk_protocol::{FetchKey, Installed, NodeStatus};

use super::InstallArgs;
use crate::commands::http::{LocalNeed, Server};

pub(super) fn install(args: InstallArgs) -> anyhow::Result<()> {
    let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(120))?;
    let installed: Installed = if args.from_coordinator {
        node.post(local::KEYS_FETCH, &FetchKey { epoch: args.epoch })?
    } else {
        let Some(file) = &args.file else {
            bail!("name the sealed file, or use --from-coordinator");
        };
        let sealed =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        node.post_file(local::KEYS_INSTALL, sealed)?
    };
    eprintln!(
        "installed key epoch {}; the node re-keys its index now and keeps answering meanwhile",
        installed.epoch
    );
    if args.no_wait {
        return Ok(());
    }
    let bar = crate::commands::progress::progress_bar(0, "re-keyed");
    loop {
        let status: NodeStatus = node
            .get(local::STATUS)
            .context("cannot read the node's status")?;
        if status.epochs.contains(&installed.epoch) {
            bar.finish_and_clear();
            eprintln!(
                "the node serves key epochs {:?} ({} records)",
                status.epochs, status.records
            );
            return Ok(());
        }
        if let Some(rekey) = status.rekey {
            if let Some(error) = rekey.error {
                bar.abandon();
                bail!(
                    "the re-key to epoch {} failed: {error} (it restarts when the node restarts)",
                    rekey.epoch
                );
            }
            bar.set_length(rekey.total);
            bar.set_position(rekey.done);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
