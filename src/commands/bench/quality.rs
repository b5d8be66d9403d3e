//! Matching quality: the synthetic partners encoded and linked pairwise,
//! measured against the generator's truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;
use poshuk_core::{Band, KeyRing, MatchModel, Tokenizer};
use poshuk_link::{LinkOptions, LinkedPair, TokenFile, link};
use poshuk_records::{ReadOptions, read_file};
use poshuk_synth::{Relation, Source, SynthConfig, generate, write_dir};
use serde::Serialize;

use crate::commands::encode::{encode_queries, encode_records};

#[derive(Args)]
pub(crate) struct QualityArgs {
    /// Distinct persons to generate.
    #[arg(long, default_value_t = 5000)]
    persons: usize,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the generated files here (a temporary directory otherwise).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also run the plaintext peer (Splink, `bench/splink_peer.py`) on the same files.
    #[arg(long)]
    with_splink: bool,
    /// Also measure typos on the FEBRL data sets written here by
    /// `bench/febrl_export.py` (FEBRL1–3 deduplicated, FEBRL4 linked).
    #[arg(long)]
    febrl: Option<PathBuf>,
}

/// Quality of one pairing.
#[derive(Debug, Serialize)]
pub(crate) struct PairingQuality {
    pub(crate) left: &'static str,
    pub(crate) right: &'static str,
    pub(crate) true_pairs: usize,
    pub(crate) candidate_pairs: u64,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) f1: f64,
    pub(crate) best_threshold: f64,
    pub(crate) best_f1: f64,
    pub(crate) recall_at_1: f64,
    pub(crate) twins_strong: usize,
    pub(crate) twins_possible: usize,
    pub(crate) siblings_possible_or_strong: usize,
    pub(crate) namesakes_possible_or_strong: usize,
    pub(crate) seconds: f64,
}

#[derive(Serialize)]
struct QualityReport {
    persons: usize,
    seed: u64,
    default_threshold: f64,
    pairings: Vec<PairingQuality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    splink: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    febrl: Option<Vec<super::febrl::FebrlQuality>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    splink_febrl: Option<serde_json::Value>,
}

struct EncodedSource {
    /// As a node stores the list (when it is searched).
    file: TokenFile,
    /// As a searcher's queries (when it searches the other list).
    queries: TokenFile,
    /// Person id per record index (the same order in both).
    persons: Vec<u32>,
}

fn encode_source(
    dir: &Path,
    source: Source,
    tokenizer: &Tokenizer,
    truth: &HashMap<String, u32>,
) -> anyhow::Result<EncodedSource> {
    let path = dir.join(format!("{}.csv", source.stem()));
    let outcome =
        read_file(&path, &ReadOptions::default()).with_context(|| format!("{}", path.display()))?;
    let (file, map) = encode_records(&outcome, tokenizer, &ProgressBar::hidden())?;
    let (queries, query_map) = encode_queries(&outcome, tokenizer)?;
    debug_assert_eq!(map.len(), query_map.len());
    let persons = map
        .iter()
        .map(|(_, record_id)| truth.get(record_id).copied().unwrap_or(0))
        .collect();
    Ok(EncodedSource {
        file,
        queries,
        persons,
    })
}

fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Measures one pairing from all scored candidate pairs.
fn measure(
    left: &EncodedSource,
    right: &EncodedSource,
    pairs: &[LinkedPair],
    relations: &HashMap<(u32, u32), Relation>,
    model: &MatchModel,
) -> (usize, f64, f64, f64, f64, f64, f64, [usize; 4]) {
    let right_by_person: HashMap<u32, usize> =
        right
            .persons
            .iter()
            .fold(HashMap::new(), |mut map, &person| {
                *map.entry(person).or_insert(0) += 1;
                map
            });
    let true_pairs: usize = left
        .persons
        .iter()
        .map(|person| right_by_person.get(person).copied().unwrap_or(0))
        .sum();
    let is_true = |pair: &LinkedPair| left.persons[pair.left] == right.persons[pair.right];

    let at = |threshold: f64| {
        let predicted = pairs.iter().filter(|p| p.probability >= threshold).count();
        let correct = pairs
            .iter()
            .filter(|p| p.probability >= threshold && is_true(p))
            .count();
        let precision = if predicted == 0 {
            1.0
        } else {
            correct as f64 / predicted as f64
        };
        let recall = if true_pairs == 0 {
            1.0
        } else {
            correct as f64 / true_pairs as f64
        };
        (precision, recall)
    };
    let (precision, recall) = at(model.possible_threshold);

    let mut sorted: Vec<&LinkedPair> = pairs.iter().collect();
    sorted.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    let (mut correct, mut best_f1, mut best_threshold) = (0usize, 0.0f64, 1.0f64);
    for (index, pair) in sorted.iter().enumerate() {
        if is_true(pair) {
            correct += 1;
        }
        let next_differs = sorted
            .get(index + 1)
            .is_none_or(|next| next.probability < pair.probability);
        if next_differs {
            let score = f1(
                correct as f64 / (index + 1) as f64,
                correct as f64 / true_pairs.max(1) as f64,
            );
            if score > best_f1 {
                best_f1 = score;
                best_threshold = pair.probability;
            }
        }
    }

    // recall@1: of the left records with a true partner on the right, the
    // share whose best-scored candidate is that partner.
    let mut best_per_left: HashMap<usize, &LinkedPair> = HashMap::new();
    for pair in pairs {
        best_per_left
            .entry(pair.left)
            .and_modify(|best| {
                if pair.probability > best.probability {
                    *best = pair;
                }
            })
            .or_insert(pair);
    }
    let with_partner: Vec<usize> = (0..left.persons.len())
        .filter(|&index| right_by_person.contains_key(&left.persons[index]))
        .collect();
    let found_first = with_partner
        .iter()
        .filter(|index| best_per_left.get(index).is_some_and(|best| is_true(best)))
        .count();
    let recall_at_1 = found_first as f64 / with_partner.len().max(1) as f64;

    // Hard negatives: [twins strong, twins possible, siblings ≥ possible, namesakes ≥ possible].
    let mut hard = [0usize; 4];
    for pair in pairs
        .iter()
        .filter(|p| p.probability >= model.possible_threshold)
    {
        let (a, b) = (left.persons[pair.left], right.persons[pair.right]);
        let relation = relations.get(&(a.min(b), a.max(b)));
        match (relation, pair.band) {
            (Some(Relation::Twin), Band::Strong) => hard[0] += 1,
            (Some(Relation::Twin), _) => hard[1] += 1,
            (Some(Relation::Sibling), _) => hard[2] += 1,
            (Some(Relation::Namesake), _) => hard[3] += 1,
            (None, _) => {}
        }
    }
    (
        true_pairs,
        precision,
        recall,
        f1(precision, recall),
        best_threshold,
        best_f1,
        recall_at_1,
        hard,
    )
}

/// Generates, encodes and links; returns the per-pairing quality.
pub(crate) fn evaluate(
    persons: usize,
    seed: u64,
    dir: &Path,
) -> anyhow::Result<Vec<PairingQuality>> {
    let data = generate(SynthConfig { persons, seed });
    write_dir(&data, dir)?;
    let truth: HashMap<String, u32> = data
        .truth
        .iter()
        .map(|(_, id, person)| (id.clone(), *person))
        .collect();
    let relations: HashMap<(u32, u32), Relation> = data
        .relations
        .iter()
        .map(|&(a, b, relation)| ((a.min(b), a.max(b)), relation))
        .collect();
    // A fresh random keyring: quality must not depend on the key.
    let ring = KeyRing::generate()?;
    let tokenizer = Tokenizer::new(ring.hasher(ring.current_epoch())?);
    let encoded: Vec<EncodedSource> = Source::ALL
        .iter()
        .map(|&source| encode_source(dir, source, &tokenizer, &truth))
        .collect::<anyhow::Result<_>>()?;
    let options = LinkOptions {
        min_probability: 0.0,
        ..LinkOptions::default()
    };
    let mut results = Vec::new();
    for (left_index, right_index) in [(0usize, 1usize), (0, 2), (1, 2)] {
        let started = std::time::Instant::now();
        let (left, right) = (&encoded[left_index], &encoded[right_index]);
        // The left list's records searched, as queries, in the right list.
        let (pairs, stats) = link(&left.queries, &right.file, &options);
        let seconds = started.elapsed().as_secs_f64();
        let (true_pairs, precision, recall, f1, best_threshold, best_f1, recall_at_1, hard) =
            measure(left, right, &pairs, &relations, &options.model);
        results.push(PairingQuality {
            left: Source::ALL[left_index].stem(),
            right: Source::ALL[right_index].stem(),
            true_pairs,
            candidate_pairs: stats.candidate_pairs,
            precision,
            recall,
            f1,
            best_threshold,
            best_f1,
            recall_at_1,
            twins_strong: hard[0],
            twins_possible: hard[1],
            siblings_possible_or_strong: hard[2],
            namesakes_possible_or_strong: hard[3],
            seconds,
        });
    }
    Ok(results)
}

fn run_splink(dir: &Path, febrl: bool) -> anyhow::Result<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/splink_peer.py");
    let mut command = std::process::Command::new("python3");
    command.arg(&script);
    if febrl {
        command.arg("--febrl");
    }
    let output = command
        .arg(dir)
        .arg("--json")
        .output()
        .context("cannot run python3 for the Splink peer")?;
    if !output.status.success() {
        anyhow::bail!(
            "the Splink peer failed (pip install -r bench/requirements.txt): {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    serde_json::from_slice(&output.stdout).context("the Splink peer printed no JSON")
}

pub(crate) fn run(args: QualityArgs) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    let pairings = evaluate(args.persons, args.seed, &dir)?;
    let splink = if args.with_splink {
        Some(run_splink(&dir, false)?)
    } else {
        None
    };
    let febrl = match &args.febrl {
        Some(febrl_dir) => {
            let ring = KeyRing::generate()?;
            let tokenizer = Tokenizer::new(ring.hasher(ring.current_epoch())?);
            Some(super::febrl::evaluate(febrl_dir, &tokenizer)?)
        }
        None => None,
    };
    let splink_febrl = match (&args.febrl, args.with_splink) {
        (Some(febrl_dir), true) => Some(run_splink(febrl_dir, true)?),
        _ => None,
    };
    let report = QualityReport {
        persons: args.persons,
        seed: args.seed,
        default_threshold: MatchModel::default().possible_threshold,
        pairings,
        splink,
        febrl,
        splink_febrl,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "poshuk quality: {} persons, seed {}, default threshold {} (possible and strong)",
        report.persons, report.seed, report.default_threshold
    );
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>7} {:>7} {:>9} {:>8} {:>9} {:>11} {:>7}",
        "pairing",
        "true",
        "precision",
        "recall",
        "F1",
        "best F1",
        "at",
        "recall@1",
        "twins str",
        "sib/nmsk ≥p",
        "seconds"
    );
    for q in &report.pairings {
        println!(
            "{:<24} {:>6} {:>9.4} {:>9.4} {:>7.4} {:>7.4} {:>9.4} {:>8.4} {:>9} {:>11} {:>7.2}",
            format!("{}–{}", q.left, q.right),
            q.true_pairs,
            q.precision,
            q.recall,
            q.f1,
            q.best_f1,
            q.best_threshold,
            q.recall_at_1,
            q.twins_strong,
            format!(
                "{}/{}",
                q.siblings_possible_or_strong, q.namesakes_possible_or_strong
            ),
            q.seconds
        );
    }
    if let Some(splink) = &report.splink {
        println!("\nSplink (plaintext, Jaro-Winkler) on the same files:");
        if let Some(pairings) = splink.get("pairings").and_then(|p| p.as_array()) {
            for p in pairings {
                let number = |key: &str| p.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
                println!(
                    "{:<24} precision {:.4} recall {:.4} F1 {:.4} best F1 {:.4} recall@1 {:.4} ({:.1}s)",
                    format!(
                        "{}–{}",
                        p.get("left").and_then(|v| v.as_str()).unwrap_or("?"),
                        p.get("right").and_then(|v| v.as_str()).unwrap_or("?")
                    ),
                    number("precision"),
                    number("recall"),
                    number("f1"),
                    number("best_f1"),
                    number("recall_at_1"),
                    number("seconds")
                );
            }
        }
    }
    if let Some(febrl) = &report.febrl {
        println!("\nFEBRL (given name, surname, date of birth, suburb; typos):");
        println!(
            "{:<24} {:>7} {:>6} {:>8} {:>9} {:>9} {:>7} {:>7}",
            "data set", "records", "true", "blocked", "precision", "recall", "F1", "best F1"
        );
        for q in febrl {
            println!(
                "{:<24} {:>7} {:>6} {:>8.4} {:>9.4} {:>9.4} {:>7.4} {:>7.4}",
                q.data_set,
                q.records,
                q.true_pairs,
                q.blocked,
                q.precision,
                q.recall,
                q.f1,
                q.best_f1
            );
        }
    }
    if let Some(splink) = &report.splink_febrl {
        println!("\nSplink on the same FEBRL files (plaintext):");
        if let Some(sets) = splink.get("data_sets").and_then(|p| p.as_array()) {
            for p in sets {
                let number = |key: &str| p.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
                println!(
                    "{:<24} blocked {:.4} precision {:.4} recall {:.4} F1 {:.4} best F1 {:.4}",
                    p.get("data_set").and_then(|v| v.as_str()).unwrap_or("?"),
                    number("blocking_recall"),
                    number("precision"),
                    number("recall"),
                    number("f1"),
                    number("best_f1"),
                );
            }
        }
    }
    Ok(())
}
