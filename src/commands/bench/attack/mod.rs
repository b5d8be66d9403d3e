//! `poshuk bench attack`: the project's own red team. It steals a token file
//! (the tokens a node keeps in its index and `poshuk encode` writes) and
//! tries to give back the names and birth years in it without the key, with
//! only what is public: the tokenizer's source and the name and birth-year
//! statistics of the population (estimated from a public sample of other
//! persons).
//!
//! Roles are kept apart by module: `stolen` is all the attacker holds of the
//! victim, `public` all it knows besides, `attacks` what it does with them;
//! `score` alone reads the victim's handle map and plaintext, after the
//! attacks are done, to count what they got right.

mod attacks;
mod public;
mod score;
mod stolen;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;
use poshuk_core::{Epoch, KeyRing, Record, Tokenizer};
use poshuk_records::{ReadOptions, read_file};
use poshuk_synth::{Source, SynthConfig, generate, write_dir};

use crate::commands::encode::{encode_records, write_handle_map};
use attacks::Guess;
use public::Public;
use score::{Score, Truth};
use stolen::Stolen;

#[derive(Args)]
pub(crate) struct AttackArgs {
    /// Persons of the synthetic federation the victim's list is drawn from.
    #[arg(long, default_value_t = 20_000)]
    persons: usize,
    /// Random seed of the victim's data (the public sample uses another).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Which partner's list is stolen: ngo_ua (Ukrainian Cyrillic),
    /// ru_sources (Russian forms) or intl_org (Latin).
    #[arg(long, default_value = "ngo_ua")]
    list: String,
    /// Attack this token file (from `poshuk encode`, tokenizer version 2 or
    /// 3) instead of encoding a synthetic list; needs --handles and
    /// --plaintext, read only to score the guesses.
    #[arg(long, requires_all = ["handles", "plaintext"])]
    tokens: Option<PathBuf>,
    /// The handle map written with --tokens (for scoring only).
    #[arg(long)]
    handles: Option<PathBuf>,
    /// The export --tokens was encoded from (for scoring only).
    #[arg(long)]
    plaintext: Option<PathBuf>,
    /// The public sample is this many times the victim's persons.
    #[arg(long, default_value_t = 4)]
    public_factor: usize,
    /// Keep the generated files here (a temporary directory otherwise).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn source_named(name: &str) -> anyhow::Result<Source> {
    Source::ALL
        .into_iter()
        .find(|source| source.stem() == name)
        .with_context(|| format!("--list must be one of ngo_ua, ru_sources, intl_org, not {name}"))
}

fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    let outcome =
        read_file(path, &ReadOptions::default()).with_context(|| format!("{}", path.display()))?;
    Ok(outcome
        .records
        .into_iter()
        .map(|read| read.record)
        .collect())
}

/// A synthetic list encoded the way `poshuk encode` does, under a fresh key
/// nobody keeps: (token file, handle map, plaintext).
fn encode_victim(
    dir: &Path,
    args: &AttackArgs,
    source: Source,
) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let data = generate(SynthConfig {
        persons: args.persons,
        seed: args.seed,
    });
    let victim_dir = dir.join("victim");
    write_dir(&data, &victim_dir)?;
    let plaintext = victim_dir.join(format!("{}.csv", source.stem()));
    let outcome = read_file(&plaintext, &ReadOptions::default())?;
    let ring = KeyRing::generate()?;
    let tokenizer = Tokenizer::new(ring.hasher(Epoch(1))?);
    let (mut file, map) = encode_records(&outcome, &tokenizer, &ProgressBar::hidden())?;
    let tokens = victim_dir.join("stolen.tokens");
    file.write(&tokens)?;
    let handles = victim_dir.join("stolen.tokens.handles.csv");
    write_handle_map(&handles, &map)?;
    Ok((tokens, handles, plaintext))
}

/// The attacker's public sample: persons of another draw of the population.
fn public_sample(dir: &Path, args: &AttackArgs, source: Source) -> anyhow::Result<Public> {
    let data = generate(SynthConfig {
        persons: args.persons * args.public_factor.max(1),
        seed: args.seed ^ 0x7075_626c_6963,
    });
    let public_dir = dir.join("public");
    write_dir(&data, &public_dir)?;
    Public::new(&read_records(
        &public_dir.join(format!("{}.csv", source.stem())),
    )?)
}

pub(crate) fn run(args: AttackArgs) -> anyhow::Result<()> {
    let source = source_named(&args.list)?;
    let temporary = tempfile::tempdir()?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let (tokens, handles, plaintext) = match (&args.tokens, &args.handles, &args.plaintext) {
        (Some(tokens), Some(handles), Some(plaintext)) => {
            (tokens.clone(), handles.clone(), plaintext.clone())
        }
        _ => encode_victim(&dir, &args, source)?,
    };
    let public = public_sample(&dir, &args, source)?;

    // The attacker's part: the stolen file and public knowledge only.
    let stolen = Stolen::read(&tokens)?;
    let started = std::time::Instant::now();
    let frequency = attacks::frequency(&stolen, &public);
    let bucketed = attacks::bucketed(&stolen, &public);
    let chain = attacks::year_chain(&stolen, &public);
    let grams = attacks::bigram_substitution(&stolen, &public, &bucketed, 4);
    // Groups of at least 1% of the list: smaller ones are one family's year.
    let (pooled, largest_year_group) =
        attacks::pooled_years(&stolen, &public, (stolen.records.len() / 100).max(20));
    let years = stolen.column("DateYear");
    let combined: Vec<Guess> = grams
        .as_ref()
        .unwrap_or(&bucketed)
        .iter()
        .zip(&years)
        .zip(&pooled)
        .map(|((guess, year_tokens), pooled)| Guess {
            year: match &chain {
                Some(chain) => year_tokens
                    .first()
                    .and_then(|token| chain.get(token).copied()),
                None => pooled.or(guess.year),
            },
            ..guess.clone()
        })
        .collect();
    let attack_seconds = started.elapsed().as_secs_f64();

    // Scoring: the only place that reads the victim's handle map and plaintext.
    let truth = Truth::read(&handles, &plaintext, &stolen)?;
    let mut rows: Vec<(&str, Score)> = vec![
        ("frequency per slot", truth.score(&frequency)),
        (
            "frequency in slot-structure buckets",
            truth.score(&bucketed),
        ),
    ];
    if let Some(chain) = &chain {
        let chained: Vec<Guess> = years
            .iter()
            .map(|tokens| Guess {
                year: tokens.first().and_then(|token| chain.get(token).copied()),
                ..Guess::default()
            })
            .collect();
        rows.push((
            "year chain (neighbouring-year tokens)",
            truth.score(&chained),
        ));
    }
    let pooled_rows: Vec<Guess> = pooled
        .iter()
        .map(|year| Guess {
            year: *year,
            ..Guess::default()
        })
        .collect();
    rows.push((
        "year groups pooled across families",
        truth.score(&pooled_rows),
    ));
    if let Some(grams) = &grams {
        rows.push(("bigram substitution cipher", truth.score(grams)));
    }
    rows.push(("strongest combination", truth.score(&combined)));

    if args.json {
        let report = serde_json::json!({
            "list": source.stem(),
            "tokenizer": stolen.tokenizer,
            "records": stolen.records.len(),
            "public_sample": public.people.len(),
            "attack_seconds": attack_seconds,
            "largest_year_group": largest_year_group,
            "attacks": rows.iter().map(|(name, score)| serde_json::json!({
                "attack": name,
                "reidentified": score.reidentified,
                "family_name": score.family,
                "given_name": score.given,
                "birth_year": score.year,
                "distinct_family_names": score.distinct_families,
            })).collect::<Vec<_>>(),
        });
        println!("{report}");
        return Ok(());
    }
    println!(
        "poshuk attack: {} records of {} (tokenizer {}), public sample of {} persons, {:.1} s; largest group known to share a birth year: {} records",
        stolen.records.len(),
        source.stem(),
        stolen.tokenizer,
        public.people.len(),
        attack_seconds,
        largest_year_group
    );
    println!(
        "{:<42} {:>12} {:>8} {:>8} {:>8} {:>14}",
        "attack", "re-identified", "family", "given", "year", "distinct family"
    );
    for (name, score) in &rows {
        println!(
            "{:<42} {:>12.2}% {:>7.2}% {:>7.2}% {:>7.2}% {:>13.2}%",
            name,
            100.0 * score.reidentified,
            100.0 * score.family,
            100.0 * score.given,
            100.0 * score.year,
            100.0 * score.distinct_families
        );
    }
    Ok(())
}
