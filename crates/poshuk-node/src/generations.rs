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
        admin_key: &str,
    ) -> Result<Epoch, InstallError> {
        let admin = poshuk_core::sealed::admin_public_key(admin_key)
            .map_err(|error| InstallError::Refused(error.to_string()))?;
        let opened = poshuk_core::sealed::open(sealed, identity, partner_id, &admin)
            .map_err(|error| InstallError::Refused(error.to_string()))?;
        let mut ring = self.ring.write().map_err(|_| NodeError::Poisoned)?;
        let mut updated = ring.clone();
        match updated.install(opened.epoch, opened.key, &opened.previous_fingerprint) {
            Ok(()) => {}
            // Installed before, but its generation is not served (a re-key
            // failed): installing again restarts the re-key.
            Err(poshuk_core::KeyError::AlreadyInstalled(epoch))
                if !self.served_epochs().contains(&epoch) =>
            {
                return Ok(epoch);
            }
            Err(error) => return Err(InstallError::Refused(error.to_string())),
        }
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
        loop {
            if self.rekey_running.swap(true, Ordering::SeqCst) {
                return Ok(());
            }
            let result = (|| {
                while let Some(next) = self.next_rekey()? {
                    self.rekey_to(next)?;
                }
                self.promote_served()
            })();
            self.rekey_running.store(false, Ordering::SeqCst);
            result?;
            // A key installed between the last check and clearing the flag
            // found the flag set and left the work to us.
            if self.next_rekey()?.is_none() {
                return Ok(());
            }
        }
    }

    /// The epoch to re-key to next, if the keyring is ahead of the served
    /// generations.
    fn next_rekey(&self) -> Result<Option<Epoch>, NodeError> {
        let newest = self.newest()?.epoch;
        let wanted = self
            .ring
            .read()
            .map_err(|_| NodeError::Poisoned)?
            .newest_epoch();
        Ok((wanted > newest).then_some(Epoch(newest.0 + 1)))
    }

    /// Marks every served epoch that the keyring still has as pending as
    /// active (after a crash between a switch and the keyring update).
    fn promote_served(&self) -> Result<(), NodeError> {
        let served = self.served_epochs();
        let mut ring = self.ring.write().map_err(|_| NodeError::Poisoned)?;
        let pending: Vec<Epoch> = served
            .into_iter()
            .filter(|&epoch| ring.state(epoch) == Some(EpochState::Pending))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let mut updated = ring.clone();
        for epoch in pending {
            updated
                .set_state(epoch, EpochState::Active)
                .map_err(|error| NodeError::Keyring(error.to_string()))?;
        }
        keyring_file::replace(&self.keyring_path, &updated)?;
        *ring = updated;
        Ok(())
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
        // A panic in the re-key is a failed re-key, not a wedged node.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.build_generation(&source, epoch, &rekeyer, &done)
        }))
        .unwrap_or_else(|_| Err(NodeError::Index("the re-key panicked".into())));
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
        let _writes = self
            .write_gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        source.index.commit_pending()?;
        let expected = source.index.record_count();
        if let Ok(mut rekey) = self.rekey.lock()
            && let Some(rekey) = rekey.as_mut()
        {
            rekey.total = expected;
        }
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
        if records != expected {
            return Err(NodeError::Index(format!(
                "the re-key wrote {records} records of {expected}; the new generation is discarded"
            )));
        }
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
        // The switch is done; a keyring that cannot be updated now is put
        // right at the next start (see `promote_served`).
        if let Err(error) = self.promote_served() {
            tracing::warn!(error = %error, "cannot mark the new epoch active in the keyring yet");
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
        let _writes = match self.write_gate.try_write() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(RetireError::Busy),
        };
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
            // If they do not in time, the directory goes at the next start
            // (the keyring already says retired).
            let dir = generation_dir(&self.data_dir, generation.epoch);
            let mut generation = generation;
            let mut closed = false;
            for _ in 0..500 {
                match Arc::try_unwrap(generation) {
                    Ok(owned) => {
                        drop(owned);
                        closed = true;
                        break;
                    }
                    Err(shared) => {
                        generation = shared;
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
            if closed {
                std::fs::remove_dir_all(&dir)
                    .map_err(io_error(format!("cannot delete {}", dir.display())))?;
            } else {
                tracing::warn!(dir = %dir.display(), "a retired generation is still in use; it is deleted at the next start");
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
    /// A re-key is running: retire after it.
    #[error("the node is re-keying; retire again when it is done")]
    Busy,
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}
