//! A listener that holds at most a fixed number of connections and closes a
//! connection that sends nothing for a while: 20,000 half-open or silent
//! connections must not take a server's file descriptors, nor hold the
//! places of the partners that do talk.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections held at once, by default. Beyond, new ones wait in the
/// kernel's backlog (no file descriptor is taken) until one closes.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections held at once from one IP address, by default: one host
/// trickling bytes into many connections must not fill the cap alone.
pub const MAX_CONNECTIONS_PER_PEER: usize = 128;
/// How long a connection may wait with nothing read, by default: the first
/// request's headers, the next request on a kept-alive connection, or the
/// rest of a body sent too slowly.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Wraps a listener (TCP or TLS) with a connection cap and an idle timeout.
pub struct GuardedListener<L> {
    inner: L,
    connections: Arc<Semaphore>,
    per_peer: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    max_per_peer: usize,
    idle: Duration,
}

impl<L> GuardedListener<L> {
    /// [`MAX_CONNECTIONS`] and [`IDLE_TIMEOUT`].
    pub fn new(inner: L) -> GuardedListener<L> {
        GuardedListener::with_limits(inner, MAX_CONNECTIONS, IDLE_TIMEOUT)
    }

    /// Explicit limits.
    pub fn with_limits(inner: L, connections: usize, idle: Duration) -> GuardedListener<L> {
        GuardedListener {
            inner,
            connections: Arc::new(Semaphore::new(connections.max(1))),
            per_peer: Arc::default(),
            max_per_peer: MAX_CONNECTIONS_PER_PEER.min(connections.max(1)),
            idle,
        }
    }
}

impl<L> GuardedListener<L> {
    /// At most `count` connections from one IP address.
    pub fn per_peer(mut self, count: usize) -> GuardedListener<L> {
        self.max_per_peer = count.max(1);
        self
    }
}

impl<L> axum::serve::Listener for GuardedListener<L>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = GuardedIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let permit = match self.connections.clone().acquire_owned().await {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => std::future::pending().await,
            };
            let (io, address) = self.inner.accept().await;
            let peer = address.ip();
            let admitted = self.per_peer.lock().is_ok_and(|mut peers| {
                let held = peers.entry(peer).or_insert(0);
                if *held >= self.max_per_peer {
                    return false;
                }
                *held += 1;
                true
            });
            if !admitted {
                tracing::debug!(peer = %peer, "too many connections from one address: closed");
                continue;
            }
            let peer_slot = PeerSlot {
                peers: self.per_peer.clone(),
                peer,
            };
            return (GuardedIo::new(io, permit, peer_slot, self.idle), address);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection holding its place; reading fails with `TimedOut` once it
/// has waited `idle` for a byte.
pub struct GuardedIo<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
    _peer: PeerSlot,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

/// One connection's place in its address's count; freed on drop.
struct PeerSlot {
    peers: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    peer: std::net::IpAddr,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Ok(mut peers) = self.peers.lock()
            && let Some(held) = peers.get_mut(&self.peer)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                peers.remove(&self.peer);
            }
        }
    }
}

impl<I> GuardedIo<I> {
    /// The wrapped connection (a TLS stream's peer certificate, say).
    pub fn get_ref(&self) -> &I {
        &self.inner
    }

    fn new(inner: I, permit: OwnedSemaphorePermit, peer: PeerSlot, idle: Duration) -> GuardedIo<I> {
        GuardedIo {
            inner,
            _permit: permit,
            _peer: peer,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for GuardedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buffer.filled().len();
        match Pin::new(&mut self.inner).poll_read(context, buffer) {
            Poll::Ready(result) => {
                if buffer.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(context) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for GuardedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(context, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::serve::Listener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Beyond the cap a connection is not accepted until one closes; a
    /// silent connection is closed after the idle time.
    #[tokio::test]
    async fn connections_are_capped_and_silent_ones_closed() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = tcp.local_addr().expect("address");
        let mut listener = GuardedListener::with_limits(tcp, 1, Duration::from_millis(200));
        let _first_client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (mut first, _) = listener.accept().await;
        let _second_client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        // The cap holds: the second is not accepted while the first is open.
        let waiting = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(
            waiting.is_err(),
            "a second connection was accepted over the cap"
        );
        // The first sends nothing: reading it fails once the idle time passes.
        let mut buffer = [0u8; 8];
        let read = first.read(&mut buffer).await;
        assert_eq!(
            read.map_err(|error| error.kind()),
            Err(io::ErrorKind::TimedOut)
        );
        drop(first);
        let (mut second, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("accepted once the first closed");
        second.write_all(b"ok").await.expect("writes");
    }

    /// One address holds at most its share: a connection beyond it is
    /// closed at once, and its place is free again when one closes.
    #[tokio::test]
    async fn one_address_holds_at_most_its_share() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = tcp.local_addr().expect("address");
        let mut listener =
            GuardedListener::with_limits(tcp, 10, Duration::from_secs(5)).per_peer(1);
        let _first_client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (first, _) = listener.accept().await;
        let mut second_client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let waiting = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(
            waiting.is_err(),
            "a second connection from one address was kept"
        );
        let mut buffer = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), second_client.read(&mut buffer))
            .await
            .expect("closed, not left hanging");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        drop(first);
        let _third_client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("accepted once the first closed");
    }
}
