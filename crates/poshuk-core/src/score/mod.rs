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

use poshuk_tokens::{Slot, Token, TokenRecord};

mod compare;
mod weights;

use compare::{
    compare_birth_date, compare_documents, compare_names, compare_patronymic, compare_place,
};
use weights::{
    BIRTH_YEARS, DATELESS_NAMESAKE_RISK, DIFFERENT_GIVEN_NAME_CAP, NAMESAKE_RISK,
    UNCONFIRMED_DATE_CAP, UNKNOWN_GIVEN_NAME_CAP,
};

/// How well one field agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The same value.
    Exact,
    /// Equivalent forms of one name (Олександр / Alexander / Sasha).
    Equivalent,
    /// Within one edit: one letter added, dropped, changed, or two exchanged.
    Close,
    /// The family name agrees with a former, adoptive or other name.
    OtherName,
    /// Given and family names agree once their columns are exchanged.
    SwappedColumns,
    /// The date agrees with day and month exchanged.
    DayMonthSwapped,
    /// Only the year agrees.
    Year,
    /// The years differ, day and month agree.
    OtherYear,
    /// Day and month agree; the years cannot be compared (no name meets, and
    /// dates are stored only together with the names).
    DayMonth,
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
            Level::Close => "one letter apart",
            Level::OtherName => "matches a former or other name",
            Level::SwappedColumns => "same, in swapped columns",
            Level::DayMonthSwapped => "day and month swapped",
            Level::Year => "same year",
            Level::OtherYear => "same day and month, other year",
            Level::DayMonth => "same day and month",
            Level::NumberOnly => "same number, different series",
            Level::Different => "different",
            Level::Missing => "missing",
        }
    }

    /// Its name on the wire (`exact`, `equivalent`, ...): the page and the
    /// command line put it in words in the reader's language.
    pub fn name(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Equivalent => "equivalent",
            Level::Close => "close",
            Level::OtherName => "other_name",
            Level::SwappedColumns => "swapped_columns",
            Level::DayMonthSwapped => "day_month_swapped",
            Level::Year => "year",
            Level::OtherYear => "other_year",
            Level::DayMonth => "day_month",
            Level::NumberOnly => "number_only",
            Level::Different => "different",
            Level::Missing => "missing",
        }
    }

    /// From its wire name ([`Level::name`]).
    pub fn from_name(name: &str) -> Option<Level> {
        [
            Level::Exact,
            Level::Equivalent,
            Level::Close,
            Level::OtherName,
            Level::SwappedColumns,
            Level::DayMonthSwapped,
            Level::Year,
            Level::OtherYear,
            Level::DayMonth,
            Level::NumberOnly,
            Level::Different,
            Level::Missing,
        ]
        .into_iter()
        .find(|level| level.name() == name)
    }

    /// Whether the level counts as agreement (for "which fields agreed").
    pub fn agrees(self) -> bool {
        !matches!(self, Level::Different | Level::Missing)
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
        }
    }

    /// From its machine name ([`Field::name`]).
    pub fn from_name(name: &str) -> Option<Field> {
        [
            Field::GivenName,
            Field::FamilyName,
            Field::Patronymic,
            Field::BirthDate,
            Field::BirthPlace,
            Field::Document,
        ]
        .into_iter()
        .find(|field| field.name() == name)
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
    /// Not the person, but likely of the person's family: a brother or
    /// sister (same family name and patronymic, born in the same place),
    /// or a twin (same family name and birth date), with another given
    /// name. A lead for a family, never the person.
    Relative,
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
            Band::Relative => "relative",
            Band::Possible => "possible",
            Band::Strong => "strong",
        }
    }

    /// Parses a band name.
    pub fn parse(text: &str) -> Option<Band> {
        match text.trim().to_ascii_lowercase().as_str() {
            "weak" => Some(Band::Weak),
            "relative" => Some(Band::Relative),
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
        explain(self.fields.iter().map(|field| (field.field, field.level)))
    }

    /// The evidence the fields gave, in bits, before any cap: what orders
    /// two hits of one probability (two namesakes held at 0.5, one whose
    /// birth place agrees) so that the better-supported comes first.
    pub fn evidence(&self) -> f64 {
        self.fields.iter().map(|field| field.weight).sum()
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

/// The level a field was compared at; missing where it was not compared.
fn level_in(fields: &[FieldScore], wanted: Field) -> Level {
    fields
        .iter()
        .find(|field| field.field == wanted)
        .map_or(Level::Missing, |field| field.level)
}

/// Whether a pair is two people of one family: given names the tables
/// know as different names, one family name, and either the same full birth
/// date (twins) or the same patronymic and birth place (brothers and
/// sisters). Such a pair is never the person (its probability stays below
/// the possible band) but is shown as a relative.
fn is_relative(fields: &[FieldScore], left: &TokenRecord, right: &TokenRecord) -> bool {
    let level = |wanted: Field| level_in(fields, wanted);
    let known_names =
        !left.slot(Slot::GivenClass).is_empty() && !right.slot(Slot::GivenClass).is_empty();
    let same = |level: Level| matches!(level, Level::Exact | Level::Equivalent);
    if !(known_names
        && level(Field::GivenName) == Level::Different
        && same(level(Field::FamilyName))
        && level(Field::Document) != Level::Exact)
    {
        return false;
    }
    let twins = level(Field::BirthDate) == Level::Exact;
    let siblings = same(level(Field::Patronymic)) && same(level(Field::BirthPlace));
    twins || siblings
}

/// Fields and their levels in words, "given name: equivalent form; birth
/// date: day and month swapped; ...", leaving out fields one side lacks: one
/// wording for `link --explain`, `search` and the API's hits.
pub fn explain(fields: impl IntoIterator<Item = (Field, Level)>) -> String {
    fields
        .into_iter()
        .filter(|(_, level)| *level != Level::Missing)
        .map(|(field, level)| format!("{}: {}", field.describe(), level.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a pair rests on a name and a year alone: the years agree (and
/// nothing more of the dates), and no patronymic, place or document agrees.
fn rests_on_name_and_year(fields: &[FieldScore]) -> bool {
    let level_of = |wanted: Field| level_in(fields, wanted);
    level_of(Field::BirthDate) == Level::Year
        && !matches!(
            level_of(Field::Patronymic),
            Level::Exact | Level::Equivalent
        )
        && !matches!(
            level_of(Field::BirthPlace),
            Level::Exact | Level::Equivalent
        )
        && level_of(Field::Document) != Level::Exact
}

/// The share of searches whose person a partner's list holds, before any
/// field is compared: as likely as not. A name that `n` people of the list
/// carry is then the person's with odds of this share to `n`.
const IN_LIST_SHARE: f64 = 0.5;

/// The log-odds of a record resting on a name that `namesakes` people of
/// the list are expected to carry: the odds of [`IN_LIST_SHARE`] to them,
/// below even odds where more than half a person is expected (one of
/// fourteen namesakes is the person about one time in thirty, and the
/// probability shown says so). Such a pair stays in the possible band
/// where nothing disagrees (`held_as_lead`): the searcher sees it, with
/// "one of 14" beside it. Callers subtract what disagrees
/// ([`disagreement`]).
fn namesake_cap(namesakes: f64) -> f64 {
    (IN_LIST_SHARE / namesakes.max(f64::MIN_POSITIVE)).log2()
}

/// Whether a pair held by [`namesake_cap`] stays a lead: it would have
/// been possible or strong without the cap (`before`, in log-odds, at or
/// above the possible threshold's `possible_log2_odds`) and nothing
/// disagrees. A namesake's record is a lead for the searcher however many
/// share the name; only a place or a father that differs, or a weaker
/// name, puts it below.
fn held_as_lead(before: f64, possible_log2_odds: f64, against: f64) -> bool {
    before >= possible_log2_odds && against == 0.0
}

/// The least probability at which a pair that nothing rules out is shown
/// ([`is_lead`]): below one in ten, a lead is noise.
const LEAD_FLOOR: f64 = 0.1;

/// Whether a pair is a lead for the searcher however low its probability:
/// both names agree (the given name the same, another form or a letter
/// apart; the family name the same, another form, or a former surname),
/// the dates confirm it or one side has none at all (not: dates that could
/// not be compared), and no field disagrees (a birth place elsewhere, any
/// other father's name, another document). A record kept without a birth
/// date, or a common name whose year many share, cannot be told from the
/// person by what the two records hold: it is shown as possible, with the
/// probability it has (and "one of N" beside it), never dropped as weak.
/// A family name only a letter apart, or names met only in swapped
/// columns, are no lead on their own: of such pairs below even odds, one in
/// fifteen was the person, and none of eighteen (`bench search`).
fn is_lead(
    fields: &[FieldScore],
    left: &TokenRecord,
    right: &TokenRecord,
    date_confirms: bool,
) -> bool {
    let level_of = |wanted: Field| level_in(fields, wanted);
    let given = matches!(
        level_of(Field::GivenName),
        Level::Exact | Level::Equivalent | Level::Close
    );
    let family = matches!(
        level_of(Field::FamilyName),
        Level::Exact | Level::Equivalent | Level::OtherName
    );
    let dated = |record: &TokenRecord| {
        !record.slot(Slot::FamilyYear).is_empty() || !record.slot(Slot::DateDayMonth).is_empty()
    };
    let one_side_undated = dated(left) != dated(right);
    given
        && family
        && (date_confirms || (level_of(Field::BirthDate) == Level::Missing && one_side_undated))
        && fields.iter().all(|field| field.level != Level::Different)
}

/// What disagrees, in log-odds, below the cap a pair that its evidence
/// cannot confirm is held at. The cap bounds what the agreeing fields can
/// show; a field that disagrees still counts against the pair. A namesake
/// born elsewhere, or whose father had another name, is less likely the
/// person than one of whom nothing more is known. The patronymics count
/// only where the tables know both and no full date confirms the pair
/// (`fathers_known`): a typo in a father's name is not another father, and a
/// child's father's name may change on adoption.
fn disagreement(fields: &[FieldScore], fathers_known: bool) -> f64 {
    fields
        .iter()
        .filter(|field| {
            field.level == Level::Different
                && match field.field {
                    Field::BirthPlace => true,
                    Field::Patronymic => fathers_known,
                    _ => false,
                }
        })
        .map(|field| field.weight)
        .sum()
}

/// Whether a pair rests on a name alone, or with a year: the years agree
/// (one side has only a year) or one side has no date, and no patronymic,
/// place or document agrees.
fn rests_on_name(fields: &[FieldScore]) -> bool {
    rests_on_name_and_year(fields)
        || (fields
            .iter()
            .all(|field| field.field != Field::BirthDate || field.level == Level::Missing)
            && !fields.iter().any(|field| {
                matches!(
                    field.field,
                    Field::Patronymic | Field::BirthPlace | Field::Document
                ) && matches!(field.level, Level::Exact | Level::Equivalent)
            }))
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

    /// How many records the frequencies were counted over, if known.
    fn population(&self) -> Option<f64> {
        None
    }
}

/// No term-frequency adjustment.
pub struct NoTermFrequencies;

impl TermFrequencies for NoTermFrequencies {
    fn frequency(&self, _token: Token) -> Option<f64> {
        None
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

impl MatchModel {
    /// Scores a pair of stored token records (two lists linked offline).
    pub fn score(
        &self,
        left: &TokenRecord,
        right: &TokenRecord,
        frequencies: &dyn TermFrequencies,
    ) -> MatchScore {
        self.score_sides(left, right, frequencies, false)
    }

    /// Scores a searcher's query against a record a node holds. A query
    /// keys its date with more than its family column (the surname in its
    /// given-name column, other names, other forms), so some comparisons
    /// read the query's tokens as a query's.
    pub fn score_query(
        &self,
        query: &TokenRecord,
        held: &TokenRecord,
        frequencies: &dyn TermFrequencies,
    ) -> MatchScore {
        self.score_sides(query, held, frequencies, true)
    }

    fn score_sides(
        &self,
        left: &TokenRecord,
        right: &TokenRecord,
        frequencies: &dyn TermFrequencies,
        left_is_query: bool,
    ) -> MatchScore {
        let (given_score, family_score) = compare_names(left, right, frequencies);
        let comparisons = [
            (Field::GivenName, given_score),
            (Field::FamilyName, family_score),
            (
                Field::Patronymic,
                compare_patronymic(left, right, frequencies),
            ),
            (
                Field::BirthDate,
                compare_birth_date(left, right, left_is_query),
            ),
            (Field::BirthPlace, compare_place(left, right, frequencies)),
            (Field::Document, compare_documents(left, right)),
        ];
        let mut log2_odds = self.prior_log2_odds;
        // Where a cap by namesakes held a pair that stays a lead: the
        // log-odds it was held at (a later cap going lower ends it).
        let mut lead_at: Option<f64> = None;
        let possible_log2_odds = (self.possible_threshold / (1.0 - self.possible_threshold)).log2();
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
            // Two names the tables know as different names (Олександр /
            // Олександра, a twin's Іван / Андрій) keep the pair below the
            // possible band. When a side's spelling is not in the tables it
            // may be the same name with more than one typo (FEBRL's
            // "mitchell" / "mithcelp"), or a brother's name in a spelling the
            // tables lack: the pair stays below the strong band.
            let (l, r) = (left.slot(Slot::GivenClass), right.slot(Slot::GivenClass));
            let cap = if !l.is_empty() && !r.is_empty() {
                DIFFERENT_GIVEN_NAME_CAP
            } else {
                UNKNOWN_GIVEN_NAME_CAP
            };
            log2_odds = log2_odds.min(cap);
        }
        // The person, and not a namesake, only where the dates say so and
        // the fathers do not differ: a pair whose birth dates disagree
        // (another year, the same day of another year) or cannot be
        // compared (one side has none), or whose patronymics name other
        // fathers, stays below strong however rare the name, unless a
        // document agrees. A searcher's year typed wrong still shows as
        // possible.
        let level_of = |wanted: Field| level_in(&fields, wanted);
        // The same year confirms a pair where one side knows no more than
        // the year; where both know the day, the same year on another day
        // is what a namesake of that year has.
        let date_confirms = match level_of(Field::BirthDate) {
            Level::Exact | Level::DayMonthSwapped | Level::DayMonth => true,
            Level::Year => !(compare::has_full_date(left) && compare::has_full_date(right)),
            _ => false,
        };
        let other_father = level_of(Field::Patronymic) == Level::Different;
        // A record kept without a birth date (a child's age unknown, a
        // form left blank) is not a record of another year: where the names
        // agree, no place disagrees, and the name, with the father's name
        // and the place where they agree, is one that almost no one else of
        // the list carries, the missing date does not hold the pair back.
        let dateless_namesakes = (level_of(Field::BirthDate) == Level::Missing
            && matches!(level_of(Field::GivenName), Level::Exact | Level::Equivalent)
            && level_of(Field::FamilyName) == Level::Exact)
            .then(|| self.expected_namesakes(left, right, frequencies, &level_of))
            .flatten();
        let dateless_but_rare = level_of(Field::BirthPlace) != Level::Different
            && dateless_namesakes.is_some_and(|namesakes| namesakes <= DATELESS_NAMESAKE_RISK);
        // Another father counts against a pair only where no full date
        // confirms it: with the same birthday, a father's name changed on
        // adoption is the same child.
        let fathers_known = !matches!(
            level_of(Field::BirthDate),
            Level::Exact | Level::DayMonthSwapped | Level::DayMonth
        ) && !left.slot(Slot::PatronymicClass).is_empty()
            && !right.slot(Slot::PatronymicClass).is_empty();
        let against = disagreement(&fields, fathers_known);
        if ((!date_confirms && !dateless_but_rare) || other_father) && !document_agrees {
            // Without a date, the name alone says who: the record is one of
            // the people of the list expected to carry it.
            let cap = match dateless_namesakes {
                Some(namesakes) => UNCONFIRMED_DATE_CAP.min(namesake_cap(namesakes)),
                None => UNCONFIRMED_DATE_CAP,
            };
            if dateless_namesakes.is_some() && held_as_lead(log2_odds, possible_log2_odds, against)
            {
                lead_at = Some(cap + against);
            }
            log2_odds = log2_odds.min(cap + against);
        }
        if level_of(Field::BirthDate) == Level::Different && !document_agrees {
            log2_odds = log2_odds.min(weights::DIFFERENT_DATE_CAP);
        }
        // Two full dates of one year on other days: a namesake of that year
        // far more often than a day typed wrong (of such pairs shown at
        // 0.5–0.9, none of 19 was the person, `bench search`). As likely as
        // not at best: still shown, never above the even odds a searcher
        // reads as "maybe".
        if level_of(Field::BirthDate) == Level::Year
            && compare::has_full_date(left)
            && compare::has_full_date(right)
            && !document_agrees
        {
            log2_odds = log2_odds.min(weights::SAME_YEAR_OTHER_DAY_CAP);
        }
        // A name and a year alone, the birth places differing: a namesake
        // of that year born elsewhere far more often than the person's place
        // written otherwise (of such pairs shown at 0.5 or more, none of 22
        // was the person, 7 of them strong, `bench search`, four seeds). As
        // likely as not at best: still shown, a place written otherwise
        // stays visible, never strong.
        if level_of(Field::BirthPlace) == Level::Different
            && rests_on_name_and_year(&fields)
            && !document_agrees
        {
            log2_odds = log2_odds.min(weights::OTHER_PLACE_CAP);
        }
        // A name and a year alone, however well they agree, name a person
        // only where few others share them: the namesakes expected among as
        // many people as the list holds, born in one of some seventy years.
        let only_name_and_year = rests_on_name_and_year(&fields);
        if only_name_and_year {
            // The frequencies of the values that met: in swapped columns,
            // of whichever crossing met as surname and as given name (a
            // given name the tables do not know, by its skeleton); a
            // family name met in another form, as the list keeps it (the
            // most common form either record carries).
            let shared =
                |one: &[Token], other: &[Token]| compare::shared_frequency(one, other, frequencies);
            let (l, r) = (left, right);
            let (family, given) = if level_of(Field::FamilyName) == Level::SwappedColumns {
                [
                    (
                        shared(l.slot(Slot::FamilyWhole), r.slot(Slot::GivenWhole)),
                        shared(l.slot(Slot::GivenClass), r.slot(Slot::FamilyClass)).or_else(|| {
                            shared(l.slot(Slot::GivenWhole), r.slot(Slot::FamilyWhole))
                        }),
                    ),
                    (
                        shared(l.slot(Slot::GivenWhole), r.slot(Slot::FamilyWhole)),
                        shared(l.slot(Slot::FamilyClass), r.slot(Slot::GivenClass)).or_else(|| {
                            shared(l.slot(Slot::FamilyWhole), r.slot(Slot::GivenWhole))
                        }),
                    ),
                ]
                .into_iter()
                .filter_map(|(family, given)| Some((family?, given?)))
                .max_by(|a, b| (a.0 * a.1).total_cmp(&(b.0 * b.1)))
                .map_or((None, None), |(family, given)| (Some(family), Some(given)))
            } else {
                (
                    shared(l.slot(Slot::FamilyWhole), r.slot(Slot::FamilyWhole)).or_else(|| {
                        compare::known_frequency(
                            l.slot(Slot::FamilyWhole),
                            r.slot(Slot::FamilyWhole),
                            frequencies,
                        )
                    }),
                    shared(l.slot(Slot::GivenClass), r.slot(Slot::GivenClass))
                        .or_else(|| shared(l.slot(Slot::GivenWhole), r.slot(Slot::GivenWhole)))
                        // A given name one letter apart: the known name's
                        // (of the side whose name the tables know), else
                        // the name met.
                        .or_else(|| {
                            compare::known_frequency(
                                l.slot(Slot::GivenClass),
                                r.slot(Slot::GivenClass),
                                frequencies,
                            )
                        })
                        .or_else(|| shared(l.slot(Slot::GivenVariant), r.slot(Slot::GivenWhole)))
                        .or_else(|| shared(l.slot(Slot::GivenWhole), r.slot(Slot::GivenVariant))),
                )
            };
            // The family name's others of the same year, where the list
            // counts them (its year tokens are kept with the family name):
            // a list of children born in a few years holds more namesakes
            // of a year than an even spread over seventy would.
            let family_year_others = frequencies.population().and_then(|people| {
                let share = shared(l.slot(Slot::FamilyYear), r.slot(Slot::FamilyYear))?;
                Some((share * people - 1.0).max(0.0))
            });
            if let (Some(people), Some(family), Some(given)) =
                (frequencies.population(), family, given)
            {
                let spread = people * family / BIRTH_YEARS;
                let namesakes = spread.max(family_year_others.unwrap_or(0.0)) * given;
                if namesakes > NAMESAKE_RISK {
                    let cap = UNCONFIRMED_DATE_CAP.min(namesake_cap(namesakes)) + against;
                    if held_as_lead(log2_odds, possible_log2_odds, against) {
                        lead_at = Some(cap);
                    }
                    log2_odds = log2_odds.min(cap);
                }
            }
        }
        let probability = 1.0 / (1.0 + (-log2_odds).exp2());
        let band = if is_relative(&fields, left, right) {
            Band::Relative
        } else if lead_at.is_some_and(|at| log2_odds >= at)
            || (probability >= LEAD_FLOOR && is_lead(&fields, left, right, date_confirms))
        {
            self.band(probability).max(Band::Possible)
        } else {
            self.band(probability)
        };
        MatchScore {
            probability,
            band,
            fields,
        }
    }

    /// How many people of the list are expected to share what two records
    /// agree on of the name (family name and given name), with the father's
    /// name and the birth place where those agree too, whatever their birth
    /// year: unknown without the list's frequencies.
    fn expected_namesakes(
        &self,
        left: &TokenRecord,
        right: &TokenRecord,
        frequencies: &dyn TermFrequencies,
        level_of: &dyn Fn(Field) -> Level,
    ) -> Option<f64> {
        let shared =
            |slot: Slot| compare::shared_frequency(left.slot(slot), right.slot(slot), frequencies);
        let mut namesakes = frequencies.population()?
            * shared(Slot::FamilyWhole)?
            * shared(Slot::GivenClass).or_else(|| shared(Slot::GivenWhole))?;
        if matches!(
            level_of(Field::Patronymic),
            Level::Exact | Level::Equivalent
        ) {
            namesakes *= shared(Slot::PatronymicClass)
                .or_else(|| shared(Slot::PatronymicWhole))
                .unwrap_or(1.0);
        }
        if level_of(Field::BirthPlace) == Level::Exact {
            namesakes *= shared(Slot::PlaceClass)
                .or_else(|| shared(Slot::PlaceWhole))
                .unwrap_or(1.0);
        }
        Some(namesakes)
    }

    /// Holds a pair that rests on a name (and a year) alone at the odds of
    /// [`IN_LIST_SHARE`] to `namesakes` when that many records of the list
    /// (the record among them) share that name (and year): at most one of
    /// them is the person searched for. A strong pair becomes possible, with
    /// the probability of one of them (two: 0.2, three: 0.14), and stays
    /// shown unless a field disagrees.
    pub fn hold_counted_namesakes(&self, score: &mut MatchScore, namesakes: u64) {
        if namesakes >= 2
            && rests_on_name(&score.fields)
            && matches!(score.band, Band::Strong | Band::Possible)
        {
            // Fathers that differ held the pair lower already: only a birth
            // place can disagree here.
            let against = disagreement(&score.fields, false);
            let cap = UNCONFIRMED_DATE_CAP.min(namesake_cap(namesakes as f64)) + against;
            score.probability = score.probability.min(1.0 / (1.0 + (-cap).exp2()));
            score.band = if against == 0.0 {
                self.band(score.probability).max(Band::Possible)
            } else {
                self.band(score.probability)
            };
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
mod tests;

#[cfg(test)]
mod properties;
