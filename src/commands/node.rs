//! `poshuk node`: run one partner's node.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use poshuk_node::NodeConfig;

#[derive(Args)]
pub(crate) struct NodeArgs {
    /// The node's configuration file (see config/node.example.toml).
    #[arg(long)]
    config: PathBuf,
}

pub(crate) fn run(args: NodeArgs) -> anyhow::Result<()> {
    let config = NodeConfig::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(poshuk_node::serve(
        config,
        crate::commands::signals::shutdown_signal(),
        crate::commands::signals::announce_listening_node,
    ))?;
    Ok(())
}
