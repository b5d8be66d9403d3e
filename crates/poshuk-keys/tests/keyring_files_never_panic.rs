//! A keyring file is read by every node and the admin's tools; a damaged
//! or hostile one must be refused with a message, never crash them. Run on
//! the stable toolchain with every test; the same property is what
//! `fuzz/fuzz_targets/keyring_text.rs` checks with a fuzzer.

use poshuk_keys::KeyRing;
use proptest::prelude::*;

/// Keyring-shaped text: `[[epoch]]` blocks with the real field names and
/// random values, lines dropped or repeated, or any text.
fn keyring_like() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[0-9]{0,12}",
        "\"[0-9a-f]{0,70}\"",
        "\"(active|pending|retired|x)\"",
        ".{0,20}",
    ];
    let name = prop_oneof![
        Just("number"),
        Just("key"),
        Just("state"),
        Just("fingerprint"),
        Just("other"),
    ];
    let line = prop_oneof![
        Just("[[epoch]]".to_string()),
        (name, value).prop_map(|(name, value)| format!("{name} = {value}")),
        ".{0,30}",
    ];
    prop_oneof![
        proptest::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n")),
        ".*",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn keyring_text_parses_or_refuses(text in keyring_like()) {
        if let Ok(ring) = KeyRing::from_text(&text) {
            // What parses writes back to text that parses to the same ring.
            let again = KeyRing::from_text(&ring.to_text()).expect("round trip");
            prop_assert_eq!(again.entries().len(), ring.entries().len());
            prop_assert_eq!(again.current_epoch(), ring.current_epoch());
        }
    }
}

#[test]
fn a_cut_keyring_is_refused_without_quoting_its_key() {
    let ring = KeyRing::with_key([7; 32]);
    let text = ring.to_text();
    let again = KeyRing::from_text(&text).expect("parses");
    assert_eq!(again.current_epoch(), ring.current_epoch());
    // A truncated file is refused, naming a line, never its contents.
    let cut = &text[..text.len() / 2];
    if let Err(error) = KeyRing::from_text(cut) {
        let message = error.to_string();
        assert!(!message.contains(&"07".repeat(8)), "{message}");
    }
}
