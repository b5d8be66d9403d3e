//! The export readers never panic on any bytes: they read what they can,
//! report problems by line, or refuse the file with an error. Run with every
//! test on the stable toolchain.

use poshuk_records::{FileFormat, ReadOptions, read_file, read_reader_csv};
use proptest::prelude::*;

const HEADER: &str = "record_id,given_name,family_name,patronymic,other_names,sex,birth_date,birth_place,document_ids\n";

/// A line of an export: fields made of names, dates, quotes and separators.
fn line() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "[A-Za-zА-Яа-яІіЇїЄє' -]{0,20}",
        "[0-9./-]{0,12}",
        Just("\"".to_string()),
        Just("\"a,b\"".to_string()),
        ".{0,10}",
    ];
    proptest::collection::vec(field, 0..12).prop_map(|fields| fields.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn csv_exports_read_or_refuse(lines in proptest::collection::vec(line(), 0..20), crlf in any::<bool>()) {
        let end = if crlf { "\r\n" } else { "\n" };
        let text = format!("{HEADER}{}", lines.join(end));
        if let Ok(outcome) = read_reader_csv(text.as_bytes(), &ReadOptions::default()) {
            // Every record and problem names a line within the file.
            let last = text.lines().count() + 1;
            for record in &outcome.records {
                prop_assert!(record.line >= 2 && record.line <= last);
            }
            for problem in &outcome.problems {
                prop_assert!(problem.line <= last);
            }
        }
    }

    #[test]
    fn any_bytes_read_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = read_reader_csv(&bytes[..], &ReadOptions::default());
        let options = ReadOptions { format: Some(FileFormat::JsonLines), ..ReadOptions::default() };
        let _ = read_reader_csv(&bytes[..], &options);
    }
}

/// A cell of a workbook: text in any script, a number (an Excel date serial
/// or not), a formula, or nothing.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Number(f64),
    Formula(String),
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        "[A-Za-zА-Яа-яІіЇїЄє'№ .,/-]{0,24}".prop_map(Cell::Text),
        ".{0,12}".prop_map(Cell::Text),
        any::<f64>().prop_map(Cell::Number),
        (0.0f64..80_000.0).prop_map(Cell::Number),
        "[A-Z]{1,2}[1-9]{1,2}[+*][0-9]{1,3}".prop_map(Cell::Formula),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    /// Workbooks as staff make them (a title row or not, headers anywhere,
    /// merged-looking blanks, dates as numbers, formulas): read or refused,
    /// every problem on a row of the sheet.
    #[test]
    fn workbooks_read_or_refuse(
        with_header in any::<bool>(),
        cells in proptest::collection::vec((0u32..40, 0u16..12, cell()), 0..120),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cases.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let first = if with_header {
            for (column, name) in HEADER.trim().split(',').enumerate() {
                sheet.write_string(0, column as u16, name).expect("header");
            }
            1
        } else {
            0
        };
        for (row, column, value) in &cells {
            let row = row + first;
            let written = match value {
                Cell::Text(text) => sheet.write_string(row, *column, text).map(drop),
                Cell::Number(number) => sheet.write_number(row, *column, *number).map(drop),
                Cell::Formula(formula) => sheet
                    .write_formula(row, *column, format!("={formula}").as_str())
                    .map(drop),
            };
            written.expect("cell");
        }
        book.save(&path).expect("save");
        if let Ok(outcome) = read_file(&path, &ReadOptions::default()) {
            for problem in &outcome.problems {
                prop_assert!(problem.line <= 42);
            }
        }
    }

    /// A workbook with bytes flipped (a damaged download): refused or read,
    /// never a crash.
    #[test]
    fn damaged_workbooks_read_or_refuse(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cases.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (column, name) in HEADER.trim().split(',').enumerate() {
            sheet.write_string(0, column as u16, name).expect("header");
        }
        sheet.write_string(1, 0, "C-1").expect("cell");
        sheet.write_string(1, 1, "Олександр").expect("cell");
        let mut bytes = book.save_to_buffer().expect("save");
        for (index, byte) in flips {
            let at = index.index(bytes.len());
            bytes[at] ^= byte | 1;
        }
        std::fs::write(&path, &bytes).expect("write");
        let _ = read_file(&path, &ReadOptions::default());
    }
}
