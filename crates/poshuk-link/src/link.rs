//! Linking two token files: blocking on selective keys, then scoring only the
//! pairs that share a key. Never all pairs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use poshuk_core::{
    Band, BlockKey, FREQUENCY_SLOTS, MatchModel, Slot, TermFrequencies, Token, TokenRecord,
    link_keys,
};
use rayon::prelude::*;

use crate::token_file::TokenFile;

/// Block keys and tokens are already uniformly random: hashing them again is
/// wasted work on the hot path.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = (value as u64) ^ ((value >> 64) as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PassThroughHasher>>;

/// Settings of a link run.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Pairs below this probability are not reported.
    pub min_probability: f64,
    /// Blocks larger than this are skipped: a key shared by that many records
    /// is not selective, and the other keys still meet.
    pub max_block_size: usize,
    /// The scoring model.
    pub model: MatchModel,
}

impl Default for LinkOptions {
    fn default() -> LinkOptions {
        let model = MatchModel::default();
        LinkOptions {
            min_probability: model.possible_threshold,
            max_block_size: 1_000,
            model,
        }
    }
}

/// One reported pair.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedPair {
    /// Index into the left file's records.
    pub left: usize,
    /// Index into the right file's records.
    pub right: usize,
    /// Match probability.
    pub probability: f64,
    /// Band.
    pub band: Band,
    /// The fields that agreed ("given_name family_name ...").
    pub agreeing: String,
    /// Each field's level in words ("given name: equivalent form; ...").
    pub explanation: String,
}

/// Counts from a link run.
#[derive(Debug, Clone, Default)]
pub struct LinkStats {
    /// Pairs scored (after blocking).
    pub candidate_pairs: u64,
    /// Blocks skipped as too large.
    pub skipped_blocks: u64,
}

/// Token frequencies across both files, for term-frequency adjustment. Only
/// the slots whose exact agreement is TF-adjusted are counted.
pub struct TokenFrequencies {
    counts: FastMap<Token, u32>,
    population: f64,
}

impl TokenFrequencies {
    /// Counts the TF slots of the given records.
    pub fn count<'a>(records: impl Iterator<Item = &'a TokenRecord>) -> TokenFrequencies {
        let mut counts: FastMap<Token, u32> = FastMap::default();
        let mut population = 0usize;
        for record in records {
            population += 1;
            for slot in FREQUENCY_SLOTS {
                for &token in record.slot(slot) {
                    *counts.entry(token).or_insert(0) += 1;
                }
            }
        }
        TokenFrequencies {
            counts,
            population: population.max(1) as f64,
        }
    }
}

impl TermFrequencies for TokenFrequencies {
    fn frequency(&self, token: Token) -> Option<f64> {
        // Fewer than 50 records say nothing reliable about frequencies.
        if self.population < 50.0 {
            return None;
        }
        self.counts
            .get(&token)
            .map(|&count| f64::from(count) / self.population)
    }
}

/// Links `left` against `right`: every pair sharing a blocking key is scored,
/// and pairs at or above `min_probability` are returned, best first per left
/// record.
pub fn link(
    left: &TokenFile,
    right: &TokenFile,
    options: &LinkOptions,
) -> (Vec<LinkedPair>, LinkStats) {
    let frequencies = TokenFrequencies::count(
        left.records
            .iter()
            .map(|(_, record)| record)
            .chain(right.records.iter().map(|(_, record)| record)),
    );
    // A query's one-edit variants that are no name of the right side can
    // meet nothing there: dropped before any key is made of them.
    let names: std::collections::HashSet<Token> = right
        .records
        .iter()
        .flat_map(|(_, record)| {
            record
                .slot(Slot::GivenWhole)
                .iter()
                .chain(record.slot(Slot::FamilyWhole))
                .copied()
        })
        .collect();
    let mut blocks: FastMap<BlockKey, Vec<u32>> = FastMap::default();
    for (index, (_, record)) in right.records.iter().enumerate() {
        for key in link_keys(record) {
            blocks.entry(key).or_default().push(index as u32);
        }
    }
    let skipped_blocks = blocks
        .values()
        .filter(|b| b.len() > options.max_block_size)
        .count() as u64;

    let results: Vec<(Vec<LinkedPair>, u64)> = left
        .records
        .par_iter()
        .enumerate()
        .map(|(left_index, (_, left_record))| {
            let filtered;
            // A list encoded as queries (with their names' variants) is
            // scored as a node scores a searcher's query.
            let left_are_queries = !left_record.slot(Slot::GivenVariant).is_empty()
                || !left_record.slot(Slot::FamilyVariant).is_empty();
            let left_record = if !left_are_queries {
                left_record
            } else {
                filtered = left_record.filtered(|slot, token| {
                    !matches!(slot, Slot::GivenVariant | Slot::FamilyVariant)
                        || names.contains(&token)
                });
                &filtered
            };
            let mut candidates: Vec<u32> = Vec::new();
            for key in link_keys(left_record) {
                if let Some(block) = blocks.get(&key)
                    && block.len() <= options.max_block_size
                {
                    candidates.extend_from_slice(block);
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            let mut pairs: Vec<LinkedPair> = Vec::new();
            for &right_index in &candidates {
                let right_record = &right.records[right_index as usize].1;
                let score = if left_are_queries {
                    options
                        .model
                        .score_query(left_record, right_record, &frequencies)
                } else {
                    options.model.score(left_record, right_record, &frequencies)
                };
                if score.probability >= options.min_probability {
                    let agreeing = score
                        .agreeing_fields()
                        .iter()
                        .map(|field| field.name())
                        .collect::<Vec<_>>()
                        .join(" ");
                    pairs.push(LinkedPair {
                        left: left_index,
                        right: right_index as usize,
                        probability: score.probability,
                        band: score.band,
                        agreeing,
                        explanation: score.explain(),
                    });
                }
            }
            pairs.sort_by(|a, b| {
                b.probability
                    .total_cmp(&a.probability)
                    .then(a.right.cmp(&b.right))
            });
            (pairs, candidates.len() as u64)
        })
        .collect();

    let mut stats = LinkStats {
        candidate_pairs: 0,
        skipped_blocks,
    };
    let mut pairs = Vec::new();
    for (mut found, candidates) in results {
        stats.candidate_pairs += candidates;
        pairs.append(&mut found);
    }
    (pairs, stats)
}
