//! Another partner's token file (`poshuk link`): read or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("partner.tokens");
    if std::fs::write(&path, bytes).is_ok() {
        let _ = poshuk_link::TokenFile::read(&path);
    }
});
