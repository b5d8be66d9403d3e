//! The node's side of the coordinator: federated searches, the federation's
//! live epochs (cached a second), and this partner's sealed keys.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use poshuk_core::Epoch;
use poshuk_protocol::client::{ApiClient, ClientError};
use poshuk_protocol::{EpochQueries, FederatedResponse};

use crate::NodeError;
use crate::config::CoordinatorLink as LinkConfig;

/// How long the federation's live epochs are trusted.
const EPOCHS_CACHE: Duration = Duration::from_secs(1);
/// How long the coordinator's reachability is trusted (readiness probes
/// come every few seconds; each must not cost the coordinator a request).
const REACHABLE_CACHE: Duration = Duration::from_secs(5);

/// A client of the coordinator with this partner's token.
#[derive(Debug)]
pub struct CoordinatorLink {
    client: ApiClient,
    /// Whether this node answers the federation over its own connection
    /// to the coordinator, and whether that connection is open now.
    outbound: bool,
    connected: std::sync::atomic::AtomicBool,
    /// The clients over the open connections (one per replica connected
    /// to), by the connection's index.
    over_tunnel: Mutex<std::collections::BTreeMap<usize, ApiClient>>,
    live_epochs: Mutex<Option<(Instant, Vec<Epoch>)>>,
    reachable: Mutex<Option<(Instant, bool)>>,
}

impl CoordinatorLink {
    /// A client trusting the federation's CA alone, not the system's roots,
    /// signing its requests as `partner_id` with the partner's token.
    pub fn new(config: &LinkConfig, partner_id: &str) -> Result<CoordinatorLink, NodeError> {
        // This node's certificate, for the coordinator's mutual TLS.
        let identity = match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => Some(poshuk_tls::ClientCertificate { cert, key }),
            _ => None,
        };
        // The coordinator's own certificate, not merely one of the
        // federation's.
        let http = poshuk_tls::client_builder(
            config.ca.as_deref(),
            identity,
            Some(poshuk_protocol::signed::COORDINATOR_KEY_ID),
        )
        .map_err(|error| NodeError::Insecure(error.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_millis(config.timeout_ms))
        .build()
        .map_err(NodeError::HttpClient)?;
        Ok(CoordinatorLink {
            client: ApiClient::signed(http, &config.url, partner_id, &config.token),
            outbound: config.outbound,
            connected: std::sync::atomic::AtomicBool::new(false),
            over_tunnel: Mutex::new(std::collections::BTreeMap::new()),
            live_epochs: Mutex::new(None),
            reachable: Mutex::new(None),
        })
    }

    /// The epochs to tokenize a federated search for: those of `ours` the
    /// federation still serves, as the coordinator reports; all of `ours`
    /// if it cannot tell or none is left.
    pub async fn search_epochs(&self, ours: Vec<Epoch>) -> Vec<Epoch> {
        let cached = self
            .live_epochs
            .lock()
            .ok()
            .and_then(|cache| cache.clone())
            .filter(|(at, _)| at.elapsed() < EPOCHS_CACHE)
            .map(|(_, epochs)| epochs);
        let live = match cached {
            Some(live) => Some(live),
            None => {
                let live = self
                    .client()
                    .epochs()
                    .await
                    .ok()
                    .map(|epochs| epochs.live.into_iter().map(Epoch).collect::<Vec<_>>());
                if let (Some(live), Ok(mut cache)) = (&live, self.live_epochs.lock()) {
                    *cache = Some((Instant::now(), live.clone()));
                }
                live
            }
        };
        let Some(live) = live else {
            return ours;
        };
        let both: Vec<Epoch> = ours.iter().copied().filter(|e| live.contains(e)).collect();
        if both.is_empty() { ours } else { both }
    }

    /// Drops the cached epochs: the coordinator said one of them is retired.
    pub fn forget_epochs(&self) {
        if let Ok(mut cache) = self.live_epochs.lock() {
            *cache = None;
        }
    }

    /// Sends a searcher's queries to the coordinator.
    pub async fn federated_search(
        &self,
        queries: &EpochQueries,
        partners: Option<&[String]>,
    ) -> Result<FederatedResponse, ClientError> {
        self.client().federated_search(queries, partners).await
    }

    /// This partner's sealed key for `epoch`, from the coordinator's relay.
    pub async fn sealed_key(&self, epoch: u32) -> Result<Vec<u8>, ClientError> {
        self.client().sealed_key(epoch).await
    }

    /// Whether the coordinator answered its epoch list within the last
    /// [`REACHABLE_CACHE`] (asked again when older): what `/readyz` reports.
    pub async fn reachable(&self) -> bool {
        let cached = self
            .reachable
            .lock()
            .ok()
            .and_then(|cache| *cache)
            .filter(|(at, _)| at.elapsed() < REACHABLE_CACHE)
            .map(|(_, reachable)| reachable);
        if let Some(reachable) = cached {
            return reachable;
        }
        let client = self.client();
        let reachable = tokio::time::timeout(Duration::from_secs(2), client.epochs())
            .await
            .is_ok_and(|answer| answer.is_ok());
        if let Ok(mut cache) = self.reachable.lock() {
            *cache = Some((Instant::now(), reachable));
        }
        reachable
    }

    /// Notes outbound connection `index` open (its tunnel) or closed
    /// (`None`): `/readyz` reports whether one is open, and this node's own
    /// requests to the coordinator go over one while it is.
    pub fn set_tunnel(
        &self,
        index: usize,
        tunnel: Option<std::sync::Arc<poshuk_protocol::tunnel::Tunnel>>,
    ) {
        if let Ok(mut over) = self.over_tunnel.lock() {
            match tunnel {
                Some(tunnel) => {
                    over.insert(index, self.client.clone().over_tunnel(tunnel));
                }
                None => {
                    over.remove(&index);
                }
            }
            self.connected
                .store(!over.is_empty(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Whether the coordinator can search this node through it: always for
    /// a listening node; for an outbound one, while its connection is open.
    pub fn searchable_through(&self) -> bool {
        !self.outbound || self.connected.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The coordinator's client: over the outbound connection while it is
    /// open, else over HTTPS (also for the routes the web page uses:
    /// partners, contact requests).
    pub fn client(&self) -> ApiClient {
        self.over_tunnel
            .lock()
            .ok()
            .and_then(|over| over.values().next().cloned())
            .unwrap_or_else(|| self.client.clone())
    }
}
