//! `POST /local/v1/offline/answer`: a partner without a node sent this
//! partner a sealed file of token queries (`poshuk overlap --offline
//! CONFIG LIST --sealed-to ...`); the node opens it with its identity,
//! answers each query from its index as it would answer the coordinator
//! (possible and strong hits, scores to a tenth), and seals the reply to the
//! asking partner. Staff decide to answer (the admin credential): no
//! coordinator's budget stands between the two partners, so the request is
//! bounded ([`MAX_OFFLINE_QUERIES`]) and audited.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use poshuk_core::Epoch;
use poshuk_protocol::offline::{MAX_OFFLINE_QUERIES, OfflineReply, OfflineRequest, Sealed};
use sha2::{Digest, Sha256};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking};
use crate::wire::{for_the_federation, hits_response};

/// The largest sealed request read: [`MAX_OFFLINE_QUERIES`] queries of
/// common names with their spelling variants, with room.
pub(crate) const MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

pub(crate) async fn answer(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<Sealed>, ApiError> {
    let started = Instant::now();
    // The sealed file itself, as the asking partner sent it.
    let bytes = body.to_vec();
    let worker = state.clone();
    let identity = blocking(move || {
        worker.load_identity().map_err(|error| {
            ApiError::conflict(
                "no_identity",
                format!(
                    "this node has no usable identity to open the request with ({error}): make one with `poshuk keys identity`"
                ),
            )
        })
    })
    .await?;
    let opened = poshuk_keys::letters::open_bytes(&identity, &bytes)
        .map_err(|error| ApiError::bad_request(format!("the request cannot be opened: {error}")))?;
    let request = OfflineRequest::from_bytes(&opened).map_err(|error| {
        ApiError::bad_request(format!(
            "the opened request is not usable: {error} (at most {MAX_OFFLINE_QUERIES} queries)"
        ))
    })?;
    let worker = state.clone();
    let queries = request.queries.clone();
    let answers = blocking(move || {
        let mut answers = Vec::with_capacity(queries.len());
        for query in &queries {
            let Some(generation) = worker.generations.get(Epoch(query.epoch)) else {
                return Err(ApiError::conflict(
                    "unknown_epoch",
                    format!(
                        "the request was tokenized for key epoch {}, which this node does not serve",
                        query.epoch
                    ),
                ));
            };
            let record = query
                .to_record()
                .map_err(|error| ApiError::bad_request(error.to_string()))?;
            let outcome = generation.index.search(&record, query.limit)?;
            let response = for_the_federation(
                hits_response(outcome, Instant::now()),
                worker.share_agreeing_fields,
            );
            answers.push(response.hits);
        }
        Ok(answers)
    })
    .await?;
    let hits: usize = answers.iter().map(Vec::len).sum();
    let reply = OfflineReply {
        from: state.partner_id.clone(),
        input: request.input.clone(),
        request: hex::encode(Sha256::digest(&bytes)),
        answers,
    };
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&reply).unwrap_or_default());
    let sealed = poshuk_keys::letters::seal_bytes(&request.reply_to, &plain).map_err(|error| {
        ApiError::bad_request(format!(
            "the reply cannot be sealed to the request's key: {error}"
        ))
    })?;
    let note = serde_json::json!({
        "offline_request_from": poshuk_audit::short(&request.from),
        "queries": request.queries.len(),
        "hits": hits,
        "took_ms": started.elapsed().as_millis() as u64,
    });
    Ok(noted(
        note,
        Sealed {
            sealed: hex::encode(sealed),
        },
    ))
}
