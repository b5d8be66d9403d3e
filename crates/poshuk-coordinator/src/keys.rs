//! Key epochs at the coordinator: which epochs each node serves (polled),
//! which are retired, which partners are suspended, and the relay of sealed
//! key files. The coordinator holds no key: sealed files are opaque to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use poshuk_protocol::sealed_header::read_header;
use poshuk_protocol::{FederationEpochs, FederationKeys, NodeStatus, PartnerKeys, RetireRequest};
use serde::{Deserialize, Serialize};

use crate::{Coordinator, CoordinatorError, PartnerConfig};

/// What the coordinator remembers across restarts.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct KeyState {
    /// Retired epochs: queries in them are refused.
    pub(crate) retired: BTreeSet<u32>,
    /// Partners left out of a rotation: not searched, may not search.
    pub(crate) suspended: BTreeSet<String>,
}

impl KeyState {
    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("keys.json")
    }

    pub(crate) fn load(state_dir: &Path) -> Result<KeyState, CoordinatorError> {
        std::fs::create_dir_all(state_dir).map_err(|source| CoordinatorError::Io {
            what: format!("state directory {}", state_dir.display()),
            source,
        })?;
        match std::fs::read(KeyState::path(state_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| CoordinatorError::Io {
                what: format!("{} is not valid", KeyState::path(state_dir).display()),
                source: std::io::Error::other(error.to_string()),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(KeyState::default()),
            Err(source) => Err(CoordinatorError::Io {
                what: format!("cannot read {}", KeyState::path(state_dir).display()),
                source,
            }),
        }
    }

    /// Written to a temporary file beside it, synced and renamed (then the
    /// directory is synced): a crash leaves the old state or the new one.
    fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut temporary = tempfile::NamedTempFile::new_in(state_dir)?;
        temporary.write_all(&text)?;
        temporary.as_file().sync_all()?;
        temporary
            .persist(KeyState::path(state_dir))
            .map_err(|error| error.error)?;
        // Best effort: the rename is done, and some file systems refuse to
        // sync a directory; failing now would leave memory and disk apart.
        if let Ok(directory) = std::fs::File::open(state_dir) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

impl Coordinator {
    /// Asks one node for its status.
    pub(crate) async fn fetch_status(&self, partner: &PartnerConfig) -> Option<NodeStatus> {
        let status = match self.node(partner) {
            Some(node) => node.node_status().await.ok(),
            None => None,
        };
        if let Ok(mut views) = self.views.write() {
            views.insert(partner.id.clone(), status.clone());
        }
        status
    }

    /// Refreshes every node's status at once.
    pub(crate) async fn refresh_all(&self) -> BTreeMap<String, Option<NodeStatus>> {
        let asks =
            self.config.partners.iter().map(|partner| async move {
                (partner.id.clone(), self.fetch_status(partner).await)
            });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .collect()
    }

    /// The epochs a node serves, as last heard (None: never heard).
    pub(crate) fn served_by(&self, partner_id: &str) -> Option<Vec<u32>> {
        self.views
            .read()
            .ok()?
            .get(partner_id)?
            .as_ref()
            .map(|status| status.epochs.clone())
    }

    pub(crate) fn is_retired(&self, epoch: u32) -> bool {
        self.key_state
            .lock()
            .map(|state| state.retired.contains(&epoch))
            .unwrap_or(false)
    }

    pub(crate) fn is_suspended(&self, partner_id: &str) -> bool {
        self.key_state
            .lock()
            .map(|state| state.suspended.contains(partner_id))
            .unwrap_or(false)
    }

    /// Audits a key operation that has happened (it cannot be undone, so a
    /// failure to write is logged loudly rather than reported as its own).
    fn audit_key_event(&self, event: serde_json::Value) {
        if let Err(error) = self.audit.append_durable(event) {
            tracing::error!(error = %error, "cannot append a key operation to the audit log");
        }
    }

    pub(crate) fn sealed_path(&self, partner_id: &str, epoch: u32) -> PathBuf {
        self.config
            .state_dir
            .join("sealed")
            .join(partner_id)
            .join(format!("epoch-{epoch}.sealed"))
    }

    /// Every sealed key waiting in the state directory: (partner, epoch,
    /// bytes), for the move to a shared database.
    pub(crate) fn local_sealed(&self) -> Vec<(String, u32, Vec<u8>)> {
        let mut sealed = Vec::new();
        for partner in &self.config.partners {
            for epoch in self.sealed_waiting(&partner.id) {
                if let Ok(bytes) = std::fs::read(self.sealed_path(&partner.id, epoch)) {
                    sealed.push((partner.id.clone(), epoch, bytes));
                }
            }
        }
        sealed
    }

    pub(crate) fn sealed_waiting(&self, partner_id: &str) -> Vec<u32> {
        let dir = self.config.state_dir.join("sealed").join(partner_id);
        let mut epochs: Vec<u32> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| {
                        entry
                            .file_name()
                            .to_str()?
                            .strip_prefix("epoch-")?
                            .strip_suffix(".sealed")?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        epochs.sort_unstable();
        epochs
    }

    pub(crate) async fn federation_keys(&self) -> FederationKeys {
        let statuses = self.refresh_all().await;
        let state = self.key_state();
        let partners = statuses
            .into_iter()
            .map(|(id, status)| {
                let mut sealed_waiting = self.sealed_waiting(&id);
                let view = match status {
                    Some(status) => PartnerKeys {
                        // Only keys the node has not installed yet.
                        sealed_waiting: {
                            let newest = status.epochs.iter().max().copied().unwrap_or(0);
                            sealed_waiting.retain(|&epoch| epoch > newest);
                            sealed_waiting
                        },
                        reachable: true,
                        epochs: status.epochs,
                        rekey: status.rekey,
                        records: status.records,
                        tokenizer_version: status.tokenizer_version,
                    },
                    None => PartnerKeys {
                        reachable: false,
                        epochs: Vec::new(),
                        rekey: None,
                        records: 0,
                        sealed_waiting,
                        tokenizer_version: 0,
                    },
                };
                (id, view)
            })
            .collect();
        FederationKeys {
            retired: state.retired.into_iter().collect(),
            suspended: state.suspended.into_iter().collect(),
            partners,
            retire_outcomes: BTreeMap::new(),
        }
    }

    /// The epochs a search should be tokenized for: those some node that is
    /// not suspended serves, less the retired ones.
    pub(crate) fn live_epochs(&self) -> FederationEpochs {
        let state = self.key_state();
        let mut live = BTreeSet::new();
        if let Ok(views) = self.views.read() {
            for (partner, view) in views.iter() {
                if state.suspended.contains(partner) {
                    continue;
                }
                if let Some(status) = view {
                    live.extend(status.epochs.iter().filter(|e| !state.retired.contains(e)));
                }
            }
        }
        FederationEpochs {
            live: live.into_iter().collect(),
            retired: state.retired.into_iter().collect(),
        }
    }

    /// Takes the shared key state (retired epochs, suspended partners) as
    /// another replica left it; nothing without a shared database.
    pub(crate) async fn reload_key_state(&self) {
        let Some(shared) = self.shared.as_ref() else {
            return;
        };
        match shared.key_state().await {
            Ok(state) => {
                if let Ok(mut current) = self.key_state.lock() {
                    *current = state;
                }
            }
            Err(error) => tracing::warn!(error = %error, "cannot read the shared key state"),
        }
    }

    pub(crate) fn key_state(&self) -> KeyState {
        self.key_state
            .lock()
            .map(|state| state.clone())
            .unwrap_or_default()
    }

    fn check_partner(&self, partner_id: &str) -> Result<(), KeysError> {
        if self.config.partners.iter().any(|p| p.id == partner_id) {
            Ok(())
        } else {
            Err(KeysError::UnknownPartner(partner_id.to_string()))
        }
    }

    /// Retires an epoch (and every older one) once every partner not
    /// excluded serves a newer one; excluded partners are suspended and lose
    /// any sealed key waiting for them; then the nodes are told to drop their
    /// old generations. Returns the federation's keys with what each node did.
    pub async fn retire(&self, request: &RetireRequest) -> Result<FederationKeys, KeysError> {
        if let Some(unknown) = request
            .exclude
            .iter()
            .find(|id| self.check_partner(id).is_err())
        {
            return Err(KeysError::UnknownExcluded(unknown.clone()));
        }
        let lacking = self.partners_lacking_newer(request).await;
        if !lacking.is_empty() {
            return Err(KeysError::NotReady {
                epoch: request.epoch,
                lacking,
            });
        }
        self.save_retirement(request).await?;
        self.audit_key_event(serde_json::json!({
            "event": "retire", "epoch": request.epoch, "suspended": request.exclude,
        }));
        // A suspended partner must not find a newer key waiting for it (the
        // admin may have sealed for it before deciding to leave it out).
        for excluded in &request.exclude {
            let dir = self.config.state_dir.join("sealed").join(excluded);
            if dir.exists()
                && let Err(error) = std::fs::remove_dir_all(&dir)
            {
                tracing::error!(partner = %excluded, error = %error, "cannot delete a suspended partner's sealed keys");
            }
        }
        let outcomes = self.push_retirement(request.epoch).await;
        let mut keys = self.federation_keys().await;
        keys.retire_outcomes = outcomes;
        Ok(keys)
    }

    /// Why each partner that must serve a newer epoch does not yet.
    async fn partners_lacking_newer(&self, request: &RetireRequest) -> Vec<String> {
        let statuses = self.refresh_all().await;
        let mut lacking = Vec::new();
        for partner in &self.config.partners {
            if request.exclude.contains(&partner.id) || self.is_suspended(&partner.id) {
                continue;
            }
            match statuses.get(&partner.id).cloned().flatten() {
                None => lacking.push(format!("`{}` did not answer", partner.id)),
                Some(status) if !status.epochs.iter().any(|&e| e > request.epoch) => {
                    let progress = status
                        .rekey
                        .map(|rekey| {
                            format!(
                                ", re-keying to {}: {}/{}",
                                rekey.epoch, rekey.done, rekey.total
                            )
                        })
                        .unwrap_or_default();
                    lacking.push(format!(
                        "`{}` serves only epochs {:?}{progress}",
                        partner.id, status.epochs
                    ));
                }
                Some(_) => {}
            }
        }
        lacking
    }

    /// Persists the retired epochs and suspended partners, then adopts them.
    async fn save_retirement(&self, request: &RetireRequest) -> Result<(), KeysError> {
        if let Some(shared) = self.shared.as_ref() {
            shared
                .retire(request.epoch, &request.exclude)
                .await
                .map_err(|error| KeysError::State(std::io::Error::other(error.to_string())))?;
            self.reload_key_state().await;
            return Ok(());
        }
        let mut state = self.key_state.lock().map_err(|_| KeysError::Poisoned)?;
        let mut updated = state.clone();
        updated.retired.extend(1..=request.epoch);
        updated.suspended.extend(request.exclude.iter().cloned());
        updated
            .save(&self.config.state_dir)
            .map_err(KeysError::State)?;
        *state = updated;
        Ok(())
    }

    /// Tells every node that is not suspended to drop the retired
    /// generations; a node that misses this keeps serving both until the
    /// admin runs `retire` again (it is idempotent).
    async fn push_retirement(&self, epoch: u32) -> BTreeMap<String, String> {
        // Dropping a generation may wait for searches on it: more time than
        // a search gets.
        let timeout = std::time::Duration::from_secs(30);
        let pushes = self
            .config
            .partners
            .iter()
            .filter(|partner| !self.is_suspended(&partner.id))
            .map(|partner| async move {
                let retired = match self.node(partner) {
                    Some(node) => node.node_retire(epoch, timeout).await,
                    None => Err(poshuk_protocol::client::ClientError::Disconnected),
                };
                let outcome = match retired {
                    Ok(_) => "dropped its old generation".to_string(),
                    Err(error) => {
                        format!("did not drop its old generation ({error}); run retire again")
                    }
                };
                (partner.id.clone(), outcome)
            });
        futures_util::future::join_all(pushes)
            .await
            .into_iter()
            .collect()
    }

    /// Stores a sealed key file for a partner's node to fetch, after
    /// checking that its header names that partner and epoch.
    pub async fn store_sealed(
        &self,
        partner_id: &str,
        epoch: u32,
        sealed: &[u8],
    ) -> Result<(), KeysError> {
        if self.is_suspended(partner_id) {
            return Err(KeysError::NoKeyForSuspended(partner_id.to_string()));
        }
        self.check_partner(partner_id)?;
        let (header, _) =
            read_header(sealed).map_err(|error| KeysError::NotSealed(error.to_string()))?;
        if header.partner != partner_id || header.epoch != epoch {
            return Err(KeysError::Mismatch(format!(
                "the file is sealed for partner `{}` epoch {}, not `{partner_id}` epoch {epoch}",
                header.partner, header.epoch
            )));
        }
        if let Some(shared) = self.shared.as_ref() {
            shared
                .put_sealed(partner_id, epoch, sealed)
                .await
                .map_err(|error| KeysError::SealedFile(std::io::Error::other(error.to_string())))?;
        } else {
            let path = self.sealed_path(partner_id, epoch);
            path.parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|()| std::fs::write(&path, sealed))
                .map_err(KeysError::SealedFile)?;
        }
        self.audit_key_event(serde_json::json!({
            "event": "sealed_key_uploaded", "partner": partner_id, "epoch": epoch,
        }));
        Ok(())
    }

    /// A partner's own sealed key (epoch `wanted`, or the newest waiting).
    pub async fn sealed_for(
        &self,
        partner_id: &str,
        wanted: Option<u32>,
    ) -> Result<Vec<u8>, KeysError> {
        if self.is_suspended(partner_id) {
            return Err(KeysError::Suspended(partner_id.to_string()));
        }
        if let Some(shared) = self.shared.as_ref() {
            let found = shared
                .sealed(partner_id, wanted)
                .await
                .map_err(|error| KeysError::SealedFile(std::io::Error::other(error.to_string())))?;
            let Some((epoch, bytes)) = found else {
                return Err(KeysError::NoSealedKey {
                    partner: partner_id.to_string(),
                    epoch: wanted,
                });
            };
            self.audit_key_event(serde_json::json!({
                "event": "sealed_key_fetched", "partner": partner_id, "epoch": epoch,
            }));
            return Ok(bytes);
        }
        let waiting = self.sealed_waiting(partner_id);
        let epoch = wanted
            .or(waiting.last().copied())
            .ok_or_else(|| KeysError::NoSealedKey {
                partner: partner_id.to_string(),
                epoch: None,
            })?;
        let bytes = std::fs::read(self.sealed_path(partner_id, epoch)).map_err(|_| {
            KeysError::NoSealedKey {
                partner: partner_id.to_string(),
                epoch: Some(epoch),
            }
        })?;
        self.audit_key_event(serde_json::json!({
            "event": "sealed_key_fetched", "partner": partner_id, "epoch": epoch,
        }));
        Ok(bytes)
    }
}

/// Why a key operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// No such partner.
    #[error("no partner `{0}` in this federation")]
    UnknownPartner(String),
    /// Not every partner serves a newer epoch yet.
    #[error(
        "refusing to retire epoch {epoch}: not every partner serves a newer epoch yet ({}); nothing changed. Wait for the re-keys (`poshuk keys status`); `--exclude` is only for a partner that is left out for good (it is suspended)",
        lacking.join("; ")
    )]
    NotReady {
        /// The epoch asked to retire.
        epoch: u32,
        /// Why, per partner.
        lacking: Vec<String>,
    },
    /// The partner was left out of the current epoch.
    #[error("partner `{0}` is suspended: it was left out of the current key epoch")]
    Suspended(String),
    /// The admin tried to leave a new key for a suspended partner.
    #[error("partner `{0}` is suspended: it gets no new key")]
    NoKeyForSuspended(String),
    /// A partner to exclude from a retirement is not in the federation.
    #[error("unknown partner `{0}` in exclude")]
    UnknownExcluded(String),
    /// Not a sealed key file.
    #[error("{0}")]
    NotSealed(String),
    /// A sealed file for another partner or epoch.
    #[error("{0}")]
    Mismatch(String),
    /// Nothing waiting.
    #[error("no sealed key{} is waiting for partner `{partner}`", epoch.map(|e| format!(" for epoch {e}")).unwrap_or_default())]
    NoSealedKey {
        /// The partner asking.
        partner: String,
        /// The epoch asked for, if any.
        epoch: Option<u32>,
    },
    /// A sealed file cannot be stored.
    #[error("cannot store the sealed file: {0}")]
    SealedFile(#[source] std::io::Error),
    /// The state directory cannot be written.
    #[error("cannot save the coordinator's key state: {0}")]
    State(#[source] std::io::Error),
    /// A lock was poisoned by a panic.
    #[error("internal lock poisoned")]
    Poisoned,
}
