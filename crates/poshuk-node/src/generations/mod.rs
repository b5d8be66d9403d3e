//! Index generations: one tantivy index per key epoch the node serves.
//!
//! A node serves one generation normally and two during a key rotation. A new
//! epoch's generation is built by re-keying the newest one in place, without
//! raw data (t(n+1) = HMAC(k(n+1), t(n))), in `index-epoch-N.building`, while
//! the current generation keeps answering. When it is complete and committed
//! it is renamed to `index-epoch-N` — the rename is the atomic switch: a
//! directory without `.building` is a whole generation, and a node restarted
//! after a crash deletes any `.building` directory and re-keys again, so it
//! never serves a half-built generation. Retiring an epoch drops its
//! generation.
//!
//! Writes (ingest, delete) go to every served generation with the same
//! handles, and are refused while a re-key runs: the re-key reads a snapshot
//! of the newest generation, and a write after the snapshot would be missing
//! from the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use poshuk_core::{Epoch, EpochState, KeyRing, Tokenizer};

use poshuk_keys::files;

use crate::NodeError;
use crate::index::{IndexSettings, TokenIndex};

mod rekey;
mod writes;

pub use writes::{BatchOutcome, FinishOutcome, WriteError};

/// The index of one epoch.
#[derive(Debug)]
pub struct Generation {
    /// The key epoch of its tokens.
    pub epoch: Epoch,
    /// The index.
    pub index: TokenIndex,
}

/// A re-key under way (or failed).
struct Rekey {
    epoch: Epoch,
    done: Arc<AtomicU64>,
    total: u64,
    started: std::time::Instant,
    error: Option<String>,
}

/// Why a write was not accepted.
#[derive(Debug)]
pub struct WritesPaused {
    /// What the node is doing, for the message.
    pub reason: String,
}

/// The generations a node serves, its keyring, and the re-key machinery.
pub struct Generations {
    /// Held for the node's lifetime: one node process per data directory.
    _lock: std::fs::File,
    data_dir: PathBuf,
    keyring_path: PathBuf,
    settings: IndexSettings,
    ring: RwLock<KeyRing>,
    tokenizers: RwLock<BTreeMap<Epoch, Tokenizer>>,
    served: RwLock<Vec<Arc<Generation>>>,
    write_gate: RwLock<()>,
    rekey: Mutex<Option<Rekey>>,
    rekey_running: AtomicBool,
}

impl std::fmt::Debug for Generations {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Generations({:?})", self.served_epochs())
    }
}

fn generation_dir(data_dir: &Path, epoch: Epoch) -> PathBuf {
    data_dir.join(format!("index-epoch-{}", epoch.0))
}

fn building_dir(data_dir: &Path, epoch: Epoch) -> PathBuf {
    data_dir.join(format!("index-epoch-{}.building", epoch.0))
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> NodeError {
    move |source| NodeError::Io { what, source }
}

/// The epochs of the complete generations in `data_dir`, after deleting any
/// half-built one.
fn complete_generations(data_dir: &Path) -> Result<Vec<Epoch>, NodeError> {
    let mut epochs = Vec::new();
    let entries = std::fs::read_dir(data_dir)
        .map_err(io_error(format!("data directory {}", data_dir.display())))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("index-epoch-") else {
            continue;
        };
        if let Some(number) = rest.strip_suffix(".building") {
            tracing::warn!(
                epoch = number,
                "deleting a half-built generation left by an interrupted re-key; it will be rebuilt"
            );
            std::fs::remove_dir_all(entry.path()).map_err(io_error(format!(
                "cannot delete {}",
                entry.path().display()
            )))?;
        } else if let Ok(number) = rest.parse::<u32>() {
            epochs.push(Epoch(number));
        }
    }
    epochs.sort();
    Ok(epochs)
}

/// Reads the keyring: sealed by the vault on an encrypted node (a keyring
/// copied in the clear is sealed in place at the first start).
fn load_keyring(path: &Path, vault: Option<&crate::vault::Vault>) -> Result<KeyRing, NodeError> {
    let Some(vault) = vault else {
        return Ok(files::load(path)?);
    };
    let text = vault
        .read_file(path)
        .map_err(|error| NodeError::Keyring(error.to_string()))?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| NodeError::Keyring(format!("{} is not text", path.display())))?;
    KeyRing::from_text(text).map_err(|error| NodeError::Keyring(error.to_string()))
}

/// Replaces the keyring, sealed on an encrypted node.
fn save_keyring(
    path: &Path,
    ring: &KeyRing,
    vault: Option<&crate::vault::Vault>,
) -> Result<(), NodeError> {
    match vault {
        Some(vault) => vault
            .write_file(path, ring.to_text().as_bytes())
            .map_err(|error| NodeError::Keyring(error.to_string())),
        None => Ok(files::replace(path, ring)?),
    }
}

impl Generations {
    /// The node's vault, when it keeps its data encrypted at rest.
    pub fn vault(&self) -> Option<&crate::vault::Vault> {
        self.settings.vault.as_deref()
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Opens the generations in `data_dir`: deletes half-built and retired
    /// ones, creates the first if there is none, and opens the rest. A
    /// pending re-key is not started here (see [`Generations::rekey_pending`]).
    pub fn open(
        data_dir: &Path,
        keyring_path: &Path,
        settings: IndexSettings,
    ) -> Result<Generations, NodeError> {
        std::fs::create_dir_all(data_dir)
            .map_err(io_error(format!("data directory {}", data_dir.display())))?;
        // Before anything is deleted below: a second node process on the
        // same directory would otherwise remove the first one's re-key.
        let lock_path = data_dir.join("node.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(format!("cannot open {}", lock_path.display())))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                NodeError::Insecure(format!(
                    "another poshuk node is running on {}; stop it first",
                    data_dir.display()
                ))
            },
        )?;
        // Who holds it: `poshuk node wipe` stops a running node.
        let _ = lock.set_len(0).and_then(|()| {
            std::io::Write::write_all(&mut &lock, std::process::id().to_string().as_bytes())
        });
        let ring = load_keyring(keyring_path, settings.vault.as_deref())?;
        // The single index of a node from before generations.
        let legacy = data_dir.join("index");
        if legacy.join("meta.json").exists() {
            let index = TokenIndex::open(data_dir, &legacy, settings.clone())?;
            let epoch = index.epoch();
            drop(index);
            std::fs::rename(&legacy, generation_dir(data_dir, epoch))
                .map_err(io_error(format!("cannot move {}", legacy.display())))?;
        }
        let mut epochs = complete_generations(data_dir)?;
        // Retired epochs go, as long as a newer generation stays.
        while epochs.len() > 1 && ring.state(epochs[0]) == Some(EpochState::Retired) {
            let dir = generation_dir(data_dir, epochs[0]);
            std::fs::remove_dir_all(&dir)
                .map_err(io_error(format!("cannot delete {}", dir.display())))?;
            epochs.remove(0);
        }
        if epochs.is_empty() {
            epochs.push(ring.current_epoch());
        }
        let mut served = Vec::new();
        for epoch in epochs {
            if ring.state(epoch).is_none() {
                return Err(NodeError::Keyring(format!(
                    "the index holds tokens of epoch {epoch}, and the keyring {} does not have that epoch",
                    keyring_path.display()
                )));
            }
            let index = TokenIndex::open(
                data_dir,
                &generation_dir(data_dir, epoch),
                IndexSettings {
                    new_index_epoch: epoch,
                    ..settings.clone()
                },
            )?;
            if index.epoch() != epoch {
                return Err(NodeError::Index(format!(
                    "generation directory of epoch {epoch} holds tokens of epoch {}",
                    index.epoch()
                )));
            }
            served.push(Arc::new(Generation { epoch, index }));
        }
        let generations = Generations {
            _lock: lock,
            data_dir: data_dir.to_path_buf(),
            keyring_path: keyring_path.to_path_buf(),
            settings,
            tokenizers: RwLock::new(BTreeMap::new()),
            ring: RwLock::new(ring),
            served: RwLock::new(served),
            write_gate: RwLock::new(()),
            rekey: Mutex::new(None),
            rekey_running: AtomicBool::new(false),
        };
        generations.rebuild_tokenizers()?;
        generations.promote_served()?;
        Ok(generations)
    }

    fn rebuild_tokenizers(&self) -> Result<(), NodeError> {
        let ring = self.ring.read().map_err(|_| NodeError::Poisoned)?;
        let mut tokenizers = BTreeMap::new();
        for entry in ring.entries() {
            if entry.state == EpochState::Retired {
                continue;
            }
            let hasher = ring
                .hasher(entry.epoch)
                .map_err(|error| NodeError::Keyring(error.to_string()))?;
            tokenizers.insert(entry.epoch, Tokenizer::new(hasher));
        }
        *self.tokenizers.write().map_err(|_| NodeError::Poisoned)? = tokenizers;
        Ok(())
    }

    /// The epochs served, oldest first.
    pub fn served_epochs(&self) -> Vec<Epoch> {
        self.served
            .read()
            .map(|served| served.iter().map(|generation| generation.epoch).collect())
            .unwrap_or_default()
    }

    /// Every served generation, oldest first.
    pub fn all(&self) -> Result<Vec<Arc<Generation>>, NodeError> {
        Ok(self.served.read().map_err(|_| NodeError::Poisoned)?.clone())
    }

    /// The generation of an epoch, if served.
    pub fn get(&self, epoch: Epoch) -> Option<Arc<Generation>> {
        self.served
            .read()
            .ok()?
            .iter()
            .find(|generation| generation.epoch == epoch)
            .cloned()
    }

    /// The newest served generation.
    pub fn newest(&self) -> Result<Arc<Generation>, NodeError> {
        self.served
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .last()
            .cloned()
            .ok_or_else(|| NodeError::Index("no generation is served".into()))
    }

    /// The tokens the index keeps of a record, with the key of `epoch` (any
    /// epoch of the keyring that is not retired, served here or not).
    pub fn tokenize(
        &self,
        epoch: Epoch,
        record: &poshuk_core::Record,
    ) -> Option<poshuk_core::TokenRecord> {
        self.with_tokenizer(epoch, |tokenizer| tokenizer.tokenize(record))
    }

    /// The tokens of a search for a person (with the one-edit variants of
    /// its names), with the key of `epoch`.
    pub fn tokenize_query(
        &self,
        epoch: Epoch,
        record: &poshuk_core::Record,
    ) -> Option<poshuk_core::TokenRecord> {
        self.with_tokenizer(epoch, |tokenizer| tokenizer.tokenize_query(record))
    }

    /// A query's tokens for a birth year within `years` (a searcher's
    /// range, none: the record's own date): the record tokenized with each
    /// year, joined. A record born in any of them meets on its year.
    pub fn tokenize_query_in_years(
        &self,
        epoch: Epoch,
        record: &poshuk_core::Record,
        years: &[u16],
    ) -> Option<poshuk_core::TokenRecord> {
        if years.is_empty() {
            return self.tokenize_query(epoch, record);
        }
        self.with_tokenizer(epoch, |tokenizer| {
            tokenizer.tokenize_query_years(record, years)
        })
    }

    fn with_tokenizer<T>(&self, epoch: Epoch, work: impl FnOnce(&Tokenizer) -> T) -> Option<T> {
        self.tokenizers.read().ok()?.get(&epoch).map(work)
    }

    /// The re-keyers that turn tokens of `from` into tokens of `to`, step by
    /// step along the chain.
    pub fn rekeyers(
        &self,
        from: Epoch,
        to: Epoch,
    ) -> Result<Vec<poshuk_core::TokenRekeyer>, NodeError> {
        let ring = self.ring.read().map_err(|_| NodeError::Poisoned)?;
        (from.0 + 1..=to.0)
            .map(|number| {
                ring.rekeyer(Epoch(number))
                    .map_err(|error| NodeError::Keyring(error.to_string()))
            })
            .collect()
    }

    /// The keyring's epochs that are not retired: those a search can be
    /// tokenized for.
    pub fn searchable_epochs(&self) -> Vec<Epoch> {
        self.tokenizers
            .read()
            .map(|tokenizers| tokenizers.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Admits one write (ingest batch, delete, compaction); refused while a
    /// re-key or a retirement is changing the generations.
    pub fn admit_write(&self) -> Result<RwLockReadGuard<'_, ()>, WritesPaused> {
        let paused = |_| WritesPaused {
            reason: match self.rekey_status() {
                Some(status) => format!(
                    "the node is re-keying its index to key epoch {} ({} of {} records); writes resume when it is done",
                    status.epoch, status.done, status.total
                ),
                None => "the node is changing its key epochs; retry in a moment".into(),
            },
        };
        match self.write_gate.try_read() {
            Ok(guard) => Ok(guard),
            // The gate guards no data: a panic while it was held changes
            // nothing about whether writes may go ahead.
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(paused(())),
        }
    }

    /// The oldest tokenizer version whose tokens a served generation may
    /// hold (the current version when none is served).
    pub fn oldest_tokenizer_version(&self) -> u16 {
        self.all()
            .ok()
            .and_then(|all| {
                all.iter()
                    .map(|generation| generation.index.tokenizer_version())
                    .min()
            })
            .unwrap_or(poshuk_core::TOKENIZER_VERSION)
    }

    /// The keyring's epochs with their states (no keys).
    pub fn epoch_states(&self) -> Vec<(Epoch, EpochState)> {
        self.ring
            .read()
            .map(|ring| {
                ring.entries()
                    .iter()
                    .map(|entry| (entry.epoch, entry.state))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why installing a sealed key failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The file or the key was refused; nothing changed.
    #[error("{0}")]
    Refused(String),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Why retiring failed.
#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    /// Retiring would leave nothing to serve.
    #[error(
        "this node serves no epoch newer than {epoch} (newest: {newest}); retiring it would leave nothing to search"
    )]
    NoNewerEpoch {
        /// The epoch asked to retire.
        epoch: Epoch,
        /// The newest served.
        newest: Epoch,
    },
    /// A re-key is running: retire after it.
    #[error("the node is re-keying; retire again when it is done")]
    Busy,
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}
