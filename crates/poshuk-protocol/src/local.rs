//! The local API: a partner's own tools and staff talking to its own node.
//! These types carry raw personal data and redact themselves in `Debug`; they
//! are only ever sent to the node on the partner's own machine.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::default_limit;
use crate::federation::Handle;

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
    /// Let `replace` delete more than a tenth of the records (a list that
    /// really shrank; by default, that many deletions are refused as the
    /// sign of a wrong or partial file).
    #[serde(default)]
    pub allow_large_delete: bool,
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
    pub handle: Handle,
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

/// The answer to `POST /local/v1/compact`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Compacted {
    /// Segments rewritten to drop deleted documents.
    pub segments_rewritten: usize,
}

/// A staff account to add or change (`POST /local/v1/staff`). `Debug`
/// leaves out the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct StaffAccountRequest {
    /// The login name.
    pub name: String,
    /// The password (hashed with argon2 by the node; never stored).
    pub password: String,
    /// `searcher` or `admin`.
    pub role: String,
}

impl std::fmt::Debug for StaffAccountRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "StaffAccountRequest({}, {}, <password redacted>)",
            self.name, self.role
        )
    }
}

impl Drop for StaffAccountRequest {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.password.zeroize();
    }
}

/// A staff account as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffAccount {
    /// The login name.
    pub name: String,
    /// `searcher` or `admin`.
    pub role: String,
}

/// A staff account to remove (`POST /local/v1/staff/remove`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffRemoval {
    /// The login name.
    pub name: String,
}
