//! The coordinator: a registry of partners that fans each token query out to
//! every partner node and merges the hits.
//!
//! Invariants: the coordinator holds no hashing key and sees only tokens,
//! handles and scores; a slow or dead node costs at most its deadline and is
//! reported, never fatal (partial failure is data); the audit log records who
//! searched and what came back per partner, never the tokens.

pub mod config;
mod contacts;
mod fanout;
mod http;
mod keys;
mod limits;
mod metrics;
mod pseudonyms;
mod shared;
mod tunnel;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use poshuk_protocol::client::ApiClient;

pub use config::{ConfigError, CoordinatorConfig, Deadlines, PartnerConfig, Permission};
pub use http::router;
pub use keys::KeysError;

/// Errors of the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// File system or network.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP client toward the nodes cannot be built.
    #[error("http client: {0}")]
    Client(#[source] reqwest::Error),
    /// TLS cannot be set up (certificates, keys, the federation's CA).
    #[error(transparent)]
    Tls(#[from] poshuk_tls::TlsError),
    /// The audit log cannot be opened.
    #[error(transparent)]
    Audit(#[from] poshuk_audit::AuditError),
}

/// Today's search and hit counts, in the state directory.
const LIMITS_FILE: &str = "limits-today.json";

/// Shared state of the coordinator.
pub struct Coordinator {
    config: CoordinatorConfig,
    /// One client per partner's node (sharing one connection pool).
    nodes: HashMap<String, ApiClient>,
    audit: poshuk_audit::AuditLog,
    metrics: metrics::Metrics,
    /// The last status heard from each node (None: it did not answer).
    views: RwLock<HashMap<String, Option<poshuk_protocol::NodeStatus>>>,
    key_state: Mutex<keys::KeyState>,
    admission: Arc<limits::Admission>,
    /// Nonces of signed requests seen in the replay window.
    replays: poshuk_protocol::signed::ReplayGuard,
    /// Contact requests relayed between partners (sealed letters).
    contacts: contacts::Contacts,
    /// The state replicas share, when the config names a database.
    shared: Option<Arc<shared::SharedStore>>,
    /// The open connections of outbound nodes, by partner id: a number
    /// per connection (so a closing one does not remove its successor) and
    /// the node's client over it.
    tunnels: RwLock<HashMap<String, tunnel::Registered>>,
    /// Key lookups for contact requests per partner today (a bound: each
    /// lookup of a pseudonym asks an anonymous partner's node).
    recipient_lookups: Mutex<HashMap<String, (u64, u32)>>,
    /// Names anonymous partners to searchers, one pseudonym per search.
    pseudonyms: pseudonyms::Pseudonyms,
    /// The coordinator's own router, for the requests an outbound node
    /// sends over its connection (set when serving starts).
    router: std::sync::OnceLock<axum::Router>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Coordinator({} partners)",
            self.config.partners.len()
        )
    }
}

impl Coordinator {
    /// Whether the coordinator can do its work: its database answers and
    /// its state directory is there (what `/readyz` reports).
    pub(crate) async fn ready(&self) -> Result<(), String> {
        self.contacts
            .ping()
            .await
            .map_err(|error| format!("the coordinator's database: {error}"))?;
        if !self.config.state_dir.is_dir() {
            return Err("the state directory is gone".into());
        }
        Ok(())
    }

    /// Keeps the state replicas share in `store`: key epochs, sealed keys,
    /// contact requests, nonces, search and hit counts.
    pub(crate) async fn share(
        mut self,
        store: shared::SharedStore,
    ) -> Result<Coordinator, CoordinatorError> {
        let store = Arc::new(store);
        // A single coordinator moving to replicas: its own state goes into
        // the empty database first, not silently left behind (a suspended
        // partner would be searched again).
        let local = self.key_state();
        let sealed = self.local_sealed();
        let contacts = match &self.contacts {
            contacts::Contacts::Local(local) => local.all().unwrap_or_default(),
            contacts::Contacts::Shared(_) => Vec::new(),
        };
        let has_local = !local.retired.is_empty()
            || !local.suspended.is_empty()
            || !sealed.is_empty()
            || !contacts.is_empty();
        let failed = |error: shared::SharedError| CoordinatorError::Io {
            what: "the coordinators' database".into(),
            source: std::io::Error::other(error.to_string()),
        };
        if has_local && store.is_empty().await.map_err(failed)? {
            store
                .import(&local, &sealed, &contacts)
                .await
                .map_err(failed)?;
            tracing::warn!(
                retired = local.retired.len(),
                suspended = local.suspended.len(),
                sealed = sealed.len(),
                contacts = contacts.len(),
                "imported this coordinator's own state into the empty shared database"
            );
        }
        let state = store
            .key_state()
            .await
            .map_err(|error| CoordinatorError::Io {
                what: "the coordinators' database".into(),
                source: std::io::Error::other(error.to_string()),
            })?;
        self.key_state = Mutex::new(state);
        self.contacts = contacts::Contacts::Shared(store.clone());
        // One pseudonym key for all replicas: a pseudonym one made, another
        // opens.
        let key = store
            .pseudonym_key()
            .await
            .map_err(|error| CoordinatorError::Io {
                what: "the coordinators' database".into(),
                source: std::io::Error::other(error.to_string()),
            })?;
        self.pseudonyms = pseudonyms::Pseudonyms::from_key(key);
        self.shared = Some(store);
        Ok(self)
    }

    /// Builds the coordinator: an HTTP client per partner's node with
    /// connect and request timeouts, and the audit log opened for appending.
    pub fn new(config: CoordinatorConfig) -> Result<Coordinator, CoordinatorError> {
        // The coordinator's own certificate, for the nodes' mutual TLS.
        let identity = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => Some(poshuk_tls::ClientCertificate { cert, key }),
            _ => None,
        };
        // The federation's CA alone, not the system's roots; and each node's
        // certificate must name that partner, so one partner's certificate
        // cannot stand in for another's node.
        let client_for = |partner: &str| -> Result<reqwest::Client, CoordinatorError> {
            poshuk_tls::client_builder(config.tls.ca.as_deref(), identity, Some(partner))?
                .connect_timeout(Duration::from_millis(config.deadlines.connect_ms))
                .timeout(Duration::from_millis(config.deadlines.per_node_ms))
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .map_err(CoordinatorError::Client)
        };
        let nodes = config
            .partners
            .iter()
            .map(|partner| {
                let http = client_for(&partner.id)?;
                // An outbound node has no URL: its client's requests go over
                // its connection, and the URL only carries the path.
                let url = if partner.outbound || partner.node_url.is_empty() {
                    tunnel::PLACEHOLDER_URL
                } else {
                    &partner.node_url
                };
                let client = match &partner.node_token {
                    Some(secret) => ApiClient::signed(
                        http.clone(),
                        url,
                        poshuk_protocol::signed::COORDINATOR_KEY_ID,
                        secret,
                    ),
                    None => ApiClient::new(http.clone(), url, None),
                };
                Ok((partner.id.clone(), client))
            })
            .collect::<Result<_, CoordinatorError>>()?;
        let audit = poshuk_audit::AuditLog::open(&config.audit_log, &config.state_dir)?;
        let config_limits_path = config.state_dir.join(LIMITS_FILE);
        let key_state = keys::KeyState::load(&config.state_dir)?;
        let contacts = contacts::ContactStore::open(&config.state_dir).map_err(|error| {
            CoordinatorError::Io {
                what: format!(
                    "{} in {}",
                    contacts::DATABASE_FILE,
                    config.state_dir.display()
                ),
                source: std::io::Error::other(error.to_string()),
            }
        })?;
        let metrics = metrics::Metrics::new(config.partners.len());
        let config_state_dir = config.state_dir.clone();
        Ok(Coordinator {
            config,
            nodes,
            audit,
            metrics,
            views: RwLock::new(HashMap::new()),
            key_state: Mutex::new(key_state),
            admission: Arc::new(limits::Admission::load(&config_limits_path)),
            replays: Default::default(),
            contacts: contacts::Contacts::Local(Arc::new(contacts)),
            shared: None,
            tunnels: RwLock::new(HashMap::new()),
            recipient_lookups: Mutex::new(HashMap::new()),
            router: std::sync::OnceLock::new(),
            pseudonyms: pseudonyms::Pseudonyms::load_or_create(&config_state_dir).map_err(
                |source| CoordinatorError::Io {
                    what: format!("{} in the state directory", pseudonyms::KEY_FILE),
                    source,
                },
            )?,
        })
    }

    /// The client of a partner's node: over its connection for an
    /// outbound node (`None` while it is not connected).
    fn node(&self, partner: &PartnerConfig) -> Option<ApiClient> {
        if partner.outbound {
            return self.tunnels.read().ok().and_then(|tunnels| {
                tunnels
                    .get(&partner.id)
                    .map(|registered| registered.client.clone())
            });
        }
        if partner.node_url.is_empty() {
            // A partner without a node.
            return None;
        }
        self.nodes.get(&partner.id).cloned()
    }

    /// Counts one contact-key lookup by `partner` today; false beyond the
    /// day's bound (each lookup of a pseudonym asks an anonymous partner's
    /// node, and could serve to watch whether it is up).
    pub(crate) fn count_recipient_lookup(&self, partner: &str) -> bool {
        const PER_DAY: u32 = 100;
        let day = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() / 86_400)
            .unwrap_or(0);
        let Ok(mut lookups) = self.recipient_lookups.lock() else {
            return false;
        };
        lookups.retain(|_, (seen, _)| *seen == day);
        let entry = lookups.entry(partner.to_string()).or_insert((day, 0));
        entry.1 += 1;
        entry.1 <= PER_DAY
    }

    /// The partner a contact request's `to` names: a partner's id (not an
    /// anonymous one's: those are reached only under a pseudonym), or a
    /// pseudonym of an anonymous partner.
    pub(crate) fn owner_of(&self, to: &str) -> Option<String> {
        let id = match self.pseudonyms.partner_of(to) {
            Some(id) => id,
            None if !pseudonyms::is_pseudonym(to) => to.to_string(),
            None => return None,
        };
        let partner = self
            .config
            .partners
            .iter()
            .find(|partner| partner.id == id)?;
        (partner.anonymous == pseudonyms::is_pseudonym(to)).then_some(id)
    }

    /// The secret a signed request's key id names: a partner's token, or
    /// the admin token for `admin`.
    fn secret_of(&self, key_id: &str) -> Option<&[u8]> {
        if key_id == poshuk_protocol::signed::ADMIN_KEY_ID {
            return self.config.admin_token.as_deref().map(str::as_bytes);
        }
        self.config
            .partners
            .iter()
            .find(|partner| partner.id == key_id)
            .map(|partner| partner.token.as_bytes())
    }
}

/// Serves until `shutdown` completes; `on_listening` gets the URL actually bound (the config may ask for port 0),
/// followed by ` health=http://ADDRESS` when the probes' listener (`health_listen`) is configured.
pub async fn serve(
    config: CoordinatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(&str),
) -> Result<(), CoordinatorError> {
    let listen = config.listen;
    config
        .check_transport()
        .map_err(|message| ConfigError::Invalid {
            path: "the coordinator's config".into(),
            message,
        })?;
    let database_url = config.database_url.clone();
    let mut coordinator = Coordinator::new(config)?;
    if let Some(url) = database_url {
        let store =
            shared::SharedStore::connect(&url)
                .await
                .map_err(|error| CoordinatorError::Io {
                    what: "the coordinators' database".into(),
                    source: std::io::Error::other(error.to_string()),
                })?;
        coordinator = coordinator.share(store).await?;
        tracing::info!("state shared with other coordinator replicas in the database");
    }
    let coordinator = Arc::new(coordinator);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| CoordinatorError::Io {
            what: format!("cannot listen on {listen}"),
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| CoordinatorError::Io {
            what: "cannot read the bound address".into(),
            source,
        })?;
    // Which epochs each node serves, for routing queries and for
    // `keys status`.
    let poller = coordinator.clone();
    let interval = Duration::from_millis(coordinator.config.status_interval_ms.max(100));
    let polling = tokio::spawn(async move {
        let counts = poller.config.state_dir.join(LIMITS_FILE);
        let mut rounds: u64 = 0;
        loop {
            poller.refresh_all().await;
            // What another replica changed (a retirement, a suspension),
            // bounded: a database that hangs must not stop the polling.
            let _ = tokio::time::timeout(Duration::from_secs(5), poller.reload_key_state()).await;
            rounds += 1;
            if let Some(shared) = poller.shared.as_ref()
                && rounds.is_multiple_of(60)
            {
                let _ = tokio::time::timeout(Duration::from_secs(5), shared.prune()).await;
            }
            // Today's searches and hits per partner, so that a restart keeps
            // the day's quotas and hit budgets.
            if let Err(error) = poller.admission.save(&counts) {
                tracing::warn!(error = %error, "cannot save today's search counts");
            }
            tokio::time::sleep(interval).await;
        }
    });
    let tls = match (
        &coordinator.config.tls.cert,
        &coordinator.config.tls.key,
        &coordinator.config.tls.ca,
    ) {
        (Some(cert), Some(key), Some(ca)) => Some(poshuk_tls::server_config(cert, key, ca)?),
        _ => None,
    };
    let url = format!("{}://{bound}", if tls.is_some() { "https" } else { "http" });
    let partners = coordinator.config.partners.len();
    tracing::info!(listen = %url, partners, "coordinator listening");
    // The probes' own plain listener, on loopback (checked with the config).
    let health = match coordinator.config.health_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| CoordinatorError::Io {
                    what: format!("cannot listen on {address} (health_listen)"),
                    source,
                })?;
            let bound = listener
                .local_addr()
                .map_err(|source| CoordinatorError::Io {
                    what: "cannot read the health listener's address".into(),
                    source,
                })?;
            let app = http::health_router(coordinator.clone());
            Some((
                bound,
                tokio::spawn(async move {
                    let _ = axum::serve(poshuk_tls::GuardedListener::new(listener), app).await;
                }),
            ))
        }
        None => None,
    };
    // The address line, with the probes' listener when there is one.
    match &health {
        Some((address, _)) => on_listening(&format!("{url} health=http://{address}")),
        None => on_listening(&url),
    }
    let app = router(coordinator.clone());
    // An outbound node's own requests come over its connection and are
    // served by the same router, with the same checks.
    let _ = coordinator.router.set(app.clone());
    let served = match tls {
        Some(tls) => {
            let listener = poshuk_tls::TlsListener::new(listener, tls).map_err(|source| {
                CoordinatorError::Io {
                    what: "TLS listener".into(),
                    source,
                }
            })?;
            axum::serve(
                poshuk_tls::GuardedListener::new(listener),
                app.into_make_service_with_connect_info::<poshuk_tls::PeerParty>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        None => {
            axum::serve(
                poshuk_tls::GuardedListener::new(listener),
                app.into_make_service_with_connect_info::<poshuk_tls::PeerParty>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    };
    polling.abort();
    if let Some((_, health)) = health {
        health.abort();
    }
    served.map_err(|source| CoordinatorError::Io {
        what: "serving".into(),
        source,
    })
}

#[cfg(test)]
mod http_tests;
