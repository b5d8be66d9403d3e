//! A sealed key file's header, which the coordinator reads without opening.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok((_, offset)) = poshuk_protocol::sealed_header::read_header(bytes) {
        assert!(offset <= bytes.len());
    }
});
