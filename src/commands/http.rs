//! The command line's calls to a node's local API or to the coordinator,
//! through the project's one typed client (`poshuk_protocol::client`),
//! driven by a small runtime so that commands stay plain blocking code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use poshuk_protocol::client::{ApiClient, ClientError, Credential};
use poshuk_protocol::local_credentials;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// Which local credential a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalNeed {
    /// Search, resolve, status: `local-search.token` is enough.
    Search,
    /// Ingest, delete, keys: `local-admin.token`.
    Admin,
}

/// How a command reaches one's own node: its local API and its credential.
#[derive(Args, Clone, Debug)]
pub(crate) struct NodeAccess {
    /// Your node's local API.
    #[arg(long, default_value = "http://127.0.0.1:7402")]
    pub(crate) node: String,
    /// The node's local credential (`local-admin.token`, or
    /// `local-search.token` to search only, in the node's data directory).
    /// Not needed when you run the node yourself: it notes where its
    /// credentials are for its own OS user.
    #[arg(long, env = "POSHUK_NODE_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
}

impl NodeAccess {
    /// The node at `url`, its credential found as for `poshuk search`.
    pub(crate) fn at(url: &str) -> NodeAccess {
        NodeAccess {
            node: url.to_string(),
            token_file: None,
        }
    }

    /// The bearer token: from `--token-file`, or from the data directory the
    /// node noted under its local address for this OS user.
    fn credential(&self, need: LocalNeed) -> anyhow::Result<Zeroizing<String>> {
        let path = match &self.token_file {
            Some(path) => path.clone(),
            None => {
                let address = local_credentials::address_of(&self.node);
                let data_dir = local_credentials::registry_entry(address)
                    .and_then(|note| std::fs::read_to_string(note).ok())
                    .ok_or_else(|| {
                        anyhow!(
                            "no credential for the node at {}: give --token-file (the node keeps {} and {} in its data directory)",
                            self.node,
                            local_credentials::ADMIN_TOKEN_FILE,
                            local_credentials::SEARCH_TOKEN_FILE
                        )
                    })?;
                let file = match need {
                    LocalNeed::Search => local_credentials::SEARCH_TOKEN_FILE,
                    LocalNeed::Admin => local_credentials::ADMIN_TOKEN_FILE,
                };
                Path::new(data_dir.trim()).join(file)
            }
        };
        let text = poshuk_keys::files::load_secret(
            &path,
            "local credential",
            "poshuk node (it makes its credentials on first start)",
        )?;
        Ok(Zeroizing::new(text.trim().to_string()))
    }
}

/// How a command's client speaks TLS: the federation's CA, its own
/// certificate, and the party the server's certificate must name.
#[derive(Default)]
struct Tls<'a> {
    ca: Option<&'a Path>,
    identity: Option<poshuk_tls::ClientCertificate<'a>>,
    server_party: Option<&'a str>,
}

/// A server the command talks to, with the runtime that drives its client.
/// `Sync`: the worker pool's threads share one.
pub(crate) struct Server {
    runtime: tokio::runtime::Runtime,
    client: ApiClient,
}

impl Server {
    /// One's own node's local API (plain HTTP on loopback) with the local
    /// credential `need` calls for. `timeout` bounds each request: an
    /// ingest batch may take minutes.
    pub(crate) fn node(
        access: &NodeAccess,
        need: LocalNeed,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        let token = access.credential(need)?;
        let credential = Credential::Bearer(token.to_string());
        Server::build(&access.node, credential, Tls::default(), timeout)
    }

    /// The coordinator, as the federation's admin: its admin token, and the
    /// federation's CA alone for an https coordinator.
    pub(crate) fn coordinator(
        url: &str,
        admin_token: &str,
        ca: Option<&Path>,
        identity: Option<poshuk_tls::ClientCertificate<'_>>,
    ) -> anyhow::Result<Server> {
        if url.starts_with("https:") && (ca.is_none() || identity.is_none()) {
            bail!(
                "the coordinator is https: name the federation's CA with --ca (or POSHUK_CA) and the admin's certificate with --cert and --key (POSHUK_TLS_CERT, POSHUK_TLS_KEY; `poshuk tls init --party admin`)"
            );
        }
        // Signed as the admin: the token itself never travels.
        let credential = Credential::Signed {
            key_id: poshuk_protocol::signed::ADMIN_KEY_ID.to_string(),
            secret: Zeroizing::new(admin_token.to_string()),
        };
        let tls = Tls {
            ca,
            identity,
            server_party: Some(poshuk_protocol::signed::COORDINATOR_KEY_ID),
        };
        Server::build(url, credential, tls, Duration::from_secs(120))
    }

    fn build(
        url: &str,
        credential: Credential,
        tls: Tls<'_>,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        // The staff user behind the command, for the node's audit log.
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(staff) = std::env::var("POSHUK_STAFF")
            .ok()
            .and_then(|name| reqwest::header::HeaderValue::from_str(name.trim()).ok())
        {
            headers.insert(poshuk_protocol::routes::STAFF_HEADER, staff);
        }
        let http = poshuk_tls::client_builder(tls.ca, tls.identity, tls.server_party)?
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Server {
            runtime,
            client: ApiClient::with_credential(http, url, credential),
        })
    }

    /// `POST route` with a JSON body, answered with JSON.
    pub(crate) fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let answer = self.client.post_json(route, body, "answer");
        self.runtime
            .block_on(answer)
            .map_err(|error| self.failed(error))
    }

    /// `GET route`, answered with JSON.
    pub(crate) fn get<T: DeserializeOwned>(&self, route: &str) -> anyhow::Result<T> {
        let answer = self.client.get_json(route, "answer");
        self.runtime
            .block_on(answer)
            .map_err(|error| self.failed(error))
    }

    /// `POST route` with a file's bytes, answered with JSON.
    pub(crate) fn post_file<T: DeserializeOwned>(
        &self,
        route: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<T> {
        let content_type = "application/octet-stream";
        let answer = self
            .client
            .post_bytes(route, content_type, bytes, None, "answer");
        self.runtime
            .block_on(answer)
            .map_err(|error| self.failed(error))
    }

    /// `PUT route` with a file's bytes.
    pub(crate) fn put_file(&self, route: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let answer = self.client.put_bytes(route, bytes);
        self.runtime
            .block_on(answer)
            .map_err(|error| self.failed(error))
    }

    /// An error in words: the server's own message when it answered, where
    /// it is when it could not be reached.
    fn failed(&self, error: ClientError) -> anyhow::Error {
        match error {
            ClientError::Refused { status, body } => {
                let reason = reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|status| status.canonical_reason())
                    .unwrap_or("");
                anyhow!("{status} {reason}: {}", body.message)
            }
            error => anyhow!(error).context(format!("talking to {}", self.client.base())),
        }
    }
}
