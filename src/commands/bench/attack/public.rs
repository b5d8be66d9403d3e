//! What the attacker knows without stealing anything: the published
//! normalization (skeletons, stems, name classes) and the statistics of the
//! population's names and birth years, here estimated from a public sample
//! of persons none of whom is in the victim's list.
//!
//! The same normalization turns the victim's plaintext into the truth the
//! guesses are scored against (`truth.rs`); the attack never sees it.

use std::collections::HashMap;

use poshuk_core::Record;
use poshuk_core::names::{family_stem, name_key, tables};
use poshuk_core::normalize::{fold_text, skeleton, words};

/// A given name as the tokenizer groups it: its class when the tables know
/// the name (all its forms meet in the class token), its skeleton otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum GivenLabel {
    Class(u16),
    Unknown(String),
}

/// The features of one person that an attack tries to recover.
#[derive(Debug, Clone)]
pub(super) struct Person {
    /// Family name: the stems of its words, joined (what the tokenizer keys).
    pub(super) family: String,
    /// Given name: the skeletons of its words, joined.
    pub(super) given: String,
    /// The classes of the given name (empty when the tables do not know it).
    pub(super) classes: Vec<u16>,
    pub(super) year: Option<u16>,
}

impl Person {
    pub(super) fn of(record: &Record) -> Person {
        let folded = fold_text(&record.family_name);
        let stems: Vec<String> = words(&folded)
            .map(skeleton)
            .filter(|word| !word.is_empty())
            .map(|word| family_stem(&word).to_string())
            .collect();
        let given = name_key(&record.given_name);
        let classes = tables().given_classes(&given, record.sex);
        Person {
            family: stems.concat(),
            given,
            classes,
            year: record.birth_date.map(|date| date.year),
        }
    }

    pub(super) fn given_label(&self) -> GivenLabel {
        match self.classes.first() {
            Some(&class) => GivenLabel::Class(class),
            None => GivenLabel::Unknown(self.given.clone()),
        }
    }

    /// Whether a guessed given name is this person's (same class or, for
    /// names outside the tables, same skeleton).
    pub(super) fn given_is(&self, guess: &GivenLabel) -> bool {
        match guess {
            GivenLabel::Class(class) => self.classes.contains(class),
            GivenLabel::Unknown(key) => *key == self.given,
        }
    }
}

/// Values by descending frequency (ties by value, so runs are repeatable).
pub(super) fn ranked<T: Clone + Ord + std::hash::Hash>(
    values: impl Iterator<Item = T>,
) -> Vec<(T, usize)> {
    let mut counts: HashMap<T, usize> = HashMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut ranked: Vec<(T, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// Padded bigrams of a key, as tokenizer version 2 hashed them.
pub(super) fn bigrams(key: &str) -> Vec<[u8; 2]> {
    let mut padded = Vec::with_capacity(key.len() + 2);
    padded.push(b'^');
    padded.extend_from_slice(key.as_bytes());
    padded.push(b'$');
    let mut grams: Vec<[u8; 2]> = padded.windows(2).map(|pair| [pair[0], pair[1]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// The public knowledge: a sample of the population, normalized.
pub(super) struct Public {
    pub(super) people: Vec<Person>,
    /// The sample encoded by the current tokenizer under the attacker's own
    /// key: the slot structure each kind of name gets.
    pub(super) own: Vec<poshuk_core::TokenRecord>,
    /// The most common spelling (skeleton) of each given-name label.
    pub(super) given_spelling: HashMap<GivenLabel, String>,
}

impl Public {
    pub(super) fn new(records: &[Record]) -> anyhow::Result<Public> {
        let people: Vec<Person> = records.iter().map(Person::of).collect();
        let ring = poshuk_core::KeyRing::generate()?;
        let tokenizer = poshuk_core::Tokenizer::new(ring.hasher(ring.current_epoch())?);
        let own = records
            .iter()
            .map(|record| tokenizer.tokenize(record))
            .collect();
        let mut spellings: HashMap<GivenLabel, Vec<String>> = HashMap::new();
        for person in &people {
            if !person.given.is_empty() {
                spellings
                    .entry(person.given_label())
                    .or_default()
                    .push(person.given.clone());
            }
        }
        let given_spelling = spellings
            .into_iter()
            .filter_map(|(label, keys)| {
                let top = ranked(keys.into_iter()).into_iter().next()?;
                Some((label, top.0))
            })
            .collect();
        Ok(Public {
            people,
            own,
            given_spelling,
        })
    }

    /// Family keys by frequency, of the persons (by index) `keep` accepts.
    pub(super) fn families_of(&self, keep: impl Fn(usize) -> bool) -> Vec<(String, usize)> {
        ranked(
            (0..self.people.len())
                .filter(|&index| !self.people[index].family.is_empty() && keep(index))
                .map(|index| self.people[index].family.clone()),
        )
    }

    /// Given-name labels by frequency, of the persons (by index) `keep` accepts.
    pub(super) fn givens_of(&self, keep: impl Fn(usize) -> bool) -> Vec<(GivenLabel, usize)> {
        ranked(
            (0..self.people.len())
                .filter(|&index| !self.people[index].given.is_empty() && keep(index))
                .map(|index| self.people[index].given_label()),
        )
    }

    /// Family keys by frequency, of the persons `keep` accepts.
    pub(super) fn families(&self, keep: impl Fn(&Person) -> bool) -> Vec<(String, usize)> {
        ranked(
            self.people
                .iter()
                .filter(|person| !person.family.is_empty() && keep(person))
                .map(|person| person.family.clone()),
        )
    }

    /// Given-name labels by frequency, of the persons `keep` accepts.
    pub(super) fn givens(&self, keep: impl Fn(&Person) -> bool) -> Vec<(GivenLabel, usize)> {
        ranked(
            self.people
                .iter()
                .filter(|person| !person.given.is_empty() && keep(person))
                .map(Person::given_label),
        )
    }

    /// Birth years by frequency.
    pub(super) fn years(&self) -> Vec<(u16, usize)> {
        ranked(self.people.iter().filter_map(|person| person.year))
    }
}
