//! The parsers that face the network never panic, whatever they are given,
//! and refuse what they cannot take with an error: a token query's JSON and
//! its checks, an epoch query bundle, a sealed key's header. Run on the
//! stable toolchain with every test (a few hundred cases each); the same
//! properties are what a fuzzer would check.

use poshuk_protocol::sealed_header::read_header;
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
}
