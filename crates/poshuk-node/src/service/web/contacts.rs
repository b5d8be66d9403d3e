//! Contact requests with consent: from another partner's hit, staff write a
//! short message, sealed here to that partner's public key and relayed by
//! the coordinator; the owner's staff see it with their own case id
//! (resolved here, from the handle) and accept with a contact text of their
//! choosing, also sealed, or decline. Nothing about either person crosses
//! the federation except what each side chooses to write.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use poshuk_keys::letters::{Envelope, open_letter, seal_letter};
use poshuk_protocol::contacts::MAX_LETTER_CHARS;
use poshuk_protocol::{ContactAnswer, ContactStatus, Handle, NewContact};

use super::search::{kept_hit, resolve};
use super::{Lang, SharedState, Staff, Text, pages, paths};
use crate::service::audit::AuditNote;
use crate::store::{ContactRow, Direction, now};

#[derive(serde::Deserialize)]
pub(crate) struct NewContactQuery {
    search: String,
    hit: usize,
}

/// `GET /ui/contact/new?search=ID&hit=N`: the message form for a hit.
pub(crate) async fn new_contact_page(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    query: Result<Query<NewContactQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let Ok(Query(query)) = query else {
        return pages::problem(
            lang,
            StatusCode::BAD_REQUEST,
            Text::NoSuchSearch,
            Some(paths::SEARCH),
        );
    };
    let Some(hit) = kept_hit(&state, &staff, &query.search, query.hit).filter(|hit| !hit.own)
    else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NoSuchSearch,
            Some(paths::SEARCH),
        );
    };
    let t = |text| lang.t(text);
    let body = html! {
        p { (t(Text::To)) ": " strong { (hit.partner_name) } " · " (pages::band(lang, hit.band)) }
        form.card method="post" action=(paths::CONTACTS) {
            input type="hidden" name="csrf" value=(staff.csrf);
            input type="hidden" name="search" value=(query.search);
            input type="hidden" name="hit" value=(query.hit);
            label for="message" { (t(Text::Message)) }
            textarea id="message" name="message" rows="6" maxlength=(MAX_LETTER_CHARS)
                aria-describedby="message_hint" required {}
            small id="message_hint" { (t(Text::MessageHint)) }
            button type="submit" { (t(Text::Send)) }
        }
    };
    pages::layout(
        lang,
        t(Text::AskForContact),
        Some(&staff),
        paths::SEARCH,
        body,
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub(crate) struct SendForm {
    csrf: String,
    search: String,
    hit: usize,
    message: String,
}

impl pages::CsrfForm for SendForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl pages::CsrfForm for AnswerForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A letter's text checked: not empty, not longer than the bound.
fn checked_text(text: &str) -> Result<String, Text> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Text::Empty);
    }
    if text.chars().count() > MAX_LETTER_CHARS {
        return Err(Text::TooLong);
    }
    Ok(text.to_string())
}

/// Whether a hit's partner is a pseudonym (an anonymous partner's).
fn is_pseudonym(partner: &str) -> bool {
    partner.starts_with("anon-")
}

/// The public key the coordinator lists for a partner, or the one an
/// anonymous partner made for a pseudonym.
async fn public_key_of(state: &SharedState, partner: &str) -> Result<Option<String>, String> {
    let link = state
        .coordinator
        .as_ref()
        .ok_or_else(|| "this node has no [coordinator] in its config".to_string())?;
    if is_pseudonym(partner) {
        return link
            .client()
            .contact_recipient(partner)
            .await
            .map(Some)
            .map_err(|error| crate::service::search::coordinator_error(error).message);
    }
    let partners = link
        .client()
        .partners()
        .await
        .map_err(|error| crate::service::search::coordinator_error(error).message)?;
    Ok(partners
        .into_iter()
        .find(|info| info.id == partner)
        .and_then(|info| info.public_key))
}

/// A letter staff wrote, checked (not empty, not too long) and sealed to
/// `partner`'s public key for `subject`: the text and the sealed bytes, or
/// the page that says why not.
async fn seal_text(
    state: &SharedState,
    lang: Lang,
    from: &str,
    partner: &str,
    subject: &str,
    text: &str,
    back: &str,
) -> Result<(String, Vec<u8>), Box<Response>> {
    let text = checked_text(text).map_err(|why| {
        Box::new(pages::problem(
            lang,
            StatusCode::BAD_REQUEST,
            why,
            Some(back),
        ))
    })?;
    let public_key = match public_key_of(state, partner).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            return Err(Box::new(pages::problem(
                lang,
                StatusCode::CONFLICT,
                Text::NoPublicKey,
                Some(back),
            )));
        }
        Err(message) => {
            return Err(Box::new(pages::problem_message(
                lang,
                StatusCode::BAD_GATEWAY,
                &message,
                Some(back),
            )));
        }
    };
    let envelope = Envelope {
        from,
        to: partner,
        subject,
    };
    let sealed = seal_letter(&public_key, &envelope, &text).map_err(|error| {
        Box::new(pages::problem_message(
            lang,
            StatusCode::BAD_GATEWAY,
            &error.to_string(),
            Some(back),
        ))
    })?;
    Ok((text, sealed))
}

/// `POST /ui/contacts`: seals the message to the hit's partner and sends it
/// through the coordinator.
pub(crate) async fn send_contact(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Form<SendForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let form = match pages::accepted(lang, &staff, form, paths::SEARCH) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let Some(hit) = kept_hit(&state, &staff, &form.search, form.hit).filter(|hit| !hit.own) else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NoSuchSearch,
            Some(paths::SEARCH),
        );
    };
    let back = format!(
        "{}?search={}&hit={}",
        paths::CONTACT_NEW,
        form.search,
        form.hit
    );
    let handle = hit.handle.to_string();
    let subject = request_subject(&handle);
    let (message, sealed) = match seal_text(
        &state,
        lang,
        &state.partner_id,
        &hit.partner,
        &subject,
        &form.message,
        &back,
    )
    .await
    {
        Ok(sealed) => sealed,
        Err(page) => return *page,
    };
    let Some(link) = state.coordinator.as_ref() else {
        return pages::problem(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            Text::CoordinatorUnreachable,
            Some(&back),
        );
    };
    let request = NewContact {
        to: hit.partner.clone(),
        handle: hit.handle,
        sealed_message: hex::encode(sealed),
    };
    let id = match link.client().create_contact(&request).await {
        Ok(id) => id,
        Err(error) => {
            let error = crate::service::search::coordinator_error(error);
            return pages::problem_message(lang, error.status, &error.message, Some(&back));
        }
    };
    if let Some(web) = state.web.as_ref() {
        let _ = web.store.put_contact(&ContactRow {
            id: id.clone(),
            direction: Direction::Outgoing,
            partner: hit.partner.clone(),
            handle,
            message,
            status: ContactStatus::Pending.name().into(),
            reply: String::new(),
            staff: staff.name.clone(),
            created: now(),
        });
    }
    let mut response = Redirect::to(&format!("{}?sent=1", paths::CONTACTS)).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(serde_json::json!({
            "contact_request": id,
            "to": hit.partner,
        })));
    response
}

/// What a request's message is sealed for: its record.
fn request_subject(handle: &str) -> String {
    format!("request {handle}")
}

/// What a reply is sealed for: its request, so a relay cannot show a reply
/// as a request, nor move it to another request (the request is bound to
/// its record by its own subject).
fn reply_subject(id: &str) -> String {
    format!("reply {id}")
}

/// The node's view of the coordinator's list after a sync: whether it
/// answered, and how many letters could not be opened (left unstored, and
/// tried again at the next sync).
struct Synced {
    reachable: bool,
    unreadable: usize,
}

/// Brings the node's copy of its contact requests up to date with the
/// coordinator's: new requests to this partner are opened with its
/// identity, replies to its own are opened and kept.
async fn sync(state: &SharedState) -> Synced {
    let mut synced = Synced {
        reachable: false,
        unreadable: 0,
    };
    let (Some(link), Some(web)) = (state.coordinator.as_ref(), state.web.as_ref()) else {
        return synced;
    };
    let Ok(list) = link.client().contacts().await else {
        return synced;
    };
    synced.reachable = true;
    let identity = state.load_identity().ok();
    let open = |sealed: &str, from: &str, to: &str, subject: &str| -> Option<String> {
        let envelope = Envelope { from, to, subject };
        let bytes = hex::decode(sealed).ok()?;
        // A letter to a pseudonym opens with that pseudonym's own identity.
        let identity = match identity.as_ref() {
            Some(identity) if is_pseudonym(to) => {
                poshuk_keys::letters::pseudonymous_identity(identity, to).ok()?
            }
            Some(identity) => identity.clone(),
            None => return None,
        };
        open_letter(&identity, &envelope, &bytes)
            .ok()
            .map(|text| text.to_string())
    };
    let me = state.partner_id.as_str();
    for request in list.requests {
        let handle = request.handle.to_string();
        if request.from == me {
            let kept = web
                .store
                .contact(&request.id, Direction::Outgoing)
                .ok()
                .flatten();
            let reply = match &request.sealed_reply {
                Some(sealed) => match open(sealed, &request.to, me, &reply_subject(&request.id)) {
                    Some(reply) => reply,
                    None => {
                        synced.unreadable += 1;
                        continue;
                    }
                },
                None => String::new(),
            };
            let row = match kept {
                Some(mut row) => {
                    row.status = request.status.name().into();
                    row.reply = reply;
                    row.staff = String::new();
                    row
                }
                None => ContactRow {
                    id: request.id.clone(),
                    direction: Direction::Outgoing,
                    partner: request.to.clone(),
                    handle,
                    message: String::new(),
                    status: request.status.name().into(),
                    reply,
                    staff: String::new(),
                    created: (request.created_ms / 1000) as i64,
                },
            };
            let _ = web.store.put_contact(&row);
        } else if request.to == me || is_pseudonym(&request.to) {
            // Made to this partner, or to one of its pseudonyms (the
            // coordinator lists only its own): the owner's handle of the
            // record is `record` then.
            let kept = web
                .store
                .contact(&request.id, Direction::Incoming)
                .ok()
                .flatten();
            let row = match kept {
                Some(mut row) => {
                    row.status = request.status.name().into();
                    row.staff = String::new();
                    row
                }
                None => {
                    let subject = request_subject(&handle);
                    let Some(message) = open(
                        &request.sealed_message,
                        &request.from,
                        &request.to,
                        &subject,
                    ) else {
                        synced.unreadable += 1;
                        continue;
                    };
                    ContactRow {
                        id: request.id.clone(),
                        direction: Direction::Incoming,
                        partner: request.from.clone(),
                        message,
                        handle: request.record.map_or(handle, |record| record.to_string()),
                        status: request.status.name().into(),
                        reply: String::new(),
                        staff: String::new(),
                        created: (request.created_ms / 1000) as i64,
                    }
                }
            };
            let _ = web.store.put_contact(&row);
        }
    }
    synced
}

fn status_text(lang: Lang, status: &str) -> &'static str {
    lang.t(match ContactStatus::parse(status) {
        Some(ContactStatus::Accepted) => Text::Accepted,
        Some(ContactStatus::Declined) => Text::Declined,
        _ => Text::Pending,
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct ContactsQuery {
    #[serde(default)]
    sent: Option<String>,
    #[serde(default)]
    answered: Option<String>,
}

/// `GET /ui/contacts`: requests received (with a link to answer) and sent
/// (with their outcome and the owner's reply).
pub(crate) async fn contacts_page(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    Query(query): Query<ContactsQuery>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = |text| lang.t(text);
    let synced = sync(&state).await;
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let received = web.store.contacts(Direction::Incoming).unwrap_or_default();
    let sent = web.store.contacts(Direction::Outgoing).unwrap_or_default();
    let body = html! {
        @if query.sent.is_some() { (pages::notice(lang, Text::ContactSent)) }
        @if query.answered.is_some() { (pages::notice(lang, Text::AnswerSent)) }
        @if !synced.reachable { p.problem role="alert" { (t(Text::CoordinatorUnreachable)) } }
        @if synced.unreadable > 0 {
            p.problem role="alert" { (t(Text::LettersUnreadable)) " " (synced.unreadable) }
        }
        section {
            h2 { (t(Text::Received)) }
            (table(lang, &received, true))
        }
        section {
            h2 { (t(Text::Sent)) }
            (table(lang, &sent, false))
        }
    };
    pages::layout(lang, t(Text::Contacts), Some(&staff), paths::CONTACTS, body).into_response()
}

fn table(lang: Lang, rows: &[ContactRow], incoming: bool) -> Markup {
    let t = |text| lang.t(text);
    html! {
        @if rows.is_empty() {
            p.muted { (t(Text::NoContacts)) }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { (t(Text::When)) }
                        th scope="col" { (t(if incoming { Text::From } else { Text::To })) }
                        th scope="col" { (t(Text::Message)) }
                        th scope="col" { (t(Text::Status)) }
                        th scope="col" { (t(if incoming { Text::Answer } else { Text::Reply })) }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { (super::show_time(row.created)) }
                                td { (row.partner) }
                                td.message { (row.message) }
                                td { (status_text(lang, &row.status)) }
                                td.message {
                                    @if incoming {
                                        a href={ "/ui/contacts/" (row.id) } {
                                            @if row.status == "pending" { (t(Text::Answer)) } @else { (t(Text::About)) }
                                        }
                                    } @else {
                                        (row.reply)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /ui/contacts/{id}`: a request received, with this partner's own
/// case id, and the answer form while it is pending.
pub(crate) async fn contact_page(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = |text| lang.t(text);
    let Some(row) = state
        .web
        .as_ref()
        .and_then(|web| web.store.contact(&id, Direction::Incoming).ok().flatten())
    else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NotFound,
            Some(paths::CONTACTS),
        );
    };
    let case_id = match row.handle.parse::<Handle>() {
        Ok(handle) => resolve(&state, handle).await,
        Err(_) => None,
    };
    let body = html! {
        dl.card {
            dt { (t(Text::From)) } dd { (row.partner) }
            dt { (t(Text::When)) } dd { (super::show_time(row.created)) }
            dt { (t(Text::About)) }
            dd {
                @if let Some(case_id) = &case_id {
                    (t(Text::CaseId)) ": " strong.case { (case_id) } " · "
                    a href={ "/ui/record/" (row.handle) } { (t(Text::OpenCase)) }
                } @else { "—" }
            }
            dt { (t(Text::Message)) } dd.message { (row.message) }
            dt { (t(Text::Status)) } dd { (status_text(lang, &row.status)) }
        }
        @if row.status == "pending" {
            form.card method="post" action={ "/ui/contacts/" (row.id) "/answer" } {
                input type="hidden" name="csrf" value=(staff.csrf);
                label for="reply" { (t(Text::Reply)) }
                textarea id="reply" name="reply" rows="4" maxlength=(MAX_LETTER_CHARS) aria-describedby="reply_hint" {}
                small id="reply_hint" { (t(Text::ReplyHint)) }
                div.buttons {
                    button type="submit" name="decision" value="accept" { (t(Text::Accept)) }
                    button.secondary type="submit" name="decision" value="decline" { (t(Text::Decline)) }
                }
            }
        }
    };
    let here = format!("/ui/contacts/{}", row.id);
    let mut response =
        pages::layout(lang, t(Text::Contacts), Some(&staff), &here, body).into_response();
    response.extensions_mut().insert(AuditNote(
        serde_json::json!({"contact_request": row.id, "viewed": true}),
    ));
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct AnswerForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reply: String,
}

/// `POST /ui/contacts/{id}/answer`: accept with a sealed contact text, or
/// decline.
pub(crate) async fn answer_contact(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<AnswerForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let back = format!("/ui/contacts/{id}");
    let form = match pages::accepted(lang, &staff, form, &back) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let (Some(web), Some(link)) = (state.web.as_ref(), state.coordinator.as_ref()) else {
        return pages::problem(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            Text::CoordinatorUnreachable,
            Some(&back),
        );
    };
    let Some(mut row) = web.store.contact(&id, Direction::Incoming).ok().flatten() else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NotFound,
            Some(paths::CONTACTS),
        );
    };
    let accept = form.decision == "accept";
    // A request made to one of this partner's pseudonyms is answered as
    // that pseudonym (which the coordinator's list says).
    let pseudonym = link
        .client()
        .contacts()
        .await
        .ok()
        .and_then(|list| list.requests.into_iter().find(|request| request.id == id))
        .map(|request| request.to)
        .filter(|to| is_pseudonym(to));
    let answer = if accept {
        let subject = reply_subject(&row.id);
        let from = pseudonym.as_deref().unwrap_or(&state.partner_id);
        let (reply, sealed) = match seal_text(
            &state,
            lang,
            from,
            &row.partner,
            &subject,
            &form.reply,
            &back,
        )
        .await
        {
            Ok(sealed) => sealed,
            Err(page) => return *page,
        };
        row.reply = reply;
        ContactAnswer {
            accept: true,
            sealed_reply: Some(hex::encode(sealed)),
            as_pseudonym: pseudonym,
        }
    } else {
        ContactAnswer {
            accept: false,
            sealed_reply: None,
            as_pseudonym: pseudonym,
        }
    };
    if let Err(error) = link.client().answer_contact(&id, &answer).await {
        let error = crate::service::search::coordinator_error(error);
        return pages::problem_message(lang, error.status, &error.message, Some(&back));
    }
    row.status = if accept {
        ContactStatus::Accepted
    } else {
        ContactStatus::Declined
    }
    .name()
    .into();
    row.staff = staff.name.clone();
    let _ = web.store.put_contact(&row);
    let mut response = Redirect::to(&format!("{}?answered=1", paths::CONTACTS)).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(serde_json::json!({
            "contact_request": id,
            "accepted": accept,
        })));
    response
}
