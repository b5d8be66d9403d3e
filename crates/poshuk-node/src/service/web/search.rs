//! Searching from the page, the results grouped by partner with each field
//! explained in words, reviews of hits, and the page of one of this
//! partner's own records.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use poshuk_protocol::{FederatedHit, Handle, RawRecord};

use super::i18n::{field, level};
use super::{Lang, SavedSearch, SharedState, Staff, Text, pages, paths};
use crate::service::audit::AuditNote;
use crate::store::{Review, ReviewState, now};

/// What a searcher typed. Kept in memory for an hour with the results
/// (never written anywhere); `Debug` shows nothing of it.
#[derive(Clone, Default, serde::Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    pub(crate) full_name: String,
    /// Other surnames the person may be kept under (former, adoptive),
    /// separated by `;` or `,`.
    #[serde(default)]
    pub(crate) other_names: String,
    #[serde(default)]
    pub(crate) birth_date: String,
    #[serde(default)]
    pub(crate) birth_place: String,
    #[serde(default)]
    pub(crate) document: String,
    #[serde(default)]
    pub(crate) sex: String,
}

impl std::fmt::Debug for SearchForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SearchForm(<redacted>)")
    }
}

/// The entries of a field that holds several, separated by `,` or `;`.
fn entries(field: &str) -> Vec<String> {
    field
        .split([',', ';'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

impl SearchForm {
    /// Why the search's checks refused the form, in the page's words: too
    /// many or too long other surnames, or no name to search for.
    fn refusal(&self) -> Text {
        if crate::service::search::other_names_within_bounds(&self.record().other_names) {
            Text::NeedAName
        } else {
            Text::OtherNamesTooMany
        }
    }

    fn record(&self) -> RawRecord {
        let (family_name, given_name, patronymic) =
            poshuk_core::names::split_full_name(self.full_name.trim());
        RawRecord {
            record_id: String::new(),
            given_name,
            family_name,
            patronymic,
            other_names: entries(&self.other_names),
            sex: self.sex.trim().to_string(),
            birth_date: self.birth_date.trim().to_string(),
            birth_place: self.birth_place.trim().to_string(),
            document_ids: entries(&self.document),
        }
    }

    /// Whether the query carries a name with no more than a year: the
    /// evidence namesakes share, so hits stay below strong for common names.
    /// The page then says what to add.
    fn is_thin(&self) -> bool {
        let raw = self.record();
        let years = poshuk_core::BirthDate::parse_year_range(&raw.birth_date).is_some();
        matches!(
            crate::wire::record_from_wire(raw).search_advice(years),
            Some(poshuk_core::SearchAdvice::Thin(_))
        )
    }

    /// What the searcher typed for a field, to show beside its level.
    fn typed(&self, field: &str) -> String {
        let record = self.record();
        match field {
            "given_name" => record.given_name,
            // With the other surnames typed: the family name may have met
            // one of them.
            "family_name" => std::iter::once(record.family_name)
                .chain(record.other_names)
                .filter(|name| !name.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            "patronymic" => record.patronymic,
            "birth_date" => record.birth_date,
            "birth_place" => record.birth_place,
            "document" => record.document_ids.join(", "),
            _ => String::new(),
        }
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SearchSubmission {
    csrf: String,
    #[serde(flatten)]
    form: SearchForm,
}

impl pages::CsrfForm for SearchSubmission {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl pages::CsrfForm for ReviewForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn form_markup(lang: Lang, staff: &Staff, form: &SearchForm) -> Markup {
    let t = |text| lang.t(text);
    html! {
        form.card.search method="post" action=(paths::SEARCH) {
            input type="hidden" name="csrf" value=(staff.csrf);
            label for="full_name" { (t(Text::FullName)) }
            input id="full_name" name="full_name" type="text" value=(form.full_name)
                aria-describedby="full_name_hint" autocomplete="off" maxlength="200" autofocus;
            small id="full_name_hint" { (t(Text::FullNameHint)) }
            label for="other_names" { (t(Text::OtherNames)) }
            input id="other_names" name="other_names" type="text" value=(form.other_names)
                aria-describedby="other_names_hint" autocomplete="off" maxlength="200";
            small id="other_names_hint" { (t(Text::OtherNamesHint)) }
            label for="birth_date" { (t(Text::BirthDate)) }
            input id="birth_date" name="birth_date" type="text" value=(form.birth_date)
                aria-describedby="birth_date_hint" autocomplete="off" maxlength="40";
            small id="birth_date_hint" { (t(Text::BirthDateHint)) }
            label for="birth_place" { (t(Text::BirthPlace)) }
            input id="birth_place" name="birth_place" type="text" value=(form.birth_place) autocomplete="off" maxlength="200";
            label for="document" { (t(Text::Document)) }
            input id="document" name="document" type="text" value=(form.document) autocomplete="off" maxlength="100";
            label for="sex" { (t(Text::Sex)) }
            select id="sex" name="sex" {
                option value="" selected[form.sex.is_empty()] { (t(Text::Unknown)) }
                option value="f" selected[form.sex == "f"] { (t(Text::Female)) }
                option value="m" selected[form.sex == "m"] { (t(Text::Male)) }
            }
            button type="submit" { (t(Text::SearchButton)) }
        }
    }
}

/// `GET /ui/search`.
pub(crate) async fn search_page(staff: Staff, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    let body = form_markup(lang, &staff, &SearchForm::default());
    pages::layout(
        lang,
        lang.t(Text::Search),
        Some(&staff),
        paths::SEARCH,
        body,
    )
    .into_response()
}

/// `POST /ui/search`: searches the federation, keeps the results an hour
/// and shows them at their own address (so a review or a second tab shows
/// them again without searching again).
pub(crate) async fn search(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Form<SearchSubmission>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let submission = match pages::accepted(lang, &staff, form, paths::SEARCH) {
        Ok(submission) => submission,
        Err(page) => return *page,
    };
    let form = submission.form;
    let again = |message: &str, status: StatusCode| {
        let body = html! {
            p.problem role="alert" { (message) }
            (form_markup(lang, &staff, &form))
        };
        (
            status,
            pages::layout(
                lang,
                lang.t(Text::Search),
                Some(&staff),
                paths::SEARCH,
                body,
            ),
        )
            .into_response()
    };
    let checked = crate::service::search::query_record(form.record(), 20);
    let (record, years) = match checked {
        Ok(checked) => checked,
        Err(_) => return again(lang.t(form.refusal()), StatusCode::BAD_REQUEST),
    };
    let answer =
        match crate::service::search::search_federation(&state, record, years, 20, None).await {
            Ok(answer) => answer,
            Err(error) => {
                let status = if error.status.is_client_error() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::BAD_GATEWAY
                };
                return again(&error.message, status);
            }
        };
    let _ = web
        .store
        .note_search(&staff.name, answer.hits.len(), answer.partial);
    let per_partner: BTreeMap<&String, usize> = answer
        .partners
        .iter()
        .map(|(id, status)| (id, status.hits))
        .collect();
    let note = serde_json::json!({"hits": answer.hits.len(), "partners": per_partner, "partial": answer.partial});
    let id = web.save_search(SavedSearch {
        staff: staff.name.clone(),
        made: std::time::Instant::now(),
        form,
        answer,
    });
    let mut response = Redirect::to(&format!("/ui/search/{id}")).into_response();
    response.extensions_mut().insert(AuditNote(note));
    response
}

/// `GET /ui/search/{id}`: a kept search's results.
pub(crate) async fn search_result(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = Lang::of(&headers);
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let Some(saved) = web.saved_search(&id, &staff.name) else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NoSuchSearch,
            Some(paths::SEARCH),
        );
    };
    let body = results_markup(&state, lang, &staff, &id, &saved);
    let here = format!("/ui/search/{id}");
    pages::layout(lang, lang.t(Text::Results), Some(&staff), &here, body).into_response()
}

fn results_markup(
    state: &SharedState,
    lang: Lang,
    staff: &Staff,
    id: &str,
    saved: &SavedSearch,
) -> Markup {
    let t = |text| lang.t(text);
    let answer = &saved.answer;
    let silent: Vec<&String> = answer
        .partners
        .iter()
        .filter(|(_, status)| status.status != poshuk_protocol::PartnerOutcome::Ok)
        .map(|(id, _)| id)
        .collect();
    let mut by_partner: BTreeMap<(bool, &str), Vec<(usize, &FederatedHit)>> = BTreeMap::new();
    for (index, hit) in answer.hits.iter().enumerate() {
        by_partner
            .entry((!hit.own, hit.partner_name.as_str()))
            .or_default()
            .push((index, hit));
    }
    html! {
        @if !silent.is_empty() {
            p.problem role="alert" {
                (t(Text::PartnersDidNotAnswer)) " "
                @for (index, partner) in silent.iter().enumerate() {
                    @if index > 0 { ", " }
                    strong { (partner) }
                }
            }
        }
        (form_markup(lang, staff, &saved.form))
        @if saved.form.is_thin() {
            p.notice role="status" { (t(Text::AddMore)) }
        }
        @if answer.hits.is_empty() {
            p.notice role="status" { (t(Text::NoHits)) }
        }
        @for ((_, partner_name), hits) in &by_partner {
            section.partner {
                h2 { (partner_name) }
                @if let Some(contact) = hits.first().and_then(|(_, hit)| answer.contacts.get(&hit.partner)) {
                    @if !hits[0].1.own {
                        p { (t(Text::PartnerContact)) ": " (contact) }
                    }
                }
                @for (index, hit) in hits {
                    (hit_markup(state, lang, staff, id, *index, hit, &saved.form))
                }
            }
        }
    }
}

fn hit_markup(
    state: &SharedState,
    lang: Lang,
    staff: &Staff,
    search_id: &str,
    index: usize,
    hit: &FederatedHit,
    form: &SearchForm,
) -> Markup {
    let t = |text| lang.t(text);
    let review = state.web.as_ref().and_then(|web| {
        web.store
            .review(&hit.partner, &hit.handle.to_string())
            .ok()
            .flatten()
    });
    let anchor = format!("hit-{index}");
    html! {
        article.hit id=(anchor) {
            p {
                (pages::band(lang, hit.band))
                @if let Some(namesakes) = hit.namesakes.filter(|_| !hit.own) {
                    " " span.namesakes { (namesakes_text(lang, namesakes)) }
                }
            }
            @if hit.own {
                p {
                    strong { (t(Text::YourRecord)) } " · " (t(Text::CaseId)) ": "
                    strong.case { (hit.record_id.as_deref().unwrap_or("?")) }
                    " · " a href={ "/ui/record/" (hit.handle) } { (t(Text::OpenCase)) }
                }
            }
            @if hit.fields.is_empty() {
                @if !hit.own { p.muted { (t(Text::NoFieldDetails)) } }
            } @else {
                ul.fields {
                    @for compared in &hit.fields {
                        @let typed = form.typed(&compared.field);
                        li class={ "level-" (compared.level) } {
                            strong { (field(lang, &compared.field)) } ": " (level(lang, &compared.level))
                            @if !typed.is_empty() && compared.level != "missing" {
                                " (" (t(Text::YourQuery)) ": " (typed) ")"
                            }
                        }
                    }
                }
            }
            @if let Some(review) = &review {
                p.review {
                    (t(Text::Review)) ": " strong { (state_text(lang, review.state)) }
                    " · " (t(Text::ReviewedBy)) " " (review.staff) ", " (super::show_time(review.at))
                    @if !review.note.is_empty() { br; (t(Text::Note)) ": " (review.note) }
                }
            }
            @if !hit.own {
                form.review method="post" action=(paths::REVIEW) {
                    input type="hidden" name="csrf" value=(staff.csrf);
                    input type="hidden" name="search" value=(search_id);
                    input type="hidden" name="hit" value=(index);
                    fieldset {
                        legend { (t(Text::Review)) }
                        @for choice in [ReviewState::Confirmed, ReviewState::Rejected, ReviewState::ToCheck] {
                            @let input_id = format!("{}-{}", choice.name(), index);
                            label for=(input_id) {
                                input id=(input_id) type="radio" name="state" value=(choice.name())
                                    checked[review.as_ref().is_some_and(|r| r.state == choice)] required;
                                " " (state_text(lang, choice))
                            }
                        }
                        label for={ "note-" (index) } { (t(Text::Note)) }
                        input id={ "note-" (index) } name="note" type="text" maxlength="500"
                            value=(review.as_ref().map(|r| r.note.as_str()).unwrap_or(""));
                        button type="submit" { (t(Text::Save)) }
                    }
                }
                p { a.button href={ (paths::CONTACT_NEW) "?search=" (search_id) "&hit=" (index) } { (t(Text::AskForContact)) } }
            }
        }
    }
}

fn namesakes_text(lang: Lang, namesakes: poshuk_protocol::Namesakes) -> &'static str {
    lang.t(match namesakes {
        poshuk_protocol::Namesakes::One => Text::NamesakesOne,
        poshuk_protocol::Namesakes::Few => Text::NamesakesFew,
        poshuk_protocol::Namesakes::Many => Text::NamesakesMany,
    })
}

pub(crate) fn state_text(lang: Lang, state: ReviewState) -> &'static str {
    lang.t(match state {
        ReviewState::Confirmed => Text::Confirmed,
        ReviewState::Rejected => Text::Rejected,
        ReviewState::ToCheck => Text::ToCheck,
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct ReviewForm {
    csrf: String,
    search: String,
    hit: usize,
    state: String,
    #[serde(default)]
    note: String,
}

/// The hit `index` of a kept search of this staff member.
pub(crate) fn kept_hit(
    state: &SharedState,
    staff: &Staff,
    search: &str,
    index: usize,
) -> Option<FederatedHit> {
    state
        .web
        .as_ref()?
        .saved_search(search, &staff.name)?
        .answer
        .hits
        .get(index)
        .cloned()
}

/// `POST /ui/review`: staff mark a hit confirmed, rejected or to be
/// checked, with a note; kept in `node.db` and shown on later searches.
pub(crate) async fn review(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Form<ReviewForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let form = match pages::accepted(lang, &staff, form, paths::SEARCH) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let (Some(hit), Some(decision), Some(web)) = (
        kept_hit(&state, &staff, &form.search, form.hit),
        ReviewState::parse(&form.state),
        state.web.as_ref(),
    ) else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NoSuchSearch,
            Some(paths::SEARCH),
        );
    };
    if form.note.chars().count() > 500 {
        return pages::problem(
            lang,
            StatusCode::BAD_REQUEST,
            Text::TooLong,
            Some(paths::SEARCH),
        );
    }
    let review = Review {
        partner: hit.partner.clone(),
        handle: hit.handle.to_string(),
        state: decision,
        note: form.note.trim().to_string(),
        staff: staff.name.clone(),
        at: now(),
    };
    if web.store.put_review(&review).is_err() {
        return pages::problem(
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            Text::SomethingFailed,
            Some(paths::SEARCH),
        );
    }
    let mut response =
        Redirect::to(&format!("/ui/search/{}#hit-{}", form.search, form.hit)).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(serde_json::json!({
            "review": decision.name(),
            "partner": hit.partner,
        })));
    response
}

/// `GET /ui/record/{handle}`: one of this partner's own records, by its
/// handle: the case id (resolved here, never sent anywhere) and the link
/// to it in the partner's case system. Another partner's handle is refused.
pub(crate) async fn record(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    Path(handle): Path<String>,
) -> Response {
    let lang = Lang::of(&headers);
    let refused = || {
        pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::NotYourRecord,
            Some(paths::SEARCH),
        )
    };
    let Ok(handle) = handle.parse::<Handle>() else {
        return refused();
    };
    let Some(case_id) = resolve(&state, handle).await else {
        return refused();
    };
    let t = |text| lang.t(text);
    let link = state
        .web
        .as_ref()
        .and_then(|web| web.config.case_link.as_ref())
        .map(|template| template.replace("{id}", &percent_encode(&case_id)));
    let body = html! {
        dl.card {
            dt { (t(Text::CaseId)) }
            dd { strong.case { (case_id) } }
            @if let Some(link) = link {
                dt { (t(Text::OpenCase)) }
                dd { a href=(link) rel="noreferrer" { (link) } }
            }
        }
    };
    let here = format!("/ui/record/{handle}");
    let mut response =
        pages::layout(lang, t(Text::YourRecord), Some(&staff), &here, body).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(serde_json::json!({"resolved": true})));
    response
}

/// This partner's case id behind one of its handles.
pub(crate) async fn resolve(state: &SharedState, handle: Handle) -> Option<String> {
    let worker = state.clone();
    tokio::task::spawn_blocking(move || worker.generations.resolve(&handle.0))
        .await
        .ok()?
        .ok()?
}

/// A case id made safe for a URL's path.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(full_name: &str, birth_date: &str, place: &str) -> SearchForm {
        SearchForm {
            full_name: full_name.into(),
            birth_date: birth_date.into(),
            birth_place: place.into(),
            ..SearchForm::default()
        }
    }

    #[test]
    fn other_surnames_typed_on_the_page_go_into_the_query() {
        let typed = SearchForm {
            other_names: " Хомський; Lozovskyi ,".into(),
            ..form("Снігурак Андрій", "2016", "")
        };
        assert_eq!(typed.record().other_names, ["Хомський", "Lozovskyi"]);
        // Shown beside the family name's level, which may have met one.
        assert_eq!(typed.typed("family_name"), "Снігурак; Хомський; Lozovskyi");
        // Beyond the bounds, the page says so, not "give a name".
        let many = SearchForm {
            other_names: ["Хомський"; 9].join("; "),
            ..form("Снігурак Андрій", "2016", "")
        };
        assert!(crate::service::search::query_record(many.record(), 20).is_err());
        assert_eq!(many.refusal(), Text::OtherNamesTooMany);
        // The words give the bounds the search holds.
        let said = crate::service::web::i18n::Lang::En.t(Text::OtherNamesTooMany);
        assert!(
            said.contains(&format!(
                "At most {} ",
                crate::service::search::MAX_OTHER_NAMES
            )),
            "{said}"
        );
        assert_eq!(form("", "2016", "").refusal(), Text::NeedAName);
        assert!(
            form("Снігурак Андрій", "2016", "")
                .record()
                .other_names
                .is_empty()
        );
    }

    #[test]
    fn a_name_with_only_a_year_is_told_what_to_add() {
        assert!(form("Oliinyk Hlib", "2016", "").is_thin());
        assert!(form("Oliinyk Hlib", "2010-2014", "").is_thin());
        assert!(!form("Oliinyk Hlib", "2016-03-15", "").is_thin());
        assert!(!form("Oliinyk Hlib", "2016", "Mariupol").is_thin());
        assert!(!form("Oliinyk Hlib Petrovych", "2016", "").is_thin());
    }
}
