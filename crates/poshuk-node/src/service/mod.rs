//! The node's HTTP service: the federation API (for the coordinator) and the
//! local API (for the partner's own tools and staff).
//!
//! Handlers are thin: they parse, authorize, hand CPU and disk work to a
//! blocking thread through one method of [`Generations`], and map errors to
//! status codes in one place ([`ApiError`]).

pub(crate) mod audit;
mod error;
mod federation;
mod ingest;
mod keys;
mod offline;
mod search;
mod staff;
pub mod web;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use poshuk_core::Epoch;
use poshuk_protocol::routes::{self, local, node};
use poshuk_protocol::{API_VERSION, NodeStatus};
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::NodeError;
use crate::config::{CoordinatorLink as LinkConfig, Limits};
use crate::coordinator_link::CoordinatorLink;
use crate::generations::{Generations, InstallError};
use crate::local_auth::{LocalCredentials, check_local_request};
use crate::metrics::{Api, Metrics};

/// Everything the handlers share.
pub struct NodeState {
    /// This partner's id.
    pub partner_id: String,
    /// The index generations (one per key epoch served) and the keyring.
    pub generations: Generations,
    /// Metrics.
    pub metrics: Metrics,
    sessions: ingest::IngestSessions,
    coordinator: Option<CoordinatorLink>,
    federation_token: Option<zeroize::Zeroizing<String>>,
    /// Nonces of the coordinator's signed requests in the replay window.
    replays: poshuk_protocol::signed::ReplayGuard,
    share_agreeing_fields: bool,
    local_credentials: Arc<LocalCredentials>,
    audit: Arc<audit::NodeAudit>,
    identity: std::path::PathBuf,
    admin_key: Option<String>,
    /// The staff's web page (absent when `[web] enabled = false`).
    web: Option<web::Web>,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The federation token is a credential: never printed.
        write!(
            formatter,
            "NodeState({}, {:?})",
            self.partner_id, self.generations
        )
    }
}

/// A node's key material: where its age identity (which opens sealed keys)
/// is, and the admin's public signing key it pins.
#[derive(Debug, Clone)]
pub struct NodeKeys {
    /// The identity that opens sealed keys.
    pub identity: std::path::PathBuf,
    /// The admin's public key (`[keys] admin_key`).
    pub admin_key: Option<String>,
}

impl NodeState {
    /// Wraps opened generations.
    pub fn new(
        partner_id: String,
        generations: Generations,
        keys: NodeKeys,
        coordinator: Option<&LinkConfig>,
        federation: &crate::config::FederationAuth,
        local_credentials: LocalCredentials,
        audit_log: poshuk_audit::AuditLog,
    ) -> Result<NodeState, NodeError> {
        let coordinator = coordinator
            .map(|link| CoordinatorLink::new(link, &partner_id))
            .transpose()?;
        Ok(NodeState {
            local_credentials: Arc::new(local_credentials),
            audit: Arc::new(audit::NodeAudit::new(audit_log)),
            partner_id,
            generations,
            metrics: Metrics::default(),
            sessions: ingest::IngestSessions::default(),
            coordinator,
            federation_token: federation.token.clone().map(zeroize::Zeroizing::new),
            replays: Default::default(),
            share_agreeing_fields: federation.share_agreeing_fields,
            identity: keys.identity,
            admin_key: keys.admin_key,
            web: None,
        })
    }

    /// Serves the staff's web page from `store`.
    pub fn with_web(mut self, web: web::Web) -> NodeState {
        self.web = Some(web);
        self
    }

    /// The link to the coordinator, when the node has one.
    pub fn coordinator_link(&self) -> Option<&CoordinatorLink> {
        self.coordinator.as_ref()
    }

    /// Whether the staff's web page is served.
    pub fn serves_web(&self) -> bool {
        self.web.is_some()
    }

    /// Records in the newest generation.
    pub fn record_count(&self) -> u64 {
        self.generations
            .newest()
            .map(|generation| generation.index.record_count())
            .unwrap_or(0)
    }

    /// Starts re-keying to any newer keyring epoch, in the background.
    pub fn start_rekey(self: &Arc<NodeState>) {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = state.generations.rekey_pending() {
                tracing::error!(error = %error, "re-key failed; it is retried when the node restarts");
            }
        });
    }

    /// The node's status: epochs, records, re-key, tokenizer version.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            partner_id: self.partner_id.clone(),
            epochs: self
                .generations
                .served_epochs()
                .iter()
                .map(|epoch| epoch.0)
                .collect(),
            records: self.record_count(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            api_version: API_VERSION.to_string(),
            rekey: self.generations.rekey_status(),
            tokenizer_version: self.generations.oldest_tokenizer_version(),
        }
    }

    /// The OpenMetrics text of the node's metrics for one API. Blocking (it
    /// sizes the index on disk).
    pub fn render_metrics(&self, api: Api) -> String {
        let disk_bytes = self
            .generations
            .all()
            .map(|all| all.iter().map(|g| g.index.disk_bytes()).sum())
            .unwrap_or(0);
        self.metrics.render(api, self.record_count(), disk_bytes)
    }

    /// The epoch after the newest this node's keyring holds.
    fn next_epoch(&self) -> Epoch {
        self.generations
            .epoch_states()
            .last()
            .map(|(epoch, _)| Epoch(epoch.0 + 1))
            .unwrap_or(Epoch(2))
    }

    /// The partner's age identity: sealed by the vault on an encrypted
    /// node (an identity made in the clear is sealed in place when first
    /// read).
    pub(crate) fn load_identity(&self) -> Result<zeroize::Zeroizing<String>, NodeError> {
        let Some(vault) = self.generations.vault() else {
            return Ok(poshuk_keys::files::load_identity(&self.identity)?);
        };
        let bytes = vault
            .read_file(&self.identity)
            .map_err(|error| NodeError::Insecure(error.to_string()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| NodeError::Insecure(format!("{} is not text", self.identity.display())))?;
        Ok(zeroize::Zeroizing::new(text.to_string()))
    }

    /// Opens a sealed key with this node's identity, checks the admin's
    /// signature and installs it. Blocking.
    fn install_sealed(&self, sealed: &[u8]) -> Result<Epoch, ApiError> {
        let Some(admin_key) = self.admin_key.as_deref() else {
            return Err(ApiError::conflict(
                "no_admin_key",
                "this node has no [keys] admin_key in its config: without the admin's public key it cannot tell who sealed a key, and installs none",
            ));
        };
        let identity = self.load_identity()?;
        self.generations
            .install(sealed, &identity, &self.partner_id, admin_key)
            .map_err(|error: InstallError| error.into())
    }
}

type SharedState = Arc<NodeState>;

/// The federation API router (searched by the coordinator).
pub fn federation_router(state: SharedState, limits: &Limits) -> Router {
    let routes = Router::new()
        .route(node::SEARCH, post(federation::search))
        .route(node::STATUS, get(federation::status))
        .route(node::RETIRE, post(federation::retire))
        .route(node::RECIPIENT, get(federation::recipient))
        .route(routes::LIVEZ, get(federation::livez))
        .route(routes::READYZ, get(federation::readyz))
        .route(routes::METRICS, get(federation::metrics))
        .route_layer(middleware::from_fn(mark_route))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit::audit_request,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            federation::check_federation_request,
        ))
        .with_state(state.clone());
    observed(with_layers(routes, limits), state, Api::Federation)
}

/// The local API router (the partner's own staff and tools, on loopback).
pub fn local_router(state: SharedState, limits: &Limits) -> Router {
    let routes = Router::new()
        .route(local::INGEST_SESSIONS, post(ingest::start_session))
        .route(local::INGEST_BATCHES, post(ingest::ingest_batch))
        .route(local::INGEST_FINISH, post(ingest::finish_ingest))
        .route(local::DELETE, post(ingest::delete))
        .route(local::COMPACT, post(ingest::compact))
        .route(local::RESOLVE, get(search::resolve))
        .route(local::SEARCH, post(search::local_search))
        .route(local::FEDERATED_SEARCH, post(search::federated_search))
        .route(local::STATUS, get(federation::status))
        .route(local::KEYS_INSTALL, post(keys::install))
        .route(local::KEYS_FETCH, post(keys::fetch))
        .route(local::STAFF, post(staff::put_staff).get(staff::list_staff))
        .route(local::STAFF_REMOVE, post(staff::remove_staff))
        .route(
            local::OFFLINE_ANSWER,
            post(offline::answer).layer(axum::extract::DefaultBodyLimit::max(
                poshuk_protocol::offline::MAX_REQUEST_BYTES,
            )),
        )
        .route(routes::READYZ, get(federation::readyz))
        .route(routes::LIVEZ, get(federation::livez))
        .route(routes::METRICS, get(federation::local_metrics))
        .route_layer(middleware::from_fn(mark_route))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            audit::audit_request,
        ))
        .layer(middleware::from_fn_with_state(
            (state.local_credentials.clone(), state.audit.clone()),
            check_local_request,
        ))
        .with_state(state.clone());
    observed(with_layers(routes, limits), state, Api::Local)
}

/// The route template a request matched, carried on its response to the
/// outermost layer (which sees the response of every request, also those
/// the inner layers refused, but not the routing).
#[derive(Clone)]
struct RouteTemplate(String);

async fn mark_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| RouteTemplate(path.as_str().to_string()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Wraps a router's whole stack in the request metrics, so that a request
/// shed for overload (503) or cut by the timeout (408) is counted too.
fn observed(router: Router, state: SharedState, api: Api) -> Router {
    router.layer(middleware::from_fn_with_state(
        (state, api),
        observe_request,
    ))
}

/// Counts every request by route template (never the path itself: it may
/// hold a handle; `-` when it was not routed) and status class, and times it.
async fn observe_request(
    State((state, api)): State<(SharedState, Api)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("-", |route| route.0.as_str());
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.observe_request(api, route, status, seconds);
    response
}

/// The layer stack, outermost first: the layers' own errors answered as 503,
/// load shedding over a concurrency limit, the request timeout, the body
/// limit.
fn with_layers(router: Router, limits: &Limits) -> Router {
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    router.layer(
        ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                |_: tower::BoxError| async {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "overloaded",
                        "the node is at its request limit; retry shortly",
                    )
                },
            ))
            .load_shed()
            .concurrency_limit(limits.max_concurrent_requests)
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                timeout,
            ))
            .layer(DefaultBodyLimit::max(limits.max_body_bytes)),
    )
}

#[cfg(test)]
mod tests;
