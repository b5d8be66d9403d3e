//! The attacks. Each takes the stolen tokens and the public knowledge only,
//! and returns a guess per stolen record; none of them reads the key, the
//! handle map or the victim's plaintext.

use std::collections::{HashMap, HashSet};

use poshuk_core::names::tables;

use super::public::{GivenLabel, Public, bigrams, ranked};
use super::stolen::Stolen;

/// What an attack believes about one record.
#[derive(Debug, Clone, Default)]
pub(super) struct Guess {
    pub(super) family: Option<String>,
    pub(super) given: Option<GivenLabel>,
    pub(super) year: Option<u16>,
}

/// The label of a given-name skeleton, as the tables group it.
fn label_of(key: &str) -> GivenLabel {
    match tables()
        .given_classes(key, poshuk_core::Sex::Unknown)
        .first()
    {
        Some(&class) => GivenLabel::Class(class),
        None => GivenLabel::Unknown(key.to_string()),
    }
}

/// Occurrences of each token of a column.
fn counts(column: &[&[u128]]) -> HashMap<u128, usize> {
    let mut counts = HashMap::new();
    for tokens in column {
        for &token in *tokens {
            *counts.entry(token).or_insert(0) += 1;
        }
    }
    counts
}

/// Per record, its most frequent token of the column: for a family name
/// the stem both sexes share, rather than a gendered or transliterated form.
fn primary(column: &[&[u128]]) -> Vec<Option<u128>> {
    let counts = counts(column);
    column
        .iter()
        .map(|tokens| {
            tokens
                .iter()
                .max_by_key(|token| (counts[token], **token))
                .copied()
        })
        .collect()
}

/// Frequency alignment: the victim's k-th most frequent token is taken for
/// the population's k-th most frequent value, among the records `members`.
fn align<T: Clone>(
    tokens: &[Option<u128>],
    members: impl Iterator<Item = usize>,
    public: &[(T, usize)],
) -> HashMap<u128, T> {
    let victim = ranked(members.filter_map(|index| tokens[index]));
    victim
        .into_iter()
        .zip(public)
        .map(|((token, _), (value, _))| (token, value.clone()))
        .collect()
}

/// Attack 1: whole-value frequency alignment per slot (family names, given
/// names with and without a class, birth years).
pub(super) fn frequency(stolen: &Stolen, public: &Public) -> Vec<Guess> {
    let all = 0..stolen.records.len();
    let family = primary(&stolen.column("FamilyWhole"));
    let family_map = align(&family, all.clone(), &public.families(|_| true));
    let classes = primary(&stolen.column("GivenClass"));
    let wholes = primary(&stolen.column("GivenWhole"));
    let class_map = align(
        &classes,
        all.clone(),
        &public.givens(|person| !person.classes.is_empty()),
    );
    let classless: Vec<usize> = all
        .clone()
        .filter(|&index| classes[index].is_none())
        .collect();
    let whole_map = align(
        &wholes,
        classless.iter().copied(),
        &public.givens(|person| person.classes.is_empty()),
    );
    let years = primary(&stolen.column("DateYear"));
    let year_map = align(&years, all.clone(), &public.years());
    let family_years = years_within_families(stolen, public);
    all.map(|index| Guess {
        family: family[index].and_then(|token| family_map.get(&token).cloned()),
        given: match classes[index] {
            Some(token) => class_map.get(&token).cloned(),
            None => wholes[index].and_then(|token| whole_map.get(&token).cloned()),
        },
        year: years[index]
            .and_then(|token| year_map.get(&token).copied())
            .or(family_years[index]),
    })
    .collect()
}

/// Where the year is stored only together with the family name (tokenizer
/// 4): the year tokens of one family name, ranked by frequency, are aligned
/// with the population's birth years. A common surname's years follow the
/// population's histogram; a rare one's are too few to tell.
fn years_within_families(stolen: &Stolen, public: &Public) -> Vec<Option<u16>> {
    let years = public.years();
    let family = primary(&stolen.column("FamilyWhole"));
    let family_years = stolen.column("FamilyYear");
    let mut members: HashMap<u128, Vec<usize>> = HashMap::new();
    for (index, family) in family.iter().enumerate() {
        if let Some(family) = family {
            members.entry(*family).or_default().push(index);
        }
    }
    let primary_year = primary(&family_years);
    let mut guesses = vec![None; stolen.records.len()];
    for indexes in members.values() {
        let map = align(&primary_year, indexes.iter().copied(), &years);
        for &index in indexes {
            guesses[index] = primary_year[index].and_then(|token| map.get(&token).copied());
        }
    }
    guesses
}

/// The slot-structure signatures the layout shows: under tokenizer 2 the
/// number of bigram tokens (a name's length); under 4 the number of whole
/// tokens (a stem that differs from the written form, another spelling
/// system's reading); and whether the given name has a class.
struct Signatures {
    family: Vec<usize>,
    given: Vec<(usize, bool)>,
}

fn stolen_signatures(stolen: &Stolen) -> Signatures {
    let (family_slot, given_slot) = if stolen.has("FamilyGram") {
        ("FamilyGram", "GivenGram")
    } else {
        ("FamilyWhole", "GivenWhole")
    };
    let classes = stolen.column("GivenClass");
    Signatures {
        family: stolen.column(family_slot).iter().map(|t| t.len()).collect(),
        given: stolen
            .column(given_slot)
            .iter()
            .zip(&classes)
            .map(|(tokens, classes)| (tokens.len(), !classes.is_empty()))
            .collect(),
    }
}

/// The same signatures of the public sample: from the bigrams of its names
/// (tokenizer 2), or from its own encoding under the attacker's key.
fn public_family_signature(stolen: &Stolen, public: &Public, index: usize) -> usize {
    let person = &public.people[index];
    if stolen.has("FamilyGram") {
        if person.family.is_empty() {
            0
        } else {
            bigrams(&person.family).len()
        }
    } else {
        public.own[index].slot(poshuk_core::Slot::FamilyWhole).len()
    }
}

fn public_given_signature(stolen: &Stolen, public: &Public, index: usize) -> (usize, bool) {
    let person = &public.people[index];
    let count = if stolen.has("GivenGram") {
        if person.given.is_empty() {
            0
        } else {
            bigrams(&person.given).len()
        }
    } else {
        public.own[index].slot(poshuk_core::Slot::GivenWhole).len()
    };
    (count, !person.classes.is_empty())
}

/// Attack 2: frequency alignment inside buckets of records whose slots have
/// the same structure (the same name length under tokenizer 2).
pub(super) fn bucketed(stolen: &Stolen, public: &Public) -> Vec<Guess> {
    let signatures = stolen_signatures(stolen);
    let family = primary(&stolen.column("FamilyWhole"));
    let classes = primary(&stolen.column("GivenClass"));
    let wholes = primary(&stolen.column("GivenWhole"));
    let given: Vec<Option<u128>> = classes
        .iter()
        .zip(&wholes)
        .map(|(class, whole)| class.or(*whole))
        .collect();
    let mut guesses = frequency(stolen, public);

    let family_buckets: HashSet<usize> = signatures.family.iter().copied().collect();
    for bucket in family_buckets {
        let members = (0..stolen.records.len()).filter(|&i| signatures.family[i] == bucket);
        let map = align(
            &family,
            members.clone(),
            &public.families_of(|index| public_family_signature(stolen, public, index) == bucket),
        );
        for index in members {
            guesses[index].family = family[index].and_then(|token| map.get(&token).cloned());
        }
    }
    let given_buckets: HashSet<(usize, bool)> = signatures.given.iter().copied().collect();
    for bucket in given_buckets {
        let members = (0..stolen.records.len()).filter(|&i| signatures.given[i] == bucket);
        let map = align(
            &given,
            members.clone(),
            &public.givens_of(|index| public_given_signature(stolen, public, index) == bucket),
        );
        for index in members {
            guesses[index].given = given[index].and_then(|token| map.get(&token).cloned());
        }
    }
    guesses
}

/// Attack 3 (tokenizer 2): the year chain. A record's neighbouring-year
/// tokens are the year tokens of the years before and after its own, so
/// the year tokens form a path; a public birth-year histogram fixes its
/// direction and offset. Returns the year of every year token, or nothing
/// when the file stores no neighbouring years.
pub(super) fn year_chain(stolen: &Stolen, public: &Public) -> Option<HashMap<u128, u16>> {
    if !stolen.has("DateNearYear") {
        return None;
    }
    let years = stolen.column("DateYear");
    let near = stolen.column("DateNearYear");
    let mut neighbours: HashMap<u128, HashSet<u128>> = HashMap::new();
    for (own, near) in years.iter().zip(&near) {
        for &year in *own {
            for &other in *near {
                neighbours.entry(year).or_default().insert(other);
                neighbours.entry(other).or_default().insert(year);
            }
        }
    }
    // Walk the path from one end.
    let start = neighbours
        .iter()
        .filter(|(_, next)| next.len() == 1)
        .map(|(token, _)| *token)
        .min()?;
    let mut path = vec![start];
    let mut seen: HashSet<u128> = HashSet::from([start]);
    while let Some(&next) = neighbours[path.last()?]
        .iter()
        .filter(|token| !seen.contains(token))
        .min()
    {
        seen.insert(next);
        path.push(next);
    }
    let counts = counts(&years);
    let total = years.len().max(1) as f64;
    let histogram: HashMap<u16, f64> = {
        let years = public.years();
        let sum: usize = years.iter().map(|(_, count)| count).sum();
        years
            .into_iter()
            .map(|(year, count)| (year, count as f64 / sum.max(1) as f64))
            .collect()
    };
    let (&low, &high) = (histogram.keys().min()?, histogram.keys().max()?);
    // Both directions, every offset: the one closest to the histogram.
    let reversed: Vec<u128> = path.iter().rev().copied().collect();
    let mut best: Option<(f64, &[u128], i32)> = None;
    for ordered in [path.as_slice(), reversed.as_slice()] {
        let span = ordered.len() as i32;
        for first in (i32::from(low) - span)..=(i32::from(high) + 1) {
            let distance: f64 = ordered
                .iter()
                .enumerate()
                .map(|(position, token)| {
                    let year = (first + position as i32).clamp(0, i32::from(u16::MAX)) as u16;
                    let share = counts.get(token).copied().unwrap_or(0) as f64 / total;
                    (share - histogram.get(&year).copied().unwrap_or(0.0)).abs()
                })
                .sum();
            if best.is_none_or(|(closest, _, _)| distance < closest) {
                best = Some((distance, ordered, first));
            }
        }
    }
    let (_, ordered, first) = best?;
    Some(
        ordered
            .iter()
            .enumerate()
            .map(|(position, token)| {
                let year = (first + position as i32).clamp(0, i32::from(u16::MAX)) as u16;
                (*token, year)
            })
            .collect(),
    )
}

/// The dictionary the decoding attacks match against: every name of the
/// public sample, by key, with its frequency.
struct Dictionary {
    names: Vec<(String, usize)>,
    grams: Vec<Vec<[u8; 2]>>,
    by_gram: HashMap<[u8; 2], Vec<usize>>,
}

impl Dictionary {
    fn new(names: Vec<(String, usize)>) -> Dictionary {
        let grams: Vec<Vec<[u8; 2]>> = names.iter().map(|(name, _)| bigrams(name)).collect();
        let mut by_gram: HashMap<[u8; 2], Vec<usize>> = HashMap::new();
        for (index, grams) in grams.iter().enumerate() {
            for gram in grams {
                by_gram.entry(*gram).or_default().push(index);
            }
        }
        Dictionary {
            names,
            grams,
            by_gram,
        }
    }

    /// The name whose bigram set best explains the decoded bigrams, among
    /// names with as many bigrams as the record has gram tokens; with the
    /// share of decoded bigrams it explains.
    fn decode(&self, decoded: &[[u8; 2]], token_count: usize) -> Option<(&str, f64)> {
        if decoded.is_empty() {
            return None;
        }
        let mut overlap: HashMap<usize, usize> = HashMap::new();
        for gram in decoded {
            for &index in self.by_gram.get(gram).map(Vec::as_slice).unwrap_or(&[]) {
                if self.grams[index].len() == token_count {
                    *overlap.entry(index).or_insert(0) += 1;
                }
            }
        }
        let (index, shared) = overlap.into_iter().max_by_key(|&(index, shared)| {
            (shared, self.names[index].1, std::cmp::Reverse(index))
        })?;
        Some((&self.names[index].0, shared as f64 / decoded.len() as f64))
    }
}

/// Attack 4 (tokenizer 2): the bigram substitution cipher. Given and family
/// bigram tokens share one token space. Starting from the bucket attack's
/// guesses, each round votes which bigram each token stands for (every
/// guessed name votes for its bigrams on its tokens), assigns tokens to
/// bigrams one to one, strongest votes first, and decodes every record
/// against the public dictionary; decoded names vote in the next round.
pub(super) fn bigram_substitution(
    stolen: &Stolen,
    public: &Public,
    seed: &[Guess],
    rounds: usize,
) -> Option<Vec<Guess>> {
    if !stolen.has("FamilyGram") {
        return None;
    }
    let family_grams = stolen.column("FamilyGram");
    let given_grams = stolen.column("GivenGram");
    let families = Dictionary::new(public.families(|_| true));
    let givens = Dictionary::new(ranked(
        public
            .people
            .iter()
            .filter(|person| !person.given.is_empty())
            .map(|person| person.given.clone()),
    ));
    let mut names: Vec<(Option<String>, Option<String>)> = seed
        .iter()
        .map(|guess| {
            (
                guess.family.clone(),
                guess
                    .given
                    .as_ref()
                    .and_then(|label| public.given_spelling.get(label).cloned()),
            )
        })
        .collect();
    let mut guesses = seed.to_vec();
    for _ in 0..rounds {
        let mut votes: HashMap<u128, HashMap<[u8; 2], f64>> = HashMap::new();
        for (index, (family, given)) in names.iter().enumerate() {
            for (name, tokens) in [(family, family_grams[index]), (given, given_grams[index])] {
                let Some(name) = name else { continue };
                let grams = bigrams(name);
                if grams.len() != tokens.len() {
                    continue;
                }
                let weight = 1.0 / grams.len() as f64;
                for &token in tokens {
                    let entry = votes.entry(token).or_default();
                    for gram in &grams {
                        *entry.entry(*gram).or_insert(0.0) += weight;
                    }
                }
            }
        }
        let mut candidates: Vec<(f64, u128, [u8; 2])> = votes
            .iter()
            .flat_map(|(&token, grams)| {
                let total: f64 = grams.values().sum();
                grams
                    .iter()
                    .map(move |(&gram, &count)| (count * count / total, token, gram))
            })
            .collect();
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut map: HashMap<u128, [u8; 2]> = HashMap::new();
        let mut taken: HashSet<[u8; 2]> = HashSet::new();
        for (_, token, gram) in candidates {
            if !map.contains_key(&token) && !taken.contains(&gram) {
                map.insert(token, gram);
                taken.insert(gram);
            }
        }
        for (index, guess) in guesses.iter_mut().enumerate() {
            let decode = |tokens: &[u128], dictionary: &Dictionary| {
                let decoded: Vec<[u8; 2]> = tokens
                    .iter()
                    .filter_map(|token| map.get(token).copied())
                    .collect();
                dictionary
                    .decode(&decoded, tokens.len())
                    .filter(|(_, explained)| *explained >= 0.75)
                    .map(|(name, _)| name.to_string())
            };
            if let Some(family) = decode(family_grams[index], &families) {
                guess.family = Some(family.clone());
                names[index].0 = Some(family);
            }
            if let Some(given) = decode(given_grams[index], &givens) {
                guess.given = Some(label_of(&given));
                names[index].1 = Some(given);
            }
        }
    }
    Some(guesses)
}

/// Attack 5: year groups pooled across families. Two records sharing any
/// token that implies the birth year (a year or a date, keyed with a family
/// name or a given name, or a bare year token) were born the same year;
/// joined transitively, records fall into groups of one year each. Where a
/// date token is shared by different families (people of one given name born
/// on one day), groups of different families merge, and a large list may
/// merge into whole years: the largest groups are then aligned, by size, with
/// the population's most frequent years. Returns the guessed year per record
/// and the size of the largest group.
pub(super) fn pooled_years(
    stolen: &Stolen,
    public: &Public,
    min_group: usize,
) -> (Vec<Option<u16>>, usize) {
    let count = stolen.records.len();
    let mut parent: Vec<usize> = (0..count).collect();
    fn find(parent: &mut [usize], mut node: usize) -> usize {
        while parent[node] != node {
            parent[node] = parent[parent[node]];
            node = parent[node];
        }
        node
    }
    for slot in [
        "DateYear",
        "FamilyYear",
        "FamilyDate",
        "FamilyUnorderedDate",
        "GivenDate",
    ] {
        let mut first: HashMap<u128, usize> = HashMap::new();
        for (index, tokens) in stolen.column(slot).iter().enumerate() {
            for &token in *tokens {
                let other = *first.entry(token).or_insert(index);
                let (a, b) = (find(&mut parent, index), find(&mut parent, other));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for index in 0..count {
        let root = find(&mut parent, index);
        groups.entry(root).or_default().push(index);
    }
    let largest = groups.values().map(Vec::len).max().unwrap_or(0);
    let mut groups: Vec<Vec<usize>> = groups
        .into_values()
        .filter(|members| members.len() >= min_group)
        .collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a[0].cmp(&b[0])));
    let mut guesses = vec![None; count];
    for (members, (year, _)) in groups.iter().zip(public.years()) {
        for &index in members {
            guesses[index] = Some(year);
        }
    }
    (guesses, largest)
}
