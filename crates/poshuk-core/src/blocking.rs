//! Blocking keys: the few selective keys under which two records of one person
//! are likely to meet, so that only pairs sharing a key are scored.
//!
//! Keys are computed from tokens alone (a node or an offline link never sees
//! plaintext), each a combination of selective tokens: a surname with a given
//! name's class, a surname with a birth year, a class with a full birth date,
//! and so on (each rule kept because, on the synthetic partners, it alone
//! finds some true pairs; `blocking_keys_by_rule` measures that). Single common tokens (a year, a popular given name) would make
//! huge blocks; their combinations stay small.

use poshuk_tokens::{Slot, Token, TokenRecord};

/// A blocking key. Equal keys mean "worth comparing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockKey(pub u64);

/// Which combination a key is: part of the key, so different rules never meet.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Rule {
    SurnameClass = 1,
    /// The family name with the birth year (one token: the year is stored
    /// only together with the family name).
    FamilyYear = 2,
    ClassDate = 3,
    Document = 5,
    SurnamePatronymic = 7,
    ClassPatronymicPlace = 8,
    /// The surname with the given name's skeleton: what a query with a typo
    /// in the given name meets through its variants.
    SurnameGiven = 12,
    /// Day and month alone (offline linking of two token files, which have
    /// no variants: typos in both names).
    DayMonth = 13,
}

/// The most pairs of a query's family-name and given-name variants that make
/// blocking keys. The typos of one name meet a few stored names each, so an
/// honest query has a few dozen pairs at most.
pub const MAX_VARIANT_PAIRS: usize = 128;

fn mix(rule: Rule, parts: &[Token]) -> BlockKey {
    // Tokens are already uniformly random; a multiply-xor fold is enough to
    // combine them without collisions that matter.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ (rule as u64);
    for part in parts {
        let value = part.0;
        state = (state ^ (value as u64)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        state = (state ^ ((value >> 64) as u64)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state ^= state >> 31;
    }
    BlockKey(state)
}

/// The surname-like tokens of a record: family name wholes, other names, and
/// the given-name column's wholes when it holds no known given name (a family
/// name written in the wrong column).
fn surnames(record: &TokenRecord) -> Vec<Token> {
    let mut tokens: Vec<Token> = record.slot(Slot::FamilyWhole).to_vec();
    tokens.extend_from_slice(record.slot(Slot::AliasWhole));
    if record.slot(Slot::GivenClass).is_empty() {
        tokens.extend_from_slice(record.slot(Slot::GivenWhole));
    }
    tokens
}

/// Given-name classes from the given-name column and, for swapped columns, the
/// family column.
fn classes(record: &TokenRecord) -> Vec<Token> {
    let mut tokens: Vec<Token> = record.slot(Slot::GivenClass).to_vec();
    tokens.extend_from_slice(record.slot(Slot::FamilyClass));
    tokens.extend_from_slice(record.slot(Slot::AliasClass));
    if tokens.is_empty() {
        // An unknown given name: its whole skeleton stands in for a class.
        tokens.extend_from_slice(record.slot(Slot::GivenWhole));
    }
    tokens
}

/// The blocking keys of a record, deduplicated: what a node indexes for a
/// stored record, and looks up for a query (a query's one-edit variants
/// stand in for its names, so it meets stored names one typo away).
pub fn blocking_keys(record: &TokenRecord) -> Vec<BlockKey> {
    let mut keys: Vec<BlockKey> = blocking_keys_by_rule(record)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The blocking keys two token files are linked by: [`blocking_keys`] and
/// the birth day and month alone, which meet over typos in both names
/// (neither side of an offline link is a query with variants; no full date
/// is stored apart from the names). Too coarse to index at a node, cheap
/// enough in memory.
pub fn link_keys(record: &TokenRecord) -> Vec<BlockKey> {
    let mut keys: Vec<BlockKey> = blocking_keys_by_rule(record)
        .into_iter()
        .map(|(_, key)| key)
        .chain(
            record
                .slot(Slot::DateDayMonth)
                .iter()
                .map(|&day_month| mix(Rule::DayMonth, &[day_month])),
        )
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys of a record's namesakes: its surname with its given name's
/// class (the name), and its family name with its birth year (the year).
/// Records sharing a key of both lists share the name and the year; a node
/// counts them to say "one of N" beside a hit.
pub fn namesake_keys(record: &TokenRecord) -> (Vec<BlockKey>, Vec<BlockKey>) {
    let mut names = Vec::new();
    for &surname in record.slot(Slot::FamilyWhole) {
        for &class in &classes(record) {
            names.push(mix(Rule::SurnameClass, &[surname, class]));
        }
    }
    let years = record
        .slot(Slot::FamilyYear)
        .iter()
        .map(|&family_year| mix(Rule::FamilyYear, &[family_year]))
        .collect();
    (names, years)
}

/// The blocking keys with the number of the rule that made each (for
/// measuring which rules find which pairs).
pub fn blocking_keys_by_rule(record: &TokenRecord) -> Vec<(u8, BlockKey)> {
    let surnames = surnames(record);
    let classes = classes(record);
    let patronymics = record.slot(Slot::PatronymicClass);
    let places = record.slot(Slot::PlaceClass);

    let mut keys: Vec<(u8, BlockKey)> = Vec::with_capacity(32);
    for &surname in &surnames {
        for &class in &classes {
            keys.push((
                Rule::SurnameClass as u8,
                mix(Rule::SurnameClass, &[surname, class]),
            ));
        }
        for &patronymic in patronymics {
            keys.push((
                Rule::SurnamePatronymic as u8,
                mix(Rule::SurnamePatronymic, &[surname, patronymic]),
            ));
        }
    }
    for &family_year in record.slot(Slot::FamilyYear) {
        keys.push((
            Rule::FamilyYear as u8,
            mix(Rule::FamilyYear, &[family_year]),
        ));
    }
    // The family column's surnames with the given name's skeletons; a query
    // also with every variant one edit from its given name.
    for &surname in record.slot(Slot::FamilyWhole) {
        for &given in record
            .slot(Slot::GivenWhole)
            .iter()
            .chain(record.slot(Slot::GivenVariant))
        {
            keys.push((
                Rule::SurnameGiven as u8,
                mix(Rule::SurnameGiven, &[surname, given]),
            ));
        }
    }
    // A query's variants one edit from its family name, with its classes.
    for &variant in record.slot(Slot::FamilyVariant) {
        for &class in &classes {
            keys.push((
                Rule::SurnameClass as u8,
                mix(Rule::SurnameClass, &[variant, class]),
            ));
        }
    }
    // A typo in each name: the family name's variants with the given name's
    // variants, as the stored surname with the given name's skeleton. At
    // most MAX_VARIANT_PAIRS of them: a node keeps up to 64 variants per
    // name that meet its names, and a query packed with surnames and given
    // names as "variants" would otherwise try every pair.
    let pairs = record
        .slot(Slot::FamilyVariant)
        .iter()
        .flat_map(|&variant| {
            record
                .slot(Slot::GivenVariant)
                .iter()
                .map(move |&given| mix(Rule::SurnameGiven, &[variant, given]))
        })
        .take(MAX_VARIANT_PAIRS);
    keys.extend(pairs.map(|key| (Rule::SurnameGiven as u8, key)));
    // A surname in the given-name column (no known given name there) with a
    // typo: its variants with the family column's classes (a given name
    // typed there), as the stored surname with its class.
    if record.slot(Slot::GivenClass).is_empty() {
        for &variant in record.slot(Slot::GivenVariant) {
            for &class in record.slot(Slot::FamilyClass) {
                keys.push((
                    Rule::SurnameClass as u8,
                    mix(Rule::SurnameClass, &[variant, class]),
                ));
            }
        }
        // A given name the tables do not know: the classes of the known
        // names one letter away are among its variants (Miokłaj carries
        // Микола's), with the surname as a stored record keys its class. At
        // most MAX_VARIANT_PAIRS, as the pairs above.
        let with_surnames = record
            .slot(Slot::GivenVariant)
            .iter()
            .flat_map(|&variant| {
                record
                    .slot(Slot::FamilyWhole)
                    .iter()
                    .map(move |&surname| mix(Rule::SurnameClass, &[surname, variant]))
            })
            .take(MAX_VARIANT_PAIRS);
        keys.extend(with_surnames.map(|key| (Rule::SurnameClass as u8, key)));
    }
    // The given name's class with the full date (one token: the date is
    // stored only together with the names).
    for &given_date in record.slot(Slot::GivenDate) {
        keys.push((Rule::ClassDate as u8, mix(Rule::ClassDate, &[given_date])));
    }
    for &class in &classes {
        for &patronymic in patronymics {
            for &place in places {
                keys.push((
                    Rule::ClassPatronymicPlace as u8,
                    mix(Rule::ClassPatronymicPlace, &[class, patronymic, place]),
                ));
            }
        }
    }
    for &document in record.slot(Slot::DocumentWhole) {
        keys.push((Rule::Document as u8, mix(Rule::Document, &[document])));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use poshuk_tokens::TokenRecordBuilder;

    /// A query packed with as many "variants" of each name as a node keeps
    /// (64) asks for no more than `MAX_VARIANT_PAIRS` pairs of them.
    #[test]
    fn pairs_of_variants_are_bounded() {
        let mut builder = TokenRecordBuilder::default();
        for index in 0..64u128 {
            builder.push(Slot::FamilyVariant, Token(index));
            builder.push(Slot::GivenVariant, Token(1_000 + index));
        }
        let keys = blocking_keys_by_rule(&builder.finish());
        let pairs = keys
            .iter()
            .filter(|(rule, _)| *rule == Rule::SurnameGiven as u8)
            .count();
        assert_eq!(pairs, MAX_VARIANT_PAIRS);
        assert_eq!(
            keys.len(),
            MAX_VARIANT_PAIRS,
            "no other rule reads bare variants"
        );
    }
}
