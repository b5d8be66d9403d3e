//! The local API's search handlers: this node alone, the federation, and
//! resolving this partner's own handles to its case ids.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use poshuk_core::{Record, SearchAdvice};
use poshuk_protocol::client::ClientError;
use poshuk_protocol::{
    FederatedResponse, FederatedSearch, Handle, LocalSearch, MAX_LIMIT, ProtocolError, RawRecord,
    Resolved, SearchResponse,
};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking, parse_json};
use crate::NodeError;
use crate::wire::{hits_response, record_from_wire};

/// Other names one query may carry (a former and an adoptive surname, a
/// maiden name, with room to spare), and words and characters in each: a
/// query keys its dates with each, so these bound its work; the scoring
/// relies on every word of an other name being keyed
/// ([`poshuk_core::features::MAX_VARIANT_WORDS`]).
pub(crate) const MAX_OTHER_NAMES: usize = 8;
const MAX_OTHER_NAME_CHARS: usize = 100;

/// Whether a query's other names are within [`MAX_OTHER_NAMES`], each of at
/// most [`poshuk_core::features::MAX_VARIANT_WORDS`] words and
/// `MAX_OTHER_NAME_CHARS` characters.
pub(crate) fn other_names_within_bounds(other_names: &[String]) -> bool {
    let words = |name: &str| {
        poshuk_core::normalize::words(&poshuk_core::normalize::fold_text(name)).count()
    };
    other_names.len() <= MAX_OTHER_NAMES
        && other_names.iter().all(|name| {
            name.chars().count() <= MAX_OTHER_NAME_CHARS
                && words(name) <= poshuk_core::features::MAX_VARIANT_WORDS
        })
}

/// The record of a search, checked: a limit in range, other names within
/// bounds and a usable field; with the years of a birth-year range when the
/// date is one (`2010-2014`, `~2012`).
pub(crate) fn query_record(raw: RawRecord, limit: usize) -> Result<(Record, Vec<u16>), ApiError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    if !other_names_within_bounds(&raw.other_names) {
        return Err(ApiError::bad_request(format!(
            "other_names: at most {MAX_OTHER_NAMES} names, each of at most {} words and \
             {MAX_OTHER_NAME_CHARS} characters (a former or adoptive surname per entry)",
            poshuk_core::features::MAX_VARIANT_WORDS
        )));
    }
    let years: Vec<u16> = poshuk_core::BirthDate::parse_year_range(&raw.birth_date)
        .map(|(first, last)| (first..=last).collect())
        .unwrap_or_default();
    let record = record_from_wire(raw);
    if !record.is_identifiable() {
        return Err(ApiError::bad_request(
            "the query has no usable field: give a name or a document number",
        ));
    }
    Ok((record, years))
}

/// `POST /local/v1/search`: this node's own records.
pub(crate) async fn local_search(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<SearchResponse>, ApiError> {
    let started = Instant::now();
    let request: LocalSearch = parse_json(&body)?;
    let (record, years) = query_record(request.record, request.limit)?;
    let worker = state.clone();
    let outcome = blocking(move || {
        worker
            .generations
            .search_newest(&record, &years, request.limit)
    })
    .await?;
    let response = hits_response(outcome, started);
    Ok(noted(
        serde_json::json!({"hits": response.hits.len()}),
        response,
    ))
}

/// `POST /local/v1/federated-search`: tokenized here, sent to the
/// coordinator as tokens, own hits resolved back to case ids here.
pub(crate) async fn federated_search(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<FederatedResponse>, ApiError> {
    let request: FederatedSearch = parse_json(&body)?;
    let (record, years) = query_record(request.record, request.limit)?;
    if request.partners.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad_request(
            "partners is empty: name at least one partner, or leave it out to search all",
        ));
    }
    let advice = match record.search_advice(!years.is_empty()) {
        Some(SearchAdvice::Thin(text)) => Some(text.to_string()),
        _ => None,
    };
    let mut answer =
        search_federation(&state, record, years, request.limit, request.partners).await?;
    answer.advice = advice;
    // Hits per partner, as the coordinator's own audit line has them.
    let per_partner: std::collections::BTreeMap<String, usize> = answer
        .partners
        .iter()
        .map(|(id, status)| (id.clone(), status.hits))
        .collect();
    let note = serde_json::json!({"partners": per_partner, "partial": answer.partial});
    Ok(noted(note, answer))
}

/// Searches the federation for a checked query record: tokenized here for
/// the epochs the federation serves, sent as tokens, own hits resolved back
/// to case ids here. Used by the local API and the staff's web page.
pub(crate) async fn search_federation(
    state: &SharedState,
    record: Record,
    years: Vec<u16>,
    limit: usize,
    partners: Option<Vec<String>>,
) -> Result<FederatedResponse, ApiError> {
    let Some(link) = state.coordinator.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_coordinator",
            "this node has no [coordinator] in its config: it cannot search the federation",
        ));
    };
    // The federation's epochs are cached for a second; an admin may retire
    // one within it. Then the coordinator refuses with `retired_epoch`, and
    // the search is tokenized once more for the epochs it now serves.
    let mut retried = false;
    let answer = loop {
        let epochs = link
            .search_epochs(state.generations.searchable_epochs())
            .await;
        let worker = state.clone();
        let (cloned_record, cloned_years) = (record.clone(), years.clone());
        let made = blocking(move || {
            Ok::<_, ApiError>(worker.generations.queries_for(
                &cloned_record,
                &cloned_years,
                &epochs,
                limit,
            ))
        })
        .await?;
        let queries = match made {
            Ok(queries) => queries,
            // A retirement drops an epoch's key a moment before its
            // generation: a search caught between asks again for the
            // epochs now served.
            Err(crate::NodeError::Keyring(_)) if !retried => {
                link.forget_epochs();
                retried = true;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        // The federation's own checks, here, before anything is sent: a
        // query that names no one, or carries more than one person's
        // tokens, is refused with what to change.
        if let Some(query) = queries.queries.first()
            && let Err(error) = query.to_record()
        {
            return Err(refusal(&record, &years, &error));
        }
        match link.federated_search(&queries, partners.as_deref()).await {
            Err(ClientError::Refused { status: 409, body })
                if body.code == "retired_epoch" && !retried =>
            {
                link.forget_epochs();
                retried = true;
            }
            outcome => break outcome.map_err(coordinator_error)?,
        }
    };
    if !answer.hits.iter().any(|hit| hit.own) {
        return Ok(answer);
    }
    let worker = state.clone();
    blocking(move || resolve_own_hits(&worker, answer)).await
}

/// A query the federation would refuse, in the searcher's words: what to
/// add to a thin one, what makes another too broad.
fn refusal(record: &Record, years: &[u16], error: &ProtocolError) -> ApiError {
    let message = match (error, record.search_advice(!years.is_empty())) {
        (ProtocolError::ThinQuery | ProtocolError::Empty, Some(SearchAdvice::Refused(text))) => {
            text.to_string()
        }
        (ProtocolError::ThinQuery | ProtocolError::Empty, _) => {
            "the query names no one the federation can search for: give the given and family name with a birth year, a place or a patronymic (words such as \"village\" alone are not a place), or a document number of at least four characters".to_string()
        }
        (other, _) => format!(
            "the query makes more tokens than one search may carry ({other}): give the full given name rather than a short form of many names (Слава, Женя), one name per field, or a narrower range of years"
        ),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "thin_query", message)
}

/// Fills in this partner's case ids for its own hits.
fn resolve_own_hits(
    state: &super::NodeState,
    mut answer: FederatedResponse,
) -> Result<FederatedResponse, NodeError> {
    for hit in answer.hits.iter_mut().filter(|hit| hit.own) {
        hit.record_id = state.generations.resolve(&hit.handle.0)?;
    }
    Ok(answer)
}

/// The fewest hex digits of a handle that are resolved as its beginning.
const MIN_HANDLE_PREFIX: usize = 12;

/// The one handle that begins with `text` (an even number of at least
/// [`MIN_HANDLE_PREFIX`] hex digits); `None` when `text` is no such prefix.
async fn resolve_prefix(state: &SharedState, text: &str) -> Result<Option<Handle>, ApiError> {
    if text.len() < MIN_HANDLE_PREFIX || text.len() >= 32 || !text.len().is_multiple_of(2) {
        return Ok(None);
    }
    let Ok(prefix) = hex::decode(text) else {
        return Ok(None);
    };
    let worker = state.clone();
    let found = blocking(move || worker.generations.handles_starting_with(&prefix, 2)).await?;
    match found.as_slice() {
        [one] => Ok(Some(Handle(*one))),
        [] => Err(ApiError::not_found(
            "no record's handle begins with these digits in this node",
        )),
        _ => Err(ApiError::conflict(
            "ambiguous_handle",
            "more than one record's handle begins with these digits: give more of them",
        )),
    }
}

/// The coordinator's failure as this node's answer: a client error keeps
/// its status and message, anything else is a bad gateway. The message names
/// the coordinator's own status.
pub(crate) fn coordinator_error(error: ClientError) -> ApiError {
    match error {
        ClientError::Refused { status, body } => {
            let passed_on = StatusCode::from_u16(status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_GATEWAY);
            // The coordinator's refusals a caller acts on keep their code.
            let code = match body.code.as_str() {
                "rate_limited" => "rate_limited",
                "quota_exceeded" => "quota_exceeded",
                "too_many_in_flight" => "too_many_in_flight",
                _ => "coordinator_error",
            };
            ApiError::new(
                passed_on,
                code,
                format!("the coordinator answered {status}: {}", body.message),
            )
        }
        ClientError::Unreachable(_)
        | ClientError::TimedOut
        | ClientError::Other(_)
        | ClientError::Unsignable
        | ClientError::Disconnected => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "coordinator_unreachable",
            format!("the coordinator cannot be reached or did not answer: {error}"),
        ),
        ClientError::BadAnswer(_) | ClientError::TooLarge => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "coordinator_error",
            format!("the coordinator's answer is unusable: {error}"),
        ),
    }
}

/// `GET /local/v1/resolve/{handle}`.
pub(crate) async fn resolve(
    State(state): State<SharedState>,
    Path(handle): Path<String>,
) -> Result<Json<Resolved>, ApiError> {
    let handle: Handle = match handle.parse() {
        Ok(handle) => handle,
        Err(error) => resolve_prefix(&state, &handle).await?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "{error}, or its first {MIN_HANDLE_PREFIX}+ hex digits"
            ))
        })?,
    };
    let worker = state.clone();
    match blocking(move || worker.generations.resolve(&handle.0)).await? {
        Some(record_id) => Ok(Json(Resolved { handle, record_id })),
        None => Err(ApiError::not_found(
            "no record has this handle in this node",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_other_names(names: &[&str]) -> RawRecord {
        RawRecord {
            given_name: "Андрій".into(),
            family_name: "Снігурак".into(),
            birth_date: "2016".into(),
            other_names: names.iter().map(|name| name.to_string()).collect(),
            ..RawRecord::default()
        }
    }

    /// Every other name keys the query's dates: their number and length
    /// are bounded before any work, with a 400 that says the bounds.
    #[test]
    fn other_names_are_bounded_before_any_work() {
        assert!(query_record(with_other_names(&["Хомський", "Петро Хомський"]), 10).is_ok());
        let many = vec!["Хомський"; MAX_OTHER_NAMES + 1];
        let long = "Х".repeat(MAX_OTHER_NAME_CHARS + 1);
        for refused in [
            with_other_names(&many),
            with_other_names(&[long.as_str()]),
            with_other_names(&["Хомський Петро Іванович Ковальчук Шевчук"]),
        ] {
            let error = query_record(refused, 10).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains("other_names"), "{}", error.message);
        }
    }
}
