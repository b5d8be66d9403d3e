//! The overview: this node's records and key epochs, the partners the
//! coordinator last heard from, and recent searches by this node's staff
//! (an admin sees everyone's, a searcher their own; never the query).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{Lang, SharedState, Staff, Text, pages, paths};
use crate::store::Role;

/// Partners online and in all, as the coordinator last polled them.
async fn partners_online(state: &SharedState) -> Option<(usize, usize)> {
    let link = state.coordinator.as_ref()?;
    let status: std::collections::BTreeMap<String, serde_json::Value> = link
        .client()
        .get_json(
            poshuk_protocol::routes::coordinator::FEDERATION_STATUS,
            "federation status",
        )
        .await
        .ok()?;
    let online = status.values().filter(|value| !value.is_null()).count();
    Some((online, status.len()))
}

/// `GET /ui/`.
pub(crate) async fn overview(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let t = |text| lang.t(text);
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let worker = state.clone();
    let records = tokio::task::spawn_blocking(move || worker.record_count())
        .await
        .unwrap_or(0);
    let epochs: Vec<String> = state
        .generations
        .served_epochs()
        .iter()
        .map(|epoch| epoch.0.to_string())
        .collect();
    let online = partners_online(&state).await;
    let whose = (staff.role != Role::Admin).then_some(staff.name.as_str());
    let searches = web.store.recent_searches(whose, 20).unwrap_or_default();
    let body = html! {
        dl.figures {
            div { dt { (t(Text::Records)) } dd { (records) } }
            div { dt { (t(Text::Epochs)) } dd { (epochs.join(", ")) } }
            div {
                dt { (t(Text::PartnersOnline)) }
                dd {
                    @match online {
                        Some((online, all)) => { (online) " / " (all) }
                        None => { "—" }
                    }
                }
            }
        }
        @if online.is_none() { p.problem role="alert" { (t(Text::CoordinatorUnreachable)) } }
        section {
            h2 { (t(Text::RecentSearches)) }
            @if searches.is_empty() {
                p.muted { (t(Text::NoContacts)) }
            } @else {
                div.scroll {
                    table {
                        thead { tr {
                            th scope="col" { (t(Text::When)) }
                            th scope="col" { (t(Text::Staff)) }
                            th scope="col" { (t(Text::Hits)) }
                        } }
                        tbody {
                            @for search in &searches {
                                tr {
                                    td { (super::show_time(search.at)) }
                                    td { (search.staff) }
                                    td { (search.hits) @if search.partial { " (" (t(Text::Partial)) ")" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a.button href=(paths::SEARCH) { (t(Text::Search)) } }
    };
    pages::layout(lang, t(Text::Overview), Some(&staff), paths::HOME, body).into_response()
}
