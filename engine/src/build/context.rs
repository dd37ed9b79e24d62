//! The build context and confined path resolution.
//!
//! The uploaded context tar (plain, gzip or zstd) is unpacked into a private directory
//! (entries that would land outside it are skipped, devices and fifos are not created), the
//! Containerfile is read, then the ignore file (`<Containerfile>.containerignore`,
//! `<Containerfile>.dockerignore`, `.containerignore`, `.dockerignore`) removes what it
//! excludes. Every lookup of a user-given path — the Containerfile, COPY sources in the
//! context or in another image's root — goes through `openat2(RESOLVE_IN_ROOT)` from the
//! root's descriptor ([`Confined`]), so a symlink in a context or an image (absolute or
//! full of `..`) resolves inside that root and never reaches the host's files.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag};

use crate::build::ignore::{self, IgnoreMatcher};
use crate::error::{Error, Result};

fn io(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", p.display()), e)
}

/// A relative path from a user-given one: `.` and the root dropped, `..` kept (the kernel
/// clamps it at the root). The same rule as `docker cp` paths.
pub fn relative(p: &str) -> PathBuf {
    crate::containers::archive::relative(p)
}

/// A directory held open, whose paths are resolved inside it.
#[derive(Debug)]
pub struct Confined {
    fd: OwnedFd,
    /// The directory's real path on the host.
    real: PathBuf,
}

/// What a path inside a [`Confined`] root resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The path with every symlink followed, relative to the root.
    pub rel: PathBuf,
    pub is_dir: bool,
    pub is_file: bool,
}

fn fd_path(fd: &OwnedFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Confined {
    /// Opens a root directory.
    pub fn open(root: &Path) -> Result<Confined> {
        let fd = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io("opening", root, e.into()))?;
        let real = fd_path(&fd).map_err(|e| io("resolving", root, e))?;
        Ok(Confined { fd, real })
    }

    /// The root's real path on the host.
    pub fn host_path(&self) -> &Path {
        &self.real
    }

    fn open_in(&self, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        crate::containers::archive::open_in_root(&self.fd, rel, flags)
    }

    /// Resolves `rel` (every symlink followed inside the root); `None` when it does not
    /// exist.
    pub fn resolve(&self, rel: &Path) -> Result<Option<Resolved>> {
        let fd = match self.open_in(rel, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(io("resolving", rel, e.into())),
        };
        let real = fd_path(&fd).map_err(|e| io("resolving", rel, e))?;
        let rel_real = real
            .strip_prefix(&self.real)
            .map(Path::to_path_buf)
            .map_err(|_| Error::Internal(format!("{} resolved outside its root", rel.display())))?;
        let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| io("reading", rel, e.into()))?;
        let kind = st.st_mode & SFlag::S_IFMT.bits();
        Ok(Some(Resolved {
            rel: rel_real,
            is_dir: kind == SFlag::S_IFDIR.bits(),
            is_file: kind == SFlag::S_IFREG.bits(),
        }))
    }

    /// Whether `rel` exists, its last component not followed.
    pub fn exists(&self, rel: &Path) -> bool {
        let (Some(name), parent) = (rel.file_name(), rel.parent().unwrap_or(Path::new(""))) else {
            return true;
        };
        let Ok(dir) = self.open_in(parent, OFlag::O_PATH | OFlag::O_DIRECTORY) else {
            return false;
        };
        nix::sys::stat::fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
    }

    /// Reads a file (at most 64 MiB; a fifo reads as empty); `None` when it does not
    /// exist.
    pub fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>> {
        let fd = match self.open_in(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(None),
            Err(e) => return Err(io("opening", rel, e.into())),
        };
        let f = std::fs::File::from(fd);
        let mut buf = Vec::new();
        match f.take(64 << 20).read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(io("reading", rel, e)),
        }
        Ok(Some(buf))
    }
}

/// A COPY/ADD source found in a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The name it is copied under when it is not a directory (the last component as
    /// given or matched, not the symlink target's).
    pub name: String,
    pub resolved: Resolved,
}

/// Expands COPY/ADD source words inside `root`: globs matched per path component, plain
/// paths resolved; a word matching nothing is an error, as in Docker.
pub fn expand_sources(root: &Confined, words: &[String]) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for w in words {
        let rel = relative(w);
        let mut candidates = vec![PathBuf::new()];
        for comp in rel.components() {
            let c = comp.as_os_str().to_string_lossy().into_owned();
            if !ignore::has_glob(&c) {
                for cand in &mut candidates {
                    cand.push(&c);
                }
                continue;
            }
            let mut next = Vec::new();
            for cand in &candidates {
                let Some(dir) = root.resolve(cand)?.filter(|r| r.is_dir) else {
                    continue;
                };
                let host = root.host_path().join(&dir.rel);
                let mut names: Vec<String> = std::fs::read_dir(&host)
                    .map_err(|e| io("listing", &host, e))?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| ignore::glob_match(&c, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| cand.join(n)));
            }
            candidates = next;
        }
        let mut found = false;
        for cand in candidates {
            if let Some(resolved) = root.resolve(&cand)? {
                let name = cand
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(Source { name, resolved });
                found = true;
            }
        }
        if !found {
            return Err(if ignore::has_glob(w) {
                Error::InvalidArg(format!(
                    "no source files were specified: {w:?} matches no file in the build context"
                ))
            } else {
                Error::InvalidArg(format!(
                    "checking on sources: {w:?}: no such file or directory (not in the build context or excluded by .dockerignore)"
                ))
            });
        }
    }
    Ok(out)
}

/// Unpacks an uploaded context tar into `dir` (created).
pub fn unpack(tar_path: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let f = std::fs::File::open(tar_path).map_err(|e| io("opening", tar_path, e))?;
    let plain = crate::images::layer::decompressed(f)?;
    let mut a = tar::Archive::new(plain);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_preserve_ownerships(false);
    a.set_unpack_xattrs(false);
    a.set_overwrite(true);
    let bad = |e: std::io::Error| Error::InvalidArg(format!("reading the build context: {e}"));
    for e in a.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let kind = e.header().entry_type();
        if !(kind.is_file()
            || kind.is_dir()
            || kind.is_symlink()
            || kind.is_hard_link()
            || kind == tar::EntryType::Continuous)
        {
            continue;
        }
        // `unpack_in` refuses (returns false for) entries that would leave `dir`.
        e.unpack_in(dir)
            .map_err(|e| Error::InvalidArg(format!("extracting the build context: {e}")))?;
    }
    Ok(())
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git://")
}

/// Reads the Containerfile(s) named (several are concatenated), or `Containerfile` then
/// `Dockerfile` when none is named. Returns the text and the (first) path used.
pub fn read_containerfile(root: &Confined, names: &[String]) -> Result<(String, String)> {
    let defaults = ["Containerfile".to_string(), "Dockerfile".to_string()];
    let explicit = !names.is_empty();
    let candidates: &[String] = if explicit { names } else { &defaults };
    let mut text = String::new();
    let mut first: Option<String> = None;
    for n in candidates {
        if is_url(n) {
            return Err(Error::InvalidArg(format!(
                "reading Containerfile {n}: fetching it from a URL is not supported (the daemon has no network access); put it in the build context"
            )));
        }
        match root.read(&relative(n))? {
            Some(bytes) => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&String::from_utf8_lossy(&bytes));
                if first.is_none() {
                    first = Some(n.clone());
                }
                if !explicit {
                    break;
                }
            }
            None if explicit => {
                return Err(Error::InvalidArg(format!(
                    "the specified Containerfile or Dockerfile does not exist, {n}: no such file or directory"
                )))
            }
            None => {}
        }
    }
    let first = first.ok_or_else(|| {
        Error::InvalidArg(
            "the specified Containerfile or Dockerfile does not exist, Dockerfile: no such file or directory"
                .into(),
        )
    })?;
    Ok((text, first))
}

/// The ignore patterns that apply to a build with `containerfile`.
pub fn ignore_matcher(root: &Confined, containerfile: &str) -> Result<IgnoreMatcher> {
    let cf = relative(containerfile).display().to_string();
    for name in [
        format!("{cf}.containerignore"),
        format!("{cf}.dockerignore"),
        ".containerignore".to_string(),
        ".dockerignore".to_string(),
    ] {
        if let Some(bytes) = root.read(&relative(&name))? {
            return Ok(IgnoreMatcher::parse(&String::from_utf8_lossy(&bytes)));
        }
    }
    Ok(IgnoreMatcher::default())
}

/// Removes what `m` excludes from the unpacked context at `dir`.
pub fn apply_ignore(dir: &Path, m: &IgnoreMatcher) -> Result<()> {
    if m.is_empty() {
        return Ok(());
    }
    prune(dir, "", m).map(drop)
}

/// Prunes one directory; whether anything is left in it.
fn prune(base: &Path, rel: &str, m: &IgnoreMatcher) -> Result<bool> {
    let here = base.join(rel);
    let mut kept_any = false;
    for e in std::fs::read_dir(&here).map_err(|e| io("listing", &here, e))? {
        let e = e.map_err(|e| io("listing", &here, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| io("reading", &path, e))?;
        let excluded = m.excluded(&child);
        if meta.is_dir() {
            if excluded && !m.has_exceptions() {
                std::fs::remove_dir_all(&path).map_err(|e| io("removing", &path, e))?;
                continue;
            }
            let inner = prune(base, &child, m)?;
            if excluded && !inner {
                std::fs::remove_dir(&path).map_err(|e| io("removing", &path, e))?;
                continue;
            }
            kept_any = true;
        } else if excluded {
            std::fs::remove_file(&path).map_err(|e| io("removing", &path, e))?;
        } else {
            kept_any = true;
        }
    }
    Ok(kept_any)
}

/// Unpacks the context into `dir`, reads the Containerfile and applies the ignore file;
/// returns the Containerfile's text. Blocking.
pub fn prepare(tar_path: &Path, dir: &Path, containerfiles: &[String]) -> Result<String> {
    unpack(tar_path, dir)?;
    let root = Confined::open(dir)?;
    let (text, name) = read_containerfile(&root, containerfiles)?;
    let m = ignore_matcher(&root, &name)?;
    apply_ignore(dir, &m)?;
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn context_tar(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let p = dir.join("ctx.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&p).unwrap());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data.as_bytes()).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "escape", "/etc").unwrap();
        b.into_inner().unwrap();
        p
    }

    #[test]
    fn prepare_reads_the_containerfile_and_applies_the_ignore_file() {
        let t = tempfile::tempdir().unwrap();
        let tar = context_tar(
            t.path(),
            &[
                ("Containerfile", "FROM busybox\n"),
                (".dockerignore", "*.log\nsecret\n!secret/ok\n"),
                ("app.log", "x"),
                ("src/main.c", "int main;"),
                ("secret/key", "k"),
                ("secret/ok", "fine"),
            ],
        );
        let dir = t.path().join("ctx");
        let text = prepare(&tar, &dir, &[]).unwrap();
        assert_eq!(text, "FROM busybox\n");
        assert!(!dir.join("app.log").exists());
        assert!(dir.join("src/main.c").exists());
        assert!(!dir.join("secret/key").exists());
        assert!(dir.join("secret/ok").exists());
        // A named file that is missing is an error; several are concatenated.
        let root = Confined::open(&dir).unwrap();
        assert!(read_containerfile(&root, &["nope".into()]).is_err());
        let (both, first) =
            read_containerfile(&root, &["Containerfile".into(), "src/main.c".into()]).unwrap();
        assert_eq!(both, "FROM busybox\n\nint main;");
        assert_eq!(first, "Containerfile");
        assert!(read_containerfile(&root, &["https://example.com/Dockerfile".into()]).is_err());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let tar = context_tar(t.path(), &[("Dockerfile", "FROM x\n"), ("etc/hosts", "in")]);
        let dir = t.path().join("ctx");
        prepare(&tar, &dir, &["Dockerfile".into()]).unwrap();
        let root = Confined::open(&dir).unwrap();
        // `escape -> /etc` lands on the context's own etc, never the host's.
        let r = root.resolve(Path::new("escape/hosts")).unwrap().unwrap();
        assert_eq!(r.rel, PathBuf::from("etc/hosts"));
        assert!(r.is_file);
        assert_eq!(
            root.read(Path::new("escape/hosts")).unwrap().unwrap(),
            b"in"
        );
        assert!(root.resolve(Path::new("escape/passwd")).unwrap().is_none());
        assert!(root
            .read(&relative("../../../../etc/passwd"))
            .unwrap()
            .is_none());
        assert!(root.exists(Path::new("escape")));
        assert!(!root.exists(Path::new("nope/x")));
    }

    #[test]
    fn sources_expand_globs() {
        let t = tempfile::tempdir().unwrap();
        let tar = context_tar(
            t.path(),
            &[
                ("a.txt", "a"),
                ("b.txt", "b"),
                ("c.md", "c"),
                ("d/e.txt", "e"),
            ],
        );
        let dir = t.path().join("ctx");
        unpack(&tar, &dir).unwrap();
        let root = Confined::open(&dir).unwrap();
        let s = expand_sources(&root, &["*.txt".into(), "/d".into()]).unwrap();
        let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt", "d"]);
        assert!(s[2].resolved.is_dir);
        let s = expand_sources(&root, &["*/e.txt".into()]).unwrap();
        assert_eq!(s[0].resolved.rel, PathBuf::from("d/e.txt"));
        assert!(expand_sources(&root, &["*.rs".into()]).is_err());
        assert!(expand_sources(&root, &["missing".into()]).is_err());
    }
}
