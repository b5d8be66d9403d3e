//! Birth dates as case lists write them: not only `14.05.2012` and
//! `2012-05-14`, but `14 травня 2012`, `2014р.н.`, `~2010`, `приблизно
//! 2010`, `2009-2011`, and Excel day numbers in cells that were not formatted
//! as dates. What cannot be kept as a date is said, never guessed; the
//! messages never quote the text.

use poshuk_core::{BirthDate, DateError};

/// What a birth-date cell gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateReading {
    /// A date (or month, or year).
    Date(BirthDate),
    /// A year written as approximate (`~2010`, `2010?`, `приблизно 2010`):
    /// kept as that year. Matching already forgives a year either side.
    Approximate(BirthDate),
    /// A range of years (`2009-2011`): left empty in a list (one stored
    /// record with several year tokens would link them for a thief);
    /// searches take ranges.
    YearRange,
    /// After today.
    Future,
    /// `14.05.12`: which century is not said, so left empty.
    TwoDigitYear,
    /// Not a date.
    Unreadable(DateError),
}

/// Words that mark a date as approximate, before it.
const APPROXIMATE_BEFORE: &[&str] = &[
    "приблизно",
    "прибл.",
    "прибл",
    "бл.",
    "близько",
    "біля",
    "приблизительно",
    "примерно",
    "около",
    "ок.",
    "circa",
    "ca.",
    "ca",
    "c.",
    "about",
    "approx.",
    "approx",
    "approximately",
    "~",
    "≈",
];

/// Words after a year that say "year" or "year of birth" (`2014р.н.`,
/// `2014 г.р.`, `2014 року`).
const YEAR_WORDS_AFTER: &[&str] = &[
    "року народження",
    "года рождения",
    "р. н.",
    "р.н.",
    "р.н",
    "г. р.",
    "г.р.",
    "г.р",
    "року",
    "года",
    "рік",
    "год",
    "р.",
    "г.",
    "р",
    "г",
];

/// Month names by their stems, Ukrainian, Russian and English (longer
/// stems first where one begins another).
const MONTHS: &[(&str, u32)] = &[
    ("січ", 1),
    ("лют", 2),
    ("берез", 3),
    ("квіт", 4),
    ("трав", 5),
    ("черв", 6),
    ("лип", 7),
    ("серп", 8),
    ("верес", 9),
    ("жовт", 10),
    ("листоп", 11),
    ("груд", 12),
    ("янв", 1),
    ("фев", 2),
    ("мар", 3),
    ("апр", 4),
    ("мая", 5),
    ("май", 5),
    ("июн", 6),
    ("июл", 7),
    ("авг", 8),
    ("сен", 9),
    ("окт", 10),
    ("ноя", 11),
    ("дек", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

/// Reads a birth-date cell; `today` is (year, month, day).
pub fn read_birth_date(text: &str, today: (u32, u32, u32)) -> DateReading {
    let mut rest = text.trim().to_lowercase();
    let mut approximate = false;
    loop {
        let before = rest.clone();
        for word in APPROXIMATE_BEFORE {
            if let Some(stripped) = rest.strip_prefix(word) {
                rest = stripped.trim_start().to_string();
                approximate = true;
                break;
            }
        }
        if let Some(stripped) = rest.strip_suffix('?') {
            rest = stripped.trim_end().to_string();
            approximate = true;
        }
        for word in YEAR_WORDS_AFTER {
            if let Some(stripped) = rest.strip_suffix(word)
                && stripped.trim_end().ends_with(|c: char| c.is_ascii_digit())
            {
                rest = stripped.trim_end().to_string();
                break;
            }
        }
        if rest == before {
            break;
        }
    }
    let reading = if let Some(range) = year_range(&rest) {
        range
    } else if let Some(date) = excel_serial(&rest) {
        DateReading::Date(date)
    } else if let Some(date) = with_month_name(&rest) {
        DateReading::Date(date)
    } else if two_digit_year(&rest) {
        DateReading::TwoDigitYear
    } else {
        match BirthDate::parse(&rest) {
            Ok(date) => DateReading::Date(date),
            Err(error) => DateReading::Unreadable(error),
        }
    };
    match reading {
        DateReading::Date(date) if is_after(date, today) => DateReading::Future,
        DateReading::Date(date) if approximate => DateReading::Approximate(date),
        other => other,
    }
}

/// `14.05.12`, `14/05/12`: day, month and a year of two digits.
fn two_digit_year(text: &str) -> bool {
    let parts: Vec<&str> = text.split(['.', '/', '-']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
}

/// `2009-2011`, `2009–2011`, `2009 - 2011`: two years, the second later,
/// at most ten apart.
fn year_range(text: &str) -> Option<DateReading> {
    let (first, second) = text.split_once(['-', '–', '—'])?;
    let year = |part: &str| -> Option<u32> {
        let part = part.trim();
        (part.len() == 4 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let (first, second) = (year(first)?, year(second)?);
    (first < second && second - first <= 10).then_some(DateReading::YearRange)
}

/// A day number as Excel stores dates (1900 system), in a cell not
/// formatted as a date: five digits, between 1900-01-01 + 200 years and
/// after year 2100 (so that a year is never read as one).
fn excel_serial(text: &str) -> Option<BirthDate> {
    if text.len() != 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let serial: i64 = text.parse().ok()?;
    if !(10_000..=73_050).contains(&serial) {
        return None;
    }
    // Day 25,569 is 1970-01-01 in the 1900 system (which counts a
    // 29 February 1900 that never was, so serials from March 1900 on are
    // one day ahead; 10,000 is in 1927).
    let (year, month, day) = civil_from_days(serial - 25_569);
    BirthDate::from_parts(year, Some(month), Some(day)).ok()
}

/// `14 травня 2012`, `14 мая 2012 г.`, `May 14, 2012`, `травень 2012`.
fn with_month_name(text: &str) -> Option<BirthDate> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .filter(|word| !word.is_empty())
        .collect();
    if words.len() < 2 || words.len() > 3 {
        return None;
    }
    let mut year = None;
    let mut month = None;
    let mut day = None;
    for word in words {
        if word.bytes().all(|b| b.is_ascii_digit()) {
            match word.len() {
                4 => year = Some(word.parse().ok()?),
                1 | 2 => day = Some(word.parse().ok()?),
                _ => return None,
            }
        } else {
            let found = MONTHS
                .iter()
                .find(|(stem, _)| word.starts_with(stem))
                .map(|(_, month)| *month)?;
            month = Some(found);
        }
    }
    let (year, month) = (year?, month?);
    BirthDate::from_parts(year, Some(month), day).ok()
}

fn is_after(date: BirthDate, (year, month, day): (u32, u32, u32)) -> bool {
    let date_key = (
        date.year as u32,
        date.month.map_or(0, u32::from),
        date.day.map_or(0, u32::from),
    );
    date_key > (year, month, day)
}

/// Today's date (UTC).
pub fn today() -> (u32, u32, u32) {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| (elapsed.as_secs() / 86_400) as i64)
        .unwrap_or(0);
    civil_from_days(days)
}

/// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: (u32, u32, u32) = (2026, 11, 30);

    fn date(year: u32, month: Option<u32>, day: Option<u32>) -> BirthDate {
        BirthDate::from_parts(year, month, day).expect("valid")
    }

    #[test]
    fn dates_as_case_lists_write_them() {
        let cases = [
            (
                "14.05.2012",
                DateReading::Date(date(2012, Some(5), Some(14))),
            ),
            (
                "14 травня 2012",
                DateReading::Date(date(2012, Some(5), Some(14))),
            ),
            (
                "14 мая 2012 г.",
                DateReading::Date(date(2012, Some(5), Some(14))),
            ),
            (
                "May 14, 2012",
                DateReading::Date(date(2012, Some(5), Some(14))),
            ),
            (
                "листопад 2015",
                DateReading::Date(date(2015, Some(11), None)),
            ),
            ("2014г.", DateReading::Date(date(2014, None, None))),
            ("2014р.н.", DateReading::Date(date(2014, None, None))),
            ("2014 г.р.", DateReading::Date(date(2014, None, None))),
            ("2014 року", DateReading::Date(date(2014, None, None))),
            ("~2010", DateReading::Approximate(date(2010, None, None))),
            ("2010?", DateReading::Approximate(date(2010, None, None))),
            (
                "приблизно 2010",
                DateReading::Approximate(date(2010, None, None)),
            ),
            (
                "около 2010 г.",
                DateReading::Approximate(date(2010, None, None)),
            ),
            ("2009-2011", DateReading::YearRange),
            ("2009 – 2011", DateReading::YearRange),
            ("2030", DateReading::Future),
            ("01.12.2026", DateReading::Future),
            // 41,043 is 2012-05-14 in Excel's 1900 system.
            ("41043", DateReading::Date(date(2012, Some(5), Some(14)))),
            ("2011-2009", DateReading::Unreadable(DateError::Month)),
            ("невідомо", DateReading::Unreadable(DateError::Layout)),
            ("14.05.12", DateReading::TwoDigitYear),
            ("бл. 2010", DateReading::Approximate(date(2010, None, None))),
        ];
        for (text, expected) in cases {
            assert_eq!(read_birth_date(text, TODAY), expected, "{text}");
        }
    }

    #[test]
    fn civil_dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_587), (2026, 5, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
