//! The canonical person record, as read from a partner's case export.
//!
//! A [`Record`] holds raw personal data. It lives only inside the partner's own
//! process; its `Debug` output is redacted so that it cannot reach a log by
//! accident.

use std::fmt;

/// Sex as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not recorded or unknown.
    #[default]
    Unknown,
}

impl Sex {
    /// Reads M/F/U and the usual words for them in Ukrainian, Russian and English.
    /// Anything else is unknown.
    pub fn parse(value: &str) -> Sex {
        let folded = value.trim().to_lowercase();
        match folded.as_str() {
            "m" | "male" | "man" | "boy" | "ч" | "чол" | "чоловіча" | "чоловік" | "м" | "муж"
            | "мужской" | "мужчина" | "хлопчик" | "мальчик" => {
                Sex::Male
            }
            "f" | "female" | "woman" | "girl" | "ж" | "жін" | "жіноча" | "жінка" | "жен"
            | "женский" | "женщина" | "дівчинка" | "девочка" | "w" => {
                Sex::Female
            }
            _ => Sex::Unknown,
        }
    }

    /// The one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Unknown => "U",
        }
    }
}

/// A birth date, possibly partial (year only, or year and month).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BirthDate {
    /// Year, 1850–2100.
    pub year: u16,
    /// Month 1–12, if known.
    pub month: Option<u8>,
    /// Day of month, if known (only with a month).
    pub day: Option<u8>,
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("BirthDate(<redacted>)")
    }
}

/// Why a date could not be read. Never holds the date itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text matches none of the accepted layouts.
    #[error("date is not in a known layout (YYYY-MM-DD, YYYY-MM, YYYY, DD.MM.YYYY, DD/MM/YYYY)")]
    Layout,
    /// The year is outside 1850–2100.
    #[error("year out of range 1850-2100")]
    Year,
    /// The month is not 1–12.
    #[error("month out of range 1-12")]
    Month,
    /// The day does not exist in that month.
    #[error("day does not exist in that month")]
    Day,
}

/// The most years a searched range may span: a child's age is usually known
/// to a few years, and each year adds tokens to every family name of the
/// query (bounded per slot by the protocol).
pub const MAX_YEAR_RANGE: u16 = 5;

impl BirthDate {
    /// Reads `YYYY-MM-DD`, `YYYY-MM`, `YYYY`, `DD.MM.YYYY`, `DD/MM/YYYY`,
    /// `MM.YYYY` and `MM/YYYY` (also with a time part after a space or `T`, as
    /// spreadsheets write dates).
    pub fn parse(text: &str) -> Result<BirthDate, DateError> {
        let trimmed = text.trim();
        let date_part = trimmed.split([' ', 'T']).next().unwrap_or(trimmed);
        let parts: Vec<&str> = date_part.split(['-', '.', '/']).collect();
        let number = |part: &str| -> Result<u32, DateError> {
            if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DateError::Layout);
            }
            part.parse::<u32>().map_err(|_| DateError::Layout)
        };
        let year_first = parts.first().is_some_and(|p| p.len() == 4);
        let (year, month, day) = match (parts.len(), year_first) {
            (1, true) => (number(parts[0])?, None, None),
            (2, true) => (number(parts[0])?, Some(number(parts[1])?), None),
            (3, true) => (
                number(parts[0])?,
                Some(number(parts[1])?),
                Some(number(parts[2])?),
            ),
            (2, false) if parts[1].len() == 4 => (number(parts[1])?, Some(number(parts[0])?), None),
            (3, false) if parts[2].len() == 4 => (
                number(parts[2])?,
                Some(number(parts[1])?),
                Some(number(parts[0])?),
            ),
            _ => return Err(DateError::Layout),
        };
        BirthDate::from_parts(year, month, day)
    }

    /// A range of birth years a searcher may give when the year is not known
    /// (`2010-2014`, `2010–2014`, `2010..2014`; `~2012`, `2012?` for a year
    /// either side): the first and last year, at most
    /// [`MAX_YEAR_RANGE`] years. Only queries carry ranges: a stored record
    /// with several year tokens would tell a thief which year tokens of a
    /// family are close.
    pub fn parse_year_range(text: &str) -> Option<(u16, u16)> {
        let text = text.trim();
        let year = |part: &str| -> Option<u16> {
            let part = part.trim();
            (part.len() == 4 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u16>().ok())
                .flatten()
                .filter(|year| (1850..=2100).contains(year))
        };
        let approximate = text
            .strip_prefix(['~', '≈'])
            .or_else(|| text.strip_suffix('?'));
        let (first, last) = match approximate {
            Some(rest) => {
                let middle = year(rest)?;
                (middle - 1, middle + 1)
            }
            None => {
                let (first, last) = text
                    .split_once("..")
                    .or_else(|| text.split_once(['-', '–', '—']))?;
                (year(first)?, year(last)?)
            }
        };
        (first <= last && last - first < MAX_YEAR_RANGE).then_some((first, last))
    }

    /// A date from numbers, checked.
    pub fn from_parts(
        year: u32,
        month: Option<u32>,
        day: Option<u32>,
    ) -> Result<BirthDate, DateError> {
        if !(1850..=2100).contains(&year) {
            return Err(DateError::Year);
        }
        if let Some(month) = month {
            if !(1..=12).contains(&month) {
                return Err(DateError::Month);
            }
            if let Some(day) = day
                && (day == 0 || day > days_in_month(year, month))
            {
                return Err(DateError::Day);
            }
        }
        Ok(BirthDate {
            year: year as u16,
            month: month.map(|m| m as u8),
            day: month.and(day).map(|d| d as u8),
        })
    }

    /// The date with day and month exchanged, when that is a different valid date.
    pub fn swapped(self) -> Option<BirthDate> {
        let (month, day) = (self.month?, self.day?);
        if month == day || day > 12 {
            return None;
        }
        BirthDate::from_parts(self.year as u32, Some(day as u32), Some(month as u32)).ok()
    }

    /// ISO 8601 text, as precise as the date is.
    pub fn to_iso(self) -> String {
        match (self.month, self.day) {
            (Some(month), Some(day)) => format!("{:04}-{:02}-{:02}", self.year, month, day),
            (Some(month), None) => format!("{:04}-{:02}", self.year, month),
            _ => format!("{:04}", self.year),
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// One person as a partner recorded them. Holds raw personal data: it never
/// leaves the partner's node, and its `Debug` shows only which fields are set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The partner's own case id.
    pub record_id: String,
    /// Given name (may hold several words).
    pub given_name: String,
    /// Family name (may be double-barrelled).
    pub family_name: String,
    /// Patronymic.
    pub patronymic: String,
    /// Former or adoptive surnames, maiden names, diminutives.
    pub other_names: Vec<String>,
    /// Sex.
    pub sex: Sex,
    /// Birth date, if known and readable.
    pub birth_date: Option<BirthDate>,
    /// Place of birth as written.
    pub birth_place: String,
    /// Document numbers, each possibly with a `type:` prefix.
    pub document_ids: Vec<String>,
}

impl Record {
    /// Whether the record names the person or carries a document: a record with
    /// neither cannot be matched and is rejected.
    pub fn is_identifiable(&self) -> bool {
        let has_name = [&self.given_name, &self.family_name]
            .iter()
            .any(|value| value.chars().any(char::is_alphabetic))
            || self
                .other_names
                .iter()
                .any(|value| value.chars().any(char::is_alphabetic));
        let has_document = self
            .document_ids
            .iter()
            .any(|value| value.chars().any(char::is_alphanumeric));
        has_name || has_document
    }

    /// What a search for this record lacks, in the searcher's words (the
    /// page, the command line and the local API say the same):
    /// [`SearchAdvice::Refused`] when the federation would refuse it as
    /// naming no one (its rule on tokens, said on the plaintext first),
    /// [`SearchAdvice::Thin`] when it carries a name and at most a year,
    /// which namesakes share. `has_years`: the date was a range of years.
    pub fn search_advice(&self, has_years: bool) -> Option<SearchAdvice> {
        let has = |value: &str| value.chars().any(char::is_alphabetic);
        let (given, family) = (
            has(&self.given_name),
            has(&self.family_name) || self.other_names.iter().any(|name| has(name)),
        );
        let document = self
            .document_ids
            .iter()
            .any(|value| value.chars().any(char::is_alphanumeric));
        let full_date = self.birth_date.is_some_and(|date| date.day.is_some());
        let date = self.birth_date.is_some() || has_years;
        let (place, patronymic) = (has(&self.birth_place), has(&self.patronymic));
        if document {
            return None;
        }
        if !(given && family && (date || place || patronymic)) && !(given && full_date) {
            return Some(SearchAdvice::Refused(match (given, family) {
                (false, true) => {
                    "a surname alone is not enough: add a given name and a birth year (or the birth place, or the patronymic)"
                }
                (true, false) => {
                    "a given name alone is not enough: add the family name and a birth year, or the full birth date"
                }
                (true, true) => {
                    "a name alone is not enough: add a birth year or date, the birth place, or the patronymic"
                }
                (false, false) => "give a name with a birth year, or a document number",
            }));
        }
        (!full_date && !place && !patronymic).then_some(SearchAdvice::Thin(
            "a name with only a year may belong to several people: add the full birth date, the patronymic or the birth place for a surer answer",
        ))
    }
}

/// What a search lacks ([`Record::search_advice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchAdvice {
    /// The federation refuses it: it names no one.
    Refused(&'static str),
    /// It is searched, but namesakes share what it carries: no hit is
    /// strong for a common name.
    Thin(&'static str),
}

impl SearchAdvice {
    /// The advice in words.
    pub fn text(self) -> &'static str {
        match self {
            SearchAdvice::Refused(text) | SearchAdvice::Thin(text) => text,
        }
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present = |value: &str| {
            if value.trim().is_empty() {
                "empty"
            } else {
                "<redacted>"
            }
        };
        formatter
            .debug_struct("Record")
            .field("given_name", &present(&self.given_name))
            .field("family_name", &present(&self.family_name))
            .field("patronymic", &present(&self.patronymic))
            .field("other_names", &self.other_names.len())
            .field("birth_date", &self.birth_date.is_some())
            .field("birth_place", &present(&self.birth_place))
            .field("document_ids", &self.document_ids.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Record {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<record redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The advice follows the federation's rule: refused when naming no
    /// one, thin with a name and a year, nothing more to ask otherwise.
    #[test]
    fn a_search_is_told_what_it_lacks() {
        let query = |given: &str, family: &str, date: &str, place: &str, patronymic: &str| {
            let record = Record {
                record_id: String::new(),
                given_name: given.into(),
                family_name: family.into(),
                patronymic: patronymic.into(),
                other_names: Vec::new(),
                sex: Sex::Unknown,
                birth_date: BirthDate::parse(date).ok(),
                birth_place: place.into(),
                document_ids: Vec::new(),
            };
            record.search_advice(false)
        };
        let refused =
            |advice: Option<SearchAdvice>| matches!(advice, Some(SearchAdvice::Refused(_)));
        let thin = |advice: Option<SearchAdvice>| matches!(advice, Some(SearchAdvice::Thin(_)));
        assert!(refused(query("Hlib", "Oliinyk", "", "", "")));
        assert!(refused(query("", "Oliinyk", "2016-03-15", "", "")));
        assert!(refused(query("Hlib", "", "2016", "", "")));
        assert!(thin(query("Hlib", "Oliinyk", "2016", "", "")));
        assert_eq!(query("Hlib", "Oliinyk", "2016-03-15", "", ""), None);
        assert_eq!(query("Hlib", "", "2016-03-15", "", ""), None);
        assert_eq!(query("Hlib", "Oliinyk", "2016", "Mariupol", ""), None);
        assert_eq!(query("Hlib", "Oliinyk", "2016", "", "Petrovych"), None);
        assert_eq!(query("Hlib", "Oliinyk", "", "Mariupol", ""), None);
    }

    #[test]
    fn reads_every_date_layout() {
        let cases = [
            ("2011-03-07", Some((2011, Some(3), Some(7)))),
            ("2011-03", Some((2011, Some(3), None))),
            ("2011", Some((2011, None, None))),
            ("07.03.2011", Some((2011, Some(3), Some(7)))),
            ("07/03/2011", Some((2011, Some(3), Some(7)))),
            ("03.2011", Some((2011, Some(3), None))),
            ("2011-03-07 00:00:00", Some((2011, Some(3), Some(7)))),
            ("2011-02-30", None),
            ("2011-13-01", None),
            ("31.04.2011", None),
            ("yesterday", None),
            ("11.03.07", None),
            ("1700", None),
        ];
        for (text, expected) in cases {
            let parsed = BirthDate::parse(text)
                .ok()
                .map(|d| (d.year, d.month, d.day));
            assert_eq!(parsed, expected, "{text}");
        }
    }

    #[test]
    fn swaps_day_and_month_only_when_meaningful() {
        let date = BirthDate::parse("2011-03-07").expect("valid");
        assert_eq!(
            date.swapped().map(|d| d.to_iso()),
            Some("2011-07-03".into())
        );
        assert_eq!(
            BirthDate::parse("2011-03-25").expect("valid").swapped(),
            None
        );
        assert_eq!(
            BirthDate::parse("2011-03-03").expect("valid").swapped(),
            None
        );
    }

    #[test]
    fn debug_and_display_redact_personal_data() {
        let record = Record {
            record_id: "case-1".into(),
            given_name: "Олександр".into(),
            family_name: "Коваленко".into(),
            birth_date: BirthDate::parse("2011-03-07").ok(),
            document_ids: vec!["КВ123456".into()],
            ..Record::default()
        };
        let shown = format!("{record:?} {record}");
        for secret in ["Олександр", "Коваленко", "2011", "КВ123456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn reads_sex_in_several_languages() {
        assert_eq!(Sex::parse("ж"), Sex::Female);
        assert_eq!(Sex::parse("M"), Sex::Male);
        assert_eq!(Sex::parse("чоловіча"), Sex::Male);
        assert_eq!(Sex::parse("?"), Sex::Unknown);
    }

    #[test]
    fn year_ranges_as_searchers_write_them() {
        for (text, range) in [
            ("2010-2014", Some((2010, 2014))),
            ("2010 – 2012", Some((2010, 2012))),
            ("2010..2011", Some((2010, 2011))),
            ("~2012", Some((2011, 2013))),
            ("2012?", Some((2011, 2013))),
            ("2010-2015", None),
            ("2014-2010", None),
            ("2012", None),
            ("2012-2012", Some((2012, 2012))),
            ("2012-05", None),
            ("1700-1702", None),
        ] {
            assert_eq!(BirthDate::parse_year_range(text), range, "{text}");
        }
    }
}
