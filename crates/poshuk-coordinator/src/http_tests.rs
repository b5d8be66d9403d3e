//! Every route of the coordinator, in process (`tower::ServiceExt::oneshot`).
//! The partners' nodes are an address where nothing listens: what a search
//! reports then (partial results, a status per partner) is the behaviour
//! under test; searches through real nodes are tested with real processes
//! in the integration suite.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use poshuk_protocol::routes::{self, coordinator as route};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Coordinator, CoordinatorConfig, router};

const ADMIN: &str = "admin-token-for-tests-0123456789abcdef";
const SEARCHER: &str = "searcher-token-for-tests-0123456789ab";
const LISTED: &str = "listed-token-for-tests-0123456789abcd";

struct TestCoordinator {
    dir: tempfile::TempDir,
    config: CoordinatorConfig,
    router: Router,
}

/// An address where nothing listens: port 1 on loopback is privileged and
/// outside the ephemeral range, so no other test can take it.
fn closed_address() -> String {
    "http://127.0.0.1:1".into()
}

impl TestCoordinator {
    fn start() -> TestCoordinator {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = CoordinatorConfig::parse(&format!(
            "listen = \"127.0.0.1:0\"\naudit_log = \"{audit}\"\nstate_dir = \"{state}\"\n\
             admin_token = \"{ADMIN}\"\n\
             [deadlines]\nper_node_ms = 500\noverall_ms = 1000\nconnect_ms = 200\n\
             [[partner]]\nid = \"ngo\"\nname = \"NGO\"\nnode_url = \"{ngo}\"\ntoken = \"{SEARCHER}\"\n\
             permissions = [\"search\", \"be_searched\"]\ncontact = \"ngo@example.org\"\n\
             [[partner]]\nid = \"listed\"\nname = \"Listed only\"\nnode_url = \"{listed}\"\n\
             token = \"{LISTED}\"\npermissions = [\"be_searched\"]\n",
            audit = dir.path().join("audit.jsonl").display(),
            state = dir.path().join("state").display(),
            ngo = closed_address(),
            listed = closed_address(),
        ))
        .expect("config");
        let coordinator = Coordinator::new(config.clone()).expect("coordinator");
        TestCoordinator {
            router: router(Arc::new(coordinator)),
            config,
            dir,
        }
    }

    /// The same coordinator started again on its state directory.
    fn restart(&mut self) {
        let coordinator = Coordinator::new(self.config.clone()).expect("coordinator");
        self.router = router(Arc::new(coordinator));
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }
}

/// A request signed with `secret` as the key id that secret belongs to
/// (a guess is signed as the searching partner).
fn request(
    method: &str,
    path: &str,
    secret: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> Request<Body> {
    let body = body.into();
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(secret) = secret {
        let key_id = match secret {
            ADMIN => poshuk_protocol::signed::ADMIN_KEY_ID,
            LISTED => "listed",
            _ => "ngo",
        };
        let signed = poshuk_protocol::signed::sign(
            key_id,
            secret.as_bytes(),
            method,
            path,
            &body,
            poshuk_protocol::signed::now_ms(),
        )
        .expect("signs");
        builder = builder.header(header::AUTHORIZATION, signed);
    }
    builder.body(Body::from(body)).expect("request")
}

fn query(epoch: u32) -> Value {
    json!({"queries": [{"epoch": epoch, "tokenizer": poshuk_protocol::TOKENIZER_VERSION,
        "tokens": {"GivenWhole": ["00".repeat(16)], "FamilyWhole": ["01".repeat(16)],
                   "FamilyYear": ["02".repeat(16)]}, "limit": 5}]})
}

#[tokio::test]
async fn a_search_reports_every_partner_and_is_audited() {
    let coordinator = TestCoordinator::start();
    let body = || query(1).to_string();
    let (status, answer) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            body(),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["partial"], true);
    for partner in ["ngo", "listed"] {
        assert_eq!(
            answer["partners"][partner]["status"], "unavailable",
            "{answer}"
        );
    }
    let audit = std::fs::read_to_string(coordinator.dir.path().join("audit.jsonl")).expect("audit");
    assert!(audit.contains("\"requester\":\"ngo\""), "{audit}");
    // (The query's tokens are 0101… and 0202…; the chain's first `prev` is
    // all zeros.)
    assert!(
        !audit.contains(&"01".repeat(16)) && !audit.contains(&"02".repeat(16)),
        "the audit log holds no token"
    );
    assert_eq!(
        poshuk_audit::verify("audit", audit.as_bytes()).map(|summary| summary.entries),
        Ok(1)
    );

    let (status, _) = coordinator
        .call(request("POST", route::FEDERATED_SEARCH, None, body()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, error) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(LISTED),
            body(),
        ))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    let path = format!("{}?partners=", route::FEDERATED_SEARCH);
    let (status, _) = coordinator
        .call(request("POST", &path, Some(SEARCHER), body()))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an empty partner list asks nobody"
    );
    let path = format!("{}?partners=ghost", route::FEDERATED_SEARCH);
    let (status, error) = coordinator
        .call(request("POST", &path, Some(SEARCHER), body()))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("unknown_partner"))
    );
    let bad = json!({"queries": [{"epoch": 1, "tokenizer": poshuk_protocol::TOKENIZER_VERSION, "tokens": {"GivenWhole": ["xyz"]}}]});
    let (status, error) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            bad.to_string(),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "invalid_request");
}

#[tokio::test]
async fn partners_status_epochs_probes_and_metrics() {
    let coordinator = TestCoordinator::start();
    // Contacts, the nodes' status and the metrics are for members only,
    // refused before any work (the status would call every node).
    for path in [route::PARTNERS, route::FEDERATION_STATUS, routes::METRICS] {
        let (status, _) = coordinator
            .call(request("GET", path, None, Vec::new()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = coordinator
            .call(request("GET", path, Some("a-guess"), Vec::new()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, partners) = coordinator
        .call(request("GET", route::PARTNERS, Some(LISTED), Vec::new()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(partners[0]["contact"], "ngo@example.org");
    let (status, nodes) = coordinator
        .call(request(
            "GET",
            route::FEDERATION_STATUS,
            Some(ADMIN),
            Vec::new(),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nodes["ngo"]["status"], "unavailable");
    let (status, epochs) = coordinator
        .call(request("GET", route::EPOCHS, Some(SEARCHER), Vec::new()))
        .await;
    assert_eq!(
        (status, epochs["retired"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (status, _) = coordinator
        .call(request("GET", route::EPOCHS, None, Vec::new()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for probe in [routes::LIVEZ, routes::READYZ] {
        let (status, _) = coordinator
            .call(request("GET", probe, None, Vec::new()))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            query(1).to_string(),
        ))
        .await;
    let (status, metrics) = coordinator
        .call(request("GET", routes::METRICS, Some(ADMIN), Vec::new()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().expect("text");
    assert!(
        text.contains("poshuk_unauthorized_requests_total 7"),
        "{text}"
    );
    assert!(text.contains("poshuk_federated_searches_total 1"), "{text}");
    assert!(
        !text.contains("requester"),
        "who searched is the audit log's: {text}"
    );
    assert!(text.contains("poshuk_federated_partial_total 1"), "{text}");
    for partner in ["ngo", "listed"] {
        let series =
            format!("poshuk_node_answers_total{{partner=\"{partner}\",outcome=\"unavailable\"}} 1");
        assert!(text.contains(&series), "per-partner series: {text}");
    }
    assert!(text.contains("poshuk_partners 2"), "{text}");
}

#[tokio::test]
async fn key_administration_needs_the_admin_and_checks_what_it_relays() {
    let coordinator = TestCoordinator::start();
    let (status, _) = coordinator
        .call(request(
            "GET",
            route::ADMIN_KEYS,
            Some(SEARCHER),
            Vec::new(),
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a partner is not the admin");
    let (status, keys) = coordinator
        .call(request("GET", route::ADMIN_KEYS, Some(ADMIN), Vec::new()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys["partners"]["ngo"]["reachable"], false);

    let retire = json!({"epoch": 1}).to_string();
    let (status, error) = coordinator
        .call(request("POST", route::ADMIN_RETIRE, Some(ADMIN), retire))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("not_ready"))
    );
    assert_eq!(
        error["type"], "conflict",
        "a 409 is a conflict: retry after the re-keys"
    );
    let ghost = json!({"epoch": 1, "exclude": ["ghost"]}).to_string();
    let (status, error) = coordinator
        .call(request("POST", route::ADMIN_RETIRE, Some(ADMIN), ghost))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("unknown_partner"))
    );
    let ghost_key = request("PUT", &route::admin_sealed("ghost", 2), Some(ADMIN), "x");
    let (status, error) = coordinator.call(ghost_key).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::NOT_FOUND, json!("unknown_partner"))
    );

    let sealed = "poshuk-sealed-epoch/v1 partner=ngo epoch=2\nciphertext";
    let upload = |path: String, body: &'static str| request("PUT", &path, Some(ADMIN), body);
    let (status, _) = coordinator
        .call(upload(route::admin_sealed("ngo", 3), sealed))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the header names epoch 2");
    let (status, _) = coordinator
        .call(upload(route::admin_sealed("ngo", 2), "plain text\n"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not a sealed file");
    let (status, _) = coordinator
        .call(upload(route::admin_sealed("ngo", 2), sealed))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let fetch = format!("{}?epoch=2", route::SEALED_KEY);
    let (status, body) = coordinator
        .call(request("GET", &fetch, Some(SEARCHER), Vec::new()))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(sealed)));
    let (status, _) = coordinator
        .call(request("GET", &fetch, Some(LISTED), Vec::new()))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only the partner it is sealed for gets it"
    );
    let (status, _) = coordinator
        .call(request("GET", &fetch, None, Vec::new()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_partner_left_out_of_a_rotation_is_shut_out_and_gets_no_key() {
    let mut coordinator = TestCoordinator::start();
    let retire = json!({"epoch": 1, "exclude": ["ngo", "listed"]}).to_string();
    let (status, keys) = coordinator
        .call(request("POST", route::ADMIN_RETIRE, Some(ADMIN), retire))
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    assert_eq!(keys["suspended"], json!(["listed", "ngo"]));
    assert_eq!(keys["retired"], json!([1]));

    let sealed = "poshuk-sealed-epoch/v1 partner=ngo epoch=2\nciphertext";
    let (status, error) = coordinator
        .call(request(
            "PUT",
            &route::admin_sealed("ngo", 2),
            Some(ADMIN),
            sealed,
        ))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("suspended"))
    );
    let fetch = format!("{}?epoch=2", route::SEALED_KEY);
    let (status, error) = coordinator
        .call(request("GET", &fetch, Some(SEARCHER), Vec::new()))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("suspended"))
    );
    let (status, error) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            query(2).to_string(),
        ))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("suspended"))
    );
    // The retirement and the suspension survive a restart.
    coordinator.restart();
    let (status, error) = coordinator
        .call(request("GET", &fetch, Some(SEARCHER), Vec::new()))
        .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("suspended"))
    );
    let (_, epochs) = coordinator
        .call(request("GET", route::EPOCHS, Some(LISTED), Vec::new()))
        .await;
    assert_eq!(epochs["retired"], json!([1]));
}

/// A body is never read for a caller without a token: a large unauthenticated
/// upload is refused with 401, not 413, and an authenticated search body
/// over its bound gets 413.
#[tokio::test]
async fn no_body_is_read_before_the_credential_and_bodies_are_bounded() {
    let coordinator = TestCoordinator::start();
    let big = "x".repeat(3 * 1024 * 1024);
    let (status, _) = coordinator
        .call(request("POST", route::FEDERATED_SEARCH, None, big.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            big,
        ))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = coordinator
        .call(request(
            "PUT",
            &route::admin_sealed("ngo", 2),
            Some(ADMIN),
            "y".repeat(100 * 1024),
        ))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A partner searching faster than its rate gets 429 with Retry-After,
/// before its body is read; another partner is not slowed by it.
#[tokio::test]
async fn searches_beyond_a_partners_rate_get_429_with_retry_after() {
    let mut coordinator = TestCoordinator::start();
    coordinator.config.limits.searches_per_minute = 2;
    coordinator.restart();
    for _ in 0..2 {
        let (status, _) = coordinator
            .call(request(
                "POST",
                route::FEDERATED_SEARCH,
                Some(SEARCHER),
                query(1).to_string(),
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = coordinator
        .router
        .clone()
        .oneshot(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            "not even JSON",
        ))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let (_, metrics) = coordinator
        .call(request("GET", routes::METRICS, Some(ADMIN), Vec::new()))
        .await;
    let text = metrics.as_str().expect("text");
    assert!(
        text.contains("poshuk_searches_refused_total{partner=\"ngo\",reason=\"rate_limited\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_captured_request_is_refused_when_replayed_or_late_or_altered() {
    let coordinator = TestCoordinator::start();
    let body = query(1).to_string();
    let captured = request(
        "POST",
        route::FEDERATED_SEARCH,
        Some(SEARCHER),
        body.clone(),
    );
    let authorization = captured.headers()[header::AUTHORIZATION].clone();
    let (status, answer) = coordinator.call(captured).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The same request again, byte for byte: a replay.
    let again = |body: String| {
        Request::post(route::FEDERATED_SEARCH)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, authorization.clone())
            .body(Body::from(body))
            .expect("request")
    };
    let (status, answer) = coordinator.call(again(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["code"], "replayed", "{answer}");
    // A request signed three minutes ago (or ahead) is refused, however new
    // its nonce: a request captured today is refused tomorrow.
    for skew in [-180_000i64, 180_000] {
        let time = poshuk_protocol::signed::now_ms().saturating_add_signed(skew);
        let signed = poshuk_protocol::signed::sign(
            "ngo",
            SEARCHER.as_bytes(),
            "POST",
            route::FEDERATED_SEARCH,
            body.as_bytes(),
            time,
        )
        .expect("signs");
        let late = Request::post(route::FEDERATED_SEARCH)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, signed)
            .body(Body::from(body.clone()))
            .expect("request");
        let (status, answer) = coordinator.call(late).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("clock")),
            "{answer}"
        );
    }
    // A fresh signature over one body does not carry another.
    let signed = request(
        "POST",
        route::FEDERATED_SEARCH,
        Some(SEARCHER),
        body.clone(),
    );
    let (parts, _) = signed.into_parts();
    let swapped = Request::from_parts(parts, Body::from(query(2).to_string()));
    let (status, answer) = coordinator.call(swapped).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["code"], "bad_signature", "{answer}");
    // A bearer token, the old way, is refused and says how to sign.
    let bearer = Request::get(route::EPOCHS)
        .header(header::AUTHORIZATION, format!("Bearer {SEARCHER}"))
        .body(Body::empty())
        .expect("request");
    let (status, answer) = coordinator.call(bearer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("Poshuk-Signed")),
        "{answer}"
    );
    // Signed with the right secret under another partner's id: refused.
    let forged = poshuk_protocol::signed::sign(
        "listed",
        SEARCHER.as_bytes(),
        "GET",
        route::EPOCHS,
        b"",
        poshuk_protocol::signed::now_ms(),
    )
    .expect("signs");
    let forged = Request::get(route::EPOCHS)
        .header(header::AUTHORIZATION, forged)
        .body(Body::empty())
        .expect("request");
    let (status, _) = coordinator.call(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_search_carries_one_query_per_key_epoch() {
    let coordinator = TestCoordinator::start();
    let one = query(1)["queries"][0].clone();
    let mut other = one.clone();
    other["tokens"]["GivenWhole"] = json!(["03".repeat(16)]);
    let bundle = json!({"queries": [one, other]});
    let (status, answer) = coordinator
        .call(request(
            "POST",
            route::FEDERATED_SEARCH,
            Some(SEARCHER),
            bundle.to_string(),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("one query per epoch")),
        "{answer}"
    );
}
