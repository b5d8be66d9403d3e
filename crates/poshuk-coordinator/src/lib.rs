//! The coordinator: a registry of partners that fans each token query out to
//! every partner node and merges the hits.
//!
//! Invariants: the coordinator holds no hashing key and sees only tokens,
//! handles and scores; a slow or dead node costs at most its deadline and is
//! reported, never fatal (partial failure is data); the audit log records who
//! searched and what came back per partner, never the tokens.

pub mod config;
mod keys;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use poshuk_protocol::{
    EpochQueries, ErrorBody, FederatedHit, FederatedResponse, PartnerInfo, PartnerOutcome,
    PartnerStatus, SearchResponse,
};
use rand::RngExt;

pub use config::{ConfigError, CoordinatorConfig, Deadlines, PartnerConfig, Permission};

/// Errors of the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// File system or network.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP client cannot be built.
    #[error("http client: {0}")]
    Client(String),
}

/// Shared state of the coordinator.
pub struct Coordinator {
    config: CoordinatorConfig,
    client: reqwest::Client,
    audit: Mutex<std::fs::File>,
    searches: AtomicU64,
    partial_searches: AtomicU64,
    views: RwLock<std::collections::HashMap<String, keys::NodeView>>,
    key_state: Mutex<keys::KeyState>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Coordinator({} partners)",
            self.config.partners.len()
        )
    }
}

/// An error response.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.status.is_client_error() {
            "invalid_request"
        } else {
            "internal"
        };
        let body = ErrorBody {
            message: self.message,
            code: self.code.to_string(),
            kind: kind.to_string(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl Coordinator {
    /// Builds the coordinator: one shared HTTP client with connect and request
    /// timeouts, and the audit log opened for appending.
    pub fn new(config: CoordinatorConfig) -> Result<Coordinator, CoordinatorError> {
        // The federation's CA alone, not the system's roots.
        let client = poshuk_tls::client_builder(config.tls.ca.as_deref())
            .map_err(|error| CoordinatorError::Client(error.to_string()))?
            .connect_timeout(Duration::from_millis(config.deadlines.connect_ms))
            .timeout(Duration::from_millis(config.deadlines.per_node_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| CoordinatorError::Client(error.to_string()))?;
        if let Some(parent) = config.audit_log.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CoordinatorError::Io {
                what: format!("audit log directory {}", parent.display()),
                source,
            })?;
        }
        let audit = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.audit_log)
            .map_err(|source| CoordinatorError::Io {
                what: format!("audit log {}", config.audit_log.display()),
                source,
            })?;
        let key_state = keys::KeyState::load(&config.state_dir)?;
        Ok(Coordinator {
            config,
            client,
            audit: Mutex::new(audit),
            searches: AtomicU64::new(0),
            partial_searches: AtomicU64::new(0),
            views: RwLock::new(std::collections::HashMap::new()),
            key_state: Mutex::new(key_state),
        })
    }

    fn partner_by_token(&self, headers: &HeaderMap) -> Option<&PartnerConfig> {
        let presented = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        self.config
            .partners
            .iter()
            .find(|partner| constant_time_eq(partner.token.as_bytes(), presented.as_bytes()))
    }

    /// The newest of the query's epochs that a node serves, as last heard;
    /// the newest of the query's if the node was never heard from.
    fn epoch_for(&self, partner: &PartnerConfig, bodies: &BTreeMap<u32, Bytes>) -> Option<u32> {
        match self.served_by(&partner.id) {
            Some(served) => bodies.keys().rev().find(|e| served.contains(e)).copied(),
            None => bodies.keys().next_back().copied(),
        }
    }

    /// Asks one node in the epoch it serves, with at most one jittered retry
    /// after a connection error (never after a timeout), and one after the
    /// node says it no longer serves that epoch (it switched generations).
    async fn ask_node(
        &self,
        partner: &PartnerConfig,
        bodies: &BTreeMap<u32, Bytes>,
    ) -> (PartnerStatus, Vec<FederatedHit>) {
        let started = Instant::now();
        let url = format!("{}/v1/search", partner.node_url.trim_end_matches('/'));
        let deadline = Duration::from_millis(self.config.deadlines.per_node_ms);
        let mut attempt = 0;
        let mut epoch_retried = false;
        let mut epoch = self.epoch_for(partner, bodies);
        loop {
            attempt += 1;
            let Some(body) = epoch.and_then(|epoch| bodies.get(&epoch)).cloned() else {
                let served = self.served_by(&partner.id).unwrap_or_default();
                return (
                    PartnerStatus {
                        status: PartnerOutcome::Failed,
                        took_ms: started.elapsed().as_millis() as u64,
                        hits: 0,
                        error: Some(format!(
                            "the node serves key epochs {served:?}; the query was tokenized for {:?}",
                            bodies.keys().collect::<Vec<_>>()
                        )),
                    },
                    Vec::new(),
                );
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            let mut request = self
                .client
                .post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .timeout(remaining)
                .body(body.clone());
            if let Some(token) = &partner.node_token {
                request = request.bearer_auth(token);
            }
            let request = request.send();
            let status = |outcome, error: Option<String>, hits| PartnerStatus {
                status: outcome,
                took_ms: started.elapsed().as_millis() as u64,
                hits,
                error,
            };
            let failure = |outcome, error: String| (status(outcome, Some(error), 0), Vec::new());
            match request.await {
                Ok(response) if response.status().is_success() => {
                    match response.json::<SearchResponse>().await {
                        Ok(answer) => {
                            let hits: Vec<FederatedHit> = answer
                                .hits
                                .into_iter()
                                .map(|hit| FederatedHit {
                                    partner: partner.id.clone(),
                                    partner_name: partner.name.clone(),
                                    handle: hit.handle,
                                    score: hit.score,
                                    band: hit.band,
                                    agreeing: hit.agreeing,
                                    own: false,
                                    record_id: None,
                                })
                                .collect();
                            let count = hits.len();
                            return (status(PartnerOutcome::Ok, None, count), hits);
                        }
                        Err(error) if error.is_timeout() => {
                            return failure(
                                PartnerOutcome::TimedOut,
                                "no answer before the deadline".into(),
                            );
                        }
                        Err(_) => {
                            return failure(
                                PartnerOutcome::Failed,
                                "the node's answer is not a search response".into(),
                            );
                        }
                    }
                }
                Ok(response)
                    if response.status() == StatusCode::CONFLICT
                        && !epoch_retried
                        && started.elapsed() < deadline / 2 =>
                {
                    // Most likely the node switched generations since its
                    // last status: ask it again, then retry in its epoch.
                    epoch_retried = true;
                    attempt -= 1;
                    self.fetch_status(partner).await;
                    let next = self.epoch_for(partner, bodies);
                    if next == epoch {
                        let message = response
                            .json::<ErrorBody>()
                            .await
                            .map(|error| error.message)
                            .unwrap_or_else(|_| "409".into());
                        return failure(PartnerOutcome::Failed, format!("409: {message}"));
                    }
                    epoch = next;
                    continue;
                }
                Ok(response) => {
                    let code = response.status();
                    let message = response
                        .json::<ErrorBody>()
                        .await
                        .map(|error| error.message)
                        .unwrap_or_else(|_| code.to_string());
                    return failure(PartnerOutcome::Failed, format!("{code}: {message}"));
                }
                Err(error) if error.is_timeout() => {
                    return failure(
                        PartnerOutcome::TimedOut,
                        "no answer before the deadline".into(),
                    );
                }
                Err(error)
                    if error.is_connect() && attempt == 1 && started.elapsed() < deadline / 2 =>
                {
                    let jitter = rand::rng().random_range(20..80);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                    continue;
                }
                Err(error) if error.is_connect() => {
                    return failure(
                        PartnerOutcome::Unavailable,
                        "the node cannot be reached".into(),
                    );
                }
                Err(error) => {
                    return failure(
                        PartnerOutcome::Failed,
                        format!("request failed: {}", error.without_url()),
                    );
                }
            }
        }
    }

    /// Fans a search out to every searchable partner (or the named ones),
    /// each in the key epoch it serves, and merges. Queries in retired
    /// epochs are dropped; the caller has checked that one is left.
    pub async fn search(
        &self,
        requester: &PartnerConfig,
        queries: EpochQueries,
        only: Option<&[String]>,
    ) -> Result<FederatedResponse, String> {
        let started = Instant::now();
        let mut limit = 1;
        let mut bodies = BTreeMap::new();
        for query in &queries.queries {
            if self.is_retired(query.epoch) {
                continue;
            }
            limit = query.limit.min(self.config.max_hits).max(1);
            bodies.insert(
                query.epoch,
                Bytes::from(serde_json::to_vec(query).map_err(|error| error.to_string())?),
            );
        }
        let targets: Vec<&PartnerConfig> = self
            .config
            .partners
            .iter()
            .filter(|partner| partner.permissions.contains(&Permission::BeSearched))
            .filter(|partner| !self.is_suspended(&partner.id))
            .filter(|partner| only.is_none_or(|names| names.contains(&partner.id)))
            .collect();
        let overall = Duration::from_millis(self.config.deadlines.overall_ms);
        let bodies = &bodies;
        let asks = targets.iter().map(|partner| async move {
            match tokio::time::timeout(overall, self.ask_node(partner, bodies)).await {
                Ok(answer) => (partner, answer),
                Err(_) => (
                    partner,
                    (
                        PartnerStatus {
                            status: PartnerOutcome::TimedOut,
                            took_ms: overall.as_millis() as u64,
                            hits: 0,
                            error: Some("no answer before the overall deadline".into()),
                        },
                        Vec::new(),
                    ),
                ),
            }
        });
        let answers = futures_util::future::join_all(asks).await;
        let mut partners = BTreeMap::new();
        let mut hits = Vec::new();
        for (partner, (status, partner_hits)) in answers {
            partners.insert(partner.id.clone(), status);
            hits.extend(partner_hits.into_iter().map(|mut hit| {
                hit.own = hit.partner == requester.id;
                hit
            }));
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.partner.cmp(&b.partner))
                .then_with(|| a.handle.cmp(&b.handle))
        });
        hits.truncate(limit);
        let partial = partners
            .values()
            .any(|status| status.status != PartnerOutcome::Ok);
        self.searches.fetch_add(1, Ordering::Relaxed);
        if partial {
            self.partial_searches.fetch_add(1, Ordering::Relaxed);
        }
        let response = FederatedResponse {
            hits,
            partners,
            partial,
            took_ms: started.elapsed().as_millis() as u64,
        };
        self.audit(requester, &response);
        Ok(response)
    }

    fn audit(&self, requester: &PartnerConfig, response: &FederatedResponse) {
        let per_partner: BTreeMap<&String, serde_json::Value> = response
            .partners
            .iter()
            .map(|(id, status)| {
                (
                    id,
                    serde_json::json!({"status": status.status, "hits": status.hits}),
                )
            })
            .collect();
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let line = serde_json::json!({
            "time": seconds,
            "event": "search",
            "requester": requester.id,
            "partial": response.partial,
            "partners": per_partner,
        });
        self.append_audit(&line);
    }

    fn append_audit(&self, line: &serde_json::Value) {
        if let Ok(mut file) = self.audit.lock()
            && let Err(error) = writeln!(file, "{line}")
        {
            tracing::error!(error = %error, "cannot append to the audit log");
        }
    }

    /// Appends a key-administration event to the audit log.
    fn audit_event(&self, mut event: serde_json::Value) {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some(object) = event.as_object_mut() {
            object.insert("time".into(), seconds.into());
        }
        self.append_audit(&event);
    }
}

/// Compares secrets without an early exit that would reveal how much matched.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

type Shared = Arc<Coordinator>;

/// The answer to a request without a partner's token.
fn unauthorized_partner() -> Response {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthorized",
        message: "present your partner token as `Authorization: Bearer <token>`".into(),
    }
    .into_response()
}

/// `?partners=a,b` restricts the fan-out to those partners.
#[derive(serde::Deserialize)]
struct SearchParameters {
    partners: Option<String>,
}

async fn federated_search(
    State(coordinator): State<Shared>,
    headers: HeaderMap,
    axum::extract::Query(parameters): axum::extract::Query<SearchParameters>,
    body: Bytes,
) -> Response {
    let Some(requester) = coordinator.partner_by_token(&headers).cloned() else {
        return unauthorized_partner();
    };
    if !requester.permissions.contains(&Permission::Search) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("partner `{}` may not search", requester.id),
        }
        .into_response();
    }
    if coordinator.is_suspended(&requester.id) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: "suspended",
            message: format!(
                "partner `{}` is suspended: it was left out of the current key epoch",
                requester.id
            ),
        }
        .into_response();
    }
    let queries: EpochQueries = match serde_json::from_slice(&body) {
        Ok(queries) => queries,
        Err(error) => {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: format!("malformed request body: {error}"),
            }
            .into_response();
        }
    };
    if queries.queries.is_empty() {
        return ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: "the request holds no query".into(),
        }
        .into_response();
    }
    for query in &queries.queries {
        if let Err(error) = query.to_record() {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message: error.to_string(),
            }
            .into_response();
        }
    }
    if queries
        .queries
        .iter()
        .all(|query| coordinator.is_retired(query.epoch))
    {
        let epochs: Vec<u32> = queries.queries.iter().map(|query| query.epoch).collect();
        return ApiError {
            status: StatusCode::CONFLICT,
            code: "retired_epoch",
            message: format!(
                "key epoch {epochs:?} is retired: this node needs the current epoch's key (ask the federation's admin)"
            ),
        }
        .into_response();
    }
    let only: Option<Vec<String>> = parameters.partners.map(|names| {
        names
            .split(',')
            .map(|name| name.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    });
    if let Some(names) = &only {
        let known: Vec<&str> = coordinator
            .config
            .partners
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
            return ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "unknown_partner",
                message: format!("unknown partner `{unknown}` (known: {})", known.join(", ")),
            }
            .into_response();
        }
    }
    match coordinator
        .search(&requester, queries, only.as_deref())
        .await
    {
        Ok(response) => Json(response).into_response(),
        Err(message) => ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message,
        }
        .into_response(),
    }
}

async fn partners(State(coordinator): State<Shared>) -> Json<Vec<PartnerInfo>> {
    Json(
        coordinator
            .config
            .partners
            .iter()
            .map(|partner| PartnerInfo {
                id: partner.id.clone(),
                name: partner.name.clone(),
                contact: partner.contact.clone(),
            })
            .collect(),
    )
}

/// Asks every node for its status (epochs served, record count).
async fn federation_status(
    State(coordinator): State<Shared>,
) -> Json<BTreeMap<String, serde_json::Value>> {
    Json(
        coordinator
            .refresh_all()
            .await
            .into_iter()
            .map(|(id, status)| {
                let view = match status {
                    Some(status) => serde_json::json!({"status": "ok", "epochs": status.epochs, "records": status.records, "version": status.version}),
                    None => serde_json::json!({"status": "unavailable"}),
                };
                (id, view)
            })
            .collect(),
    )
}

async fn metrics(State(coordinator): State<Shared>) -> Response {
    let text = format!(
        "# HELP poshuk_federated_searches_total Federated searches.\n# TYPE poshuk_federated_searches_total counter\nposhuk_federated_searches_total {}\n\
         # HELP poshuk_federated_partial_total Federated searches where a node did not answer.\n# TYPE poshuk_federated_partial_total counter\nposhuk_federated_partial_total {}\n\
         # HELP poshuk_partners Partners configured.\n# TYPE poshuk_partners gauge\nposhuk_partners {}\n",
        coordinator.searches.load(Ordering::Relaxed),
        coordinator.partial_searches.load(Ordering::Relaxed),
        coordinator.config.partners.len()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The coordinator's router.
pub fn router(coordinator: Shared) -> Router {
    Router::new()
        .route("/v1/federated-search", post(federated_search))
        .route("/v1/partners", get(partners))
        .route("/v1/federation/status", get(federation_status))
        .route("/v1/epochs", get(keys::epochs))
        .route("/v1/keys/sealed", get(keys::fetch_sealed))
        .route("/v1/admin/keys", get(keys::admin_keys))
        .route("/v1/admin/retire", post(keys::admin_retire))
        .route(
            "/v1/admin/sealed/{partner}/{epoch}",
            put(keys::admin_upload_sealed),
        )
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(4 * 1024 * 1024))
        .with_state(coordinator)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    config: CoordinatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CoordinatorError> {
    let listen = config.listen;
    let coordinator = Arc::new(Coordinator::new(config)?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| CoordinatorError::Io {
            what: format!("cannot listen on {listen}"),
            source,
        })?;
    tracing::info!(listen = %listen, partners = coordinator.config.partners.len(), "coordinator listening");
    // Which epochs each node serves, for routing queries and for
    // `keys status`.
    let poller = coordinator.clone();
    let interval = Duration::from_millis(coordinator.config.status_interval_ms.max(100));
    let polling = tokio::spawn(async move {
        loop {
            poller.refresh_all().await;
            tokio::time::sleep(interval).await;
        }
    });
    let tls = match (&coordinator.config.tls.cert, &coordinator.config.tls.key) {
        (Some(cert), Some(key)) => Some(
            poshuk_tls::server_config(cert, key)
                .map_err(|error| CoordinatorError::Client(error.to_string()))?,
        ),
        _ => None,
    };
    let app = router(coordinator);
    let served = match tls {
        Some(tls) => {
            let listener = poshuk_tls::TlsListener::new(listener, tls).map_err(|source| {
                CoordinatorError::Io {
                    what: "TLS listener".into(),
                    source,
                }
            })?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    polling.abort();
    served.map_err(|source| CoordinatorError::Io {
        what: "serving".into(),
        source,
    })
}
