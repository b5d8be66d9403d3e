//! Matching quality on typos: the public FEBRL data sets (written as CSV by
//! `bench/febrl_export.py`), deduplicated (FEBRL1–3) or linked (FEBRL4), on
//! given name, surname, date of birth and suburb only.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use indicatif::ProgressBar;
use poshuk_core::{MatchModel, Tokenizer};
use poshuk_link::{LinkOptions, LinkedPair, link};
use poshuk_records::{ReadOptions, read_file};
use serde::Serialize;

use crate::commands::encode::{encode_queries, encode_records};

/// Quality on one FEBRL data set.
#[derive(Debug, Serialize)]
pub(crate) struct FebrlQuality {
    pub(crate) data_set: String,
    pub(crate) records: usize,
    pub(crate) true_pairs: usize,
    /// True pairs that share a blocking key (scored at all).
    pub(crate) blocked: f64,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    pub(crate) f1: f64,
    pub(crate) best_f1: f64,
}

struct Encoded {
    /// As a node stores the records.
    file: poshuk_link::TokenFile,
    /// As a searcher's queries.
    queries: poshuk_link::TokenFile,
    /// The entity of each encoded record.
    entities: Vec<String>,
    /// The entity of every row of the file, also of rows the reader
    /// rejected (a record with no name at all): their pairs count as missed.
    all_entities: Vec<String>,
}

fn encode(
    path: &Path,
    tokenizer: &Tokenizer,
    truth: &HashMap<String, String>,
) -> anyhow::Result<Encoded> {
    let outcome =
        read_file(path, &ReadOptions::default()).with_context(|| format!("{}", path.display()))?;
    let (file, map) = encode_records(&outcome, tokenizer, &ProgressBar::hidden())?;
    let (queries, _) = encode_queries(&outcome, tokenizer)?;
    let entities = map
        .iter()
        .map(|(_, record_id)| truth.get(record_id).cloned().unwrap_or_default())
        .collect();
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("{}", path.display()))?;
    let mut all_entities = Vec::new();
    for row in reader.records() {
        if let Some(entity) = row?.get(0).and_then(|record_id| truth.get(record_id)) {
            all_entities.push(entity.clone());
        }
    }
    Ok(Encoded {
        file,
        queries,
        entities,
        all_entities,
    })
}

fn read_truth(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("{}", path.display()))?;
    let mut truth = HashMap::new();
    for row in reader.records() {
        let row = row?;
        if let (Some(record), Some(entity)) = (row.get(0), row.get(1)) {
            truth.insert(record.to_string(), entity.to_string());
        }
    }
    Ok(truth)
}

/// Counts the true pairs of two sides (or of one side with itself).
fn true_pair_count(left: &[String], right: &[String], same_file: bool) -> usize {
    let mut by_entity: HashMap<&str, usize> = HashMap::new();
    for entity in right {
        *by_entity.entry(entity).or_insert(0) += 1;
    }
    if same_file {
        by_entity.values().map(|n| n * (n - 1) / 2).sum()
    } else {
        left.iter()
            .map(|entity| by_entity.get(entity.as_str()).copied().unwrap_or(0))
            .sum()
    }
}

fn measure(
    name: &str,
    left: &Encoded,
    right: &Encoded,
    same_file: bool,
    model: &MatchModel,
) -> FebrlQuality {
    let options = LinkOptions {
        min_probability: 0.0,
        ..LinkOptions::default()
    };
    // Each left record searched, as a query, among the right records; in one
    // file each unordered pair once (the better-scored direction), no record
    // with itself.
    let (found, _) = link(&left.queries, &right.file, &options);
    let mut best: HashMap<(usize, usize), LinkedPair> = HashMap::new();
    for pair in found {
        if same_file && pair.left == pair.right {
            continue;
        }
        let key = if same_file {
            (pair.left.min(pair.right), pair.left.max(pair.right))
        } else {
            (pair.left, pair.right)
        };
        match best.get(&key) {
            Some(kept) if kept.probability >= pair.probability => {}
            _ => {
                best.insert(key, pair);
            }
        }
    }
    let pairs: Vec<&LinkedPair> = best.values().collect();
    let is_true = |pair: &LinkedPair| {
        !left.entities[pair.left].is_empty()
            && left.entities[pair.left] == right.entities[pair.right]
    };
    let true_pairs = true_pair_count(&left.all_entities, &right.all_entities, same_file);
    let scored_true: HashSet<(usize, usize)> = pairs
        .iter()
        .filter(|pair| is_true(pair))
        .map(|pair| (pair.left, pair.right))
        .collect();
    let at = |threshold: f64| {
        let predicted = pairs
            .iter()
            .filter(|pair| pair.probability >= threshold)
            .count();
        let correct = pairs
            .iter()
            .filter(|pair| pair.probability >= threshold && is_true(pair))
            .count();
        let precision = if predicted == 0 {
            1.0
        } else {
            correct as f64 / predicted as f64
        };
        let recall = correct as f64 / true_pairs.max(1) as f64;
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        (precision, recall, f1)
    };
    let (precision, recall, f1) = at(model.possible_threshold);
    let best_f1 = (1..100)
        .map(|step| at(step as f64 / 100.0).2)
        .fold(0.0, f64::max);
    FebrlQuality {
        data_set: name.to_string(),
        records: left.all_entities.len(),
        true_pairs,
        blocked: scored_true.len() as f64 / true_pairs.max(1) as f64,
        precision,
        recall,
        f1,
        best_f1,
    }
}

/// FEBRL1–3 deduplicated and FEBRL4 linked, each under `tokenizer`.
pub(crate) fn evaluate(dir: &Path, tokenizer: &Tokenizer) -> anyhow::Result<Vec<FebrlQuality>> {
    let model = MatchModel::default();
    let mut results = Vec::new();
    for name in ["febrl1", "febrl2", "febrl3"] {
        let base = dir.join(name);
        let truth = read_truth(&base.join("truth.csv"))?;
        let records = encode(&base.join("records.csv"), tokenizer, &truth)?;
        results.push(measure(name, &records, &records, true, &model));
    }
    let base = dir.join("febrl4");
    if base.join("a.csv").exists() {
        let truth = read_truth(&base.join("truth.csv"))?;
        let a = encode(&base.join("a.csv"), tokenizer, &truth)?;
        let b = encode(&base.join("b.csv"), tokenizer, &truth)?;
        results.push(measure("febrl4 (external check)", &a, &b, false, &model));
    }
    Ok(results)
}
