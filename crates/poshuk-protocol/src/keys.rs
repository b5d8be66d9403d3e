//! Key administration on the wire: epochs served, retirement, the relay of
//! sealed keys, and installs at a node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::federation::RekeyStatus;

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
