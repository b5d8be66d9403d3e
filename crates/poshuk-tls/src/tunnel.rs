//! The node's end of an outbound-only connection: it dials the coordinator
//! over mutual TLS, opens a WebSocket on the coordinator's ordinary port,
//! and answers the requests that come over it with its own federation
//! router, so every check a listening node makes (the coordinator's
//! signature, freshness, nonce, limits, audit) is made the same way.
//!
//! The framing and bookkeeping are [`poshuk_protocol::tunnel`]; the
//! coordinator's end is in `poshuk-coordinator`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use poshuk_protocol::tunnel::{MAX_FRAME_BYTES, Tunnel, TunnelAnswer, TunnelRequest};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tower::ServiceExt;

use crate::{ClientCertificate, PeerParty, TlsError};

/// How often each end pings the other: well inside the listeners' idle
/// timeout ([`crate::IDLE_TIMEOUT`]), so a quiet connection stays open.
pub const PING_EVERY: Duration = Duration::from_secs(5);

/// Silence after which an end gives the connection up as dead (a cut cable
/// sends no close): three pings unanswered.
pub const SILENT_FOR: Duration = Duration::from_secs(15);

/// Requests from the other end served at once; more get 503 at once.
pub const SERVED_AT_ONCE: usize = 64;

/// The WebSocket limits both ends use: one message is one frame of the
/// tunnel, never larger than it may be.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The coordinator's URL is not an http(s) URL with a host.
    #[error("the coordinator's URL is not an http(s) URL with a host")]
    BadUrl,
    /// The TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No TCP connection, or no TLS handshake, in time.
    #[error("cannot reach the coordinator: {0}")]
    Unreachable(String),
    /// The coordinator refused the WebSocket (its status says why).
    #[error("the coordinator refused the connection: {0}")]
    Refused(String),
}

/// Where and as whom the node connects.
#[derive(Clone)]
pub struct Endpoint {
    /// The coordinator's URL (`https://host:port`, or `http://` on
    /// loopback for a demo).
    pub url: String,
    /// The federation's CA, trusted alone.
    pub ca: Option<PathBuf>,
    /// This node's certificate and key (mutual TLS).
    pub cert: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
    /// The partner id the upgrade request is signed as.
    pub partner_id: String,
    /// The partner's token at the coordinator (wiped when dropped).
    pub token: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        write!(formatter, "Endpoint({}, {})", self.url, self.partner_id)
    }
}

/// Any byte stream the WebSocket runs over (TLS, or plain TCP on loopback).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection to the coordinator.
pub type Connection = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// Dials the coordinator, checks that its certificate is the
/// coordinator's, and opens the WebSocket with a signed upgrade request.
pub async fn connect(endpoint: &Endpoint) -> Result<Connection, ConnectError> {
    let url = reqwest::Url::parse(&endpoint.url).map_err(|_| ConnectError::BadUrl)?;
    let host = url.host_str().ok_or(ConnectError::BadUrl)?.to_string();
    let port = url.port_or_known_default().ok_or(ConnectError::BadUrl)?;
    let secure = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(ConnectError::BadUrl),
    };
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
    )
    .await
    .map_err(|_| ConnectError::Unreachable("no TCP connection within 10 s".into()))?
    .map_err(|error| ConnectError::Unreachable(error.kind().to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if secure {
        let ca = endpoint.ca.as_deref().ok_or(ConnectError::BadUrl)?;
        let identity = match (&endpoint.cert, &endpoint.key) {
            (Some(cert), Some(key)) => Some(ClientCertificate { cert, key }),
            _ => None,
        };
        let config =
            crate::party_client_config(ca, identity, poshuk_protocol::signed::COORDINATOR_KEY_ID)?;
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|_| ConnectError::BadUrl)?;
        let tls = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| ConnectError::Unreachable("no TLS handshake within 10 s".into()))?
        .map_err(|error| ConnectError::Unreachable(error.to_string()))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let route = poshuk_protocol::routes::coordinator::TUNNEL;
    let ws_url = format!(
        "{}://{}:{port}{route}",
        if secure { "wss" } else { "ws" },
        url.host_str().unwrap_or_default()
    );
    let mut request = ws_url
        .into_client_request()
        .map_err(|_| ConnectError::BadUrl)?;
    let signature = poshuk_protocol::signed::sign(
        &endpoint.partner_id,
        endpoint.token.as_bytes(),
        "GET",
        route,
        b"",
        poshuk_protocol::signed::now_ms(),
    )
    .map_err(|_| ConnectError::Refused("the request cannot be signed".into()))?;
    let value = tungstenite::http::HeaderValue::from_str(&signature)
        .map_err(|_| ConnectError::Refused("the request cannot be signed".into()))?;
    request
        .headers_mut()
        .insert(tungstenite::http::header::AUTHORIZATION, value);
    let opened = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async_with_config(request, stream, Some(websocket_config())),
    )
    .await
    .map_err(|_| ConnectError::Unreachable("no WebSocket upgrade within 10 s".into()))?;
    match opened {
        Ok((connection, _)) => Ok(connection),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice::<poshuk_protocol::ErrorBody>(body).ok())
                .map(|body| body.message)
                .unwrap_or_default();
            Err(ConnectError::Refused(format!("{status} {body}")))
        }
        Err(error) => Err(ConnectError::Unreachable(error.to_string())),
    }
}

/// Serves one request that came over a tunnel with `router`, as if it had
/// come over a connection from `peer`; the answer's body is capped like a
/// client's ([`MAX_FRAME_BYTES`]).
pub async fn serve_request(
    router: axum::Router,
    request: TunnelRequest,
    peer: PeerParty,
) -> TunnelAnswer {
    let failed = |status: u16| TunnelAnswer {
        status,
        content_type: None,
        body: Vec::new(),
    };
    let mut builder = axum::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.path.as_str());
    if let Some(authorization) = &request.authorization {
        builder = builder.header(axum::http::header::AUTHORIZATION, authorization.as_str());
    }
    if let Some(content_type) = &request.content_type {
        builder = builder.header(axum::http::header::CONTENT_TYPE, content_type.as_str());
    }
    let Ok(mut http_request) = builder.body(axum::body::Body::from(request.body)) else {
        return failed(400);
    };
    http_request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let Ok(response) = router.oneshot(http_request).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match axum::body::to_bytes(response.into_body(), MAX_FRAME_BYTES - 64 * 1024).await {
        Ok(body) => TunnelAnswer {
            status,
            content_type,
            body: body.to_vec(),
        },
        Err(_) => failed(500),
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The other end closed it, or the stream ended.
    Closed,
    /// Nothing was heard for [`SILENT_FOR`].
    Silent,
    /// A frame could not be read or written.
    Broken(String),
}

/// Runs the node's end of an open connection until it ends: answers the
/// coordinator's requests with `router` (as coming from the coordinator's
/// certificate, which the handshake checked), at most [`SERVED_AT_ONCE`] at
/// a time, pings every [`PING_EVERY`], and gives up after [`SILENT_FOR`]
/// of silence. `on_open` gets the tunnel once it is ready: the node sends
/// its own requests to the coordinator over it (searches, sealed keys,
/// contact requests), so one connection carries everything.
pub async fn run(
    connection: Connection,
    router: axum::Router,
    peer: PeerParty,
    on_open: impl FnOnce(Arc<Tunnel>),
) -> Ended {
    let (tunnel, mut frames) = Tunnel::new(Duration::from_secs(10));
    let (mut sink, mut stream) = connection.split();
    let serving = Arc::new(tokio::sync::Semaphore::new(SERVED_AT_ONCE));
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    on_open(tunnel.clone());
    let ended = loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(frame) = frame else { break Ended::Closed };
                // A coordinator that stops reading must not hold this loop.
                match tokio::time::timeout(SILENT_FOR, sink.send(Message::Binary(frame.into()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => break Ended::Broken(error.to_string()),
                    Err(_) => break Ended::Silent,
                }
            }
            message = stream.next() => {
                heard = Instant::now();
                let message = match message {
                    None | Some(Ok(Message::Close(_))) => break Ended::Closed,
                    Some(Err(error)) => break Ended::Broken(error.to_string()),
                    Some(Ok(message)) => message,
                };
                let Message::Binary(frame) = message else { continue };
                match tunnel.receive(&frame) {
                    Ok(Some((id, request))) => {
                        let tunnel = tunnel.clone();
                        let Ok(permit) = serving.clone().try_acquire_owned() else {
                            let busy = TunnelAnswer { status: 503, content_type: None, body: Vec::new() };
                            tokio::spawn(async move { tunnel.answer(id, busy).await });
                            continue;
                        };
                        let (router, peer) = (router.clone(), peer.clone());
                        tokio::spawn(async move {
                            let answer = serve_request(router, request, peer).await;
                            tunnel.answer(id, answer).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => {}
                    Err(error) => break Ended::Broken(error.to_string()),
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() > SILENT_FOR {
                    break Ended::Silent;
                }
                match tokio::time::timeout(SILENT_FOR, sink.send(Message::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => break Ended::Broken(error.to_string()),
                    Err(_) => break Ended::Silent,
                }
            }
        }
    };
    tunnel.close();
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    ended
}

/// The wait before reconnecting after `failures` failed attempts in a row:
/// doubling from half a second to a minute, with full jitter, so nodes cut
/// off together do not all come back in the same instant.
pub fn backoff(failures: u32) -> Duration {
    use rand::RngExt;
    let ceiling_ms = 500u64.saturating_mul(1 << failures.min(7)).min(60_000);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_minute_and_jitters() {
        assert!(backoff(0) <= Duration::from_millis(500));
        assert!(backoff(0) >= Duration::from_millis(250));
        assert!(backoff(30) <= Duration::from_secs(60));
        assert!(backoff(30) >= Duration::from_secs(30));
        let draws: std::collections::HashSet<Duration> = (0..20).map(|_| backoff(5)).collect();
        assert!(draws.len() > 1, "the waits are jittered");
    }
}
