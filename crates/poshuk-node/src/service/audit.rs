//! The node's audit log: one chained line per request its staff or the
//! coordinator made (route template, right or caller, staff user when
//! given, status, and what handlers note: hit counts, a keyed fingerprint
//! of a federation query, records deleted), never tokens or raw values.
//! Probes and status polls are not logged (the coordinator polls status
//! every second). A request whose line cannot be written is answered 503,
//! and until a line can be written again, requests are refused before any
//! work: nothing is served unaudited.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use poshuk_protocol::routes::{self, local, node};

use super::SharedState;
use super::error::ApiError;

/// What a handler adds to its request's audit line (a JSON object).
#[derive(Debug, Clone)]
pub(crate) struct AuditNote(pub(crate) serde_json::Value);

/// A handler's answer with its audit note.
pub(crate) type Noted<T> = (Extension<AuditNote>, axum::Json<T>);

/// `answer` with `note` for the audit line.
pub(crate) fn noted<T>(note: serde_json::Value, answer: T) -> Noted<T> {
    (Extension(AuditNote(note)), axum::Json(answer))
}

/// The node's audit log and whether its last write failed.
pub(crate) struct NodeAudit {
    pub(crate) log: poshuk_audit::AuditLog,
    failing: AtomicBool,
}

impl NodeAudit {
    pub(crate) fn new(log: poshuk_audit::AuditLog) -> NodeAudit {
        NodeAudit {
            log,
            failing: AtomicBool::new(false),
        }
    }
}

/// Routes not logged: probes and status polls.
fn quiet(route: &str) -> bool {
    [
        routes::LIVEZ,
        routes::READYZ,
        routes::METRICS,
        node::STATUS,
        local::STATUS,
        super::web::paths::STYLE,
        super::web::paths::LANG,
    ]
    .contains(&route)
}

/// Requests not logged though not on a quiet route: the login form itself
/// (anyone may fetch it; logging it would let anyone grow the log).
fn quiet_request(route: &str, method: &Method) -> bool {
    route == super::web::paths::LOGIN && method == Method::GET
}

/// The staff user a request names (`X-Poshuk-Staff`, as the web page or
/// `POSHUK_STAFF` sets it), printable characters only, cut short.
fn staff(request: &Request) -> Option<String> {
    let name = request
        .headers()
        .get(routes::STAFF_HEADER)?
        .to_str()
        .ok()?
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>();
    let name = poshuk_audit::short(name.trim());
    (!name.is_empty()).then_some(name)
}

fn unaudited() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        "the node cannot write its audit log: nothing is served unaudited; tell the node's operator (disk full?)",
    )
    .into_response()
}

/// The middleware: after the gate, around the handler.
pub(crate) async fn audit_request(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    if quiet(&route) || quiet_request(&route, request.method()) {
        return next.run(request).await;
    }
    let audit = &state.audit;
    if audit.failing.load(Ordering::SeqCst) {
        // Refused before any work until a line can be written again.
        if audit
            .log
            .append(serde_json::json!({"event": "audit_writable_again"}))
            .is_err()
        {
            return unaudited();
        }
        audit.failing.store(false, Ordering::SeqCst);
    }
    let (api, caller) = if route.starts_with("/ui") || route == "/" {
        ("web", None)
    } else if route.starts_with("/local/") {
        let right = request
            .extensions()
            .get::<crate::local_auth::LocalRight>()
            .map(|right| right.name());
        ("local", right)
    } else {
        ("federation", Some("coordinator"))
    };
    // The web page's logged-in staff member, else the header's.
    let staff = request
        .extensions()
        .get::<super::web::Staff>()
        .map(|staff| poshuk_audit::short(&staff.name))
        .or_else(|| staff(&request));
    // Ingests, deletions, keys, retirements, reviews, contact requests:
    // synced to disk.
    let durable = request.method() == Method::POST
        && ![
            local::SEARCH,
            local::FEDERATED_SEARCH,
            node::SEARCH,
            super::web::paths::SEARCH,
        ]
        .contains(&route.as_str());
    let response = next.run(request).await;
    let mut entry = serde_json::json!({
        "event": "request",
        "api": api,
        "route": route,
        "status": response.status().as_u16(),
    });
    if let Some(caller) = caller {
        entry["caller"] = caller.into();
    }
    if let Some(staff) = staff {
        entry["staff"] = staff.into();
    }
    if let (Some(AuditNote(serde_json::Value::Object(note))), Some(fields)) = (
        response.extensions().get::<AuditNote>(),
        entry.as_object_mut(),
    ) {
        for (key, value) in note {
            fields.insert(key.clone(), value.clone());
        }
    }
    let written = if durable {
        audit.log.append_durable(entry)
    } else {
        audit.log.append(entry)
    };
    match written {
        Ok(()) => response,
        Err(error) => {
            audit.failing.store(true, Ordering::SeqCst);
            tracing::error!(error = %error, "the audit log cannot be written: the answer is withheld");
            unaudited()
        }
    }
}
