//! The coordinator's end of an outbound node's connection: `GET /v1/tunnel`,
//! signed by the partner over its mutual-TLS connection, becomes a
//! WebSocket over which the coordinator sends that node its searches, status
//! polls and retirements, signed with the node's token as always, and over
//! which the node sends its own requests (its staff's searches, its sealed
//! keys, contact requests), served by the coordinator's router as if they
//! came over their own connection from that partner. While it is open, the
//! node is a partner like any other (same deadlines, same partial answers);
//! while it is not, the node is "unavailable".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use poshuk_protocol::tunnel::{MAX_FRAME_BYTES, Tunnel, TunnelAnswer};
use poshuk_tls::tunnel::{PING_EVERY, SILENT_FOR};

/// The node's own requests served at once over one connection; more get
/// 503 at once (a node's staff make a few at a time).
const SERVED_AT_ONCE: usize = 16;

use crate::Coordinator;
use crate::http::{ApiError, Caller};

/// The URL an outbound node's client is built with: only its path is used,
/// the requests go over the connection.
pub(crate) const PLACEHOLDER_URL: &str = "http://outbound-node.invalid";

/// Numbers the connections, so that a connection that closes late does not
/// unregister the one that replaced it.
static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// A node's open connection: one per partner. A new one replaces the old,
/// which is closed (a node that reconnects after a cut its coordinator had
/// not noticed yet; or a second holder of the partner's credentials, which
/// then shows in the audit log as connections replacing each other).
pub(crate) struct Registered {
    number: u64,
    /// The node's client over the connection.
    pub(crate) client: poshuk_protocol::client::ApiClient,
    /// Ends the connection's loop.
    closer: Arc<tokio::sync::Notify>,
}

/// `GET /v1/tunnel`: an outbound node opens its connection.
pub(crate) async fn open(
    State(coordinator): State<Arc<Coordinator>>,
    Extension(caller): Extension<Caller>,
    connection: Option<Extension<axum::extract::ConnectInfo<poshuk_tls::PeerParty>>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Over mutual TLS the certificate named the partner (the gate checked
    // it signed as that partner): requests it sends over the connection
    // come from that party.
    let over_tls = connection.is_some_and(|Extension(info)| info.0.name().is_some());
    let Caller::Partner(id) = caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a partner's node opens a connection",
        ));
    };
    let Some(partner) = coordinator
        .config
        .partners
        .iter()
        .find(|partner| partner.id == id)
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "unknown partner",
        ));
    };
    if !partner.outbound {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_outbound",
            format!(
                "partner `{id}` is searched at its node_url; an outbound node needs `outbound = true` in the coordinator's config"
            ),
        ));
    }
    if coordinator.is_suspended(&id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "suspended",
            format!("partner `{id}` is suspended"),
        ));
    }
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let peer = if over_tls {
                poshuk_tls::PeerParty::over_tls(&id)
            } else {
                poshuk_tls::PeerParty::plain()
            };
            coordinator.serve_tunnel(id, peer, socket).await
        }))
}

impl Coordinator {
    /// Serves one node's connection until it ends: registers the node's
    /// client over it (replacing an older connection), asks the node's
    /// status at once, pings, and unregisters it at the end.
    async fn serve_tunnel(
        self: Arc<Coordinator>,
        partner_id: String,
        peer: poshuk_tls::PeerParty,
        socket: WebSocket,
    ) {
        let Some(client) = self.nodes.get(&partner_id).cloned() else {
            return;
        };
        let deadline = Duration::from_millis(self.config.deadlines.per_node_ms);
        let (tunnel, mut frames) = Tunnel::new(deadline);
        let number = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let closer = Arc::new(tokio::sync::Notify::new());
        let replaced = self.tunnels.write().ok().and_then(|mut tunnels| {
            tunnels.insert(
                partner_id.clone(),
                Registered {
                    number,
                    client: client.over_tunnel(tunnel.clone()),
                    closer: closer.clone(),
                },
            )
        });
        if let Some(old) = &replaced {
            old.closer.notify_one();
        }
        tracing::info!(partner = %partner_id, "an outbound node connected");
        let _ = self.audit.append(serde_json::json!({
            "event": "node_connected", "partner": partner_id,
            "replaced_an_open_connection": replaced.is_some(),
        }));
        // Its epochs, for routing, without waiting for the next poll.
        let poller = self.clone();
        let polled = partner_id.clone();
        tokio::spawn(async move {
            if let Some(partner) = poller.config.partners.iter().find(|p| p.id == polled) {
                poller.fetch_status(partner).await;
            }
        });
        let (mut sink, mut stream) = socket.split();
        let serving = Arc::new(tokio::sync::Semaphore::new(SERVED_AT_ONCE));
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        let ended = loop {
            tokio::select! {
                _ = closer.notified() => break "replaced",
                frame = frames.recv() => {
                    let Some(frame) = frame else { break "closed" };
                    // A node that stops reading must not hold this loop
                    // (and its silence check) in a write.
                    match tokio::time::timeout(SILENT_FOR, sink.send(Message::Binary(frame.into()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break "broken",
                        Err(_) => break "stalled",
                    }
                }
                message = stream.next() => {
                    heard = Instant::now();
                    match message {
                        None | Some(Ok(Message::Close(_))) => break "closed",
                        Some(Err(_)) => break "broken",
                        Some(Ok(Message::Binary(frame))) => match tunnel.receive(&frame) {
                            Ok(None) => {}
                            // The node's own request (a search, its sealed
                            // key, a contact request): served by the
                            // coordinator's router as if it came over its
                            // own connection, signature and all.
                            Ok(Some((id, request))) => {
                                let (Some(router), Ok(permit)) =
                                    (self.router.get().cloned(), serving.clone().try_acquire_owned())
                                else {
                                    let busy = TunnelAnswer { status: 503, content_type: None, body: Vec::new() };
                                    let tunnel = tunnel.clone();
                                    tokio::spawn(async move { tunnel.answer(id, busy).await });
                                    continue;
                                };
                                let (tunnel, peer) = (tunnel.clone(), peer.clone());
                                tokio::spawn(async move {
                                    let answer = poshuk_tls::tunnel::serve_request(router, request, peer).await;
                                    tunnel.answer(id, answer).await;
                                    drop(permit);
                                });
                            }
                            Err(_) => break "broken",
                        },
                        Some(Ok(_)) => {}
                    }
                }
                _ = ping.tick() => {
                    if heard.elapsed() > SILENT_FOR {
                        break "silent";
                    }
                    match tokio::time::timeout(SILENT_FOR, sink.send(Message::Ping(Vec::new().into()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break "broken",
                        Err(_) => break "stalled",
                    }
                }
            }
        };
        tunnel.close();
        if let Ok(mut tunnels) = self.tunnels.write()
            && tunnels
                .get(&partner_id)
                .is_some_and(|current| current.number == number)
        {
            tunnels.remove(&partner_id);
        }
        if let Ok(mut views) = self.views.write()
            && !self
                .tunnels
                .read()
                .is_ok_and(|tunnels| tunnels.contains_key(&partner_id))
        {
            views.insert(partner_id.clone(), None);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        tracing::info!(partner = %partner_id, why = ended, "an outbound node's connection ended");
        let _ = self.audit.append(serde_json::json!({
            "event": "node_disconnected", "partner": partner_id, "why": ended,
        }));
    }
}
