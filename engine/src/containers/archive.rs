//! `docker cp`: stat, read (tar) and write (untar) paths of a container, confined to its
//! root. Every lookup goes through `openat2(RESOLVE_IN_ROOT)` from a descriptor of the root
//! (a running container's `/proc/<pid>/root`, so its bind mounts and volumes are seen as it
//! sees them; else the mounted overlay), and every create, link, chmod or chown works on a
//! parent descriptor plus one final name without following it. `..`, absolute symlinks and
//! symlink chains are resolved by the kernel inside the root, and a path swapped for a
//! symlink midway cannot redirect a write outside it (the CVE-2018-15664 class). Archives
//! are checked whole before the first byte is written.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use serde::Serialize;

use crate::error::{Error, Result};

/// `X-Docker-Container-Path-Stat`: what Docker reports about a path.
#[derive(Debug, Clone, Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// A container root, held open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

fn not_found(p: &Path) -> Error {
    Error::NotFound(format!(
        "{}: no such file or directory",
        Path::new("/").join(p).display()
    ))
}

fn errno_err(p: &Path, e: nix::errno::Errno) -> Error {
    match e {
        nix::errno::Errno::ENOENT => not_found(p),
        nix::errno::Errno::ENOTDIR => Error::InvalidArg(format!(
            "{}: not a directory",
            Path::new("/").join(p).display()
        )),
        e => Error::io(
            format!("{}", Path::new("/").join(p).display()),
            std::io::Error::from(e),
        ),
    }
}

/// Relative, with `.` and the root removed (`..` is kept: the kernel clamps it at the root).
pub(crate) fn relative(p: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    out
}

/// Go's `os.FileMode` for a stat.
fn go_mode(st: &FileStat) -> u32 {
    let perm = st.st_mode & 0o777;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let mut m = perm;
    if st.st_mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if st.st_mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if st.st_mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m |= match kind {
        SFlag::S_IFDIR => 1 << 31,
        SFlag::S_IFLNK => 1 << 27,
        SFlag::S_IFIFO => 1 << 25,
        SFlag::S_IFSOCK => 1 << 24,
        SFlag::S_IFCHR => (1 << 26) | (1 << 21),
        SFlag::S_IFBLK => 1 << 26,
        _ => 0,
    };
    m
}

fn is(st: &FileStat, f: SFlag) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == f.bits()
}

/// Opens `rel` below the directory `root` with every component resolved by the kernel
/// inside it (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`): symlinks and `..` cannot
/// leave it. An empty `rel` is the root itself.
pub(crate) fn open_in_root(root: &OwnedFd, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    nix::fcntl::openat2(
        root.as_fd(),
        rel,
        OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS),
    )
}

impl Root {
    /// Opens a root directory.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(format!("opening {}", path.display()), e.into()))?;
        Ok(Root { fd })
    }

    /// Opens `rel` inside the root (every component resolved by the kernel in the root).
    fn open_in(&self, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        open_in_root(&self.fd, rel, flags)
    }

    /// The directory holding `rel`'s last component, and that component. A path whose last
    /// component is `.`/`..` (or the root) is its own directory, with the name `.`.
    fn parent_of(&self, rel: &Path) -> Result<(OwnedFd, OsString)> {
        match rel.file_name() {
            Some(name) if rel.components().next_back() != Some(Component::ParentDir) => {
                let parent = rel.parent().unwrap_or(Path::new(""));
                let fd = self
                    .open_in(parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|e| errno_err(parent, e))?;
                Ok((fd, name.to_os_string()))
            }
            _ => {
                let fd = self
                    .open_in(rel, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|e| errno_err(rel, e))?;
                Ok((fd, OsString::from(".")))
            }
        }
    }

    /// Docker's stat of a container path (the last component not followed).
    pub fn stat(&self, path: &str) -> Result<PathStat> {
        let rel = relative(path);
        let (parent, name) = self.parent_of(&rel)?;
        let st = nix::sys::stat::fstatat(
            parent.as_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| errno_err(&rel, e))?;
        let link_target = if is(&st, SFlag::S_IFLNK) {
            nix::fcntl::readlinkat(parent.as_fd(), name.as_os_str())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let shown = if name == "." {
            rel.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".into())
        } else {
            name.to_string_lossy().into_owned()
        };
        Ok(PathStat {
            name: shown,
            size: st.st_size,
            mode: go_mode(&st),
            mtime: chrono::DateTime::from_timestamp(st.st_mtime, st.st_mtime_nsec as u32)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            link_target,
        })
    }

    /// Writes a tar of `path` to `out`: a directory with its contents under its own name
    /// (only its contents when the path ends in `/.`), anything else as one entry.
    pub fn tar<W: Write>(&self, path: &str, out: W) -> Result<PathStat> {
        let stat = self.stat(path)?;
        let rel = relative(path);
        let (parent, name) = self.parent_of(&rel)?;
        let mut b = tar::Builder::new(out);
        let base = if path.ends_with("/.") || name == "." {
            PathBuf::from(if path.ends_with("/.") {
                "."
            } else {
                &stat.name
            })
        } else {
            PathBuf::from(&name)
        };
        add_entry(&mut b, parent.as_fd(), &name, &base)?;
        b.finish()
            .map_err(|e| Error::io("writing the archive", e))?;
        Ok(stat)
    }

    /// Extracts the tar at `archive` into the directory `path` of the root. The archive is
    /// read whole first: entries that would climb out (`..`) or are not plain
    /// files/dirs/links are refused with nothing written.
    pub fn untar(&self, path: &str, archive: &Path, no_overwrite_dir_non_dir: bool) -> Result<()> {
        let dest = relative(path);
        let dfd = self
            .open_in(&dest, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| errno_err(&dest, e))?;
        drop(dfd);
        // Pass 1: validate.
        {
            let f = std::fs::File::open(archive).map_err(|e| Error::io("reading the upload", e))?;
            let mut a = tar::Archive::new(f);
            let entries = a
                .entries()
                .map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?;
            for e in entries {
                let e = e.map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?;
                let p = e
                    .path()
                    .map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?
                    .into_owned();
                check_entry_path(&p)?;
                let kind = e.header().entry_type();
                if kind.is_hard_link() {
                    let target = e
                        .link_name()
                        .map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?
                        .ok_or_else(|| {
                            Error::InvalidArg("bad archive: hard link without target".into())
                        })?;
                    check_entry_path(&target)?;
                }
            }
        }
        // Pass 2: write.
        let f = std::fs::File::open(archive).map_err(|e| Error::io("reading the upload", e))?;
        let mut a = tar::Archive::new(f);
        for e in a
            .entries()
            .map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?
        {
            let mut e = e.map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?;
            let p = e
                .path()
                .map_err(|e| Error::InvalidArg(format!("bad archive: {e}")))?
                .into_owned();
            let rel = dest.join(clean(&p));
            if clean(&p).as_os_str().is_empty() {
                continue;
            }
            self.write_entry(&mut e, &rel, &dest, no_overwrite_dir_non_dir)?;
        }
        Ok(())
    }

    fn write_entry<R: Read>(
        &self,
        e: &mut tar::Entry<'_, R>,
        rel: &Path,
        dest: &Path,
        no_overwrite: bool,
    ) -> Result<()> {
        let (parent, name) = self.parent_of(rel)?;
        if name == "." {
            return Ok(());
        }
        let pfd = parent.as_fd();
        let hdr = e.header().clone();
        let mode = Mode::from_bits_truncate(hdr.mode().unwrap_or(0o644) & 0o7777);
        let existing =
            nix::sys::stat::fstatat(pfd, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok();
        let kind = hdr.entry_type();
        let want_dir = kind.is_dir();
        if let Some(st) = &existing {
            let is_dir = is(st, SFlag::S_IFDIR);
            if no_overwrite && is_dir != want_dir {
                return Err(Error::InvalidArg(format!(
                    "cannot overwrite {} {:?} with a {}",
                    if is_dir { "directory" } else { "non-directory" },
                    Path::new("/").join(rel),
                    if want_dir {
                        "directory"
                    } else {
                        "non-directory"
                    }
                )));
            }
            if !want_dir || !is_dir {
                let flag = if is_dir {
                    nix::unistd::UnlinkatFlags::RemoveDir
                } else {
                    nix::unistd::UnlinkatFlags::NoRemoveDir
                };
                // A non-empty directory replaced by a file fails here, as in Docker.
                nix::unistd::unlinkat(pfd, name.as_os_str(), flag)
                    .map_err(|err| errno_err(rel, err))?;
            }
        }
        if want_dir {
            if existing.as_ref().is_none_or(|st| !is(st, SFlag::S_IFDIR)) {
                nix::sys::stat::mkdirat(pfd, name.as_os_str(), mode)
                    .map_err(|err| errno_err(rel, err))?;
            }
        } else if kind.is_symlink() {
            let target = e
                .link_name()
                .map_err(|err| Error::InvalidArg(format!("bad archive: {err}")))?
                .unwrap_or_default()
                .into_owned();
            nix::unistd::symlinkat(target.as_os_str(), pfd, name.as_os_str())
                .map_err(|err| errno_err(rel, err))?;
        } else if kind.is_hard_link() {
            let target = e
                .link_name()
                .map_err(|err| Error::InvalidArg(format!("bad archive: {err}")))?
                .unwrap_or_default()
                .into_owned();
            let trel = dest.join(clean(&target));
            let (tparent, tname) = self.parent_of(&trel)?;
            nix::unistd::linkat(
                tparent.as_fd(),
                tname.as_os_str(),
                pfd,
                name.as_os_str(),
                AtFlags::empty(),
            )
            .map_err(|err| errno_err(rel, err))?;
            return Ok(());
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let fd = nix::fcntl::openat(
                pfd,
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                mode,
            )
            .map_err(|err| errno_err(rel, err))?;
            let mut f = std::fs::File::from(fd);
            std::io::copy(e, &mut f).map_err(|err| Error::io("writing a file", err))?;
        } else {
            // Devices, fifos and the like are not copied into containers.
            return Ok(());
        }
        let uid = hdr.uid().ok().map(|u| nix::unistd::Uid::from_raw(u as u32));
        let gid = hdr.gid().ok().map(|g| nix::unistd::Gid::from_raw(g as u32));
        let _ = nix::unistd::fchownat(
            pfd,
            name.as_os_str(),
            uid,
            gid,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        if !kind.is_symlink() {
            let _ = nix::sys::stat::fchmodat(
                pfd,
                name.as_os_str(),
                mode,
                nix::sys::stat::FchmodatFlags::NoFollowSymlink,
            );
        }
        if let Ok(m) = hdr.mtime() {
            let t = nix::sys::time::TimeSpec::new(m as i64, 0);
            let _ = nix::sys::stat::utimensat(
                pfd,
                name.as_os_str(),
                &t,
                &t,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            );
        }
        Ok(())
    }
}

/// An archive entry's path without `.` and leading `/`.
fn clean(p: &Path) -> PathBuf {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(x) => Some(x),
            _ => None,
        })
        .collect()
}

fn check_entry_path(p: &Path) -> Result<()> {
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(Error::InvalidArg(format!(
            "bad archive: entry {:?} climbs out of the destination",
            p.display()
        )));
    }
    Ok(())
}

fn header_for(st: &FileStat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    // Podman hands files out owned by root (its copier chowns to the caller); clients
    // extract them as the user running them.
    let _ = (st.st_uid, st.st_gid);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// Adds `name` (under the directory `dir`) to the archive as `at`, walking directories by
/// descriptor and never following symlinks.
fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    dir: std::os::fd::BorrowedFd<'_>,
    name: &OsStr,
    at: &Path,
) -> Result<()> {
    let st = nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| Error::io("reading the container's files", e.into()))?;
    let mut h = header_for(&st);
    if is(&st, SFlag::S_IFDIR) {
        let fd = nix::fcntl::openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("opening a directory", e.into()))?;
        if at != Path::new(".") {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, at, std::io::empty())
                .map_err(|e| Error::io("writing the archive", e))?;
        }
        let mut names: Vec<OsString> =
            std::fs::read_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map_err(|e| Error::io("listing a directory", e))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
        names.sort();
        for n in names {
            add_entry(b, fd.as_fd(), &n, &at.join(&n))?;
        }
    } else if is(&st, SFlag::S_IFLNK) {
        let target = nix::fcntl::readlinkat(dir, name)
            .map_err(|e| Error::io("reading a symlink", e.into()))?;
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, at, Path::new(&target))
            .map_err(|e| Error::io("writing the archive", e))?;
    } else if is(&st, SFlag::S_IFREG) {
        let fd = nix::fcntl::openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("opening a file", e.into()))?;
        let f = std::fs::File::from(fd);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(st.st_size.max(0) as u64);
        b.append_data(&mut h, at, f)
            .map_err(|e| Error::io("writing the archive", e))?;
    } else {
        let kind = if is(&st, SFlag::S_IFIFO) {
            tar::EntryType::Fifo
        } else if is(&st, SFlag::S_IFCHR) {
            tar::EntryType::Char
        } else if is(&st, SFlag::S_IFBLK) {
            tar::EntryType::Block
        } else {
            return Ok(());
        };
        h.set_entry_type(kind);
        let rdev = st.st_rdev;
        let _ = h.set_device_major(nix::sys::stat::major(rdev) as u32);
        let _ = h.set_device_minor(nix::sys::stat::minor(rdev) as u32);
        b.append_data(&mut h, at, std::io::empty())
            .map_err(|e| Error::io("writing the archive", e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hostile(entries: &[(&str, tar::EntryType, Option<&str>)]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        {
            let mut b = tar::Builder::new(f.reopen().unwrap());
            for (name, kind, link) in entries {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(*kind);
                h.set_mode(0o644);
                let data: &[u8] = b"pwned";
                h.set_size(if kind.is_file() { data.len() as u64 } else { 0 });
                // Bypass the builder's own path checks: write the raw name.
                let raw = name.as_bytes();
                h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
                if let Some(l) = link {
                    h.set_link_name(l).unwrap();
                }
                h.set_cksum();
                b.append(&h, if kind.is_file() { data } else { &[][..] })
                    .unwrap();
            }
            b.finish().unwrap();
        }
        f
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        (t, root, outside)
    }

    fn nothing_outside(outside: &Path) {
        let names: Vec<_> = std::fs::read_dir(outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("secret")], "{names:?}");
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "host"
        );
    }

    #[test]
    fn dotdot_entries_are_refused_before_anything_is_written() {
        let (_t, root, outside) = setup();
        let r = Root::open(&root).unwrap();
        let a = hostile(&[
            ("ok.txt", tar::EntryType::Regular, None),
            ("../../outside/evil", tar::EntryType::Regular, None),
        ]);
        assert!(matches!(
            r.untar("/tmp", a.path(), false),
            Err(Error::InvalidArg(_))
        ));
        assert!(!root.join("tmp/ok.txt").exists(), "nothing half written");
        nothing_outside(&outside);
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_root() {
        let (_t, root, outside) = setup();
        // A symlink in the container pointing at the host's outside dir by absolute path.
        std::os::unix::fs::symlink(&outside, root.join("tmp/escape")).unwrap();
        std::os::unix::fs::symlink("/../../..", root.join("tmp/up")).unwrap();
        let r = Root::open(&root).unwrap();
        let a = hostile(&[("evil", tar::EntryType::Regular, None)]);
        // Writing "into" the symlinked dir lands in <root><outside>, which does not exist.
        let res = r.untar("/tmp/escape", a.path(), false);
        assert!(res.is_err(), "{res:?}");
        r.untar("/tmp/up", a.path(), false).unwrap();
        assert!(root.join("evil").exists(), "`..` is clamped at the root");
        nothing_outside(&outside);
        // Reading through them stays inside too.
        assert!(r.stat("/tmp/escape/secret").is_err());
    }

    #[test]
    fn symlink_entries_then_writes_through_them_stay_inside() {
        let (_t, root, outside) = setup();
        let r = Root::open(&root).unwrap();
        let target = outside.display().to_string();
        let a = hostile(&[
            ("link", tar::EntryType::Symlink, Some(target.as_str())),
            ("link/evil", tar::EntryType::Regular, None),
        ]);
        let _ = r.untar("/tmp", a.path(), false);
        nothing_outside(&outside);
        let a = hostile(&[
            ("rel", tar::EntryType::Symlink, Some("../../../../../../")),
            ("rel/evil2", tar::EntryType::Regular, None),
        ]);
        let _ = r.untar("/tmp", a.path(), false);
        nothing_outside(&outside);
    }

    #[test]
    fn hardlinks_to_outside_paths_are_refused_or_stay_inside() {
        let (_t, root, outside) = setup();
        let r = Root::open(&root).unwrap();
        let a = hostile(&[("h", tar::EntryType::Link, Some("../../outside/secret"))]);
        assert!(r.untar("/tmp", a.path(), false).is_err());
        let abs = outside.join("secret").display().to_string();
        let a = hostile(&[("h2", tar::EntryType::Link, Some(abs.as_str()))]);
        // An absolute link target is taken relative to the destination: not found.
        assert!(r.untar("/tmp", a.path(), false).is_err());
        nothing_outside(&outside);
        assert!(!root.join("tmp/h2").exists());
    }

    #[test]
    fn round_trip_with_stat() {
        let (_t, root, _outside) = setup();
        std::fs::write(root.join("etc/hello.txt"), "hello").unwrap();
        let r = Root::open(&root).unwrap();
        let st = r.stat("/etc/hello.txt").unwrap();
        assert_eq!((st.name.as_str(), st.size), ("hello.txt", 5));
        let mut buf = Vec::new();
        r.tar("/etc", &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"etc/hello.txt".to_string()), "{names:?}");
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &buf).unwrap();
        r.untar("/tmp", f.path(), false).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("tmp/etc/hello.txt")).unwrap(),
            "hello"
        );
        assert!(r.stat("/nope").is_err());
    }
}
