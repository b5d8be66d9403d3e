//! A partner's CSV or JSON-lines export: read with problems by line, or
//! refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poshuk_records::{FileFormat, ReadOptions, read_reader_csv};

fuzz_target!(|bytes: &[u8]| {
    let _ = read_reader_csv(bytes, &ReadOptions::default());
    let options = ReadOptions {
        format: Some(FileFormat::JsonLines),
        ..ReadOptions::default()
    };
    let _ = read_reader_csv(bytes, &options);
});
