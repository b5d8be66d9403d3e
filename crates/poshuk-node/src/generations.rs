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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use poshuk_core::{Epoch, EpochState, KeyRing, Tokenizer};
use poshuk_protocol::RekeyStatus;

use crate::NodeError;
use crate::index::{IndexSettings, TokenIndex};
use crate::keyring_file;

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

fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

impl Generations {
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
        let ring = keyring_file::load(keyring_path)?;
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

    /// Tokenizes with the key of `epoch` (any epoch of the keyring that is
    /// not retired, served here or not).
    pub fn tokenize(
        &self,
        epoch: Epoch,
        record: &poshuk_core::Record,
    ) -> Option<poshuk_core::TokenRecord> {
        self.tokenizers
            .read()
            .ok()?
            .get(&epoch)
            .map(|tokenizer| tokenizer.tokenize(record))
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
        self.write_gate.try_read().map_err(|_| WritesPaused {
            reason: match self.rekey_status() {
                Some(status) => format!(
                    "the node is re-keying its index to key epoch {} ({} of {} records); writes resume when it is done",
                    status.epoch, status.done, status.total
                ),
                None => "the node is changing its key epochs; retry in a moment".into(),
            },
        })
    }

    /// The re-key under way or failed, if any.
    pub fn rekey_status(&self) -> Option<RekeyStatus> {
        let rekey = self.rekey.lock().ok()?;
        rekey.as_ref().map(|rekey| {
            let done = rekey.done.load(Ordering::Relaxed);
            let seconds = rekey.started.elapsed().as_secs_f64();
            RekeyStatus {
                epoch: rekey.epoch.0,
                done,
                total: rekey.total,
                records_per_second: if seconds > 0.0 {
                    (done as f64 / seconds).round() as u64
                } else {
                    0
                },
                error: rekey.error.clone(),
            }
        })
    }

    /// Opens a sealed key with this node's identity and adds it to the
    /// keyring as pending. The keyring file is replaced atomically; on any
    /// refusal nothing changes. Call [`Generations::rekey_pending`] next.
    pub fn install(
        &self,
        sealed: &[u8],
        identity: &str,
        partner_id: &str,
    ) -> Result<Epoch, InstallError> {
        let opened = poshuk_core::sealed::open(sealed, identity, partner_id)
            .map_err(|error| InstallError::Refused(error.to_string()))?;
        let mut ring = self.ring.write().map_err(|_| NodeError::Poisoned)?;
        let mut updated = ring.clone();
        updated
            .install(opened.epoch, opened.key, &opened.previous_fingerprint)
            .map_err(|error| InstallError::Refused(error.to_string()))?;
        keyring_file::replace(&self.keyring_path, &updated)?;
        *ring = updated;
        drop(ring);
        self.rebuild_tokenizers()?;
        tracing::info!(epoch = opened.epoch.0, "installed a new key epoch");
        Ok(opened.epoch)
    }

    /// Re-keys to every keyring epoch newer than the newest generation, one
    /// epoch at a time; does nothing if another call is already at it.
    /// Blocking: run it on a blocking thread.
    pub fn rekey_pending(&self) -> Result<(), NodeError> {
        if self.rekey_running.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let result = (|| {
            loop {
                let newest = self.newest()?.epoch;
                let wanted = self
                    .ring
                    .read()
                    .map_err(|_| NodeError::Poisoned)?
                    .newest_epoch();
                if wanted <= newest {
                    return Ok(());
                }
                self.rekey_to(Epoch(newest.0 + 1))?;
            }
        })();
        self.rekey_running.store(false, Ordering::SeqCst);
        result
    }

    fn rekey_to(&self, epoch: Epoch) -> Result<(), NodeError> {
        let rekeyer = self
            .ring
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .rekeyer(epoch)
            .map_err(|error| NodeError::Keyring(error.to_string()))?;
        let source = self.newest()?;
        let done = Arc::new(AtomicU64::new(0));
        *self.rekey.lock().map_err(|_| NodeError::Poisoned)? = Some(Rekey {
            epoch,
            done: done.clone(),
            total: source.index.record_count(),
            started: std::time::Instant::now(),
            error: None,
        });
        let result = self.build_generation(&source, epoch, &rekeyer, &done);
        let mut rekey = self.rekey.lock().map_err(|_| NodeError::Poisoned)?;
        match &result {
            Ok(()) => *rekey = None,
            Err(error) => {
                if let Some(rekey) = rekey.as_mut() {
                    rekey.error = Some(error.to_string());
                }
                tracing::error!(epoch = epoch.0, error = %error, "re-key failed");
            }
        }
        result
    }

    fn build_generation(
        &self,
        source: &Generation,
        epoch: Epoch,
        rekeyer: &poshuk_core::TokenRekeyer,
        done: &AtomicU64,
    ) -> Result<(), NodeError> {
        // No write may land in the source after the snapshot below.
        let _writes = self.write_gate.write().map_err(|_| NodeError::Poisoned)?;
        source.index.commit_pending()?;
        let started = std::time::Instant::now();
        let building = building_dir(&self.data_dir, epoch);
        if building.exists() {
            std::fs::remove_dir_all(&building)
                .map_err(io_error(format!("cannot delete {}", building.display())))?;
        }
        let settings = IndexSettings {
            new_index_epoch: epoch,
            ..self.settings.clone()
        };
        let target = TokenIndex::open(&self.data_dir, &building, settings.clone())?;
        let records = source.index.rekey_into(&target, rekeyer, &|count| {
            done.store(count, Ordering::Relaxed);
        })?;
        target.compact()?;
        drop(target);
        let final_dir = generation_dir(&self.data_dir, epoch);
        sync_dir(&building);
        std::fs::rename(&building, &final_dir)
            .map_err(io_error(format!("cannot rename {}", building.display())))?;
        sync_dir(&self.data_dir);
        let index = TokenIndex::open(&self.data_dir, &final_dir, settings)?;
        index.request_merges()?;
        self.served
            .write()
            .map_err(|_| NodeError::Poisoned)?
            .push(Arc::new(Generation { epoch, index }));
        let mut ring = self.ring.write().map_err(|_| NodeError::Poisoned)?;
        let mut updated = ring.clone();
        if updated.state(epoch) == Some(EpochState::Pending) {
            updated
                .set_state(epoch, EpochState::Active)
                .map_err(|error| NodeError::Keyring(error.to_string()))?;
            keyring_file::replace(&self.keyring_path, &updated)?;
            *ring = updated;
        }
        tracing::info!(
            epoch = epoch.0,
            records,
            seconds = started.elapsed().as_secs_f64(),
            "re-keyed: now serving the new epoch alongside the old"
        );
        Ok(())
    }

    /// Retires `epoch`: marks it retired in the keyring and drops its
    /// generation. Refused unless a newer generation is served.
    pub fn retire(&self, epoch: Epoch) -> Result<(), RetireError> {
        let newest = self.newest()?.epoch;
        if newest <= epoch {
            return Err(RetireError::NoNewerEpoch { epoch, newest });
        }
        let _writes = self.write_gate.write().map_err(|_| NodeError::Poisoned)?;
        {
            let mut ring = self.ring.write().map_err(|_| NodeError::Poisoned)?;
            let mut updated = ring.clone();
            let mut changed = false;
            for number in 1..=epoch.0 {
                if updated.state(Epoch(number)) != Some(EpochState::Retired) {
                    updated
                        .set_state(Epoch(number), EpochState::Retired)
                        .map_err(|error| NodeError::Keyring(error.to_string()))?;
                    changed = true;
                }
            }
            if changed {
                keyring_file::replace(&self.keyring_path, &updated)?;
                *ring = updated;
            }
        }
        self.rebuild_tokenizers()?;
        let dropped: Vec<Arc<Generation>> = {
            let mut served = self.served.write().map_err(|_| NodeError::Poisoned)?;
            let (old, kept): (Vec<_>, Vec<_>) = served
                .drain(..)
                .partition(|generation| generation.epoch <= epoch);
            *served = kept;
            old
        };
        for generation in dropped {
            // Searches still running on it hold a reference: let them end.
            let mut generation = generation;
            for _ in 0..200 {
                match Arc::try_unwrap(generation) {
                    Ok(owned) => {
                        drop(owned);
                        break;
                    }
                    Err(shared) => {
                        generation = shared;
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        }
        for number in 1..=epoch.0 {
            let dir = generation_dir(&self.data_dir, Epoch(number));
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(io_error(format!("cannot delete {}", dir.display())))?;
            }
        }
        tracing::info!(
            epoch = epoch.0,
            "retired a key epoch and dropped its generation"
        );
        Ok(())
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
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}
