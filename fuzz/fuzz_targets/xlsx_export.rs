//! A workbook (any bytes named .xlsx): read or refused, within the reader's
//! bounds on cells and unpacked size.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poshuk_records::{ReadOptions, read_file};

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("cases.xlsx");
    if std::fs::write(&path, bytes).is_ok() {
        let _ = read_file(&path, &ReadOptions::default());
    }
});
