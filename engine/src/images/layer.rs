//! Layers: unpacking a (gzip/zstd/plain) layer tar into an overlay `diff` directory with the
//! whiteouts translated to overlayfs form, verifying its DiffID on the way, and the ChainID
//! arithmetic that keys unpacked layers.
//!
//! OCI whiteouts: `.wh.NAME` deletes NAME (overlay: a 0:0 character device), `.wh..wh..opq`
//! makes its directory opaque (overlay: xattr `trusted.overlay.opaque=y`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// `sha256:<hex>` of everything read, and the byte count.
    pub fn finish(self) -> (String, u64) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// ChainIDs of a list of DiffIDs: `chain[0] = diff[0]`,
/// `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => sha256_digest(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Opens a possibly compressed layer stream as plain tar bytes.
pub fn decompressed<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br
        .fill_buf()
        .map_err(|e| Error::io("reading a layer", e))?
        .to_vec();
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(br)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(
            zstd::stream::read::Decoder::with_buffer(br).map_err(|e| Error::io("zstd layer", e))?,
        ))
    } else {
        Ok(Box::new(br))
    }
}

/// A relative path inside the layer, refusing absolute and `..` components.
/// The normal components of `rel`, or `None` when it has `..` or is absolute.
fn normal_components(rel: &Path) -> Option<Vec<&std::ffi::OsStr>> {
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Opens (creating the missing ones, mode 0755) the directories of `comps` below `root`,
/// every step resolved by the kernel inside `root` (`RESOLVE_IN_ROOT`): a symlink in the
/// layer cannot lead a whiteout out of it.
fn open_dirs_in(
    root: &std::os::fd::OwnedFd,
    comps: &[&std::ffi::OsStr],
) -> nix::Result<std::os::fd::OwnedFd> {
    use crate::containers::archive::open_in_root;
    use nix::fcntl::OFlag;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
    let mut dir = open_in_root(root, Path::new(""), flags)?;
    let mut so_far = PathBuf::new();
    for c in comps {
        so_far.push(c);
        dir = match open_in_root(root, &so_far, flags) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => {
                match nix::sys::stat::mkdirat(
                    &dir,
                    *c,
                    nix::sys::stat::Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                open_in_root(root, &so_far, flags)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(dir)
}

/// Applies the whiteout `.wh.<target>` found in directory `parent_rel` of the layer at
/// `root`: an opaque marker on the directory, or a 0:0 character device replacing `target`.
/// Names that are not one plain component (`.`, `..`, empty) are ignored.
fn whiteout(root: &std::os::fd::OwnedFd, parent_rel: &Path, target: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    if target.is_empty() || target == "." || target == ".." || target.contains('/') {
        return Ok(());
    }
    let Some(comps) = normal_components(parent_rel) else {
        return Ok(());
    };
    let shown = parent_rel.join(target);
    let dir = open_dirs_in(root, &comps)
        .map_err(|e| Error::io(format!("whiteout {}", shown.display()), e.into()))?;
    if target == ".wh..opq" {
        let f = std::fs::File::from(dir);
        xattr::FileExt::set_xattr(&f, "trusted.overlay.opaque", b"y")
            .map_err(|e| Error::io(format!("marking {} opaque", parent_rel.display()), e))?;
        return Ok(());
    }
    // Remove what is there: a file or link by unlinkat; a directory through the descriptor's
    // own path (inside the layer), whose removal never follows symlinks.
    match nix::unistd::unlinkat(&dir, target, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(nix::errno::Errno::EISDIR | nix::errno::Errno::EPERM) => {
            let p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(target);
            std::fs::remove_dir_all(&p)
                .map_err(|e| Error::io(format!("whiteout {}", shown.display()), e))?;
        }
        Err(e) => return Err(Error::io(format!("whiteout {}", shown.display()), e.into())),
    }
    nix::sys::stat::mknodat(
        &dir,
        target,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        nix::sys::stat::makedev(0, 0),
    )
    .map_err(|e| Error::io(format!("whiteout {}", shown.display()), e.into()))
}

/// Unpacks a layer (compressed or not) into `dest`, translating whiteouts. Returns the
/// DiffID (digest of the uncompressed tar) and the uncompressed size.
pub fn unpack_layer<R: Read>(compressed: R, dest: &Path) -> Result<(String, u64)> {
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io(format!("creating {}", dest.display()), e))?;
    let root = nix::fcntl::open(
        dest,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::io(format!("opening {}", dest.display()), e.into()))?;
    let plain = decompressed(compressed)?;
    let mut hashing = HashingReader::new(plain);
    {
        let mut archive = tar::Archive::new(&mut hashing);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_preserve_mtime(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        let entries = archive
            .entries()
            .map_err(|e| Error::io("reading layer entries", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::io("reading a layer entry", e))?;
            let path = entry
                .path()
                .map_err(|e| Error::io("layer entry path", e))?
                .into_owned();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                // The root entry ("./") carries only metadata of the layer root.
                continue;
            };
            if let Some(target) = name.strip_prefix(".wh.") {
                let parent_rel = path.parent().unwrap_or(Path::new(""));
                whiteout(&root, parent_rel, target)?;
                continue;
            }
            entry
                .unpack_in(dest)
                .map_err(|e| Error::io(format!("unpacking {}", path.display()), e))?;
        }
    }
    // Read the end-of-archive blocks too: the DiffID covers the whole stream.
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| Error::io("reading a layer", e))?;
    Ok(hashing.finish())
}

/// A random 26-character name for the short `l/` links (keeps overlay mount options short).
pub fn short_link_name() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let bytes: [u8; 26] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_cksum();
            b.append_data(&mut h, p, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let d = vec!["sha256:a".to_string(), "sha256:b".to_string()];
        let c = chain_ids(&d);
        assert_eq!(c[0], "sha256:a");
        assert_eq!(c[1], sha256_digest(b"sha256:a sha256:b"));
    }

    #[test]
    fn gzip_layer_with_whiteouts_unpacks_and_verifies() {
        let tar = tar_of(&[
            ("data/keep.txt", b"keep"),
            ("data/.wh.gone.txt", b""),
            ("opaque/.wh..wh..opq", b""),
            ("opaque/new.txt", b"new"),
        ]);
        let want = sha256_digest(&tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (diff, size) = unpack_layer(&gz[..], dir.path()).unwrap();
        assert_eq!(diff, want);
        assert_eq!(size, tar.len() as u64);
        assert_eq!(
            std::fs::read(dir.path().join("data/keep.txt")).unwrap(),
            b"keep"
        );
        let wh = std::fs::metadata(dir.path().join("data/gone.txt")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(
            xattr::get(dir.path().join("opaque"), "trusted.overlay.opaque")
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
        assert!(!dir.path().join("opaque/.wh..wh..opq").exists());
    }

    #[test]
    fn zstd_and_plain_layers_unpack_with_the_same_diff_id() {
        let tar = tar_of(&[("etc/hostname", b"box\n")]);
        let want = sha256_digest(&tar);
        let zst = zstd::stream::encode_all(&tar[..], 3).unwrap();
        for data in [zst, tar.clone()] {
            let dir = tempfile::tempdir().unwrap();
            let (diff, _) = unpack_layer(&data[..], dir.path()).unwrap();
            assert_eq!(diff, want);
            assert_eq!(
                std::fs::read(dir.path().join("etc/hostname")).unwrap(),
                b"box\n"
            );
        }
    }

    #[test]
    fn escaping_entries_stay_inside() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // Bypass the builder's own path checks to forge a hostile entry.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../evil\0\0");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d");
        let _ = unpack_layer(&data[..], &dest);
        assert!(!dir.path().join("evil").exists());
    }
}
