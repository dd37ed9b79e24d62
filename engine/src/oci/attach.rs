//! conmon's attach socket (`<bundle>/attach`, `SOCK_SEQPACKET`) and control FIFO
//! (`<bundle>/ctl`). Each packet from conmon is one stream byte (2 = stdout, 3 = stderr)
//! followed by data; stdin goes the other way as raw bytes, and a write shutdown closes the
//! container's stdin. The socket is reached through `/proc/self/fd/N` of an `O_PATH` fd so
//! long bundle paths do not hit the 108-byte `sun_path` limit.

#![allow(unsafe_code)] // AsyncFd::register of the socket this module owns

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use tokio::io::unix::AsyncFd;

use crate::error::{Error, Result};

/// Which output stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutStream {
    Stdout,
    Stderr,
}

/// A connection to a container's attach socket.
#[derive(Debug)]
pub struct AttachConn {
    fd: AsyncFd<OwnedFd>,
}

impl AttachConn {
    /// Connects to `socket` (conmon's `<bundle>/attach`).
    pub fn connect(socket: &Path) -> Result<AttachConn> {
        let path_fd = nix::fcntl::open(
            socket,
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::io(format!("opening {}", socket.display()), e.into()))?;
        let sock = socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| Error::io("creating the attach socket", e.into()))?;
        let addr = UnixAddr::new(format!("/proc/self/fd/{}", path_fd.as_raw_fd()).as_str())
            .map_err(|e| Error::io("attach socket address", e.into()))?;
        match socket::connect(sock.as_raw_fd(), &addr) {
            Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("connecting to {}", socket.display()),
                    e.into(),
                ))
            }
        }
        drop(path_fd);
        // SAFETY: `sock` is an OwnedFd moved into the AsyncFd: it stays open and refers to the
        // same socket until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(sock) }
            .map_err(|e| Error::io("registering the attach socket", e.into()))?;
        Ok(AttachConn { fd })
    }

    /// Receives one packet; `None` at the end (the container's streams closed).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(OutStream, usize)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| {
                socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty()).map_err(io::Error::from)
            }) {
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(n)) => {
                    let stream = if buf[0] == 3 {
                        OutStream::Stderr
                    } else {
                        OutStream::Stdout
                    };
                    // Move the payload to the front.
                    buf.copy_within(1..n, 0);
                    return Ok(Some((stream, n - 1)));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends stdin bytes.
    pub async fn send(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| {
                socket::send(fd.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL).map_err(io::Error::from)
            }) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Closes the container's stdin (write half-close).
    pub fn close_stdin(&self) {
        let _ = socket::shutdown(
            self.fd.get_ref().as_fd().as_raw_fd(),
            socket::Shutdown::Write,
        );
    }
}

/// Asks conmon to resize the container's terminal (control FIFO, message type 1).
pub fn resize(bundle: &Path, height: u16, width: u16) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let ctl = bundle.join("ctl");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&ctl)
        .map_err(|e| Error::io(format!("opening {}", ctl.display()), e))?;
    f.write_all(format!("1 {height} {width}\n").as_bytes())
        .map_err(|e| Error::io("writing the resize request", e))
}
