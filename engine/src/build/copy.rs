//! Files into layers, on blocking threads.
//!
//! COPY/ADD work in two halves. [`stage`] walks the sources (already resolved inside their
//! root by [`crate::build::context`]) into a tar whose entries are relative to the
//! destination, hashing what matters for the cache — names, types, modes, owners, link
//! targets and contents, not times; ADD of a local tar (plain, gzip or zstd) stages the
//! archive's entries instead. [`place`] and [`finalize`] then decide, against the target
//! container's root, where the entries land (inside a directory, or one file renamed to the
//! destination), add the missing parent directories and rewrite the headers for `--chown`
//! and `--chmod`; the result is extracted by the confined `docker cp` writer. Also: the
//! layer tar of a container's upper directory, WORKDIR directories, and `--squash`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::build::context::{relative, Confined, Source};
use crate::error::{Error, Result};
use crate::images::layer::{decompressed, HashingReader};

fn io(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", p.display()), e)
}

fn tar_err(e: std::io::Error) -> Error {
    Error::io("writing a layer archive", e)
}

/// A work directory (under the image store's `tmp/`), removed when dropped.
#[derive(Debug)]
pub struct WorkDir(PathBuf);

impl WorkDir {
    /// Creates the directory.
    pub fn create(path: PathBuf) -> Result<WorkDir> {
        std::fs::create_dir_all(&path).map_err(|e| io("creating", &path, e))?;
        Ok(WorkDir(path))
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A layer tar ready to be ingested.
#[derive(Debug)]
pub struct PreparedLayer {
    pub work: WorkDir,
    pub tar: PathBuf,
    /// `sha256:` digest of the tar.
    pub diff_id: String,
}

/// What a COPY/ADD staged.
#[derive(Debug)]
pub struct Staged {
    pub work: WorkDir,
    pub tar: PathBuf,
    /// `sha256:` digest of the content (for the layer cache).
    pub digest: String,
    /// The staged entry's name when the step copies exactly one non-directory.
    pub single: Option<String>,
}

/// What kind of archive a file is, for ADD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A tar (plain, gzip or zstd): extracted.
    Tar,
    /// A compression this build cannot read.
    Unsupported(&'static str),
    /// Anything else: copied as a file.
    NotArchive,
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Whether a 512-byte block is a tar header (`ustar` magic, or an old-style header with a
/// valid checksum).
fn is_tar_header(b: &[u8]) -> bool {
    if b.len() < 512 {
        return false;
    }
    if &b[257..262] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&b[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let Some(stored) = stored else {
        return false;
    };
    let sum: u32 = b[..512]
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(x)
            }
        })
        .sum();
    sum == stored
}

/// Sniffs a file for ADD.
pub fn archive_kind(path: &Path) -> Result<ArchiveKind> {
    let mut head = [0u8; 6];
    let mut f = std::fs::File::open(path).map_err(|e| io("opening", path, e))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| io("reading", path, e))?;
    let head = &head[..n];
    if head.starts_with(b"BZh") {
        return Ok(ArchiveKind::Unsupported("bzip2"));
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Ok(ArchiveKind::Unsupported("xz"));
    }
    let f = std::fs::File::open(path).map_err(|e| io("opening", path, e))?;
    let Ok(mut r) = decompressed(f) else {
        return Ok(ArchiveKind::NotArchive);
    };
    let mut block = [0u8; 512];
    let got = read_up_to(&mut r, &mut block).unwrap_or(0);
    Ok(if got == 512 && is_tar_header(&block) {
        ArchiveKind::Tar
    } else {
        ArchiveKind::NotArchive
    })
}

/// An archive entry's path with `.` and the root dropped; `..` is refused.
fn clean_rel(p: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::ParentDir => {
                return Err(Error::InvalidArg(format!(
                    "archive entry {:?} climbs out of its destination",
                    p.display()
                )))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A reader hashing what passes through it into a shared hasher.
struct HashInto<'a, R> {
    inner: R,
    h: &'a mut Sha256,
}

impl<R: Read> Read for HashInto<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

struct Stager<W: Write> {
    b: tar::Builder<W>,
    h: Sha256,
    keep_owner: bool,
}

impl<W: Write> Stager<W> {
    fn header(&self, meta: &std::fs::Metadata) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = if self.keep_owner {
            (meta.uid(), meta.gid())
        } else {
            (0, 0)
        };
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        h.set_size(0);
        h
    }

    /// Feeds an entry's metadata (not its time) to the content digest.
    fn note(&mut self, kind: char, at: &Path, h: &tar::Header, link: &Path) {
        let line = format!(
            "{kind}\0{}\0{:o}\0{}\0{}\0{}\0{}\0",
            at.display(),
            h.mode().unwrap_or(0),
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0),
            h.size().unwrap_or(0),
            link.display()
        );
        self.h.update(line.as_bytes());
    }

    fn add_tree(&mut self, host: &Path, at: &Path) -> Result<()> {
        let mut names: Vec<OsString> = std::fs::read_dir(host)
            .map_err(|e| io("listing", host, e))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            self.add_path(&host.join(&n), &at.join(&n))?;
        }
        Ok(())
    }

    /// Adds `host` as `at`, never following symlinks below the source itself.
    fn add_path(&mut self, host: &Path, at: &Path) -> Result<()> {
        let meta = std::fs::symlink_metadata(host).map_err(|e| io("reading", host, e))?;
        let ft = meta.file_type();
        let mut h = self.header(&meta);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            self.note('d', at, &h, Path::new(""));
            self.b
                .append_data(&mut h, at, std::io::empty())
                .map_err(tar_err)?;
            self.add_tree(host, at)
        } else if ft.is_symlink() {
            let target = std::fs::read_link(host).map_err(|e| io("reading", host, e))?;
            h.set_entry_type(tar::EntryType::Symlink);
            self.note('l', at, &h, &target);
            self.b.append_link(&mut h, at, &target).map_err(tar_err)
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            self.note('f', at, &h, Path::new(""));
            let f = std::fs::File::open(host).map_err(|e| io("opening", host, e))?;
            let Stager { b, h: hasher, .. } = self;
            b.append_data(
                &mut h,
                at,
                HashInto {
                    inner: f,
                    h: hasher,
                },
            )
            .map_err(tar_err)
        } else {
            // Devices, fifos and sockets are not copied.
            Ok(())
        }
    }

    /// Stages a tar's entries (ADD of a local archive), owners kept.
    fn add_archive(&mut self, host: &Path) -> Result<()> {
        let f = std::fs::File::open(host).map_err(|e| io("opening", host, e))?;
        let mut a = tar::Archive::new(decompressed(f)?);
        let bad = |e: std::io::Error| Error::InvalidArg(format!("reading {}: {e}", host.display()));
        for e in a.entries().map_err(bad)? {
            let mut e = e.map_err(bad)?;
            let path = clean_rel(&e.path().map_err(bad)?)?;
            if path.as_os_str().is_empty() {
                continue;
            }
            let src = e.header().clone();
            let kind = src.entry_type();
            let mut h = tar::Header::new_gnu();
            h.set_mode(src.mode().unwrap_or(0o644) & 0o7777);
            h.set_uid(src.uid().unwrap_or(0));
            h.set_gid(src.gid().unwrap_or(0));
            h.set_mtime(src.mtime().unwrap_or(0));
            h.set_size(0);
            if kind.is_dir() {
                h.set_entry_type(tar::EntryType::Directory);
                self.note('d', &path, &h, Path::new(""));
                self.b
                    .append_data(&mut h, &path, std::io::empty())
                    .map_err(tar_err)?;
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(bad)?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = if kind.is_hard_link() {
                    h.set_entry_type(tar::EntryType::Link);
                    clean_rel(&target)?
                } else {
                    h.set_entry_type(tar::EntryType::Symlink);
                    target
                };
                self.note(
                    if kind.is_symlink() { 'l' } else { 'h' },
                    &path,
                    &h,
                    &target,
                );
                self.b
                    .append_link(&mut h, &path, &target)
                    .map_err(tar_err)?;
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(e.size());
                self.note('f', &path, &h, Path::new(""));
                let Stager { b, h: hasher, .. } = self;
                b.append_data(
                    &mut h,
                    &path,
                    HashInto {
                        inner: &mut e,
                        h: hasher,
                    },
                )
                .map_err(tar_err)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<String> {
        let Stager { b, h, .. } = self;
        b.into_inner().map_err(tar_err)?.flush().map_err(tar_err)?;
        Ok(format!("sha256:{}", hex::encode(h.finalize())))
    }
}

/// Stages the sources of a COPY/ADD (found in `root`) into a tar in `work`. A directory
/// contributes its contents; anything else one entry under its own name, or, for ADD
/// (`extract_archives`) of a local tar, the archive's entries. Sources from the context
/// are owned by root in the result; `keep_owner` (COPY --from) keeps their owners.
pub fn stage(
    root: &Confined,
    sources: &[Source],
    extract_archives: bool,
    keep_owner: bool,
    work: WorkDir,
) -> Result<Staged> {
    let tar_path = work.join("staged.tar");
    let f = std::fs::File::create(&tar_path).map_err(|e| io("creating", &tar_path, e))?;
    let mut st = Stager {
        b: tar::Builder::new(std::io::BufWriter::new(f)),
        h: Sha256::new(),
        keep_owner,
    };
    let mut single = None;
    for s in sources {
        let host = root.host_path().join(&s.resolved.rel);
        if s.resolved.is_dir {
            st.add_tree(&host, Path::new(""))?;
            continue;
        }
        let kind = if extract_archives && s.resolved.is_file {
            archive_kind(&host)?
        } else {
            ArchiveKind::NotArchive
        };
        match kind {
            ArchiveKind::Tar => st.add_archive(&host)?,
            ArchiveKind::Unsupported(what) => {
                return Err(Error::NotImplemented(format!(
                    "ADD {}: extracting {what} archives is not supported; use a plain, gzip or zstd tar",
                    s.name
                )))
            }
            ArchiveKind::NotArchive => {
                st.add_path(&host, Path::new(&s.name))?;
                if sources.len() == 1 {
                    single = Some(s.name.clone());
                }
            }
        }
    }
    let digest = st.finish()?;
    Ok(Staged {
        work,
        tar: tar_path,
        digest,
        single,
    })
}

/// Where staged entries land in a target root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Relative to the root: the directory receiving the entries, or the new path of the
    /// single file.
    pub dest: PathBuf,
    /// The one staged entry becomes `dest` itself.
    pub rename_single: bool,
    /// Directories to create first (missing parents), top-down.
    pub parents: Vec<PathBuf>,
    /// `--chown` (uid, gid).
    pub owner: Option<(u32, u32)>,
    /// `--chmod` permission bits.
    pub mode: Option<u32>,
}

/// The directories of `dir` (relative) that `root` lacks, top-down.
pub fn missing_dirs(root: &Confined, dir: &Path) -> Vec<PathBuf> {
    let mut acc = PathBuf::new();
    let mut out = Vec::new();
    for c in dir.components() {
        acc.push(c);
        if !out.is_empty() || !root.exists(&acc) {
            out.push(acc.clone());
        }
    }
    out
}

/// Decides where a COPY's entries go: a destination ending in `/` (or `.`), naming an
/// existing directory, or receiving several entries is a directory; one file otherwise
/// becomes the destination itself. `dest` is absolute and clean.
pub fn place(
    root: &Confined,
    dest: &str,
    single: bool,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) -> Result<Placement> {
    let hint = dest.ends_with('/') || dest.ends_with("/.") || dest == ".";
    let rel = relative(dest);
    let is_dir = root.resolve(&rel)?.is_some_and(|r| r.is_dir);
    let into_dir = !single || hint || is_dir;
    let dir = if into_dir {
        rel.clone()
    } else {
        rel.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    Ok(Placement {
        parents: missing_dirs(root, &dir),
        dest: rel,
        rename_single: !into_dir,
        owner,
        mode,
    })
}

fn append_dirs<W: Write>(
    b: &mut tar::Builder<W>,
    dirs: &[PathBuf],
    owner: (u32, u32),
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for d in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(u64::from(owner.0));
        h.set_gid(u64::from(owner.1));
        h.set_mtime(now);
        h.set_size(0);
        b.append_data(&mut h, d, std::io::empty())
            .map_err(tar_err)?;
    }
    Ok(())
}

/// Writes the tar to extract at the target's root (`root`): the missing parents, then the
/// staged entries under their final names with `--chown`/`--chmod` applied. Directories an
/// entry needs that neither the root nor the archive has are created (mode 0755), as
/// Docker's extraction does.
pub fn finalize(staged: &Path, p: &Placement, root: &Confined, out: &Path) -> Result<()> {
    let f = std::fs::File::create(out).map_err(|e| io("creating", out, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    let owner = p.owner.unwrap_or((0, 0));
    append_dirs(&mut b, &p.parents, owner)?;
    let mut known: HashSet<PathBuf> = p.parents.iter().cloned().collect();
    let sf = std::fs::File::open(staged).map_err(|e| io("opening", staged, e))?;
    let mut a = tar::Archive::new(sf);
    let bad = |e: std::io::Error| Error::Internal(format!("reading the staged files: {e}"));
    for e in a.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let rel = e.path().map_err(bad)?.into_owned();
        let name = if p.rename_single {
            p.dest.clone()
        } else {
            p.dest.join(&rel)
        };
        let mut missing = Vec::new();
        let mut acc = PathBuf::new();
        for c in name.parent().into_iter().flat_map(Path::components) {
            acc.push(c);
            if known.insert(acc.clone()) && !root.exists(&acc) {
                missing.push(acc.clone());
            }
        }
        append_dirs(&mut b, &missing, owner)?;
        let mut h = e.header().clone();
        let kind = h.entry_type();
        if kind.is_dir() {
            known.insert(name.clone());
        }
        if let Some((u, g)) = p.owner {
            h.set_uid(u64::from(u));
            h.set_gid(u64::from(g));
        }
        if let Some(m) = p.mode.filter(|_| !kind.is_symlink()) {
            h.set_mode(m);
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = e
                .link_name()
                .map_err(bad)?
                .map(|t| t.into_owned())
                .unwrap_or_default();
            // Hard link targets are paths in the archive: they move with the entries.
            let target = if kind.is_hard_link() {
                p.dest.join(target)
            } else {
                target
            };
            b.append_link(&mut h, &name, &target).map_err(tar_err)?;
        } else {
            b.append_data(&mut h, &name, &mut e).map_err(tar_err)?;
        }
    }
    b.into_inner().map_err(tar_err)?.flush().map_err(tar_err)
}

/// A tar creating the directories in `dirs` (absolute, clean) that `root` lacks, owned by
/// root with mode 0755; `None` when they all exist.
pub fn dirs_tar(root: &Confined, dirs: &[String], out: &Path) -> Result<Option<PathBuf>> {
    let mut want: Vec<PathBuf> = Vec::new();
    for d in dirs {
        for m in missing_dirs(root, &relative(d)) {
            if !want.contains(&m) {
                want.push(m);
            }
        }
    }
    if want.is_empty() {
        return Ok(None);
    }
    let f = std::fs::File::create(out).map_err(|e| io("creating", out, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    append_dirs(&mut b, &want, (0, 0))?;
    b.into_inner().map_err(tar_err)?.flush().map_err(tar_err)?;
    Ok(Some(out.to_path_buf()))
}

/// `--chown=user[:group]` resolved with the target's `/etc/passwd` and `/etc/group`;
/// without a group the gid is the uid, as Docker documents.
pub fn resolve_chown(root: &Confined, spec: &str) -> Result<(u32, u32)> {
    let read = |p: &str| {
        root.read(Path::new(p))
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let (uid, gid, _) =
        crate::containers::spec::resolve_user(spec, &read("etc/passwd"), &read("etc/group"))?;
    Ok(if spec.contains(':') {
        (uid, gid)
    } else {
        (uid, uid)
    })
}

/// Parses `--chmod` (octal permission bits).
pub fn parse_chmod(s: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            Error::InvalidArg(format!(
                "invalid chmod value {s:?}: want octal permission bits"
            ))
        })
}

fn digest_file(p: &Path) -> Result<String> {
    let f = std::fs::File::open(p).map_err(|e| io("opening", p, e))?;
    let mut h = HashingReader::new(f);
    std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| io("reading", p, e))?;
    Ok(h.finish().0)
}

/// The runtime's placeholders in an upper directory (empty files or directories at mount
/// points the image does not have), left out of layers as Docker does.
fn placeholders(upper: &Path, lowers: &[PathBuf], mounts: &[String]) -> HashSet<PathBuf> {
    const RUNTIME: &[&str] = &[
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/run/.containerenv",
        "/run/secrets",
        "/run/podman-init",
        "/dev/shm",
        "/dev",
        "/proc",
        "/sys",
    ];
    let mut out = HashSet::new();
    for d in RUNTIME
        .iter()
        .map(|s| s.to_string())
        .chain(mounts.iter().cloned())
    {
        let rel = PathBuf::from(d.trim_start_matches('/'));
        if rel.as_os_str().is_empty() {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(upper.join(&rel)) else {
            continue;
        };
        let in_image = lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(&rel)).is_ok());
        let empty = if meta.is_dir() {
            std::fs::read_dir(upper.join(&rel))
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
        } else {
            meta.is_file() && meta.len() == 0
        };
        if !in_image && empty {
            out.insert(rel);
        }
    }
    out
}

/// The layer of a build container: its upper directory as an OCI layer tar (whiteouts
/// translated, runtime placeholders left out). `lowers` are the image's unpacked layers,
/// `mounts` the container's mount destinations.
pub fn layer_from_upper(
    upper: &Path,
    lowers: &[PathBuf],
    mounts: &[String],
    work: WorkDir,
) -> Result<PreparedLayer> {
    if !upper.exists() {
        std::fs::create_dir_all(upper).map_err(|e| io("creating", upper, e))?;
    }
    let skip = placeholders(upper, lowers, mounts);
    let tar = work.join("layer.tar");
    crate::containers::commit::upper_layer_tar(upper, &tar, &skip)?;
    let diff_id = digest_file(&tar)?;
    Ok(PreparedLayer { work, tar, diff_id })
}

/// An empty layer tar (the base a `FROM scratch` stage's containers run on).
pub fn empty_tar(out: &Path) -> Result<()> {
    let f = std::fs::File::create(out).map_err(|e| io("creating", out, e))?;
    tar::Builder::new(f).into_inner().map_err(tar_err)?;
    Ok(())
}

type Deletions = (HashSet<PathBuf>, HashSet<PathBuf>);

/// Paths a later layer deletes (whiteouts) or whose directory it makes opaque.
fn shadowed(p: &Path, later: &[Deletions]) -> bool {
    later.iter().any(|(wh, opq)| {
        p.ancestors().any(|a| wh.contains(a)) || p.ancestors().skip(1).any(|a| opq.contains(a))
    })
}

fn lexical(p: &Path) -> PathBuf {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(x) => Some(x),
            _ => None,
        })
        .collect()
}

/// Squashes layer blobs (bottom first) into one layer: later entries replace earlier ones,
/// entries a later layer deletes or hides are dropped, whiteouts are kept for the layers
/// below.
pub fn squash_layers(blobs: &[PathBuf], work: WorkDir) -> Result<PreparedLayer> {
    let bad = |e: std::io::Error| Error::Internal(format!("reading a layer to squash: {e}"));
    let open = |p: &Path| -> Result<tar::Archive<Box<dyn Read>>> {
        let f = std::fs::File::open(p).map_err(|e| io("opening", p, e))?;
        Ok(tar::Archive::new(decompressed(f)?))
    };
    let mut deletions: Vec<Deletions> = Vec::new();
    for b in blobs {
        let (mut wh, mut opq) = (HashSet::new(), HashSet::new());
        let mut a = open(b)?;
        for e in a.entries().map_err(bad)? {
            let e = e.map_err(bad)?;
            let p = lexical(&e.path().map_err(bad)?);
            let parent = p.parent().unwrap_or(Path::new("")).to_path_buf();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name == ".wh..wh..opq" {
                opq.insert(parent);
            } else if let Some(target) = name.strip_prefix(".wh.") {
                wh.insert(parent.join(target));
            }
        }
        deletions.push((wh, opq));
    }
    let tar = work.join("layer.tar");
    let f = std::fs::File::create(&tar).map_err(|e| io("creating", &tar, e))?;
    let mut out = tar::Builder::new(std::io::BufWriter::new(f));
    for (i, b) in blobs.iter().enumerate() {
        let mut a = open(b)?;
        for e in a.entries().map_err(bad)? {
            let mut e = e.map_err(bad)?;
            let p = lexical(&e.path().map_err(bad)?);
            if p.as_os_str().is_empty() || shadowed(&p, &deletions[i + 1..]) {
                continue;
            }
            let mut h = e.header().clone();
            let kind = h.entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(bad)?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = if kind.is_hard_link() {
                    lexical(&target)
                } else {
                    target
                };
                out.append_link(&mut h, &p, &target).map_err(tar_err)?;
            } else {
                out.append_data(&mut h, &p, &mut e).map_err(tar_err)?;
            }
        }
    }
    out.into_inner()
        .map_err(tar_err)?
        .flush()
        .map_err(tar_err)?;
    let diff_id = digest_file(&tar)?;
    Ok(PreparedLayer { work, tar, diff_id })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::build::context::expand_sources;

    fn names(tar_path: &Path) -> Vec<(String, u64, u32)> {
        let mut a = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.mode().unwrap(),
                )
            })
            .collect()
    }

    fn work(t: &Path, n: &str) -> WorkDir {
        WorkDir::create(t.join(n)).unwrap()
    }

    fn context(t: &Path) -> PathBuf {
        let c = t.join("ctx");
        std::fs::create_dir_all(c.join("d")).unwrap();
        std::fs::write(c.join("f.txt"), "hello").unwrap();
        std::fs::write(c.join("d/g.txt"), "g").unwrap();
        std::os::unix::fs::symlink("g.txt", c.join("d/l")).unwrap();
        c
    }

    #[test]
    fn staging_digests_content_not_times() {
        let t = tempfile::tempdir().unwrap();
        let c = context(t.path());
        let root = Confined::open(&c).unwrap();
        let srcs = expand_sources(&root, &["f.txt".into()]).unwrap();
        let a = stage(&root, &srcs, false, false, work(t.path(), "w1")).unwrap();
        assert_eq!(a.single.as_deref(), Some("f.txt"));
        std::fs::File::options()
            .write(true)
            .open(c.join("f.txt"))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000))
            .unwrap();
        let b = stage(&root, &srcs, false, false, work(t.path(), "w2")).unwrap();
        assert_eq!(a.digest, b.digest);
        std::fs::write(c.join("f.txt"), "changed").unwrap();
        let d = stage(&root, &srcs, false, false, work(t.path(), "w3")).unwrap();
        assert_ne!(a.digest, d.digest);
        // A directory contributes its contents; symlinks inside stay symlinks.
        let srcs = expand_sources(&root, &["d".into()]).unwrap();
        let s = stage(&root, &srcs, false, false, work(t.path(), "w4")).unwrap();
        assert!(s.single.is_none());
        let n: Vec<String> = names(&s.tar).into_iter().map(|x| x.0).collect();
        assert_eq!(n, ["g.txt", "l"]);
    }

    #[test]
    fn placement_renames_single_files_and_creates_parents() {
        let t = tempfile::tempdir().unwrap();
        let c = context(t.path());
        let target = t.path().join("target");
        std::fs::create_dir_all(target.join("app")).unwrap();
        let root = Confined::open(&c).unwrap();
        let troot = Confined::open(&target).unwrap();
        let srcs = expand_sources(&root, &["f.txt".into()]).unwrap();
        let s = stage(&root, &srcs, false, false, work(t.path(), "w")).unwrap();

        let p = place(&troot, "/app", true, None, None).unwrap();
        assert!(!p.rename_single, "an existing directory receives the file");
        assert!(p.parents.is_empty());
        let out = t.path().join("o1.tar");
        finalize(&s.tar, &p, &troot, &out).unwrap();
        assert_eq!(names(&out)[0].0, "app/f.txt");

        let p = place(
            &troot,
            "/new/sub/name.txt",
            true,
            Some((1000, 1000)),
            Some(0o600),
        )
        .unwrap();
        assert!(p.rename_single);
        assert_eq!(p.parents, [PathBuf::from("new"), PathBuf::from("new/sub")]);
        let out = t.path().join("o2.tar");
        finalize(&s.tar, &p, &troot, &out).unwrap();
        assert_eq!(
            names(&out),
            [
                ("new".to_string(), 1000, 0o755),
                ("new/sub".to_string(), 1000, 0o755),
                ("new/sub/name.txt".to_string(), 1000, 0o600)
            ]
        );
        let p = place(&troot, "/other/", true, None, None).unwrap();
        assert!(!p.rename_single);
        assert_eq!(p.parents, [PathBuf::from("other")]);
    }

    #[test]
    fn add_extracts_local_tars_only() {
        let t = tempfile::tempdir().unwrap();
        let c = t.path().join("ctx");
        std::fs::create_dir_all(&c).unwrap();
        let mut inner = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o640);
        h.set_uid(42);
        h.set_entry_type(tar::EntryType::Regular);
        inner.append_data(&mut h, "x/y.txt", &b"hi"[..]).unwrap();
        let plain = inner.into_inner().unwrap();
        std::fs::write(c.join("a.tar"), &plain).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        std::fs::write(c.join("a.tar.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(c.join("notes.txt"), "just text").unwrap();
        std::fs::write(c.join("a.tar.bz2"), "BZh91AY&SY").unwrap();
        assert_eq!(archive_kind(&c.join("a.tar")).unwrap(), ArchiveKind::Tar);
        assert_eq!(archive_kind(&c.join("a.tar.gz")).unwrap(), ArchiveKind::Tar);
        assert_eq!(
            archive_kind(&c.join("notes.txt")).unwrap(),
            ArchiveKind::NotArchive
        );
        assert_eq!(
            archive_kind(&c.join("a.tar.bz2")).unwrap(),
            ArchiveKind::Unsupported("bzip2")
        );
        let root = Confined::open(&c).unwrap();
        let srcs = expand_sources(&root, &["a.tar.gz".into()]).unwrap();
        let s = stage(&root, &srcs, true, false, work(t.path(), "w1")).unwrap();
        assert!(
            s.single.is_none(),
            "an extracted archive goes into a directory"
        );
        assert_eq!(names(&s.tar), [("x/y.txt".to_string(), 42, 0o640)]);
        // Parents the archive does not list are created.
        let target = t.path().join("target");
        std::fs::create_dir_all(&target).unwrap();
        let troot = Confined::open(&target).unwrap();
        let p = place(&troot, "/opt/", false, None, None).unwrap();
        let out = t.path().join("o.tar");
        finalize(&s.tar, &p, &troot, &out).unwrap();
        assert_eq!(
            names(&out),
            [
                ("opt".to_string(), 0, 0o755),
                ("opt/x".to_string(), 0, 0o755),
                ("opt/x/y.txt".to_string(), 42, 0o640)
            ]
        );
        // COPY never extracts.
        let s = stage(&root, &srcs, false, false, work(t.path(), "w2")).unwrap();
        assert_eq!(s.single.as_deref(), Some("a.tar.gz"));
        let srcs = expand_sources(&root, &["a.tar.bz2".into()]).unwrap();
        assert!(stage(&root, &srcs, true, false, work(t.path(), "w3")).is_err());
    }

    #[test]
    fn workdir_directories_and_chown() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        std::fs::create_dir_all(r.join("a")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(
            r.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let root = Confined::open(&r).unwrap();
        let out = t.path().join("dirs.tar");
        let made = dirs_tar(&root, &["/a/b/c".into(), "/a/b".into()], &out).unwrap();
        assert_eq!(made, Some(out.clone()));
        let n: Vec<String> = names(&out).into_iter().map(|x| x.0).collect();
        assert_eq!(n, ["a/b", "a/b/c"]);
        assert!(dirs_tar(&root, &["/a".into()], &out).unwrap().is_none());
        assert_eq!(resolve_chown(&root, "app").unwrap(), (1000, 1000));
        assert_eq!(resolve_chown(&root, "app:staff").unwrap(), (1000, 50));
        assert_eq!(resolve_chown(&root, "7").unwrap(), (7, 7));
        assert_eq!(resolve_chown(&root, "7:8").unwrap(), (7, 8));
        assert!(resolve_chown(&root, "nobody").is_err());
        assert_eq!(parse_chmod("755").unwrap(), 0o755);
        assert!(parse_chmod("9").is_err());
    }

    #[test]
    fn squash_drops_what_later_layers_delete() {
        let t = tempfile::tempdir().unwrap();
        let layer = |name: &str, entries: &[(&str, bool)]| -> PathBuf {
            let p = t.path().join(name);
            let mut b = tar::Builder::new(std::fs::File::create(&p).unwrap());
            for (path, dir) in entries {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(if *dir {
                    tar::EntryType::Directory
                } else {
                    tar::EntryType::Regular
                });
                h.set_size(0);
                h.set_mode(0o644);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            b.into_inner().unwrap();
            p
        };
        let l1 = layer(
            "l1.tar",
            &[("a", true), ("a/x", false), ("b", false), ("c", false)],
        );
        let l2 = layer(
            "l2.tar",
            &[("a/.wh..wh..opq", false), ("a/y", false), (".wh.b", false)],
        );
        let out = squash_layers(&[l1, l2], work(t.path(), "w")).unwrap();
        let n: Vec<String> = names(&out.tar).into_iter().map(|x| x.0).collect();
        assert_eq!(n, ["a", "c", "a/.wh..wh..opq", "a/y", ".wh.b"]);
        assert!(out.diff_id.starts_with("sha256:"));
    }
}
