//! The name, surname and settlement tables the generator draws from.

use std::sync::OnceLock;

use poshuk_core::names::tables::{
    FEMALE_GIVEN_NAMES as FEMALE, MALE_GIVEN_NAMES as MALE, SETTLEMENTS,
};
const SURNAMES: &str = include_str!("../data/surnames.tsv");
const SURNAME_ROOTS: &str = include_str!("../data/surname_roots.tsv");

/// One given name with its forms.
#[derive(Debug)]
pub(crate) struct GivenName {
    pub(crate) uk: Vec<String>,
    pub(crate) ru: Vec<String>,
    pub(crate) latin: Vec<String>,
    pub(crate) diminutives: Vec<String>,
    /// Ukrainian masculine, Ukrainian feminine, Russian masculine, Russian
    /// feminine patronymics (empty for female names).
    pub(crate) patronymics: [Vec<String>; 4],
}

/// One family with its gendered forms.
#[derive(Debug)]
pub(crate) struct Surname {
    pub(crate) uk_male: String,
    pub(crate) uk_female: String,
    pub(crate) ru_male: Vec<String>,
    pub(crate) ru_female: Vec<String>,
}

/// One settlement.
#[derive(Debug)]
pub(crate) struct Settlement {
    pub(crate) uk: Vec<String>,
    pub(crate) ru: Vec<String>,
    pub(crate) latin: Vec<String>,
    pub(crate) oblast: String,
}

pub(crate) struct Tables {
    pub(crate) male: Vec<GivenName>,
    pub(crate) female: Vec<GivenName>,
    /// The listed surnames (most common first), then the productive ones.
    pub(crate) surnames: Vec<Surname>,
    /// How many of `surnames` come from the list.
    pub(crate) listed_surnames: usize,
    pub(crate) settlements: Vec<Settlement>,
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').map(str::trim).collect())
}

fn list(cell: Option<&&str>) -> Vec<String> {
    cell.map(|cell| {
        cell.split('|')
            .map(str::trim)
            .filter(|form| !form.is_empty() && *form != "-")
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

fn given_names(text: &str) -> Vec<GivenName> {
    rows(text)
        .map(|row| GivenName {
            uk: list(row.first()),
            ru: list(row.get(1)),
            latin: list(row.get(2)),
            diminutives: list(row.get(3)),
            patronymics: [
                list(row.get(4)),
                list(row.get(5)),
                list(row.get(6)),
                list(row.get(7)),
            ],
        })
        .filter(|name| !name.uk.is_empty() && !name.ru.is_empty())
        .collect()
}

pub(crate) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        male: given_names(MALE)
            .into_iter()
            .filter(|name| !name.patronymics[0].is_empty() && !name.patronymics[2].is_empty())
            .collect(),
        female: given_names(FEMALE),
        surnames: all_surnames(),
        listed_surnames: listed_surnames().len(),
        settlements: rows(SETTLEMENTS)
            .map(|row| Settlement {
                uk: list(row.first()),
                ru: list(row.get(1)),
                latin: list(row.get(2)),
                oblast: row.get(3).map(|s| s.to_string()).unwrap_or_default(),
            })
            .filter(|s| !s.uk.is_empty() && !s.ru.is_empty() && !s.latin.is_empty())
            .collect(),
    })
}

fn listed_surnames() -> Vec<Surname> {
    rows(SURNAMES)
        .filter_map(|row| {
            Some(Surname {
                uk_male: list(row.first()).into_iter().next()?,
                uk_female: list(row.get(1)).into_iter().next()?,
                ru_male: list(row.get(2)),
                ru_female: list(row.get(3)),
            })
        })
        .filter(|surname| !surname.ru_male.is_empty() && !surname.ru_female.is_empty())
        .collect()
}

/// Suffixes that form surnames from a root, as Ukrainian masculine and
/// feminine and Russian masculine and feminine forms.
const SURNAME_SUFFIXES: &[[&str; 4]] = &[
    ["енко", "енко", "енко", "енко"],
    ["ук", "ук", "ук", "ук"],
    ["ишин", "ишин", "ишин", "ишина"],
    ["ович", "ович", "ович", "ович"],
    ["ов", "ова", "ов", "ова"],
    ["ський", "ська", "ский", "ская"],
    ["ак", "ак", "ак", "ак"],
    ["ич", "ич", "ич", "ич"],
];

/// The listed surnames, then those formed from roots and suffixes that the
/// list does not hold. Real lists are long-tailed: the most common Ukrainian
/// surname (Мельник) is about 0.3% of people and a few hundred surnames
/// cover a quarter; a generator drawing only from a short list would make
/// names, and their tokens' frequencies, far more concentrated than they are.
fn all_surnames() -> Vec<Surname> {
    let mut surnames = listed_surnames();
    let mut known: std::collections::HashSet<String> =
        surnames.iter().map(|s| s.uk_male.clone()).collect();
    for suffix in SURNAME_SUFFIXES {
        for root in rows(SURNAME_ROOTS) {
            let (Some(uk_root), Some(ru_root)) = (root.first(), root.get(1)) else {
                continue;
            };
            let uk_male = format!("{uk_root}{}", suffix[0]);
            if !known.insert(uk_male.clone()) {
                continue;
            }
            surnames.push(Surname {
                uk_male,
                uk_female: format!("{uk_root}{}", suffix[1]),
                ru_male: vec![format!("{ru_root}{}", suffix[2])],
                ru_female: vec![format!("{ru_root}{}", suffix[3])],
            });
        }
    }
    surnames
}
