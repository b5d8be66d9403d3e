//! Scoring a pair of token records: field comparisons combined as
//! Fellegi–Sunter log-likelihood weights into a calibrated probability.
//!
//! Each field is compared at agreement levels ([`Level`]); each level has an m
//! probability (how often true matches agree at that level) and a u probability
//! (how often unrelated people do). The weight of a level is log2(m/u); the sum of
//! weights plus the prior log-odds gives the posterior log-odds of a match.
//! Where a node supplies its own term frequencies, the u of an exact agreement is
//! the frequency of the agreeing value (agreeing on Коваленко says less than
//! agreeing on Ярошевський).
//!
//! Fellegi–Sunter assumes fields agree independently, which twins and siblings
//! break (same family, patronymic, date and place; different given names). Name
//! knowledge is therefore given the last word: when both records carry a given
//! name and the names are known to be different names, the pair is capped below
//! the possible band.

use std::fmt;

use poshuk_tokens::{Slot, Token, TokenRecord, dice, intersects};

/// How well one field agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The same value.
    Exact,
    /// Equivalent forms of one name (Олександр / Alexander / Sasha).
    Equivalent,
    /// Nearly the same spelling.
    Close,
    /// Different spelling, same Daitch–Mokotoff code.
    SoundsAlike,
    /// Some spelling in common.
    Similar,
    /// Only the initial agrees.
    Initial,
    /// The family name agrees with a former, adoptive or other name.
    OtherName,
    /// Given and family names agree once their columns are exchanged.
    SwappedColumns,
    /// The date agrees with day and month exchanged.
    DayMonthSwapped,
    /// Year and month agree, or the dates agree as far as both are known.
    YearMonth,
    /// Only the year agrees.
    Year,
    /// The years differ by one.
    NearYear,
    /// The document number's digits agree, its series does not.
    NumberOnly,
    /// The values disagree.
    Different,
    /// One or both records lack the field.
    Missing,
}

impl Level {
    /// Words a case worker reads.
    pub fn describe(self) -> &'static str {
        match self {
            Level::Exact => "same",
            Level::Equivalent => "equivalent form",
            Level::Close => "close",
            Level::SoundsAlike => "sounds alike",
            Level::Similar => "similar",
            Level::Initial => "same initial",
            Level::OtherName => "matches a former or other name",
            Level::SwappedColumns => "same, in swapped columns",
            Level::DayMonthSwapped => "day and month swapped",
            Level::YearMonth => "same year and month",
            Level::Year => "same year",
            Level::NearYear => "year differs by one",
            Level::NumberOnly => "same number, different series",
            Level::Different => "different",
            Level::Missing => "missing",
        }
    }

    /// Whether the level counts as agreement (for "which fields agreed").
    pub fn agrees(self) -> bool {
        !matches!(self, Level::Different | Level::Missing | Level::Initial)
    }
}

/// The fields compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Given name.
    GivenName,
    /// Family name.
    FamilyName,
    /// Patronymic.
    Patronymic,
    /// Birth date.
    BirthDate,
    /// Birth place.
    BirthPlace,
    /// Identity documents.
    Document,
    /// Sex.
    Sex,
}

impl Field {
    /// Words a case worker reads.
    pub fn describe(self) -> &'static str {
        match self {
            Field::GivenName => "given name",
            Field::FamilyName => "family name",
            Field::Patronymic => "patronymic",
            Field::BirthDate => "birth date",
            Field::BirthPlace => "birth place",
            Field::Document => "document",
            Field::Sex => "sex",
        }
    }

    /// A stable machine name.
    pub fn name(self) -> &'static str {
        match self {
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::Patronymic => "patronymic",
            Field::BirthDate => "birth_date",
            Field::BirthPlace => "birth_place",
            Field::Document => "document",
            Field::Sex => "sex",
        }
    }
}

/// The outcome of comparing one field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldScore {
    /// The field.
    pub field: Field,
    /// How well it agreed.
    pub level: Level,
    /// Its log2 likelihood-ratio weight.
    pub weight: f64,
}

/// Score bands, as shown to searchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    /// Unlikely to be the same person; shown only on request.
    Weak,
    /// Worth a look.
    Possible,
    /// Very likely the same person.
    Strong,
}

impl Band {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Band::Weak => "weak",
            Band::Possible => "possible",
            Band::Strong => "strong",
        }
    }

    /// Parses a band name.
    pub fn parse(text: &str) -> Option<Band> {
        match text.trim().to_ascii_lowercase().as_str() {
            "weak" => Some(Band::Weak),
            "possible" => Some(Band::Possible),
            "strong" => Some(Band::Strong),
            _ => None,
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A scored pair.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchScore {
    /// Posterior probability that both records describe one person, in [0, 1].
    pub probability: f64,
    /// The band of the probability.
    pub band: Band,
    /// Per-field comparison, in field order.
    pub fields: Vec<FieldScore>,
}

impl MatchScore {
    /// "given name: equivalent form; family name: same; ..." for the fields that
    /// both records carry.
    pub fn explain(&self) -> String {
        self.fields
            .iter()
            .filter(|field| field.level != Level::Missing)
            .map(|field| format!("{}: {}", field.field.describe(), field.level.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The fields that agreed.
    pub fn agreeing_fields(&self) -> Vec<Field> {
        self.fields
            .iter()
            .filter(|field| field.level.agrees())
            .map(|field| field.field)
            .collect()
    }
}

/// The slots whose exact agreement is adjusted by the value's frequency: the
/// only tokens a population's frequencies need to be counted for.
pub const FREQUENCY_SLOTS: [Slot; 7] = [
    Slot::GivenWhole,
    Slot::GivenClass,
    Slot::FamilyWhole,
    Slot::PatronymicClass,
    Slot::PatronymicWhole,
    Slot::PlaceClass,
    Slot::PlaceWhole,
];

/// Frequencies of token values in a population (a node's own index, or the
/// other side of an offline link), for term-frequency adjustment.
pub trait TermFrequencies {
    /// The share of records carrying `token`, if known.
    fn frequency(&self, token: Token) -> Option<f64>;
}

/// No term-frequency adjustment.
pub struct NoTermFrequencies;

impl TermFrequencies for NoTermFrequencies {
    fn frequency(&self, _token: Token) -> Option<f64> {
        None
    }
}

/// m and u probabilities of one level.
#[derive(Debug, Clone, Copy)]
struct Mu {
    m: f64,
    u: f64,
}

const fn mu(m: f64, u: f64) -> Mu {
    Mu { m, u }
}

impl Mu {
    fn weight(self) -> f64 {
        (self.m / self.u).log2()
    }

    /// The weight with u replaced by a value's frequency (bounded so that a
    /// value seen once does not outweigh everything else).
    fn weight_with_frequency(self, frequency: Option<f64>) -> f64 {
        match frequency {
            Some(frequency) => (self.m / frequency.clamp(self.u / 20.0, self.u * 20.0)).log2(),
            None => self.weight(),
        }
    }
}

/// The Fellegi–Sunter model: m/u per level and the prior. The defaults are set
/// from what is known of such lists (see ARCHITECTURE.md, "Scoring").
#[derive(Debug, Clone)]
pub struct MatchModel {
    /// Prior log2-odds that two records picked as candidates are one person.
    pub prior_log2_odds: f64,
    /// Probability at or above which a pair is strong.
    pub strong_threshold: f64,
    /// Probability at or above which a pair is possible.
    pub possible_threshold: f64,
}

impl Default for MatchModel {
    fn default() -> MatchModel {
        MatchModel {
            prior_log2_odds: -13.0,
            strong_threshold: 0.9,
            possible_threshold: 0.5,
        }
    }
}

mod given {
    use super::{Mu, mu};
    pub(super) const EXACT: Mu = mu(0.55, 0.02);
    pub(super) const EQUIVALENT: Mu = mu(0.38, 0.02);
    pub(super) const CLOSE: Mu = mu(0.03, 0.004);
    pub(super) const SOUNDS_ALIKE: Mu = mu(0.01, 0.01);
    pub(super) const SIMILAR: Mu = mu(0.01, 0.03);
    pub(super) const INITIAL: Mu = mu(0.005, 0.04);
    pub(super) const DIFFERENT: Mu = mu(0.015, 0.876);
}

mod family {
    use super::{Mu, mu};
    pub(super) const EXACT: Mu = mu(0.80, 0.002);
    pub(super) const CLOSE: Mu = mu(0.08, 0.001);
    pub(super) const SOUNDS_ALIKE: Mu = mu(0.03, 0.003);
    pub(super) const SIMILAR: Mu = mu(0.02, 0.01);
    pub(super) const OTHER_NAME: Mu = mu(0.03, 0.0005);
    pub(super) const DIFFERENT: Mu = mu(0.04, 0.98);
}

mod patronymic {
    use super::{Mu, mu};
    pub(super) const EQUIVALENT: Mu = mu(0.88, 0.03);
    pub(super) const CLOSE: Mu = mu(0.04, 0.01);
    pub(super) const SIMILAR: Mu = mu(0.03, 0.03);
    pub(super) const DIFFERENT: Mu = mu(0.05, 0.93);
}

mod date {
    use super::{Mu, mu};
    pub(super) const EXACT: Mu = mu(0.86, 0.0002);
    pub(super) const DAY_MONTH_SWAPPED: Mu = mu(0.03, 0.0002);
    pub(super) const YEAR_MONTH: Mu = mu(0.03, 0.003);
    pub(super) const YEAR: Mu = mu(0.03, 0.05);
    pub(super) const NEAR_YEAR: Mu = mu(0.02, 0.1);
    pub(super) const DIFFERENT: Mu = mu(0.03, 0.85);
    /// Agreement as far as the less precise date goes (month precision).
    pub(super) const AS_KNOWN_MONTH: Mu = mu(0.9, 0.004);
    /// Agreement as far as the less precise date goes (year precision).
    pub(super) const AS_KNOWN_YEAR: Mu = mu(0.9, 0.06);
    pub(super) const PARTIAL_DIFFERENT: Mu = mu(0.05, 0.84);
}

mod place {
    use super::{Mu, mu};
    pub(super) const EXACT: Mu = mu(0.80, 0.03);
    pub(super) const DIFFERENT: Mu = mu(0.20, 0.97);
}

mod document {
    use super::{Mu, mu};
    pub(super) const EXACT: Mu = mu(0.95, 1e-7);
    pub(super) const NUMBER_ONLY: Mu = mu(0.03, 1e-6);
    /// People carry several documents: a different number says little.
    pub(super) const DIFFERENT: Mu = mu(0.5, 1.0);
}

mod sex {
    use super::{Mu, mu};
    pub(super) const AGREE: Mu = mu(0.98, 0.5);
    pub(super) const DIFFERENT: Mu = mu(0.02, 0.5);
}

/// The log-odds a pair is held at when both given names are known to be
/// different names (twins, siblings): below the possible band.
const DIFFERENT_GIVEN_NAME_CAP: f64 = -1.5;

/// Penalty for needing to swap the given and family columns to agree.
const SWAP_PENALTY: f64 = 1.0;

/// The tokens of one name, in the slots of one role.
#[derive(Clone, Copy)]
struct NameView<'a> {
    whole: &'a [Token],
    class: &'a [Token],
    gram: &'a [Token],
    phonetic: &'a [Token],
    initial: &'a [Token],
}

impl<'a> NameView<'a> {
    fn given(record: &'a TokenRecord) -> NameView<'a> {
        NameView {
            whole: record.slot(Slot::GivenWhole),
            class: record.slot(Slot::GivenClass),
            gram: record.slot(Slot::GivenGram),
            phonetic: record.slot(Slot::GivenPhonetic),
            initial: record.slot(Slot::GivenInitial),
        }
    }

    fn family(record: &'a TokenRecord) -> NameView<'a> {
        NameView {
            whole: record.slot(Slot::FamilyWhole),
            class: record.slot(Slot::FamilyClass),
            gram: record.slot(Slot::FamilyGram),
            phonetic: record.slot(Slot::FamilyPhonetic),
            initial: record.slot(Slot::FamilyInitial),
        }
    }

    fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.gram.is_empty()
    }
}

/// The shared token of two sets with the highest frequency, for TF adjustment
/// (the least informative agreement is the honest one to report).
fn shared_frequency(
    left: &[Token],
    right: &[Token],
    frequencies: &dyn TermFrequencies,
) -> Option<f64> {
    let mut best: Option<f64> = None;
    for token in left {
        if right.binary_search(token).is_ok()
            && let Some(frequency) = frequencies.frequency(*token)
        {
            best = Some(best.map_or(frequency, |b: f64| b.max(frequency)));
        }
    }
    best
}

fn compare_given(
    left: NameView<'_>,
    right: NameView<'_>,
    frequencies: &dyn TermFrequencies,
) -> (Level, f64) {
    if left.is_empty() || right.is_empty() {
        return (Level::Missing, 0.0);
    }
    if intersects(left.whole, right.whole) {
        let frequency = shared_frequency(left.whole, right.whole, frequencies);
        return (Level::Exact, given::EXACT.weight_with_frequency(frequency));
    }
    if intersects(left.class, right.class) {
        let frequency = shared_frequency(left.class, right.class, frequencies);
        return (
            Level::Equivalent,
            given::EQUIVALENT.weight_with_frequency(frequency),
        );
    }
    // Both names are in the tables and in different classes: known to be
    // different names (Олександр / Олександра), however alike they look.
    if !left.class.is_empty() && !right.class.is_empty() {
        return (Level::Different, given::DIFFERENT.weight());
    }
    let similarity = dice(left.gram, right.gram);
    if similarity >= 0.75 {
        return (Level::Close, given::CLOSE.weight());
    }
    if intersects(left.phonetic, right.phonetic) {
        return (Level::SoundsAlike, given::SOUNDS_ALIKE.weight());
    }
    if similarity >= 0.5 {
        return (Level::Similar, given::SIMILAR.weight());
    }
    if intersects(left.initial, right.initial) {
        return (Level::Initial, given::INITIAL.weight());
    }
    (Level::Different, given::DIFFERENT.weight())
}

fn compare_family(
    left: NameView<'_>,
    right: NameView<'_>,
    frequencies: &dyn TermFrequencies,
) -> (Level, f64) {
    if left.is_empty() || right.is_empty() {
        return (Level::Missing, 0.0);
    }
    if intersects(left.whole, right.whole) {
        let frequency = shared_frequency(left.whole, right.whole, frequencies);
        return (Level::Exact, family::EXACT.weight_with_frequency(frequency));
    }
    let similarity = dice(left.gram, right.gram);
    if similarity >= 0.75 {
        return (Level::Close, family::CLOSE.weight());
    }
    if intersects(left.phonetic, right.phonetic) {
        return (Level::SoundsAlike, family::SOUNDS_ALIKE.weight());
    }
    if similarity >= 0.5 {
        return (Level::Similar, family::SIMILAR.weight());
    }
    (Level::Different, family::DIFFERENT.weight())
}

/// Whether a family name agrees with one of the other record's other names
/// (a former or adoptive surname, a maiden name).
fn family_meets_other_name(left: &TokenRecord, right: &TokenRecord) -> bool {
    let crosses = |a: &TokenRecord, b: &TokenRecord| {
        intersects(a.slot(Slot::FamilyWhole), b.slot(Slot::AliasWhole))
            || intersects(a.slot(Slot::AliasWhole), b.slot(Slot::FamilyWhole))
            || intersects(a.slot(Slot::AliasWhole), b.slot(Slot::AliasWhole))
    };
    crosses(left, right)
}

/// The given name agrees with a diminutive or other form kept in other names.
fn given_meets_other_name(left: &TokenRecord, right: &TokenRecord) -> bool {
    intersects(left.slot(Slot::GivenClass), right.slot(Slot::AliasClass))
        || intersects(left.slot(Slot::AliasClass), right.slot(Slot::GivenClass))
}

fn compare_patronymic(
    left: &TokenRecord,
    right: &TokenRecord,
    frequencies: &dyn TermFrequencies,
) -> (Level, f64) {
    let (left_whole, right_whole) = (
        left.slot(Slot::PatronymicWhole),
        right.slot(Slot::PatronymicWhole),
    );
    if left_whole.is_empty() || right_whole.is_empty() {
        return (Level::Missing, 0.0);
    }
    let (left_class, right_class) = (
        left.slot(Slot::PatronymicClass),
        right.slot(Slot::PatronymicClass),
    );
    if intersects(left_class, right_class) {
        let frequency = shared_frequency(left_class, right_class, frequencies);
        return (
            Level::Equivalent,
            patronymic::EQUIVALENT.weight_with_frequency(frequency),
        );
    }
    if intersects(left_whole, right_whole) {
        let frequency = shared_frequency(left_whole, right_whole, frequencies);
        return (
            Level::Exact,
            patronymic::EQUIVALENT.weight_with_frequency(frequency),
        );
    }
    if !left_class.is_empty() && !right_class.is_empty() {
        return (Level::Different, patronymic::DIFFERENT.weight());
    }
    let similarity = dice(
        left.slot(Slot::PatronymicGram),
        right.slot(Slot::PatronymicGram),
    );
    if similarity >= 0.75 {
        return (Level::Close, patronymic::CLOSE.weight());
    }
    if similarity >= 0.5 {
        return (Level::Similar, patronymic::SIMILAR.weight());
    }
    (Level::Different, patronymic::DIFFERENT.weight())
}

fn compare_birth_date(left: &TokenRecord, right: &TokenRecord) -> (Level, f64) {
    let (left_year, right_year) = (left.slot(Slot::DateYear), right.slot(Slot::DateYear));
    if left_year.is_empty() || right_year.is_empty() {
        return (Level::Missing, 0.0);
    }
    let (left_full, right_full) = (left.slot(Slot::DateFull), right.slot(Slot::DateFull));
    let (left_month, right_month) = (
        left.slot(Slot::DateYearMonth),
        right.slot(Slot::DateYearMonth),
    );
    let near = intersects(left.slot(Slot::DateNearYear), right_year);
    if !left_full.is_empty() && !right_full.is_empty() {
        if intersects(left_full, right_full) {
            return (Level::Exact, date::EXACT.weight());
        }
        if intersects(left.slot(Slot::DateSwapped), right_full) {
            return (Level::DayMonthSwapped, date::DAY_MONTH_SWAPPED.weight());
        }
        if intersects(left_month, right_month) {
            return (Level::YearMonth, date::YEAR_MONTH.weight());
        }
        if intersects(left_year, right_year) {
            return (Level::Year, date::YEAR.weight());
        }
        if near {
            return (Level::NearYear, date::NEAR_YEAR.weight());
        }
        return (Level::Different, date::DIFFERENT.weight());
    }
    // At least one date is partial: agree as far as both are known.
    if !left_month.is_empty() && !right_month.is_empty() {
        if intersects(left_month, right_month) {
            return (Level::YearMonth, date::AS_KNOWN_MONTH.weight());
        }
        if intersects(left_year, right_year) {
            return (Level::Year, date::YEAR.weight());
        }
    } else if intersects(left_year, right_year) {
        return (Level::Year, date::AS_KNOWN_YEAR.weight());
    }
    if near {
        return (Level::NearYear, date::NEAR_YEAR.weight());
    }
    (Level::Different, date::PARTIAL_DIFFERENT.weight())
}

fn compare_place(
    left: &TokenRecord,
    right: &TokenRecord,
    frequencies: &dyn TermFrequencies,
) -> (Level, f64) {
    let (left_whole, right_whole) = (left.slot(Slot::PlaceWhole), right.slot(Slot::PlaceWhole));
    if left_whole.is_empty() || right_whole.is_empty() {
        return (Level::Missing, 0.0);
    }
    let (left_class, right_class) = (left.slot(Slot::PlaceClass), right.slot(Slot::PlaceClass));
    if intersects(left_class, right_class) {
        let frequency = shared_frequency(left_class, right_class, frequencies);
        return (Level::Exact, place::EXACT.weight_with_frequency(frequency));
    }
    if intersects(left_whole, right_whole) {
        let frequency = shared_frequency(left_whole, right_whole, frequencies);
        return (Level::Exact, place::EXACT.weight_with_frequency(frequency));
    }
    (Level::Different, place::DIFFERENT.weight())
}

fn compare_documents(left: &TokenRecord, right: &TokenRecord) -> (Level, f64) {
    let (left_whole, right_whole) = (
        left.slot(Slot::DocumentWhole),
        right.slot(Slot::DocumentWhole),
    );
    let (left_digits, right_digits) = (
        left.slot(Slot::DocumentDigits),
        right.slot(Slot::DocumentDigits),
    );
    if (left_whole.is_empty() && left_digits.is_empty())
        || (right_whole.is_empty() && right_digits.is_empty())
    {
        return (Level::Missing, 0.0);
    }
    if intersects(left_whole, right_whole) {
        return (Level::Exact, document::EXACT.weight());
    }
    if intersects(left_digits, right_digits) {
        return (Level::NumberOnly, document::NUMBER_ONLY.weight());
    }
    (Level::Different, document::DIFFERENT.weight())
}

fn compare_sex(left: &TokenRecord, right: &TokenRecord) -> (Level, f64) {
    let (left_sex, right_sex) = (left.slot(Slot::SexValue), right.slot(Slot::SexValue));
    if left_sex.is_empty() || right_sex.is_empty() {
        return (Level::Missing, 0.0);
    }
    if intersects(left_sex, right_sex) {
        (Level::Exact, sex::AGREE.weight())
    } else {
        (Level::Different, sex::DIFFERENT.weight())
    }
}

/// Given and family name comparisons, straight or with swapped columns,
/// whichever agrees better; other names taken into account.
fn compare_names(
    left: &TokenRecord,
    right: &TokenRecord,
    frequencies: &dyn TermFrequencies,
) -> ((Level, f64), (Level, f64)) {
    let (left_given, right_given) = (NameView::given(left), NameView::given(right));
    let (left_family, right_family) = (NameView::family(left), NameView::family(right));

    let mut given_score = compare_given(left_given, right_given, frequencies);
    if given_score.0 != Level::Exact
        && given_score.0 != Level::Equivalent
        && given_meets_other_name(left, right)
    {
        given_score = (Level::Equivalent, given::EQUIVALENT.weight());
    }
    let mut family_score = compare_family(left_family, right_family, frequencies);
    if !matches!(family_score.0, Level::Exact | Level::Close)
        && family_meets_other_name(left, right)
    {
        family_score = (Level::OtherName, family::OTHER_NAME.weight());
    }

    let straight = given_score.1 + family_score.1;
    if given_score.0 == Level::Exact || given_score.0 == Level::Equivalent {
        return (given_score, family_score);
    }
    // Swapped columns: the two cross pairs (left given ↔ right family, left
    // family ↔ right given), either of which may hold the given names.
    // The surname found in the given column may be the other record's former
    // or maiden name (Ирина Кравчук, formerly Семёнова = SEMENOVA Iryna).
    let or_other_name = |score: (Level, f64), given_words: &[Token], aliases: &[Token]| {
        if !matches!(score.0, Level::Exact | Level::Close) && intersects(given_words, aliases) {
            (Level::OtherName, family::OTHER_NAME.weight())
        } else {
            score
        }
    };
    // Whichever pair is judged as family names, two names that the tables
    // know as different given names (Олександр / Oleksij in the surname
    // column of a swapped record: twins) do not agree.
    let unless_known_different = |score: (Level, f64), one: &[Token], other: &[Token]| {
        if !one.is_empty() && !other.is_empty() && !intersects(one, other) {
            (Level::Different, family::DIFFERENT.weight())
        } else {
            score
        }
    };
    let right_swapped = (
        compare_given(left_given, right_family, frequencies),
        or_other_name(
            unless_known_different(
                compare_family(left_family, right_given, frequencies),
                left.slot(Slot::FamilyClass),
                right.slot(Slot::GivenClass),
            ),
            right.slot(Slot::GivenWhole),
            left.slot(Slot::AliasWhole),
        ),
    );
    let left_swapped = (
        compare_given(left_family, right_given, frequencies),
        or_other_name(
            unless_known_different(
                compare_family(left_given, right_family, frequencies),
                left.slot(Slot::GivenClass),
                right.slot(Slot::FamilyClass),
            ),
            left.slot(Slot::GivenWhole),
            right.slot(Slot::AliasWhole),
        ),
    );
    let (swapped_given, swapped_family) =
        if right_swapped.0.1 + right_swapped.1.1 >= left_swapped.0.1 + left_swapped.1.1 {
            right_swapped
        } else {
            left_swapped
        };
    let swapped = swapped_given.1 + swapped_family.1 - SWAP_PENALTY;
    let strong =
        |level: Level| matches!(level, Level::Exact | Level::Equivalent | Level::OtherName);
    let fair = |level: Level| {
        matches!(
            level,
            Level::Exact | Level::Equivalent | Level::Close | Level::SoundsAlike | Level::Similar
        )
    };
    let swapped_agrees = (strong(swapped_given.0) && fair(swapped_family.0))
        || (fair(swapped_given.0) && strong(swapped_family.0));
    if swapped_agrees && swapped > straight {
        return (
            (Level::SwappedColumns, swapped_given.1 - SWAP_PENALTY),
            (Level::SwappedColumns, swapped_family.1),
        );
    }
    (given_score, family_score)
}

impl MatchModel {
    /// Scores a pair of token records.
    pub fn score(
        &self,
        left: &TokenRecord,
        right: &TokenRecord,
        frequencies: &dyn TermFrequencies,
    ) -> MatchScore {
        let (given_score, family_score) = compare_names(left, right, frequencies);
        let comparisons = [
            (Field::GivenName, given_score),
            (Field::FamilyName, family_score),
            (
                Field::Patronymic,
                compare_patronymic(left, right, frequencies),
            ),
            (Field::BirthDate, compare_birth_date(left, right)),
            (Field::BirthPlace, compare_place(left, right, frequencies)),
            (Field::Document, compare_documents(left, right)),
            (Field::Sex, compare_sex(left, right)),
        ];
        let mut log2_odds = self.prior_log2_odds;
        let mut fields = Vec::with_capacity(comparisons.len());
        for (field, (level, weight)) in comparisons {
            log2_odds += weight;
            fields.push(FieldScore {
                field,
                level,
                weight,
            });
        }
        let document_agrees = fields
            .iter()
            .any(|f| f.field == Field::Document && f.level == Level::Exact);
        if given_score.0 == Level::Different && !document_agrees {
            log2_odds = log2_odds.min(DIFFERENT_GIVEN_NAME_CAP);
        }
        let probability = 1.0 / (1.0 + (-log2_odds).exp2());
        MatchScore {
            probability,
            band: self.band(probability),
            fields,
        }
    }

    /// The band of a probability.
    pub fn band(&self, probability: f64) -> Band {
        if probability >= self.strong_threshold {
            Band::Strong
        } else if probability >= self.possible_threshold {
            Band::Possible
        } else {
            Band::Weak
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Tokenizer;
    use crate::record::{BirthDate, Record, Sex};
    use poshuk_keys::{Epoch, KeyRing};

    fn tokenizer() -> Tokenizer {
        let ring = KeyRing::with_key([5; 32]);
        Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
    }

    /// (given, family, patronymic, date, place, other names, sex)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        Sex,
    );

    fn record(row: Row<'_>) -> Record {
        let (given, family, patronymic, date, place, other, sex) = row;
        Record {
            record_id: "x".into(),
            given_name: given.into(),
            family_name: family.into(),
            patronymic: patronymic.into(),
            other_names: other.iter().map(|s| s.to_string()).collect(),
            sex,
            birth_date: BirthDate::parse(date).ok(),
            birth_place: place.into(),
            document_ids: Vec::new(),
        }
    }

    fn score(left: Row<'_>, right: Row<'_>) -> MatchScore {
        let tokenizer = tokenizer();
        MatchModel::default().score(
            &tokenizer.tokenize(&record(left)),
            &tokenizer.tokenize(&record(right)),
            &NoTermFrequencies,
        )
    }

    const M: Sex = Sex::Male;
    const F: Sex = Sex::Female;

    #[test]
    fn one_person_across_scripts_is_strong() {
        let cases: &[(Row<'_>, Row<'_>)] = &[
            (
                (
                    "Олександр",
                    "Коваленко",
                    "Миколайович",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    M,
                ),
                (
                    "Александр",
                    "Коваленко",
                    "Николаевич",
                    "07.03.2011",
                    "г. Мариуполь",
                    &[],
                    M,
                ),
            ),
            (
                (
                    "Олександр",
                    "Коваленко",
                    "Миколайович",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    M,
                ),
                (
                    "Oleksandr",
                    "Kovalenko",
                    "",
                    "07/03/2011",
                    "Mariupol",
                    &[],
                    M,
                ),
            ),
            (
                ("Ірина", "Ковальська", "Петрівна", "2012-05-01", "", &[], F),
                ("Ирина", "Ковальская", "Петровна", "2012-01-05", "", &[], F),
            ),
            (
                (
                    "Василий",
                    "Михайленко",
                    "Онуфриевич",
                    "1987-12-01",
                    "",
                    &[],
                    M,
                ),
                ("Mihajlenko", "Vasilij", "", "1987-12-01", "", &[], M),
            ),
            (
                (
                    "Євгенія",
                    "Приходько",
                    "Віталіївна",
                    "2015-08-05",
                    "",
                    &[],
                    F,
                ),
                ("PRIHODKO", "ÊVGENIA", "Vitaliivna", "2015-08", "", &[], F),
            ),
            (
                (
                    "Дарина",
                    "Мельник",
                    "Андріївна",
                    "2014-02-11",
                    "Херсон",
                    &[],
                    F,
                ),
                (
                    "Дарья",
                    "Смирнова",
                    "Андреевна",
                    "2014-02-11",
                    "Херсон",
                    &["Мельник"],
                    F,
                ),
            ),
        ];
        for (left, right) in cases {
            let scored = score(*left, *right);
            assert_eq!(
                scored.band,
                Band::Strong,
                "{:?} / {:?}: {}",
                left.0,
                right.0,
                scored.explain()
            );
        }
    }

    #[test]
    fn twins_and_siblings_are_never_strong() {
        let cases: &[(Row<'_>, Row<'_>)] = &[
            (
                (
                    "Олександр",
                    "Коваленко",
                    "Миколайович",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    M,
                ),
                (
                    "Андрій",
                    "Коваленко",
                    "Миколайович",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    M,
                ),
            ),
            (
                (
                    "Олександр",
                    "Коваленко",
                    "Миколайович",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    M,
                ),
                (
                    "Олександра",
                    "Коваленко",
                    "Миколаївна",
                    "2011-03-07",
                    "Маріуполь",
                    &[],
                    F,
                ),
            ),
            (
                (
                    "Ірина",
                    "Захарченко",
                    "Валентинівна",
                    "2011-06-10",
                    "",
                    &[],
                    F,
                ),
                ("Zakharchenko", "Olga", "", "2011-06-10", "", &[], F),
            ),
            // A swapped record of a twin with a similar name.
            (
                (
                    "Олександр",
                    "Мазуренко",
                    "Андрійович",
                    "1968-07-25",
                    "Шепетівка",
                    &[],
                    M,
                ),
                (
                    "Masurenko",
                    "Oleksij",
                    "",
                    "1968-07-25",
                    "Shepetivka",
                    &[],
                    M,
                ),
            ),
            (
                (
                    "Юлія",
                    "Сербин",
                    "Юліївна",
                    "2008-02-16",
                    "Запоріжжя",
                    &[],
                    F,
                ),
                ("Serbin", "Olya", "Juljewna", "2008-02-16", "", &[], F),
            ),
            (
                ("Іван", "Бондар", "Петрович", "2009-01-01", "Херсон", &[], M),
                (
                    "Іванна",
                    "Бондар",
                    "Петрівна",
                    "2012-06-01",
                    "Херсон",
                    &[],
                    F,
                ),
            ),
        ];
        for (left, right) in cases {
            let scored = score(*left, *right);
            assert!(
                scored.band < Band::Possible,
                "{:?} / {:?}: {} {}",
                left.0,
                right.0,
                scored.probability,
                scored.explain()
            );
        }
    }

    /// Spellings of other systems (German, French, Croatian, ISO 9) and a
    /// swapped record under a former surname: found (they share a blocking
    /// key) and scored at least possible.
    #[test]
    fn other_spelling_systems_and_former_names_in_swapped_columns_match() {
        let cases: &[(Row<'_>, Row<'_>)] = &[
            (
                ("Жанна", "Зінченко", "", "1953-01-10", "", &[], F),
                ("Schanna", "Sintschenko", "", "1953-01-10", "", &[], F),
            ),
            (
                ("Володимир", "Шевченко", "", "2000", "Мерефа", &[], M),
                ("Volodymyr", "Chevtchenko", "", "", "Merefa", &[], M),
            ),
            (
                ("Наталія", "Харченко", "Сергіївна", "1937-12-04", "", &[], F),
                ("Natalija", "Chartschenko", "", "1937", "", &[], F),
            ),
            (
                (
                    "Агнія",
                    "Тищенко",
                    "Олександрівна",
                    "2015-10-21",
                    "",
                    &[],
                    F,
                ),
                ("Agnia", "Tiŝenko", "Oleksandrivna", "2015-10", "", &[], F),
            ),
            (
                ("Михайло", "Харченко", "", "2015-03-04", "", &[], M),
                ("Mihajlo", "Harčenko", "", "2015-03-04", "", &[], M),
            ),
            (
                (
                    "Александр",
                    "Ковалёв",
                    "Дмитриевич",
                    "1995",
                    "Гуляйполе",
                    &[],
                    M,
                ),
                (
                    "Oleksandr",
                    "Kovalov",
                    "",
                    "1995-08-06",
                    "Guljajpole",
                    &[],
                    M,
                ),
            ),
            (
                (
                    "Ольга",
                    "Шумська",
                    "Тарасівна",
                    "2012-02-10",
                    "Бахмут",
                    &[],
                    F,
                ),
                ("Choumskaia", "Olga", "", "2012", "Bachmut", &[], F),
            ),
            (
                (
                    "Ірина",
                    "Кравчук",
                    "Романівна",
                    "2017-02-20",
                    "Харків",
                    &["Семенова"],
                    F,
                ),
                (
                    "Semenova",
                    "Iryna",
                    "Romanivna",
                    "2017-02-20",
                    "Kharkiv",
                    &[],
                    F,
                ),
            ),
        ];
        let tokenizer = tokenizer();
        for (left, right) in cases {
            let (left_tokens, right_tokens) = (
                tokenizer.tokenize(&record(*left)),
                tokenizer.tokenize(&record(*right)),
            );
            let left_keys = crate::blocking::blocking_keys(&left_tokens);
            assert!(
                crate::blocking::blocking_keys(&right_tokens)
                    .iter()
                    .any(|key| left_keys.contains(key)),
                "{:?} / {:?} share no blocking key",
                left.1,
                right.1
            );
            let scored = score(*left, *right);
            assert!(
                scored.band >= Band::Possible,
                "{:?} / {:?}: {} {}",
                left.1,
                right.1,
                scored.probability,
                scored.explain()
            );
        }
    }

    /// Other readings apply only to words spelled that way: plain
    /// national-system spellings keep their own surname.
    #[test]
    fn other_readings_do_not_merge_different_surnames() {
        let tokenizer = tokenizer();
        for (latin, other) in [
            ("Homenko", "Хоменко"),
            ("Holod", "Холод"),
            ("Kosenko", "Козенко"),
            ("Lysenko", "Лизенко"),
            ("Chumak", "Шумак"),
            ("Chumak", "Хумак"),
        ] {
            let family = |name: &str| {
                tokenizer
                    .tokenize(&record(("Іван", name, "", "", "", &[], M)))
                    .slot(Slot::FamilyWhole)
                    .to_vec()
            };
            assert!(
                !intersects(&family(latin), &family(other)),
                "{latin} and {other} share a surname token"
            );
        }
    }

    #[test]
    fn explanation_reads_as_words() {
        let scored = score(
            (
                "Олександр",
                "Коваленко",
                "Миколайович",
                "2011-03-07",
                "",
                &[],
                M,
            ),
            (
                "Александр",
                "Коваленко",
                "Николаевич",
                "2011-07-03",
                "",
                &[],
                M,
            ),
        );
        assert_eq!(
            scored.explain(),
            "given name: equivalent form; family name: same; patronymic: equivalent form; birth date: day and month swapped; sex: same"
        );
        assert!((0.0..=1.0).contains(&scored.probability));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::features::Tokenizer;
    use crate::record::{BirthDate, Record, Sex};
    use poshuk_keys::{Epoch, KeyRing};

    fn tokenizer() -> Tokenizer {
        let ring = KeyRing::with_key([8; 32]);
        Tokenizer::new(ring.hasher(Epoch(1)).expect("hasher"))
    }

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "Олександр",
            "Александр",
            "Oleksandr",
            "Sasha",
            "Коваленко",
            "Kovalenko",
            "Ковальська",
            "Ivan",
            "Іванна",
            "",
            "Мар'ян",
            "ЩЕРБАК",
            "Ilya",
            "Ю",
            "x-y z",
        ])
        .prop_map(str::to_string)
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            name(),
            name(),
            name(),
            prop::collection::vec(name(), 0..2),
            prop::sample::select(vec![Sex::Male, Sex::Female, Sex::Unknown]),
            prop::option::of((1990u32..1993, prop::option::of(1u32..13), 1u32..29)),
            prop::sample::select(vec!["", "Маріуполь", "Mariupol", "Kyiv"]),
            prop::collection::vec(
                prop::sample::select(vec!["КВ 123456", "KB123456", "1-БК 777777"]),
                0..2,
            ),
        )
            .prop_map(
                |(given, family, patronymic, other, sex, date, place, documents)| Record {
                    record_id: "p".into(),
                    given_name: given,
                    family_name: family,
                    patronymic,
                    other_names: other,
                    sex,
                    birth_date: date
                        .and_then(|(y, m, d)| BirthDate::from_parts(y, m, m.map(|_| d)).ok()),
                    birth_place: place.into(),
                    document_ids: documents.into_iter().map(str::to_string).collect(),
                },
            )
    }

    proptest! {
        #[test]
        fn scores_are_probabilities_and_symmetric(left in record(), right in record()) {
            let tokenizer = tokenizer();
            let (a, b) = (tokenizer.tokenize(&left), tokenizer.tokenize(&right));
            let model = MatchModel::default();
            let forward = model.score(&a, &b, &NoTermFrequencies);
            let backward = model.score(&b, &a, &NoTermFrequencies);
            prop_assert!((0.0..=1.0).contains(&forward.probability));
            prop_assert!((forward.probability - backward.probability).abs() < 1e-9);
        }

        #[test]
        fn a_record_matches_itself_at_least_as_well_as_anything(left in record(), right in record()) {
            let tokenizer = tokenizer();
            let (a, b) = (tokenizer.tokenize(&left), tokenizer.tokenize(&right));
            let model = MatchModel::default();
            let with_itself = model.score(&a, &a, &NoTermFrequencies).probability;
            let with_other = model.score(&a, &b, &NoTermFrequencies).probability;
            prop_assert!(with_itself + 1e-9 >= with_other, "{} < {}", with_itself, with_other);
        }

        #[test]
        fn tokenizing_arbitrary_text_never_panics(given in ".{0,40}", family in ".{0,40}", date in ".{0,12}", place in ".{0,30}") {
            let record = Record {
                record_id: "z".into(),
                given_name: given,
                family_name: family,
                birth_date: BirthDate::parse(&date).ok(),
                birth_place: place,
                ..Record::default()
            };
            let _ = tokenizer().tokenize(&record);
        }
    }
}
