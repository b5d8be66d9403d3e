//! A keyring file's text: parsed or refused; what parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poshuk_keys::KeyRing;

fuzz_target!(|text: &str| {
    if let Ok(ring) = KeyRing::from_text(text) {
        let again = KeyRing::from_text(&ring.to_text()).expect("round trip");
        assert_eq!(again.entries().len(), ring.entries().len());
    }
});
