//! The federation API: token queries in, hits out, between searcher nodes,
//! the coordinator and the searched nodes. Nothing here can hold a raw value:
//! tokens are hex, handles are opaque.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use poshuk_tokens::{Slot, TOKENIZER_VERSION, Token, TokenRecord, TokenRecordBuilder};
use serde::{Deserialize, Serialize};

use crate::{MAX_LIMIT, default_limit};

/// How strongly a hit matches, as the scoring model's bands say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Below the possible threshold.
    Weak,
    /// Not the person: likely a brother, sister or twin (one family name,
    /// another given name, with the patronymic and birth place, or the
    /// birth date, in common). A lead for a family.
    Relative,
    /// Worth a look.
    Possible,
    /// Very likely the same person.
    Strong,
}

impl Band {
    /// The band's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Band::Weak => "weak",
            Band::Relative => "relative",
            Band::Possible => "possible",
            Band::Strong => "strong",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`: honours width and alignment (`{:<9}` in tables).
        formatter.pad(self.name())
    }
}

/// A node's opaque handle of one of its records: 16 random bytes, written as
/// 32 hex digits on the wire. Only the owning node can resolve it to a case id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub [u8; 16]);

/// A handle that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a handle is 32 hexadecimal digits")]
pub struct BadHandle;

impl fmt::Display for Handle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.pad(&hex::encode(self.0))
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Handle({self})")
    }
}

impl FromStr for Handle {
    type Err = BadHandle;

    fn from_str(text: &str) -> Result<Handle, BadHandle> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| BadHandle)?;
        Ok(Handle(bytes))
    }
}

impl Serialize for Handle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Handle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Handle, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A search by tokens, as sent to a node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// The key epoch of the tokens.
    pub epoch: u32,
    /// The tokenizer version that made the tokens
    /// ([`poshuk_tokens::TOKENIZER_VERSION`]); absent in queries of versions
    /// that did not send it. A node answers only queries of its own version.
    #[serde(default)]
    pub tokenizer: u16,
    /// Tokens by slot wire name ([`Slot::name`]), each 32 hex digits.
    pub tokens: BTreeMap<String, Vec<String>>,
    /// How many hits to return at most.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

/// What is wrong with a request, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A slot name is not one of the known slots.
    #[error("unknown token slot `{0}`")]
    UnknownSlot(String),
    /// A token is not 32 hexadecimal digits.
    #[error("tokens.{slot}[{index}] is not 32 hexadecimal digits")]
    BadToken {
        /// The slot.
        slot: String,
        /// The position in the slot's list.
        index: usize,
    },
    /// A slot holds more tokens than any query of this version makes.
    #[error("tokens.{slot} holds {count} tokens, at most {max}")]
    TooManyTokens {
        /// The slot.
        slot: String,
        /// Tokens sent.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// The query has no token at all.
    #[error("the query holds no token: give at least one field")]
    Empty,
    /// The query does not name one person.
    #[error(
        "the query does not identify a person: give the given and family name with a birth date or year, a birth place or a patronymic; or the given name with the full birth date; or a document number"
    )]
    ThinQuery,
    /// The query asks about more name × date combinations than one person has.
    #[error(
        "the query combines {count} given-name with family-date tokens, at most {MAX_NAME_DATE_COMBINATIONS}: one query is one person"
    )]
    TooManyCombinations {
        /// Given-name tokens × family-date tokens sent.
        count: usize,
    },
    /// The query pairs more given names with surnames than one person has.
    #[error(
        "the query pairs {count} given-name with family-name tokens, at most {MAX_NAME_PAIRS}: one query is one person"
    )]
    TooManyNamePairs {
        /// Given-name tokens × family-name tokens sent.
        count: usize,
    },
    /// `limit` is 0 or too large.
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    Limit,
    /// The query's tokens were made by another tokenizer version.
    #[error(
        "the query was tokenized by tokenizer version {found}, this poshuk uses version {current}: searcher and nodes must run the same version"
    )]
    OtherTokenizer {
        /// The query's version (0: not given).
        found: u16,
        /// This build's.
        current: u16,
    },
}

pub use poshuk_tokens::bounds::{MAX_NAME_DATE_COMBINATIONS, MAX_NAME_PAIRS, max_tokens};

/// Whether a query's slots name one person: a document; or given and family
/// name with a date, place or patronymic; or the given name with a full
/// date (a child under a changed surname).
fn identifies_a_person(record: &TokenRecord) -> bool {
    let any = |slots: &[Slot]| slots.iter().any(|&slot| !record.slot(slot).is_empty());
    let document = any(&[Slot::DocumentWhole, Slot::DocumentDigits]);
    let given = any(&[Slot::GivenWhole, Slot::GivenClass]);
    let family = any(&[Slot::FamilyWhole, Slot::AliasWhole]);
    // Only slots that are compared when present: a place class without the
    // place's skeleton, or an unordered date without the date, would let a
    // query pass as identifying while adding nothing to its score.
    let context = any(&[
        Slot::FamilyYear,
        Slot::FamilyDate,
        Slot::GivenDate,
        Slot::PlaceWhole,
        Slot::PatronymicWhole,
    ]);
    document || (given && family && context) || (given && any(&[Slot::GivenDate]))
}

impl TokenQuery {
    /// The query for a token record.
    pub fn from_record(epoch: u32, record: &TokenRecord, limit: usize) -> TokenQuery {
        let mut tokens: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (slot, token) in record.iter() {
            tokens
                .entry(slot.name().to_string())
                .or_default()
                .push(format!("{:032x}", token.0));
        }
        TokenQuery {
            epoch,
            tokenizer: TOKENIZER_VERSION,
            tokens,
            limit,
        }
    }

    /// The token record of the query, checked.
    pub fn to_record(&self) -> Result<TokenRecord, ProtocolError> {
        // Before the slots: another version's slot names are not this one's.
        if self.tokenizer != TOKENIZER_VERSION {
            return Err(ProtocolError::OtherTokenizer {
                found: self.tokenizer,
                current: TOKENIZER_VERSION,
            });
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(ProtocolError::Limit);
        }
        let mut builder = TokenRecordBuilder::default();
        let mut count = 0;
        for (name, tokens) in &self.tokens {
            let slot =
                Slot::from_name(name).ok_or_else(|| ProtocolError::UnknownSlot(name.clone()))?;
            let max = max_tokens(slot);
            if tokens.len() > max {
                return Err(ProtocolError::TooManyTokens {
                    slot: name.clone(),
                    count: tokens.len(),
                    max,
                });
            }
            for (index, text) in tokens.iter().enumerate() {
                let bad = || ProtocolError::BadToken {
                    slot: name.clone(),
                    index,
                };
                if text.len() != 32 {
                    return Err(bad());
                }
                let value = u128::from_str_radix(text, 16).map_err(|_| bad())?;
                builder.push(slot, Token(value));
                count += 1;
            }
        }
        if count == 0 {
            return Err(ProtocolError::Empty);
        }
        let record = builder.finish();
        if !identifies_a_person(&record) {
            return Err(ProtocolError::ThinQuery);
        }
        let count =
            |slots: &[Slot]| -> usize { slots.iter().map(|&slot| record.slot(slot).len()).sum() };
        // One year token per family variant: no more of them than variants.
        let (variant_years, variants) = (
            count(&[Slot::FamilyVariantYear]),
            count(&[Slot::FamilyVariant]),
        );
        if variant_years > variants {
            return Err(ProtocolError::TooManyTokens {
                slot: Slot::FamilyVariantYear.name().to_string(),
                count: variant_years,
                max: variants,
            });
        }
        let names = count(&[Slot::GivenWhole, Slot::GivenClass]);
        let dates = count(&[Slot::FamilyYear, Slot::FamilyDate]);
        if names * dates > MAX_NAME_DATE_COMBINATIONS {
            return Err(ProtocolError::TooManyCombinations {
                count: names * dates,
            });
        }
        let pairs = count(&[Slot::GivenWhole, Slot::GivenClass, Slot::AliasClass])
            * count(&[Slot::FamilyWhole, Slot::AliasWhole]);
        if pairs > MAX_NAME_PAIRS {
            return Err(ProtocolError::TooManyNamePairs { count: pairs });
        }
        Ok(record)
    }
}

/// One hit: which record of the answering node, how strongly, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    /// The node's opaque handle of the record.
    pub handle: Handle,
    /// Match probability in [0, 1].
    pub score: f64,
    /// How strongly it matches.
    pub band: Band,
    /// The fields that agreed (`given_name`, `family_name`, ...).
    pub agreeing: Vec<String>,
    /// Every compared field's level (`given_name`: `equivalent`, ...), for
    /// explanations; shared like `agreeing`, only when the owner's config
    /// says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldLevel>,
    /// How many of the answering node's records share the name and year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namesakes: Option<Namesakes>,
}

/// How many records of the answering partner share a hit's name and birth
/// year, in buckets (a count would tell another partner more than a
/// searcher needs).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Namesakes {
    /// The hit is the only one.
    #[serde(rename = "1")]
    One,
    /// Two to five records share the name and year.
    #[serde(rename = "2-5")]
    Few,
    /// More than five.
    #[serde(rename = "more")]
    Many,
}

impl Namesakes {
    /// The bucket of a count.
    pub fn of(count: u64) -> Namesakes {
        match count {
            0 | 1 => Namesakes::One,
            2..=5 => Namesakes::Few,
            _ => Namesakes::Many,
        }
    }

    /// "one of 1", "one of 2–5", "one of more than 5".
    pub fn describe(self) -> &'static str {
        match self {
            Namesakes::One => "the only one with this name and year",
            Namesakes::Few => "one of 2-5 with this name and year",
            Namesakes::Many => "one of more than 5 with this name and year",
        }
    }
}

/// How one field compared: `field` as in `agreeing`, `level` one of
/// `exact`, `equivalent`, `close`, `other_name`, `swapped_columns`,
/// `day_month_swapped`, `year`, `other_year`, `day_month`, `number_only`,
/// `different`, `missing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FieldLevel {
    /// The field.
    pub field: String,
    /// Its level.
    pub level: String,
}

/// A node's answer to a token query.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchResponse {
    /// Hits, best first.
    pub hits: Vec<SearchHit>,
    /// How many candidates were re-ranked.
    pub candidates: usize,
    /// Time spent in the node, milliseconds.
    pub took_ms: u64,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeStatus {
    /// The partner this node belongs to.
    pub partner_id: String,
    /// Key epochs the node answers queries in.
    pub epochs: Vec<u32>,
    /// Records in the index.
    pub records: u64,
    /// Software version.
    pub version: String,
    /// API version.
    pub api_version: String,
    /// The re-key under way (or failed), if any.
    #[serde(default)]
    pub rekey: Option<RekeyStatus>,
    /// The oldest tokenizer version whose tokens the node's index may hold;
    /// below the current version, a full ingest (`--replace`) brings it up.
    #[serde(default)]
    pub tokenizer_version: u16,
}

/// How far a node's re-key to a new epoch has come.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RekeyStatus {
    /// The epoch being built.
    pub epoch: u32,
    /// Records re-keyed so far.
    pub done: u64,
    /// Records to re-key.
    pub total: u64,
    /// Rate so far.
    pub records_per_second: u64,
    /// Why it failed, if it did (it is retried when the node restarts).
    #[serde(default)]
    pub error: Option<String>,
}

/// A searcher's query to the coordinator: the same search tokenized under
/// every key epoch the searcher can compute; the coordinator sends each node
/// the one it serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochQueries {
    /// One query per epoch.
    pub queries: Vec<TokenQuery>,
}

/// `GET /v1/epochs` at the coordinator: which epochs searches should be
/// tokenized for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FederationEpochs {
    /// Epochs some node serves and that are not retired.
    pub live: Vec<u32>,
    /// Retired epochs (refused).
    pub retired: Vec<u32>,
}

/// One hit of a federated search. `Debug` leaves out the searcher's own case
/// id.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct FederatedHit {
    /// The partner whose node holds the record.
    pub partner: String,
    /// That partner's display name.
    pub partner_name: String,
    /// The partner's opaque handle of the record.
    pub handle: Handle,
    /// Match probability in [0, 1].
    pub score: f64,
    /// How strongly it matches.
    pub band: Band,
    /// The fields that agreed.
    pub agreeing: Vec<String>,
    /// Every compared field's level, when the owner shares them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldLevel>,
    /// How many of the owner's records share the name and year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namesakes: Option<Namesakes>,
    /// Whether the record is the searching partner's own.
    pub own: bool,
    /// The searcher's own case id, for own hits only, filled in by the
    /// searcher's own node (never by the coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

impl fmt::Debug for FederatedHit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FederatedHit")
            .field("partner", &self.partner)
            .field("handle", &self.handle)
            .field("score", &self.score)
            .field("band", &self.band)
            .field("agreeing", &self.agreeing)
            .field("own", &self.own)
            .field("record_id", &self.record_id.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How one partner's node answered a federated search.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PartnerOutcome {
    /// Answered in time.
    Ok,
    /// Did not answer before the deadline.
    TimedOut,
    /// Answered with an error.
    Failed,
    /// Could not be reached.
    Unavailable,
    /// Answered, and some of its hits were withheld: the searching partner
    /// has received today (UTC) as many hits from this partner as it may.
    Limited,
}

/// Per-partner status of a federated search (like Elasticsearch's `_clusters`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartnerStatus {
    /// The outcome.
    pub status: PartnerOutcome,
    /// Time until the answer or the deadline, milliseconds.
    pub took_ms: u64,
    /// Hits the partner returned.
    pub hits: usize,
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer to a federated search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FederatedResponse {
    /// Hits from every partner, best first.
    pub hits: Vec<FederatedHit>,
    /// Status per partner id.
    pub partners: BTreeMap<String, PartnerStatus>,
    /// True when any partner did not answer: results may be missing.
    pub partial: bool,
    /// Total time, milliseconds.
    pub took_ms: u64,
    /// How to reach each partner that has a hit (from the coordinator's
    /// registry), so the searcher knows whom to ask about a handle.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contacts: BTreeMap<String, String>,
    /// What to add to the query for a surer answer, when it carries a name
    /// and at most a year (set by the searcher's node, which reads the
    /// query in clear; the coordinator never sees it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// A partner as other partners see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartnerInfo {
    /// Partner id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How to ask this partner about a hit.
    pub contact: String,
    /// The partner's age public key, to seal contact requests to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}
