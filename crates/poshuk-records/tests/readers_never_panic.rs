//! The export readers never panic on any bytes: they read what they can,
//! report problems by line, or refuse the file with an error. Run with every
//! test on the stable toolchain.

use poshuk_records::{FileFormat, ReadOptions, read_reader_csv};
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
