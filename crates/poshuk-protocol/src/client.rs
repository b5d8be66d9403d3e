//! The one HTTP client of the project's APIs: the node toward the coordinator,
//! the coordinator toward the nodes, and the command line toward both (through
//! its blocking wrapper, `src/commands/http.rs`).
//!
//! It knows the routes and the error body, so a caller gets a typed answer
//! or a [`ClientError`] that says whether the server was unreachable, too
//! slow, or refused the request (with the server's own message). Every answer
//! is read with a size cap: a broken or hostile server cannot make its caller
//! hold an unbounded body. The underlying `reqwest::Client` is built by the
//! caller (it decides whom to trust: the federation's CA, see `poshuk-tls`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    EpochQueries, ErrorBody, ErrorKind, FederatedResponse, FederationEpochs, NodeRetire,
    NodeStatus, SearchResponse, routes,
};

/// Largest answer read: a federated response of `MAX_LIMIT` hits is far
/// below it, and so is a sealed key file.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Largest error body read; longer messages are cut.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Longest server message passed on in a [`ClientError`], in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Why a call failed. The messages carry no URL and no credential.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection could be made.
    #[error("cannot be reached")]
    Unreachable(#[source] reqwest::Error),
    /// No answer before the deadline.
    #[error("no answer before the deadline")]
    TimedOut,
    /// The server answered with an error.
    #[error("answered {status}: {}", body.message)]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's error body (or one made from the status), its
        /// message cut to a few hundred characters.
        body: ErrorBody,
    },
    /// The answer is not what the route returns.
    #[error("the answer is not a valid {0}")]
    BadAnswer(&'static str),
    /// The answer is larger than [`MAX_ANSWER_BYTES`]: not read.
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// The request failed otherwise.
    #[error("the request failed")]
    Other(#[source] reqwest::Error),
    /// The request cannot be signed (a streamed body, no randomness).
    #[error("the request cannot be signed")]
    Unsignable,
    /// The server is reached over a connection it opened
    /// ([`crate::tunnel`]), and none is open now.
    #[error("not connected")]
    Disconnected,
}

impl ClientError {
    fn from_reqwest(error: reqwest::Error) -> ClientError {
        if error.is_timeout() {
            ClientError::TimedOut
        } else if error.is_connect() {
            ClientError::Unreachable(error.without_url())
        } else {
            ClientError::Other(error.without_url())
        }
    }
}

/// How a client proves who it is.
#[derive(Clone)]
pub enum Credential {
    /// None (the probes).
    None,
    /// A bearer token: the local API of one's own node, on loopback.
    Bearer(String),
    /// Requests signed with a shared secret under a key id
    /// ([`crate::signed`]): the federation's API, where a token must not
    /// travel and a captured request must not be accepted twice.
    Signed {
        /// A partner id, `coordinator` or `admin`.
        key_id: String,
        /// The secret both sides hold (wiped when dropped).
        secret: zeroize::Zeroizing<String>,
    },
}

/// A client of one server (a node or the coordinator), with its credential.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    credential: Credential,
    /// The connection the server opened, when requests go over it instead
    /// of to `base` (an outbound-only node).
    tunnel: Option<std::sync::Arc<crate::tunnel::Tunnel>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        write!(formatter, "ApiClient({})", self.base())
    }
}

/// Reads a body up to `cap` bytes; `None` when it is longer.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Option<Vec<u8>>, ClientError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ClientError::from_reqwest)? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The error an answer with a failing status becomes: the server's error
/// body if it sent one, its message cut to [`MAX_MESSAGE_CHARS`].
fn refused(status: u16, body: Option<&[u8]>) -> ClientError {
    let mut body = body
        .and_then(|bytes| serde_json::from_slice::<ErrorBody>(bytes).ok())
        .unwrap_or_else(|| ErrorBody {
            message: reqwest::StatusCode::from_u16(status)
                .map_or_else(|_| status.to_string(), |status| status.to_string()),
            code: "http_error".into(),
            kind: ErrorKind::of_status(status),
        });
    if body.message.chars().count() > MAX_MESSAGE_CHARS {
        body.message = body.message.chars().take(MAX_MESSAGE_CHARS).collect();
        body.message.push('…');
    }
    ClientError::Refused { status, body }
}

/// A built request's path and query: what is signed, and what a tunnel
/// carries.
fn path_and_query(request: &reqwest::Request) -> String {
    let url = request.url();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// A built request's body: every body this client sends is in memory
/// (JSON, a file's bytes).
fn body_of(request: &reqwest::Request) -> Result<&[u8], ClientError> {
    Ok(request
        .body()
        .map(|body| body.as_bytes().ok_or(ClientError::Unsignable))
        .transpose()?
        .unwrap_or_default())
}

/// Sends a built, signed request over a connection the server opened.
async fn tunneled(
    tunnel: &crate::tunnel::Tunnel,
    request: reqwest::Request,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, ClientError> {
    use crate::tunnel::TunnelError;
    let header = |name: reqwest::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let path = path_and_query(&request);
    let body = body_of(&request)?.to_vec();
    let sent = crate::tunnel::TunnelRequest {
        method: request.method().to_string(),
        path,
        authorization: header(reqwest::header::AUTHORIZATION),
        content_type: header(reqwest::header::CONTENT_TYPE),
        body,
    };
    let answer = tunnel
        .exchange(sent, timeout)
        .await
        .map_err(|error| match error {
            TunnelError::Closed => ClientError::Disconnected,
            TunnelError::TimedOut => ClientError::TimedOut,
            TunnelError::Busy => refused(503, None),
            TunnelError::TooLarge => ClientError::TooLarge,
        })?;
    if (200..300).contains(&answer.status) {
        if answer.body.len() > MAX_ANSWER_BYTES {
            return Err(ClientError::TooLarge);
        }
        return Ok(answer.body);
    }
    let cut = &answer.body[..answer.body.len().min(MAX_ERROR_BYTES)];
    Err(refused(answer.status, Some(cut)))
}

impl ApiClient {
    /// A client of the server at `base` (`http://host:port`), presenting
    /// `token` as a bearer token when given (the local API).
    pub fn new(http: reqwest::Client, base: &str, token: Option<String>) -> ApiClient {
        let credential = match token {
            Some(token) => Credential::Bearer(token),
            None => Credential::None,
        };
        ApiClient::with_credential(http, base, credential)
    }

    /// A client of a federation server, signing each request as `key_id`
    /// with `secret`.
    pub fn signed(http: reqwest::Client, base: &str, key_id: &str, secret: &str) -> ApiClient {
        let credential = Credential::Signed {
            key_id: key_id.to_string(),
            secret: zeroize::Zeroizing::new(secret.to_string()),
        };
        ApiClient::with_credential(http, base, credential)
    }

    /// A client presenting `credential`.
    pub fn with_credential(http: reqwest::Client, base: &str, credential: Credential) -> ApiClient {
        ApiClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            credential,
            tunnel: None,
        }
    }

    /// The same client, its requests sent over `tunnel` (a connection the
    /// server opened) instead of to its URL: signed the same way, answered
    /// the same way.
    pub fn over_tunnel(mut self, tunnel: std::sync::Arc<crate::tunnel::Tunnel>) -> ApiClient {
        self.tunnel = Some(tunnel);
        self
    }

    /// The server's base URL, without any user or password in it.
    pub fn base(&self) -> &str {
        match self.base.split_once("://") {
            Some((_, rest)) if rest.contains('@') => "<a URL with credentials>",
            _ => &self.base,
        }
    }

    fn request(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{route}", self.base));
        match &self.credential {
            Credential::Bearer(token) => request.bearer_auth(token),
            // Signed in `send`, once the body and query are final.
            Credential::Signed { .. } | Credential::None => request,
        }
    }

    /// Signs a built request (method, path and query, body) when this
    /// client signs.
    fn sign(&self, request: &mut reqwest::Request) -> Result<(), ClientError> {
        let Credential::Signed { key_id, secret } = &self.credential else {
            return Ok(());
        };
        let path_and_query = path_and_query(request);
        let body = body_of(request)?;
        let value = crate::signed::sign(
            key_id,
            secret.as_bytes(),
            request.method().as_str(),
            &path_and_query,
            body,
            crate::signed::now_ms(),
        )
        .map_err(|_| ClientError::Unsignable)?;
        let value =
            reqwest::header::HeaderValue::from_str(&value).map_err(|_| ClientError::Unsignable)?;
        request
            .headers_mut()
            .insert(reqwest::header::AUTHORIZATION, value);
        Ok(())
    }

    /// Sends, and reads a successful answer's body (capped); an error answer
    /// becomes [`ClientError::Refused`].
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, ClientError> {
        let request = match timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        };
        let mut request = request.build().map_err(ClientError::from_reqwest)?;
        self.sign(&mut request)?;
        if let Some(tunnel) = &self.tunnel {
            return tunneled(tunnel, request, timeout).await;
        }
        let response = self
            .http
            .execute(request)
            .await
            .map_err(ClientError::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return read_capped(response, MAX_ANSWER_BYTES)
                .await?
                .ok_or(ClientError::TooLarge);
        }
        let body = read_capped(response, MAX_ERROR_BYTES).await?;
        Err(refused(status.as_u16(), body.as_deref()))
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let bytes = self.send(request, timeout).await?;
        serde_json::from_slice(&bytes).map_err(|_| ClientError::BadAnswer(what))
    }

    /// `GET route`, answered with JSON (`what` names it in errors).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        route: &str,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let request = self.request(reqwest::Method::GET, route);
        self.send_json(request, None, what).await
    }

    /// `POST route` with a JSON body, answered with JSON.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
        what: &'static str,
    ) -> Result<T, ClientError> {
        let request = self.request(reqwest::Method::POST, route).json(body);
        self.send_json(request, None, what).await
    }

    /// `POST route` with raw bytes (a pre-serialized JSON body, or a file),
    /// answered with JSON, within `timeout` if given.
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
        self.send_json(request, timeout, what).await
    }

    /// `PUT route` with a file's bytes; any success answer.
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

    // The federation API of a node, as the coordinator calls it.

    /// A token query, serialized once (the coordinator sends the same bytes
    /// to every node), within `timeout`.
    pub async fn node_search(
        &self,
        query_json: impl Into<reqwest::Body>,
        timeout: Duration,
    ) -> Result<SearchResponse, ClientError> {
        let content_type = "application/json";
        let what = "search response";
        self.post_bytes(
            routes::node::SEARCH,
            content_type,
            query_json,
            Some(timeout),
            what,
        )
        .await
    }

    /// The key an anonymous partner's node receives letters under for
    /// `pseudonym`.
    pub async fn node_recipient(&self, pseudonym: &str) -> Result<String, ClientError> {
        let request = self
            .request(reqwest::Method::GET, routes::node::RECIPIENT)
            .query(&[("pseudonym", pseudonym)]);
        let recipient: crate::contacts::Recipient =
            self.send_json(request, None, "recipient").await?;
        Ok(recipient.public_key)
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
        let request = self
            .request(reqwest::Method::POST, routes::node::RETIRE)
            .json(&NodeRetire { epoch });
        self.send_json(request, Some(timeout), "node status").await
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
        self.send_json(request, None, "federated response").await
    }

    /// The epochs searches should be tokenized for.
    pub async fn epochs(&self) -> Result<FederationEpochs, ClientError> {
        self.get_json(routes::coordinator::EPOCHS, "epoch list")
            .await
    }

    /// This partner's sealed key for `epoch`, from the relay.
    pub async fn sealed_key(&self, epoch: u32) -> Result<Vec<u8>, ClientError> {
        let request = self
            .request(reqwest::Method::GET, routes::coordinator::SEALED_KEY)
            .query(&[("epoch", epoch)]);
        self.send(request, None).await
    }

    /// The federation's partners, their contacts and public keys.
    pub async fn partners(&self) -> Result<Vec<crate::PartnerInfo>, ClientError> {
        self.get_json(routes::coordinator::PARTNERS, "partner list")
            .await
    }

    /// The key to seal a contact request to `to` (a partner, or the
    /// pseudonym an anonymous partner's hit came under).
    pub async fn contact_recipient(&self, to: &str) -> Result<String, ClientError> {
        let request = self
            .request(reqwest::Method::GET, routes::coordinator::CONTACT_RECIPIENT)
            .query(&[("to", to)]);
        let recipient: crate::contacts::Recipient =
            self.send_json(request, None, "recipient").await?;
        Ok(recipient.public_key)
    }

    /// Sends a contact request; its id.
    pub async fn create_contact(&self, request: &crate::NewContact) -> Result<String, ClientError> {
        #[derive(serde::Deserialize)]
        struct Created {
            id: String,
        }
        let created: Created = self
            .post_json(routes::coordinator::CONTACTS, request, "contact request")
            .await?;
        Ok(created.id)
    }

    /// The contact requests this partner sent or received.
    pub async fn contacts(&self) -> Result<crate::ContactList, ClientError> {
        self.get_json(routes::coordinator::CONTACTS, "contact list")
            .await
    }

    /// Answers a contact request addressed to this partner.
    pub async fn answer_contact(
        &self,
        id: &str,
        answer: &crate::ContactAnswer,
    ) -> Result<(), ClientError> {
        let request = self
            .request(
                reqwest::Method::POST,
                &routes::coordinator::contact_answer(id),
            )
            .json(answer);
        self.send(request, None).await.map(drop)
    }
}
