//! The `Authorization: Poshuk-Signed` header, read before any body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poshuk_protocol::signed::{ReplayGuard, SignedHeader, now_ms};

fuzz_target!(|text: &str| {
    if let Ok(header) = SignedHeader::parse(text) {
        assert!(header.verify(b"a secret the fuzzer does not know", "POST", "/v1/search", now_ms()).is_err());
        let _ = ReplayGuard::default().check(&header);
    }
});
