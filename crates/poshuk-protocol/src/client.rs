//! The one HTTP client of the project's APIs: the node toward the coordinator,
//! the coordinator toward the nodes, and the command line toward both.
//!
//! It knows the routes and the error body, so a caller gets a typed answer
//! or a [`ClientError`] that says whether the server was unreachable, too
//! slow, or refused the request (with the server's own message). The
//! underlying `reqwest::Client` is built by the caller (it decides whom to
//! trust: the federation's CA, see `poshuk-tls`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    EpochQueries, ErrorBody, ErrorKind, FederatedResponse, FederationEpochs, NodeRetire,
    NodeStatus, SearchResponse, routes,
};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection could be made.
    #[error("cannot be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// No answer before the deadline.
    #[error("no answer before the deadline")]
    TimedOut,
    /// The server answered with an error.
    #[error("answered {status}: {}", body.message)]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's error body (or one made from the status).
        body: ErrorBody,
    },
    /// The answer is not what the route returns.
    #[error("the answer is not a valid {0}")]
    BadAnswer(&'static str),
    /// The request failed otherwise.
    #[error("request failed: {0}")]
    Other(#[source] reqwest::Error),
}

impl ClientError {
    fn from_send(error: reqwest::Error) -> ClientError {
        if error.is_timeout() {
            ClientError::TimedOut
        } else if error.is_connect() {
            ClientError::Unreachable(error.without_url())
        } else {
            ClientError::Other(error.without_url())
        }
    }

    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one server (a node or the coordinator), with its bearer token.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        write!(formatter, "ApiClient({})", self.base)
    }
}

impl ApiClient {
    /// A client of the server at `base` (`http://host:port`), presenting
    /// `token` as a bearer token when given.
    pub fn new(http: reqwest::Client, base: &str, token: Option<String>) -> ApiClient {
        ApiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{route}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        };
        let response = request.send().await.map_err(ClientError::from_send)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response
            .json::<ErrorBody>()
            .await
            .unwrap_or_else(|_| ErrorBody {
                message: status.to_string(),
                code: "http_error".into(),
                kind: ErrorKind::of_status(status.as_u16()),
            });
        Err(ClientError::Refused {
            status: status.as_u16(),
            body,
        })
    }

    async fn json<T: DeserializeOwned>(
        response: reqwest::Response,
        what: &'static str,
    ) -> Result<T, ClientError> {
        response.json::<T>().await.map_err(|error| {
            if error.is_timeout() {
                ClientError::TimedOut
            } else {
                ClientError::BadAnswer(what)
            }
        })
    }

    /// `GET route`, answered with JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        route: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let response = self
            .send(self.request(reqwest::Method::GET, route), None)
            .await?;
        ApiClient::json(response, what).await
    }

    /// `POST route` with a JSON body, answered with JSON.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let response = self
            .send(self.request(reqwest::Method::POST, route).json(body), None)
            .await?;
        ApiClient::json(response, what).await
    }

    /// `POST route` with raw bytes (a pre-serialized JSON body, or a file),
    /// answered with JSON, within `timeout`.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        route: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let request = self
            .request(reqwest::Method::POST, route)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = self.send(request, timeout).await?;
        ApiClient::json(response, what).await
    }

    /// `PUT route` with raw bytes; any success answer.
    pub async fn put_bytes(
        &self,
        route: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(), ClientError> {
        let request = self
            .request(reqwest::Method::PUT, route)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.send(request, None).await.map(drop)
    }

    /// `GET route`, answered with bytes.
    pub async fn get_bytes(&self, route: &str) -> Result<Vec<u8>, ClientError> {
        let response = self
            .send(self.request(reqwest::Method::GET, route), None)
            .await?;
        response
            .bytes()
            .await
            .map(|bytes| bytes.to_vec())
            .map_err(|_| ClientError::BadAnswer("file"))
    }

    // The federation API of a node, as the coordinator calls it.

    /// A token query (pre-serialized: the coordinator sends the same bytes
    /// to every node) within `timeout`.
    pub async fn node_search(
        &self,
        query_json: impl Into<reqwest::Body>,
        timeout: Duration,
    ) -> Result<SearchResponse, ClientError> {
        self.post_bytes(
            routes::node::SEARCH,
            "application/json",
            query_json,
            Some(timeout),
            "search response",
        )
        .await
    }

    /// A node's status.
    pub async fn node_status(&self) -> Result<NodeStatus, ClientError> {
        self.get_json(routes::node::STATUS, "node status").await
    }

    /// Tells a node to drop an epoch's generations, within `timeout`.
    pub async fn node_retire(
        &self,
        epoch: u32,
        timeout: Duration,
    ) -> Result<NodeStatus, ClientError> {
        let body = serde_json_body(&NodeRetire { epoch });
        self.post_bytes(
            routes::node::RETIRE,
            "application/json",
            body,
            Some(timeout),
            "node status",
        )
        .await
    }

    // The coordinator, as a searcher's node calls it.

    /// A federated search, optionally restricted to some partners.
    pub async fn federated_search(
        &self,
        queries: &EpochQueries,
        partners: Option<&[String]>,
    ) -> Result<FederatedResponse, ClientError> {
        let mut request = self
            .request(reqwest::Method::POST, routes::coordinator::FEDERATED_SEARCH)
            .json(queries);
        if let Some(partners) = partners {
            // Encoded as a query parameter, whatever characters the ids hold.
            request = request.query(&[("partners", partners.join(","))]);
        }
        let response = self.send(request, None).await?;
        ApiClient::json(response, "federated response").await
    }

    /// The epochs searches should be tokenized for.
    pub async fn epochs(&self) -> Result<FederationEpochs, ClientError> {
        self.get_json(routes::coordinator::EPOCHS, "epoch list")
            .await
    }

    /// This partner's sealed key for `epoch`, from the relay.
    pub async fn sealed_key(&self, epoch: u32) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!(
            "{}?epoch={epoch}",
            routes::coordinator::SEALED_KEY
        ))
        .await
    }
}

fn serde_json_body<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing the protocol's own types cannot fail (no maps with
    // non-string keys, no failing Serialize impls).
    serde_json::to_vec(value).unwrap_or_default()
}
