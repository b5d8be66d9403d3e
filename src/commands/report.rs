//! Cells of the CSV reports staff open in a spreadsheet.
//!
//! A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! a formula to Excel and LibreOffice: a case id such as
//! `=HYPERLINK("http://…",…)` in a partner's export would run when the report
//! is opened. Such cells are written as text, with a leading apostrophe.

use std::borrow::Cow;

/// `value` as a spreadsheet reads it as text.
pub(crate) fn cell(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_become_text_and_the_rest_stays() {
        for formula in ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"] {
            let written = cell(formula);
            assert!(written.starts_with('\''), "{formula:?}");
            assert_eq!(&written[1..], formula);
        }
        for plain in ["UA-000017", "Коваленко", "", "1-2"] {
            assert_eq!(cell(plain), plain);
        }
    }
}
