//! Key epochs at the coordinator: which epochs each node serves (polled),
//! which are retired, which partners are suspended, and the relay of sealed
//! key files. The coordinator holds no key: sealed files are opaque to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use poshuk_protocol::{
    FederationEpochs, FederationKeys, NodeRetire, NodeStatus, PartnerKeys, RetireRequest,
};
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Coordinator, CoordinatorError, PartnerConfig, Shared, constant_time_eq,
    unauthorized_partner,
};

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

    /// Written to a sibling file and renamed: a crash leaves the old state
    /// or the new one.
    fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = KeyState::path(state_dir);
        let temporary = path.with_extension("json.new");
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&temporary, text)?;
        std::fs::File::open(&temporary)?.sync_all()?;
        std::fs::rename(&temporary, &path)
    }
}

/// The last status heard from a node.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    pub(crate) status: Option<NodeStatus>,
    #[allow(dead_code)]
    pub(crate) at: Instant,
}

impl Coordinator {
    /// Asks one node for its status.
    pub(crate) async fn fetch_status(&self, partner: &PartnerConfig) -> Option<NodeStatus> {
        let url = format!("{}/v1/status", partner.node_url.trim_end_matches('/'));
        let mut request = self.client.get(&url);
        if let Some(token) = &partner.node_token {
            request = request.bearer_auth(token);
        }
        let status = match request.send().await {
            Ok(response) if response.status().is_success() => {
                response.json::<NodeStatus>().await.ok()
            }
            _ => None,
        };
        if let Ok(mut views) = self.views.write() {
            views.insert(
                partner.id.clone(),
                NodeView {
                    status: status.clone(),
                    at: Instant::now(),
                },
            );
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
            .status
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

    fn is_admin(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.config.admin_token else {
            return false;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| constant_time_eq(presented.as_bytes(), expected.as_bytes()))
    }

    fn sealed_path(&self, partner_id: &str, epoch: u32) -> PathBuf {
        self.config
            .state_dir
            .join("sealed")
            .join(partner_id)
            .join(format!("epoch-{epoch}.sealed"))
    }

    fn sealed_waiting(&self, partner_id: &str) -> Vec<u32> {
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

    async fn federation_keys(&self) -> FederationKeys {
        let statuses = self.refresh_all().await;
        let state = self
            .key_state
            .lock()
            .map(|state| state.clone())
            .unwrap_or_default();
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
}

fn unauthorized_admin() -> Response {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message: "key administration needs the coordinator's admin token as `Authorization: Bearer <token>`".into(),
    }
    .into_response()
}

fn conflict(code: &'static str, message: String) -> Response {
    ApiError {
        status: StatusCode::CONFLICT,
        code,
        message,
    }
    .into_response()
}

/// `GET /v1/admin/keys`: which node serves which epochs, re-key progress.
pub(crate) async fn admin_keys(State(coordinator): State<Shared>, headers: HeaderMap) -> Response {
    if !coordinator.is_admin(&headers) {
        return unauthorized_admin();
    }
    Json(coordinator.federation_keys().await).into_response()
}

/// `POST /v1/admin/retire`: refuse an epoch (and older ones) from now on,
/// once every partner not excluded serves a newer one; then tell the nodes to
/// drop the old generations.
pub(crate) async fn admin_retire(
    State(coordinator): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !coordinator.is_admin(&headers) {
        return unauthorized_admin();
    }
    let request: RetireRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: format!("malformed request body: {error}"),
            }
            .into_response();
        }
    };
    let known: BTreeSet<&str> = coordinator
        .config
        .partners
        .iter()
        .map(|partner| partner.id.as_str())
        .collect();
    if let Some(unknown) = request
        .exclude
        .iter()
        .find(|id| !known.contains(id.as_str()))
    {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "unknown_partner",
            message: format!("unknown partner `{unknown}` in exclude"),
        }
        .into_response();
    }
    let statuses = coordinator.refresh_all().await;
    let mut lacking = Vec::new();
    for partner in &coordinator.config.partners {
        if request.exclude.contains(&partner.id) || coordinator.is_suspended(&partner.id) {
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
    if !lacking.is_empty() {
        return conflict(
            "not_ready",
            format!(
                "refusing to retire epoch {}: not every partner serves a newer epoch yet ({}); nothing changed. Wait for the re-keys (`poshuk keys status`); `--exclude` is only for a partner that is left out for good (it is suspended)",
                request.epoch,
                lacking.join("; ")
            ),
        );
    }
    let saved = {
        let Ok(mut state) = coordinator.key_state.lock() else {
            return conflict("internal", "state lock poisoned".into());
        };
        let mut updated = state.clone();
        updated.retired.extend(1..=request.epoch);
        updated.suspended.extend(request.exclude.iter().cloned());
        match updated.save(&coordinator.config.state_dir) {
            Ok(()) => {
                *state = updated;
                Ok(())
            }
            Err(error) => Err(error),
        }
    };
    if let Err(error) = saved {
        return ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("cannot save the coordinator's key state: {error}"),
        }
        .into_response();
    }
    coordinator.audit_event(serde_json::json!({
        "event": "retire", "epoch": request.epoch, "suspended": request.exclude,
    }));
    // A suspended partner must not find a newer key waiting for it (the
    // admin may have sealed for it before deciding to leave it out).
    for excluded in &request.exclude {
        let dir = coordinator.config.state_dir.join("sealed").join(excluded);
        if dir.exists()
            && let Err(error) = std::fs::remove_dir_all(&dir)
        {
            tracing::error!(partner = %excluded, error = %error, "cannot delete a suspended partner's sealed keys");
        }
    }
    // The nodes drop their old generations; a node that misses this keeps
    // serving both until the admin runs `retire` again (it is idempotent).
    let body = NodeRetire {
        epoch: request.epoch,
    };
    let pushes = coordinator
        .config
        .partners
        .iter()
        .filter(|partner| !request.exclude.contains(&partner.id))
        .filter(|partner| !coordinator.is_suspended(&partner.id))
        .map(|partner| {
            let coordinator = coordinator.clone();
            let body = body.clone();
            async move {
                let url = format!("{}/v1/retire", partner.node_url.trim_end_matches('/'));
                // Dropping a generation may wait for searches on it: more
                // time than a search gets.
                let mut push = coordinator
                    .client
                    .post(&url)
                    .timeout(std::time::Duration::from_secs(30))
                    .json(&body);
                if let Some(token) = &partner.node_token {
                    push = push.bearer_auth(token);
                }
                let outcome = match push.send().await {
                    Ok(response) if response.status().is_success() => {
                        "dropped its old generation".to_string()
                    }
                    Ok(response) => {
                        let status = response.status();
                        let message = response
                            .json::<poshuk_protocol::ErrorBody>()
                            .await
                            .map(|error| error.message)
                            .unwrap_or_default();
                        format!("did not drop its old generation ({status}: {message}); run retire again")
                    }
                    Err(error) => format!(
                        "did not answer ({}); run retire again",
                        error.without_url()
                    ),
                };
                (partner.id.clone(), outcome)
            }
        });
    let outcomes = futures_util::future::join_all(pushes).await;
    let mut keys = coordinator.federation_keys().await;
    keys.retire_outcomes = outcomes.into_iter().collect();
    Json(keys).into_response()
}

/// `PUT /v1/admin/sealed/{partner}/{epoch}`: the admin leaves a sealed key
/// file for a partner's node to fetch.
pub(crate) async fn admin_upload_sealed(
    State(coordinator): State<Shared>,
    headers: HeaderMap,
    UrlPath((partner_id, epoch)): UrlPath<(String, u32)>,
    body: Bytes,
) -> Response {
    if !coordinator.is_admin(&headers) {
        return unauthorized_admin();
    }
    if coordinator.is_suspended(&partner_id) {
        return conflict(
            "suspended",
            format!("partner `{partner_id}` is suspended: it gets no new key"),
        );
    }
    if !coordinator
        .config
        .partners
        .iter()
        .any(|partner| partner.id == partner_id)
    {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_partner",
            message: format!("no partner `{partner_id}` in this federation"),
        }
        .into_response();
    }
    match poshuk_core::sealed::read_header(&body) {
        Ok((header, _)) if header.partner == partner_id && header.epoch.0 == epoch => {}
        Ok((header, _)) => {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "mismatch",
                message: format!(
                    "the file is sealed for partner `{}` epoch {}, not `{partner_id}` epoch {epoch}",
                    header.partner, header.epoch
                ),
            }
            .into_response();
        }
        Err(error) => {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "not_sealed",
                message: error.to_string(),
            }
            .into_response();
        }
    }
    let path = coordinator.sealed_path(&partner_id, epoch);
    let written = path
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|()| std::fs::write(&path, &body));
    if let Err(error) = written {
        return ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("cannot store the sealed file: {error}"),
        }
        .into_response();
    }
    coordinator.audit_event(serde_json::json!({
        "event": "sealed_key_uploaded", "partner": partner_id, "epoch": epoch,
    }));
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
pub(crate) struct SealedQuery {
    epoch: Option<u32>,
}

/// `GET /v1/keys/sealed[?epoch=N]`: a partner's node fetches its own sealed
/// key file (the newest waiting, or epoch N). Only its own: the partner is
/// known by its token.
pub(crate) async fn fetch_sealed(
    State(coordinator): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<SealedQuery>,
) -> Response {
    let Some(partner) = coordinator.partner_by_token(&headers).cloned() else {
        return unauthorized_partner();
    };
    if coordinator.is_suspended(&partner.id) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: "suspended",
            message: format!(
                "partner `{}` is suspended: it was left out of the current key epoch",
                partner.id
            ),
        }
        .into_response();
    }
    let waiting = coordinator.sealed_waiting(&partner.id);
    let Some(epoch) = query.epoch.or(waiting.last().copied()) else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            code: "no_sealed_key",
            message: format!("no sealed key is waiting for partner `{}`", partner.id),
        }
        .into_response();
    };
    match std::fs::read(coordinator.sealed_path(&partner.id, epoch)) {
        Ok(bytes) => {
            coordinator.audit_event(serde_json::json!({
                "event": "sealed_key_fetched", "partner": partner.id, "epoch": epoch,
            }));
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Err(_) => ApiError {
            status: StatusCode::NOT_FOUND,
            code: "no_sealed_key",
            message: format!(
                "no sealed key for epoch {epoch} is waiting for partner `{}`",
                partner.id
            ),
        }
        .into_response(),
    }
}

/// `GET /v1/epochs`: the epochs a search should be tokenized for.
pub(crate) async fn epochs(State(coordinator): State<Shared>, headers: HeaderMap) -> Response {
    if coordinator.partner_by_token(&headers).is_none() {
        return unauthorized_partner();
    }
    let state = coordinator
        .key_state
        .lock()
        .map(|state| state.clone())
        .unwrap_or_default();
    let mut live = BTreeSet::new();
    if let Ok(views) = coordinator.views.read() {
        for (partner, view) in views.iter() {
            if state.suspended.contains(partner) {
                continue;
            }
            if let Some(status) = &view.status {
                live.extend(status.epochs.iter().filter(|e| !state.retired.contains(e)));
            }
        }
    }
    Json(FederationEpochs {
        live: live.into_iter().collect(),
        retired: state.retired.into_iter().collect(),
    })
    .into_response()
}
