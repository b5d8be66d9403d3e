//! The reports staff open in a spreadsheet: an `.xlsx` workbook when the
//! file name says so, CSV otherwise (with a byte-order mark on request, so
//! that Excel reads it as UTF-8).
//!
//! A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! a formula to Excel and LibreOffice: a case id such as
//! `=HYPERLINK("http://…",…)` in a partner's export would run when the report
//! is opened. Such cells are written as text, with a leading apostrophe.

use std::borrow::Cow;
use std::path::Path;

use anyhow::Context;

/// A table to write: a sheet's name, its header and rows of text.
pub(crate) struct Table {
    pub(crate) sheet: &'static str,
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// Writes `tables` to `path`: every table as a sheet of one workbook when
/// the name ends in `.xlsx`; otherwise the first as CSV (the others are
/// summaries the command prints).
pub(crate) fn write_report(path: &Path, tables: &[Table], bom: bool) -> anyhow::Result<()> {
    let is_xlsx = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("xlsx"));
    if is_xlsx {
        let mut book = rust_xlsxwriter::Workbook::new();
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for table in tables {
            let sheet = book.add_worksheet();
            sheet.set_name(table.sheet)?;
            for (column, name) in table.header.iter().enumerate() {
                sheet.write_string_with_format(0, column as u16, name.as_str(), &bold)?;
            }
            for (index, row) in table.rows.iter().enumerate() {
                for (column, value) in row.iter().enumerate() {
                    // Strings, never formulas: a value is written as it is.
                    sheet.write_string(index as u32 + 1, column as u16, value.as_str())?;
                }
            }
            sheet.autofit();
        }
        book.save(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut file = std::io::BufWriter::new(file);
    if bom {
        std::io::Write::write_all(&mut file, "\u{feff}".as_bytes())?;
    }
    let mut writer = csv::Writer::from_writer(file);
    if let Some(table) = tables.first() {
        writer.write_record(table.header.iter().map(|name| cell(name).into_owned()))?;
        for row in &table.rows {
            writer.write_record(row.iter().map(|value| cell(value).into_owned()))?;
        }
    }
    writer.flush()?;
    Ok(())
}

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
