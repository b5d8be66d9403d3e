//! The attacks. Each takes the stolen tokens and the public knowledge only,
//! and returns a guess per stolen record; none of them reads the key, the
//! handle map or the victim's plaintext.

use std::collections::{HashMap, HashSet};

use poshuk_core::names::tables;
use poshuk_core::normalize::deletion_neighbourhood;

use super::public::{GivenLabel, Person, Public, bigrams, ranked};
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
    all.map(|index| Guess {
        family: family[index].and_then(|token| family_map.get(&token).cloned()),
        given: match classes[index] {
            Some(token) => class_map.get(&token).cloned(),
            None => wholes[index].and_then(|token| whole_map.get(&token).cloned()),
        },
        year: years[index].and_then(|token| year_map.get(&token).copied()),
    })
    .collect()
}

/// The slot-structure signatures the layout shows: for tokenizer 2 the
/// number of bigram tokens (a name's length), for 3 the deletion tokens
/// (sixteen per word); and whether the given name has a class.
struct Signatures {
    family: Vec<usize>,
    given: Vec<(usize, bool)>,
}

fn stolen_signatures(stolen: &Stolen) -> Signatures {
    let (family_slot, given_slot) = if stolen.has("FamilyGram") {
        ("FamilyGram", "GivenGram")
    } else {
        ("FamilyDeletion", "GivenDeletion")
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

fn public_family_signature(stolen: &Stolen, person: &Person) -> usize {
    if stolen.has("FamilyGram") {
        if person.family.is_empty() {
            0
        } else {
            bigrams(&person.family).len()
        }
    } else {
        poshuk_core::features::DELETION_TOKENS_PER_WORD * person.family_words
    }
}

fn public_given_signature(stolen: &Stolen, person: &Person) -> (usize, bool) {
    let count = if stolen.has("GivenGram") {
        if person.given.is_empty() {
            0
        } else {
            bigrams(&person.given).len()
        }
    } else {
        poshuk_core::features::DELETION_TOKENS_PER_WORD * person.given_words
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
            &public.families(|person| public_family_signature(stolen, person) == bucket),
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
            &public.givens(|person| public_given_signature(stolen, person) == bucket),
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

/// Attack 5 (tokenizer 3): graph matching on shared deletion tokens. Two
/// names one edit apart share a deletion token, so the names of a list form
/// a graph, and so do the public names: the bucket attack's guesses are
/// refined by moving each name to the candidate that is a public neighbour
/// of its neighbours' guesses, closest in frequency.
pub(super) fn deletion_graph(
    stolen: &Stolen,
    public: &Public,
    seed: &[Guess],
) -> Option<Vec<Guess>> {
    if !stolen.has("FamilyDeletion") {
        return None;
    }
    let mut guesses = seed.to_vec();
    let families = refine_by_graph(
        &primary(&stolen.column("FamilyWhole")),
        &stolen.column("FamilyDeletion"),
        &seed
            .iter()
            .map(|guess| guess.family.clone())
            .collect::<Vec<_>>(),
        &public.families(|_| true),
        stolen.records.len(),
        public.people.len(),
    );
    let given_keys: Vec<Option<String>> = seed
        .iter()
        .map(|guess| {
            guess
                .given
                .as_ref()
                .and_then(|label| public.given_spelling.get(label).cloned())
        })
        .collect();
    let givens = refine_by_graph(
        &primary(&stolen.column("GivenWhole")),
        &stolen.column("GivenDeletion"),
        &given_keys,
        &ranked(
            public
                .people
                .iter()
                .filter(|person| !person.given.is_empty())
                .map(|person| person.given.clone()),
        ),
        stolen.records.len(),
        public.people.len(),
    );
    for (index, guess) in guesses.iter_mut().enumerate() {
        if let Some(family) = &families[index] {
            guess.family = Some(family.clone());
        }
        if let Some(given) = &givens[index] {
            guess.given = Some(label_of(given));
        }
    }
    Some(guesses)
}

fn refine_by_graph(
    groups: &[Option<u128>],
    deletions: &[&[u128]],
    seed: &[Option<String>],
    public_names: &[(String, usize)],
    victim_size: usize,
    public_size: usize,
) -> Vec<Option<String>> {
    // The victim's graph: groups of records with one primary token, linked
    // when they share a deletion token.
    let mut group_tokens: HashMap<u128, HashSet<u128>> = HashMap::new();
    let mut group_size: HashMap<u128, usize> = HashMap::new();
    let mut group_seed: HashMap<u128, HashMap<String, usize>> = HashMap::new();
    for ((group, tokens), seed) in groups.iter().zip(deletions).zip(seed) {
        let Some(group) = group else { continue };
        group_tokens
            .entry(*group)
            .or_default()
            .extend(tokens.iter());
        *group_size.entry(*group).or_insert(0) += 1;
        if let Some(name) = seed {
            *group_seed
                .entry(*group)
                .or_default()
                .entry(name.clone())
                .or_insert(0) += 1;
        }
    }
    let mut holders: HashMap<u128, Vec<u128>> = HashMap::new();
    for (&group, tokens) in &group_tokens {
        for &token in tokens {
            holders.entry(token).or_default().push(group);
        }
    }
    let mut neighbours: HashMap<u128, HashSet<u128>> = HashMap::new();
    for groups in holders.values().filter(|groups| groups.len() > 1) {
        for &a in groups {
            for &b in groups {
                if a != b {
                    neighbours.entry(a).or_default().insert(b);
                }
            }
        }
    }
    // The public graph, from the names' own deletion neighbourhoods.
    let frequency: HashMap<&str, f64> = public_names
        .iter()
        .map(|(name, count)| (name.as_str(), *count as f64 / public_size.max(1) as f64))
        .collect();
    let mut by_string: HashMap<String, Vec<&str>> = HashMap::new();
    for (name, _) in public_names {
        for string in deletion_neighbourhood(name) {
            by_string.entry(string).or_default().push(name);
        }
    }
    let mut public_neighbours: HashMap<&str, HashSet<&str>> = HashMap::new();
    for names in by_string.values().filter(|names| names.len() > 1) {
        for &a in names {
            for &b in names {
                if a != b {
                    public_neighbours.entry(a).or_default().insert(b);
                }
            }
        }
    }
    let mut assigned: HashMap<u128, String> = group_seed
        .iter()
        .filter_map(|(group, votes)| {
            votes
                .iter()
                .max_by_key(|(name, count)| (**count, std::cmp::Reverse((*name).clone())))
                .map(|(name, _)| (*group, name.clone()))
        })
        .collect();
    let mut order: Vec<u128> = group_size.keys().copied().collect();
    order.sort_by_key(|group| (std::cmp::Reverse(group_size[group]), *group));
    for _ in 0..3 {
        for &group in &order {
            let Some(next) = neighbours.get(&group) else {
                continue;
            };
            let mut candidates: Option<HashSet<&str>> = None;
            for neighbour in next {
                let Some(name) = assigned.get(neighbour) else {
                    continue;
                };
                let around: HashSet<&str> = public_neighbours
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or_default();
                candidates = Some(match candidates {
                    None => around,
                    Some(previous) => previous.intersection(&around).copied().collect(),
                });
            }
            let share = group_size[&group] as f64 / victim_size.max(1) as f64;
            if let Some(best) = candidates.unwrap_or_default().into_iter().min_by(|a, b| {
                let distance = |name: &str| (frequency[name].ln() - share.ln()).abs();
                distance(a).total_cmp(&distance(b)).then_with(|| a.cmp(b))
            }) {
                assigned.insert(group, best.to_string());
            }
        }
    }
    groups
        .iter()
        .map(|group| group.and_then(|group| assigned.get(&group).cloned()))
        .collect()
}
