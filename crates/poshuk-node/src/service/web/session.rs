//! Who is at the page: staff accounts (argon2 password hashes), sessions
//! (a random token in an `HttpOnly; Secure; SameSite=Strict` cookie, kept
//! in `node.db` only as its SHA-256), the single sign-on header, CSRF tokens
//! and the login throttle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Lang, SharedState, Text, cookie, pages, paths, random_hex};
use crate::service::audit::AuditNote;
use crate::store::{Role, now};

/// The session cookie's name: one per partner, since browsers share
/// cookies between ports of one host (a demo runs three nodes on one).
fn session_cookie(state: &SharedState) -> String {
    let partner: String = state
        .partner_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("poshuk_session_{partner}")
}

/// The login form's own CSRF cookie (before there is a session).
const LOGIN_COOKIE: &str = "poshuk_login";

/// The staff member behind a request, as [`identify`] found them.
#[derive(Clone)]
pub(crate) struct Staff {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Staff({}, {:?})", self.name, self.role)
    }
}

impl Staff {
    /// Whether a form's CSRF token is this session's.
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        !self.csrf.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// Why no staff member is known, for the page that says so.
#[derive(Clone, Copy)]
enum Absent {
    /// No session cookie at all.
    NoSession,
    /// A cookie whose session ended (expired, logged out, password changed).
    Ended,
}

/// Handlers that need a logged-in staff member take this; without one, a
/// GET goes to the login page and a POST is answered with a page that says
/// the session ended (nothing was done).
impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Staff, Response> {
        if let Some(staff) = parts.extensions.get::<Staff>() {
            return Ok(staff.clone());
        }
        let lang = Lang::of(&parts.headers);
        let absent = parts
            .extensions
            .get::<Absent>()
            .copied()
            .unwrap_or(Absent::NoSession);
        if parts.method == axum::http::Method::GET {
            let target = match absent {
                Absent::NoSession => paths::LOGIN.to_string(),
                Absent::Ended => format!("{}?ended=1", paths::LOGIN),
            };
            return Err(Redirect::to(&target).into_response());
        }
        Err(pages::problem(
            lang,
            StatusCode::UNAUTHORIZED,
            Text::SessionEnded,
            Some(paths::LOGIN),
        ))
    }
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The first middleware of every page: finds the staff member (session
/// cookie, or single sign-on) and puts them on the request for the handler
/// and the audit log. Refuses nothing itself: pages that need staff say so.
pub(crate) async fn identify(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(web) = state.web.as_ref() else {
        return next.run(request).await;
    };
    if let Some(staff) = single_sign_on(&state, request.headers()) {
        request.extensions_mut().insert(staff);
        return next.run(request).await;
    }
    if let Some(token) = cookie(request.headers(), &session_cookie(&state)) {
        let hash = token_hash(&token);
        let found = web.store.session(&hash).ok().flatten();
        let now = now();
        let idle = i64::from(web.config.session_idle_minutes) * 60;
        let longest = i64::from(web.config.session_max_hours) * 3600;
        match found {
            Some(session)
                if now - session.last_seen <= idle && now - session.created <= longest =>
            {
                let _ = web.store.touch_session(&hash);
                request.extensions_mut().insert(Staff {
                    name: session.staff,
                    role: session.role,
                    csrf: session.csrf,
                });
            }
            Some(_) => {
                let _ = web.store.end_session(&hash);
                request.extensions_mut().insert(Absent::Ended);
            }
            None => {
                request.extensions_mut().insert(Absent::Ended);
            }
        }
    }
    next.run(request).await
}

/// The operator's single sign-on: the configured header names a staff
/// account, trusted only with the node's local credential beside it.
fn single_sign_on(state: &SharedState, headers: &HeaderMap) -> Option<Staff> {
    let web = state.web.as_ref()?;
    let header_name = web.config.sso_header.as_deref()?;
    let name = headers.get(header_name)?.to_str().ok()?.trim().to_string();
    let presented = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    state.local_credentials.right_of(presented.trim())?;
    if web.sso_key.iter().all(|byte| *byte == 0) {
        return None;
    }
    let (_, role) = web.store.staff_login(&name).ok()??;
    let mut mac = Sha256::new();
    mac.update(web.sso_key.as_slice());
    mac.update(name.as_bytes());
    Some(Staff {
        csrf: hex::encode(mac.finalize()),
        name,
        role,
    })
}

/// Hashes a password for storage (argon2id, a random salt).
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash the password: {error}"))
}

/// Password checks running at once, over the whole process.
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A hash of no one's password, checked for names that do not exist.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
        .clone()
}

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Failed logins per account name in the last minute; at most this many
/// names are tracked (the oldest are forgotten).
#[derive(Default)]
pub(crate) struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

const FAILURES_PER_MINUTE: u32 = 5;
const NAMES_TRACKED: usize = 10_000;

impl LoginThrottle {
    fn blocked(&self, name: &str) -> bool {
        self.failures.lock().is_ok_and(|failures| {
            failures.get(name).is_some_and(|(count, since)| {
                *count >= FAILURES_PER_MINUTE && since.elapsed() < Duration::from_secs(60)
            })
        })
    }

    fn failed(&self, name: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() >= NAMES_TRACKED {
                failures.retain(|_, (_, since)| since.elapsed() < Duration::from_secs(60));
                if failures.len() >= NAMES_TRACKED {
                    failures.clear();
                }
            }
            let entry = failures
                .entry(name.to_string())
                .or_insert((0, Instant::now()));
            if entry.1.elapsed() >= Duration::from_secs(60) {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    fn succeeded(&self, name: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(name);
        }
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    ended: Option<String>,
}

/// `GET /ui/login`.
pub(crate) async fn login_page(headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    let lang = Lang::of(&headers);
    let token = random_hex(16);
    let notice = query.ended.is_some().then_some(Text::SessionEnded);
    let mut response = pages::login(lang, &token, notice).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{LOGIN_COOKIE}={token}; Path=/ui/login; Max-Age=3600; HttpOnly; SameSite=Strict{}",
            secure(&headers)
        ),
    );
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    csrf: String,
    name: String,
    password: zeroize::Zeroizing<String>,
}

/// `; Secure` where the browser keeps such a cookie: over HTTPS (an
/// operator's proxy says so with `X-Forwarded-Proto`) and on `localhost`,
/// which browsers count as secure. On `http://127.0.0.1` Chromium drops
/// `Secure` cookies; there the cookie stays on the loopback interface,
/// which no network reaches, and is `HttpOnly; SameSite=Strict` as always.
fn secure(headers: &HeaderMap) -> &'static str {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("https"));
    let localhost = host
        .split(':')
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("localhost"));
    if https || localhost { "; Secure" } else { "" }
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = header::HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `POST /ui/login`.
pub(crate) async fn login(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let Ok(Form(form)) = form else {
        return pages::problem(
            lang,
            StatusCode::BAD_REQUEST,
            Text::FormExpired,
            Some(paths::LOGIN),
        );
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return pages::problem(
            lang,
            StatusCode::FORBIDDEN,
            Text::FormExpired,
            Some(paths::LOGIN),
        );
    }
    let name = form.name.trim().to_string();
    let stored = web.store.staff_login(&name).ok().flatten();
    // The audit names an account, never what was typed for a name that is
    // none (a mistyped password, a person's name).
    let audited_name = if stored.is_some() {
        poshuk_audit::short(&name)
    } else {
        "(no such account)".to_string()
    };
    let note = |ok: bool| AuditNote(serde_json::json!({"login": audited_name, "ok": ok}));
    if web.logins.blocked(&name) {
        let mut response =
            pages::login(lang, &form.csrf, Some(Text::TooManyLogins)).into_response();
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response.extensions_mut().insert(note(false));
        return response;
    }
    let password = form.password.clone();
    // The hash is checked even for an unknown name, so that the time taken
    // does not tell which names exist.
    let hash = stored
        .as_ref()
        .map(|(hash, _)| hash.clone())
        .unwrap_or_else(dummy_hash);
    // At most two password checks at once (each takes about 19 MiB and tens
    // of milliseconds): a flood of logins waits, it does not take memory.
    let Ok(_permit) = PASSWORD_CHECKS.acquire().await else {
        return pages::problem(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            Text::SomethingFailed,
            Some(paths::LOGIN),
        );
    };
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    if !(verified && stored.is_some()) {
        web.logins.failed(&name);
        let mut response = pages::login(lang, &form.csrf, Some(Text::BadLogin)).into_response();
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.extensions_mut().insert(note(false));
        return response;
    }
    web.logins.succeeded(&name);
    // Sessions that ended unseen are dropped now and then: at each login.
    let now = now();
    let _ = web.store.expire_sessions(
        now - i64::from(web.config.session_idle_minutes) * 60,
        now - i64::from(web.config.session_max_hours) * 3600,
    );
    let token = random_hex(32);
    let csrf = random_hex(16);
    if token.is_empty()
        || csrf.is_empty()
        || web
            .store
            .create_session(&token_hash(&token), &name, &csrf)
            .is_err()
    {
        return pages::problem(
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            Text::SomethingFailed,
            Some(paths::LOGIN),
        );
    }
    let mut response = Redirect::to(paths::HOME).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{}",
            session_cookie(&state),
            secure(&headers)
        ),
    );
    set_cookie(
        &mut response,
        &format!(
            "{LOGIN_COOKIE}=; Path=/ui/login; Max-Age=0; HttpOnly; SameSite=Strict{}",
            secure(&headers)
        ),
    );
    response.extensions_mut().insert(note(true));
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// `POST /ui/logout`.
pub(crate) async fn logout(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    if !form.is_ok_and(|Form(form)| staff.csrf_matches(&form.csrf)) {
        return pages::problem(lang, StatusCode::FORBIDDEN, Text::FormExpired, None);
    }
    if let (Some(web), Some(token)) = (
        state.web.as_ref(),
        cookie(&headers, &session_cookie(&state)),
    ) {
        let _ = web.store.end_session(&token_hash(&token));
    }
    let mut response = Redirect::to(paths::LOGIN).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
            session_cookie(&state),
            secure(&headers)
        ),
    );
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct LangQuery {
    to: String,
    #[serde(default)]
    back: String,
}

/// `GET /ui/lang?to=en&back=/ui/search`: the language switch (a cookie).
pub(crate) async fn switch_language(
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let lang = Lang::parse(&query.to).unwrap_or(Lang::Uk);
    // Back to a page of this site only, in characters a URL path carries
    // as they are.
    let safe = query.back.starts_with("/ui/")
        && !query.back.contains("//")
        && query
            .back
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/-_.?=&#".contains(&byte));
    let back = if safe {
        query.back
    } else {
        paths::HOME.to_string()
    };
    let mut response = Redirect::to(&back).into_response();
    set_cookie(
        &mut response,
        &format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Strict{}",
            lang.code(),
            secure(&headers)
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn the_throttle_holds_a_name_after_five_failures() {
        let throttle = LoginThrottle::default();
        for _ in 0..FAILURES_PER_MINUTE {
            assert!(!throttle.blocked("olena"));
            throttle.failed("olena");
        }
        assert!(throttle.blocked("olena"));
        assert!(!throttle.blocked("ivan"));
        throttle.succeeded("olena");
        assert!(!throttle.blocked("olena"));
    }
}
