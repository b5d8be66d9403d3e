//! `poshuk bench search`: what a searcher can trust, measured through a real
//! federation (three nodes and a coordinator on loopback) with the queries
//! a searcher types: a name with only a birth year, sometimes a full date, a
//! place or a patronymic, in Latin (the international organization's staff)
//! or Russian Cyrillic (the sources in Russia).
//!
//! Three kinds of query, from the synthetic truth:
//! - **known**: the person is in another partner's list. Is the right person
//!   the first hit, in the top 10, in the strong band?
//! - **unknown**: no other partner holds the person, nor a brother or
//!   sister. Any strong hit is a false alarm.
//! - **sibling**: no other partner holds the person, but one holds a brother,
//!   sister or twin. A strong hit is a false alarm; a `relative` hit is the
//!   lead it should be.
//!
//! The queries come from the searching partner's own rows, as its staff
//! would type them, and are scored only on the hits of the other partners.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use poshuk_protocol::routes::local;
use poshuk_protocol::{Band, FederatedResponse, RawRecord};
use poshuk_synth::{Relation, Source, SynthConfig, SynthRow, generate, write_dir};

use crate::commands::bench::federation::start_federation;
use crate::commands::http::{LocalNeed, NodeAccess, Server};

#[derive(Args)]
pub(crate) struct SearchBenchArgs {
    /// Persons in the synthetic federation.
    #[arg(long, default_value_t = 4000)]
    persons: usize,
    /// Random seed (the default is not the demo's or the tests').
    #[arg(long, default_value_t = 731)]
    seed: u64,
    /// Queries of each kind (known, unknown, sibling) per searching partner,
    /// at most.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Work directory (a temporary one otherwise).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print each false alarm: the query and the record it was taken for
    /// (synthetic data only: for tuning).
    #[arg(long)]
    show_false_alarms: bool,
    /// Write every hit shown as the person (possible or strong) to this
    /// file, one per line: kind of query, what it carries, band, score,
    /// whether it was the person, and the explanation (synthetic data only:
    /// for calibrating the scores).
    #[arg(long)]
    hits_tsv: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Known,
    Unknown,
    Sibling,
}

/// What a query carries besides the name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Form {
    Year,
    Date,
    YearPlace,
    YearPatronymic,
}

impl Form {
    const ALL: [Form; 4] = [
        Form::Year,
        Form::Date,
        Form::YearPlace,
        Form::YearPatronymic,
    ];

    fn name(self) -> &'static str {
        match self {
            Form::Year => "name + year",
            Form::Date => "name + date",
            Form::YearPlace => "name + year + place",
            Form::YearPatronymic => "name + patronymic + year",
        }
    }
}

/// A row's year: the first four-digit run of its date, as staff type it.
fn year_of(date: &str) -> Option<String> {
    date.split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 4)
        .map(str::to_string)
}

fn query(row: &SynthRow, form: Form) -> Option<RawRecord> {
    let year = year_of(&row.birth_date)?;
    let mut record = RawRecord {
        given_name: row.given_name.clone(),
        family_name: row.family_name.clone(),
        birth_date: year,
        ..RawRecord::default()
    };
    match form {
        Form::Year => {}
        Form::Date => record.birth_date = row.birth_date.clone(),
        Form::YearPlace if !row.birth_place.is_empty() => {
            record.birth_place = row.birth_place.clone();
        }
        Form::YearPatronymic if !row.patronymic.is_empty() => {
            record.patronymic = row.patronymic.clone();
        }
        _ => return None,
    }
    // The former surnames the searcher's own row keeps: what its staff
    // would type as other names.
    record.other_names = row
        .other_names
        .split(';')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    (!record.given_name.is_empty() && !record.family_name.is_empty()).then_some(record)
}

/// Whether another partner keeps the person under a surname the query
/// carries: both rows under the person's own surname, or one under an
/// adoptive surname with the own one recorded beside it as a former name.
/// A person kept only under another surname than any the query carries is
/// beyond what a name can find; the report counts such queries apart.
fn named_as_held(query_row: &SynthRow, others: &[&SynthRow]) -> bool {
    let former_kept = |row: &SynthRow| !row.other_names.trim().is_empty();
    others.iter().any(|held| {
        match (query_row.under_other_surname, held.under_other_surname) {
            (false, false) => true,
            (true, false) => former_kept(query_row),
            (false, true) => former_kept(held),
            // Two adoptive surnames, each drawn anew: only the former names.
            (true, true) => former_kept(query_row) && former_kept(held),
        }
    })
}

#[derive(Default, Debug)]
struct Tally {
    queries: usize,
    first: usize,
    /// The person first, hits tied with it at the top (same band and score
    /// as shown, their order a coin's) counted as its share of them: what
    /// "first" is on average, without the coin.
    first_shared: f64,
    /// Queries whose person was tied at the top with another record.
    tied: usize,
    top10: usize,
    strong: usize,
    false_alarms: usize,
    relatives: usize,
    failed: usize,
    /// Known persons another partner keeps under a surname the query
    /// carries ([`named_as_held`]), and of them: first, strong.
    named: usize,
    named_first: usize,
    named_strong: usize,
}

pub(crate) fn run(args: SearchBenchArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    let data = generate(SynthConfig {
        persons: args.persons,
        seed: args.seed,
    });
    write_dir(&data, &dir.join("data"))?;
    // Who is where, and who is whose brother, sister or twin.
    let mut holders: HashMap<u32, HashSet<Source>> = HashMap::new();
    let mut person_of: HashMap<(Source, String), u32> = HashMap::new();
    for (source, record_id, person) in &data.truth {
        holders.entry(*person).or_default().insert(*source);
        person_of.insert((*source, record_id.clone()), *person);
    }
    let mut rows_by_person: HashMap<u32, Vec<(Source, &SynthRow)>> = HashMap::new();
    for source in Source::ALL {
        for row in &data.rows[source as usize] {
            if let Some(&person) = person_of.get(&(source, row.record_id.clone())) {
                rows_by_person
                    .entry(person)
                    .or_default()
                    .push((source, row));
            }
        }
    }
    let mut family: HashMap<u32, Vec<u32>> = HashMap::new();
    for (a, b, relation) in &data.relations {
        if matches!(relation, Relation::Sibling | Relation::Twin) {
            family.entry(*a).or_default().push(*b);
            family.entry(*b).or_default().push(*a);
        }
    }
    let (processes, locals) = start_federation(&dir, true)?;
    let node = |source: Source| -> anyhow::Result<Server> {
        Server::node(
            &NodeAccess::at(&locals[source as usize]),
            LocalNeed::Search,
            Duration::from_secs(30),
        )
    };
    let partner_source = |partner: &str| match partner {
        "ngo-ua" => Some(Source::UkrainianNgo),
        "ru-sources" => Some(Source::RussianSources),
        "intl-org" => Some(Source::InternationalOrg),
        _ => None,
    };
    let mut resolved: HashMap<(Source, String), Option<u32>> = HashMap::new();
    let mut resolve = |source: Source, handle: &str| -> anyhow::Result<Option<u32>> {
        if let Some(known) = resolved.get(&(source, handle.to_string())) {
            return Ok(*known);
        }
        let answer: Option<poshuk_protocol::Resolved> =
            node(source)?.get(&local::resolve_text(handle)).ok();
        let person = answer.and_then(|answer| person_of.get(&(source, answer.record_id)).copied());
        resolved.insert((source, handle.to_string()), person);
        Ok(person)
    };
    let mut tallies: HashMap<(Kind, Form), Tally> = HashMap::new();
    // Hits shown as the person (possible or strong), by score tenth from
    // 0 (leads and namesakes are shown below 0.5): how many, and how many
    // were the person.
    let mut by_score = [(0usize, 0usize); 10];
    let mut hits_out = match &args.hits_tsv {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    // How the nodes holding a missed person score the query in their own
    // staff's search, which shows weak hits too (synthetic data only: for
    // tuning).
    let holders_view = |record: &RawRecord,
                        person: u32,
                        searcher: Source|
     -> anyhow::Result<Vec<String>> {
        let mut seen = Vec::new();
        for source in holders
            .get(&person)
            .into_iter()
            .flatten()
            .filter(|source| **source != searcher)
        {
            let answer: poshuk_protocol::SearchResponse = match node(*source)?.post(
                local::SEARCH,
                &poshuk_protocol::LocalSearch {
                    record: record.clone(),
                    limit: 50,
                },
            ) {
                Ok(answer) => answer,
                Err(error) => {
                    seen.push(format!("{source:?}: {error:#}"));
                    continue;
                }
            };
            for hit in answer.hits {
                let found = node(*source)?
                    .get::<poshuk_protocol::Resolved>(&local::resolve_text(&hit.handle.to_string()))
                    .ok()
                    .and_then(|found| person_of.get(&(*source, found.record_id)).copied());
                if found == Some(person) {
                    let fields: Vec<String> = hit
                        .fields
                        .iter()
                        .map(|field| format!("{} {}", field.field, field.level))
                        .collect();
                    seen.push(format!(
                        "{source:?}: {:?} {:.4} ({})",
                        hit.band,
                        hit.score,
                        fields.join(", ")
                    ));
                }
            }
        }
        Ok(seen)
    };
    for searcher in [Source::InternationalOrg, Source::RussianSources] {
        let searching = node(searcher)?;
        let mut taken: HashMap<Kind, usize> = HashMap::new();
        for (index, row) in data.rows[searcher as usize].iter().enumerate() {
            let Some(&person) = person_of.get(&(searcher, row.record_id.clone())) else {
                continue;
            };
            let others_hold = |person: u32| {
                holders
                    .get(&person)
                    .is_some_and(|sources| sources.iter().any(|source| *source != searcher))
            };
            let kind = if others_hold(person) {
                Kind::Known
            } else if family
                .get(&person)
                .is_some_and(|relatives| relatives.iter().any(|relative| others_hold(*relative)))
            {
                Kind::Sibling
            } else {
                Kind::Unknown
            };
            let count = taken.entry(kind).or_default();
            if *count >= args.queries {
                continue;
            }
            let form = Form::ALL[index % Form::ALL.len()];
            let Some(record) = query(row, form) else {
                continue;
            };
            *count += 1;
            let tally = tallies.entry((kind, form)).or_default();
            tally.queries += 1;
            let typed = [
                record.given_name.clone(),
                record.patronymic.clone(),
                record.family_name.clone(),
                record.birth_date.clone(),
                record.birth_place.clone(),
                record.other_names.join(";"),
            ]
            .join(" | ");
            let request = poshuk_protocol::FederatedSearch {
                record,
                limit: 10,
                partners: None,
            };
            let answer: FederatedResponse = match searching.post(local::FEDERATED_SEARCH, &request)
            {
                Ok(answer) => answer,
                Err(error) => {
                    tally.failed += 1;
                    if args.show_false_alarms {
                        eprintln!("refused ({kind:?}, {}): {typed}: {error:#}", form.name());
                    }
                    continue;
                }
            };
            let mut hits = Vec::new();
            let mut found_hits = Vec::new();
            for hit in answer.hits.iter().filter(|hit| !hit.own) {
                let Some(source) = partner_source(&hit.partner) else {
                    continue;
                };
                let found = resolve(source, &hit.handle.to_string())?;
                hits.push((found, hit.band));
                found_hits.push((found, hit));
                if matches!(hit.band, Band::Possible | Band::Strong) {
                    let tenth = ((hit.score * 10.0).floor() as usize).min(9);
                    by_score[tenth].0 += 1;
                    by_score[tenth].1 += usize::from(found == Some(person));
                    if let Some(out) = hits_out.as_mut() {
                        use std::io::Write as _;
                        let held = found
                            .map_or_else(Vec::new, |found| rows_of(&data, found, Some(searcher)));
                        writeln!(
                            out,
                            "{kind:?}\t{}\t{:?}\t{:.4}\t{}\t{}\t{typed}\t{held:?}",
                            form.name(),
                            hit.band,
                            hit.score,
                            found == Some(person),
                            crate::commands::search::why(hit)
                        )?;
                    }
                }
            }
            match kind {
                Kind::Known => {
                    let others: Vec<&SynthRow> = rows_by_person
                        .get(&person)
                        .into_iter()
                        .flatten()
                        .filter(|(source, _)| *source != searcher)
                        .map(|(_, held)| *held)
                        .collect();
                    let named = named_as_held(row, &others);
                    let first = hits
                        .first()
                        .is_some_and(|(found, _)| *found == Some(person));
                    let strong = hits
                        .iter()
                        .any(|(found, band)| *found == Some(person) && *band == Band::Strong);
                    if named {
                        tally.named += 1;
                        tally.named_first += usize::from(first);
                        tally.named_strong += usize::from(strong);
                    }
                    if first {
                        tally.first += 1;
                    }
                    if let Some((_, top)) = found_hits.first() {
                        let tied: Vec<bool> = found_hits
                            .iter()
                            .filter(|(_, hit)| hit.score == top.score && hit.band == top.band)
                            .map(|(found, _)| *found == Some(person))
                            .collect();
                        let mine = tied.iter().filter(|mine| **mine).count();
                        tally.first_shared += mine as f64 / tied.len() as f64;
                        tally.tied += usize::from(mine > 0 && mine < tied.len());
                    }
                    if hits.iter().any(|(found, _)| *found == Some(person)) {
                        tally.top10 += 1;
                        if !first && args.show_false_alarms {
                            let above: Vec<String> = found_hits
                                .iter()
                                .take_while(|(found, _)| *found != Some(person))
                                .map(|(found, hit)| {
                                    format!(
                                        "{:?} {:.4} at {} ({}): {:?}",
                                        hit.band,
                                        hit.score,
                                        hit.partner,
                                        crate::commands::search::why(hit),
                                        found.map_or_else(Vec::new, |found| rows_of(
                                            &data,
                                            found,
                                            Some(searcher)
                                        ))
                                    )
                                })
                                .collect();
                            eprintln!("not first ({}): {typed}; above it: {above:?}", form.name());
                        }
                    } else if args.show_false_alarms {
                        let rows = rows_of(&data, person, Some(searcher));
                        eprintln!(
                            "missed ({}, named as held: {named}): {typed}; {} hits, partial {}\n    held as: {rows:?}\n    scored by its holders' own search: {:?}",
                            form.name(),
                            hits.len(),
                            answer.partial,
                            holders_view(&request.record, person, searcher)?
                        );
                    }
                    if strong {
                        tally.strong += 1;
                    } else if args.show_false_alarms
                        && let Some((_, hit)) =
                            found_hits.iter().find(|(found, _)| *found == Some(person))
                    {
                        let rows = rows_of(&data, person, Some(searcher));
                        eprintln!(
                            "not strong ({}, {:?} {:.4}): {typed}; why: {}\n    held as: {rows:?}",
                            form.name(),
                            hit.band,
                            hit.score,
                            crate::commands::search::why(hit)
                        );
                    }
                }
                Kind::Unknown | Kind::Sibling => {
                    if let Some((found, _)) = hits.iter().find(|(_, band)| *band == Band::Strong) {
                        tally.false_alarms += 1;
                        if args.show_false_alarms {
                            let rows =
                                found.map_or_else(Vec::new, |found| rows_of(&data, found, None));
                            eprintln!(
                                "false alarm ({kind:?}, {}): {typed}\n    taken for: {rows:?}",
                                form.name()
                            );
                        }
                    }
                    let relatives = family.get(&person).cloned().unwrap_or_default();
                    if hits.iter().any(|(found, band)| {
                        *band == Band::Relative
                            && found.is_some_and(|found| relatives.contains(&found))
                    }) {
                        tally.relatives += 1;
                    }
                }
            }
        }
    }
    drop(processes);
    report(&tallies);
    report_by_score(&by_score);
    Ok(())
}

/// How the partners wrote one person (but `except`'s), for the lines of
/// `--show-false-alarms`.
fn rows_of(data: &poshuk_synth::SynthData, person: u32, except: Option<Source>) -> Vec<String> {
    data.truth
        .iter()
        .filter(|(source, _, p)| *p == person && Some(*source) != except)
        .filter_map(|(source, id, _)| {
            data.rows[*source as usize]
                .iter()
                .find(|row| &row.record_id == id)
                .map(|row| {
                    format!(
                        "{} | {} | {} | {} | {} | other names: {}",
                        row.given_name,
                        row.patronymic,
                        row.family_name,
                        row.birth_date,
                        row.birth_place,
                        row.other_names
                    )
                })
        })
        .collect()
}

/// How often a hit shown as the person was the person, by its score: what
/// a searcher can read into the score. Over all three kinds of query, a
/// third of them for persons no other partner holds; a searcher whose
/// queries are more often for listed persons sees more of them right.
fn report_by_score(by_score: &[(usize, usize); 10]) {
    println!("\nhits shown as the person, by score (all kinds of query):");
    println!("{:<12} {:>6} {:>12}", "score", "hits", "the person");
    for (tenth, (hits, right)) in by_score.iter().enumerate() {
        if *hits == 0 {
            continue;
        }
        let low = tenth as f64 / 10.0;
        println!(
            "{:<12} {:>6} {:>12}",
            format!("{low:.1}-{:.1}", low + 0.1),
            hits,
            percent(*right, *hits)
        );
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

fn report(tallies: &HashMap<(Kind, Form), Tally>) {
    let sum = |kind: Kind| {
        let mut total = Tally::default();
        for form in Form::ALL {
            if let Some(tally) = tallies.get(&(kind, form)) {
                total.queries += tally.queries;
                total.first += tally.first;
                total.first_shared += tally.first_shared;
                total.tied += tally.tied;
                total.top10 += tally.top10;
                total.strong += tally.strong;
                total.false_alarms += tally.false_alarms;
                total.relatives += tally.relatives;
                total.failed += tally.failed;
                total.named += tally.named;
                total.named_first += tally.named_first;
                total.named_strong += tally.named_strong;
            }
        }
        total
    };
    let known = sum(Kind::Known);
    let unknown = sum(Kind::Unknown);
    let sibling = sum(Kind::Sibling);
    println!(
        "known persons ({} queries): right person first {} (ties at the top shared: {:.1}%, {} tied), in the top 10 {}, strong {}",
        known.queries,
        percent(known.first, known.queries),
        100.0 * known.first_shared / known.queries.max(1) as f64,
        known.tied,
        percent(known.top10, known.queries),
        percent(known.strong, known.queries)
    );
    println!(
        "  of them kept by another partner under a surname the query carries ({} queries): right person first {}, strong {}",
        known.named,
        percent(known.named_first, known.named),
        percent(known.named_strong, known.named)
    );
    println!(
        "unknown persons ({} queries): false alarms (a strong hit) {}",
        unknown.queries,
        percent(unknown.false_alarms, unknown.queries)
    );
    println!(
        "brothers, sisters and twins of listed persons ({} queries): false alarms {}, the relative shown as relative {}",
        sibling.queries,
        percent(sibling.false_alarms, sibling.queries),
        percent(sibling.relatives, sibling.queries)
    );
    println!("\nby what the query carries:");
    println!(
        "{:<26} {:>7} {:>8} {:>8} {:>10} {:>12}",
        "query", "known", "first", "strong", "unknown FA", "sibling FA"
    );
    for form in Form::ALL {
        let get = |kind| tallies.get(&(kind, form));
        let (known, unknown, sibling) = (get(Kind::Known), get(Kind::Unknown), get(Kind::Sibling));
        println!(
            "{:<26} {:>7} {:>8} {:>8} {:>10} {:>12}",
            form.name(),
            known.map_or(0, |t| t.queries),
            known.map_or("-".into(), |t| percent(t.first, t.queries)),
            known.map_or("-".into(), |t| percent(t.strong, t.queries)),
            unknown.map_or("-".into(), |t| percent(t.false_alarms, t.queries)),
            sibling.map_or("-".into(), |t| percent(t.false_alarms, t.queries)),
        );
    }
    let failed = known.failed + unknown.failed + sibling.failed;
    if failed > 0 {
        println!("\n{failed} queries were refused (too little to name a person) or failed");
    }
}
