//! Network namespaces the engine creates for containers on bridge networks.
//!
//! Like podman, a namespace is kept alive by bind-mounting it onto an empty file
//! (`<run dir>/netns/netns-<uuid>`), so it exists before the container does: netavark configures
//! it, and the same path goes into the OCI spec's `network` namespace entry. Removing the
//! namespace is unmounting and deleting that file once nothing else holds it.
//!
//! netavark brings `lo` up itself on `setup` (verified with Debian's netavark 1.4.0);
//! [`loopback_up`] is for namespaces that no netavark call configures.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Error, Result};

/// The calling thread's own network namespace, as a bind-mount source.
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// A fresh path for a namespace under `run_dir`: `<run_dir>/netns-<random uuid>`.
pub fn new_path(run_dir: &Path) -> PathBuf {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    run_dir.join(format!(
        "netns-{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Creates a new, empty network namespace and pins it at `path`, which must not exist yet;
/// its parent directories are created as needed.
///
/// A short-lived thread unshares its network namespace and bind-mounts it onto the file, so
/// the daemon's other threads stay in the host namespace. Needs `CAP_SYS_ADMIN`.
pub fn create(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(|e| {
            Error::io(
                format!("creating network namespace file {}", path.display()),
                e,
            )
        })?;

    let target = path.to_path_buf();
    let joined = std::thread::Builder::new()
        .name("netns-create".into())
        .spawn(move || -> std::result::Result<(), (&'static str, Errno)> {
            // This thread leaves the host namespace for good and exits right after: the bind
            // mount is what keeps the new namespace alive.
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| ("unshare(CLONE_NEWNET)", e))?;
            mount(
                Some(THREAD_NETNS),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| ("bind-mounting the namespace", e))
        })
        .map_err(|e| Error::io("spawning the network namespace thread", e))?
        .join();

    let outcome = match joined {
        Ok(Ok(())) => return Ok(()),
        Ok(Err((what, errno))) => Error::io(
            format!("creating network namespace {}: {what}", path.display()),
            io::Error::from(errno),
        ),
        Err(_) => Error::Internal(format!(
            "network namespace thread for {} panicked",
            path.display()
        )),
    };
    let _ = std::fs::remove_file(path);
    Err(outcome)
}

/// Unpins the namespace at `path` and deletes the file. A path that is not mounted or does
/// not exist is not an error, so this is safe to call again after a partial cleanup.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::io(
                format!("unmounting network namespace {}", path.display()),
                io::Error::from(e),
            ))
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("removing network namespace file {}", path.display()),
            e,
        )),
    }
}

/// Brings the loopback interface up inside the namespace at `path`
/// (`nsenter --net=<path> ip link set lo up`; needs util-linux and iproute2).
pub fn loopback_up(path: &Path) -> Result<()> {
    let mut net = std::ffi::OsString::from("--net=");
    net.push(path);
    let out = Command::new("nsenter")
        .arg(net)
        .args(["ip", "link", "set", "lo", "up"])
        .output()
        .map_err(|e| Error::io("running nsenter", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "bringing up lo in {}: {} ({})",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn new_path_looks_like_podmans() {
        let p = new_path(Path::new("/run/x/netns"));
        let name = p.file_name().unwrap().to_str().unwrap();
        let uuid = name.strip_prefix("netns-").unwrap();
        assert_eq!(uuid.len(), 36);
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(p.parent(), Some(Path::new("/run/x/netns")));
        assert_ne!(p, new_path(Path::new("/run/x/netns")));
    }

    #[test]
    fn create_and_remove_as_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: not root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = new_path(&dir.path().join("netns"));
        create(&path).unwrap();
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        let pinned = std::fs::metadata(&path).unwrap().ino();
        let cleanup = remove(&path);
        assert_ne!(ours, pinned, "the pinned namespace is the host's");
        cleanup.unwrap();
        assert!(!path.exists());
        // Idempotent.
        remove(&path).unwrap();
    }
}
