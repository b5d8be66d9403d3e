//! `POST /local/v1/offline/answer`: a partner without a node sent this
//! partner a sealed file of token queries (`poshuk overlap --offline
//! CONFIG LIST --sealed-to ...`); the node opens it with its identity,
//! answers each query from its index as it would answer the coordinator
//! (possible and strong hits, scores to a tenth), and seals the reply to the
//! asking partner. Staff decide to answer (the admin credential): no
//! coordinator's budget stands between the two partners, so the request is
//! bounded ([`MAX_OFFLINE_QUERIES`], the federation's bound on each query's
//! tokens) and audited.

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

pub(crate) async fn answer(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<Sealed>, ApiError> {
    let started = Instant::now();
    let worker = state.clone();
    // Opening, reading and searching are all CPU work: none of it on the
    // threads that serve requests.
    let (reply, note) = blocking(move || {
        let identity = worker.load_identity().map_err(|error| {
            ApiError::conflict(
                "no_identity",
                format!(
                    "this node has no usable identity to open the request with ({error}): make one with `poshuk keys identity`"
                ),
            )
        })?;
        let opened = poshuk_keys::letters::open_bytes(&identity, &body).map_err(|error| {
            ApiError::bad_request(format!("the request cannot be opened: {error}"))
        })?;
        let request = OfflineRequest::from_bytes(&opened).map_err(|error| {
            ApiError::bad_request(format!(
                "the opened request is not usable: {error} (at most {MAX_OFFLINE_QUERIES} queries)"
            ))
        })?;
        drop(opened);
        let mut answers = Vec::with_capacity(request.queries.len());
        let mut refused = 0;
        for query in &request.queries {
            let Some(generation) = worker.generations.get(Epoch(query.epoch)) else {
                return Err(ApiError::conflict(
                    "unknown_epoch",
                    format!(
                        "the request was tokenized for key epoch {}, which this node does not serve",
                        query.epoch
                    ),
                ));
            };
            // A case that identifies no one (or a query the federation
            // would refuse) gets an empty answer; the rest are answered.
            let Ok(record) = query.to_record() else {
                refused += 1;
                answers.push(Vec::new());
                continue;
            };
            let outcome = generation.index.search(&record, query.limit)?;
            let response = for_the_federation(
                hits_response(outcome, Instant::now()),
                worker.share_agreeing_fields,
            );
            answers.push(response.hits);
        }
        let hits: usize = answers.iter().map(Vec::len).sum();
        let note = serde_json::json!({
            "offline_request_from": poshuk_audit::short(&request.from),
            "queries": request.queries.len(),
            "refused": refused,
            "hits": hits,
        });
        let reply = OfflineReply {
            from: worker.partner_id.clone(),
            input: request.input.clone(),
            nonce: request.nonce.clone(),
            request: hex::encode(Sha256::digest(&body)),
            refused,
            answers,
        };
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&reply).unwrap_or_default());
        let sealed = poshuk_keys::letters::seal_bytes(&request.reply_to, &plain).map_err(|error| {
            ApiError::bad_request(format!(
                "the reply cannot be sealed to the request's key: {error}"
            ))
        })?;
        Ok((sealed, note))
    })
    .await?;
    let mut note = note;
    note["took_ms"] = (started.elapsed().as_millis() as u64).into();
    Ok(noted(
        note,
        Sealed {
            sealed: hex::encode(reply),
        },
    ))
}
