//! `poshuk audit verify`: checks the chain of an audit log.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no line of an audit log (the coordinator's or a node's,
    /// with its rotated files FILE.1, FILE.2, ...) was edited, removed,
    /// inserted or moved; print the number of entries and the chain's head
    /// (compare it with the head you keep elsewhere to detect lines cut off
    /// the end).
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
    },
}

pub(crate) fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { file } => {
            if !file.exists() {
                bail!("{} does not exist", file.display());
            }
            match poshuk_audit::verify_files(&file) {
                Ok(summary) => {
                    println!(
                        "{}: chain intact, {} entries in {} file(s), head {}",
                        file.display(),
                        summary.entries,
                        summary.files,
                        summary.head
                    );
                    Ok(())
                }
                Err(error) => bail!("{}: {error}", file.display()),
            }
        }
    }
}
