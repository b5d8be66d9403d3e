//! `poshuk keys`: the federation's hashing keys.

use std::path::PathBuf;

use clap::Subcommand;
use poshuk_core::KeyRing;

use poshuk_node::keyring_file;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Write a new keyring holding one random 256-bit key (epoch 1), mode 0600.
    Init {
        /// Where to write it (must not exist).
        #[arg(long, short = 'o', default_value_os_t = crate::default_keyring_path())]
        out: PathBuf,
    },
    /// Show the epochs of a keyring (never the keys).
    List {
        /// The keyring.
        #[arg(long, default_value_os_t = crate::default_keyring_path())]
        keyring: PathBuf,
    },
}

pub(crate) fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Init { out } => {
            let ring = KeyRing::generate()?;
            keyring_file::create(&out, &ring)?;
            eprintln!(
                "wrote keyring {} (epoch 1, mode 0600). Share it only with the federation's partners, sealed.",
                out.display()
            );
            Ok(())
        }
        KeysCommand::List { keyring } => {
            let ring = keyring_file::load(&keyring)?;
            for entry in ring.entries() {
                println!("epoch {}\t{:?}", entry.epoch, entry.state);
            }
            Ok(())
        }
    }
}
