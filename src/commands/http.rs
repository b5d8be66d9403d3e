//! The command line's calls to a node's local API or to the coordinator,
//! through the project's one typed client (`poshuk_protocol::client`),
//! driven by a small runtime so that commands stay plain blocking code.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use poshuk_protocol::client::{ApiClient, ClientError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A server the command talks to, with the runtime that drives its client.
/// `Sync`: the worker pool's threads share one.
pub(crate) struct Server {
    runtime: tokio::runtime::Runtime,
    client: ApiClient,
}

impl Server {
    /// One's own node's local API (plain HTTP on loopback, no credential).
    /// `timeout` bounds each request: an ingest batch may take minutes.
    pub(crate) fn node(url: &str, timeout: Duration) -> anyhow::Result<Server> {
        Server::build(url, None, None, timeout)
    }

    /// The coordinator, as the federation's admin: its admin token, and the
    /// federation's CA alone for an https coordinator.
    pub(crate) fn coordinator(
        url: &str,
        admin_token: &str,
        ca: Option<&Path>,
    ) -> anyhow::Result<Server> {
        if ca.is_none() && url.starts_with("https:") {
            bail!("the coordinator is https: name the federation's CA with --ca (or POSHUK_CA)");
        }
        let token = Some(admin_token.to_string());
        Server::build(url, token, ca, Duration::from_secs(120))
    }

    fn build(
        url: &str,
        token: Option<String>,
        ca: Option<&Path>,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        let http = poshuk_tls::client_builder(ca)?
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
            client: ApiClient::new(http, url, token),
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
