//! An audit log handed to `poshuk audit verify`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = poshuk_audit::verify("log", bytes);
});
