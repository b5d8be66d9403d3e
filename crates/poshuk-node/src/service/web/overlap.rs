//! The overlap page: staff upload their case export (CSV, Excel,
//! OpenDocument or JSON lines, read as `poshuk ingest` reads it); the node
//! searches the federation for every case in the background and keeps the
//! hits in `node.db`; the page shows how many cases each partner also
//! knows, by band, as a chart, what reviews already decided (a rejected
//! pair is not counted as new again), and offers the per-case report as
//! an `.xlsx` workbook. The upload itself is read in memory and a private
//! temporary file, never kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use poshuk_protocol::Band;

use super::{Lang, SharedState, Staff, Text, pages, paths};
use crate::service::audit::AuditNote;
use crate::store::{OverlapHit, OverlapRun, ReviewState};

/// The most cases one upload may hold: a larger list is an agreed overlap
/// run for the command line (`poshuk overlap`), within the coordinator's
/// daily quota.
pub(crate) const MAX_OVERLAP_CASES: usize = 5000;
/// The largest upload.
pub(crate) const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Searches in flight at once during a run.
const CONCURRENCY: usize = 4;

/// What the page counts for one partner: cases with a strong or possible
/// hit there, and of those, how many reviews confirmed or rejected.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct PartnerOverlap {
    pub(crate) name: String,
    pub(crate) strong: usize,
    pub(crate) possible: usize,
    pub(crate) confirmed: usize,
    pub(crate) rejected: usize,
}

impl PartnerOverlap {
    /// Cases not yet decided by a review.
    pub(crate) fn new_cases(&self) -> usize {
        (self.strong + self.possible).saturating_sub(self.confirmed + self.rejected)
    }
}

/// Whom a hit is counted under: its partner, or, for an anonymous
/// partner's (a pseudonym of one search), all anonymous partners together:
/// their hits cannot be told apart, by design.
fn counted_under(partner: &str) -> &str {
    if partner.starts_with("anon-") {
        "anon-"
    } else {
        partner
    }
}

/// Counts a run's hits per partner: each case once, at its best band; a
/// case whose hit there was reviewed counts as confirmed or rejected.
pub(crate) fn summarize(
    hits: &[OverlapHit],
    review: impl Fn(&str, &str) -> Option<ReviewState>,
) -> BTreeMap<String, PartnerOverlap> {
    let mut best: BTreeMap<(&str, &str), (&OverlapHit, Option<ReviewState>)> = BTreeMap::new();
    for hit in hits {
        let decided = review(&hit.partner, &hit.handle);
        let entry = best
            .entry((counted_under(&hit.partner), hit.case_id.as_str()))
            .or_insert((hit, decided));
        let stronger = hit.band == "strong" && entry.0.band != "strong";
        if stronger {
            *entry = (hit, decided.or(entry.1));
        } else if entry.1.is_none() {
            entry.1 = decided;
        }
    }
    let mut partners: BTreeMap<String, PartnerOverlap> = BTreeMap::new();
    for ((partner, _), (hit, decided)) in best {
        let counts = partners.entry(partner.to_string()).or_default();
        counts.name = hit.partner_name.clone();
        if hit.band == "strong" {
            counts.strong += 1;
        } else {
            counts.possible += 1;
        }
        match decided {
            Some(ReviewState::Confirmed) => counts.confirmed += 1,
            Some(ReviewState::Rejected) => counts.rejected += 1,
            _ => {}
        }
    }
    partners
}

/// A bar chart of cases per partner, strong and possible stacked, as inline
/// SVG (attributes, not styles: the page's CSP allows no inline style).
fn chart(lang: Lang, partners: &BTreeMap<String, PartnerOverlap>) -> Markup {
    let most = partners
        .values()
        .map(|counts| counts.strong + counts.possible)
        .max()
        .unwrap_or(0)
        .max(1);
    let row_height = 34;
    let height = row_height * partners.len() + 30;
    let width = |count: usize| count * 460 / most;
    html! {
        svg.chart role="img" width="100%" viewBox={ "0 0 720 " (height) } aria-labelledby="chart-title" {
            title id="chart-title" { (lang.t(Text::OverlapChart)) }
            @for (index, counts) in partners.values().enumerate() {
                @let y = index * row_height + 4;
                text x="0" y=(y + 18) font-size="14" fill="#1d232b" { (counts.name) }
                rect x="200" y=(y) width=(width(counts.strong)) height="24" fill="#0d6b32" {}
                rect x=(200 + width(counts.strong)) y=(y) width=(width(counts.possible)) height="24" fill="#c98a00" {}
                text x=(206 + width(counts.strong + counts.possible)) y=(y + 18) font-size="14" fill="#1d232b" {
                    (counts.strong) " + " (counts.possible)
                }
            }
            @let legend = height - 8;
            rect x="200" y=(legend - 12) width="14" height="14" fill="#0d6b32" {}
            text x="220" y=(legend) font-size="13" fill="#1d232b" { (lang.t(Text::Strong)) }
            rect x="320" y=(legend - 12) width="14" height="14" fill="#c98a00" {}
            text x="340" y=(legend) font-size="13" fill="#1d232b" { (lang.t(Text::Possible)) }
        }
    }
}

fn status_words(lang: Lang, run: &OverlapRun) -> String {
    match run.status.as_str() {
        "running" => format!(
            "{} {} / {}",
            lang.t(Text::OverlapRunning),
            run.searched,
            run.cases
        ),
        "done" => lang.t(Text::OverlapDone).to_string(),
        "interrupted" => lang.t(Text::OverlapInterrupted).to_string(),
        other => format!("{}: {other}", lang.t(Text::OverlapStopped)),
    }
}

/// `GET /ui/overlap`: the latest run (or none) and the upload form.
pub(crate) async fn overlap_page(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let t = |text| lang.t(text);
    let Some(web) = state.web.as_ref() else {
        return pages::problem(lang, StatusCode::NOT_FOUND, Text::NotFound, None);
    };
    let latest = web.store.latest_overlap().ok().flatten();
    let body = html! {
        p { (t(Text::OverlapIntro)) }
        @match &latest {
            None => { p.muted { (t(Text::OverlapNone)) } }
            Some((run, hits)) => {
                @let partners = summarize(hits, |partner, handle| {
                    web.store.review(partner, handle).ok().flatten().map(|review| review.state)
                });
                section.card {
                    p.status role="status" { strong { (status_words(lang, run)) } }
                    p {
                        (t(Text::CasesRead)) ": " strong { (run.cases) }
                        " · " (t(Text::OverlapNotSearchable)) ": " (run.not_searchable)
                        " · " (t(Text::RowsRejected)) ": " (run.rows_rejected)
                        " · " (t(Text::Staff)) ": " (run.staff) ", " (super::show_time(run.started))
                    }
                    @if run.partial_cases > 0 {
                        p.problem role="alert" {
                            (t(Text::OverlapPartial)) " " (run.partial_cases)
                            @if !run.silent.is_empty() { " — " (run.silent) }
                        }
                    }
                    @if run.status == "running" {
                        p { a.button href=(paths::OVERLAP) { (t(Text::Refresh)) } }
                    }
                    @if partners.is_empty() {
                        p.muted { (t(Text::NoHits)) }
                    } @else {
                        (chart(lang, &partners))
                        div.scroll {
                            table {
                                thead { tr {
                                    th scope="col" { (t(Text::Partner)) }
                                    th scope="col" { (t(Text::Strong)) }
                                    th scope="col" { (t(Text::Possible)) }
                                    th scope="col" { (t(Text::Confirmed)) }
                                    th scope="col" { (t(Text::Rejected)) }
                                    th scope="col" { (t(Text::New)) }
                                } }
                                tbody {
                                    @for counts in partners.values() {
                                        tr {
                                            td { (counts.name) }
                                            td { (counts.strong) }
                                            td { (counts.possible) }
                                            td { (counts.confirmed) }
                                            td { (counts.rejected) }
                                            td { strong { (counts.new_cases()) } }
                                        }
                                    }
                                }
                            }
                        }
                        p { a.button href=(paths::OVERLAP_REPORT) download="overlap.xlsx" { (t(Text::OverlapDownload)) } }
                    }
                }
            }
        }
        form.card method="post" action=(paths::OVERLAP) enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(staff.csrf);
            label for="export" { (t(Text::OverlapUpload)) }
            input id="export" name="export" type="file" accept=".csv,.txt,.tsv,.xlsx,.xls,.ods,.jsonl" required;
            small { (PreEscaped(format!("{} {MAX_OVERLAP_CASES}", t(Text::OverlapLimit)))) }
            button type="submit" { (t(Text::OverlapRun)) }
        }
    };
    pages::layout(lang, t(Text::Overlap), Some(&staff), paths::OVERLAP, body).into_response()
}

/// The most a workbook upload may unpack to (a workbook of 5,000 cases
/// unpacks to a few megabytes).
const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;

/// What a zip says its entries unpack to; `u64::MAX` when it is no zip
/// (the reader then refuses it with its own message) or says too much.
fn unpacked_size(bytes: &[u8]) -> u64 {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return 0;
    };
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        match archive.by_index_raw(index) {
            Ok(entry) => total = total.saturating_add(entry.size()),
            Err(_) => return u64::MAX,
        }
    }
    total
}

/// The file extensions an export may have (the reader goes by them).
const EXTENSIONS: [&str; 7] = ["csv", "txt", "tsv", "xlsx", "xls", "ods", "jsonl"];

/// `POST /ui/overlap`: reads the uploaded export and starts the run.
pub(crate) async fn start_overlap(
    State(state): State<SharedState>,
    staff: Staff,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let fail = |status, text| pages::problem(lang, status, text, Some(paths::OVERLAP));
    let Some(web) = state.web.as_ref() else {
        return fail(StatusCode::NOT_FOUND, Text::NotFound);
    };
    let Ok(mut multipart) = multipart else {
        return fail(StatusCode::BAD_REQUEST, Text::FormExpired);
    };
    let (mut csrf, mut upload) = (String::new(), None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return fail(StatusCode::PAYLOAD_TOO_LARGE, Text::OverlapTooLarge);
            }
            Err(_) => return fail(StatusCode::BAD_REQUEST, Text::FormExpired),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("export") => {
                let extension = field
                    .file_name()
                    .and_then(|name| name.rsplit_once('.'))
                    .map(|(_, extension)| extension.to_ascii_lowercase())
                    .unwrap_or_default();
                match field.bytes().await {
                    Ok(bytes) => upload = Some((extension, bytes)),
                    Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return fail(StatusCode::PAYLOAD_TOO_LARGE, Text::OverlapTooLarge);
                    }
                    Err(_) => return fail(StatusCode::BAD_REQUEST, Text::FormExpired),
                }
            }
            _ => {}
        }
    }
    if !staff.csrf_matches(&csrf) {
        return fail(StatusCode::FORBIDDEN, Text::FormExpired);
    }
    let Some((extension, bytes)) = upload.filter(|(_, bytes)| !bytes.is_empty()) else {
        return fail(StatusCode::BAD_REQUEST, Text::Empty);
    };
    if !EXTENSIONS.contains(&extension.as_str()) {
        return fail(StatusCode::UNSUPPORTED_MEDIA_TYPE, Text::OverlapFormat);
    }
    if web
        .store
        .latest_overlap()
        .ok()
        .flatten()
        .is_some_and(|(run, _)| run.status == "running")
    {
        return fail(StatusCode::CONFLICT, Text::OverlapBusy);
    }
    // A workbook is a zip: a small upload may unpack to far more than a
    // list of 5,000 cases needs. Refused before anything is read.
    if matches!(extension.as_str(), "xlsx" | "ods") && unpacked_size(&bytes) > MAX_UNPACKED_BYTES {
        return fail(StatusCode::PAYLOAD_TOO_LARGE, Text::OverlapTooLarge);
    }
    let data_dir = state.generations.data_dir().to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> Result<_, String> {
        // The upload is a list of names in the clear: it never touches the
        // disk. It is held in an anonymous file in memory (memfd), which the
        // reader opens through a link named with the right extension (the
        // reader goes by the name and may seek); the link holds no data.
        let memory = rustix::fs::memfd_create("poshuk-upload", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|error| error.to_string())?;
        let mut file = std::fs::File::from(memory);
        std::io::Write::write_all(&mut file, &bytes).map_err(|error| error.to_string())?;
        let target = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|error| error.to_string())?;
        let link = data_dir.join(format!("upload-{}.{extension}", hex::encode(random)));
        std::os::unix::fs::symlink(&target, &link).map_err(|error| error.to_string())?;
        struct Unlink(std::path::PathBuf);
        impl Drop for Unlink {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let link = Unlink(link);
        let options = poshuk_records::ReadOptions {
            source_name: Some(format!("upload.{extension}")),
            ..Default::default()
        };
        let read = poshuk_records::read_file(&link.0, &options).map_err(|error| error.to_string());
        drop(file);
        read
    })
    .await;
    let outcome = match read {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(message)) => {
            return pages::problem_message(
                lang,
                StatusCode::BAD_REQUEST,
                &message,
                Some(paths::OVERLAP),
            );
        }
        Err(_) => return fail(StatusCode::INTERNAL_SERVER_ERROR, Text::SomethingFailed),
    };
    if outcome.records.len() > MAX_OVERLAP_CASES {
        return fail(StatusCode::PAYLOAD_TOO_LARGE, Text::OverlapTooMany);
    }
    let rejected = outcome
        .problems
        .iter()
        .filter(|problem| problem.severity == poshuk_records::Severity::Rejected)
        .count();
    let records: Vec<poshuk_core::Record> = outcome
        .records
        .into_iter()
        .map(|read| read.record)
        .collect();
    let Ok(run) = web
        .store
        .start_overlap(&staff.name, records.len(), rejected)
    else {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, Text::SomethingFailed);
    };
    let cases = records.len();
    tokio::spawn(run_overlap(state.clone(), run, records));
    let mut response = Redirect::to(paths::OVERLAP).into_response();
    response
        .extensions_mut()
        .insert(AuditNote(serde_json::json!({
            "overlap_run": run,
            "cases": cases,
        })));
    response
}

/// How long a case waits before it is searched again after the
/// coordinator's per-minute limit, and how often it may wait.
const RATE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const RATE_WAITS: usize = 60;

/// What the run has learned of partners that did not answer, by partner:
/// how (`limited`, `timed_out`, ...).
type Silent = Arc<std::sync::Mutex<BTreeMap<String, String>>>;

/// Searches every case of a run, [`CONCURRENCY`] at a time, keeping each
/// case's hits at other partners. A case searched while a partner did not
/// answer is counted as partial, and the partner named: its "no hit" is
/// not "not known". The coordinator's per-minute limit is waited out; a
/// refusal that would refuse the rest too (the daily quota, no
/// coordinator) stops the run and says why.
async fn run_overlap(state: SharedState, run: i64, records: Vec<poshuk_core::Record>) {
    let Some(web) = state.web.as_ref() else {
        return;
    };
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let stop: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let silent: Silent = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for record in records {
        let Ok(permit) = semaphore.clone().acquire_owned().await else {
            break;
        };
        if stop.lock().map(|stopped| stopped.is_some()).unwrap_or(true) {
            break;
        }
        let (state, stop, silent) = (state.clone(), stop.clone(), silent.clone());
        tasks.spawn(async move {
            let _permit = permit;
            if let Err(reason) = search_case(&state, run, record, &silent).await
                && let Ok(mut stopped) = stop.lock()
            {
                stopped.get_or_insert(reason);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let status = stop
        .lock()
        .ok()
        .and_then(|stopped| stopped.clone())
        .unwrap_or_else(|| "done".to_string());
    let silent = silent
        .lock()
        .map(|silent| {
            silent
                .iter()
                .map(|(partner, how)| match partner.as_str() {
                    "anon-" => format!("a partner of the federation ({how})"),
                    _ => format!("{partner} ({how})"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let _ = web.store.finish_overlap(run, &status, &silent);
}

/// Searches one case and records it; `Err` with the reason when the run
/// must stop.
async fn search_case(
    state: &SharedState,
    run: i64,
    record: poshuk_core::Record,
    silent: &Silent,
) -> Result<(), String> {
    let Some(web) = state.web.as_ref() else {
        return Ok(());
    };
    let case_id = record.record_id.clone();
    if !record.is_identifiable() {
        let _ = web.store.add_overlap_case(run, false, false, &[]);
        return Ok(());
    }
    let mut waits = 0;
    let answer = loop {
        match crate::service::search::search_federation(state, record.clone(), Vec::new(), 10, None)
            .await
        {
            Ok(answer) => break answer,
            Err(error)
                if matches!(error.code, "rate_limited" | "too_many_in_flight")
                    && waits < RATE_WAITS =>
            {
                waits += 1;
                tokio::time::sleep(RATE_WAIT).await;
            }
            // Too little to name a person (refused here, 422, or by the
            // coordinator, 400): counted, and the run goes on.
            Err(error)
                if matches!(
                    error.status,
                    StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
                ) =>
            {
                let _ = web.store.add_overlap_case(run, false, false, &[]);
                return Ok(());
            }
            Err(error) => return Err(error.message),
        }
    };
    let mut partial = false;
    if let Ok(mut silent) = silent.lock() {
        for (partner, status) in &answer.partners {
            if status.status != poshuk_protocol::PartnerOutcome::Ok {
                partial = true;
                let how = serde_json::to_value(status.status)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default();
                silent.insert(counted_under(partner).to_string(), how);
            }
        }
    }
    let hits: Vec<OverlapHit> = answer
        .hits
        .iter()
        .filter(|hit| !hit.own && matches!(hit.band, Band::Strong | Band::Possible))
        .map(|hit| OverlapHit {
            case_id: case_id.clone(),
            partner: hit.partner.clone(),
            partner_name: hit.partner_name.clone(),
            handle: hit.handle.to_string(),
            band: hit.band.name().to_string(),
            score: hit.score,
        })
        .collect();
    let _ = web.store.add_overlap_case(run, true, partial, &hits);
    Ok(())
}

/// `GET /ui/overlap/report.xlsx`: the latest run, a row per case and
/// partner, with the review state; and the per-partner summary.
pub(crate) async fn overlap_report(
    State(state): State<SharedState>,
    _staff: Staff,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    let Some((_, hits)) = state
        .web
        .as_ref()
        .and_then(|web| web.store.latest_overlap().ok().flatten())
    else {
        return pages::problem(
            lang,
            StatusCode::NOT_FOUND,
            Text::OverlapNone,
            Some(paths::OVERLAP),
        );
    };
    let review = |partner: &str, handle: &str| {
        state
            .web
            .as_ref()
            .and_then(|web| web.store.review(partner, handle).ok().flatten())
            .map(|review| review.state)
    };
    match workbook(lang, &hits, review) {
        Ok(bytes) => {
            let mut response = (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"overlap.xlsx\"",
                    ),
                ],
                bytes,
            )
                .into_response();
            response
                .extensions_mut()
                .insert(AuditNote(serde_json::json!({"overlap_report": hits.len()})));
            response
        }
        Err(_) => pages::problem(
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            Text::SomethingFailed,
            Some(paths::OVERLAP),
        ),
    }
}

fn review_words(lang: Lang, state: Option<ReviewState>) -> &'static str {
    match state {
        Some(state) => super::search::state_text(lang, state),
        None => lang.t(Text::New),
    }
}

/// The report as an `.xlsx` workbook; every value written as text, never a
/// formula (a case id `=HYPERLINK(...)` stays text).
fn workbook(
    lang: Lang,
    hits: &[OverlapHit],
    review: impl Fn(&str, &str) -> Option<ReviewState>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let cases = book.add_worksheet();
    cases.set_name(lang.t(Text::OverlapSheetCases))?;
    let header = [
        lang.t(Text::CaseId),
        lang.t(Text::Partner),
        "handle",
        lang.t(Text::Match),
        "score",
        lang.t(Text::Review),
    ];
    for (column, name) in header.iter().enumerate() {
        cases.write_string_with_format(0, column as u16, *name, &bold)?;
    }
    for (index, hit) in hits.iter().enumerate() {
        let row = index as u32 + 1;
        let band = if hit.band == "strong" {
            Text::Strong
        } else {
            Text::Possible
        };
        cases.write_string(row, 0, &hit.case_id)?;
        cases.write_string(row, 1, &hit.partner_name)?;
        cases.write_string(row, 2, &hit.handle)?;
        cases.write_string(row, 3, lang.t(band))?;
        cases.write_number(row, 4, hit.score)?;
        cases.write_string(
            row,
            5,
            review_words(lang, review(&hit.partner, &hit.handle)),
        )?;
    }
    cases.autofit();
    let summary = book.add_worksheet();
    summary.set_name(lang.t(Text::OverlapSheetPartners))?;
    let header = [
        lang.t(Text::Partner),
        lang.t(Text::Strong),
        lang.t(Text::Possible),
        lang.t(Text::Confirmed),
        lang.t(Text::Rejected),
        lang.t(Text::New),
    ];
    for (column, name) in header.iter().enumerate() {
        summary.write_string_with_format(0, column as u16, *name, &bold)?;
    }
    let partners = summarize(hits, &review);
    for (index, counts) in partners.values().enumerate() {
        let row = index as u32 + 1;
        summary.write_string(row, 0, &counts.name)?;
        for (column, value) in [
            counts.strong,
            counts.possible,
            counts.confirmed,
            counts.rejected,
            counts.new_cases(),
        ]
        .into_iter()
        .enumerate()
        {
            summary.write_number(row, column as u16 + 1, value as f64)?;
        }
    }
    summary.autofit();
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn hit(case: &str, partner: &str, handle: &str, band: &str) -> OverlapHit {
        OverlapHit {
            case_id: case.into(),
            partner: partner.into(),
            partner_name: partner.to_uppercase(),
            handle: handle.into(),
            band: band.into(),
            score: 0.9,
        }
    }

    #[test]
    fn each_case_counts_once_per_partner_and_reviews_take_cases_out_of_new() {
        let hits = [
            hit("C1", "b", "h1", "possible"),
            hit("C1", "b", "h2", "strong"),
            hit("C2", "b", "h3", "possible"),
            hit("C3", "b", "h4", "strong"),
            hit("C1", "c", "h5", "strong"),
        ];
        let reviews = |partner: &str, handle: &str| match (partner, handle) {
            ("b", "h3") => Some(ReviewState::Rejected),
            ("b", "h4") => Some(ReviewState::Confirmed),
            _ => None,
        };
        let partners = summarize(&hits, reviews);
        let b = &partners["b"];
        assert_eq!((b.strong, b.possible), (2, 1), "C1 counts once, as strong");
        assert_eq!((b.confirmed, b.rejected, b.new_cases()), (1, 1, 1));
        assert_eq!(partners["c"].strong, 1);
        let names: BTreeSet<&str> = partners.values().map(|p| p.name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["B", "C"]));
    }

    #[test]
    fn anonymous_partners_hits_are_counted_together_not_per_pseudonym() {
        // Each search gives an anonymous partner a new pseudonym.
        let hits = [
            hit("C1", "anon-1a", "h1", "strong"),
            hit("C2", "anon-2b", "h2", "possible"),
            hit("C2", "anon-3c", "h3", "strong"),
        ];
        let partners = summarize(&hits, |_, _| None);
        assert_eq!(
            partners.len(),
            1,
            "{:?}",
            partners.keys().collect::<Vec<_>>()
        );
        let anonymous = &partners["anon-"];
        assert_eq!((anonymous.strong, anonymous.possible), (2, 0));
    }

    #[test]
    fn a_workbook_that_unpacks_to_too_much_is_measured_before_it_is_read() {
        use std::io::Write;
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut writer = zip::ZipWriter::new(&mut buffer);
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            writer
                .start_file("xl/worksheets/sheet1.xml", stored)
                .expect("entry");
            writer
                .write_all(&vec![b' '; MAX_UNPACKED_BYTES as usize + 1])
                .expect("writes");
            writer.finish().expect("finishes");
        }
        assert!(unpacked_size(buffer.get_ref()) > MAX_UNPACKED_BYTES);
        assert_eq!(
            unpacked_size(b"name,date\n"),
            0,
            "not a zip: left to the reader"
        );
    }

    #[test]
    fn the_workbook_keeps_formulas_as_text() {
        let hits = [hit("=HYPERLINK(\"http://x\")", "b", "h1", "strong")];
        let bytes = workbook(Lang::En, &hits, |_, _| None).expect("writes");
        assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
        let mut archive = zip_entries(&bytes);
        assert!(
            !archive.any(|entry| entry.contains("<f>")),
            "a cell became a formula"
        );
    }

    /// The XML parts of a workbook, inflated (the test reads them as text).
    fn zip_entries(bytes: &[u8]) -> impl Iterator<Item = String> {
        let mut reader = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
        let mut parts = Vec::new();
        for index in 0..reader.len() {
            let mut entry = reader.by_index(index).expect("an entry");
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut entry, &mut text);
            parts.push(text);
        }
        parts.into_iter()
    }
}
