//! The emulator's TCP listener: plain `tokio` connections that a request can reset.
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

/// A [`TcpListener`] whose connections can be reset by the requests they carry.
pub struct ResettableListener(TcpListener);

impl ResettableListener {
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        ResettableStream {
                            inner: stream,
                            kill: Arc::default(),
                        },
                        addr,
                    );
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

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
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
            kill: stream.io().kill.clone(),
        }
    }
}
