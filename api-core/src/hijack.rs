//! Taking over the connection for attach and exec (Docker's "hijack").
//!
//! With `Connection: Upgrade` + `Upgrade: tcp` the answer is `101` and the socket then
//! carries raw bytes both ways. Without them (podman-py, curl) the answer is a `200` whose
//! body is the output stream, sent as HTTP/1.0 so the connection closes at its end; that path
//! is output only. Handlers validate first (errors are still JSON) and then call
//! [`Hijack::respond`] with the function that pumps the streams.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Response, StatusCode, Version};
use bytes::Bytes;
use futures::StreamExt;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// `application/vnd.docker.raw-stream`
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// `application/vnd.docker.multiplexed-stream`
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// The connection of a request that may be taken over.
#[derive(Debug)]
pub struct Hijack {
    upgrade: Option<OnUpgrade>,
}

impl<S: Send + Sync> FromRequestParts<S> for Hijack {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let wants = parts
            .headers
            .get(header::UPGRADE)
            .is_some_and(|v| !v.is_empty());
        let upgrade = if wants {
            parts.extensions.remove::<OnUpgrade>()
        } else {
            None
        };
        Ok(Hijack { upgrade })
    }
}

/// The taken-over connection: the raw socket, or (without an upgrade) a write-only pipe
/// into the response body whose reads end at once.
pub enum HijackIo {
    Upgraded(TokioIo<Upgraded>),
    Body(PollSender<Bytes>),
}

impl HijackIo {
    /// Whether stdin can be read from the client.
    pub fn is_duplex(&self) -> bool {
        matches!(self, HijackIo::Upgraded(_))
    }
}

impl AsyncRead for HijackIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HijackIo::Upgraded(u) => Pin::new(u).poll_read(cx, buf),
            HijackIo::Body(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for HijackIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            HijackIo::Upgraded(u) => Pin::new(u).poll_write(cx, buf),
            HijackIo::Body(tx) => match tx.poll_reserve(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(_)) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Poll::Ready(Ok(())) => match tx.send_item(Bytes::copy_from_slice(buf)) {
                    Ok(()) => Poll::Ready(Ok(buf.len())),
                    Err(_) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                },
            },
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HijackIo::Upgraded(u) => Pin::new(u).poll_flush(cx),
            HijackIo::Body(_) => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            HijackIo::Upgraded(u) => Pin::new(u).poll_shutdown(cx),
            HijackIo::Body(tx) => {
                tx.close();
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl Hijack {
    /// Whether the client asked for an upgrade.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Answers the request and runs `pump` on the taken-over connection in a new task.
    pub fn respond<F, Fut>(self, content_type: &'static str, pump: F) -> Response<Body>
    where
        F: FnOnce(HijackIo) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self.upgrade {
            Some(on) => {
                tokio::spawn(async move {
                    match on.await {
                        Ok(up) => pump(HijackIo::Upgraded(TokioIo::new(up))).await,
                        Err(e) => tracing::warn!(error = %e, "connection upgrade failed"),
                    }
                });
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let h = r.headers_mut();
                h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
                h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                r
            }
            None => {
                let (tx, rx) = mpsc::channel::<Bytes>(16);
                tokio::spawn(pump(HijackIo::Body(PollSender::new(tx))));
                let stream = tokio_stream_from(rx).map(Ok::<_, std::convert::Infallible>);
                let mut r = Response::new(Body::from_stream(stream));
                // HTTP/1.0: no length, no chunking, the connection closes at the end.
                *r.version_mut() = Version::HTTP_10;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                r
            }
        }
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<Bytes>) -> impl futures::Stream<Item = Bytes> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
