//! Listeners: `unix://PATH`, `tcp://HOST:PORT` and systemd socket activation, plus the
//! connection tracking behind the idle timeout (`-t/--time`).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::Notify;

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(PathBuf),
    Tcp(String),
}

impl ListenAddr {
    /// Parses `unix://PATH`, `unix:PATH`, `tcp://HOST:PORT` or `tcp:HOST:PORT`.
    pub fn parse(uri: &str) -> Result<Self, String> {
        if let Some(p) = uri
            .strip_prefix("unix://")
            .or_else(|| uri.strip_prefix("unix:"))
        {
            if p.is_empty() {
                return Err(format!("{uri}: a unix URI needs a path"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(p)));
        }
        if let Some(a) = uri
            .strip_prefix("tcp://")
            .or_else(|| uri.strip_prefix("tcp:"))
        {
            if !a.contains(':') {
                return Err(format!("{uri}: a tcp URI needs HOST:PORT"));
            }
            return Ok(ListenAddr::Tcp(a.to_string()));
        }
        Err(format!("{uri}: only unix:// and tcp:// URIs are supported"))
    }

    /// The URI form.
    pub fn uri(&self) -> String {
        match self {
            ListenAddr::Unix(p) => format!("unix://{}", p.display()),
            ListenAddr::Tcp(a) => format!("tcp://{a}"),
        }
    }
}

/// A bound listener of either kind.
#[derive(Debug)]
pub enum AnyListener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// An accepted connection of either kind.
#[derive(Debug)]
pub enum AnyStream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl AnyListener {
    /// Binds `addr`. For unix sockets: creates the parent directories, removes a stale
    /// socket file and sets mode 0660.
    pub async fn bind(addr: &ListenAddr) -> io::Result<Self> {
        match addr {
            ListenAddr::Unix(p) => {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                match std::fs::remove_file(p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                let l = UnixListener::bind(p)?;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o660))?;
                Ok(AnyListener::Unix(l))
            }
            ListenAddr::Tcp(a) => Ok(AnyListener::Tcp(TcpListener::bind(a).await?)),
        }
    }

    /// The listener systemd passed (`LISTEN_PID` = us, `LISTEN_FDS` >= 1, fd 3), if any.
    pub fn from_systemd() -> io::Result<Option<Self>> {
        let pid_ok = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p == std::process::id());
        let fds = std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .unwrap_or(0);
        if !pid_ok || fds < 1 {
            return Ok(None);
        }
        // The variables are for us alone; children must not inherit them.
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        let fd = take_fd3()?;
        let is_unix = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
        )
        .map_err(io::Error::from)?
        .as_unix_addr()
        .is_some();
        if is_unix {
            let std_l = std::os::unix::net::UnixListener::from(fd);
            std_l.set_nonblocking(true)?;
            Ok(Some(AnyListener::Unix(UnixListener::from_std(std_l)?)))
        } else {
            let std_l = std::net::TcpListener::from(fd);
            std_l.set_nonblocking(true)?;
            Ok(Some(AnyListener::Tcp(TcpListener::from_std(std_l)?)))
        }
    }

    /// Accepts one connection.
    pub async fn accept_any(&self) -> io::Result<AnyStream> {
        match self {
            AnyListener::Unix(l) => l.accept().await.map(|(s, _)| AnyStream::Unix(s)),
            AnyListener::Tcp(l) => l.accept().await.map(|(s, _)| {
                let _ = s.set_nodelay(true);
                AnyStream::Tcp(s)
            }),
        }
    }
}

#[allow(unsafe_code)]
fn take_fd3() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // Check that fd 3 is open before taking ownership of it.
    nix::fcntl::fcntl(
        // SAFETY: borrowing fd 3 only for the duration of this call.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(3) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .map_err(io::Error::from)?;
    // SAFETY: systemd's protocol hands fd 3 to this process; it is open (checked above) and
    // nothing else in the process owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(3) })
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            AnyStream::Unix($s) => $e,
            AnyStream::Tcp($s) => $e,
        }
    };
}

impl AsyncRead for AnyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for AnyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            AnyStream::Unix(s) => s.is_write_vectored(),
            AnyStream::Tcp(s) => s.is_write_vectored(),
        }
    }
}

/// Counts open connections (and so running streams, which hold one) for the idle timeout.
#[derive(Debug, Default)]
pub struct ActivityTracker {
    open: AtomicUsize,
    changed: Notify,
}

impl ActivityTracker {
    /// A new tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Open connections right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Marks one connection open until the guard drops.
    pub fn enter(self: &Arc<Self>) -> ActivityGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        ActivityGuard(self.clone())
    }

    /// Resolves once nothing has been open for `idle` (never when `idle` is zero).
    pub async fn idle_for(&self, idle: std::time::Duration) {
        if idle.is_zero() {
            return futures::future::pending().await;
        }
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                if tokio::time::timeout(idle, notified).await.is_err() && self.open() == 0 {
                    return;
                }
            } else {
                notified.await;
            }
        }
    }
}

/// Keeps a connection counted as open.
#[derive(Debug)]
pub struct ActivityGuard(Arc<ActivityTracker>);

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A connection that counts as activity while it lives.
#[derive(Debug)]
pub struct TrackedStream {
    inner: AnyStream,
    _guard: ActivityGuard,
}

/// Who is on the other end of a connection; every request carries it as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A unix socket peer's credentials (`SO_PEERCRED`).
    Unix {
        uid: u32,
        gid: u32,
        pid: Option<i32>,
    },
    /// A TCP peer's address.
    Tcp(std::net::SocketAddr),
    /// Not known.
    Unknown,
}

impl TrackedStream {
    /// The peer of this connection.
    pub fn peer(&self) -> Peer {
        match &self.inner {
            AnyStream::Unix(s) => match s.peer_cred() {
                Ok(c) => Peer::Unix {
                    uid: c.uid(),
                    gid: c.gid(),
                    pid: c.pid(),
                },
                Err(_) => Peer::Unknown,
            },
            AnyStream::Tcp(s) => s.peer_addr().map(Peer::Tcp).unwrap_or(Peer::Unknown),
        }
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

crate::macros::forward_async_write!(TrackedStream);

/// The listener axum serves: accepts, tracks activity, and survives accept errors.
#[derive(Debug)]
pub struct ServeListener {
    inner: AnyListener,
    tracker: Arc<ActivityTracker>,
}

impl ServeListener {
    /// Wraps a bound listener.
    pub fn new(inner: AnyListener, tracker: Arc<ActivityTracker>) -> Self {
        ServeListener { inner, tracker }
    }
}

impl axum::serve::Listener for ServeListener {
    type Io = TrackedStream;
    type Addr = ();

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept_any().await {
                Ok(s) => {
                    return (
                        TrackedStream {
                            inner: s,
                            _guard: self.tracker.enter(),
                        },
                        (),
                    )
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            ListenAddr::parse("unix:///run/x.sock").unwrap(),
            ListenAddr::Unix("/run/x.sock".into())
        );
        assert_eq!(
            ListenAddr::parse("tcp://127.0.0.1:8080").unwrap(),
            ListenAddr::Tcp("127.0.0.1:8080".into())
        );
        assert_eq!(
            ListenAddr::parse("tcp:localhost:1").unwrap(),
            ListenAddr::Tcp("localhost:1".into())
        );
        assert!(ListenAddr::parse("http://x").is_err());
        assert!(ListenAddr::parse("tcp://nohost").is_err());
    }

    #[tokio::test]
    async fn unix_socket_is_0660_and_stale_file_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/s.sock");
        let a = ListenAddr::Unix(p.clone());
        let l = AnyListener::bind(&a).await.unwrap();
        drop(l);
        // The stale socket file is still there; binding again must work.
        let _l = AnyListener::bind(&a).await.unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
    }

    #[tokio::test]
    async fn idle_timer_waits_for_connections_to_close() {
        let t = ActivityTracker::new();
        let g = t.enter();
        let t2 = t.clone();
        let waiter = tokio::spawn(async move {
            t2.idle_for(std::time::Duration::from_millis(50)).await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        assert!(!waiter.is_finished());
        drop(g);
        tokio::time::timeout(std::time::Duration::from_secs(2), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
