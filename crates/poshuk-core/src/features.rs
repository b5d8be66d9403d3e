//! From a raw record to its keyed tokens: the features of each field, hashed.
//!
//! Every token is of a whole value, so that a stolen token file is not a
//! cipher a thief can solve (THREAT_MODEL.md):
//! - names: the skeleton of each given-name word, the gender-folded stem of
//!   each family-name word (also as other spelling systems would read a
//!   Latin one), given-name equivalence classes; other names, except
//!   diminutives of the given name;
//! - patronymic: the class of the father's name and the skeleton;
//! - birth date: the full date, the date with day and month in either order,
//!   day and month alone, and the year only together with each family-name
//!   stem;
//! - birth place: the settlement from the table and the place's skeleton;
//! - documents: the folded number and its digits.
//!
//! A query also carries the whole-name tokens of every string one edit from
//! each of its name words ([`Tokenizer::tokenize_query`]): typos meet there,
//! where the query is in clear, not in what is stored.
//!
//! No plaintext feature outlives [`Tokenizer::tokenize`]: each is hashed as soon
//! as it is computed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::HashSet;

use crate::document::{document_digits, document_key};
use crate::names::{
    attested_language_forms, family_stem, further_language_forms, name_key, name_key_reading,
    other_language_forms, place_segments, tables,
};
use crate::normalize::{
    ChReading, fold_text, marks_lost_readings, one_edit_variants, skeleton, skeleton_reading,
    typed_slip_readings, typed_slip_variants, typed_slips, words,
};
use crate::record::{BirthDate, Record, Sex};
use poshuk_keys::TokenHasher;
use poshuk_tokens::{Domain, Slot, Token, TokenRecord, TokenRecordBuilder, bounds};

/// Hash-input kind bytes. Slots that must be comparable share a kind (a given
/// name's whole-name token equals the same string's family whole-name token).
mod kind {
    pub(super) const WHOLE: u8 = b'W';
    pub(super) const CLASS: u8 = b'C';
    pub(super) const FULL_DATE: u8 = b'F';
    pub(super) const UNORDERED_DATE: u8 = b'U';
    pub(super) const DAY_MONTH: u8 = b'A';
    pub(super) const FAMILY_YEAR: u8 = b'Y';
    pub(super) const GIVEN_DATE: u8 = b'V';
    /// Padding of a query's variants: derived from the word, so a name's
    /// queries repeat it as they repeat its real variants.
    pub(super) const VARIANT_PAD: u8 = b'Q';
    pub(super) const DIGITS: u8 = b'D';
}

/// One-edit variant tokens per name word of a query, real and padding
/// together (a name of up to 18 letters has fewer real ones; longer names
/// keep this many).
pub const VARIANTS_PER_WORD: usize = 1024;

/// Other surnames a query keys its birth date with (real ones first, then
/// padding), as far as the bounds allow.
pub const OTHER_DATE_KEYS: usize = 6;

/// Other-name surname keys a stored record keys its birth date with, at
/// most: a former surname or two, each in a spelling or two.
pub const MAX_OTHER_SURNAME_DATE_KEYS: usize = 4;

/// Known given names among the variants of a given name the tables do not
/// know, at most, for the query to carry their classes as variants.
pub const MAX_MISTYPED_CLASSES: usize = 3;

/// Name words of a query that get variants: nodes accept at most 4 × 1,024
/// variant tokens per slot, which bounds the work a query asks of them.
pub const MAX_VARIANT_WORDS: usize = 4;

/// Turns raw records into token records under one epoch's keys.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    hasher: TokenHasher,
}

/// The role a name plays in the record, which decides its slots.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NameRole {
    Given,
    Family,
    Alias,
}

impl Tokenizer {
    /// A tokenizer for the hasher's epoch.
    pub fn new(hasher: TokenHasher) -> Tokenizer {
        Tokenizer { hasher }
    }

    /// The hasher in use.
    pub fn hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    /// The tokens of a search for a person: those a node keeps, and the
    /// whole-name tokens of every string one edit from each word of the
    /// given and family names (padded to [`VARIANTS_PER_WORD`]), which meet a
    /// stored name one typo away; first among them, a family name's other
    /// forms and readings (with marks lost, in other spelling systems), and
    /// for a given name the tables do not know, the class tokens of the
    /// known names among its variants; after them, for a known given name,
    /// the variants of its class's full forms (a list's Срегій), and for a
    /// family name, the other-language forms of its slips and the variants
    /// of its own forms (Кроепнко, Кріпенко). Each string once in a slot.
    /// Computed where the query is in clear; not cached, queries do not
    /// repeat as records do.
    pub fn tokenize_query(&self, record: &Record) -> TokenRecord {
        self.tokenize_query_years(record, &[])
    }

    /// The tokens of a search for a person born in one of `years` (a range
    /// the searcher gave, `2010-2014`), the record's own date left aside;
    /// with no years, the record's date. One query for all of them, within
    /// the bounds of one query.
    pub fn tokenize_query_years(&self, record: &Record, years: &[u16]) -> TokenRecord {
        // Columns typed the wrong way round, beyond doubt (GALICISIN | Olga:
        // a surname in the given-name column, a given name in the family
        // one): searched as they were meant, so that the surname gets every
        // reading and variant a family name gets, and keys the year with
        // them.
        let put_right = columns_put_right(record);
        let record = put_right.as_ref().unwrap_or(record);
        let mut builder = TokenRecordBuilder::default();
        // Whether the tables know the given name typed (in any reading):
        // if not, it may be a known name mistyped, and its variants' classes
        // are looked up.
        let mut given_known = true;
        let dates: Vec<BirthDate> = if years.is_empty() {
            let keyed = self.tokenize_keyed(record, false);
            given_known = !keyed.slot(Slot::GivenClass).is_empty();
            for (slot, token) in keyed.iter() {
                builder.push(slot, token);
            }
            record.birth_date.into_iter().collect()
        } else {
            let dates: Vec<BirthDate> = years
                .iter()
                .filter_map(|&year| BirthDate::from_parts(u32::from(year), None, None).ok())
                .collect();
            let mut dated = record.clone();
            for &date in &dates {
                dated.birth_date = Some(date);
                let keyed = self.tokenize_keyed(&dated, false);
                given_known = !keyed.slot(Slot::GivenClass).is_empty();
                for (slot, token) in keyed.iter() {
                    builder.push(slot, token);
                }
            }
            dates
        };
        // Every word carries exactly VARIANTS_PER_WORD variant tokens, padded
        // with tokens derived from the word: the number of a name's one-edit
        // variants grows with its length, and a coordinator recording
        // queries must not learn the lengths of the names searched for.
        // A family name's forms come first (after those its letters attest,
        // below): those more than one letter away (Медведак for Ведмедак)
        // are met only through them.
        // With one date, each family variant also keys the year, as a
        // stored record keys its year with its family name: a typo met by a
        // variant (Лаврук for Ларук) then compares the year, which the
        // year keyed with the name as typed cannot. A range of years keys
        // none (it would take a variant's worth of tokens per year).
        let variant_year = match dates.as_slice() {
            [date] => Some(date.year.to_be_bytes()),
            _ => None,
        };
        // A given name the tables do not know may be a known name mistyped
        // (Kladiya, Miokłaj, Кистина): the classes of the known names among
        // its variants come first among them, so that a record of
        // Клавдія, Микола or Христина meets it one letter apart, in
        // whatever language it is kept. Only a few: more known names a
        // letter away tell no name.
        let mistyped_sex = (!given_known).then_some(record.sex);
        // A word's variants: every string one edit from its skeleton, and the
        // skeletons of the word as typed with one slip undone (a slip inside
        // a letter group, `hc` for `ch`, is more than one edit of the
        // skeleton).
        // Each string once in a slot, over all its words: a token repeated
        // would leave the slot short of its count, and the count would tell
        // the names' shape.
        let mut emitted: HashSet<(Slot, String)> = HashSet::new();
        // `position`: the word's place in its name, which the padding is
        // derived with too (a name of one word twice, Коваль-Коваль, keeps
        // its count).
        let mut emit = |slot: Slot,
                        position: usize,
                        key: &str,
                        forms: Vec<String>,
                        slips: Vec<String>,
                        after: Vec<String>| {
            let mut variants = one_edit_variants(key);
            if !variants.is_empty() {
                variants.extend(slips.into_iter().filter(|slip| slip != key));
                variants.sort_unstable();
                variants.dedup();
            }
            let mut classes = Vec::new();
            if let Some(sex) = mistyped_sex.filter(|_| slot == Slot::GivenVariant) {
                for variant in &variants {
                    // Of the query's sex alone, where it is known: a
                    // variant is not the name typed, and a man's name one
                    // letter from a woman's (Oleksanda) is his.
                    for class in tables().given_classes(variant, sex) {
                        if sex != Sex::Unknown && tables().class_sex(class) != sex {
                            continue;
                        }
                        if !classes.contains(&class) {
                            classes.push(class);
                        }
                    }
                }
                if classes.len() > MAX_MISTYPED_CLASSES {
                    classes.clear();
                }
                classes.retain(|class| emitted.insert((slot, format!("\u{0}{class}"))));
            }
            for class in &classes {
                builder.push(
                    slot,
                    self.hasher
                        .token(slot.domain(), kind::CLASS, &class.to_be_bytes()),
                );
            }
            // The forms first, then the variants, then what comes after
            // them, as far as the word's count goes.
            let room = VARIANTS_PER_WORD.saturating_sub(classes.len());
            let mut chosen: Vec<String> = Vec::with_capacity(room);
            for candidate in forms.into_iter().chain(variants).chain(after) {
                if chosen.len() == room {
                    break;
                }
                if candidate != key && emitted.insert((slot, candidate.clone())) {
                    chosen.push(candidate);
                }
            }
            let real = classes.len() + chosen.len();
            let keys_year = variant_year.filter(|_| slot == Slot::FamilyVariant);
            for variant in &chosen {
                builder.push(
                    slot,
                    self.hasher
                        .token(slot.domain(), kind::WHOLE, variant.as_bytes()),
                );
                if let Some(year) = keys_year {
                    keyed(
                        &mut |_: Slot, kind_byte: u8, bytes: &[u8]| {
                            builder.push(
                                Slot::FamilyVariantYear,
                                self.hasher.token(Domain::BirthDate, kind_byte, bytes),
                            );
                        },
                        Slot::FamilyYear,
                        kind::FAMILY_YEAR,
                        &year,
                        variant.as_bytes(),
                    );
                }
            }
            // Padding, as many as the variants: the variant years' count
            // tells no more than the variants' does. Their padding is derived
            // with the year too: queries for one surname in other years share
            // none of it, so how much of the slot is padding (the name's
            // length) does not show across queries.
            let mut padding = Vec::with_capacity(key.len() + 4);
            for index in real..VARIANTS_PER_WORD {
                padding.clear();
                padding.extend_from_slice(key.as_bytes());
                padding.extend_from_slice(&(index as u16).to_be_bytes());
                padding.push(position as u8);
                builder.push(
                    slot,
                    self.hasher
                        .token(slot.domain(), kind::VARIANT_PAD, &padding),
                );
                if let Some(year) = keys_year {
                    padding.extend_from_slice(&year);
                    builder.push(
                        Slot::FamilyVariantYear,
                        self.hasher
                            .token(Domain::BirthDate, kind::VARIANT_PAD, &padding),
                    );
                }
            }
        };
        let keys = |value: &str| -> Vec<(String, Vec<String>, String)> {
            words(&fold_text(value))
                .map(|word| (skeleton(word), typed_slip_variants(word), word.to_string()))
                .filter(|(key, _, _)| !key.is_empty())
                .take(MAX_VARIANT_WORDS)
                .collect()
        };
        // After a known given name's own variants, those of its class's
        // full forms in both languages: a list that keeps Срегій or
        // Олекасндр mistyped the Ukrainian form, one letter from it and two
        // or more from Sergei or Aleksandr as a searcher types them.
        for (position, (key, slips, word)) in keys(&record.given_name).into_iter().enumerate() {
            let mut heads: Vec<String> = Vec::new();
            let classes = tables().given_classes(&key, record.sex);
            for &class in &classes {
                for head in tables().class_heads(class) {
                    if *head != key && !heads.contains(head) {
                        heads.push(head.clone());
                    }
                }
            }
            let after: Vec<String> = heads
                .iter()
                .flat_map(|head| one_edit_variants(head))
                .filter(|variant| !heads.contains(variant))
                .collect();
            // A word the tables know as no given name (a surname in the
            // given-name column: Galicisin | Olga) is read as the family
            // column is, with the marks of ISO 9 lost (Галичишин), and by
            // its stem, as a stored surname is kept.
            let forms: Vec<String> = if classes.is_empty() {
                marks_lost_readings(&word)
                    .into_iter()
                    .flat_map(|reading| {
                        let stem = family_stem(&reading).to_string();
                        [reading, stem]
                    })
                    .collect()
            } else {
                Vec::new()
            };
            emit(Slot::GivenVariant, position, &key, forms, slips, after);
        }
        // The family name's forms in the other language, computed once:
        // among the first of its variants (after the forms its letters
        // attest and their padding), and keys of its dates. Then its
        // readings with the marks of ISO 9 lost (Stelmasuk, Стельмащук),
        // variants only: `s` may be с, ш or щ, which no date key should
        // guess.
        let mut family_forms: Vec<String> = Vec::new();
        let mut emitted_forms: HashSet<String> = HashSet::new();
        let mut form_tokens: Vec<Token> = Vec::new();
        for (word_index, (key, slips, word)) in keys(&record.family_name).into_iter().enumerate() {
            let stem = family_stem(&key);
            let root_forms = other_language_forms(stem);
            let mut forms = root_forms.clone();
            family_forms.extend(forms.iter().cloned());
            // The word as the other spelling systems read it, and those
            // readings in the other language: Bilous read with `ou` apart is
            // Білоус, whose Russian form Белоус is two letters from the
            // French reading; Chłibuk read the Polish way is Хлібук, whose
            // Russian form is Хлебук. A date key meets the reading itself;
            // its other forms are met only here.
            let system_readings = ChReading::QUERY_ALTERNATIVES
                .into_iter()
                .filter(|reading| reading.may_differ(&word))
                .map(|reading| family_stem(&skeleton_reading(&word, reading)).to_string())
                .filter(|read| read != stem)
                .flat_map(|read| {
                    let forms = other_language_forms(&read);
                    std::iter::once(read).chain(forms)
                });
            // The readings with the marks of ISO 9 lost come last: a Latin
            // word's `s`, `z`, `c`, `h` read every way are guesses, and where
            // the forms are cut (below) they go first.
            let readings = further_language_forms(stem)
                .into_iter()
                .chain(system_readings)
                .chain(
                    marks_lost_readings(&word)
                        .iter()
                        .map(|reading| family_stem(reading).to_string()),
                )
                .collect::<Vec<_>>();
            for form in readings {
                if form != stem && !forms.contains(&form) {
                    forms.push(form);
                }
            }
            // The forms the word's letters attest, also on their own
            // (`FamilyForm`), so that a node tells another form of the name
            // from a typo where no date compares them (Олейник searched,
            // Олійник kept without a date): the other language's forms its
            // vowels as typed attest (`attested_language_forms`). Not the
            // guesses (a Latin `h` read as х, an `s` as ш, a Latin `i` as
            // і, a Cyrillic х as ISO 9 writes it without marks, `h`, which
            // the skeleton reads as г): those join other families' names
            // (Homenko is Гоменко or Хоменко) and meet as variants only. (The
            // readings of a spelling system whose marks the word shows are
            // among the query's family-name tokens already, and meet as the
            // same name.) A fixed count, padded with strings no name can be;
            // the same strings come first among the word's variants, so the
            // two slots always share that count and do not tell how many
            // are real.
            let mut attested: Vec<String> = Vec::with_capacity(bounds::FORMS_PER_WORD);
            for form in attested_language_forms(&word) {
                if attested.len() == bounds::FORMS_PER_WORD {
                    break;
                }
                if form != stem && emitted_forms.insert(form.clone()) {
                    attested.push(form);
                }
            }
            for index in attested.len()..bounds::FORMS_PER_WORD {
                attested.push(format!("\u{2}{word_index}\u{2}{stem}\u{2}{index}"));
            }
            for form in &attested {
                form_tokens.push(self.hasher.token(
                    Slot::FamilyForm.domain(),
                    kind::WHOLE,
                    form.as_bytes(),
                ));
            }
            attested.extend(
                forms
                    .into_iter()
                    .filter(|form| !emitted_forms.contains(form)),
            );
            let forms = attested;
            let slips: Vec<String> = slips
                .iter()
                .map(|slip| family_stem(slip).to_string())
                .collect();
            // After the stem's own variants, where room is left: the forms in
            // the other language of the word with a typing slip undone
            // (Кроепнко is Кропенко, whose Ukrainian form is Кріпенко), and
            // the variants of the stem's own forms (Хлебк is one edit from
            // Хлібк, two from Khlibuk). A typo in the other language's form
            // of a name is one edit from that form and two from the name
            // kept.
            // First among them, the word with a slip undone read the ways
            // the other spelling systems read it (Jokuov is Joukov, Жуков
            // read the French way): a few dozen at most, where the other
            // forms of the slips may be hundreds, more than there is room
            // for.
            let after = typed_slip_readings(&word)
                .iter()
                .map(|reading| family_stem(reading).to_string())
                .chain(slips.iter().flat_map(|slip| other_language_forms(slip)))
                .chain(root_forms.iter().flat_map(|form| one_edit_variants(form)))
                .filter(|variant| !root_forms.contains(variant))
                .collect();
            emit(Slot::FamilyVariant, word_index, stem, forms, slips, after);
        }
        for token in form_tokens {
            builder.push(Slot::FamilyForm, token);
        }
        let query = builder.finish();
        if dates.is_empty() {
            return query;
        }
        let query = self.with_other_date_keys(query, record, &family_forms, &dates);
        self.without_shared_variant_years(query, record)
    }

    /// A variant's year token that the query carries as a date key already
    /// (a form in the other language is both a variant and a key) is
    /// replaced by padding: how many tokens the two slots share would tell
    /// a recording coordinator whether the surname has such forms. Scoring
    /// loses nothing: the date key meets first.
    fn without_shared_variant_years(&self, query: TokenRecord, record: &Record) -> TokenRecord {
        let years = query.slot(Slot::FamilyYear);
        let variant_years = query.slot(Slot::FamilyVariantYear);
        if !variant_years
            .iter()
            .any(|token| years.binary_search(token).is_ok())
        {
            return query;
        }
        let folded = fold_text(&record.family_name);
        let mut builder = TokenRecordBuilder::default();
        let mut replaced: u16 = 0;
        for (slot, token) in query.iter() {
            if slot == Slot::FamilyVariantYear && years.binary_search(&token).is_ok() {
                let mut padding = Vec::with_capacity(folded.len() + 8);
                padding.push(0x02);
                padding.extend_from_slice(folded.as_bytes());
                padding.extend_from_slice(&replaced.to_be_bytes());
                padding.extend_from_slice(&token.0.to_be_bytes()[..4]);
                builder.push(
                    slot,
                    self.hasher
                        .token(Domain::BirthDate, kind::VARIANT_PAD, &padding),
                );
                replaced += 1;
            } else {
                builder.push(slot, token);
            }
        }
        builder.finish()
    }

    /// Queries only: the birth date keyed also with the surnames the person may
    /// be kept under besides the family column as typed, in this order: the
    /// other names typed (former surnames), the given-name column's words when
    /// they are no known given name (a surname there: swapped columns) with
    /// the readings whose marks they show, the family name's form in the
    /// other language (Кріпенко for Кропенко: the year is stored keyed with
    /// the stem as written, so a query's one-letter variant meets the name
    /// but not the year), its readings in other spelling systems, the given
    /// column's other readings, and the other names' forms in the other
    /// language. Each key is added while the query stays within the
    /// bounds every node enforces. `family_forms` are the family name's
    /// forms in the other language, as the query's variants hold them.
    fn with_other_date_keys(
        &self,
        query: TokenRecord,
        record: &Record,
        family_forms: &[String],
        dates: &[BirthDate],
    ) -> TokenRecord {
        let stems = |value: &str| -> Vec<String> {
            words(&fold_text(value))
                .map(skeleton)
                .filter(|key| !key.is_empty())
                .take(MAX_VARIANT_WORDS)
                .map(|key| family_stem(&key).to_string())
                .collect()
        };
        // Only beside the family column's own date keys: another key alone
        // would make a query with no family name look like one that names a
        // person, and its padding meets nothing.
        if query.slot(Slot::FamilyYear).is_empty() {
            return query;
        }
        let mut keys: Vec<String> = Vec::new();
        let mut other_name_stems: Vec<String> = Vec::new();
        // The other names the searcher typed (a former surname, a child's
        // name before adoption): the person may be kept under any of them,
        // the year keyed with it. A given name among their words (a
        // diminutive, the given name of a full former name typed in one
        // field, a surname that is also a given name) is never a key, as
        // below.
        for alias in &record.other_names {
            for (word, word_skeleton) in surname_words(alias, record.sex) {
                keys.extend(surname_wholes(&word, &word_skeleton));
                other_name_stems.push(family_stem(&word_skeleton).to_string());
            }
        }
        let other_names_keyed = keys.len();
        keys.extend(family_forms.iter().cloned());
        // A Latin surname as the other spelling systems would write it,
        // also without their marks (Haritonov, Chomak, Timohenko: х written
        // h or ch with nothing else to tell the system). Stored names take
        // such readings only when the word shows its system's marks; a
        // query tries them all, for its date only: a reading one letter
        // from a stored name meets it as an equivalent form with the year
        // compared, and one further away meets nothing.
        let readings = |value: &str, keys: &mut Vec<String>| {
            let folded = fold_text(value);
            for word in words(&folded).take(MAX_VARIANT_WORDS) {
                let plain = family_stem(&skeleton(word)).to_string();
                for reading in ChReading::QUERY_ALTERNATIVES {
                    if reading.may_differ(word) {
                        let read = family_stem(&skeleton_reading(word, reading)).to_string();
                        if read != plain && !keys.contains(&read) {
                            keys.push(read);
                        }
                    }
                }
            }
        };
        readings(&record.family_name, &mut keys);
        // Right after the other names typed: the given-name column's words,
        // when it holds no known given name (a surname there: swapped
        // columns), and their readings in the other spelling systems
        // (Hmarenko Svetlana for Світлана Хмаренко). A node takes the years
        // as compared where these meet its family name and the query's
        // counts show they were all keyed (`compare_birth_date`). A known
        // given name is never a key: Вовка's stem is the surname Вовк,
        // Богдана's Богдан, and a year keyed with them would meet those
        // families.
        //
        // First only the forms the query's given-name whole holds (the
        // stems, and the readings whose marks the word shows, as `add_name`
        // reads them): a node counts them against that slot.
        if query.slot(Slot::GivenClass).is_empty() {
            let mut given_keys = stems(&record.given_name);
            let folded = fold_text(&record.given_name);
            for word in words(&folded).take(MAX_VARIANT_WORDS) {
                for reading in ChReading::ALTERNATIVES {
                    if reading.is_spelled_so(word) {
                        let read = family_stem(&skeleton_reading(word, reading)).to_string();
                        if !given_keys.contains(&read) {
                            given_keys.push(read);
                        }
                    }
                }
            }
            keys.splice(other_names_keyed..other_names_keyed, given_keys);
        }
        // Last, where room is left: the given-name column's other readings
        // (without their system's marks), and the other names' forms in the
        // other language (Емельяненко typed as a former name, Omeljanenko
        // kept).
        if query.slot(Slot::GivenClass).is_empty() {
            readings(&record.given_name, &mut keys);
        }
        for stem in &other_name_stems {
            keys.extend(other_language_forms(stem));
        }
        // Then their forms with the stem's second vowel changed too
        // (Пасечник typed, Пасічник kept): the family name gets these among
        // its variants, with their years; an other name has no variants.
        for stem in &other_name_stems {
            keys.extend(further_language_forms(stem));
        }
        // Each key once, in order: a name repeated costs nothing more.
        let mut seen = std::collections::HashSet::new();
        keys.retain(|key| seen.insert(key.clone()));
        // The bounds, counted as keys are added; the record is built once.
        // Always as many keys (as the bounds allow), padded with keys
        // derived from the name, which meet nothing: how many forms a name
        // has tells its shape (a root vowel, a Latin h or ch), and a
        // coordinator recording queries must not learn it. A key whose
        // tokens the query holds already (a reading the stored tokens carry)
        // is not counted.
        let count = |slot: Slot| query.slot(slot).len();
        let names = count(Slot::GivenWhole) + count(Slot::GivenClass);
        let (mut years, mut full, mut unordered) = (
            count(Slot::FamilyYear),
            count(Slot::FamilyDate),
            count(Slot::FamilyUnorderedDate),
        );
        let folded = fold_text(&record.family_name);
        let padding = (0..OTHER_DATE_KEYS).map(|index| format!("\u{1}{index}\u{1}{folded}"));
        let mut added: Vec<(Slot, Token)> = Vec::new();
        let mut accepted = 0;
        for key in keys.into_iter().chain(padding) {
            if accepted == OTHER_DATE_KEYS {
                break;
            }
            // A key is added for every date of the query, or not at all.
            let mut tokens: Vec<(Slot, Token)> = Vec::with_capacity(3 * dates.len());
            for &date in dates {
                add_family_dates(
                    &mut |slot: Slot, kind_byte: u8, bytes: &[u8]| {
                        tokens.push((slot, self.hasher.token(slot.domain(), kind_byte, bytes)));
                    },
                    date,
                    key.as_bytes(),
                );
            }
            let held = |slot: Slot, token: &Token| {
                query.slot(slot).binary_search(token).is_ok()
                    || added.iter().any(|(s, t)| *s == slot && t == token)
            };
            if tokens.iter().any(|(slot, token)| held(*slot, token)) {
                continue;
            }
            let more = |wanted: Slot| tokens.iter().filter(|(slot, _)| *slot == wanted).count();
            let (y, f, u) = (
                years + more(Slot::FamilyYear),
                full + more(Slot::FamilyDate),
                unordered + more(Slot::FamilyUnorderedDate),
            );
            if y > bounds::max_tokens(Slot::FamilyYear)
                || f > bounds::max_tokens(Slot::FamilyDate)
                || u > bounds::max_tokens(Slot::FamilyUnorderedDate)
                || names * (y + f) > bounds::MAX_NAME_DATE_COMBINATIONS
            {
                // Every key costs as much: none further fits either.
                break;
            }
            (years, full, unordered) = (y, f, u);
            added.extend(tokens);
            accepted += 1;
        }
        if added.is_empty() {
            return query;
        }
        let mut builder = TokenRecordBuilder::default();
        for (slot, token) in query.iter().chain(added) {
            builder.push(slot, token);
        }
        builder.finish()
    }

    /// The tokens of a record, as a node keeps them and `poshuk encode`
    /// writes them: whole values only.
    pub fn tokenize(&self, record: &Record) -> TokenRecord {
        self.tokenize_keyed(record, true)
    }

    /// [`Tokenizer::tokenize`], with the birth date keyed also with the other
    /// names that are surnames, or not: a query keys them itself, first and
    /// within the bounds of one query (`with_other_date_keys`).
    fn tokenize_keyed(&self, record: &Record, other_surname_dates: bool) -> TokenRecord {
        let mut builder = TokenRecordBuilder::default();
        let sex = record.sex;
        let given = self.cached(
            &mut builder,
            CachedPart::Given,
            sex,
            &record.given_name,
            |emit| add_name(emit, &record.given_name, NameRole::Given, sex),
        );
        let family = self.cached(
            &mut builder,
            CachedPart::Family,
            sex,
            &record.family_name,
            |emit| add_name(emit, &record.family_name, NameRole::Family, sex),
        );
        // A diminutive of the given name among the other names (Саша for
        // Олександр) adds nothing the class token does not, and its tokens
        // would mark the given name's class for a thief.
        // The other names that are surnames (no word of them a given name the
        // tables know) key the birth date as the family name does: a child
        // kept under an adoptive surname, the former one noted, meets a
        // search by the former surname and year with the year compared.
        let mut other_surnames = NameInputs::default();
        let mut aliased = false;
        for alias in &record.other_names {
            let alias_classes = tables().given_classes(&name_key(alias), sex);
            if alias_classes.iter().any(|class| {
                given
                    .classes
                    .iter()
                    .any(|known| known.as_slice() == class.to_be_bytes())
            }) {
                continue;
            }
            self.cached(&mut builder, CachedPart::Alias, sex, alias, |emit| {
                add_name(emit, alias, NameRole::Alias, sex)
            });
            aliased = true;
            if !other_surname_dates {
                continue;
            }
            for (word, word_skeleton) in surname_words(alias, sex) {
                for whole in surname_wholes(&word, &word_skeleton) {
                    let whole = whole.into_bytes();
                    if other_surnames.wholes.len() < MAX_OTHER_SURNAME_DATE_KEYS
                        && !family.wholes.contains(&whole)
                        && !other_surnames.wholes.contains(&whole)
                    {
                        other_surnames.wholes.push(whole);
                    }
                }
            }
        }
        // Columns swapped at the holder (Ševelov in the given-name column,
        // Vladimir in the family one): the given column's surname keys the
        // date too, as a query's family name keys it. A search for Владимир
        // Шевелов of 1979 then compares its year with the 1942 kept, and one
        // of 1942 meets the record by its year. Only on a record without
        // other names, and all of the column's keys or none, so that a
        // search can tell from the counts alone which keys were made
        // (`compare_birth_date`): a year that does not meet then differs.
        // Only a word shaped as an East Slavic surname (Ковальчук, Шевелев,
        // Kovalskyi): a given name the tables lack (Амір, beside a family
        // name that is also a given name, Роман) would key years shared
        // across families, which a thief could pool.
        if other_surname_dates && !aliased && given.classes.is_empty() && !family.classes.is_empty()
        {
            let words = surname_words(&record.given_name, sex);
            let shaped = words
                .iter()
                .all(|(_, word_skeleton)| crate::names::shaped_as_surname(word_skeleton));
            let mut swapped: Vec<Vec<u8>> = Vec::new();
            for (word, word_skeleton) in words.iter().filter(|_| shaped) {
                for whole in surname_wholes(word, word_skeleton) {
                    let whole = whole.into_bytes();
                    if !family.wholes.contains(&whole) && !swapped.contains(&whole) {
                        swapped.push(whole);
                    }
                }
            }
            if swapped.len() <= MAX_OTHER_SURNAME_DATE_KEYS {
                other_surnames.wholes.extend(swapped);
            }
        }
        let patronymic = self.cached(
            &mut builder,
            CachedPart::Patronymic,
            Sex::Unknown,
            &record.patronymic,
            |emit| add_patronymic(emit, &record.patronymic),
        );
        self.cached(
            &mut builder,
            CachedPart::Place,
            Sex::Unknown,
            &record.birth_place,
            |emit| add_place(emit, &record.birth_place),
        );
        let mut emit = |slot: Slot, kind: u8, value: &[u8]| {
            builder.push(slot, self.hasher.token(slot.domain(), kind, value));
        };
        for document in &record.document_ids {
            add_document(&mut emit, document);
        }
        if let Some(date) = record.birth_date {
            add_birth_date(
                &mut emit,
                date,
                &given,
                &family,
                &other_surnames,
                patronymic.father(),
            );
        }
        builder.finish()
    }
}

impl Tokenizer {
    /// The tokens of one field value, from this thread's cache when the same
    /// value was tokenized before under the same keys. Names, patronymics,
    /// places and dates repeat a great deal in case lists; documents do not.
    fn cached(
        &self,
        builder: &mut TokenRecordBuilder,
        part: CachedPart,
        sex: Sex,
        value: &str,
        compute: impl FnOnce(&mut Emit<'_>),
    ) -> NameInputs {
        if value.is_empty() {
            return NameInputs::default();
        }
        let key = CacheKey {
            hasher: self.hasher.instance(),
            part,
            sex,
            value: value.to_string(),
        };
        let hit = TOKEN_CACHE.with(|cache| {
            cache.borrow().get(&key).map(|(tokens, inputs)| {
                for &(slot, token) in tokens {
                    builder.push(slot, token);
                }
                inputs.clone()
            })
        });
        if let Some(inputs) = hit {
            return inputs;
        }
        let mut tokens: Vec<(Slot, Token)> = Vec::with_capacity(24);
        let mut inputs = NameInputs::default();
        let mut emit = |slot: Slot, kind: u8, bytes: &[u8]| {
            tokens.push((slot, self.hasher.token(slot.domain(), kind, bytes)));
            inputs.note(slot, kind, bytes);
        };
        compute(&mut emit);
        for &(slot, token) in &tokens {
            builder.push(slot, token);
        }
        TOKEN_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= TOKEN_CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key, (tokens, inputs.clone()));
        });
        inputs
    }
}

/// Which field a cached value belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum CachedPart {
    Given,
    Family,
    Alias,
    Patronymic,
    Place,
}

#[derive(PartialEq, Eq, Hash)]
struct CacheKey {
    hasher: u64,
    part: CachedPart,
    sex: Sex,
    value: String,
}

/// Entries per thread before the cache starts over (about 25 MB at most).
const TOKEN_CACHE_CAPACITY: usize = 50_000;

/// Empties this thread's cache of field tokens (a node calls it on every
/// tokenizing thread when an ingest ends, to give the memory back).
pub fn clear_token_cache() {
    TOKEN_CACHE.with(|cache| *cache.borrow_mut() = HashMap::new());
}

thread_local! {
    /// Raw field values and their tokens: it lives only in the process that
    /// tokenizes (the partner's node or CLI), like the records themselves.
    static TOKEN_CACHE: RefCell<HashMap<CacheKey, CachedTokens>> = RefCell::new(HashMap::new());
}

type Emit<'a> = dyn FnMut(Slot, u8, &[u8]) + 'a;

/// A cached field value's tokens, with the plaintext inputs of its names.
type CachedTokens = (Vec<(Slot, Token)>, NameInputs);

/// The plaintext inputs of a name's whole and class tokens, kept beside the
/// tokens (in this process only) to key the birth date with the name.
#[derive(Clone, Default)]
struct NameInputs {
    wholes: Vec<Vec<u8>>,
    classes: Vec<Vec<u8>>,
}

impl NameInputs {
    /// Of a patronymic's inputs, what the given-name date is keyed with: the
    /// father's class (as the patronymic tokens found it, other spelling
    /// systems' readings included), its skeleton when the tables do not
    /// know it, or nothing.
    fn father(&self) -> &[u8] {
        self.classes
            .first()
            .or(self.wholes.first())
            .map_or(&[], Vec::as_slice)
    }

    fn note(&mut self, slot: Slot, kind_byte: u8, bytes: &[u8]) {
        let list = match (slot, kind_byte) {
            (Slot::GivenWhole | Slot::FamilyWhole | Slot::PatronymicWhole, kind::WHOLE) => {
                &mut self.wholes
            }
            (Slot::GivenClass | Slot::FamilyClass | Slot::PatronymicClass, kind::CLASS) => {
                &mut self.classes
            }
            _ => return,
        };
        if !list.iter().any(|known| known == bytes) {
            list.push(bytes.to_vec());
        }
    }
}

/// The record with its given-name and family columns exchanged, when they
/// were typed the wrong way round beyond doubt: every word of the given-name
/// column is no given name the tables know and ends as surnames do
/// (Galicisin, Dovhuk), and the family column holds a known given name and
/// no word shaped as a surname (Olga, Raisa). A given name the tables lack
/// that does not end as surnames do (Амір) leaves the columns as typed, and
/// so does a family column whose given name many families carry as their
/// surname (Домінік | Роман, Бахтияр | Назар): the comparison of swapped
/// columns meets the record either way.
fn columns_put_right(record: &Record) -> Option<Record> {
    let keys = |value: &str| -> Vec<String> {
        words(&fold_text(value))
            .map(skeleton)
            .filter(|key| !key.is_empty())
            .collect()
    };
    let (given, family) = (keys(&record.given_name), keys(&record.family_name));
    let known = |key: &String| !tables().given_classes(key, record.sex).is_empty();
    // A surname typed with a slip (Khlibyhc, Хлібич with two letters
    // exchanged) ends as surnames do once the slip is undone, and no slip
    // undone makes it a known given name.
    let surname_shaped = |word: &str, key: &String| {
        if crate::names::shaped_as_surname(key) {
            return true;
        }
        let slips: Vec<String> = typed_slips(word)
            .unwrap_or_default()
            .iter()
            .map(|typed| skeleton(typed))
            .collect();
        slips
            .iter()
            .any(|slip| crate::names::shaped_as_surname(slip))
            && !slips.iter().any(known)
    };
    let folded_given = fold_text(&record.given_name);
    let surname_in_given = !given.is_empty()
        && words(&folded_given)
            .filter(|word| !skeleton(word).is_empty())
            .all(|word| {
                let key = skeleton(word);
                !known(&key) && surname_shaped(word, &key)
            });
    let given_in_family = family.iter().any(known)
        && !family
            .iter()
            .any(|key| crate::names::shaped_as_surname(key) || crate::names::also_a_surname(key));
    (surname_in_given && given_in_family).then(|| Record {
        given_name: record.family_name.clone(),
        family_name: record.given_name.clone(),
        ..record.clone()
    })
}

/// The words of an other name that are surnames, with their skeletons: every
/// word but those the given-name tables know (a diminutive, the given name of
/// a full former name typed in one field, a surname that is also a given
/// name), which never key a date.
fn surname_words(other_name: &str, sex: Sex) -> Vec<(String, String)> {
    let folded = fold_text(other_name);
    words(&folded)
        .take(MAX_VARIANT_WORDS)
        .map(|word| (word, skeleton(word)))
        .filter(|(_, word_skeleton)| {
            !word_skeleton.is_empty() && tables().given_classes(word_skeleton, sex).is_empty()
        })
        .map(|(word, word_skeleton)| (word.to_string(), word_skeleton))
        .collect()
}

/// The whole-name keys of one surname word (`raw`, case-folded, and its
/// skeleton): what a stored family or other name carries, and what a query
/// keys its date with for an other name typed.
fn surname_wholes(raw: &str, skeleton: &str) -> Vec<String> {
    // The stem only, not also the written form: a feminine surname whose
    // stem differs (Іванова, Ковальська) would otherwise carry one token
    // more than a masculine one and tell a thief the person's sex.
    let key = family_stem(skeleton);
    let mut wholes = vec![key.to_string()];
    if key.len() >= 5 && key.ends_with("ev") {
        // Russian -ёв is mostly written -ев, Ukrainian writes it -ьов,
        // Latin lists -ov, -yov or -ev: Ковалёв = Ковалев = Ковальов =
        // Kovalov.
        wholes.push(format!("{}ov", &key[..key.len() - 2]));
    }
    // A Latin surname read as the other spelling systems would write it:
    // Chartschenko (German) and Harčenko (Croatian) are Харченко,
    // Chevtchenko (French) is Шевченко, Sintschenko (German) is Зінченко.
    // Cyrillic words read the same in every system.
    for reading in ChReading::ALTERNATIVES {
        if !reading.is_spelled_so(raw) {
            continue;
        }
        let alternative = family_stem(&skeleton_reading(raw, reading)).to_string();
        if !wholes.contains(&alternative) {
            wholes.push(alternative);
        }
    }
    wholes
}

fn add_name(emit: &mut Emit<'_>, value: &str, role: NameRole, sex: Sex) {
    let folded = fold_text(value);
    let (raw_words, skeletons): (Vec<&str>, Vec<String>) = words(&folded)
        .map(|word| (word, skeleton(word)))
        .filter(|(_, s)| !s.is_empty())
        .unzip();
    if skeletons.is_empty() {
        return;
    }
    let (whole_slot, class_slot) = match role {
        NameRole::Given => (Slot::GivenWhole, Slot::GivenClass),
        NameRole::Family => (Slot::FamilyWhole, Slot::FamilyClass),
        NameRole::Alias => (Slot::AliasWhole, Slot::AliasClass),
    };
    let stemmed = !matches!(role, NameRole::Given);
    for (raw, word) in raw_words.iter().zip(&skeletons) {
        if stemmed {
            for whole in surname_wholes(raw, word) {
                emit(whole_slot, kind::WHOLE, whole.as_bytes());
            }
        } else {
            emit(whole_slot, kind::WHOLE, word.as_bytes());
        }
    }
    let joined: String = skeletons.concat();
    let mut classes = tables().given_classes(&joined, sex);
    if classes.is_empty() {
        // Other spelling systems: German and Polish write х as `ch`
        // (Juchim, Michajlo), German ж as `sch` and з as `s` (Schanna,
        // Sinaida), Croatian х as `h` (Mihajlo).
        for reading in ChReading::ALTERNATIVES {
            if !reading.may_differ(&folded) {
                continue;
            }
            let key = name_key_reading(value, reading);
            if key != joined {
                classes = tables().given_classes(&key, sex);
                if !classes.is_empty() {
                    break;
                }
            }
        }
    }
    if skeletons.len() > 1 {
        for word in &skeletons {
            for class in tables().given_classes(word, sex) {
                if !classes.contains(&class) {
                    classes.push(class);
                }
            }
        }
    }
    if classes.is_empty() && role == NameRole::Given {
        // Not a known given name: most likely a surname in the given-name
        // column. Its stem too, as the family column keys it, and its other
        // readings (Choumskaia, French, is Шумська).
        let mut alternatives: Vec<String> = Vec::new();
        for word in &skeletons {
            let stem = family_stem(word).to_string();
            if &stem != word && !alternatives.contains(&stem) {
                emit(whole_slot, kind::WHOLE, stem.as_bytes());
                alternatives.push(stem);
            }
        }
        for (raw, word) in raw_words.iter().zip(&skeletons) {
            for reading in ChReading::ALTERNATIVES {
                if !reading.is_spelled_so(raw) {
                    continue;
                }
                let alternative = skeleton_reading(raw, reading);
                let stem = family_stem(&alternative).to_string();
                for form in [alternative, stem] {
                    if &form != word && !alternatives.contains(&form) {
                        emit(whole_slot, kind::WHOLE, form.as_bytes());
                        alternatives.push(form);
                    }
                }
            }
        }
    }
    for class in classes {
        emit(class_slot, kind::CLASS, &class.to_be_bytes());
    }
}

fn add_patronymic(emit: &mut Emit<'_>, value: &str) {
    let key = name_key(value);
    if key.is_empty() {
        return;
    }
    let class = tables().patronymic_class(&key).or_else(|| {
        // Other spelling systems: Michajlowitsch (German), Bogdanovic (ISO 9
        // without its marks).
        let folded = fold_text(value);
        ChReading::ALTERNATIVES
            .into_iter()
            .filter(|reading| reading.may_differ(&folded))
            .find_map(|reading| tables().patronymic_class(&name_key_reading(value, reading)))
    });
    if let Some(class) = class {
        emit(Slot::PatronymicClass, kind::CLASS, &class.to_be_bytes());
    }
    emit(Slot::PatronymicWhole, kind::WHOLE, key.as_bytes());
}

/// The birth date, keyed with the names: no date or year token is shared by
/// people of different names, so that the siblings of a list (same family,
/// patronymic and place, a few years apart) cannot order a thief's year
/// groups. The year and the full date go with every key of the family
/// column (not with a word of the given-name column: keyed with a given name,
/// a year token would join different families), the full date also with the
/// given name's classes (or its skeleton when the tables do not know it): a
/// child under an adoptive surname keeps meeting by given name and date.
/// The other names that are surnames key the year and the date as the
/// family column does (a former surname is a family name). Day and month
/// alone are shared: they tell no year.
fn add_birth_date(
    emit: &mut Emit<'_>,
    date: BirthDate,
    given: &NameInputs,
    family: &NameInputs,
    other_surnames: &NameInputs,
    father: &[u8],
) {
    let year = date.year.to_be_bytes();
    let full = date.month.zip(date.day);
    for key in family.wholes.iter().chain(&other_surnames.wholes) {
        add_family_dates(emit, date, key);
    }
    if let Some((month, day)) = full {
        // The given name's classes; a given name in the family column
        // (swapped columns) too.
        let mut given_keys: Vec<&[u8]> = if given.classes.is_empty() {
            given.wholes.iter().map(Vec::as_slice).collect()
        } else {
            given.classes.iter().map(Vec::as_slice).collect()
        };
        for class in &family.classes {
            if !given_keys.contains(&class.as_slice()) {
                given_keys.push(class);
            }
        }
        // With the father's name too: people of one given name born on one
        // day are many in a large list, and each such pair joins two
        // families' year groups for a thief; with the same father's name
        // they are few.
        let mut with_father = Vec::with_capacity(32);
        for key in given_keys {
            with_father.clear();
            with_father.extend_from_slice(key);
            with_father.push(0x1f);
            with_father.extend_from_slice(father);
            keyed(
                emit,
                Slot::GivenDate,
                kind::GIVEN_DATE,
                &[year[0], year[1], month, day],
                &with_father,
            );
        }
        // Day and month without the year: a wrong year (a changed document,
        // a typed digit) keeps them.
        emit(Slot::DateDayMonth, kind::DAY_MONTH, &[month, day]);
    }
}

/// The year, and the full date in both orders of day and month, keyed
/// with one family-name key.
fn add_family_dates(emit: &mut Emit<'_>, date: BirthDate, key: &[u8]) {
    let year = date.year.to_be_bytes();
    keyed(emit, Slot::FamilyYear, kind::FAMILY_YEAR, &year, key);
    if let Some((month, day)) = date.month.zip(date.day) {
        keyed(
            emit,
            Slot::FamilyDate,
            kind::FULL_DATE,
            &[year[0], year[1], month, day],
            key,
        );
        // Day and month in either order: equal for 07.03 and 03.07.
        let (low, high) = (month.min(day), month.max(day));
        keyed(
            emit,
            Slot::FamilyUnorderedDate,
            kind::UNORDERED_DATE,
            &[year[0], year[1], low, high],
            key,
        );
    }
}

/// A date keyed with a name key: the date's bytes, a separator, the key.
fn keyed(emit: &mut Emit<'_>, slot: Slot, kind_byte: u8, date_bytes: &[u8], key: &[u8]) {
    let mut input = Vec::with_capacity(date_bytes.len() + 1 + key.len());
    input.extend_from_slice(date_bytes);
    input.push(0x1f);
    input.extend_from_slice(key);
    emit(slot, kind_byte, &input);
}

fn add_place(emit: &mut Emit<'_>, value: &str) {
    let segments = place_segments(value);
    let Some(first) = segments.first() else {
        return;
    };
    if let Some(settlement) = tables().settlement(value) {
        emit(Slot::PlaceClass, kind::CLASS, &settlement.to_be_bytes());
    }
    emit(Slot::PlaceWhole, kind::WHOLE, first.as_bytes());
}

fn add_document(emit: &mut Emit<'_>, value: &str) {
    let key = document_key(value);
    if key.len() >= 4 {
        emit(Slot::DocumentWhole, kind::WHOLE, key.as_bytes());
    }
    if let Some(digits) = document_digits(value) {
        emit(Slot::DocumentDigits, kind::DIGITS, digits.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poshuk_keys::{Epoch, KeyRing};
    use poshuk_tokens::intersects;
    /// Columns typed the wrong way round are put right only beyond doubt.
    #[test]
    fn columns_are_put_right_only_beyond_doubt() {
        let row = |given: &str, family: &str| Record {
            given_name: given.into(),
            family_name: family.into(),
            ..Record::default()
        };
        let put = |given: &str, family: &str| {
            super::columns_put_right(&row(given, family)).map(|record| record.family_name)
        };
        assert_eq!(put("Galicisin", "Tamara").as_deref(), Some("Galicisin"));
        assert_eq!(put("KOVALENKO", "Olga").as_deref(), Some("KOVALENKO"));
        // A surname with a slip: shaped as one once the slip is undone.
        assert_eq!(put("Khlibyhc", "Diana").as_deref(), Some("Khlibyhc"));
        // A given name with a slip is no surname, though undone it ends as
        // surnames do: Kostiantny is Kostiantyn.
        assert_eq!(put("Kostiantny", "Olga"), None);
        // As typed: right already, a given name the tables lack that looks
        // like none (Амір), or beside a surname that is also a given name.
        assert_eq!(put("Olga", "Kovalenko"), None);
        assert_eq!(put("Амір", "Мартин"), None);
        assert_eq!(put("Домінік", "Роман"), None);
        assert_eq!(put("Бахтияр", "Назар"), None);
    }

    fn tokenizer() -> Tokenizer {
        let ring = KeyRing::with_key([3; 32]);
        Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
    }

    fn person(given: &str, family: &str, patronymic: &str, date: &str) -> Record {
        Record {
            record_id: "1".into(),
            given_name: given.into(),
            family_name: family.into(),
            patronymic: patronymic.into(),
            birth_date: BirthDate::parse(date).ok(),
            ..Record::default()
        }
    }

    #[test]
    fn cross_script_records_share_selective_tokens() {
        let tokenizer = tokenizer();
        let ukrainian = tokenizer.tokenize(&person(
            "Олександр",
            "Коваленко",
            "Миколайович",
            "2011-03-07",
        ));
        let russian = tokenizer.tokenize(&person(
            "Александр",
            "Коваленко",
            "Николаевич",
            "2011-07-03",
        ));
        let latin = tokenizer.tokenize(&person("Alexander", "Kovalenko", "", "2011-03-07"));
        for other in [&russian, &latin] {
            assert!(intersects(
                ukrainian.slot(Slot::GivenClass),
                other.slot(Slot::GivenClass)
            ));
            assert!(intersects(
                ukrainian.slot(Slot::FamilyWhole),
                other.slot(Slot::FamilyWhole)
            ));
        }
        assert!(intersects(
            ukrainian.slot(Slot::PatronymicClass),
            russian.slot(Slot::PatronymicClass)
        ));
        assert!(!intersects(
            ukrainian.slot(Slot::FamilyDate),
            russian.slot(Slot::FamilyDate)
        ));
        assert!(intersects(
            ukrainian.slot(Slot::FamilyUnorderedDate),
            russian.slot(Slot::FamilyUnorderedDate)
        ));
        assert!(intersects(
            ukrainian.slot(Slot::FamilyDate),
            latin.slot(Slot::FamilyDate)
        ));
    }

    /// No two different names share a token in the name slots unless they
    /// are within one edit, sound alike or are forms of one name: in
    /// particular no token stands for a letter or a pair of letters.
    #[test]
    fn unrelated_names_share_no_token() {
        let tokenizer = tokenizer();
        let names = |given: &str, family: &str| {
            let record = tokenizer.tokenize(&person(given, family, "", ""));
            let mut tokens: Vec<Token> = [Slot::GivenWhole, Slot::GivenClass, Slot::FamilyWhole]
                .iter()
                .flat_map(|&slot| record.slot(slot).to_vec())
                .collect();
            tokens.sort();
            tokens
        };
        // Share letters and bigrams (ko, ov, en, nk, ar, an, ...) only.
        let left = names("Тарас", "Коваленко");
        let right = names("Мирослава", "Бондаренко");
        assert!(!intersects(&left, &right));
    }

    /// A node keeps whole values only; a query one typo away from a stored
    /// record, in either name, still shares a blocking key with it and is
    /// scored one letter apart, not different.
    #[test]
    fn a_query_meets_an_indexed_record_one_typo_away() {
        use crate::{Level, MatchModel, NoTermFrequencies, blocking_keys};
        let tokenizer = tokenizer();
        let stored = tokenizer.tokenize(&person(
            "Олександр",
            "Коваленко",
            "Миколайович",
            "2011-03-07",
        ));
        assert!(stored.slot(Slot::GivenVariant).is_empty());
        let stored_keys = blocking_keys(&stored);
        for (given, family, typo_in) in [
            ("Oleksandr", "Kovalneko", 1),
            ("Oleksnadr", "Kovalenko", 0),
            ("Oleksandr", "Kovalenmo", 1),
        ] {
            let query = tokenizer.tokenize_query(&person(given, family, "", "2011"));
            let keys = blocking_keys(&query);
            assert!(
                keys.iter()
                    .any(|key| stored_keys.binary_search(key).is_ok()),
                "{given} {family}"
            );
            let score = MatchModel::default().score_query(&query, &stored, &NoTermFrequencies);
            assert_eq!(
                score.fields[typo_in].level,
                Level::Close,
                "{given} {family}"
            );
        }
    }

    /// A query's variant slots hold the same number of tokens whatever the
    /// length of the name: what a coordinator sees does not tell it.
    #[test]
    fn query_variants_do_not_tell_name_lengths() {
        let tokenizer = tokenizer();
        // Медведак and Миколаєнко carry forms more than a letter away
        // (Ведмедак, Николаенко) among their variants, Бойко none.
        for (given, family) in [
            ("Ю", "Лі"),
            ("Іван", "Бойко"),
            ("Олександр", "Ярошевська"),
            ("Олена", "Медведак"),
            ("Микола", "Миколаєнко"),
            ("Петро", "Білоус"),
            ("Petro", "Hnatskyi"),
            // Two words of one slot whose variants overlap: each string once
            // in the slot, every word still its count.
            ("Анна Ганна", "Коваль Ковальов"),
            ("Сергій Сергей", "Кропенко-Кріпенко"),
            // One word twice: the padding of each its own.
            ("Анна Анна", "Коваль-Коваль"),
        ] {
            let words = |value: &str| value.split([' ', '-']).count();
            let query = tokenizer.tokenize_query(&person(given, family, "", ""));
            assert_eq!(
                query.slot(Slot::GivenVariant).len(),
                words(given) * VARIANTS_PER_WORD,
                "{given}"
            );
            assert_eq!(
                query.slot(Slot::FamilyVariant).len(),
                words(family) * VARIANTS_PER_WORD,
                "{family}"
            );
            // Nor do the forms tell how many a name has (Бойко none in the
            // other language, Медведак several), nor how many of them are
            // among the variants: all of them are, real or padding.
            let forms = query.slot(Slot::FamilyForm);
            assert_eq!(
                forms.len(),
                words(family) * bounds::FORMS_PER_WORD,
                "{family}"
            );
            assert_eq!(
                poshuk_tokens::shared_count(forms, query.slot(Slot::FamilyVariant)),
                forms.len(),
                "{family}"
            );
        }
        // A long name gets variants for its first words only, within what
        // nodes accept per slot.
        let long = tokenizer.tokenize_query(&person(
            "Анна Марія Софія Олена Ірина Катерина",
            "Коваленко",
            "",
            "",
        ));
        assert_eq!(
            long.slot(Slot::GivenVariant).len(),
            MAX_VARIANT_WORDS * VARIANTS_PER_WORD
        );
    }

    /// With one date, each family variant keys the year as a stored record
    /// keys its year with its family name: Лаврук's query holds the year
    /// token of Ларук, one letter away. The number of these tokens is the
    /// variants' own, whatever the name; a query without a date, or with a
    /// range of years, has none.
    #[test]
    fn query_variants_key_the_year_of_a_name_one_letter_away() {
        let tokenizer = tokenizer();
        let query = tokenizer.tokenize_query(&person("Олена", "Лаврук", "", "1971"));
        let held = tokenizer.tokenize(&person("Олена", "Ларук", "Марківна", "1971-02-01"));
        assert!(intersects(
            query.slot(Slot::FamilyVariantYear),
            held.slot(Slot::FamilyYear)
        ));
        assert!(!intersects(
            query.slot(Slot::FamilyYear),
            held.slot(Slot::FamilyYear)
        ));
        let other_year = tokenizer.tokenize(&person("Олена", "Ларук", "", "1972"));
        assert!(!intersects(
            query.slot(Slot::FamilyVariantYear),
            other_year.slot(Slot::FamilyYear)
        ));
        for family in ["Лі", "Бойко", "Ярошевська", "Медведак", "Hnatskyi"]
        {
            let query = tokenizer.tokenize_query(&person("Іван", family, "", "1990-05-04"));
            assert_eq!(
                query.slot(Slot::FamilyVariantYear).len(),
                VARIANTS_PER_WORD,
                "{family}"
            );
        }
        // No variant's year is one of the query's date keys (the forms in
        // the other language are both): how many the two slots share would
        // tell whether the surname has such forms. And none is shared by
        // queries for the same surname in other years, padding included:
        // how much of the slot is padding would tell the name's length.
        for family in ["Кропенко", "Бойко", "Ковалев", "Chomak", "Бабенко"]
        {
            let query = tokenizer.tokenize_query(&person("Іван", family, "", "1990"));
            assert!(
                !intersects(
                    query.slot(Slot::FamilyVariantYear),
                    query.slot(Slot::FamilyYear)
                ),
                "{family}"
            );
            assert_eq!(
                query.slot(Slot::FamilyVariantYear).len(),
                VARIANTS_PER_WORD,
                "{family}"
            );
            let other_year = tokenizer.tokenize_query(&person("Іван", family, "", "1991"));
            assert!(
                !intersects(
                    query.slot(Slot::FamilyVariantYear),
                    other_year.slot(Slot::FamilyVariantYear)
                ),
                "{family}"
            );
        }
        let dateless = tokenizer.tokenize_query(&person("Олена", "Лаврук", "", ""));
        assert!(dateless.slot(Slot::FamilyVariantYear).is_empty());
        let range =
            tokenizer.tokenize_query_years(&person("Олена", "Лаврук", "", ""), &[1970, 1971]);
        assert!(range.slot(Slot::FamilyVariantYear).is_empty());
        assert!(!range.slot(Slot::FamilyYear).is_empty());
    }

    /// How many surnames a query keys its date with, beyond the family
    /// name's own keys, does not tell the surname's shape: Кропенко (a root
    /// vowel with another form), Chomak (a Latin ch read in other systems)
    /// and Бойко give as many date tokens; so do Chartschenko (a reading the
    /// stored tokens carry already) and Ковалев (-ев/-ов), which have two
    /// keys of their own (visible anyway) and so room for fewer.
    #[test]
    fn query_date_keys_do_not_tell_the_surnames_shape() {
        let tokenizer = tokenizer();
        for date in ["1991", "1991-04-14"] {
            let mut by_own_keys: HashMap<usize, Vec<(&str, usize, usize)>> = HashMap::new();
            let families = [
                "Кропенко",
                "Chomak",
                "Бойко",
                "Chartschenko",
                "Ковалев",
                "Медведак",
                "Миколаєнко",
                "Білоус",
                "Hnatskyi",
            ];
            for family in families {
                // Whether other names were typed, and whether they key the
                // date (a former surname does, a given name does not), is
                // not told either.
                for other_names in [&[][..], &["Хомский"], &["Богдан"], &[family]] {
                    let mut record = person("Ольга", family, "", date);
                    record.other_names = other_names.iter().map(|name| name.to_string()).collect();
                    let query = tokenizer.tokenize_query(&record);
                    let own = query.slot(Slot::FamilyWhole).len();
                    by_own_keys.entry(own).or_default().push((
                        family,
                        query.slot(Slot::FamilyYear).len(),
                        query.slot(Slot::FamilyDate).len(),
                    ));
                }
            }
            assert_eq!(by_own_keys.len(), 2, "{date}: {by_own_keys:?}");
            for counts in by_own_keys.values() {
                assert!(
                    counts
                        .windows(2)
                        .all(|pair| (pair[0].1, pair[0].2) == (pair[1].1, pair[1].2)),
                    "{date}: {counts:?}"
                );
            }
            // And the keys are real where forms exist, not all padding: the
            // query for Кропенко holds Кріпенко's year, the query for
            // Снегирак with Хомский typed holds Хомський's.
            for (family, other_names, kept) in [
                ("Кропенко", &[][..], "Кріпенко"),
                ("Снегирак", &["Хомский"][..], "Хомський"),
            ] {
                let mut record = person("Ольга", family, "", date);
                record.other_names = other_names.iter().map(|name| name.to_string()).collect();
                let query = tokenizer.tokenize_query(&record);
                let stored = tokenizer.tokenize(&person("Ольга", kept, "", "1991-04-14"));
                assert!(
                    intersects(query.slot(Slot::FamilyYear), stored.slot(Slot::FamilyYear)),
                    "{date}: {family} does not key {kept}'s year"
                );
            }
        }
    }

    #[test]
    fn tokenizing_is_deterministic_and_keyed() {
        let record = person("Тарас", "Шевченко", "Григорович", "1814-03-09");
        assert_eq!(tokenizer().tokenize(&record), tokenizer().tokenize(&record));
        let other_ring = KeyRing::with_key([4; 32]);
        let other = Tokenizer::new(other_ring.hasher(Epoch(1)).expect("hasher")).tokenize(&record);
        assert!(!intersects(
            tokenizer().tokenize(&record).slot(Slot::FamilyWhole),
            other.slot(Slot::FamilyWhole)
        ));
    }
}
