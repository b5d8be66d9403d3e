//! The federation API's handlers: what the coordinator calls.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use poshuk_core::Epoch;
use poshuk_protocol::routes;
use poshuk_protocol::signed::{COORDINATOR_KEY_ID, SignatureError};
use poshuk_protocol::{NodeRetire, NodeStatus, SearchResponse, TokenQuery};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking, parse_json};
use crate::metrics::Api;
use crate::wire::{for_the_federation, hits_response};

/// The federation API's gate, before any handler reads a body: every route
/// but the probes needs a request signed by the coordinator (key id
/// `coordinator`, the `[federation] token` as secret; see
/// [`poshuk_protocol::signed`]), fresh and never seen before. A node with no
/// `[federation] token` answers nothing but the probes.
pub(crate) async fn check_federation_request(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path == routes::LIVEZ || path == routes::READYZ {
        return next.run(request).await;
    }
    let Some(expected) = &state.federation_token else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this node has no [federation] token in its config: it answers no federation request",
        )
        .into_response();
    };
    // Over mutual TLS, only the coordinator's certificate: a partner's
    // node holding a leaked coordinator token still cannot search this node
    // directly.
    let peer = poshuk_tls::PeerParty::of(&request);
    let verified = poshuk_tls::verify_signed_request(
        request,
        |key_id| (key_id == COORDINATOR_KEY_ID).then_some(expected.as_bytes()),
        |_| peer.may_sign_as(COORDINATOR_KEY_ID),
        &state.replays,
    );
    match verified {
        Ok((_, request)) => next.run(request).await,
        Err(SignatureError::WrongParty) => {
            state.audit.log.failed_authentication(&path);
            ApiError::new(
                StatusCode::FORBIDDEN,
                "certificate_mismatch",
                "this node answers only the coordinator's certificate",
            )
            .into_response()
        }
        Err(SignatureError::TooManyNonces) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many",
            SignatureError::TooManyNonces.to_string(),
        )
        .into_response(),
        Err(error) => {
            state.audit.log.failed_authentication(&path);
            // Who else could sign: the message says only why, not whom the
            // node expects.
            let code = if error == SignatureError::Replayed {
                "replayed"
            } else {
                "unauthorized"
            };
            let message = format!("this node answers only its federation's coordinator: {error}");
            ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response()
        }
    }
}

/// `POST /v1/search`: a token query in the epoch this node serves.
pub(crate) async fn search(
    State(state): State<SharedState>,
    signed: Option<axum::Extension<poshuk_tls::SignedBody>>,
    body: Bytes,
) -> Result<Noted<SearchResponse>, ApiError> {
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
    let outcome = blocking(move || generation.index.search(&record, limit)).await;
    state
        .metrics
        .observe_search(started.elapsed().as_secs_f64(), outcome.is_ok());
    let response = for_the_federation(
        hits_response(outcome?, started),
        state.share_agreeing_fields,
    );
    let note = serde_json::json!({
        // Keyed from the signed digest: the body is not hashed twice.
        "query": match signed {
            Some(axum::Extension(digest)) => state.audit.log.fingerprint(&digest.0),
            None => state.audit.log.fingerprint(&body),
        },
        "epoch": query.epoch,
        "hits": response.hits.len(),
    });
    Ok(noted(note, response))
}

fn epochs_text(epochs: &[Epoch]) -> String {
    epochs
        .iter()
        .map(|epoch| epoch.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(serde::Deserialize)]
pub(crate) struct RecipientQuery {
    pseudonym: String,
}

/// `GET /v1/recipient?pseudonym=` (from the coordinator): the key this
/// node receives letters under for one pseudonym of an anonymous partner,
/// derived from its identity (nothing is stored per pseudonym).
pub(crate) async fn recipient(
    State(state): State<SharedState>,
    axum::extract::Query(query): axum::extract::Query<RecipientQuery>,
) -> Result<Json<poshuk_protocol::contacts::Recipient>, ApiError> {
    if !query.pseudonym.starts_with("anon-") || query.pseudonym.len() > 512 {
        return Err(ApiError::bad_request("not a pseudonym"));
    }
    let worker = state.clone();
    let identity = blocking(move || worker.load_identity()).await?;
    let derived = poshuk_keys::letters::pseudonymous_identity(&identity, &query.pseudonym)
        .and_then(|derived| poshuk_keys::letters::public_key_of(&derived))
        .map_err(|error| ApiError::conflict("no_identity", error.to_string()))?;
    Ok(Json(poshuk_protocol::contacts::Recipient {
        public_key: derived,
    }))
}

/// `GET /v1/status` and `/local/v1/status`.
pub(crate) async fn status(State(state): State<SharedState>) -> Json<NodeStatus> {
    Json(state.status())
}

/// `GET /metrics` on the federation API: the federation's series only.
pub(crate) async fn metrics(State(state): State<SharedState>) -> Response {
    render_metrics(state, Api::Federation).await
}

/// `GET /metrics` on the local API: every series, the staff's activity too.
pub(crate) async fn local_metrics(State(state): State<SharedState>) -> Response {
    render_metrics(state, Api::Local).await
}

async fn render_metrics(state: SharedState, api: Api) -> Response {
    let text = tokio::task::spawn_blocking(move || state.render_metrics(api))
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// `POST /v1/retire` (from the coordinator): drop the generations of an
/// epoch and every older one.
pub(crate) async fn retire(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<NodeStatus>, ApiError> {
    // The gate has checked the coordinator's token (a node without one
    // answers nothing here): dropping a generation cannot be undone.
    let request: NodeRetire = parse_json(&body)?;
    let worker = state.clone();
    blocking(move || worker.generations.retire(Epoch(request.epoch))).await?;
    Ok(noted(
        serde_json::json!({"epoch": request.epoch}),
        state.status(),
    ))
}

/// `GET /livez`: the process answers.
pub(crate) async fn livez() -> &'static str {
    "ok"
}

/// `GET /readyz`: ready to serve searches: the index open with a key epoch
/// served (so the keyring is loaded), no tokens of another tokenizer
/// version, and the coordinator reachable when this node has one (a node
/// that cannot reach it answers the federation but its staff cannot search).
pub(crate) async fn readyz(State(state): State<SharedState>) -> Result<&'static str, ApiError> {
    let not_ready = |message: &'static str| {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            message,
        ))
    };
    if state.generations.newest().is_err() || state.generations.served_epochs().is_empty() {
        return not_ready("the node serves no index generation yet");
    }
    if state.generations.oldest_tokenizer_version() != poshuk_core::TOKENIZER_VERSION {
        return not_ready(
            "the index holds tokens of another tokenizer version: load the export again with `poshuk ingest --replace`",
        );
    }
    if let Some(link) = state.coordinator.as_ref() {
        if !link.searchable_through() {
            return not_ready("the connection to the coordinator is not open");
        }
        if !link.reachable().await {
            return not_ready("the coordinator cannot be reached");
        }
    }
    Ok("ok")
}
