//! Anonymous partners: their hits reach searchers under a pseudonym of one
//! search, their name appears in no answer, listing or other partner's
//! log, and the only way to them is a sealed contact request.

use std::collections::HashMap;
use std::path::Path;

use poshuk_keys::letters::{Envelope, open_letter, pseudonymous_identity, seal_letter};

use crate::federation::{
    PARTNERS, guarded, joins, search, shared_person, start_coordinator, token,
};
use crate::support::{Credential, NodeProcess, authorization, poshuk, synth_data};

const HIDDEN_NAME: &str = "Hidden Memorial Group";
const HIDDEN_CONTACT: &str = "secret-desk@hidden.example";

/// A request to the coordinator signed as `partner`: (status, JSON body).
fn as_partner(
    method: &str,
    url: &str,
    partner: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let bytes = body
        .map(|body| serde_json::to_vec(body).expect("JSON"))
        .unwrap_or_default();
    let credential = Credential::Signed(partner.to_string(), token(partner));
    let client = reqwest::blocking::Client::new();
    let mut request = match method {
        "POST" => client
            .post(url)
            .header("content-type", "application/json")
            .body(bytes.clone()),
        _ => client.get(url),
    };
    request = request.header(
        "authorization",
        authorization(&credential, method, url, &bytes),
    );
    let response = request.send().expect("an answer");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn identity_of(dir: &Path, partner: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{partner}-data/identity.age"))).expect("an identity")
}

#[test]
fn an_anonymous_partner_is_named_nowhere_and_reached_only_by_a_sealed_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    assert!(poshuk(root, &["keys", "init", "-o", "keyring.toml"]).success);
    synth_data(root, 400, 9);
    let mut nodes: Vec<NodeProcess> = PARTNERS
        .iter()
        .map(|(id, file)| {
            // The hidden partner's staff use its page through their proxy's
            // single sign-on (so this test can drive the page without a
            // browser).
            let partner = id.to_string();
            NodeProcess::start_loaded(root, id, file, &move |config| {
                guarded(&partner)(config);
                config.web.sso_header = Some("X-Forwarded-User".into());
            })
        })
        .collect();
    let ids: Vec<&str> = PARTNERS.iter().map(|(id, _)| *id).collect();
    let public_keys: HashMap<String, String> = crate::support::public_keys(root, &ids);
    let registry: Vec<(&str, &str)> = PARTNERS
        .iter()
        .zip(&nodes)
        .map(|((id, _), node)| (*id, node.federation.as_str()))
        .collect();
    let (_coordinator, url) = start_coordinator(root, &registry, 2000, &|config| {
        for partner in &mut config.partners {
            partner.public_key = public_keys.get(&partner.id).cloned();
            if partner.id == "ru-sources" {
                partner.anonymous = true;
                partner.name = HIDDEN_NAME.into();
                partner.contact = HIDDEN_CONTACT.into();
            }
        }
    });
    for ((id, _), node) in PARTNERS.iter().zip(&mut nodes) {
        node.reconfigure(root, &joins(&url, id));
    }
    let searcher = &nodes[2];
    let person = shared_person(root);

    // Two searches for the same person: the hidden partner's hit comes
    // under a different pseudonym and handle each time, and nothing names it.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (status, body) = search(searcher, &person);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["partial"], false, "{body}");
        let text = body.to_string();
        for secret in ["ru-sources", HIDDEN_NAME, HIDDEN_CONTACT] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let hit = body["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .find(|hit| {
                hit["partner"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("anon-"))
            })
            .unwrap_or_else(|| panic!("no hit from the anonymous partner: {body}"))
            .clone();
        assert_eq!(hit["partner_name"], "a partner of the federation");
        assert_eq!(hit["band"], "strong", "{hit}");
        assert_eq!(
            body["partners"][hit["partner"].as_str().expect("id")]["took_ms"],
            0
        );
        // Named partners are still named, with their contact.
        assert!(body["contacts"]["ngo-ua"].is_string(), "{body}");
        seen.push(hit);
    }
    assert_ne!(
        seen[0]["partner"], seen[1]["partner"],
        "one pseudonym per search"
    );
    assert_ne!(
        seen[0]["handle"], seen[1]["handle"],
        "one handle per search"
    );

    // It cannot be named in a search (which would tie its pseudonym to its
    // id), nor is it listed among the known partners.
    let (status, body) = crate::support::post_json(
        &format!("{}/local/v1/federated-search", searcher.local),
        &serde_json::json!({"record": person, "partners": ["ru-sources"]}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(!body.to_string().contains("ru-sources`,"), "{body}");
    let (_, nobody) = crate::support::post_json(
        &format!("{}/local/v1/federated-search", searcher.local),
        &serde_json::json!({"record": person, "partners": ["nobody"]}),
    );
    let known = nobody["message"].as_str().expect("a message");
    assert!(
        known.contains("ngo-ua") && !known.contains("ru-sources"),
        "{known}"
    );
    // The coordinator's metrics (labelled by partner) are the operator's.
    let (status, _) = as_partner("GET", &format!("{url}/metrics"), "intl-org", None);
    assert_eq!(status, 403);

    // Listings leave it out.
    for route in ["/v1/partners", "/v1/federation/status"] {
        let (status, body) = as_partner("GET", &format!("{url}{route}"), "intl-org", None);
        assert_eq!(status, 200, "{body}");
        assert!(!body.to_string().contains("ru-sources"), "{route}: {body}");
    }

    // A contact request to the pseudonym: sealed to a key made for that
    // pseudonym alone (another search's pseudonym has another key).
    let pseudonym = seen[0]["partner"].as_str().expect("pseudonym").to_string();
    let alias = seen[0]["handle"].as_str().expect("handle").to_string();
    let recipient = |to: &str| {
        let (status, body) = as_partner(
            "GET",
            &format!("{url}/v1/contacts/recipient?to={to}"),
            "intl-org",
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["public_key"].as_str().expect("a key").to_string()
    };
    let key = recipient(&pseudonym);
    let other_key = recipient(seen[1]["partner"].as_str().expect("pseudonym"));
    assert!(key != other_key && key != public_keys["ru-sources"]);
    let subject = format!("request {alias}");
    let envelope = Envelope {
        from: "intl-org",
        to: &pseudonym,
        subject: &subject,
    };
    let letter = seal_letter(&key, &envelope, "We hold a record of this child.").expect("sealed");
    let (status, body) = as_partner(
        "POST",
        &format!("{url}/v1/contacts"),
        "intl-org",
        Some(
            &serde_json::json!({"to": pseudonym, "handle": alias, "sealed_message": hex::encode(&letter)}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("an id").to_string();

    // The anonymous partner sees it, with its own handle of the record,
    // and opens it with the pseudonym's identity.
    let (status, list) = as_partner("GET", &format!("{url}/v1/contacts"), "ru-sources", None);
    assert_eq!(status, 200, "{list}");
    let request = list["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|request| request["id"] == id.as_str())
        .unwrap_or_else(|| panic!("the request is not listed: {list}"))
        .clone();
    let record = request["record"]
        .as_str()
        .expect("its own handle")
        .to_string();
    let (status, resolved) =
        crate::support::get_json(&format!("{}/local/v1/resolve/{record}", nodes[1].local));
    assert_eq!(status, 200, "the owner resolves its own record: {resolved}");
    let own_identity = identity_of(root, "ru-sources");
    let derived = pseudonymous_identity(&own_identity, &pseudonym).expect("derived");
    let opened = open_letter(&derived, &envelope, &letter).expect("opens");
    assert_eq!(opened.as_str(), "We hold a record of this child.");
    // Other partners do not see it.
    let (_, ngo_list) = as_partner("GET", &format!("{url}/v1/contacts"), "ngo-ua", None);
    assert!(!ngo_list.to_string().contains(&id), "{ngo_list}");

    // Its staff read it on their page, with their own case id, and accept:
    // the node answers as the pseudonym.
    let hidden = &nodes[1];
    crate::support::add_staff(root, &hidden.local, "olga", "olga-password-4567");
    let token = std::fs::read_to_string(root.join("ru-sources-data/local-search.token"))
        .expect("the local credential");
    let page = |path: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}{path}", hidden.local))
            .header("X-Forwarded-User", "olga")
            .bearer_auth(token.trim())
            .send()
            .and_then(|response| response.text())
            .expect("a page")
    };
    let inbox = page("/ui/contacts");
    assert!(inbox.contains("We hold a record of this child."), "{inbox}");
    let case_id = resolved["record_id"].as_str().expect("a case id");
    let detail = page(&format!("/ui/contacts/{id}"));
    assert!(detail.contains(case_id), "the owner's own case: {detail}");
    let csrf = detail
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form")
        .to_string();
    let answered = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/ui/contacts/{id}/answer", hidden.local))
        .header("X-Forwarded-User", "olga")
        .bearer_auth(token.trim())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&decision=accept&reply=Write+to+us+here."
        ))
        .send()
        .expect("answers");
    assert_eq!(answered.status(), 303, "{:?}", answered.text());
    let reply_subject = format!("reply {id}");
    let reply_envelope = Envelope {
        from: &pseudonym,
        to: "intl-org",
        subject: &reply_subject,
    };
    let (_, sent) = as_partner("GET", &format!("{url}/v1/contacts"), "intl-org", None);
    let answered = sent["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|request| request["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(answered["status"], "accepted");
    assert!(!sent.to_string().contains("ru-sources"), "{sent}");
    let sealed_reply = hex::decode(answered["sealed_reply"].as_str().expect("reply")).expect("hex");
    let opened = open_letter(
        &identity_of(root, "intl-org"),
        &reply_envelope,
        &sealed_reply,
    )
    .expect("the reply opens");
    assert_eq!(opened.as_str(), "Write to us here.");

    // The searcher's staff do the same from their page: search, then ask
    // the anonymous hit's owner for contact. The node fetches the key made
    // for that search's pseudonym and seals the message to it.
    crate::support::add_staff(root, &searcher.local, "anna", "anna-password-4567");
    let searcher_token = std::fs::read_to_string(root.join("intl-org-data/local-search.token"))
        .expect("the local credential");
    let browser = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let as_anna = |request: reqwest::blocking::RequestBuilder| {
        request
            .header("X-Forwarded-User", "anna")
            .bearer_auth(searcher_token.trim())
    };
    let csrf_of = |html: &str| {
        html.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form")
            .to_string()
    };
    let get = |path: &str| {
        as_anna(browser.get(format!("{}{path}", searcher.local)))
            .send()
            .and_then(|response| response.text())
            .expect("a page")
    };
    let form = get("/ui/search");
    let full_name = format!(
        "{} {}",
        person["family_name"].as_str().expect("family"),
        person["given_name"].as_str().expect("given")
    );
    let searched = as_anna(browser.post(format!("{}/ui/search", searcher.local)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url_encoded(&[
            ("csrf", &csrf_of(&form)),
            ("full_name", &full_name),
            ("birth_date", person["birth_date"].as_str().expect("date")),
        ]))
        .send()
        .expect("answers");
    let result_path = searched
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("the search's result")
        .to_string();
    let result = get(&result_path);
    assert!(result.contains("a partner of the federation"), "{result}");
    assert!(!result.contains("ru-sources") && !result.contains(HIDDEN_NAME));
    // The link to ask about the anonymous partner's hit.
    let asking = result
        .split("/ui/contact/new?")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|query| query.replace("&amp;", "&"))
        .find_map(|query| {
            let page = get(&format!("/ui/contact/new?{query}"));
            page.contains("a partner of the federation").then_some(page)
        })
        .expect("a contact form for the anonymous partner's hit");
    let field = |name: &str| {
        asking
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a hidden field")
            .to_string()
    };
    let sent = as_anna(browser.post(format!("{}/ui/contacts", searcher.local)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url_encoded(&[
            ("csrf", &field("csrf")),
            ("search", &field("search")),
            ("hit", &field("hit")),
            ("message", "Sent from our page about the same child."),
        ]))
        .send()
        .expect("answers");
    assert_eq!(sent.status(), 303, "{:?}", sent.text());
    let inbox = page("/ui/contacts");
    assert!(
        inbox.contains("Sent from our page about the same child."),
        "the hidden partner opens it: {inbox}"
    );

    // It cannot send one (its name would travel with it).
    let (status, _) = as_partner(
        "POST",
        &format!("{url}/v1/contacts"),
        "ru-sources",
        Some(
            &serde_json::json!({"to": "ngo-ua", "handle": alias, "sealed_message": hex::encode(&letter)}),
        ),
    );
    assert_eq!(status, 403);

    // The other partners' own logs and databases never name it.
    for partner in ["ngo-ua", "intl-org"] {
        let data = root.join(format!("{partner}-data"));
        for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
            if entry.path().is_file() {
                let bytes = std::fs::read(entry.path()).expect("a file");
                let text = String::from_utf8_lossy(&bytes);
                for secret in ["ru-sources", HIDDEN_NAME, HIDDEN_CONTACT] {
                    assert!(
                        !text.contains(secret),
                        "{} names the anonymous partner ({secret})",
                        entry.path().display()
                    );
                }
            }
        }
    }
}

/// A form body, `application/x-www-form-urlencoded`.
fn url_encoded(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            let encoded: String = value
                .bytes()
                .map(|byte| match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (byte as char).to_string()
                    }
                    b' ' => "+".to_string(),
                    other => format!("%{other:02X}"),
                })
                .collect();
            format!("{name}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}
