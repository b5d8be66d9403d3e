//! The local API's write handlers: ingest sessions, deletes, compaction.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use poshuk_protocol::{
    Compacted, DeleteRequest, DeleteResult, FinishIngest, IngestBatch, IngestBatchResult,
    IngestCounts, IngestSession,
};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking, parse_json, parse_optional_json};
use crate::NodeError;
use crate::wire::record_from_wire;

/// An ingest session: what it has seen and counted so far.
#[derive(Debug, Default, Clone)]
struct Session {
    seen: HashSet<u64>,
    counts: IngestCounts,
}

/// The open ingest sessions of a node.
#[derive(Debug, Default)]
pub(crate) struct IngestSessions(Mutex<HashMap<String, Session>>);

fn unknown_session() -> ApiError {
    ApiError::not_found(
        "no such ingest session (the node may have restarted): start the ingest again",
    )
}

impl IngestSessions {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Session>>, ApiError> {
        self.0
            .lock()
            .map_err(|_| ApiError::from(NodeError::Poisoned))
    }

    /// Opens a session under a random id.
    fn start(&self) -> Result<String, ApiError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id)
            .map_err(|_| ApiError::from(NodeError::Insecure("no OS randomness".into())))?;
        let session = hex::encode(id);
        self.lock()?.insert(session.clone(), Session::default());
        Ok(session)
    }

    fn check(&self, session: &str) -> Result<(), ApiError> {
        if self.lock()?.contains_key(session) {
            Ok(())
        } else {
            Err(unknown_session())
        }
    }

    fn record(&self, session: &str, keys: Vec<u64>, counts: &IngestCounts) -> Result<(), ApiError> {
        let mut sessions = self.lock()?;
        let entry = sessions.get_mut(session).ok_or_else(unknown_session)?;
        entry.seen.extend(keys);
        entry.counts.add(counts);
        Ok(())
    }

    fn take(&self, session: &str) -> Result<Session, ApiError> {
        self.lock()?.remove(session).ok_or_else(unknown_session)
    }

    /// Puts a session back after a failed finish, so it can be retried.
    fn restore(&self, session: String, entry: Session) {
        if let Ok(mut sessions) = self.0.lock() {
            sessions.insert(session, entry);
        }
    }
}

/// `POST /local/v1/ingest/sessions`.
pub(crate) async fn start_session(
    State(state): State<SharedState>,
) -> Result<Json<IngestSession>, ApiError> {
    let session = state.sessions.start()?;
    Ok(Json(IngestSession { session }))
}

/// `POST /local/v1/ingest/sessions/{session}/batches`.
pub(crate) async fn ingest_batch(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Json<IngestBatchResult>, ApiError> {
    let batch: IngestBatch = parse_json(&body)?;
    state.sessions.check(&session)?;
    let worker = state.clone();
    let outcome = blocking(move || {
        let records = batch.records.into_iter().map(record_from_wire).collect();
        worker.generations.upsert(records)
    })
    .await?;
    state.metrics.observe_ingest(&outcome.result.counts);
    state
        .sessions
        .record(&session, outcome.keys, &outcome.result.counts)?;
    Ok(Json(outcome.result))
}

/// `POST /local/v1/ingest/sessions/{session}/finish`.
pub(crate) async fn finish_ingest(
    State(state): State<SharedState>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Noted<IngestCounts>, ApiError> {
    let finish: FinishIngest = parse_optional_json(&body)?;
    // Refuse early while writes are paused, keeping the session for a retry.
    drop(state.generations.admit_write()?);
    let entry = state.sessions.take(&session)?;
    let (worker, seen) = (state.clone(), entry.seen.clone());
    let (replace, allow_large_delete) = (finish.replace, finish.allow_large_delete);
    let finished = blocking(move || {
        worker
            .generations
            .finish_ingest(&seen, replace, allow_large_delete)
    })
    .await;
    let outcome = match finished {
        Ok(outcome) => outcome,
        Err(error) => {
            state.sessions.restore(session, entry);
            return Err(error);
        }
    };
    let deleted = IngestCounts {
        deleted: outcome.deleted,
        ..IngestCounts::default()
    };
    state.metrics.observe_ingest(&deleted);
    let mut counts = entry.counts;
    counts.deleted = outcome.deleted;
    let note = serde_json::json!({"replace": finish.replace, "counts": counts});
    Ok(noted(note, counts))
}

/// `POST /local/v1/delete`: remove records by case id, erased from disk.
pub(crate) async fn delete(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<DeleteResult>, ApiError> {
    let request: DeleteRequest = parse_json(&body)?;
    let worker = state.clone();
    let (deleted, not_found) =
        blocking(move || worker.generations.delete(&request.record_ids)).await?;
    state.metrics.observe_ingest(&IngestCounts {
        deleted,
        ..IngestCounts::default()
    });
    let note = serde_json::json!({"deleted": deleted, "not_found": not_found});
    Ok(noted(note, DeleteResult { deleted, not_found }))
}

/// `POST /local/v1/compact`.
pub(crate) async fn compact(State(state): State<SharedState>) -> Result<Json<Compacted>, ApiError> {
    let worker = state.clone();
    let segments_rewritten = blocking(move || worker.generations.compact()).await?;
    Ok(Json(Compacted { segments_rewritten }))
}
