//! A partner's node: a tantivy index of tokens served over HTTP.
//!
//! The node holds the federation keyring, tokenizes its partner's records
//! (received on the loopback-only local API), keeps only tokens in its index,
//! and answers token queries from the coordinator with ranked hits that carry
//! opaque handles. Invariant: nothing raw leaves this process; the index holds
//! no raw name, date or document number, and case ids only sealed under the
//! node's own key.

pub mod config;
pub mod coordinator_link;
pub mod generations;
pub mod index;
pub mod local_auth;
pub mod metrics;
mod secret;
pub mod service;
pub mod store;
pub mod vault;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

pub use config::{ConfigError, Limits, ListenConfig, NodeConfig};
pub use generations::Generations;
pub use index::{IndexSettings, TokenIndex};
pub use service::NodeState;

/// Errors of the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// File system failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being accessed.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The index is not as it must be.
    #[error("index: {0}")]
    Index(String),
    /// Tantivy failed.
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A secret file (keyring, identity) cannot be used.
    #[error(transparent)]
    SecretFile(#[from] poshuk_keys::FileError),
    /// The HTTP client toward the coordinator cannot be built.
    #[error("http client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// A secret file is unsafe or unusable.
    #[error("{0}")]
    Insecure(String),
    /// A lock was poisoned by a panic in another thread.
    #[error("internal lock poisoned")]
    Poisoned,
    /// The keyring cannot be used.
    #[error("keyring: {0}")]
    Keyring(String),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The index holds tokens of another tokenizer version, which this build
    /// does not search (they would meet a query's tokens only in part, or
    /// not at all).
    #[error(
        "this node's index holds tokens of tokenizer version {found}, this poshuk uses version {current}: tokens cannot be converted, load the partner's export again with `poshuk ingest --replace`"
    )]
    StaleTokens {
        /// The index's tokenizer version.
        found: u16,
        /// This build's.
        current: u16,
    },
}

impl From<std::io::Error> for NodeError {
    fn from(source: std::io::Error) -> NodeError {
        NodeError::Io {
            what: "index".into(),
            source,
        }
    }
}

/// Opens the index generations and builds the shared state for a
/// configuration.
pub fn open_state(
    config: &NodeConfig,
    storage_key: Option<vault::StorageKey>,
) -> Result<Arc<NodeState>, NodeError> {
    private_directory(&config.data_dir)?;
    let vault = open_vault(config, storage_key)?;
    let settings = IndexSettings {
        new_index_epoch: poshuk_core::Epoch(1),
        writer_memory_bytes: config.limits.writer_memory_bytes,
        max_candidates: config.limits.max_candidates,
        max_block_size: config.limits.max_block_size,
        commit_every_records: config.limits.commit_every_records,
        indexing_threads: config.limits.indexing_threads,
        commit_interval: std::time::Duration::from_millis(config.limits.commit_interval_ms),
        vault: vault.clone(),
    };
    let generations = Generations::open(&config.data_dir, &config.keyring, settings)?;
    let audit = poshuk_audit::AuditLog::open_with_limit(
        &config.audit_log_path(),
        &config.data_dir,
        config
            .audit_max_bytes
            .unwrap_or(poshuk_audit::DEFAULT_MAX_BYTES),
    )
    .map_err(|error| NodeError::Io {
        what: format!("audit log {}", error.path),
        source: error.source,
    })?;
    let audit = match vault.clone() {
        Some(vault) => audit.sealed_with(Box::new(move |plain| {
            vault
                .seal("audit", plain)
                .map_err(|error| std::io::Error::other(error.to_string()))
        })),
        None => audit,
    };
    let state = NodeState::new(
        config.partner_id.clone(),
        generations,
        service::NodeKeys {
            identity: config.identity_path(),
            admin_key: config.keys.admin_key.clone(),
        },
        config
            .coordinator
            .clone()
            .map(|mut link| {
                // The node's own certificate unless the link names another.
                if let Some((cert, key)) = config.client_certificate() {
                    (link.cert, link.key) = (Some(cert.into()), Some(key.into()));
                }
                link
            })
            .as_ref(),
        &config.federation,
        local_auth::LocalCredentials::open_or_create(&config.data_dir)?,
        audit,
    )?;
    let state = if config.web.enabled {
        let store = match vault {
            Some(vault) => store::Store::open_sealed(&config.data_dir, vault),
            None => store::Store::open(&config.data_dir),
        }
        .map_err(|error| NodeError::Io {
            what: "node database".into(),
            source: std::io::Error::other(error.to_string()),
        })?;
        state.with_web(service::web::Web::new(store, config.web.clone()))
    } else {
        state
    };
    Ok(Arc::new(state))
}

/// The node's vault when `[storage] encrypted` is set, unlocked with
/// `storage_key` (the command line's prompt) or the key its config names; a
/// data directory that holds a vault is never opened without it.
fn open_vault(
    config: &NodeConfig,
    storage_key: Option<vault::StorageKey>,
) -> Result<Option<Arc<vault::Vault>>, NodeError> {
    let insecure = |error: vault::VaultError| NodeError::Insecure(error.to_string());
    let Some(source) = config.storage.source().map_err(NodeError::Insecure)? else {
        if vault::Vault::exists(&config.data_dir) {
            return Err(NodeError::Insecure(format!(
                "{} holds an encrypted node, and [storage] encrypted is not set in the config",
                config.data_dir.display()
            )));
        }
        return Ok(None);
    };
    let key = match storage_key {
        Some(key) => key,
        None => vault::StorageKey::from_source(&source).map_err(insecure)?,
    };
    let vault = vault::Vault::open_or_create(&config.data_dir, &key).map_err(insecure)?;
    // The process holds the data key and the decrypted index: a crash must
    // not write them to a core file on the disk this protects.
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if rustix::process::setrlimit(rustix::process::Resource::Core, none).is_err() {
        tracing::warn!("core dumps could not be turned off");
    }
    Ok(Some(Arc::new(vault)))
}

/// Creates the data directory if needed and keeps it to the node's own OS
/// user (0700): the index, the audit log and the node's secret are inside,
/// and files a library creates there may be readable by others.
fn private_directory(dir: &std::path::Path) -> Result<(), NodeError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| NodeError::Io {
        what: format!("data directory {}", dir.display()),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mode = std::fs::metadata(dir).map_err(failed)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
    }
    Ok(())
}

/// Connections the local listener holds at once (its staff and tools; the
/// rest wait in the kernel's backlog).
const LOCAL_CONNECTIONS: usize = 256;

/// Where a started node listens: the addresses actually bound, so a config
/// may ask for port 0 and the caller still learns the ports.
#[derive(Debug, Clone)]
pub struct Listening {
    /// The federation API, with its scheme (`https://` with TLS).
    pub federation: String,
    /// The local API.
    pub local: String,
}

/// Serves both APIs until `shutdown` completes; `on_listening` is called once
/// both listeners are bound, with their addresses.
pub async fn serve(
    config: NodeConfig,
    storage_key: Option<vault::StorageKey>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(&Listening),
) -> Result<(), NodeError> {
    config.check_transport().map_err(NodeError::Insecure)?;
    let bind = |address| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| NodeError::Io {
                what: format!("cannot listen on {address}"),
                source,
            })
    };
    // Bound first, before the index opens: a node restarted on its own
    // addresses takes them back at once. Connections wait in the backlog
    // until the routers serve.
    let federation = match config.listen.federation {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    let local = bind(config.listen.local).await?;
    let state = tokio::task::spawn_blocking({
        let config = config.clone();
        move || open_state(&config, storage_key)
    })
    .await
    .map_err(|_| NodeError::Index("opening the index panicked".into()))??;
    if config.federation.token.is_none() {
        tracing::warn!(
            "no [federation] token: the federation API answers nothing but the probes, and no coordinator can search this node"
        );
    }
    if !config.listen.local.ip().is_loopback() {
        tracing::warn!(
            local = %config.listen.local,
            "the local API accepts raw records and is not on loopback: make sure only your own staff can reach it"
        );
    }
    let federation_tls = match (
        &config.listen.tls_cert,
        &config.listen.tls_key,
        config.federation_ca(),
    ) {
        (Some(cert), Some(key), Some(ca)) => Some(
            poshuk_tls::server_config(cert, key, ca)
                .map_err(|error| NodeError::Insecure(error.to_string()))?,
        ),
        _ => None,
    };
    let address = |listener: &tokio::net::TcpListener| {
        listener.local_addr().map_err(|source| NodeError::Io {
            what: "cannot read the bound address".into(),
            source,
        })
    };
    let scheme = if federation_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let listening = Listening {
        federation: match &federation {
            Some(federation) => format!("{scheme}://{}", address(federation)?),
            None => OUTBOUND.to_string(),
        },
        local: format!("http://{}", address(&local)?),
    };
    local_auth::note_local_address(&address(&local)?.to_string(), &config.data_dir);
    tracing::info!(
        partner = %config.partner_id,
        federation = %listening.federation,
        local = %listening.local,
        records = state.record_count(),
        epochs = ?state.generations.served_epochs(),
        "node listening"
    );
    on_listening(&listening);
    if let Ok(generations) = state.generations.all()
        && let Some(oldest) = generations
            .iter()
            .map(|generation| generation.index.tokenizer_version())
            .min()
        && oldest != poshuk_core::TOKENIZER_VERSION
    {
        tracing::warn!(
            index = oldest,
            current = poshuk_core::TOKENIZER_VERSION,
            "the index holds tokens of another tokenizer version: searches are refused until a full ingest (`poshuk ingest --replace`) loads the export again"
        );
    }
    // A re-key interrupted by a crash, or a key installed while the node was
    // down, continues now, while the current generation serves.
    state.start_rekey();
    let (stop_sender, stop_receiver) = tokio::sync::watch::channel(false);
    let federation_app = service::federation_router(state.clone(), &config.limits);
    let mut local_app = service::local_router(state.clone(), &config.limits);
    if state.serves_web() {
        local_app = local_app.merge(service::web::router(state.clone(), &config.limits));
    }
    let wait = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stopped| *stopped).await;
    };
    let federation_stop = wait(stop_receiver.clone());
    let outbound: Vec<_> = outbound_endpoints(&config)
        .into_iter()
        .enumerate()
        .map(|(index, endpoint)| {
            tokio::spawn(keep_connected(
                index,
                endpoint,
                federation_app.clone(),
                state.clone(),
            ))
        })
        .collect();
    let federation_server = async move {
        match (federation, federation_tls) {
            (None, _) => {
                federation_stop.await;
                Ok(())
            }
            (Some(federation), Some(tls)) => {
                let listener = poshuk_tls::TlsListener::new(federation, tls)?;
                axum::serve(
                    poshuk_tls::GuardedListener::new(listener),
                    federation_app.into_make_service_with_connect_info::<poshuk_tls::PeerParty>(),
                )
                .with_graceful_shutdown(federation_stop)
                .await
            }
            (Some(federation), None) => {
                axum::serve(
                    poshuk_tls::GuardedListener::new(federation),
                    federation_app.into_make_service_with_connect_info::<poshuk_tls::PeerParty>(),
                )
                .with_graceful_shutdown(federation_stop)
                .await
            }
        }
    };
    // Guarded like the federation's: a local client trickling headers into
    // thousands of connections must not take the node's file descriptors.
    let local_server = axum::serve(
        poshuk_tls::GuardedListener::with_limits(
            local,
            LOCAL_CONNECTIONS,
            poshuk_tls::IDLE_TIMEOUT,
        )
        .per_peer(LOCAL_CONNECTIONS / 2),
        local_app,
    )
    .with_graceful_shutdown(wait(stop_receiver));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });
    // Pending ingests are committed on a timer, not only when a batch fills.
    let committer = state.clone();
    let interval = std::time::Duration::from_millis(config.limits.commit_interval_ms.max(100));
    let commit_timer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let state = committer.clone();
            let result = tokio::task::spawn_blocking(move || commit_all(&state)).await;
            if let Ok(Err(error)) = result {
                tracing::error!(error = %error, "periodic commit failed");
            }
        }
    });
    let (first, second) = tokio::join!(federation_server, local_server);
    commit_timer.abort();
    for connection in outbound {
        connection.abort();
    }
    let final_commit = state.clone();
    let _ = tokio::task::spawn_blocking(move || commit_all(&final_commit)).await;
    first.and(second).map_err(|source| NodeError::Io {
        what: "serving".into(),
        source,
    })
}

/// What [`Listening::federation`] says for a node that opens no port.
pub const OUTBOUND: &str = "outbound";

/// Where an outbound node connects (one connection per coordinator
/// replica it names, else its coordinator's URL), and as whom; none when
/// it listens.
fn outbound_endpoints(config: &NodeConfig) -> Vec<poshuk_tls::tunnel::Endpoint> {
    let Some(link) = config.coordinator.as_ref().filter(|link| link.outbound) else {
        return Vec::new();
    };
    let (cert, key) = match config.client_certificate() {
        Some((cert, key)) => (Some(cert.to_path_buf()), Some(key.to_path_buf())),
        None => (None, None),
    };
    let urls = if link.tunnel_urls.is_empty() {
        std::slice::from_ref(&link.url)
    } else {
        link.tunnel_urls.as_slice()
    };
    urls.iter()
        .map(|url| poshuk_tls::tunnel::Endpoint {
            url: url.clone(),
            ca: link.ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
            partner_id: config.partner_id.clone(),
            token: zeroize::Zeroizing::new(link.token.clone()),
        })
        .collect()
}

/// A connection that lasted this long was a success: the next failure
/// starts the backoff over.
const STEADY_CONNECTION: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps an outbound node connected: dials, answers the coordinator's
/// requests with the federation router until the connection ends, and dials
/// again after a jittered, growing wait. Runs until the node stops.
async fn keep_connected(
    index: usize,
    endpoint: poshuk_tls::tunnel::Endpoint,
    router: axum::Router,
    state: Arc<NodeState>,
) {
    let peer = if endpoint.url.starts_with("https:") {
        poshuk_tls::PeerParty::over_tls(poshuk_protocol::signed::COORDINATOR_KEY_ID)
    } else {
        poshuk_tls::PeerParty::plain()
    };
    let mut failures: u32 = 0;
    loop {
        match poshuk_tls::tunnel::connect(&endpoint).await {
            Ok(connection) => {
                let opened = std::time::Instant::now();
                let ended =
                    poshuk_tls::tunnel::run(connection, router.clone(), peer.clone(), |tunnel| {
                        if let Some(link) = state.coordinator_link() {
                            link.set_tunnel(index, Some(tunnel));
                        }
                        tracing::info!(
                            "connected to the coordinator: answering the federation over it"
                        );
                    })
                    .await;
                if let Some(link) = state.coordinator_link() {
                    link.set_tunnel(index, None);
                }
                tracing::warn!(why = ?ended, "the connection to the coordinator ended");
                failures = if opened.elapsed() > STEADY_CONNECTION {
                    0
                } else {
                    failures + 1
                };
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot connect to the coordinator");
                failures = failures.saturating_add(1);
            }
        }
        tokio::time::sleep(poshuk_tls::tunnel::backoff(failures)).await;
    }
}

fn commit_all(state: &NodeState) -> Result<(), NodeError> {
    for generation in state.generations.all()? {
        generation.index.commit_pending()?;
    }
    Ok(())
}
