//! The HTTP/1.1 accept loop, with the connection limits of spec/api.md §1.3.
//!
//! `axum::serve` sets no time limit on reading a request's headers, so a client
//! that sends them a byte at a time (slowloris) holds a connection for ever. This
//! loop serves the same [`Router`] with hyper's HTTP/1 connection directly and
//! bounds every way a client can hold a connection without making progress:
//!
//! - **headers**: the request line and headers must arrive within
//!   `header_timeout`. The timer also runs while a kept-alive connection waits for
//!   its next request, so it is the idle limit too. Past it the connection is
//!   closed without an answer.
//! - **header size**: more than `max_header_bytes` of request line and headers is
//!   answered `431 Request Header Fields Too Large` (by hyper, without a body),
//!   and the connection is closed.
//! - **response writes**: a write that makes no progress for `write_timeout` (the
//!   client stopped reading) closes the connection.
//! - **connections**: at most `max_connections` are served at once. Beyond that
//!   the loop stops accepting: new connections wait in the kernel's accept queue
//!   and are served, in order, as soon as a connection closes. None is refused.
//!
//! The request body and the handler are bounded separately, by the request time
//! limit ([`crate::api::with_timeout`], 408 `request_timeout`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};
use tokio::task::JoinSet;

/// Connection limits (spec/api.md §1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest time to receive a request's line and headers, counted from the
    /// connection's start or the end of its previous response.
    pub header_timeout: Duration,
    /// Longest a response write may make no progress.
    pub write_timeout: Duration,
    /// Largest request line plus headers, in bytes.
    pub max_header_bytes: usize,
    /// Most connections served at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves. Then it stops
/// accepting, closes idle connections, lets each busy one finish its current
/// response, and returns once all are closed, closing those still open after
/// `drain`.
///
/// Errors of single connections (a timeout, a reset, a malformed request) are
/// logged at debug level; errors of `accept` (such as too many open files) are
/// logged and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    // (acquire_many below counts in u32.)
    let max = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    // Warn once each time the cap is reached, not for every waiting connection.
    let mut full = false;
    // The connections' tasks, so that those still open after `drain` can be
    // stopped: each holds the router, and through it the node's state.
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => {
                full = false;
                p
            }
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                if !full {
                    full = true;
                    tracing::warn!(
                        "all {max} connections (max_connections) are in use; new connections wait"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}; retrying in 1 s");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let conn = Connection {
            builder: builder.clone(),
            app: app.clone(),
            write_timeout: limits.write_timeout,
            stop: stop_rx.clone(),
            _slot: permit,
        };
        tasks.spawn(async move {
            if let Err(e) = conn.run(stream).await {
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX); // never clamps: see `max`
    if tokio::time::timeout(drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connections still open after {} s; closing them",
            max - slots.available_permits(),
            drain.as_secs()
        );
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Accept errors that concern one connection only (it was gone before it was
/// accepted), not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what it needs.
struct Connection {
    builder: Arc<http1::Builder>,
    app: Router,
    write_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// Held while the connection is open; dropping it lets the loop accept again.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream) -> hyper::Result<()> {
        let io = StallGuard::new(TokioIo::new(stream), self.write_timeout);
        let conn = self
            .builder
            .serve_connection(io, TowerToHyperService::new(self.app));
        tokio::pin!(conn);
        let mut stop = self.stop;
        // A closed channel also means stop: the loop is gone.
        let stopping = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        tokio::select! {
            r = conn.as_mut() => r,
            () = stopping => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    }
}

/// An IO whose writes fail with `TimedOut` once one has made no progress for
/// `limit` (the peer stopped reading). Reads pass through: hyper's header timeout
/// and the request time limit bound them.
struct StallGuard<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes on a write's outcome: progress clears the stall timer, and a
    /// pending write starts it (or fails once it has run out).
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", limit.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Read + Unpin> Read for StallGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for StallGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that accepts nothing until `open`, then everything.
    struct Gate {
        open: bool,
    }

    impl Write for Gate {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.open {
                Poll::Ready(Ok(buf.len()))
            } else {
                Poll::Pending
            }
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn write(g: &mut StallGuard<Gate>) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(g).poll_write(&mut cx, b"abc")
    }

    #[tokio::test]
    async fn a_stalled_write_fails_after_the_limit() {
        let limit = Duration::from_millis(200);
        let mut g = StallGuard::new(Gate { open: false }, limit);
        assert!(write(&mut g).is_pending());
        tokio::time::sleep(limit * 2).await;
        match write(&mut g) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn progress_restarts_the_stall_timer() {
        let limit = Duration::from_millis(200);
        let mut g = StallGuard::new(Gate { open: false }, limit);
        assert!(write(&mut g).is_pending());
        tokio::time::sleep(limit * 2).await;
        // The timer has run out, but the write now makes progress: it succeeds
        // and the next stall starts a new timer.
        g.inner.open = true;
        assert!(matches!(write(&mut g), Poll::Ready(Ok(3))));
        g.inner.open = false;
        assert!(write(&mut g).is_pending());
    }
}
