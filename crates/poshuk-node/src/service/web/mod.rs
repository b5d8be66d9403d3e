//! The staff's web page, served by the node on its local listener under
//! `/ui/`: log in, search the federation in any script, review hits, ask
//! another partner for contact and answer such requests, see the node's
//! overview. Server-rendered HTML ([`pages`]) with no script at all; every
//! asset is served by the node itself.
//!
//! Doors: a staff account (argon2 password hash in `node.db`) and a session
//! cookie (`HttpOnly`, `Secure`, `SameSite=Strict`, the token kept only as
//! its hash), or the operator's single sign-on header together with the
//! node's local credential. Every form carries the session's CSRF token and
//! a POST from another origin is refused. A loopback `Host` is required, as
//! on the local API. Every page answers with a Content-Security-Policy that
//! allows the node's own stylesheet and nothing else, and `no-store`.

mod contacts;
mod i18n;
mod overlap;
mod overview;
mod pages;
mod search;
mod session;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use poshuk_protocol::FederatedResponse;

pub(crate) use i18n::{Lang, Text};
pub(crate) use session::{Staff, hash_password};

use super::SharedState;
use crate::config::WebConfig;
use crate::store::Store;

/// The page's state: the node's database and what searches staff made in
/// the last hour (kept in memory only: they hold the query's raw fields).
pub struct Web {
    pub(crate) store: Store,
    pub(crate) config: WebConfig,
    searches: Mutex<HashMap<String, SavedSearch>>,
    logins: session::LoginThrottle,
    /// A per-process key for the CSRF tokens of single sign-on requests
    /// (which have no session).
    sso_key: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Web")
    }
}

impl Web {
    /// The page over an opened store.
    pub fn new(store: Store, config: WebConfig) -> Web {
        // A run the last process did not finish will not be finished.
        let _ = store.interrupt_overlaps();
        let mut sso_key = zeroize::Zeroizing::new([0u8; 32]);
        // Without randomness the key stays zero: single sign-on forms then
        // carry a guessable token, so the page refuses them (see session).
        let _ = getrandom::fill(sso_key.as_mut());
        Web {
            store,
            config,
            searches: Mutex::new(HashMap::new()),
            logins: session::LoginThrottle::default(),
            sso_key,
        }
    }
}

/// A search a staff member made, kept an hour so that its results can be
/// shown again (after a review, in a second tab) without searching again.
#[derive(Clone)]
pub(crate) struct SavedSearch {
    pub(crate) staff: String,
    pub(crate) made: Instant,
    pub(crate) form: search::SearchForm,
    pub(crate) answer: FederatedResponse,
}

/// How long a search's results are kept.
const SEARCH_KEPT: Duration = Duration::from_secs(3600);
/// Searches kept at most, over all staff (the oldest go first).
const SEARCHES_KEPT: usize = 500;

impl Web {
    /// Keeps a search; its id.
    pub(crate) fn save_search(&self, search: SavedSearch) -> String {
        let id = random_hex(16);
        if let Ok(mut searches) = self.searches.lock() {
            searches.retain(|_, kept| kept.made.elapsed() < SEARCH_KEPT);
            while searches.len() >= SEARCHES_KEPT {
                let Some(oldest) = searches
                    .iter()
                    .min_by_key(|(_, kept)| kept.made)
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                searches.remove(&oldest);
            }
            searches.insert(id.clone(), search);
        }
        id
    }

    /// A kept search, only for the staff member who made it.
    pub(crate) fn saved_search(&self, id: &str, staff: &str) -> Option<SavedSearch> {
        let searches = self.searches.lock().ok()?;
        searches
            .get(id)
            .filter(|kept| kept.staff == staff && kept.made.elapsed() < SEARCH_KEPT)
            .cloned()
    }
}

/// Random bytes as hex (for ids and tokens).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    if getrandom::fill(&mut buffer).is_err() {
        // No randomness: ids would be guessable. Fail closed (the caller's
        // token matches nothing it could be given).
        return String::new();
    }
    hex::encode(buffer)
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// The page's paths.
pub(crate) mod paths {
    pub(crate) const HOME: &str = "/ui/";
    pub(crate) const LOGIN: &str = "/ui/login";
    pub(crate) const LOGOUT: &str = "/ui/logout";
    pub(crate) const LANG: &str = "/ui/lang";
    pub(crate) const STYLE: &str = "/ui/static/style.css";
    pub(crate) const SEARCH: &str = "/ui/search";
    pub(crate) const SEARCH_RESULT: &str = "/ui/search/{id}";
    pub(crate) const REVIEW: &str = "/ui/review";
    pub(crate) const RECORD: &str = "/ui/record/{handle}";
    pub(crate) const CONTACT_NEW: &str = "/ui/contact/new";
    pub(crate) const CONTACTS: &str = "/ui/contacts";
    pub(crate) const CONTACT: &str = "/ui/contacts/{id}";
    pub(crate) const CONTACT_ANSWER: &str = "/ui/contacts/{id}/answer";
    pub(crate) const OVERLAP: &str = "/ui/overlap";
    pub(crate) const OVERLAP_REPORT: &str = "/ui/overlap/report.xlsx";
}

/// The largest form the page takes (a message of 2,000 characters in any
/// script is under 25 KB encoded). A larger one is answered with a page
/// that says so.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The page's router (merged into the local listener's), under the same
/// load shedding, concurrency limit and timeout as the local API.
pub fn router(state: SharedState, limits: &crate::config::Limits) -> Router {
    let routes = Router::new()
        .route("/", get(|| async { Redirect::to(paths::HOME) }))
        .route("/ui", get(|| async { Redirect::to(paths::HOME) }))
        .route(paths::HOME, get(overview::overview))
        .route(paths::LOGIN, get(session::login_page).post(session::login))
        .route(paths::LOGOUT, post(session::logout))
        .route(paths::LANG, get(session::switch_language))
        .route(paths::STYLE, get(style))
        .route(paths::SEARCH, get(search::search_page).post(search::search))
        .route(paths::SEARCH_RESULT, get(search::search_result))
        .route(paths::REVIEW, post(search::review))
        .route(paths::RECORD, get(search::record))
        .route(paths::CONTACT_NEW, get(contacts::new_contact_page))
        .route(
            paths::CONTACTS,
            get(contacts::contacts_page).post(contacts::send_contact),
        )
        .route(paths::CONTACT, get(contacts::contact_page))
        .route(paths::CONTACT_ANSWER, post(contacts::answer_contact))
        .route(
            paths::OVERLAP,
            get(overlap::overlap_page).post(
                overlap::start_overlap
                    .layer(DefaultBodyLimit::max(overlap::MAX_UPLOAD_BYTES + 64 * 1024)),
            ),
        )
        .route(paths::OVERLAP_REPORT, get(overlap::overlap_report))
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::audit::audit_request,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::identify,
        ))
        .layer(middleware::from_fn(guard))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state.clone());
    super::observed(
        super::with_layers(routes, limits),
        state,
        crate::metrics::Api::Local,
    )
}

/// Every page's outer checks and headers: a loopback `Host` (against DNS
/// rebinding), no POST from another origin, and the security headers on
/// every answer, refusals included.
async fn guard(request: Request, next: Next) -> Response {
    let mut response = checked(request, next).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn checked(request: Request, next: Next) -> Response {
    let lang = Lang::of(request.headers());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !crate::local_auth::is_loopback_authority(&host) {
        return pages::problem(lang, StatusCode::FORBIDDEN, Text::NotFound, None);
    }
    if request.method() == axum::http::Method::POST
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
        if authority != host {
            return pages::problem(lang, StatusCode::FORBIDDEN, Text::FormExpired, None);
        }
    }
    let response = next.run(request).await;
    // A body cut by the size limit comes back as plain text: answer with a
    // page that says what happened.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_page {
        return pages::problem(lang, StatusCode::PAYLOAD_TOO_LARGE, Text::TooLong, None);
    }
    response
}

/// The stylesheet (the only asset; no CDN: partners may be offline).
async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}

async fn not_found(headers: HeaderMap) -> Response {
    pages::problem(
        Lang::of(&headers),
        StatusCode::NOT_FOUND,
        Text::NotFound,
        None,
    )
}

/// A time as the page shows it (UTC; the page has no script to localize).
pub(crate) fn show_time(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let seconds = unix_seconds.rem_euclid(86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_dates() {
        assert_eq!(show_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(show_time(1_796_000_000), "2026-11-30 00:53 UTC");
    }

    #[test]
    fn cookies_are_found_by_name_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; poshuk_session=abc".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, "poshuk_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "session"), None);
    }
}
