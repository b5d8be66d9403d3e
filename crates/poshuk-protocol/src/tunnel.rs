//! Requests and answers over one kept-open connection: how the coordinator
//! reaches a node that opens no port (an outbound-only node, for a partner
//! whose listening server would itself be a danger).
//!
//! The node connects out to the coordinator and keeps a WebSocket open; the
//! coordinator then sends it the same signed HTTP requests it would send to
//! a listening node, each as one binary message, and the node answers each
//! with one message. A request keeps its `Authorization` header: the node
//! checks the coordinator's signature, freshness and nonce exactly as for a
//! request that came over its own listener. This module is the framing and
//! the bookkeeping of requests in flight; the WebSocket ends live with the
//! node (client) and the coordinator (server).
//!
//! A frame is `[kind: u8][id: u64 BE][head length: u32 BE][head JSON][body]`,
//! where kind 0 is a request and 1 an answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::client::MAX_ANSWER_BYTES;

/// The largest frame either end accepts: the largest answer a client reads,
/// with room for the head.
pub const MAX_FRAME_BYTES: usize = MAX_ANSWER_BYTES + 64 * 1024;

/// Requests one end may have waiting for answers at once; more are refused
/// at once (the coordinator's fan-out has one search and one status poll
/// per node at a time, so this is far above what it needs).
pub const MAX_IN_FLIGHT: usize = 256;

/// Frames waiting to be written; a writer that cannot keep up holds the
/// senders back rather than growing a queue.
const OUTGOING_FRAMES: usize = 64;

/// The longest head (method, path, signature header, content type).
const MAX_HEAD_BYTES: usize = 16 * 1024;

const REQUEST: u8 = 0;
const ANSWER: u8 = 1;

/// A request carried over the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelRequest {
    /// The HTTP method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The `Authorization` header: the request's signature.
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// An answer carried over the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct RequestHead {
    method: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct AnswerHead {
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
}

/// Why a frame was not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than its header says.
    #[error("the frame is cut short")]
    Short,
    /// Its kind is neither request nor answer.
    #[error("the frame's kind is unknown")]
    UnknownKind,
    /// Its head is not the JSON of its kind, or too long.
    #[error("the frame's head is not valid")]
    BadHead,
    /// Longer than [`MAX_FRAME_BYTES`].
    #[error("the frame is larger than {MAX_FRAME_BYTES} bytes")]
    TooLarge,
}

/// Why an exchange over the connection failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TunnelError {
    /// The connection is closed (or closed before the answer came).
    #[error("the connection is closed")]
    Closed,
    /// No answer before the deadline.
    #[error("no answer before the deadline")]
    TimedOut,
    /// Too many requests are waiting for answers.
    #[error("too many requests in flight on the connection")]
    Busy,
    /// The request is too large to be sent.
    #[error("the request is too large for the connection")]
    TooLarge,
}

fn frame(kind: u8, id: u64, head: &[u8], body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(13 + head.len() + body.len());
    frame.push(kind);
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&(head.len() as u32).to_be_bytes());
    frame.extend_from_slice(head);
    frame.extend_from_slice(body);
    frame
}

/// What a frame holds.
enum Frame {
    Request(u64, TunnelRequest),
    Answer(u64, TunnelAnswer),
}

fn parse(frame: &[u8]) -> Result<Frame, FrameError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge);
    }
    if frame.len() < 13 {
        return Err(FrameError::Short);
    }
    let kind = frame[0];
    let id = u64::from_be_bytes(frame[1..9].try_into().map_err(|_| FrameError::Short)?);
    let head_len =
        u32::from_be_bytes(frame[9..13].try_into().map_err(|_| FrameError::Short)?) as usize;
    if head_len > MAX_HEAD_BYTES {
        return Err(FrameError::BadHead);
    }
    let rest = &frame[13..];
    if rest.len() < head_len {
        return Err(FrameError::Short);
    }
    let (head, body) = rest.split_at(head_len);
    match kind {
        REQUEST => {
            let head: RequestHead =
                serde_json::from_slice(head).map_err(|_| FrameError::BadHead)?;
            Ok(Frame::Request(
                id,
                TunnelRequest {
                    method: head.method,
                    path: head.path,
                    authorization: head.authorization,
                    content_type: head.content_type,
                    body: body.to_vec(),
                },
            ))
        }
        ANSWER => {
            let head: AnswerHead = serde_json::from_slice(head).map_err(|_| FrameError::BadHead)?;
            Ok(Frame::Answer(
                id,
                TunnelAnswer {
                    status: head.status,
                    content_type: head.content_type,
                    body: body.to_vec(),
                },
            ))
        }
        _ => Err(FrameError::UnknownKind),
    }
}

/// One end of a connection: sends requests and waits for their answers,
/// takes the other end's requests in, sends answers back. The frames to
/// write come out of the receiver [`Tunnel::new`] returns; the frames read
/// go into [`Tunnel::receive`].
#[derive(Debug)]
pub struct Tunnel {
    outgoing: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<TunnelAnswer>>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    default_timeout: Duration,
}

/// Removes a request from those in flight when its exchange ends, answered
/// or not (a caller's own deadline drops the future midway).
struct InFlight<'a> {
    tunnel: &'a Tunnel,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.tunnel.pending.lock() {
            pending.remove(&self.id);
        }
    }
}

impl Tunnel {
    /// A new end, and the frames it wants written; a request sent without
    /// a timeout of its own waits at most `default_timeout`.
    pub fn new(default_timeout: Duration) -> (Arc<Tunnel>, mpsc::Receiver<Vec<u8>>) {
        let (outgoing, frames) = mpsc::channel(OUTGOING_FRAMES);
        let tunnel = Tunnel {
            outgoing,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            default_timeout,
        };
        (Arc::new(tunnel), frames)
    }

    /// Sends a request and waits for its answer, within `timeout` (or the
    /// default).
    pub async fn exchange(
        &self,
        request: TunnelRequest,
        timeout: Option<Duration>,
    ) -> Result<TunnelAnswer, TunnelError> {
        let timeout = timeout.unwrap_or(self.default_timeout);
        if self.is_closed() {
            return Err(TunnelError::Closed);
        }
        let head = serde_json::to_vec(&RequestHead {
            method: request.method,
            path: request.path,
            authorization: request.authorization,
            content_type: request.content_type,
        })
        .map_err(|_| TunnelError::TooLarge)?;
        if head.len() > MAX_HEAD_BYTES || head.len() + request.body.len() + 13 > MAX_FRAME_BYTES {
            return Err(TunnelError::TooLarge);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answered, answer) = oneshot::channel();
        {
            let mut pending = self.pending.lock().map_err(|_| TunnelError::Closed)?;
            if pending.len() >= MAX_IN_FLIGHT {
                return Err(TunnelError::Busy);
            }
            pending.insert(id, answered);
        }
        let _in_flight = InFlight { tunnel: self, id };
        let exchange = async {
            self.outgoing
                .send(frame(REQUEST, id, &head, &request.body))
                .await
                .map_err(|_| TunnelError::Closed)?;
            answer.await.map_err(|_| TunnelError::Closed)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| TunnelError::TimedOut)?
    }

    /// Takes a frame read from the connection: an answer goes to the request
    /// waiting for it (an answer nobody waits for any more is dropped); a
    /// request is returned, with its id, for the caller to serve and answer
    /// with [`Tunnel::answer`].
    pub fn receive(&self, frame: &[u8]) -> Result<Option<(u64, TunnelRequest)>, FrameError> {
        match parse(frame)? {
            Frame::Request(id, request) => Ok(Some((id, request))),
            Frame::Answer(id, answer) => {
                let waiting = self
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut pending| pending.remove(&id));
                if let Some(waiting) = waiting {
                    let _ = waiting.send(answer);
                }
                Ok(None)
            }
        }
    }

    /// Sends the answer to the other end's request `id`; false when the
    /// connection is closed. An answer too large for a frame goes as a 500.
    pub async fn answer(&self, id: u64, answer: TunnelAnswer) -> bool {
        let head = serde_json::to_vec(&AnswerHead {
            status: answer.status,
            content_type: answer.content_type,
        })
        .unwrap_or_default();
        let frame = if head.len() + answer.body.len() + 13 > MAX_FRAME_BYTES {
            let head = serde_json::to_vec(&AnswerHead {
                status: 500,
                content_type: None,
            })
            .unwrap_or_default();
            frame(ANSWER, id, &head, b"")
        } else {
            frame(ANSWER, id, &head, &answer.body)
        };
        self.outgoing.send(frame).await.is_ok()
    }

    /// Closes this end: every request waiting for an answer fails at once
    /// with [`TunnelError::Closed`], and so does every later one.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }

    /// Whether [`Tunnel::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Requests waiting for answers now.
    pub fn in_flight(&self) -> usize {
        self.pending.lock().map_or(0, |pending| pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &[u8]) -> TunnelRequest {
        TunnelRequest {
            method: "POST".into(),
            path: "/v1/search".into(),
            authorization: Some("Poshuk-Signed key=coordinator".into()),
            content_type: Some("application/json".into()),
            body: body.to_vec(),
        }
    }

    /// Two ends wired to each other; `serve` answers the far end's requests.
    async fn pair(
        serve: impl Fn(TunnelRequest) -> TunnelAnswer + Send + Sync + 'static,
    ) -> Arc<Tunnel> {
        let (near, mut near_frames) = Tunnel::new(Duration::from_secs(5));
        let (far, mut far_frames) = Tunnel::new(Duration::from_secs(5));
        let near_reader = near.clone();
        tokio::spawn(async move {
            while let Some(frame) = far_frames.recv().await {
                let _ = near_reader.receive(&frame);
            }
        });
        tokio::spawn(async move {
            while let Some(frame) = near_frames.recv().await {
                if let Ok(Some((id, request))) = far.receive(&frame) {
                    far.answer(id, serve(request)).await;
                }
            }
        });
        near
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_request_gets_its_own_answer() {
        let near = pair(|request| TunnelAnswer {
            status: 200,
            content_type: request.content_type.clone(),
            body: [request.path.as_bytes(), b" ", &request.body].concat(),
        })
        .await;
        // All at once: the answers come back to the right askers.
        let asks: Vec<_> = (0..50u8)
            .map(|i| {
                let near = near.clone();
                tokio::spawn(async move { near.exchange(request(&[i]), None).await })
            })
            .collect();
        for (i, ask) in asks.into_iter().enumerate() {
            let answer = ask.await.ok().and_then(Result::ok).expect("answered");
            assert_eq!(answer.status, 200);
            assert_eq!(
                answer.body,
                [b"/v1/search ".as_slice(), &[i as u8]].concat()
            );
        }
        assert_eq!(near.in_flight(), 0, "nothing is left waiting");
    }

    #[tokio::test]
    async fn an_unanswered_request_times_out_and_is_forgotten() {
        let (near, _frames) = Tunnel::new(Duration::from_secs(5));
        let answer = near
            .exchange(request(b"{}"), Some(Duration::from_millis(50)))
            .await;
        assert_eq!(answer, Err(TunnelError::TimedOut));
        assert_eq!(near.in_flight(), 0);
    }

    #[tokio::test]
    async fn closing_fails_the_waiting_requests_at_once() {
        let (near, _frames) = Tunnel::new(Duration::from_secs(30));
        let waiting = {
            let near = near.clone();
            tokio::spawn(async move { near.exchange(request(b"{}"), None).await })
        };
        while near.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        near.close();
        assert_eq!(waiting.await.ok(), Some(Err(TunnelError::Closed)));
        assert_eq!(
            near.exchange(request(b"{}"), None).await,
            Err(TunnelError::Closed)
        );
    }

    #[tokio::test]
    async fn requests_beyond_the_cap_are_refused_not_queued() {
        let (near, _frames) = Tunnel::new(Duration::from_secs(30));
        let mut waiting = Vec::new();
        for _ in 0..MAX_IN_FLIGHT {
            let near = near.clone();
            waiting.push(tokio::spawn(async move {
                near.exchange(request(b"{}"), None).await
            }));
        }
        while near.in_flight() < MAX_IN_FLIGHT {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            near.exchange(request(b"{}"), None).await,
            Err(TunnelError::Busy)
        );
        near.close();
    }

    #[test]
    fn broken_frames_are_refused() {
        let (near, _frames) = Tunnel::new(Duration::from_secs(1));
        assert_eq!(near.receive(b"\x00short"), Err(FrameError::Short));
        let mut unknown = frame(7, 1, b"{}", b"");
        assert_eq!(near.receive(&unknown), Err(FrameError::UnknownKind));
        unknown[0] = REQUEST;
        assert_eq!(near.receive(&unknown), Err(FrameError::BadHead));
        let mut long_head = frame(REQUEST, 1, b"{}", b"");
        long_head[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(near.receive(&long_head), Err(FrameError::BadHead));
        let huge = vec![0u8; MAX_FRAME_BYTES + 1];
        assert_eq!(near.receive(&huge), Err(FrameError::TooLarge));
        // An answer nobody waits for is dropped, not an error.
        let head = serde_json::to_vec(&AnswerHead {
            status: 200,
            content_type: None,
        })
        .unwrap_or_default();
        assert_eq!(near.receive(&frame(ANSWER, 99, &head, b"x")), Ok(None));
    }
}
