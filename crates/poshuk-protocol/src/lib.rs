//! Wire types: every request and response that crosses a process boundary,
//! the routes they travel on, and the client that sends them.
//!
//! Three surfaces:
//! - the **federation API** ([`federation`]), between coordinator and nodes:
//!   token queries in, hits out. Nothing there can hold a raw value: tokens
//!   are hex, handles are opaque.
//! - **key administration** ([`keys`]) and the sealed-key header
//!   ([`sealed_header`]), which the coordinator relays without opening.
//! - the **local API** ([`local`]), between a partner's own tools and its own
//!   node on loopback: raw records for ingest and search. Types that carry
//!   raw data redact themselves in `Debug`.
//!
//! This crate knows the token record's shape (`poshuk-tokens`) but not how
//! tokens are made: it does not depend on the tokenizer or the keyring.

pub mod bearer;
pub mod contacts;
pub mod error;
pub mod federation;
pub mod keys;
pub mod local;
pub mod local_credentials;
pub mod offline;
pub mod routes;
pub mod sealed_header;
pub mod signed;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod tunnel;

pub use contacts::{ContactAnswer, ContactList, ContactRequest, ContactStatus, NewContact};
pub use error::{ErrorBody, ErrorKind};
pub use federation::{
    BadHandle, Band, EpochQueries, FederatedHit, FederatedResponse, FederationEpochs, FieldLevel,
    Handle, Namesakes, NodeStatus, PartnerInfo, PartnerOutcome, PartnerStatus, ProtocolError,
    RekeyStatus, SearchHit, SearchResponse, TokenQuery, max_tokens,
};
pub use keys::{FederationKeys, FetchKey, Installed, NodeRetire, PartnerKeys, RetireRequest};
pub use local::{
    Compacted, DeleteRequest, DeleteResult, FederatedSearch, FinishIngest, IngestBatch,
    IngestBatchResult, IngestCounts, IngestSession, LocalSearch, RawRecord, Rejected, Resolved,
};
/// The tokenizer version a query must carry (made by the matching core).
pub use poshuk_tokens::TOKENIZER_VERSION;

/// The API version a node or coordinator speaks.
pub const API_VERSION: &str = "1";

/// Largest `limit` a search may ask for.
pub const MAX_LIMIT: usize = 1000;

fn default_limit() -> usize {
    20
}

#[cfg(test)]
mod tests {
    use super::*;
    use poshuk_tokens::{Slot, Token, TokenRecord};
    use std::collections::BTreeMap;

    #[test]
    fn token_query_round_trips_and_rejects_garbage() {
        let record = TokenRecord::from_slots(vec![
            (Slot::GivenWhole, vec![Token(1), Token(u128::MAX)]),
            (Slot::FamilyWhole, vec![Token(7)]),
            (Slot::FamilyYear, vec![Token(42)]),
        ]);
        let query = TokenQuery::from_record(3, &record, 10);
        assert_eq!(query.to_record().expect("valid"), record);
        let text = serde_json::to_string(&query).expect("json");
        let parsed: TokenQuery = serde_json::from_str(&text).expect("parses");
        assert_eq!(parsed, query);

        let mut unknown = query.clone();
        unknown
            .tokens
            .insert("Nickname".into(), vec!["00".repeat(16)]);
        assert_eq!(
            unknown.to_record(),
            Err(ProtocolError::UnknownSlot("Nickname".into()))
        );
        let mut bad = query.clone();
        bad.tokens
            .insert("DocumentDigits".into(), vec!["xyz".into()]);
        assert!(matches!(
            bad.to_record(),
            Err(ProtocolError::BadToken { index: 0, .. })
        ));
        let mut flooded = query.clone();
        flooded
            .tokens
            .insert("GivenWhole".into(), vec!["00".repeat(16); 5]);
        assert!(matches!(
            flooded.to_record(),
            Err(ProtocolError::TooManyTokens {
                count: 5,
                max: 4,
                ..
            })
        ));
        let empty = TokenQuery {
            epoch: 1,
            tokenizer: poshuk_tokens::TOKENIZER_VERSION,
            tokens: BTreeMap::new(),
            limit: 5,
        };
        assert_eq!(empty.to_record(), Err(ProtocolError::Empty));
        assert_eq!(
            TokenQuery {
                limit: 0,
                ..query.clone()
            }
            .to_record(),
            Err(ProtocolError::Limit)
        );
        // A query of an older version (which sent no version) is refused by
        // name, before its slot names are looked at.
        let mut older: serde_json::Value = serde_json::to_value(&query).expect("json");
        if let Some(object) = older.as_object_mut() {
            object.remove("tokenizer");
        }
        let older: TokenQuery = serde_json::from_value(older).expect("parses");
        assert!(matches!(
            older.to_record(),
            Err(ProtocolError::OtherTokenizer { found: 0, .. })
        ));
    }

    /// A query that does not name one person, or that packs many surnames,
    /// given names and years into one, is refused: that is how one partner
    /// would enumerate another's list.
    #[test]
    fn thin_and_packed_queries_are_refused() {
        let query = |slots: Vec<(Slot, usize)>| {
            let record = TokenRecord::from_slots(
                slots
                    .into_iter()
                    .map(|(slot, count)| (slot, (0..count as u128).map(|i| Token(i + 1)).collect()))
                    .collect(),
            );
            TokenQuery::from_record(1, &record, 10).to_record()
        };
        for thin in [
            vec![(Slot::GivenWhole, 1)],
            vec![(Slot::GivenClass, 1), (Slot::FamilyWhole, 1)],
            vec![(Slot::FamilyWhole, 1), (Slot::FamilyYear, 1)],
            vec![(Slot::GivenClass, 1), (Slot::PlaceClass, 1)],
            // A context slot that is never compared alone does not count.
            vec![
                (Slot::GivenClass, 1),
                (Slot::FamilyWhole, 1),
                (Slot::PlaceClass, 1),
            ],
            vec![
                (Slot::GivenClass, 1),
                (Slot::FamilyWhole, 1),
                (Slot::PatronymicClass, 1),
            ],
        ] {
            assert_eq!(
                query(thin.clone()),
                Err(ProtocolError::ThinQuery),
                "{thin:?}"
            );
        }
        for person in [
            vec![
                (Slot::GivenClass, 2),
                (Slot::FamilyWhole, 1),
                (Slot::FamilyYear, 1),
            ],
            vec![
                (Slot::GivenWhole, 1),
                (Slot::FamilyWhole, 1),
                (Slot::PlaceWhole, 1),
            ],
            vec![(Slot::GivenClass, 1), (Slot::GivenDate, 1)],
            vec![(Slot::DocumentWhole, 1)],
        ] {
            assert!(query(person.clone()).is_ok(), "{person:?}");
        }
        let packed = query(vec![
            (Slot::GivenClass, 12),
            (Slot::FamilyWhole, 2),
            (Slot::FamilyYear, 3),
        ]);
        assert_eq!(
            packed,
            Err(ProtocolError::TooManyCombinations { count: 36 })
        );
        // Without a year: a dozen given names paired with six surnames.
        let paired = query(vec![
            (Slot::GivenClass, 12),
            (Slot::FamilyWhole, 6),
            (Slot::PlaceWhole, 1),
        ]);
        assert_eq!(paired, Err(ProtocolError::TooManyNamePairs { count: 72 }));
        // One year token per family variant, no more: a query cannot pair
        // its variants with more years than it has variants.
        let person = |variants: usize, variant_years: usize| {
            query(vec![
                (Slot::GivenClass, 1),
                (Slot::FamilyWhole, 1),
                (Slot::FamilyYear, 1),
                (Slot::FamilyVariant, variants),
                (Slot::FamilyVariantYear, variant_years),
            ])
        };
        assert!(person(1024, 1024).is_ok());
        // The family name's forms: a fixed count per word, four words.
        let forms = |count: usize| {
            query(vec![
                (Slot::GivenClass, 1),
                (Slot::FamilyWhole, 1),
                (Slot::FamilyYear, 1),
                (Slot::FamilyForm, count),
            ])
        };
        assert!(forms(4 * poshuk_tokens::bounds::FORMS_PER_WORD).is_ok());
        assert!(matches!(
            forms(4 * poshuk_tokens::bounds::FORMS_PER_WORD + 1),
            Err(ProtocolError::TooManyTokens { .. })
        ));
        assert_eq!(
            person(64, 4096),
            Err(ProtocolError::TooManyTokens {
                slot: "FamilyVariantYear".into(),
                count: 4096,
                max: 64,
            })
        );
    }

    #[test]
    fn raw_records_redact_themselves() {
        let raw = RawRecord {
            given_name: "Олександр".into(),
            ..RawRecord::default()
        };
        assert!(!format!("{raw:?}").contains("Олександр"));
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;

    #[test]
    fn handles_and_bands_have_one_wire_form() {
        let handle = Handle([0xab; 16]);
        let text = serde_json::to_string(&handle).expect("json");
        assert_eq!(text, format!("\"{}\"", "ab".repeat(16)));
        assert_eq!(
            serde_json::from_str::<Handle>(&text).expect("parses"),
            handle
        );
        assert!(serde_json::from_str::<Handle>("\"abc\"").is_err());
        assert!("zz".repeat(16).parse::<Handle>().is_err());
        assert_eq!(
            serde_json::to_string(&Band::Strong).expect("json"),
            "\"strong\""
        );
        assert!(serde_json::from_str::<Band>("\"certain\"").is_err());
        assert_eq!(
            format!("[{:<9}]", Band::Weak),
            "[weak     ]",
            "tables align"
        );
        let hit = FederatedHit {
            partner: "ngo".into(),
            partner_name: "NGO".into(),
            handle,
            score: 0.9,
            band: Band::Strong,
            agreeing: Vec::new(),
            fields: Vec::new(),
            namesakes: None,
            own: true,
            record_id: Some("CASE-0017".into()),
        };
        assert!(!format!("{hit:?}").contains("CASE-0017"));
        let error = ErrorBody {
            message: "m".into(),
            code: "c".into(),
            kind: ErrorKind::of_status(409),
        };
        let value = serde_json::to_value(&error).expect("json");
        assert_eq!(value["type"], "conflict");
    }
}
