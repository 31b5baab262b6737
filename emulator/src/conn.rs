//! The emulator's TCP listeners: plain `tokio` connections that a request can reset, on the
//! main address and on each workspace's own address.
//!
//! A `reset` fault must close the connection without any HTTP answer, as a crashed proxy or a
//! dropped NAT entry does. A handler cannot do that through hyper, which always writes the
//! response it is given, so every accepted stream carries a kill switch that the request's
//! [`Peer`] (its connect info) shares: once thrown, the stream's next read or write fails and
//! its socket is closed with `SO_LINGER` 0, i.e. a TCP RST. The client sees a reset
//! connection (reqwest: "connection reset" / "connection closed before message completed").

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The emulator's listeners, served as one: the main address (every service, path-prefixed
/// workspaces) and, per workspace, an address of its own. Each listener has an accepting task
/// feeding one queue; a connection carries the workspace whose address it came to, if any.
/// Dropping the listener (when the server stops) stops the tasks and closes every address.
pub struct ResettableListener {
    local: SocketAddr,
    queue: mpsc::Receiver<Accepted>,
    _accepting: JoinSet<()>,
}

struct Accepted {
    stream: TcpStream,
    addr: SocketAddr,
    workspace: Option<Arc<str>>,
}

impl ResettableListener {
    /// One listener for everything.
    pub fn new(listener: TcpListener) -> Self {
        Self::fleet(listener, Vec::new())
    }

    /// The main listener plus one per workspace (`(name, listener)`).
    pub fn fleet(main: TcpListener, workspaces: Vec<(Arc<str>, TcpListener)>) -> Self {
        let local = main
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, queue) = mpsc::channel(1024);
        let mut accepting = JoinSet::new();
        accepting.spawn(accept_loop(main, None, tx.clone()));
        for (name, listener) in workspaces {
            accepting.spawn(accept_loop(listener, Some(name), tx.clone()));
        }
        Self {
            local,
            queue,
            _accepting: accepting,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    workspace: Option<Arc<str>>,
    queue: mpsc::Sender<Accepted>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                let accepted = Accepted {
                    stream,
                    addr,
                    workspace: workspace.clone(),
                };
                if queue.send(accepted).await.is_err() {
                    return;
                }
            }
            // As axum does: per-connection errors are the client's; others (out of file
            // descriptors) are waited out.
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                tracing::error!(error = %err, "emulator accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.queue.recv().await {
            Some(accepted) => (
                ResettableStream {
                    inner: accepted.stream,
                    kill: Arc::default(),
                    workspace: accepted.workspace,
                },
                accepted.addr,
            ),
            // Every accepting task is gone (never while `self` holds them): accept nothing.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// An accepted connection with a kill switch.
pub struct ResettableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
    /// The workspace whose own address the connection came to.
    workspace: Option<Arc<str>>,
}

impl ResettableStream {
    /// `Some(error)` once the connection was killed; the socket then closes with a reset.
    fn killed(&self) -> Option<io::Error> {
        if !self.kill.load(Ordering::Acquire) {
            return None;
        }
        // Zero linger: closing sends RST instead of FIN, and never blocks.
        let _ = self.inner.set_zero_linger();
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by an injected fault",
        ))
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.killed() {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connect info of a request: the peer's address and its connection's kill switch.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    /// The workspace whose own address (host) the connection came to; `None` on the main
    /// address.
    pub workspace: Option<Arc<str>>,
    kill: Arc<AtomicBool>,
}

impl Peer {
    /// Resets the connection this request came on: nothing more is read or written on it,
    /// whatever the handler answers.
    pub fn reset(&self) {
        self.kill.store(true, Ordering::Release);
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            workspace: stream.io().workspace.clone(),
            kill: stream.io().kill.clone(),
        }
    }
}
