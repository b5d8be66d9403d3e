//! Every route of both routers, in process (`tower::ServiceExt::oneshot`),
//! against a real tantivy index in a temporary directory: statuses and
//! bodies a client relies on.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use poshuk_protocol::routes::{self, local, node};
use serde_json::{Value, json};
use tower::ServiceExt;

use poshuk_protocol::local_credentials::{ADMIN_TOKEN_FILE, SEARCH_TOKEN_FILE};

use super::{NodeState, federation_router, local_router};
use crate::config::{Limits, NodeConfig};

const TOKEN: &str = "coordinator-token-for-tests-0123456789";

struct TestNode {
    dir: tempfile::TempDir,
    state: Arc<NodeState>,
}

impl TestNode {
    fn open() -> TestNode {
        TestNode::open_with("")
    }

    /// A node whose config has `extra` at its top.
    fn open_with(extra: &str) -> TestNode {
        let dir = tempfile::tempdir().expect("temporary directory");
        let keyring = dir.path().join("keyring.toml");
        poshuk_keys::files::create(&keyring, &poshuk_core::KeyRing::with_key([7; 32]))
            .expect("keyring");
        let config = NodeConfig::parse(&format!(
            "partner_id = \"ngo-test\"\ndata_dir = \"{}\"\nkeyring = \"{}\"\n{extra}\n\
             [listen]\nfederation = \"127.0.0.1:0\"\nlocal = \"127.0.0.1:0\"\n\
             [federation]\ntoken = \"{TOKEN}\"\n",
            dir.path().join("data").display(),
            keyring.display()
        ))
        .expect("config");
        let state = crate::open_state(&config, None).expect("node state");
        TestNode { dir, state }
    }

    fn federation(&self) -> Router {
        federation_router(self.state.clone(), &Limits::default())
    }

    /// The local API as the partner's own tools call it: addressed to
    /// loopback, with the admin credential unless a request brings its own.
    fn local(&self) -> Router {
        let admin = self.credential(ADMIN_TOKEN_FILE);
        self.local_bare().layer(axum::middleware::map_request(
            move |request: Request<Body>| {
                let admin = admin.clone();
                async move { Ok::<_, std::convert::Infallible>(as_owner(request, &admin)) }
            },
        ))
    }

    /// The local API as any caller reaches it: nothing added.
    fn local_bare(&self) -> Router {
        local_router(self.state.clone(), &Limits::default())
    }

    fn credential(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("data").join(file)).expect("credential")
    }
}

fn as_owner(mut request: Request<Body>, admin: &str) -> Request<Body> {
    let headers = request.headers_mut();
    if !headers.contains_key(header::HOST) {
        headers.insert(header::HOST, "127.0.0.1:7402".parse().expect("host"));
    }
    if !headers.contains_key(header::AUTHORIZATION) {
        let value = format!("Bearer {admin}").parse().expect("header value");
        headers.insert(header::AUTHORIZATION, value);
    }
    request
}

async fn call(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.expect("infallible router");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// The request signed as the coordinator signs (its method, path and body).
async fn with_token(request: Request<Body>) -> Request<Body> {
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let value = poshuk_protocol::signed::sign(
        poshuk_protocol::signed::COORDINATOR_KEY_ID,
        TOKEN.as_bytes(),
        parts.method.as_str(),
        path,
        &bytes,
        poshuk_protocol::signed::now_ms(),
    )
    .expect("signs");
    parts
        .headers
        .insert(header::AUTHORIZATION, value.parse().expect("header value"));
    Request::from_parts(parts, Body::from(bytes))
}

fn person(id: &str) -> Value {
    json!({"record_id": id, "given_name": "Олександр", "family_name": "Коваленко",
           "patronymic": "Іванович", "sex": "M", "birth_date": "2011-04-03",
           "birth_place": "Маріуполь", "document_ids": ["I-БК 123456"]})
}

/// Ingests records through a whole session; returns the finish counts.
async fn ingest(node: &TestNode, records: Vec<Value>, replace: bool) -> Value {
    let (status, session) = call(node.local(), post(local::INGEST_SESSIONS, &json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let id = session["session"].as_str().expect("session id").to_string();
    let batch = json!({ "records": records });
    let (status, result) = call(node.local(), post(&local::ingest_batches(&id), &batch)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let finish = json!({ "replace": replace });
    let (status, counts) = call(node.local(), post(&local::ingest_finish(&id), &finish)).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    counts
}

#[tokio::test]
async fn ingest_search_resolve_and_delete_through_the_local_api() {
    let node = TestNode::open();
    let counts = ingest(&node, vec![person("C-1"), json!({"record_id": ""})], false).await;
    assert_eq!(counts["added"], 1);
    assert_eq!(counts["rejected"], 1);

    let query = json!({"record": {"given_name": "Alexander", "family_name": "Kovalenko",
                                  "birth_date": "2011"}, "limit": 5});
    let (status, answer) = call(node.local(), post(local::SEARCH, &query)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let handle = answer["hits"][0]["handle"]
        .as_str()
        .expect("a hit")
        .to_string();
    assert_eq!(answer["hits"][0]["band"], "strong");

    let (status, resolved) = call(node.local(), get(&format!("/local/v1/resolve/{handle}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resolved["record_id"], "C-1");
    let (status, _) = call(node.local(), get("/local/v1/resolve/not-hex")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, deleted) = call(
        node.local(),
        post(local::DELETE, &json!({"record_ids": ["C-1", "C-9"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (deleted["deleted"].clone(), deleted["not_found"].clone()),
        (json!(1), json!(1))
    );
    let (status, _) = call(node.local(), get(&format!("/local/v1/resolve/{handle}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, compacted) = call(node.local(), post(local::COMPACT, &json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    // The delete already merged its segment away: nothing is left to do.
    assert_eq!(compacted["segments_rewritten"], 0);
}

#[tokio::test]
async fn replace_deletes_what_the_export_no_longer_has_and_never_everything() {
    let node = TestNode::open();
    let list: Vec<Value> = (1..=20).map(|n| person(&format!("C-{n}"))).collect();
    ingest(&node, list.clone(), false).await;
    // One case gone from the export: replaced.
    let counts = ingest(&node, list[1..].to_vec(), true).await;
    assert_eq!(counts["deleted"], 1);
    assert_eq!(node.state.record_count(), 19);
    // Most of the list gone (a partial export, the wrong sheet): refused
    // unless asked, and nothing is deleted.
    let (_, session) = call(node.local(), post(local::INGEST_SESSIONS, &json!({}))).await;
    let id = session["session"].as_str().expect("id").to_string();
    let batch = json!({"records": [person("C-2")]});
    let (status, _) = call(node.local(), post(&local::ingest_batches(&id), &batch)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = call(
        node.local(),
        post(&local::ingest_finish(&id), &json!({"replace": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["code"], "large_replace");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("18 of the node's 19")),
        "{error}"
    );
    assert_eq!(node.state.record_count(), 19, "nothing was deleted");
    let (status, counts) = call(
        node.local(),
        post(
            &local::ingest_finish(&id),
            &json!({"replace": true, "allow_large_delete": true}),
        ),
    )
    .await;
    assert_eq!(
        (status, counts["deleted"].clone()),
        (StatusCode::OK, json!(18))
    );
    assert_eq!(node.state.record_count(), 1);

    let (_, session) = call(node.local(), post(local::INGEST_SESSIONS, &json!({}))).await;
    let id = session["session"].as_str().expect("id").to_string();
    let (status, error) = call(
        node.local(),
        post(&local::ingest_finish(&id), &json!({"replace": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("replace")
    );
    assert_eq!(node.state.record_count(), 1, "nothing was deleted");
    // The refused finish kept the session: it can be finished properly.
    let (status, counts) = call(
        node.local(),
        post(&local::ingest_finish(&id), &json!({"replace": false})),
    )
    .await;
    assert_eq!(
        (status, counts["deleted"].clone()),
        (StatusCode::OK, json!(0))
    );
    let (status, _) = call(
        node.local(),
        post(&local::ingest_batches("nope"), &json!({"records": []})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The token query a searcher's node sends for Олександр Коваленко born in
/// `year`, as JSON.
fn federation_query(node: &TestNode, year: &str) -> Value {
    let record = poshuk_core::Record {
        given_name: "Олександр".into(),
        family_name: "Коваленко".into(),
        birth_date: poshuk_core::BirthDate::parse(year).ok(),
        ..poshuk_core::Record::default()
    };
    let query = node
        .state
        .generations
        .queries_for(&record, &[], &[poshuk_core::Epoch(1)], 5)
        .expect("query")
        .queries
        .remove(0);
    serde_json::to_value(&query).expect("json")
}

#[tokio::test]
async fn the_federation_api_answers_only_the_coordinator() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1")], false).await;
    let body = federation_query(&node, "2011");
    let (status, _) = call(node.federation(), post(node::SEARCH, &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = call(
        node.federation(),
        with_token(post(node::SEARCH, &body)).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(1));
    assert!(
        answer["hits"][0].get("record_id").is_none(),
        "no case id leaves"
    );
    // To the federation: no exact score, no agreeing fields (the owner did
    // not share them), no weak hit.
    let score = answer["hits"][0]["score"].as_f64().expect("score");
    assert_eq!((score * 10.0).round() / 10.0, score, "{answer}");
    assert_eq!(answer["hits"][0]["agreeing"], json!([]), "{answer}");
    assert_eq!(answer["candidates"], 0, "block sizes stay home: {answer}");
    let weak_query = federation_query(&node, "1950");
    let local = json!({"record": {"given_name": "Олександр", "family_name": "Коваленко",
                                  "birth_date": "1950"}, "limit": 5});
    let (_, here) = call(node.local(), post(local::SEARCH, &local)).await;
    assert_eq!(here["hits"][0]["band"], "weak", "the staff see it: {here}");
    let (status, answer) = call(
        node.federation(),
        with_token(post(node::SEARCH, &weak_query)).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["hits"],
        json!([]),
        "the federation does not: {answer}"
    );

    let mut other_epoch = body.clone();
    other_epoch["epoch"] = json!(5);
    let (status, error) = call(
        node.federation(),
        with_token(post(node::SEARCH, &other_epoch)).await,
    )
    .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("unknown_epoch"))
    );
    let (status, _) = call(
        node.federation(),
        with_token(post(
            node::SEARCH,
            &json!({"epoch": 1, "tokens": {"Nope": []}}),
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, error) = call(
        node.federation(),
        with_token(post(node::RETIRE, &json!({"epoch": 1}))).await,
    )
    .await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("no_newer_epoch"))
    );
    let (status, _) = call(node.federation(), post(node::RETIRE, &json!({"epoch": 1}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn status_probes_and_metrics() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1")], false).await;
    for router in [node.federation(), node.local()] {
        let (status, body) = call(router.clone(), get(routes::LIVEZ)).await;
        assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    }
    let (status, body) = call(node.federation(), get(routes::READYZ)).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    for (router, request) in [
        (node.federation(), with_token(get(node::STATUS)).await),
        (node.local(), get(local::STATUS)),
    ] {
        let (status, body) = call(router, request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (body["records"].clone(), body["epochs"].clone()),
            (json!(1), json!([1]))
        );
    }
    let handle = "ab".repeat(16);
    let (status, _) = call(node.local(), get(&format!("/local/v1/resolve/{handle}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(node.local(), get("/local/v1/no-such-route")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = call(node.local(), get(routes::METRICS)).await;
    assert_eq!(status, StatusCode::OK);
    let local = body.as_str().expect("text").to_string();
    for series in [
        "poshuk_records 1",
        "poshuk_ingested_records_total{outcome=\"added\"} 1",
        "poshuk_local_requests_total{route=\"/local/v1/ingest/sessions/{session}/batches\",status=\"2xx\"} 1",
        "poshuk_local_requests_total{route=\"/local/v1/resolve/{handle}\",status=\"4xx\"} 1",
        "poshuk_local_requests_total{route=\"-\",status=\"4xx\"} 1",
        "poshuk_local_request_seconds_bucket{",
    ] {
        assert!(local.contains(series), "{series} in {local}");
    }
    assert!(!local.contains(&handle), "a path's handle is never a label");
    assert!(
        !local.contains("no-such-route"),
        "an unknown path is never a label"
    );

    // The federation API's exposition leaves out the staff's activity.
    let (status, body) = call(node.federation(), with_token(get(routes::METRICS)).await).await;
    assert_eq!(status, StatusCode::OK);
    let federation = body.as_str().expect("text");
    assert!(federation.contains("poshuk_records 1"), "{federation}");
    assert!(
        federation.contains("poshuk_federation_requests_total{"),
        "{federation}"
    );
    assert!(
        !federation.contains("poshuk_local_requests"),
        "{federation}"
    );
    assert!(
        !federation.contains("poshuk_ingested_records"),
        "{federation}"
    );
}

#[tokio::test]
async fn requests_refused_before_routing_are_counted_too() {
    let node = TestNode::open();
    let no_room = Limits {
        max_concurrent_requests: 0,
        ..Limits::default()
    };
    let shedding = local_router(node.state.clone(), &no_room);
    let (status, error) = call(shedding, get(routes::LIVEZ)).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("overloaded"))
    );
    let (_, body) = call(node.local(), get(routes::METRICS)).await;
    let text = body.as_str().expect("text");
    assert!(
        text.contains("poshuk_local_requests_total{route=\"-\",status=\"5xx\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn searches_and_keys_without_a_coordinator_or_admin_key_say_why() {
    let node = TestNode::open();
    let nobody = json!({"record": {"given_name": "Олександр"}, "partners": []});
    let (status, error) = call(node.local(), post(local::FEDERATED_SEARCH, &nobody)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let query = json!({"record": {"given_name": "Олександр"}, "limit": 5});
    let (status, error) = call(node.local(), post(local::FEDERATED_SEARCH, &query)).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("no_coordinator"))
    );
    let (status, _) = call(
        node.local(),
        post(local::SEARCH, &json!({"record": {}, "limit": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty query is refused");
    let (status, _) = call(
        node.local(),
        post(
            local::SEARCH,
            &json!({"record": {"given_name": "A"}, "limit": 0}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "limit 0 is refused");
    let (status, error) = call(node.local(), post(local::KEYS_FETCH, &json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let install = Request::post(local::KEYS_INSTALL)
        .body(Body::from(
            "poshuk-sealed-epoch/v1 partner=ngo-test epoch=2\n",
        ))
        .expect("request");
    let (status, error) = call(node.local(), install).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::CONFLICT, json!("no_admin_key"))
    );
    let (status, error) = call(node.local(), post(local::DELETE, &json!({"ids": []}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "invalid_request");
}

/// Every door of the local API is locked before a body is read: no
/// credential, a search-only credential for a write, a request addressed
/// to another host (DNS rebinding), a web page of another origin, a body
/// that is not JSON.
#[tokio::test]
async fn the_local_api_answers_only_its_owner() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1")], false).await;
    let wipe = json!({"record_ids": ["C-1"]});
    let loopback = |request: Request<Body>| {
        let mut request = request;
        request
            .headers_mut()
            .insert(header::HOST, "127.0.0.1:7402".parse().expect("host"));
        request
    };
    let bearer = |request: Request<Body>, token: &str| {
        let mut request = request;
        let value = format!("Bearer {token}").parse().expect("value");
        request.headers_mut().insert(header::AUTHORIZATION, value);
        request
    };
    let (status, error) = call(node.local_bare(), loopback(post(local::DELETE, &wipe))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let (status, _) = call(node.local_bare(), loopback(get(local::STATUS))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        node.local_bare(),
        bearer(loopback(post(local::DELETE, &wipe)), "guess"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let search_only = node.credential(SEARCH_TOKEN_FILE);
    let (status, error) = call(
        node.local_bare(),
        bearer(loopback(post(local::DELETE, &wipe)), &search_only),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    let session = call(
        node.local_bare(),
        bearer(
            loopback(post(local::INGEST_SESSIONS, &json!({}))),
            &search_only,
        ),
    )
    .await;
    assert_eq!(session.0, StatusCode::FORBIDDEN);
    let query =
        json!({"record": {"given_name": "Олександр", "family_name": "Коваленко"}, "limit": 5});
    let (status, answer) = call(
        node.local_bare(),
        bearer(loopback(post(local::SEARCH, &query)), &search_only),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // The owner's credential, but from a web page or to a rebound name.
    let mut foreign_host = post(local::DELETE, &wipe);
    foreign_host
        .headers_mut()
        .insert(header::HOST, "attacker.example:7402".parse().expect("host"));
    let (status, error) = call(node.local(), foreign_host).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden_host"))
    );
    let mut from_page = post(local::DELETE, &wipe);
    from_page.headers_mut().insert(
        header::ORIGIN,
        "https://attacker.example".parse().expect("origin"),
    );
    let (status, error) = call(node.local(), from_page).await;
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden_origin"))
    );
    let plain = Request::post(local::DELETE)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(wipe.to_string()))
        .expect("request");
    let (status, _) = call(node.local(), plain).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(node.state.record_count(), 1, "nothing was deleted");
    let (status, _) = call(node.local_bare(), get(routes::LIVEZ)).await;
    assert_eq!(status, StatusCode::OK, "the probe needs no credential");
}

#[tokio::test]
async fn a_node_without_a_federation_token_answers_only_the_probes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let keyring = dir.path().join("keyring.toml");
    poshuk_keys::files::create(&keyring, &poshuk_core::KeyRing::with_key([7; 32]))
        .expect("keyring");
    let config = NodeConfig::parse(&format!(
        "partner_id = \"ngo-test\"\ndata_dir = \"{}\"\nkeyring = \"{}\"\n\
         [listen]\nfederation = \"127.0.0.1:0\"\nlocal = \"127.0.0.1:0\"\n",
        dir.path().join("data").display(),
        keyring.display()
    ))
    .expect("config");
    let state = crate::open_state(&config, None).expect("node state");
    let router = federation_router(state, &Limits::default());
    for path in [node::STATUS, routes::METRICS] {
        let (status, _) = call(router.clone(), with_token(get(path)).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = call(router, get(routes::LIVEZ)).await;
    assert_eq!(status, StatusCode::OK);
}

fn as_staff(mut request: Request<Body>, name: &str) -> Request<Body> {
    let value = name.parse().expect("header value");
    request
        .headers_mut()
        .insert(poshuk_protocol::routes::STAFF_HEADER, value);
    request
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_and_nothing_is_served_unaudited() {
    let audit_dir = tempfile::tempdir().expect("tempdir");
    let audit_path = audit_dir.path().join("logs/audit.jsonl");
    let node = TestNode::open_with(&format!(
        "audit_log = \"{}\"\naudit_max_bytes = 1024",
        audit_path.display()
    ));
    ingest(&node, vec![person("C-1"), person("C-2")], false).await;
    let query = federation_query(&node, "2011");
    let (status, _) = call(
        node.federation(),
        with_token(post(node::SEARCH, &query)).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(node.federation(), post(node::SEARCH, &query)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wipe = json!({"record_ids": ["C-1"]});
    let (status, _) = call(
        node.local(),
        as_staff(post(local::DELETE, &wipe), "olena.k"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let lines: Vec<Value> = poshuk_audit::rotated_files(&audit_path)
        .into_iter()
        .chain([audit_path.clone()])
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .expect("audit file")
                .lines()
                .map(|line| serde_json::from_str(line).expect("JSON"))
                .collect::<Vec<Value>>()
        })
        .collect();
    let summary = poshuk_audit::verify_files(&audit_path).expect("one chain");
    assert_eq!(summary.entries as usize, lines.len());
    assert!(summary.files > 1, "rotated at 1 KiB: {summary:?}");
    let search = lines
        .iter()
        .find(|line| line["route"] == node::SEARCH)
        .expect("the federation's search is audited");
    assert_eq!(search["caller"], "coordinator");
    assert_eq!(search["hits"], 2);
    assert_eq!(search["query"].as_str().map(str::len), Some(16));
    let delete = lines
        .iter()
        .find(|line| line["route"] == local::DELETE)
        .expect("the deletion is audited");
    assert_eq!(
        (&delete["staff"], &delete["caller"], &delete["deleted"]),
        (&json!("olena.k"), &json!("admin"), &json!(1))
    );
    assert!(
        lines
            .iter()
            .any(|line| line["event"] == "failed_authentication"),
        "{lines:?}"
    );
    // Never a raw value or a token.
    let text: String = lines.iter().map(Value::to_string).collect();
    let tokens = query["tokens"]["FamilyWhole"][0].as_str().expect("a token");
    for secret in ["Коваленко", "Олександр", "C-1", "2011-04-03", tokens] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    // The data directory (index, audit log, the node's secret) is the
    // node's user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(node.dir.path().join("data"))
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "data directory mode {mode:o}");

    // The log's directory removed (a full or failed disk): the answer is
    // withheld, and then requests are refused before any work.
    std::fs::remove_dir_all(audit_path.parent().expect("dir")).expect("remove");
    let search = json!({"record": {"given_name": "Олександр", "family_name": "Коваленко",
                                   "birth_date": "2011"}, "limit": 5});
    let mut refused = false;
    for _ in 0..20 {
        let (status, _) = call(node.local(), post(local::SEARCH, &search)).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            refused = true;
            break;
        }
    }
    assert!(refused, "a search that cannot be audited is not answered");
    let wipe = json!({"record_ids": ["C-2"]});
    let (status, answer) = call(node.local(), post(local::DELETE, &wipe)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["code"], "audit_unavailable");
    // Writable again: served, and C-2 was never deleted.
    std::fs::create_dir_all(audit_path.parent().expect("dir")).expect("mkdir");
    let (status, answer) = call(node.local(), post(local::SEARCH, &search)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(1), "{answer}");
}

#[tokio::test]
async fn a_searched_range_of_birth_years_meets_a_year_inside_it() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1")], false).await;
    let search = |date: &str| {
        json!({"record": {"given_name": "Олександр", "family_name": "Коваленко",
                          "birth_date": date}, "limit": 5})
    };
    let agreeing = |answer: &Value| -> Vec<String> {
        answer["hits"][0]["agreeing"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|field| field.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Born 2011: a range around it agrees on the birth date, as the exact
    // year does; a range beside it does not.
    for date in ["2011", "2010-2012", "~2011", "2011-2015"] {
        let (status, answer) = call(node.local(), post(local::SEARCH, &search(date))).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(
            agreeing(&answer).contains(&"birth_date".to_string()),
            "{date}: {answer}"
        );
    }
    let (_, answer) = call(node.local(), post(local::SEARCH, &search("2013-2016"))).await;
    assert!(
        !agreeing(&answer).contains(&"birth_date".to_string()),
        "{answer}"
    );
    // The federation's query for a range keeps within the protocol's caps
    // and still names a person.
    let record = poshuk_core::Record {
        given_name: "Олександр".into(),
        family_name: "Коваленко".into(),
        ..poshuk_core::Record::default()
    };
    let years: Vec<u16> = (2010..=2014).collect();
    let queries = node
        .state
        .generations
        .queries_for(&record, &years, &[poshuk_core::Epoch(1)], 5)
        .expect("queries");
    let query = &queries.queries[0];
    query
        .to_record()
        .expect("within the caps, and it identifies a person");
    let (status, answer) = call(
        node.federation(),
        with_token(post(
            node::SEARCH,
            &serde_json::to_value(query).expect("json"),
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["hits"].as_array().map(Vec::len), Some(1), "{answer}");
}

#[tokio::test]
async fn a_handle_survives_deletion_and_resolves_from_its_first_digits() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1"), person("C-2")], false).await;
    let query = json!({"record": {"given_name": "Олександр", "family_name": "Коваленко",
                                  "birth_date": "2011"}, "limit": 5});
    let handles = |answer: &Value| -> Vec<String> {
        let mut found: Vec<String> = answer["hits"]
            .as_array()
            .map(|hits| {
                hits.iter()
                    .filter_map(|hit| hit["handle"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    };
    let (_, answer) = call(node.local(), post(local::SEARCH, &query)).await;
    let before = handles(&answer);
    assert_eq!(before.len(), 2, "{answer}");
    // Deleted, then added again: the handles a partner was given still hold.
    let (status, _) = call(
        node.local(),
        post(local::DELETE, &json!({"record_ids": ["C-1", "C-2"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    ingest(&node, vec![person("C-2"), person("C-1")], false).await;
    let (_, answer) = call(node.local(), post(local::SEARCH, &query)).await;
    assert_eq!(handles(&answer), before);
    // Resolved from its first 12 digits; too few digits, or none that
    // match, are refused.
    let mut ids = Vec::new();
    for handle in &before {
        let (status, resolved) = call(
            node.local(),
            get(&format!("/local/v1/resolve/{}", &handle[..12])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        assert_eq!(resolved["handle"], handle.as_str());
        ids.push(resolved["record_id"].as_str().expect("id").to_string());
    }
    ids.sort();
    assert_eq!(ids, ["C-1", "C-2"]);
    let (status, _) = call(
        node.local(),
        get(&format!("/local/v1/resolve/{}", &before[0][..8])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(node.local(), get("/local/v1/resolve/000000000000")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_update_that_names_another_person_is_refused() {
    let node = TestNode::open();
    ingest(&node, vec![person("C-1")], false).await;
    // The same case number, another child (a list whose row numbers were
    // taken for case numbers): refused, and the case is unchanged.
    let other = json!({"record_id": "C-1", "given_name": "Тамара", "family_name": "Яремова",
                       "birth_date": "2013-02-01"});
    let (_, session) = call(node.local(), post(local::INGEST_SESSIONS, &json!({}))).await;
    let id = session["session"].as_str().expect("id").to_string();
    let (status, result) = call(
        node.local(),
        post(&local::ingest_batches(&id), &json!({"records": [other]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["counts"]["rejected"], 1, "{result}");
    assert!(
        result["rejected"][0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("another person")),
        "{result}"
    );
    let (_, counts) = call(node.local(), post(&local::ingest_finish(&id), &json!({}))).await;
    assert_eq!(counts["updated"], 0, "{counts}");
    let query = json!({"record": {"given_name": "Олександр", "family_name": "Коваленко",
                                  "birth_date": "2011-04-03"}, "limit": 5});
    let (_, answer) = call(node.local(), post(local::SEARCH, &query)).await;
    assert_eq!(answer["hits"][0]["band"], "strong", "{answer}");
    // A correction of the same person (another birth date, a new document)
    // is an update as before.
    let mut corrected = person("C-1");
    corrected["birth_date"] = json!("2011-04-04");
    let counts = ingest(&node, vec![corrected], false).await;
    assert_eq!(counts["updated"], 1, "{counts}");
}
