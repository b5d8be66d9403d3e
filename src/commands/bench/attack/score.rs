//! Scoring the guesses: the only part of the attack bench that reads the
//! victim's handle map and plaintext, and only after the attacks are done.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;

use super::attacks::Guess;
use super::public::Person;
use super::read_records;
use super::stolen::Stolen;

/// Each stolen record's true features, in the stolen file's order.
pub(super) struct Truth {
    people: Vec<Option<Person>>,
}

/// Shares of records whose field the guesses got right.
pub(super) struct Score {
    /// Family name, given name and birth year all right.
    pub(super) reidentified: f64,
    pub(super) family: f64,
    pub(super) given: f64,
    pub(super) year: f64,
    /// Distinct family names of the list that some record gave back.
    pub(super) distinct_families: f64,
}

impl Truth {
    pub(super) fn read(handles: &Path, plaintext: &Path, stolen: &Stolen) -> anyhow::Result<Truth> {
        let mut reader =
            csv::Reader::from_path(handles).with_context(|| format!("{}", handles.display()))?;
        let mut record_of: HashMap<[u8; 16], String> = HashMap::new();
        for row in reader.records() {
            let row = row?;
            let (Some(handle), Some(record_id)) = (row.get(0), row.get(1)) else {
                continue;
            };
            let mut bytes = [0u8; 16];
            if hex::decode_to_slice(handle, &mut bytes).is_ok() {
                record_of.insert(bytes, record_id.to_string());
            }
        }
        let people: HashMap<String, Person> = read_records(plaintext)?
            .iter()
            .map(|record| (record.record_id.clone(), Person::of(record)))
            .collect();
        Ok(Truth {
            people: stolen
                .records
                .iter()
                .map(|record| {
                    record_of
                        .get(&record.handle)
                        .and_then(|id| people.get(id))
                        .cloned()
                })
                .collect(),
        })
    }

    /// Each share is of the records that carry the field in the victim's
    /// plaintext (a record without a birth year cannot be re-identified by
    /// one); re-identification is of the records that carry all three.
    pub(super) fn score(&self, guesses: &[Guess]) -> Score {
        let mut carried = [0usize; 4];
        let mut right = [0usize; 4];
        let mut families: HashSet<&str> = HashSet::new();
        let mut found: HashSet<&str> = HashSet::new();
        for (person, guess) in self.people.iter().zip(guesses) {
            let Some(person) = person else { continue };
            let has = [
                !person.family.is_empty(),
                !person.given.is_empty(),
                person.year.is_some(),
            ];
            let family_right = has[0] && guess.family.as_deref() == Some(person.family.as_str());
            let given_right = has[1]
                && guess
                    .given
                    .as_ref()
                    .is_some_and(|label| person.given_is(label));
            let year_right = has[2] && guess.year == person.year;
            let all = has.iter().all(|&has| has);
            for (field, (has, right_now)) in has
                .iter()
                .chain([&all])
                .zip([
                    family_right,
                    given_right,
                    year_right,
                    family_right && given_right && year_right,
                ])
                .enumerate()
            {
                carried[field] += usize::from(*has);
                right[field] += usize::from(*has && right_now);
            }
            if has[0] {
                families.insert(&person.family);
            }
            if family_right {
                found.insert(&person.family);
            }
        }
        let share = |field: usize| right[field] as f64 / carried[field].max(1) as f64;
        Score {
            reidentified: share(3),
            family: share(0),
            given: share(1),
            year: share(2),
            distinct_families: found.len() as f64 / families.len().max(1) as f64,
        }
    }
}
