//! Key epochs changing under a node: installing a sealed key, re-keying the
//! newest generation into a new one without raw data, and retiring old
//! generations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use poshuk_core::{Epoch, EpochState};
use poshuk_protocol::RekeyStatus;

use super::{
    Generation, Generations, InstallError, Rekey, RetireError, building_dir, generation_dir,
    io_error,
};
use crate::NodeError;
use crate::index::{IndexSettings, TokenIndex};

impl Generations {
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
        let admin = poshuk_keys::sealed::admin_public_key(admin_key)
            .map_err(|error| InstallError::Refused(error.to_string()))?;
        let opened = poshuk_keys::sealed::open(sealed, identity, partner_id, &admin)
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
        super::save_keyring(&self.keyring_path, &updated, self.settings.vault.as_deref())?;
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
    pub(super) fn promote_served(&self) -> Result<(), NodeError> {
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
        super::save_keyring(&self.keyring_path, &updated, self.settings.vault.as_deref())?;
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
        poshuk_keys::files::sync_directory(&building);
        std::fs::rename(&building, &final_dir)
            .map_err(io_error(format!("cannot rename {}", building.display())))?;
        poshuk_keys::files::sync_directory(&self.data_dir);
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
                super::save_keyring(&self.keyring_path, &updated, self.settings.vault.as_deref())?;
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
}
