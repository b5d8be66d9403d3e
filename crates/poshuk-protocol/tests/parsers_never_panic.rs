//! The parsers that face the network never panic, whatever they are given,
//! and refuse what they cannot take with an error: a token query's JSON and
//! its checks, an epoch query bundle, a sealed key's header. Run on the
//! stable toolchain with every test (a few hundred cases each); the same
//! properties are what a fuzzer would check.

use poshuk_protocol::sealed_header::read_header;
use poshuk_protocol::signed::{SignedHeader, now_ms, sign};
use poshuk_protocol::{EpochQueries, TokenQuery};
use proptest::prelude::*;

/// JSON-shaped text: a token query's keys and slot names with random values,
/// or any string.
fn query_like() -> impl Strategy<Value = String> {
    let slot = prop_oneof![
        Just("GivenWhole".to_string()),
        Just("FamilyWhole".to_string()),
        Just("FamilyYear".to_string()),
        Just("GivenVariant".to_string()),
        Just("DocumentWhole".to_string()),
        "[A-Za-z]{0,12}",
    ];
    let token = prop_oneof!["[0-9a-f]{32}", "[0-9a-fA-FxZ -]{0,40}", Just(String::new()),];
    let tokens = proptest::collection::vec(token, 0..40);
    let slots = proptest::collection::vec((slot, tokens), 0..8);
    prop_oneof![
        (any::<u32>(), any::<u16>(), slots, any::<u64>()).prop_map(
            |(epoch, tokenizer, slots, limit)| {
                let tokens: serde_json::Map<String, serde_json::Value> = slots
                    .into_iter()
                    .map(|(name, values)| (name, serde_json::json!(values)))
                    .collect();
                serde_json::json!({"epoch": epoch, "tokenizer": tokenizer,
                                   "tokens": tokens, "limit": limit})
                .to_string()
            }
        ),
        ".*",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn token_queries_parse_or_refuse(text in query_like()) {
        if let Ok(query) = serde_json::from_str::<TokenQuery>(&text) {
            // Checked: a record or an error, never a panic.
            let _ = query.to_record();
        }
        if let Ok(bundle) = serde_json::from_str::<EpochQueries>(&text) {
            for query in &bundle.queries {
                let _ = query.to_record();
            }
        }
    }

    #[test]
    fn sealed_headers_parse_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((_, offset)) = read_header(&bytes) {
            prop_assert!(offset <= bytes.len());
        }
    }

    #[test]
    fn sealed_headers_near_the_format_parse_or_refuse(
        partner in "[a-z-]{0,20}", epoch in "[0-9a-z]{0,12}", rest in ".{0,40}"
    ) {
        let text = format!("poshuk-sealed-epoch/v1 partner={partner} epoch={epoch}\n{rest}");
        if let Ok((_, offset)) = read_header(text.as_bytes()) {
            prop_assert!(offset <= text.len());
        }
    }

    /// The `Authorization` header every federation request carries is read
    /// before anything else: any text parses or is refused, and what parses
    /// never verifies without the secret.
    #[test]
    fn signed_headers_parse_or_refuse(
        key in "[a-z.-]{0,12}", time in "[0-9x]{0,14}", nonce in "[0-9a-f]{0,34}",
        body in "[0-9a-f]{0,66}", mac in "[0-9a-f]{0,66}", noise in ".{0,30}",
    ) {
        let text = format!("Poshuk-Signed key={key}, time={time}, nonce={nonce}, body={body}, mac={mac}{noise}");
        for candidate in [text.as_str(), noise.as_str()] {
            if let Ok(header) = SignedHeader::parse(candidate) {
                prop_assert!(header.verify(b"a secret nobody guessed 0123", "GET", "/v1/epochs", now_ms()).is_err());
            }
        }
    }

    /// A signature holds only for its own method, path and secret.
    #[test]
    fn a_signature_verifies_only_what_was_signed(
        path in "/[a-z/?=&%0-9]{0,30}", other in "/[a-z/?=&%0-9]{0,30}", body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let secret = b"3f1c9a6b2e7d4058a1c3e9f7b2d46a80";
        let now = now_ms();
        let header = SignedHeader::parse(&sign("ngo-ua", secret, "POST", &path, &body, now).expect("signs")).expect("parses");
        prop_assert!(header.verify(secret, "POST", &path, now).is_ok());
        if other != path {
            prop_assert!(header.verify(secret, "POST", &other, now).is_err());
        }
        prop_assert!(header.verify(b"3f1c9a6b2e7d4058a1c3e9f7b2d46a81", "POST", &path, now).is_err());
    }
}
