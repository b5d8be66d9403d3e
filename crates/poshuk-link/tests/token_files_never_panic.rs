//! A token file comes from another partner (`poshuk link`): any bytes are
//! read or refused with an error, never a crash, and its header cannot make
//! the reader reserve memory the file does not back. The same property is
//! what `fuzz/fuzz_targets/token_file.rs` checks with a fuzzer.

use poshuk_link::{TokenFile, TokenFileError};
use proptest::prelude::*;

/// The fixed header: magic, version, epoch, record count, slot count.
fn header(version: u16, count: u64, slots: u16) -> Vec<u8> {
    let mut bytes = b"POSHUKTK".to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&slots.to_le_bytes());
    bytes
}

fn read(bytes: &[u8]) -> Result<TokenFile, TokenFileError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("partner.tokens");
    std::fs::write(&path, bytes).expect("write");
    TokenFile::read(&path)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_bytes_read_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read(&bytes);
    }

    #[test]
    fn a_real_header_with_random_records_reads_or_refuses(
        count in any::<u64>(),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut bytes = header(poshuk_core::TOKENIZER_VERSION, count, poshuk_core::STORED_SLOT_COUNT as u16);
        bytes.extend_from_slice(&body);
        if let Ok(file) = read(&bytes) {
            prop_assert!(file.records.len() as u64 <= count);
        }
    }
}

#[test]
fn a_header_claiming_billions_of_records_is_refused_as_truncated() {
    let bytes = header(
        poshuk_core::TOKENIZER_VERSION,
        u64::MAX,
        poshuk_core::STORED_SLOT_COUNT as u16,
    );
    let Err(error) = read(&bytes) else {
        panic!("a header without its records is refused")
    };
    assert!(
        matches!(error, TokenFileError::Truncated { read: 0, .. }),
        "{error}"
    );
}
