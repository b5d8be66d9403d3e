//! The m and u probabilities of every agreement level, field by field, and
//! the rules that override independence (twins, swapped columns).
//!
//! m: how often true matches agree at that level; u: how often unrelated
//! people do. The weight of a level is log2(m/u).

/// m and u probabilities of one level.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mu {
    m: f64,
    u: f64,
}

pub(super) const fn mu(m: f64, u: f64) -> Mu {
    Mu { m, u }
}

impl Mu {
    #[inline]
    pub(super) fn weight(self) -> f64 {
        (self.m / self.u).log2()
    }

    /// The weight with u replaced by a value's frequency (bounded so that a
    /// value seen once does not outweigh everything else).
    #[inline]
    pub(super) fn weight_with_frequency(self, frequency: Option<f64>) -> f64 {
        match frequency {
            Some(frequency) => (self.m / frequency.clamp(self.u / 20.0, self.u * 20.0)).log2(),
            None => self.weight(),
        }
    }

    /// The weight with u raised to a value's frequency, never lowered:
    /// for a level whose u counts many values (every name one letter from
    /// the query's), a common one says less, a rare one no more than the
    /// level does.
    #[inline]
    pub(super) fn weight_at_most(self, frequency: Option<f64>) -> f64 {
        let u = frequency.map_or(self.u, |frequency| frequency.clamp(self.u, self.u * 20.0));
        (self.m / u).log2()
    }
}

pub(super) mod given {
    use super::{Mu, mu};
    pub(crate) const EXACT: Mu = mu(0.55, 0.02);
    pub(crate) const EQUIVALENT: Mu = mu(0.38, 0.02);
    pub(crate) const CLOSE: Mu = mu(0.03, 0.004);
    /// One letter from a name the tables know, the name typed being one
    /// they do not: that name mistyped. Weighed as an equivalent form (u:
    /// how common the known name is).
    pub(crate) const MISTYPED_KNOWN: Mu = EQUIVALENT;
    pub(crate) const DIFFERENT: Mu = mu(0.015, 0.876);
}

pub(super) mod family {
    use super::{Mu, mu};
    pub(crate) const EXACT: Mu = mu(0.80, 0.002);
    pub(crate) const CLOSE: Mu = mu(0.08, 0.001);
    /// A family name met as the other record's former or other name. m: of
    /// the people kept with another name beside, how many are found under
    /// it; u as an exact family name's (weighed by how common the name met
    /// is, with the same bounds).
    pub(crate) const OTHER_NAME: Mu = mu(0.3, 0.002);
    pub(crate) const DIFFERENT: Mu = mu(0.04, 0.98);
}

pub(super) mod patronymic {
    use super::{Mu, mu};
    pub(crate) const EQUIVALENT: Mu = mu(0.88, 0.03);
    pub(crate) const DIFFERENT: Mu = mu(0.05, 0.93);
}

pub(super) mod date {
    use super::{Mu, mu};
    pub(crate) const EXACT: Mu = mu(0.86, 0.0002);
    pub(crate) const DAY_MONTH_SWAPPED: Mu = mu(0.03, 0.0002);
    pub(crate) const YEAR: Mu = mu(0.03, 0.05);
    /// Day and month agree, the year does not (u: one day of the year).
    pub(crate) const OTHER_YEAR: Mu = mu(0.01, 0.003);
    /// Day and month agree, the year cannot be compared: what two dates of
    /// one person agree on almost always, two people's once a year.
    pub(crate) const DAY_MONTH: Mu = mu(0.85, 0.003);
    pub(crate) const DIFFERENT: Mu = mu(0.03, 0.85);
    /// Agreement as far as the less precise date goes (year precision).
    pub(crate) const AS_KNOWN_YEAR: Mu = mu(0.9, 0.06);
    pub(crate) const PARTIAL_DIFFERENT: Mu = mu(0.05, 0.84);
}

pub(super) mod place {
    use super::{Mu, mu};
    pub(crate) const EXACT: Mu = mu(0.80, 0.03);
    pub(crate) const DIFFERENT: Mu = mu(0.20, 0.97);
}

pub(super) mod document {
    use super::{Mu, mu};
    pub(crate) const EXACT: Mu = mu(0.95, 1e-7);
    pub(crate) const NUMBER_ONLY: Mu = mu(0.03, 1e-6);
    /// People carry several documents: a different number says little.
    pub(crate) const DIFFERENT: Mu = mu(0.5, 1.0);
}

/// The log-odds a pair is held at when both given names are known to be
/// different names (twins, siblings): below the possible band.
pub(super) const DIFFERENT_GIVEN_NAME_CAP: f64 = -1.5;

/// The log-odds a pair is held at when the given names differ and one of
/// them is not in the tables: within the possible band, below strong.
pub(super) const UNKNOWN_GIVEN_NAME_CAP: f64 = 2.0;

/// Penalty for needing to swap the given and family columns to agree.
pub(super) const SWAP_PENALTY: f64 = 1.0;

/// The log-odds a pair is held at when the birth dates do not confirm it
/// (they differ, or one side has none) or the patronymics name other
/// fathers, and no document agrees: within the possible band, below strong
/// (0.9 is log-odds 3.17).
pub(super) const UNCONFIRMED_DATE_CAP: f64 = 2.5;

/// The log-odds a pair is held at when the birth dates differ (neither the
/// year nor day and month agree) and no document agrees: below the
/// possible band.
pub(super) const DIFFERENT_DATE_CAP: f64 = -1.0;

/// The log-odds a pair is held at when both records give a full birth date,
/// of the same year and another day, and no document agrees: the possible
/// band's floor (0.5), as likely a namesake of that year as the person.
pub(super) const SAME_YEAR_OTHER_DAY_CAP: f64 = 0.0;

/// The log-odds a pair resting on a name and a year is held at when the
/// birth places differ and no document agrees: the possible band's floor
/// (0.5), as likely a namesake of that year born elsewhere as the person
/// with a place written otherwise.
pub(super) const OTHER_PLACE_CAP: f64 = 0.0;

/// Birth years a list's people spread over, for the namesakes a name and a
/// year leave (lists of deported children span fewer; of adults, more).
pub(super) const BIRTH_YEARS: f64 = 70.0;

/// The expected namesakes (same name, same year) above which a name and a
/// year alone are not strong.
pub(super) const NAMESAKE_RISK: f64 = 0.05;

/// The expected namesakes (same name, and father's name and birth place
/// where they agree, of any year) above which a record without a birth date
/// is not strong: stricter than [`NAMESAKE_RISK`], since no year narrows it.
pub(super) const DATELESS_NAMESAKE_RISK: f64 = 0.01;
