//! Field comparisons: each returns the agreement level of one field and its
//! weight, from the two records' token sets.

use poshuk_tokens::{Slot, Token, TokenRecord, intersects};

use super::weights::*;
use super::{Level, TermFrequencies};

/// The tokens of one name, in the slots of one role.
#[derive(Clone, Copy)]
struct NameView<'a> {
    whole: &'a [Token],
    class: &'a [Token],
    variant: &'a [Token],
}

impl<'a> NameView<'a> {
    fn given(record: &'a TokenRecord) -> NameView<'a> {
        NameView {
            whole: record.slot(Slot::GivenWhole),
            class: record.slot(Slot::GivenClass),
            variant: record.slot(Slot::GivenVariant),
        }
    }

    fn family(record: &'a TokenRecord) -> NameView<'a> {
        NameView {
            whole: record.slot(Slot::FamilyWhole),
            class: record.slot(Slot::FamilyClass),
            variant: record.slot(Slot::FamilyVariant),
        }
    }

    fn is_empty(&self) -> bool {
        self.whole.is_empty()
    }

    /// Whether the two names are one edit apart: one side is a query whose
    /// variants hold the other's whole name, or the class of a known name
    /// one letter from a given name the tables do not know (Miokłaj meets
    /// Микола).
    #[inline]
    fn one_edit_from(&self, other: &NameView<'_>) -> bool {
        intersects(self.variant, other.whole)
            || intersects(self.whole, other.variant)
            || intersects(self.variant, other.class)
            || intersects(self.class, other.variant)
    }
}

/// The shared token of two sets with the highest frequency, for TF adjustment
/// (the least informative agreement is the honest one to report).
#[inline]
pub(super) fn shared_frequency(
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

/// The highest frequency known of either set's tokens: for a name met in
/// another form, the frequency of the form the list keeps (the query's own
/// form is usually not among the list's values).
#[inline]
pub(super) fn known_frequency(
    left: &[Token],
    right: &[Token],
    frequencies: &dyn TermFrequencies,
) -> Option<f64> {
    left.iter()
        .chain(right)
        .filter_map(|token| frequencies.frequency(*token))
        .reduce(f64::max)
}

#[inline]
fn compare_given(
    left: NameView<'_>,
    right: NameView<'_>,
    frequencies: &dyn TermFrequencies,
    crossed: bool,
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
    // Within one edit (a typo, a letter of another transliteration).
    if left.one_edit_from(&right) {
        // One side's name is in the tables and the other's, one letter
        // away, is not: a known name mistyped (Kladiya for Klavdiya,
        // Теяна for Тетяна), not one of the many known names a letter
        // apart (Олесь / Олеся, Іван / Іванна). It says as much as that
        // name written right, by how common the known name is (not the
        // misspelling, which one record alone may carry).
        // Only given name against given name: crossed with a family column,
        // a known name one letter from a surname (Петро / Петров) is the
        // surname, not a typo.
        if !crossed && left.class.is_empty() != right.class.is_empty() {
            let known = if left.class.is_empty() {
                right.class
            } else {
                left.class
            };
            let frequency = known_frequency(known, &[], frequencies);
            return (
                Level::Close,
                given::MISTYPED_KNOWN.weight_with_frequency(frequency),
            );
        }
        return (Level::Close, given::CLOSE.weight());
    }
    (Level::Different, given::DIFFERENT.weight())
}

#[inline]
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
    if left.one_edit_from(&right) {
        // u: how common the names are in the list, the more common of the
        // two, and never less than the level's own: a typo of Коваленко
        // meets many Коваленко, and a misspelling one record alone carries
        // (Павлиишн) is as common as the name it misspells (Павлишин). A
        // rare name one letter away says no more than the level does: the
        // name typed may be another surname (Кропська, one letter from
        // Кропак), not a typo.
        let frequency = known_frequency(left.whole, right.whole, frequencies);
        return (Level::Close, family::CLOSE.weight_at_most(frequency));
    }
    (Level::Different, family::DIFFERENT.weight())
}

/// How a family name agrees with one of the other record's other names (a
/// former or adoptive surname, a maiden name), if it does: the level's weight,
/// by how common the name met is, as an exact family name is weighed (a
/// former surname few carry says as much as a family name few carry), with
/// the level's m (the person kept under another of their names is less
/// likely than under the same).
#[inline]
fn family_meets_other_name(
    left: &TokenRecord,
    right: &TokenRecord,
    frequencies: &dyn TermFrequencies,
) -> Option<f64> {
    let crossings = [
        (Slot::FamilyWhole, Slot::AliasWhole),
        (Slot::AliasWhole, Slot::FamilyWhole),
        (Slot::AliasWhole, Slot::AliasWhole),
    ];
    let mut met = false;
    let mut frequency: Option<f64> = None;
    for (one, other) in crossings {
        for (a, b) in [(left, right), (right, left)] {
            if intersects(a.slot(one), b.slot(other)) {
                met = true;
                if let Some(shared) = shared_frequency(a.slot(one), b.slot(other), frequencies) {
                    frequency = Some(frequency.map_or(shared, |f: f64| f.max(shared)));
                }
            }
        }
    }
    met.then(|| family::OTHER_NAME.weight_with_frequency(frequency))
}

/// The given name agrees with a diminutive or other form kept in other names.
#[inline]
fn given_meets_other_name(left: &TokenRecord, right: &TokenRecord) -> bool {
    intersects(left.slot(Slot::GivenClass), right.slot(Slot::AliasClass))
        || intersects(left.slot(Slot::AliasClass), right.slot(Slot::GivenClass))
}

#[inline]
pub(super) fn compare_patronymic(
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
    (Level::Different, patronymic::DIFFERENT.weight())
}

/// Birth dates. Dates and years are stored only together with the names
/// (no date token is shared by people of different names), so a date is
/// compared where a name meets: exact (with the family name or the given
/// name), day and month swapped, the year only (with the family name). Day
/// and month alone compare anywhere. Where no name meets and day and month
/// differ, the dates cannot be compared and count as missing.
#[inline]
pub(super) fn compare_birth_date(
    left: &TokenRecord,
    right: &TokenRecord,
    left_is_query: bool,
) -> (Level, f64) {
    let both = |slot: Slot| (left.slot(slot), right.slot(slot));
    let meets = |slot: Slot| {
        let (l, r) = both(slot);
        intersects(l, r)
    };
    let (left_year, right_year) = both(Slot::FamilyYear);
    let family_agrees = meets(Slot::FamilyWhole);
    // A query keys its dates also with the other names typed, those first
    // (`Tokenizer::tokenize_query`), so where one of them is the other
    // record's family name and only day and month meet, the years were
    // compared and differ. That the query keyed every other name is told
    // by its counts: with one date, each key adds one full-date token (or
    // one year token) beside one per family-name key (a stored record has
    // no more), and no
    // other name typed was a given name (those key nothing). A node keeps
    // only the variants that meet its names, so the counts are what is left
    // to tell a query by.
    let keyed_with_other_name = |query: &TokenRecord, held: &TokenRecord, keyed: Slot| {
        let others = query.slot(Slot::AliasWhole);
        !others.is_empty()
            && query.slot(Slot::AliasClass).is_empty()
            && query.slot(keyed).len() >= query.slot(Slot::FamilyWhole).len() + others.len()
            && intersects(others, held.slot(Slot::FamilyWhole))
    };
    // A stored record keys its one date with its other surnames too
    // (`Tokenizer::tokenize`), and so does a query that gives one date
    // with other names typed: a query's variants keyed with its year tell
    // it gave one (a range keys none).
    let one_date = |record: &TokenRecord, is_query: bool| {
        !is_query || !record.slot(Slot::FamilyVariantYear).is_empty()
    };
    let year_keyed_with_other_name = |record: &TokenRecord, is_query: bool, other: &TokenRecord| {
        one_date(record, is_query) && keyed_with_other_name(record, other, Slot::FamilyYear)
    };
    // A query with one date keys its year also with each of its family
    // name's variants (`FamilyVariantYear`), as a stored record keys its year
    // with its family name: where a variant met the other's family name (a
    // typo, a letter of another spelling), the years were compared.
    // Only where a variant met: a query packed with year tokens of other
    // names raises no other record's date.
    let met_by_variant = |query: &TokenRecord, held: &TokenRecord| {
        !query.slot(Slot::FamilyVariantYear).is_empty()
            && intersects(
                query.slot(Slot::FamilyVariant),
                held.slot(Slot::FamilyWhole),
            )
    };
    let variant_year_meets = (met_by_variant(left, right)
        && intersects(left.slot(Slot::FamilyVariantYear), right_year))
        || (met_by_variant(right, left)
            && intersects(left_year, right.slot(Slot::FamilyVariantYear)));
    // A query whose given-name column holds no known given name (a surname
    // there: swapped columns) keys its date with that column's forms (the
    // stems, and the readings whose marks the word shows: those its
    // given-name whole holds) right after the other names typed, then
    // padding (`Tokenizer::tokenize_query`). Where one meets the other
    // record's family name, the years were compared if the counts show the
    // keys reached that far: one date (its variants' years, of which a node
    // keeps at least one, say so), no other name typed, and at least as many
    // year keys beyond the family column's as the given-name whole has
    // forms. A year range, or a query whose bounds cut the keys, compares
    // nothing here. Only a query keys so: a stored record keys its date with
    // its family column alone.
    let swapped_query_keyed = left_is_query
        && left.slot(Slot::GivenClass).is_empty()
        && left.slot(Slot::AliasWhole).is_empty()
        && !left.slot(Slot::FamilyVariantYear).is_empty()
        && left.slot(Slot::FamilyYear).len()
            >= left.slot(Slot::FamilyWhole).len() + left.slot(Slot::GivenWhole).len()
        && intersects(left.slot(Slot::GivenWhole), right.slot(Slot::FamilyWhole));
    // A stored record whose given-name column holds no known given name
    // and whose family column does (columns swapped at the holder) keys its
    // date with the given column's surname too (`Tokenizer::tokenize`),
    // all of its keys or none, and only where it has no other names: its
    // counts tell (more year tokens than family-name keys). Where that
    // surname is the other's family name, the years were compared.
    let held_swapped_keyed = |held: &TokenRecord, other: &TokenRecord| {
        held.slot(Slot::GivenClass).is_empty()
            && !held.slot(Slot::FamilyClass).is_empty()
            && held.slot(Slot::AliasWhole).is_empty()
            && held.slot(Slot::FamilyYear).len() > held.slot(Slot::FamilyWhole).len()
            && intersects(held.slot(Slot::GivenWhole), other.slot(Slot::FamilyWhole))
    };
    let family_compares_years = family_agrees
        || met_by_variant(left, right)
        || met_by_variant(right, left)
        || swapped_query_keyed
        || held_swapped_keyed(right, left)
        || (!left_is_query && held_swapped_keyed(left, right));
    let years_compared = family_compares_years
        || (left.slot(Slot::DateDayMonth).len() == 1
            && keyed_with_other_name(left, right, Slot::FamilyDate))
        || (right.slot(Slot::DateDayMonth).len() == 1
            && keyed_with_other_name(right, left, Slot::FamilyDate));
    let given_agrees = meets(Slot::GivenClass) || meets(Slot::GivenWhole);
    if has_full_date(left) && has_full_date(right) {
        if meets(Slot::FamilyDate) || meets(Slot::GivenDate) {
            return (Level::Exact, date::EXACT.weight());
        }
        if meets(Slot::FamilyUnorderedDate) {
            return (Level::DayMonthSwapped, date::DAY_MONTH_SWAPPED.weight());
        }
        if meets(Slot::FamilyYear) {
            return (Level::Year, date::YEAR.weight());
        }
        if variant_year_meets {
            // The year met through a variant, day and month apart: the
            // same date.
            if meets(Slot::DateDayMonth) {
                return (Level::Exact, date::EXACT.weight());
            }
            return (Level::Year, date::YEAR.weight());
        }
        if meets(Slot::DateDayMonth) {
            // Where the family name meets, its date tokens would have met
            // too: the year differs. Where it does not (one letter apart,
            // typos), the year cannot be compared, and day and month are
            // what is known. (The given name's date tokens are not enough to
            // tell: a name whose class one side's tables know and the
            // other's do not meets by its skeleton, not by its dates.)
            return if years_compared {
                (Level::OtherYear, date::OTHER_YEAR.weight())
            } else {
                (Level::DayMonth, date::DAY_MONTH.weight())
            };
        }
        if family_compares_years || given_agrees {
            return (Level::Different, date::DIFFERENT.weight());
        }
        return (Level::Missing, 0.0);
    }
    // At least one date is a year (or a year and month) or missing.
    if intersects(left_year, right_year) || variant_year_meets {
        return (Level::Year, date::AS_KNOWN_YEAR.weight());
    }
    // Where one side's other name is the other's family name, each keyed
    // its year with that name: a year that does not meet differs (Галина
    // Сербин of 2006, once Коваль, is not the Галина Коваль of 1971).
    let other_name_compares_years = year_keyed_with_other_name(left, left_is_query, right)
        || year_keyed_with_other_name(right, false, left);
    if (family_compares_years || other_name_compares_years)
        && !left_year.is_empty()
        && !right_year.is_empty()
    {
        return (Level::Different, date::PARTIAL_DIFFERENT.weight());
    }
    (Level::Missing, 0.0)
}

/// Whether a record gives a full birth date (day, month and year): only then
/// does it key full-date tokens.
pub(super) fn has_full_date(record: &TokenRecord) -> bool {
    !record.slot(Slot::FamilyDate).is_empty() || !record.slot(Slot::GivenDate).is_empty()
}

#[inline]
pub(super) fn compare_place(
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

#[inline]
pub(super) fn compare_documents(left: &TokenRecord, right: &TokenRecord) -> (Level, f64) {
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

/// Given and family name comparisons, straight or with swapped columns,
/// whichever agrees better; other names taken into account.
#[inline]
pub(super) fn compare_names(
    left: &TokenRecord,
    right: &TokenRecord,
    frequencies: &dyn TermFrequencies,
) -> ((Level, f64), (Level, f64)) {
    let (left_given, right_given) = (NameView::given(left), NameView::given(right));
    let (left_family, right_family) = (NameView::family(left), NameView::family(right));

    let mut given_score = compare_given(left_given, right_given, frequencies, false);
    // Where neither record has a given name, their other names may both hold
    // one (a record with only "Саша" among its other names meets itself, and
    // must not meet another record better than itself).
    let aliases_meet = given_score.0 == Level::Missing
        && left_given.is_empty()
        && right_given.is_empty()
        && intersects(left.slot(Slot::AliasClass), right.slot(Slot::AliasClass));
    if given_score.0 != Level::Exact
        && given_score.0 != Level::Equivalent
        && (given_meets_other_name(left, right) || aliases_meet)
    {
        given_score = (Level::Equivalent, given::EQUIVALENT.weight());
    }
    let mut family_score = compare_family(left_family, right_family, frequencies);
    let date_meets = intersects(left.slot(Slot::FamilyYear), right.slot(Slot::FamilyYear))
        || intersects(left.slot(Slot::FamilyDate), right.slot(Slot::FamilyDate));
    let date_keyed_with_given_column =
        intersects(left.slot(Slot::FamilyWhole), right.slot(Slot::GivenWhole))
            || intersects(left.slot(Slot::GivenWhole), right.slot(Slot::FamilyWhole));
    // A query's family-name forms (`FamilyForm`: the other language, other
    // spelling systems) meeting the other's family name: another form of
    // the name, not a typo, also where no date compares them (Олейник
    // searched, Олійник kept without a date).
    let form_meets = intersects(left.slot(Slot::FamilyForm), right.slot(Slot::FamilyWhole))
        || intersects(left.slot(Slot::FamilyWhole), right.slot(Slot::FamilyForm));
    if matches!(family_score.0, Level::Close | Level::Different)
        && ((date_meets && !date_keyed_with_given_column) || form_meets)
    {
        // The family names differ as written, but the birth date keyed with
        // one's surname meets the other's: a query keys its date, besides its
        // family name as typed, with the other names typed (met as other names
        // just below), its given-name column when that holds no known given
        // name (swapped columns, excluded here), and the family name's forms in
        // the other language (Кріпенко for Кропенко, Вітрова for Ветрова,
        // Медведак for Ведмедак) and its readings in other spelling systems
        // (Chomak, Хомак): `other_language_forms` and
        // `Tokenizer::tokenize_query`. Another form of the name, then, but
        // weighed as a name one letter apart: the same forms join different
        // surnames too (Сотник read as Сітник is Ситник; Homenko may be Гоменко
        // or Хоменко), so a name and a year alone stay possible, and a full
        // date, a patronymic or a place make it strong.
        // As a name one letter apart, by how common the two names are, and
        // never more than that level says: a rare surname's other form may
        // be another rare surname.
        let frequency = known_frequency(left_family.whole, right_family.whole, frequencies);
        family_score = (Level::Equivalent, family::CLOSE.weight_at_most(frequency));
    }
    if !matches!(family_score.0, Level::Exact | Level::Close)
        && let Some(weight) = family_meets_other_name(left, right, frequencies)
    {
        family_score = (Level::OtherName, weight);
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
            let frequency = shared_frequency(given_words, aliases, frequencies);
            (
                Level::OtherName,
                family::OTHER_NAME.weight_with_frequency(frequency),
            )
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
        compare_given(left_given, right_family, frequencies, true),
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
        compare_given(left_family, right_given, frequencies, true),
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
    let fair = |level: Level| matches!(level, Level::Exact | Level::Equivalent | Level::Close);
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
