//! `poshuk audit verify`: checks the chain of an audit log.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no line of an audit log was edited, removed, inserted or
    /// moved; print the number of entries and the chain's head (compare it
    /// with the head you keep elsewhere to detect lines cut off the end).
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

pub(crate) fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { file } => {
            let reader = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            match poshuk_coordinator::audit::verify(reader) {
                Ok(summary) => {
                    println!(
                        "{}: chain intact, {} entries, head {}",
                        file.display(),
                        summary.entries,
                        summary.head
                    );
                    Ok(())
                }
                Err(error) => bail!("{}: {error}", file.display()),
            }
        }
    }
}
