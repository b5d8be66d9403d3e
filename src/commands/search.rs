//! `poshuk search` and `poshuk overlap`: searches across the federation
//! through one's own node (which tokenizes; raw fields go no further).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use poshuk_protocol::routes::local;
use poshuk_protocol::{Band, FederatedResponse, FederatedSearch, RawRecord};
use poshuk_records::read_file;

use crate::commands::http::{LocalNeed, NodeAccess, Server};
use crate::commands::reading::{ReadingArgs, print_read_summary};
use crate::commands::report::{Table, write_report};

#[derive(Args)]
pub(crate) struct SearchArgs {
    #[command(flatten)]
    node: NodeAccess,
    /// The whole name in one (a passport line, ПІБ): family, given and
    /// patronymic in the official order, or given name first.
    #[arg(long, conflicts_with_all = ["given", "family"])]
    name: Option<String>,
    /// Given name (any script).
    #[arg(long)]
    given: Option<String>,
    /// Family name (any script).
    #[arg(long)]
    family: Option<String>,
    /// Patronymic.
    #[arg(long)]
    patronymic: Option<String>,
    /// Other names (former, adoptive surnames), `;`-separated.
    #[arg(long)]
    other_names: Option<String>,
    /// Sex (M/F).
    #[arg(long)]
    sex: Option<String>,
    /// Birth date (YYYY-MM-DD, YYYY-MM, YYYY, DD.MM.YYYY), or a range of
    /// years when it is not known (2010-2014, ~2012 for a year either side).
    #[arg(long)]
    birth_date: Option<String>,
    /// Birth place.
    #[arg(long)]
    birth_place: Option<String>,
    /// Document number.
    #[arg(long)]
    document: Option<String>,
    /// Queries from a file with the ingest columns instead (CSV, xlsx, JSONL).
    #[arg(long, conflicts_with_all = ["name", "given", "family", "patronymic", "other_names", "birth_date", "birth_place", "document"])]
    batch: Option<PathBuf>,
    /// Where to write the batch's answers: JSON lines, or an Excel workbook
    /// (one row per hit) when the name ends in .xlsx (standard output if
    /// absent).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    /// Hits per query at most.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Queries in flight at once (batch).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Search only these partners (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    partners: Option<Vec<String>>,
}

#[derive(Args)]
pub(crate) struct OverlapArgs {
    /// Your case export (the file you ingested).
    #[arg(required_unless_present = "answer")]
    input: Option<PathBuf>,
    #[command(flatten)]
    node: NodeAccess,
    /// Take part without a node: the config of a partner that runs none
    /// (partner_id, keyring, identity, [coordinator]; see
    /// docs/clandestine.md). The list is tokenized here; the cases are asked
    /// through the coordinator, or sealed to one partner with --sealed-to.
    #[arg(long, value_name = "CONFIG")]
    offline: Option<PathBuf>,
    /// With --offline: write the cases' token queries into a file (-o)
    /// sealed to this partner's public key (age1...), for it to answer with
    /// `poshuk overlap --answer`.
    #[arg(long, requires = "offline", value_name = "AGE_PUBLIC_KEY")]
    sealed_to: Option<String>,
    /// With --offline: read a partner's sealed reply to a request made of
    /// this list: the report as if asked through the coordinator.
    #[arg(
        long,
        requires = "offline",
        conflicts_with = "sealed_to",
        value_name = "REPLY"
    )]
    read: Option<PathBuf>,
    /// At a partner with a node: answer a sealed request of a partner
    /// without one with your node (--node), sealing the reply (-o) to it.
    #[arg(long, conflicts_with = "offline", value_name = "REQUEST")]
    answer: Option<PathBuf>,
    /// The per-case report to write: an Excel workbook when the name ends
    /// in .xlsx (a sheet of hits per case, a sheet per partner), CSV
    /// otherwise (record_id, your names and date, partner, handle, score,
    /// band, why: each field's level in words when the partner shares them).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Start the CSV with a byte-order mark, so that Excel reads it as UTF-8.
    #[arg(long)]
    bom: bool,
    /// Queries in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    #[command(flatten)]
    reading: ReadingArgs,
}

/// One federated search through a node's local API.
pub(crate) fn federated_search(
    node: &Server,
    record: RawRecord,
    limit: usize,
    partners: Option<Vec<String>>,
) -> anyhow::Result<FederatedResponse> {
    let search = FederatedSearch {
        record,
        limit,
        partners,
    };
    node.post(local::FEDERATED_SEARCH, &search)
}

/// The searcher's own node: a search waits at most for the coordinator's
/// deadline and the node's own work.
pub(crate) fn searcher_node(access: &NodeAccess) -> anyhow::Result<Server> {
    Server::node(access, LocalNeed::Search, Duration::from_secs(30))
}

/// A cell padded to `width` characters (not bytes: names are Cyrillic).
fn padded(text: &str, width: usize) -> String {
    let length = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(length)))
}

pub(crate) fn print_table(response: &FederatedResponse) {
    let mut out = String::new();
    table(&mut out, response);
    print_out(&out);
}

/// Writes to standard output; a reader that went away (`| head`) ends the
/// output quietly instead of a panic.
pub(crate) fn print_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// The answer as a table, followed by whom to ask and each partner's status.
/// A hit's fields in words when the owner shares their levels; the names of
/// the agreeing fields when it shares only those; nothing otherwise.
pub(crate) fn why(hit: &poshuk_protocol::FederatedHit) -> String {
    use poshuk_core::score::{Field, Level};
    let mut why = if hit.fields.is_empty() {
        hit.agreeing.join(", ")
    } else {
        poshuk_core::score::explain(hit.fields.iter().filter_map(|compared| {
            Some((
                Field::from_name(&compared.field)?,
                Level::from_name(&compared.level)?,
            ))
        }))
    };
    // "One of 14" reads differently from "the only one".
    if let Some(namesakes) = hit.namesakes.filter(|_| !hit.own) {
        if !why.is_empty() {
            why.push_str("; ");
        }
        why.push_str(namesakes.describe());
    }
    why
}

fn table(out: &mut String, response: &FederatedResponse) {
    use std::fmt::Write;
    if response.hits.is_empty() && response.partial {
        let _ = writeln!(
            out,
            "no hits from the partners that answered; some did not (see below): this does not say that no partner knows the person"
        );
    } else if response.hits.is_empty() {
        let _ = writeln!(
            out,
            "no hits: no partner holds a record that matches this person well enough (possible or strong)"
        );
    } else {
        let rows: Vec<[String; 5]> = response
            .hits
            .iter()
            .map(|hit| {
                let handle = match &hit.record_id {
                    Some(record_id) => format!("{} (yours: {record_id})", hit.handle),
                    None => hit.handle.to_string(),
                };
                [
                    hit.partner_name.clone(),
                    handle,
                    format!("{:.3}", hit.score),
                    hit.band.to_string(),
                    why(hit),
                ]
            })
            .collect();
        let header = ["partner", "handle", "score", "band", "why"].map(str::to_string);
        let widths: Vec<usize> = (0..5)
            .map(|column| {
                std::iter::once(&header)
                    .chain(&rows)
                    .map(|row| row[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(text, width)| padded(text, *width))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        if !response.contacts.is_empty() {
            let _ = writeln!(out, "whom to ask (give them the handle):");
            for (id, contact) in &response.contacts {
                let name = response
                    .hits
                    .iter()
                    .find(|hit| &hit.partner == id)
                    .map_or(id.as_str(), |hit| hit.partner_name.as_str());
                let _ = writeln!(out, "  {name}: {contact}");
            }
        }
    }
    let statuses: Vec<String> = response
        .partners
        .iter()
        .map(|(id, status)| {
            let outcome = serde_json::to_value(status.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            match &status.error {
                // Why a partner did not answer (a used-up quota, a node
                // down): the searcher must not read it as "not known".
                Some(reason) => format!("{id}: {outcome} ({} ms: {reason})", status.took_ms),
                None => format!("{id}: {outcome} ({} ms)", status.took_ms),
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "partners: {}{}",
        statuses.join(", "),
        if response.partial {
            "  [PARTIAL: some partners did not answer]"
        } else {
            ""
        }
    );
}

/// Runs queries concurrently; calls `each` with (index, query, answer).
fn run_batch(
    node: &NodeAccess,
    queries: Vec<RawRecord>,
    limit: usize,
    concurrency: u16,
    mut each: impl FnMut(usize, &RawRecord, anyhow::Result<FederatedResponse>),
) -> anyhow::Result<()> {
    let node = searcher_node(node)?;
    crate::commands::pool::search_all(
        &queries,
        usize::from(concurrency),
        |query: &RawRecord| federated_search(&node, query.clone(), limit, None),
        |error: &anyhow::Error| error.to_string().starts_with("429"),
        |index, answer| each(index, &queries[index], answer),
    );
    Ok(())
}

pub(crate) fn run_search(args: SearchArgs) -> anyhow::Result<()> {
    if let Some(batch) = &args.batch {
        // Queries need no case id: they are numbered by their row.
        let mut options = ReadingArgs::default().options()?;
        options.id_from_row = true;
        let outcome = read_file(batch, &options)?;
        let queries: Vec<RawRecord> = outcome
            .records
            .iter()
            .map(|read| poshuk_node::wire::record_to_wire(&read.record))
            .collect();
        // A workbook when the name says so: one row per hit, the query's
        // own fields first.
        let workbook = args.out.as_ref().filter(|path| {
            path.extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| extension.eq_ignore_ascii_case("xlsx"))
        });
        let mut output: Box<dyn Write> = match (&args.out, workbook) {
            (_, Some(_)) => Box::new(std::io::sink()),
            (Some(path), None) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            )),
            (None, None) => Box::new(std::io::stdout().lock()),
        };
        let mut rows: Vec<Vec<String>> = Vec::new();
        let started = Instant::now();
        let (mut failed, count) = (0usize, queries.len());
        run_batch(
            &args.node,
            queries,
            args.limit,
            args.concurrency,
            |_, query, answer| {
                if let Ok(response) = &answer {
                    for hit in &response.hits {
                        rows.push(vec![
                            query.record_id.clone(),
                            query.family_name.clone(),
                            query.given_name.clone(),
                            query.birth_date.clone(),
                            hit.partner.clone(),
                            hit.handle.to_string(),
                            hit.record_id.clone().unwrap_or_default(),
                            format!("{:.4}", hit.score),
                            hit.band.name().to_string(),
                            why(hit),
                            response.partial.to_string(),
                        ]);
                    }
                }
                let line = match answer {
                    Ok(response) => serde_json::json!({
                        "record_id": query.record_id,
                        "hits": response.hits,
                        "partners": response.partners,
                        "partial": response.partial,
                    }),
                    Err(error) => {
                        failed += 1;
                        serde_json::json!({"record_id": query.record_id, "error": error.to_string()})
                    }
                };
                let _ = writeln!(output, "{line}");
            },
        )?;
        output.flush()?;
        if let Some(path) = workbook {
            rows.sort();
            let table = Table {
                sheet: "hits",
                header: [
                    "query",
                    "family_name",
                    "given_name",
                    "birth_date",
                    "partner",
                    "handle",
                    "your case",
                    "score",
                    "band",
                    "why",
                    "partial",
                ]
                .map(str::to_string)
                .to_vec(),
                rows,
            };
            write_report(path, &[table], false)?;
        }
        let seconds = started.elapsed().as_secs_f64();
        print_read_summary(&outcome, count);
        eprintln!(
            "{count} queries in {seconds:.1}s ({:.0} queries/s), {failed} failed",
            count as f64 / seconds.max(1e-9)
        );
        if failed > 0 {
            anyhow::bail!("{failed} of {count} queries failed (their lines say why)");
        }
        return Ok(());
    }
    let (family, given, patronymic) = match &args.name {
        Some(name) => poshuk_core::names::split_full_name(name),
        None => Default::default(),
    };
    let record = RawRecord {
        record_id: String::new(),
        given_name: args.given.unwrap_or(given),
        family_name: args.family.unwrap_or(family),
        patronymic: args.patronymic.unwrap_or(patronymic),
        other_names: args
            .other_names
            .map(|names| {
                names
                    .split(';')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        sex: args.sex.unwrap_or_default(),
        birth_date: args
            .birth_date
            .map(|text| {
                // A range of years goes as written; the node searches each.
                if let Some((first, last)) = poshuk_core::BirthDate::parse_year_range(&text) {
                    return Ok(format!("{first}-{last}"));
                }
                // As lists write dates (14 травня 2012, 2014р.н.), read
                // as ingest reads them.
                use poshuk_records::DateReading;
                match poshuk_records::read_birth_date(&text, poshuk_records::today()) {
                    DateReading::Date(date) | DateReading::Approximate(date) => Ok(date.to_iso()),
                    DateReading::YearRange => anyhow::bail!(
                        "--birth-date: a range of years spans at most {} years, the earlier first (2010-2014)",
                        poshuk_core::MAX_YEAR_RANGE
                    ),
                    DateReading::Future => {
                        anyhow::bail!("--birth-date: a date after today")
                    }
                    DateReading::TwoDigitYear => {
                        anyhow::bail!("--birth-date: write the year in full (14.05.2012)")
                    }
                    DateReading::Unreadable(error) => anyhow::bail!(
                        "--birth-date: {error}; a range of years is written 2010-2014 or ~2012 (at most {} years)",
                        poshuk_core::MAX_YEAR_RANGE
                    ),
                }
            })
            .transpose()?
            .unwrap_or_default(),
        birth_place: args.birth_place.unwrap_or_default(),
        document_ids: args.document.into_iter().collect(),
    };
    // A query that names no one is refused by the node, which says what to
    // add; one with a name and a year only is answered with advice.
    let node = searcher_node(&args.node)?;
    let response = federated_search(&node, record, args.limit, args.partners)?;
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&response)?));
    } else {
        print_table(&response);
        if let Some(advice) = &response.advice {
            eprintln!("{advice}");
        }
    }
    Ok(())
}

pub(crate) fn run_overlap(args: OverlapArgs) -> anyhow::Result<()> {
    if let Some(request) = &args.answer {
        return crate::commands::offline::answer(&args.node, request, &args.out);
    }
    let Some(input) = args.input.clone() else {
        anyhow::bail!("give your case export");
    };
    // Your own columns, all of them, are joined back to each hit.
    let mut options = args.reading.options()?;
    options.keep_cells = true;
    let outcome = read_file(&input, &options)?;
    let offline = match &args.offline {
        Some(config) => Some(crate::commands::offline::Offline::open(config)?),
        None => None,
    };
    let queries: Vec<RawRecord> = outcome
        .records
        .iter()
        .map(|read| poshuk_node::wire::record_to_wire(&read.record))
        .collect();
    if let (Some(offline), Some(recipient)) = (&offline, &args.sealed_to) {
        let thin = offline.seal_request(&queries, &input, recipient, &args.out)?;
        print_read_summary(&outcome, outcome.records.len());
        println!(
            "{} cases, tokenized here, sealed to the partner in {}: send it to them; they answer with `poshuk overlap --answer`, and you read their reply with --read and this same list",
            queries.len(),
            args.out.display()
        );
        if thin > 0 {
            println!("{thin} cases have no name and no document: they cannot find anyone");
        }
        return Ok(());
    }
    // One row per hit: your case's row as your list has it, then the
    // partner's hit (JSON lines have no row: the case id stands for it).
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Per partner: cases with a strong hit, cases with a possible hit (at best).
    let mut per_partner: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut failed, mut partial) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let each = |index: usize, query: &RawRecord, answer: anyhow::Result<FederatedResponse>| {
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                failed += 1;
                failures.push(format!("{}: {error}", query.record_id));
                return;
            }
        };
        if response.partial {
            partial += 1;
        }
        let mut best: BTreeMap<String, &str> = BTreeMap::new();
        for hit in response
            .hits
            .iter()
            .filter(|hit| !hit.own && matches!(hit.band, Band::Strong | Band::Possible))
        {
            let own = &outcome.records[index].cells;
            let mut row = if own.is_empty() {
                vec![query.record_id.clone()]
            } else {
                own.clone()
            };
            row.extend([
                hit.partner.clone(),
                hit.handle.to_string(),
                format!("{:.4}", hit.score),
                hit.band.name().to_string(),
                why(hit),
            ]);
            rows.push(row);
            // Anonymous partners' hits (a pseudonym per search) are
            // counted together, under the name they come with.
            let counted = if hit.partner.starts_with("anon-") {
                hit.partner_name.clone()
            } else {
                hit.partner.clone()
            };
            let entry = best.entry(counted).or_insert(hit.band.name());
            if hit.band == Band::Strong {
                *entry = "strong";
            }
        }
        for (partner, band) in best {
            let counts = per_partner.entry(partner).or_insert((0, 0));
            if band == "strong" {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
    };
    match (&offline, &args.read) {
        (Some(offline), Some(reply)) => {
            let answers = offline.read_reply(reply, &input, queries.len())?;
            let mut each = each;
            for (index, answer) in answers.into_iter().enumerate() {
                each(index, &queries[index], Ok(answer));
            }
        }
        (Some(offline), None) => offline.search_all(&queries, args.concurrency, each)?,
        (None, _) => run_batch(&args.node, queries.clone(), 20, args.concurrency, each)?,
    }
    rows.sort();
    let own_header = if outcome.headers.is_empty() {
        vec!["record_id".to_string()]
    } else {
        outcome.headers.clone()
    };
    let summary = per_partner
        .iter()
        .map(|(partner, (strong, possible))| {
            vec![partner.clone(), strong.to_string(), possible.to_string()]
        })
        .collect();
    let tables = [
        Table {
            sheet: "cases",
            header: own_header
                .into_iter()
                .chain(["partner", "handle", "score", "band", "why"].map(str::to_string))
                .collect(),
            rows,
        },
        Table {
            sheet: "per partner",
            header: [
                "partner",
                "cases with a strong hit",
                "more with a possible hit",
            ]
            .map(str::to_string)
            .to_vec(),
            rows: summary,
        },
    ];
    write_report(&args.out, &tables, args.bom)?;
    print_read_summary(&outcome, outcome.records.len());
    println!("of your {} cases, known elsewhere:", outcome.records.len());
    for (partner, (strong, possible)) in &per_partner {
        println!("  {partner}: {strong} with a strong hit, {possible} more with a possible hit");
    }
    if failed > 0 && failed == outcome.records.len() {
        println!("  unknown: every search failed");
    } else if per_partner.is_empty() {
        println!("  none");
    }
    println!("per-case report: {}", args.out.display());
    if !failures.is_empty() {
        eprintln!("cases not searched, and why:");
        for failure in failures.iter().take(20) {
            eprintln!("  {failure}");
        }
        if failures.len() > 20 {
            eprintln!("  ... and {} more", failures.len() - 20);
        }
    }
    if failed > 0 || partial > 0 {
        // Not a success: "none" would read as "known to no one".
        anyhow::bail!(
            "{failed} searches failed, {partial} were partial (a partner did not answer): the report is incomplete; run again for complete results"
        );
    }
    Ok(())
}
