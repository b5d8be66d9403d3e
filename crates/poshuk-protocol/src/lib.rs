//! Wire types: every request and response that crosses a process boundary.
//!
//! Two surfaces:
//! - the **federation API** (`/v1/...`), between coordinator and nodes: token
//!   queries in, hits out. Nothing here can hold a raw value: tokens are hex,
//!   handles are opaque.
//! - the **local API** (`/local/v1/...`), between a partner's own tools and its
//!   own node on loopback: raw records for ingest and search. Types that carry
//!   raw data redact themselves in `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use poshuk_core::{BirthDate, Record, Sex, Slot, Token, TokenRecord, TokenRecordBuilder};
use serde::{Deserialize, Serialize};

/// The API version a node or coordinator speaks.
pub const API_VERSION: &str = "1";

/// Largest `limit` a search may ask for.
pub const MAX_LIMIT: usize = 1000;

fn default_limit() -> usize {
    20
}

/// A search by tokens, as sent to a node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// The key epoch of the tokens.
    pub epoch: u32,
    /// Tokens by slot name (`GivenWhole`, `FamilyWhole`, ...), each 32 hex digits.
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
    /// The query has no token at all.
    #[error("the query holds no token: give at least one field")]
    Empty,
    /// `limit` is 0 or too large.
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    Limit,
}

fn slot_by_name(name: &str) -> Option<Slot> {
    Slot::ALL.iter().copied().find(|slot| slot.name() == name)
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
            tokens,
            limit,
        }
    }

    /// The token record of the query, checked.
    pub fn to_record(&self) -> Result<TokenRecord, ProtocolError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(ProtocolError::Limit);
        }
        let mut builder = TokenRecordBuilder::default();
        let mut count = 0;
        for (name, tokens) in &self.tokens {
            let slot =
                slot_by_name(name).ok_or_else(|| ProtocolError::UnknownSlot(name.clone()))?;
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
        Ok(builder.finish())
    }
}

/// One hit: which record of the answering node, how strongly, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    /// The node's opaque handle of the record (32 hex digits).
    pub handle: String,
    /// Match probability in [0, 1].
    pub score: f64,
    /// `strong`, `possible` or `weak`.
    pub band: String,
    /// The fields that agreed (`given_name`, `family_name`, ...).
    pub agreeing: Vec<String>,
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

/// `POST /v1/admin/retire` at the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    /// The epoch to retire (and every older one).
    pub epoch: u32,
    /// Partners not required to serve the next epoch: they are suspended
    /// (a compromised or departing partner left out of the new key).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `POST /v1/retire` at a node (from the coordinator).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRetire {
    /// The epoch to retire (and every older one).
    pub epoch: u32,
}

/// The federation's keys as the admin sees them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FederationKeys {
    /// Retired epochs.
    pub retired: Vec<u32>,
    /// Suspended partners (left out of a rotation).
    pub suspended: Vec<String>,
    /// Per partner.
    pub partners: BTreeMap<String, PartnerKeys>,
    /// After a retirement: what each node did.
    #[serde(default)]
    pub retire_outcomes: BTreeMap<String, String>,
}

/// One partner's node, as far as keys go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartnerKeys {
    /// Whether the node answered.
    pub reachable: bool,
    /// Epochs it serves.
    pub epochs: Vec<u32>,
    /// Its re-key, if one runs.
    pub rekey: Option<RekeyStatus>,
    /// Records in its index.
    pub records: u64,
    /// Sealed key files waiting for it at the coordinator, by epoch.
    pub sealed_waiting: Vec<u32>,
    /// The oldest tokenizer version in its index (0: unknown).
    #[serde(default)]
    pub tokenizer_version: u16,
}

/// `POST /local/v1/keys/fetch`: which epoch to fetch (the newest waiting if
/// absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchKey {
    /// The epoch.
    #[serde(default)]
    pub epoch: Option<u32>,
}

/// Result of installing a sealed key at a node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Installed {
    /// The epoch installed.
    pub epoch: u32,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub message: String,
    /// A stable machine code (`bad_request`, `unknown_epoch`, ...).
    pub code: String,
    /// `invalid_request`, `conflict` or `internal`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A record in canonical fields, as sent by a partner's tools to its own node.
/// Holds raw personal data: only ever sent to the local API.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RawRecord {
    /// The partner's case id.
    pub record_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Patronymic.
    pub patronymic: String,
    /// Other names.
    pub other_names: Vec<String>,
    /// `M`, `F` or `U`.
    pub sex: String,
    /// ISO date (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`) or empty.
    pub birth_date: String,
    /// Birth place.
    pub birth_place: String,
    /// Document ids.
    pub document_ids: Vec<String>,
}

impl fmt::Debug for RawRecord {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("RawRecord(<redacted>)")
    }
}

impl From<&Record> for RawRecord {
    fn from(record: &Record) -> RawRecord {
        RawRecord {
            record_id: record.record_id.clone(),
            given_name: record.given_name.clone(),
            family_name: record.family_name.clone(),
            patronymic: record.patronymic.clone(),
            other_names: record.other_names.clone(),
            sex: record.sex.code().to_string(),
            birth_date: record
                .birth_date
                .map(|date| date.to_iso())
                .unwrap_or_default(),
            birth_place: record.birth_place.clone(),
            document_ids: record.document_ids.clone(),
        }
    }
}

impl RawRecord {
    /// The core record; an unreadable date is dropped (the reader already
    /// warned about it).
    pub fn to_record(&self) -> Record {
        Record {
            record_id: self.record_id.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            patronymic: self.patronymic.clone(),
            other_names: self.other_names.clone(),
            sex: Sex::parse(&self.sex),
            birth_date: BirthDate::parse(&self.birth_date).ok(),
            birth_place: self.birth_place.clone(),
            document_ids: self.document_ids.clone(),
        }
    }
}

/// `POST /local/v1/ingest/sessions` → a session to send batches into.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IngestSession {
    /// The session id.
    pub session: String,
}

/// `POST /local/v1/ingest/sessions/{id}/batches`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct IngestBatch {
    /// Records to add or update.
    pub records: Vec<RawRecord>,
}

/// A record the node refused, by its position in the batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rejected {
    /// Position in the batch (0-based).
    pub index: usize,
    /// Why (never quoting values).
    pub reason: String,
}

/// Counts of an ingest (one batch or a whole session).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct IngestCounts {
    /// New records.
    pub added: u64,
    /// Records whose tokens changed.
    pub updated: u64,
    /// Records sent again unchanged.
    pub unchanged: u64,
    /// Records removed (by `replace`).
    pub deleted: u64,
    /// Records refused.
    pub rejected: u64,
}

impl IngestCounts {
    /// Adds another count into this one.
    pub fn add(&mut self, other: &IngestCounts) {
        self.added += other.added;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.deleted += other.deleted;
        self.rejected += other.rejected;
    }
}

/// The answer to a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IngestBatchResult {
    /// Counts of this batch.
    pub counts: IngestCounts,
    /// Records refused in this batch.
    pub rejected: Vec<Rejected>,
}

/// `POST /local/v1/ingest/sessions/{id}/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FinishIngest {
    /// Delete the records this session did not send (a full re-sync).
    #[serde(default)]
    pub replace: bool,
}

/// `POST /local/v1/delete`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Case ids to remove.
    pub record_ids: Vec<String>,
}

impl fmt::Debug for DeleteRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DeleteRequest({} ids)", self.record_ids.len())
    }
}

/// The answer to a delete.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeleteResult {
    /// Records removed.
    pub deleted: u64,
    /// Ids that were not in the index.
    pub not_found: u64,
}

/// `GET /local/v1/resolve/{handle}`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Resolved {
    /// The handle.
    pub handle: String,
    /// The partner's own case id behind it.
    pub record_id: String,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Resolved({}, <redacted>)", self.handle)
    }
}

/// `POST /local/v1/search`: a search by raw fields, tokenized inside the node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocalSearch {
    /// The person looked for (record_id may be empty).
    pub record: RawRecord,
    /// How many hits at most.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

/// One hit of a federated search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FederatedHit {
    /// The partner whose node holds the record.
    pub partner: String,
    /// That partner's display name.
    pub partner_name: String,
    /// The partner's opaque handle of the record.
    pub handle: String,
    /// Match probability in [0, 1].
    pub score: f64,
    /// `strong`, `possible` or `weak`.
    pub band: String,
    /// The fields that agreed.
    pub agreeing: Vec<String>,
    /// Whether the record is the searching partner's own.
    pub own: bool,
    /// The searcher's own case id, for own hits only, filled in by the
    /// searcher's own node (never by the coordinator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
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
}

/// `POST /local/v1/federated-search` on a node: a search by raw fields across
/// the federation, tokenized inside the searcher's node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FederatedSearch {
    /// The person looked for (record_id may be empty).
    pub record: RawRecord,
    /// How many hits at most.
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Search only these partners (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partners: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_query_round_trips_and_rejects_garbage() {
        let record = TokenRecord::from_slots(vec![
            (Slot::GivenWhole, vec![Token(1), Token(u128::MAX)]),
            (Slot::DateYear, vec![Token(42)]),
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
        bad.tokens.insert("SexValue".into(), vec!["xyz".into()]);
        assert!(matches!(
            bad.to_record(),
            Err(ProtocolError::BadToken { index: 0, .. })
        ));
        let empty = TokenQuery {
            epoch: 1,
            tokens: BTreeMap::new(),
            limit: 5,
        };
        assert_eq!(empty.to_record(), Err(ProtocolError::Empty));
        assert_eq!(
            TokenQuery { limit: 0, ..query }.to_record(),
            Err(ProtocolError::Limit)
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
