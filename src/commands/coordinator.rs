//! `poshuk coordinator`: run the federation's coordinator.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use poshuk_coordinator::CoordinatorConfig;

#[derive(Args)]
pub(crate) struct CoordinatorArgs {
    /// The coordinator's configuration file (see config/coordinator.example.toml).
    #[arg(long)]
    config: PathBuf,
}

pub(crate) fn run(args: CoordinatorArgs) -> anyhow::Result<()> {
    let mut config = CoordinatorConfig::load(&args.config)?;
    // The database replicas share: the environment keeps its password out
    // of the config file and the process list.
    if let Ok(url) = std::env::var("POSHUK_DATABASE_URL")
        && !url.trim().is_empty()
    {
        config.database_url = Some(url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(poshuk_coordinator::serve(
        config,
        crate::commands::signals::shutdown_signal(),
        crate::commands::signals::announce_listening_coordinator,
    ))?;
    Ok(())
}
