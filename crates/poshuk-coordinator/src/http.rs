//! The coordinator's HTTP API: thin handlers that authenticate the caller
//! (a partner's token, or the admin's), parse, call one method of
//! [`Coordinator`] and answer; errors are mapped to statuses in one place.
//!
//! One gate ([`check_credential`]) runs before every handler, so before any
//! body is read: every route but the probes needs a partner's token or the
//! admin's (the partner list holds contacts; the federation status calls
//! every node). Each route also bounds its own body.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use poshuk_protocol::routes::{self, coordinator as route};
use poshuk_protocol::{
    EpochQueries, ErrorBody, ErrorKind, FederatedResponse, FederationEpochs, FederationKeys,
    PartnerInfo, RetireRequest,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::keys::KeysError;
use crate::{Coordinator, PartnerConfig, Permission};

type Shared = Arc<Coordinator>;

/// An error response.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    fn too_many(refusal: crate::limits::Refusal) -> ApiError {
        let seconds = refusal.retry_after();
        let message = match refusal {
            crate::limits::Refusal::Rate { .. } => format!(
                "this partner's searches per minute are used: retry in {seconds} s"
            ),
            crate::limits::Refusal::Quota { .. } => "this partner's searches for today (UTC) are used: retry tomorrow, or ask the federation's operator to raise the quota for an agreed overlap run".to_string(),
            crate::limits::Refusal::Busy => format!(
                "this partner has as many searches in flight as it may: retry in {seconds} s, when one has finished"
            ),
        };
        ApiError {
            retry_after: Some(refusal.retry_after()),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, refusal.code(), message)
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            code: self.code.to_string(),
            kind: ErrorKind::of_status(self.status.as_u16()),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<KeysError> for ApiError {
    fn from(error: KeysError) -> ApiError {
        let (status, code) = match &error {
            KeysError::UnknownPartner(_) => (StatusCode::NOT_FOUND, "unknown_partner"),
            KeysError::UnknownExcluded(_) => (StatusCode::BAD_REQUEST, "unknown_partner"),
            KeysError::NotReady { .. } => (StatusCode::CONFLICT, "not_ready"),
            KeysError::Suspended(_) => (StatusCode::FORBIDDEN, "suspended"),
            KeysError::NoKeyForSuspended(_) => (StatusCode::CONFLICT, "suspended"),
            KeysError::NotSealed(_) => (StatusCode::BAD_REQUEST, "not_sealed"),
            KeysError::Mismatch(_) => (StatusCode::BAD_REQUEST, "mismatch"),
            KeysError::NoSealedKey { .. } => (StatusCode::NOT_FOUND, "no_sealed_key"),
            KeysError::State(_) | KeysError::SealedFile(_) | KeysError::Poisoned => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        // Masked like the node's: a message never repeats what a request carried.
        let message = poshuk_protocol::error::mask_quoted(&error.to_string());
        ApiError::bad_request("bad_request", format!("malformed request body: {message}"))
    })
}

/// Who signed a request, as the gate proved it.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// A partner (its node or its tools), by id.
    Partner(String),
    /// The federation's key admin.
    Admin,
}

/// The partner who signed, allowed to search and not suspended.
fn searching_partner(
    coordinator: &Coordinator,
    caller: &Caller,
) -> Result<PartnerConfig, ApiError> {
    let partner = known_partner(coordinator, caller)?;
    if !partner.permissions.contains(&Permission::Search) {
        let message = format!("partner `{}` may not search", partner.id);
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", message));
    }
    if coordinator.is_suspended(&partner.id) {
        return Err(KeysError::Suspended(partner.id).into());
    }
    Ok(partner)
}

/// The partner who signed.
fn known_partner(coordinator: &Coordinator, caller: &Caller) -> Result<PartnerConfig, ApiError> {
    let partner = match caller {
        Caller::Partner(id) => coordinator.config.partners.iter().find(|p| &p.id == id),
        Caller::Admin => None,
    };
    partner.cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route is for partners: sign with your partner id and token",
        )
    })
}

/// Only the federation's key admin.
fn admin(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Admin => Ok(()),
        Caller::Partner(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "key administration needs the coordinator's admin token (key id `admin`)",
        )),
    }
}

/// `?partners=a,b` restricts the fan-out to those partners.
#[derive(Deserialize)]
struct SearchParameters {
    partners: Option<String>,
}

/// `POST /v1/federated-search`: the partner is admitted (rate, daily quota,
/// searches in flight) before its body is read.
async fn federated_search(
    State(coordinator): State<Shared>,
    Query(parameters): Query<SearchParameters>,
    request: axum::extract::Request,
) -> Result<Json<FederatedResponse>, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no signed caller")
        })?;
    let requester = searching_partner(&coordinator, &caller)?;
    let digest = request
        .extensions()
        .get::<poshuk_tls::SignedBody>()
        .copied();
    let (_in_flight, admitted) = coordinator
        .admission
        .admit(&requester, &coordinator.config.limits)
        .map_err(|refusal| {
            coordinator
                .metrics
                .count_refused(&requester.id, refusal.code());
            tracing::warn!(partner = %requester.id, reason = refusal.code(), "search refused");
            ApiError::too_many(refusal)
        })?;
    // With replicas, the minute's and the day's counts are the federation's.
    if let Some(shared) = coordinator.shared.as_ref() {
        let limits = &coordinator.config.limits;
        shared
            .admit(
                &requester.id,
                requester
                    .searches_per_minute
                    .unwrap_or(limits.searches_per_minute),
                requester
                    .searches_per_day
                    .unwrap_or(limits.searches_per_day),
            )
            .await
            .map_err(|error| {
                tracing::error!(error = %error, "the shared search counts cannot be read: the search is refused");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the coordinators' database cannot be reached; retry shortly",
                )
            })?
            .map_err(|refusal| {
                coordinator
                    .metrics
                    .count_refused(&requester.id, refusal.code());
                ApiError::too_many(refusal)
            })?;
    }
    if admitted.alert {
        coordinator.metrics.count_alert(&requester.id);
        tracing::warn!(
            partner = %requester.id,
            share = coordinator.config.limits.alert_share,
            "a partner reached the alert share of its daily search quota: unusual volume"
        );
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_SEARCH_BODY)
        .await
        .map_err(|error| {
            if poshuk_tls::is_body_mismatch(&error) {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_signature",
                    "the request body is not the one signed",
                )
            } else {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("a search body is at most {MAX_SEARCH_BODY} bytes"),
                )
            }
        })?;
    let queries: EpochQueries = parse_json(&body)?;
    coordinator.check_queries(&queries)?;
    let only = parameters.partners.map(|names| {
        names
            .split(',')
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>()
    });
    if let Some(names) = &only {
        coordinator.check_partner_names(names)?;
    }
    // Keyed from the signed digest (the gate always gives one): the body
    // is not hashed twice.
    let fingerprint = match digest {
        Some(digest) => coordinator.audit.fingerprint(&digest.0),
        None => coordinator.audit.fingerprint(&body),
    };
    let response = coordinator
        .search(&requester, queries, only.as_deref(), &fingerprint)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "the audit log cannot be written: the search is not answered");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                "the coordinator cannot write its audit log: no search is served unaudited; tell the federation's operator",
            )
        })?;
    Ok(Json(response))
}

impl Coordinator {
    /// A searcher's queries, checked: at least one, every one well formed,
    /// and not all in retired epochs.
    fn check_queries(&self, queries: &EpochQueries) -> Result<(), ApiError> {
        if queries.queries.is_empty() {
            return Err(ApiError::bad_request(
                "bad_request",
                "the request holds no query",
            ));
        }
        // One query per key epoch: a node answers the one in the epoch it
        // serves, and a second query for the same epoch would be a second
        // search for the price of one.
        let mut epochs = std::collections::BTreeSet::new();
        for query in &queries.queries {
            if !epochs.insert(query.epoch) {
                return Err(ApiError::bad_request(
                    "bad_request",
                    format!(
                        "two queries for key epoch {}: a search carries one query per epoch",
                        query.epoch
                    ),
                ));
            }
            query
                .to_record()
                .map_err(|error| ApiError::bad_request("bad_request", error.to_string()))?;
        }
        if queries
            .queries
            .iter()
            .all(|query| self.is_retired(query.epoch))
        {
            let epochs: Vec<u32> = queries.queries.iter().map(|query| query.epoch).collect();
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "retired_epoch",
                format!(
                    "key epoch {epochs:?} is retired: this node needs the current epoch's key (ask the federation's admin)"
                ),
            ));
        }
        Ok(())
    }

    fn check_partner_names(&self, names: &[String]) -> Result<(), ApiError> {
        if names.is_empty() {
            return Err(ApiError::bad_request(
                "bad_request",
                "partners is empty: name at least one partner, or leave it out to search all",
            ));
        }
        // An anonymous partner cannot be named: a search restricted to it
        // would tie its pseudonym to its id. Nor is it listed as known.
        let known: Vec<&str> = self
            .config
            .partners
            .iter()
            .filter(|partner| !partner.anonymous)
            .map(|partner| partner.id.as_str())
            .collect();
        match names.iter().find(|name| !known.contains(&name.as_str())) {
            Some(unknown) => Err(ApiError::bad_request(
                "unknown_partner",
                format!("unknown partner `{unknown}` (known: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

/// `GET /v1/partners`: who is in the federation and how to reach them.
async fn partners(State(coordinator): State<Shared>) -> Json<Vec<PartnerInfo>> {
    // Anonymous partners are listed to no one.
    let partners = coordinator
        .config
        .partners
        .iter()
        .filter(|partner| !partner.anonymous)
        .map(|partner| PartnerInfo {
            id: partner.id.clone(),
            name: partner.name.clone(),
            contact: partner.contact.clone(),
            public_key: partner.public_key.clone(),
        });
    Json(partners.collect())
}

/// `GET /v1/federation/status`: every node's status as last polled.
async fn federation_status(
    State(coordinator): State<Shared>,
) -> Json<BTreeMap<String, serde_json::Value>> {
    // As last polled (every `status_interval_ms`), not asked now: a caller
    // must not be able to make the coordinator call every node per request.
    let views = coordinator
        .views
        .read()
        .map(|views| views.clone())
        .unwrap_or_default();
    let statuses = coordinator.config.partners.iter().filter(|partner| !partner.anonymous).map(|partner| {
        let view = match views.get(&partner.id).cloned().flatten() {
            Some(status) => serde_json::json!({"status": "ok", "epochs": status.epochs, "records": status.records, "version": status.version}),
            None => serde_json::json!({"status": "unavailable"}),
        };
        (partner.id.clone(), view)
    });
    Json(statuses.collect())
}

/// `GET /v1/epochs`: the epochs a search should be tokenized for.
async fn epochs(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<FederationEpochs>, ApiError> {
    known_partner(&coordinator, &caller)?;
    Ok(Json(coordinator.live_epochs()))
}

#[derive(Deserialize)]
struct SealedQuery {
    epoch: Option<u32>,
}

/// `GET /v1/keys/sealed[?epoch=N]`: a partner's node fetches its own sealed
/// key file (the newest waiting, or epoch N). Only its own: the partner is
/// known by its token.
async fn fetch_sealed(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<SealedQuery>,
) -> Result<Response, ApiError> {
    let partner = known_partner(&coordinator, &caller)?;
    let bytes = coordinator.sealed_for(&partner.id, query.epoch).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// `GET /v1/admin/keys`: which node serves which epochs, re-key progress.
async fn admin_keys(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<FederationKeys>, ApiError> {
    admin(&caller)?;
    Ok(Json(coordinator.federation_keys().await))
}

/// `POST /v1/admin/retire`.
async fn admin_retire(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<FederationKeys>, ApiError> {
    admin(&caller)?;
    let request: RetireRequest = parse_json(&body)?;
    Ok(Json(coordinator.retire(&request).await?))
}

/// `PUT /v1/admin/sealed/{partner}/{epoch}`: the admin leaves a sealed key
/// file for a partner's node to fetch.
async fn admin_upload_sealed(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((partner_id, epoch)): Path<(String, u32)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    admin(&caller)?;
    coordinator.store_sealed(&partner_id, epoch, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<crate::contacts::ContactError> for ApiError {
    fn from(error: crate::contacts::ContactError) -> ApiError {
        use crate::contacts::ContactError;
        let (status, code) = match &error {
            ContactError::UnknownPartner(_) => (StatusCode::BAD_REQUEST, "unknown_partner"),
            ContactError::ToSelf | ContactError::BadLetter(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            ContactError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_contacts"),
            ContactError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ContactError::Answered => (StatusCode::CONFLICT, "answered"),
            ContactError::Database(_) | ContactError::Shared(_) | ContactError::Poisoned => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::new(status, code, error.to_string())
    }
}

/// Writes a contact step's audit line, synced: a step not audited is not
/// done.
fn audit_contact(coordinator: &Coordinator, entry: serde_json::Value) -> Result<(), ApiError> {
    coordinator.audit.append_durable(entry).map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            "the coordinator cannot write its audit log; retry later",
        )
    })
}

/// `POST /v1/contacts`: a partner asks the owner of a hit to get in touch;
/// the message is sealed to the owner.
async fn create_contact(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let partner = known_partner(&coordinator, &caller)?;
    if partner.anonymous {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "anonymous",
            "an anonymous partner sends no contact request through the federation: it would carry its name; it answers the requests made to it",
        ));
    }
    let request: poshuk_protocol::NewContact = parse_json(&body)?;
    let to = request.to.clone();
    // A pseudonym is known when it stands for an anonymous partner; the
    // operator's audit line names that partner.
    let owner = coordinator.owner_of(&to);
    let known = |id: &str| coordinator.owner_of(id).is_some();
    let id = coordinator
        .contacts
        .create(&partner.id, known, request)
        .await?;
    audit_contact(
        &coordinator,
        serde_json::json!({"event": "contact_request", "from": partner.id, "to": owner.unwrap_or(to), "id": id}),
    )?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))))
}

#[derive(Deserialize)]
struct RecipientQuery {
    to: String,
}

/// `GET /v1/contacts/recipient?to=`: the key to seal a contact request to a
/// partner, or to the pseudonym an anonymous partner's hit came under (its
/// node makes a key for that pseudonym alone).
async fn contact_recipient(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<RecipientQuery>,
) -> Result<Json<poshuk_protocol::contacts::Recipient>, ApiError> {
    let asker = known_partner(&coordinator, &caller)?;
    if !coordinator.count_recipient_lookup(&asker.id) {
        return Err(ApiError {
            retry_after: Some(3600),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many",
                "this partner asked for contact keys too often today: retry tomorrow",
            )
        });
    }
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_partner",
            "no partner of the federation can be written to under that name",
        )
    };
    let owner_id = coordinator.owner_of(&query.to).ok_or_else(not_found)?;
    let owner = coordinator
        .config
        .partners
        .iter()
        .find(|partner| partner.id == owner_id)
        .ok_or_else(not_found)?;
    if !owner.anonymous {
        let public_key = owner.public_key.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_public_key",
                format!(
                    "partner `{}` has no public key in the coordinator's config",
                    owner.id
                ),
            )
        })?;
        return Ok(Json(poshuk_protocol::contacts::Recipient { public_key }));
    }
    let node = coordinator.node(owner).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "that partner cannot be reached now; retry later",
        )
    })?;
    match node.node_recipient(&query.to).await {
        Ok(public_key) => Ok(Json(poshuk_protocol::contacts::Recipient { public_key })),
        Err(error) => {
            tracing::warn!(partner = %owner.id, error = %error, "an anonymous partner's node gave no key");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "that partner cannot be reached now; retry later",
            ))
        }
    }
}

/// `GET /v1/contacts`: the requests this partner sent or received.
async fn list_contacts(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<poshuk_protocol::ContactList>, ApiError> {
    let partner = known_partner(&coordinator, &caller)?;
    let mut requests = coordinator.contacts.list(&partner.id).await?;
    if partner.anonymous {
        // Those made to its pseudonyms, each with its own handle of the
        // record (the requester saw a disguised one).
        let own = coordinator
            .contacts
            .list_pseudonymous()
            .await?
            .into_iter()
            .filter(|request| {
                coordinator.pseudonyms.partner_of(&request.to).as_deref() == Some(&partner.id)
            })
            .map(|mut request| {
                request.record = Some(coordinator.pseudonyms.unalias(&request.to, &request.handle));
                request
            });
        requests.extend(own);
        requests.sort_by_key(|request| std::cmp::Reverse(request.created_ms));
    }
    Ok(Json(poshuk_protocol::ContactList { requests }))
}

/// `POST /v1/contacts/{id}/answer`: the owner accepts (with a sealed reply)
/// or declines.
async fn answer_contact(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let partner = known_partner(&coordinator, &caller)?;
    let answer: poshuk_protocol::ContactAnswer = parse_json(&body)?;
    let accept = answer.accept;
    // An anonymous partner answers as the pseudonym the request was made
    // to, which must be its own.
    let receiver = match answer.as_pseudonym.as_deref() {
        Some(pseudonym)
            if coordinator.pseudonyms.partner_of(pseudonym).as_deref() == Some(&partner.id) =>
        {
            pseudonym.to_string()
        }
        Some(_) => return Err(crate::contacts::ContactError::NotFound.into()),
        None => partner.id.clone(),
    };
    let sender = coordinator.contacts.answer(&receiver, &id, answer).await?;
    audit_contact(
        &coordinator,
        serde_json::json!({"event": "contact_answer", "from": partner.id, "to": sender, "id": id, "accepted": accept}),
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /readyz`: the coordinator can do its work (its database answers).
async fn readyz(State(coordinator): State<Shared>) -> Result<&'static str, ApiError> {
    coordinator
        .ready()
        .await
        .map(|()| "ok")
        .map_err(|message| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message))
}

/// The probes' plain listener (`health_listen`): `/livez` and `/readyz`
/// only, nothing that needs a credential.
pub(crate) fn health_router(coordinator: Shared) -> Router {
    Router::new()
        .route(routes::LIVEZ, get(|| async { "ok" }))
        .route(routes::READYZ, get(readyz))
        .with_state(coordinator)
}

/// `GET /metrics`: OpenMetrics text, for the federation's admin (the
/// operator's monitoring): it is labelled by partner, anonymous ones too.
async fn metrics(
    State(coordinator): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    admin(&caller)?;
    let text = coordinator.metrics.render();
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// The largest search body: a query's tokens are bounded per slot
/// (`poshuk_protocol::max_tokens`), at most about 430 KB in hex for one epoch
/// (four words of each name, their variants and the family variants'
/// years); up to four epochs during rotations, with room.
const MAX_SEARCH_BODY: usize = 2 * 1024 * 1024;
/// The largest sealed key file an admin uploads (a keyring entry sealed to
/// one recipient is a few hundred bytes).
const MAX_SEALED_BODY: usize = 64 * 1024;
/// The largest contact request or answer: a sealed letter in hex, with room.
const MAX_CONTACT_BODY: usize = 2 * poshuk_protocol::contacts::MAX_SEALED_LETTER + 4096;
/// The largest of the small JSON bodies (a retirement).
const MAX_SMALL_BODY: usize = 16 * 1024;

/// The gate: a request signed by a partner or the admin
/// ([`poshuk_protocol::signed`]), checked from the headers before any
/// handler reads a body; the body is then checked against the signature as
/// it is read. The probes need none.
async fn check_credential(
    State(coordinator): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path == routes::LIVEZ || path == routes::READYZ {
        return next.run(request).await;
    }
    // Over mutual TLS, the certificate's party must be the one who signed:
    // a partner's stolen token is no use from another partner's host, nor
    // from a host without a certificate.
    let peer = poshuk_tls::PeerParty::of(&request);
    let verified = poshuk_tls::verify_signed_request(
        request,
        |key_id| coordinator.secret_of(key_id),
        |key_id| peer.may_sign_as(key_id),
        &coordinator.replays,
    );
    match verified {
        Ok((key_id, mut request)) => {
            // With replicas, a nonce must be new to all of them: a request
            // replayed to another replica is a replay too.
            if let Some(shared) = coordinator.shared.as_ref() {
                let nonce = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| poshuk_protocol::signed::SignedHeader::parse(value).ok())
                    .map(|signed| signed.nonce_hex())
                    .unwrap_or_default();
                match shared.fresh_nonce(&key_id, &nonce).await {
                    Ok(true) => {}
                    Ok(false) => {
                        coordinator.metrics.count_unauthorized();
                        return signature_refused(
                            &poshuk_protocol::signed::SignatureError::Replayed,
                        )
                        .into_response();
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "cannot check a nonce with the other replicas");
                        return ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "unavailable",
                            "the coordinators' database cannot be reached; retry shortly",
                        )
                        .into_response();
                    }
                }
            }
            let caller = if key_id == poshuk_protocol::signed::ADMIN_KEY_ID {
                Caller::Admin
            } else {
                Caller::Partner(key_id)
            };
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => {
            coordinator.metrics.count_unauthorized();
            coordinator.audit.failed_authentication(&path);
            signature_refused(&error).into_response()
        }
    }
}

/// The answer to a request whose signature is refused: 429 when the key
/// has too many requests in the replay window, 401 otherwise.
pub(crate) fn signature_refused(error: &poshuk_protocol::signed::SignatureError) -> ApiError {
    use poshuk_protocol::signed::SignatureError;
    match error {
        SignatureError::TooManyNonces => ApiError {
            retry_after: Some(60),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many", error.to_string())
        },
        SignatureError::Replayed => {
            ApiError::new(StatusCode::UNAUTHORIZED, "replayed", error.to_string())
        }
        SignatureError::WrongParty => ApiError::new(
            StatusCode::FORBIDDEN,
            "certificate_mismatch",
            error.to_string(),
        ),
        _ => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", error.to_string()),
    }
}

/// The coordinator's router.
pub fn router(coordinator: Shared) -> Router {
    Router::new()
        .route(route::FEDERATED_SEARCH, post(federated_search))
        .route(route::PARTNERS, get(partners))
        .route(route::FEDERATION_STATUS, get(federation_status))
        .route(route::EPOCHS, get(epochs))
        .route(route::SEALED_KEY, get(fetch_sealed))
        .route(route::ADMIN_KEYS, get(admin_keys))
        .route(route::TUNNEL, get(crate::tunnel::open))
        .route(route::CONTACT_RECIPIENT, get(contact_recipient))
        .route(
            route::CONTACTS,
            post(create_contact)
                .get(list_contacts)
                .layer(DefaultBodyLimit::max(MAX_CONTACT_BODY)),
        )
        .route(
            route::CONTACT_ANSWER,
            post(answer_contact).layer(DefaultBodyLimit::max(MAX_CONTACT_BODY)),
        )
        .route(
            route::ADMIN_RETIRE,
            post(admin_retire).layer(DefaultBodyLimit::max(MAX_SMALL_BODY)),
        )
        .route(
            route::ADMIN_SEALED,
            put(admin_upload_sealed).layer(DefaultBodyLimit::max(MAX_SEALED_BODY)),
        )
        .route(routes::LIVEZ, get(|| async { "ok" }))
        .route(routes::READYZ, get(readyz))
        .route(routes::METRICS, get(metrics))
        .layer(DefaultBodyLimit::max(MAX_SMALL_BODY))
        .layer(axum::middleware::from_fn_with_state(
            coordinator.clone(),
            check_credential,
        ))
        .with_state(coordinator)
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "overloaded",
                            "the coordinator is at its request limit; retry shortly",
                        )
                    },
                ))
                .load_shed()
                .concurrency_limit(MAX_CONCURRENT_REQUESTS)
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                )),
        )
}

/// Requests handled at once; more are shed with 503 (each partner also has
/// its own cap on searches in flight, so one cannot take them all).
const MAX_CONCURRENT_REQUESTS: usize = 256;
/// The longest a request may take (a search's overall deadline is 3 s by
/// default; a retirement waits for every node).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
