//! The node's HTTP service: the federation API and the local API.
//!
//! Handlers are thin: they parse, hand CPU and disk work to a blocking
//! thread, and map errors to status codes in one place ([`ApiError`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::path::PathBuf;

use poshuk_core::Epoch;
use poshuk_protocol::{
    API_VERSION, DeleteRequest, DeleteResult, EpochQueries, ErrorBody, FederatedResponse,
    FederatedSearch, FederationEpochs, FetchKey, FinishIngest, IngestBatch, IngestBatchResult,
    IngestCounts, IngestSession, Installed, LocalSearch, MAX_LIMIT, NodeRetire, NodeStatus,
    Rejected, Resolved, SearchHit, SearchResponse, TokenQuery,
};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;

use crate::NodeError;
use crate::generations::{Generations, InstallError, RetireError, WritesPaused};
use crate::index::{IndexRecord, SearchOutcome};
use crate::metrics::Metrics;

/// An ingest session: what it has seen and counted so far.
struct Session {
    seen: HashSet<u64>,
    counts: IngestCounts,
}

/// Everything the handlers share.
pub struct NodeState {
    /// This partner's id.
    pub partner_id: String,
    /// The index generations (one per key epoch served) and the keyring.
    pub generations: Generations,
    /// Metrics.
    pub metrics: Metrics,
    sessions: Mutex<HashMap<String, Session>>,
    coordinator: Option<(crate::config::CoordinatorLink, reqwest::Client)>,
    federation_token: Option<String>,
    identity: PathBuf,
    admin_key: Option<String>,
    /// The federation's live epochs as last heard from the coordinator.
    live_epochs: Mutex<Option<(Instant, Vec<Epoch>)>>,
}

impl NodeState {
    /// Wraps opened generations.
    pub fn new(
        partner_id: String,
        generations: Generations,
        keys: (PathBuf, Option<String>),
        coordinator: Option<crate::config::CoordinatorLink>,
        federation_token: Option<String>,
    ) -> Result<NodeState, NodeError> {
        let coordinator = match coordinator {
            Some(link) => {
                // The federation's CA alone: not the system's roots.
                let client = poshuk_tls::client_builder(link.ca.as_deref())
                    .map_err(|error| NodeError::Insecure(error.to_string()))?
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(Duration::from_millis(link.timeout_ms))
                    .build()
                    .map_err(|error| NodeError::Index(format!("http client: {error}")))?;
                Some((link, client))
            }
            None => None,
        };
        Ok(NodeState {
            partner_id,
            generations,
            metrics: Metrics::default(),
            sessions: Mutex::new(HashMap::new()),
            coordinator,
            federation_token,
            identity: keys.0,
            admin_key: keys.1,
            live_epochs: Mutex::new(None),
        })
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
}

type SharedState = Arc<NodeState>;

/// An error response: status, stable code and a message that says what to do.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> ApiError {
        tracing::error!(error = %error, "request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the node failed to handle the request; see its log".into(),
        }
    }
}

impl From<WritesPaused> for ApiError {
    fn from(paused: WritesPaused) -> ApiError {
        ApiError::conflict("rekeying", paused.reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = match self.status {
            StatusCode::CONFLICT => "conflict",
            status if status.is_client_error() => "invalid_request",
            _ => "internal",
        };
        let body = ErrorBody {
            message: self.message,
            code: self.code.to_string(),
            kind: kind.to_string(),
        };
        (self.status, Json(body)).into_response()
    }
}

/// Parses a JSON body with a precise message (field, line, column) on error.
fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!(
            "malformed request body: {}",
            mask_quoted(&error.to_string())
        ))
    })
}

/// Replaces every double-quoted part of a message with `"…"`: a message never
/// repeats what a request carried. Field names in serde's messages are in
/// backticks and stay.
fn mask_quoted(message: &str) -> String {
    let mut masked = String::with_capacity(message.len());
    let mut inside = false;
    for character in message.chars() {
        if character == '"' {
            if !inside {
                masked.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            masked.push(character);
        }
    }
    masked
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the node failed to handle the request; see its log".into(),
        })?
}

fn hits_response(outcome: SearchOutcome, started: Instant) -> SearchResponse {
    SearchResponse {
        hits: outcome
            .hits
            .into_iter()
            .map(|hit| SearchHit {
                handle: hex::encode(hit.handle),
                score: (hit.score.probability * 10_000.0).round() / 10_000.0,
                band: hit.score.band.name().to_string(),
                agreeing: hit
                    .score
                    .agreeing_fields()
                    .iter()
                    .map(|field| field.name().to_string())
                    .collect(),
            })
            .collect(),
        candidates: outcome.candidates,
        took_ms: started.elapsed().as_millis() as u64,
    }
}

/// Checks the coordinator's bearer token, when the node has one configured.
fn authorize(state: &NodeState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.federation_token else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    let equal = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if equal {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "this node answers only its federation's coordinator".into(),
        })
    }
}

async fn federation_search(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SearchResponse>, ApiError> {
    authorize(&state, &headers)?;
    let started = Instant::now();
    let query: TokenQuery = parse_json(&body)?;
    let Some(generation) = state.generations.get(Epoch(query.epoch)) else {
        return Err(ApiError::conflict(
            "unknown_epoch",
            format!(
                "this node serves key epochs {}, not {}",
                epochs_text(&state.generations.served_epochs()),
                query.epoch
            ),
        ));
    };
    let record = query
        .to_record()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let limit = query.limit;
    let outcome = blocking(move || Ok(generation.index.search(&record, limit)?)).await;
    state
        .metrics
        .observe_search(started.elapsed().as_secs_f64(), outcome.is_ok());
    Ok(Json(hits_response(outcome?, started)))
}

fn epochs_text(epochs: &[Epoch]) -> String {
    epochs
        .iter()
        .map(|epoch| epoch.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn status_of(state: &NodeState) -> NodeStatus {
    NodeStatus {
        partner_id: state.partner_id.clone(),
        epochs: state
            .generations
            .served_epochs()
            .iter()
            .map(|epoch| epoch.0)
            .collect(),
        records: state.record_count(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: API_VERSION.to_string(),
        rekey: state.generations.rekey_status(),
        tokenizer_version: state
            .generations
            .all()
            .map(|all| {
                all.iter()
                    .map(|generation| generation.index.tokenizer_version())
                    .min()
                    .unwrap_or(poshuk_core::TOKENIZER_VERSION)
            })
            .unwrap_or(poshuk_core::TOKENIZER_VERSION),
    }
}

async fn status(State(state): State<SharedState>) -> Json<NodeStatus> {
    Json(status_of(&state))
}

async fn metrics(State(state): State<SharedState>) -> Response {
    let worker = state.clone();
    let text = tokio::task::spawn_blocking(move || {
        let disk_bytes = worker
            .generations
            .all()
            .map(|all| all.iter().map(|g| g.index.disk_bytes()).sum())
            .unwrap_or(0);
        worker.metrics.render(worker.record_count(), disk_bytes)
    })
    .await
    .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn start_session(State(state): State<SharedState>) -> Result<Json<IngestSession>, ApiError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|_| ApiError::from(NodeError::Insecure("no OS randomness".into())))?;
    let session = hex::encode(id);
    state
        .sessions
        .lock()
        .map_err(|_| ApiError::from(NodeError::Poisoned))?
        .insert(
            session.clone(),
            Session {
                seen: HashSet::new(),
                counts: IngestCounts::default(),
            },
        );
    Ok(Json(IngestSession { session }))
}

fn unknown_session() -> ApiError {
    ApiError::not_found(
        "no such ingest session (the node may have restarted): start the ingest again",
    )
}

async fn ingest_batch(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Json<IngestBatchResult>, ApiError> {
    let batch: IngestBatch = parse_json(&body)?;
    if !state
        .sessions
        .lock()
        .map_err(|_| ApiError::from(NodeError::Poisoned))?
        .contains_key(&session)
    {
        return Err(unknown_session());
    }
    let worker = state.clone();
    let (result, keys) = blocking(move || {
        let mut rejected = Vec::new();
        let mut accepted = Vec::with_capacity(batch.records.len());
        for (index, raw) in batch.records.iter().enumerate() {
            let record = raw.to_record();
            if record.record_id.trim().is_empty() {
                rejected.push(Rejected {
                    index,
                    reason: "record_id is empty".into(),
                });
            } else if !record.is_identifiable() {
                rejected.push(Rejected {
                    index,
                    reason: "record has neither a name nor a document".into(),
                });
            } else {
                accepted.push(record);
            }
        }
        let _writes = worker.generations.admit_write()?;
        let generations = worker.generations.all()?;
        let Some((oldest, newer)) = generations.split_first() else {
            return Err(NodeError::Index("no generation is served".into()).into());
        };
        let tokenize_started = Instant::now();
        let records: Vec<IndexRecord> = accepted
            .par_iter()
            .filter_map(|record| {
                Some(IndexRecord {
                    record_id: record.record_id.clone(),
                    tokens: worker.generations.tokenize(oldest.epoch, record)?,
                    handle: None,
                })
            })
            .collect();
        let tokenize_ms = tokenize_started.elapsed().as_millis() as u64;
        let index_started = Instant::now();
        let (mut counts, keys) = oldest.index.upsert(&records)?;
        // While two epochs are served, the newer generation gets the same
        // records re-keyed from the oldest's tokens, exactly as the re-key
        // made its other records, under the handles the oldest gave them.
        for generation in newer {
            let rekeyers = worker
                .generations
                .rekeyers(oldest.epoch, generation.epoch)?;
            let rekeyed: Vec<IndexRecord> = records
                .par_iter()
                .map(|record| IndexRecord {
                    record_id: record.record_id.clone(),
                    tokens: record.tokens.map_tokens(|slot, token| {
                        rekeyers
                            .iter()
                            .fold(token, |token, rekeyer| rekeyer.rekey(slot.domain(), token))
                    }),
                    handle: oldest.index.handle_of(&record.record_id).ok().flatten(),
                })
                .collect();
            generation.index.upsert(&rekeyed)?;
        }
        counts.rejected = rejected.len() as u64;
        tracing::debug!(
            records = accepted.len(),
            tokenize_ms,
            index_ms = index_started.elapsed().as_millis() as u64,
            "batch ingested"
        );
        worker.metrics.observe_ingest(&counts);
        Ok((IngestBatchResult { counts, rejected }, keys))
    })
    .await?;
    let mut sessions = state
        .sessions
        .lock()
        .map_err(|_| ApiError::from(NodeError::Poisoned))?;
    let entry = sessions.get_mut(&session).ok_or_else(unknown_session)?;
    entry.seen.extend(keys);
    entry.counts.add(&result.counts);
    Ok(Json(result))
}

async fn finish_ingest(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Json<IngestCounts>, ApiError> {
    let finish: FinishIngest = if body.is_empty() {
        FinishIngest::default()
    } else {
        parse_json(&body)?
    };
    // Refuse early while writes are paused, keeping the session for a retry.
    drop(state.generations.admit_write()?);
    let entry = state
        .sessions
        .lock()
        .map_err(|_| ApiError::from(NodeError::Poisoned))?
        .remove(&session)
        .ok_or_else(unknown_session)?;
    let (seen, counts_so_far) = (entry.seen.clone(), entry.counts);
    let worker = state.clone();
    let counts = blocking(move || {
        let _writes = worker.generations.admit_write()?;
        let generations = worker.generations.all()?;
        for generation in &generations {
            generation.index.commit_pending()?;
        }
        let mut counts = entry.counts;
        if finish.replace {
            if entry.seen.is_empty() {
                return Err(ApiError::bad_request(
                    "refusing --replace: this ingest sent no valid record, and replacing would delete every record; check the file and its column mapping",
                ));
            }
            for (position, generation) in generations.iter().enumerate() {
                let deleted = generation.index.delete_all_except(&entry.seen)?;
                if position == 0 {
                    counts.deleted = deleted;
                }
                generation.index.mark_tokens_current();
            }
            worker.metrics.observe_ingest(&IngestCounts {
                deleted: counts.deleted,
                ..IngestCounts::default()
            });
        }
        // Always: an earlier, interrupted session may have left replaced
        // versions behind; compacting an index without deletions is cheap.
        for generation in &generations {
            generation.index.compact()?;
        }
        // The tokenizing threads' caches of field values are done with.
        rayon::broadcast(|_| poshuk_core::features::clear_token_cache());
        Ok(counts)
    })
    .await;
    if counts.is_err() {
        // The session stays, so that finishing can be retried.
        if let Ok(mut sessions) = state.sessions.lock() {
            sessions.insert(
                session,
                Session {
                    seen,
                    counts: counts_so_far,
                },
            );
        }
    }
    Ok(Json(counts?))
}

async fn delete(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Json<DeleteResult>, ApiError> {
    let request: DeleteRequest = parse_json(&body)?;
    let worker = state.clone();
    let result = blocking(move || {
        let _writes = worker.generations.admit_write()?;
        let mut counted = None;
        for generation in worker.generations.all()? {
            let outcome = generation.index.delete(&request.record_ids)?;
            generation.index.compact()?;
            counted.get_or_insert(outcome);
        }
        let (deleted, not_found) = counted.unwrap_or((0, 0));
        worker.metrics.observe_ingest(&IngestCounts {
            deleted,
            ..IngestCounts::default()
        });
        Ok(DeleteResult { deleted, not_found })
    })
    .await?;
    Ok(Json(result))
}

async fn compact(State(state): State<SharedState>) -> Result<Json<serde_json::Value>, ApiError> {
    let worker = state.clone();
    let rewritten = blocking(move || {
        let _writes = worker.generations.admit_write()?;
        let mut rewritten = 0;
        for generation in worker.generations.all()? {
            rewritten += generation.index.compact()?;
        }
        Ok(rewritten)
    })
    .await?;
    Ok(Json(serde_json::json!({ "segments_rewritten": rewritten })))
}

async fn resolve(
    State(state): State<SharedState>,
    Path(handle): Path<String>,
) -> Result<Json<Resolved>, ApiError> {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(&handle, &mut bytes)
        .map_err(|_| ApiError::bad_request("a handle is 32 hexadecimal digits"))?;
    let worker = state.clone();
    let found = blocking(move || resolve_handle(&worker, &bytes)).await?;
    match found {
        Some(record_id) => Ok(Json(Resolved { handle, record_id })),
        None => Err(ApiError::not_found(
            "no record has this handle in this node",
        )),
    }
}

async fn local_search(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let request: LocalSearch = parse_json(&body)?;
    if !(1..=MAX_LIMIT).contains(&request.limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let record = request.record.to_record();
    if !record.is_identifiable() {
        return Err(ApiError::bad_request(
            "the query has no usable field: give a name or a document number",
        ));
    }
    let worker = state.clone();
    let outcome = blocking(move || {
        let generation = worker.generations.newest()?;
        let tokens = worker
            .generations
            .tokenize(generation.epoch, &record)
            .ok_or_else(|| {
                ApiError::from(NodeError::Keyring("no key for the served epoch".into()))
            })?;
        Ok(generation.index.search(&tokens, request.limit)?)
    })
    .await?;
    Ok(Json(hits_response(outcome, started)))
}

/// A search across the federation by raw fields: tokenized here, sent to the
/// coordinator as tokens, own hits resolved back to case ids here.
async fn federated_search(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Json<FederatedResponse>, ApiError> {
    let request: FederatedSearch = parse_json(&body)?;
    if !(1..=MAX_LIMIT).contains(&request.limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let Some((link, client)) = state.coordinator.clone() else {
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "no_coordinator",
            message:
                "this node has no [coordinator] in its config: it cannot search the federation"
                    .into(),
        });
    };
    let record = request.record.to_record();
    if !record.is_identifiable() {
        return Err(ApiError::bad_request(
            "the query has no usable field: give a name or a document number",
        ));
    }
    let epochs = search_epochs(&state, &link, &client).await;
    let worker = state.clone();
    let limit = request.limit;
    let query = blocking(move || {
        // Tokenized once, in the oldest epoch; the newer ones are re-keyed
        // from it along the chain.
        let Some((&oldest, newer)) = epochs.split_first() else {
            return Ok(EpochQueries {
                queries: Vec::new(),
            });
        };
        let Some(tokens) = worker.generations.tokenize(oldest, &record) else {
            return Err(NodeError::Keyring(format!("no key for epoch {oldest}")).into());
        };
        let mut queries = vec![TokenQuery::from_record(oldest.0, &tokens, limit)];
        for &epoch in newer {
            let rekeyers = worker.generations.rekeyers(oldest, epoch)?;
            let rekeyed = tokens.map_tokens(|slot, token| {
                rekeyers
                    .iter()
                    .fold(token, |token, rekeyer| rekeyer.rekey(slot.domain(), token))
            });
            queries.push(TokenQuery::from_record(epoch.0, &rekeyed, limit));
        }
        Ok(EpochQueries { queries })
    })
    .await?;
    let mut url = format!("{}/v1/federated-search", link.url.trim_end_matches('/'));
    if let Some(partners) = &request.partners {
        url.push_str("?partners=");
        url.push_str(&partners.join(","));
    }
    let response = client
        .post(&url)
        .bearer_auth(&link.token)
        .json(&query)
        .send()
        .await
        .map_err(coordinator_unreachable)?;
    let response = coordinator_success(response).await?;
    let mut answer: FederatedResponse = response.json().await.map_err(|_| ApiError {
        status: StatusCode::BAD_GATEWAY,
        code: "coordinator_error",
        message: "the coordinator's answer is not a federated response".into(),
    })?;
    let own: Vec<(usize, [u8; 16])> = answer
        .hits
        .iter()
        .enumerate()
        .filter(|(_, hit)| hit.own)
        .filter_map(|(position, hit)| {
            let mut handle = [0u8; 16];
            hex::decode_to_slice(&hit.handle, &mut handle)
                .ok()
                .map(|()| (position, handle))
        })
        .collect();
    if !own.is_empty() {
        let worker = state.clone();
        let resolved = blocking(move || {
            own.into_iter()
                .map(|(position, handle)| Ok((position, resolve_handle(&worker, &handle)?)))
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
        for (position, record_id) in resolved {
            answer.hits[position].record_id = record_id;
        }
    }
    Ok(Json(answer))
}

fn coordinator_unreachable(error: reqwest::Error) -> ApiError {
    ApiError {
        status: StatusCode::BAD_GATEWAY,
        code: "coordinator_unreachable",
        message: format!("the coordinator cannot be reached: {}", error.without_url()),
    }
}

/// The coordinator's answer if it is a success; its own message otherwise
/// (a client error keeps its status, anything else is a bad gateway).
async fn coordinator_success(response: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let message = response
        .json::<ErrorBody>()
        .await
        .map(|error| error.message)
        .unwrap_or_else(|_| status.to_string());
    Err(ApiError {
        status: if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_GATEWAY
        },
        code: "coordinator_error",
        message: format!("the coordinator answered {status}: {message}"),
    })
}

/// The case id behind a handle, from whichever served generation has it
/// (a record has the same handle in every generation).
fn resolve_handle(state: &NodeState, handle: &[u8; 16]) -> Result<Option<String>, ApiError> {
    for generation in state.generations.all()?.iter().rev() {
        if let Some(record_id) = generation.index.resolve(handle)? {
            return Ok(Some(record_id));
        }
    }
    Ok(None)
}

/// The epochs to tokenize a federated search for: those of our keyring the
/// federation still serves, as the coordinator reports (cached a second);
/// every epoch of our keyring that is not retired if it cannot tell.
async fn search_epochs(
    state: &NodeState,
    link: &crate::config::CoordinatorLink,
    client: &reqwest::Client,
) -> Vec<Epoch> {
    let ours = state.generations.searchable_epochs();
    let cached = state
        .live_epochs
        .lock()
        .ok()
        .and_then(|cache| cache.clone())
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(1))
        .map(|(_, epochs)| epochs);
    let live = match cached {
        Some(live) => Some(live),
        None => {
            let url = format!("{}/v1/epochs", link.url.trim_end_matches('/'));
            let answer = client.get(&url).bearer_auth(&link.token).send().await;
            let live = match answer {
                Ok(response) if response.status().is_success() => response
                    .json::<FederationEpochs>()
                    .await
                    .ok()
                    .map(|epochs| epochs.live.into_iter().map(Epoch).collect::<Vec<_>>()),
                _ => None,
            };
            if let (Some(live), Ok(mut cache)) = (&live, state.live_epochs.lock()) {
                *cache = Some((Instant::now(), live.clone()));
            }
            live
        }
    };
    match live {
        Some(live) => {
            let both: Vec<Epoch> = ours.iter().copied().filter(|e| live.contains(e)).collect();
            if both.is_empty() { ours } else { both }
        }
        None => ours,
    }
}

/// `POST /local/v1/keys/install`: a sealed key file as the body.
async fn install_key(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Json<Installed>, ApiError> {
    let epoch = install_sealed(&state, body.to_vec()).await?;
    Ok(Json(Installed { epoch: epoch.0 }))
}

async fn install_sealed(state: &SharedState, sealed: Vec<u8>) -> Result<Epoch, ApiError> {
    let worker = state.clone();
    let epoch = blocking(move || {
        let Some(admin_key) = worker.admin_key.as_deref() else {
            return Err(ApiError::conflict(
                "no_admin_key",
                "this node has no [keys] admin_key in its config: without the admin's public key it cannot tell who sealed a key, and installs none",
            ));
        };
        let identity = crate::keyring_file::load_identity(&worker.identity)?;
        worker
            .generations
            .install(&sealed, &identity, &worker.partner_id, admin_key)
            .map_err(|error| match error {
                InstallError::Refused(message) => ApiError::conflict("key_refused", message),
                InstallError::Node(error) => ApiError::from(error),
            })
    })
    .await?;
    state.start_rekey();
    Ok(epoch)
}

/// `POST /local/v1/keys/fetch`: fetch this partner's sealed key from the
/// coordinator's relay and install it.
async fn fetch_key(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Json<Installed>, ApiError> {
    let request: FetchKey = if body.is_empty() {
        FetchKey::default()
    } else {
        parse_json(&body)?
    };
    let Some((link, client)) = state.coordinator.clone() else {
        return Err(ApiError::bad_request(
            "this node has no [coordinator] in its config: install the sealed file directly",
        ));
    };
    // By default the epoch after the newest this node holds.
    let epoch = request.epoch.unwrap_or_else(|| {
        state
            .generations
            .epoch_states()
            .last()
            .map(|(epoch, _)| epoch.0 + 1)
            .unwrap_or(2)
    });
    let url = format!(
        "{}/v1/keys/sealed?epoch={epoch}",
        link.url.trim_end_matches('/')
    );
    let response = client
        .get(&url)
        .bearer_auth(&link.token)
        .send()
        .await
        .map_err(coordinator_unreachable)?;
    let response = coordinator_success(response).await?;
    let sealed = response.bytes().await.map_err(|_| ApiError {
        status: StatusCode::BAD_GATEWAY,
        code: "coordinator_error",
        message: "the coordinator's answer was cut short".into(),
    })?;
    let epoch = install_sealed(&state, sealed.to_vec()).await?;
    Ok(Json(Installed { epoch: epoch.0 }))
}

/// `POST /v1/retire` (from the coordinator): drop the generations of an
/// epoch and every older one.
async fn retire(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<NodeStatus>, ApiError> {
    // Dropping a generation cannot be undone: never without the
    // coordinator's token.
    if state.federation_token.is_none() {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: "this node has no [federation] token: it takes retirements from no one".into(),
        });
    }
    authorize(&state, &headers)?;
    let request: NodeRetire = parse_json(&body)?;
    let worker = state.clone();
    blocking(move || {
        worker
            .generations
            .retire(Epoch(request.epoch))
            .map_err(|error| match error {
                RetireError::NoNewerEpoch { .. } => {
                    ApiError::conflict("no_newer_epoch", error.to_string())
                }
                RetireError::Busy => ApiError::conflict("rekeying", error.to_string()),
                RetireError::Node(error) => ApiError::from(error),
            })
    })
    .await?;
    Ok(Json(status_of(&state)))
}

async fn livez() -> &'static str {
    "ok"
}

/// The federation API router (searched by the coordinator).
pub fn federation_router(state: SharedState, limits: &crate::config::Limits) -> Router {
    let routes = Router::new()
        .route("/v1/search", post(federation_search))
        .route("/v1/status", get(status))
        .route("/v1/retire", post(retire))
        .route("/livez", get(livez))
        .route("/readyz", get(livez))
        .route("/metrics", get(metrics))
        .with_state(state);
    with_layers(routes, limits)
}

/// The local API router (the partner's own staff and tools, on loopback).
pub fn local_router(state: SharedState, limits: &crate::config::Limits) -> Router {
    let routes = Router::new()
        .route("/local/v1/ingest/sessions", post(start_session))
        .route(
            "/local/v1/ingest/sessions/{session}/batches",
            post(ingest_batch),
        )
        .route(
            "/local/v1/ingest/sessions/{session}/finish",
            post(finish_ingest),
        )
        .route("/local/v1/delete", post(delete))
        .route("/local/v1/compact", post(compact))
        .route("/local/v1/resolve/{handle}", get(resolve))
        .route("/local/v1/search", post(local_search))
        .route("/local/v1/federated-search", post(federated_search))
        .route("/local/v1/status", get(status))
        .route("/local/v1/keys/install", post(install_key))
        .route("/local/v1/keys/fetch", post(fetch_key))
        .route("/livez", get(livez))
        .with_state(state);
    with_layers(routes, limits)
}

/// The layer stack, top to bottom: timeout, load shedding over a concurrency
/// limit, body limit.
fn with_layers(router: Router, limits: &crate::config::Limits) -> Router {
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    router.layer(
        ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                |_: tower::BoxError| async {
                    ApiError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        code: "overloaded",
                        message: "the node is at its request limit; retry shortly".into(),
                    }
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
mod tests {
    use super::*;

    #[test]
    fn parser_messages_do_not_repeat_values() {
        let error = parse_json::<poshuk_protocol::IngestBatch>(&Bytes::from_static(
            br#"{"records":[{"record_id":"1","document_ids":"AB123456"}]}"#,
        ))
        .expect_err("document_ids must be a list");
        assert!(!error.message.contains("AB123456"), "{}", error.message);
        assert!(error.message.contains("line 1"), "{}", error.message);
    }
}
