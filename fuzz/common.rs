//! Helpers shared by the fuzz targets (each includes this file as `mod common`): splitting an
//! input into parts, scratch files, and the sandbox the tar targets unpack into.
//!
//! The tar targets run as root in CI, where a whiteout is a real device node and a symlink
//! followed by mistake could reach the host's files. So an input is only unpacked when every
//! link name in it is relative, climbs at most two levels and never climbs after a name
//! (`links_are_containable`); the target directory sits seven levels below a temporary
//! directory, so whatever the code under test gets wrong stays inside the sandbox, where the
//! target sees it as a changed sentinel and fails.

#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The input split at its first NUL byte (the second part is empty when there is none).
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A temporary file holding `bytes`, removed when dropped.
pub fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("creating a temporary file");
    f.write_all(bytes).expect("writing a temporary file");
    f.flush().expect("writing a temporary file");
    f
}

/// The stream `images::layer::decompressed` makes of `data` (what the layer and context
/// unpackers read), or `None` when it is larger than 8 MiB (not worth a fuzz run).
pub fn decompress_capped(data: &[u8]) -> Option<Vec<u8>> {
    const CAP: u64 = 8 << 20;
    let plain = engine::images::layer::decompressed(data).ok()?;
    let mut out = Vec::new();
    // A read error ends the stream for the unpackers too: what was read is what they see.
    let _ = plain.take(CAP + 1).read_to_end(&mut out);
    (out.len() as u64 <= CAP).then_some(out)
}

/// Whether a link name keeps the sandbox's guarantee.
fn containable(target: &Path) -> bool {
    let mut ups = 0;
    let mut named = false;
    for c in target.components() {
        match c {
            Component::ParentDir if named => return false,
            Component::ParentDir => ups += 1,
            Component::Normal(_) => named = true,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    ups <= 2
}

/// Whether every link name (symlink or hard link target, long and PAX forms included) of the
/// entries the tar crate reads from `bytes` is containable. Entries after a read error are
/// never reached by the unpackers either.
pub fn links_are_containable(bytes: &[u8]) -> bool {
    let mut a = tar::Archive::new(bytes);
    let Ok(entries) = a.entries() else {
        return true;
    };
    for e in entries {
        let Ok(e) = e else {
            return true;
        };
        match e.link_name() {
            Ok(None) => {}
            Ok(Some(t)) if containable(&t) => {}
            _ => return false,
        }
    }
    true
}

/// `<tmp>/l1/.../l6/target`, with a sentinel file and `a`, `b`, `s` directories (each with
/// a sentinel) at every level from the root down to `l6`.
pub struct Sandbox {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub target: PathBuf,
}

fn plant(dir: &Path) {
    std::fs::write(dir.join("sentinel"), b"keep").expect("planting a sentinel");
    for d in ["a", "b", "s"] {
        std::fs::create_dir(dir.join(d)).expect("planting a directory");
        std::fs::write(dir.join(d).join("sentinel"), b"keep").expect("planting a sentinel");
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().expect("creating a temporary directory");
        let root = tmp.path().to_path_buf();
        let mut level = root.clone();
        for name in ["l1", "l2", "l3", "l4", "l5", "l6"] {
            plant(&level);
            level.push(name);
            std::fs::create_dir(&level).expect("creating the sandbox");
        }
        plant(&level);
        let target = level.join("target");
        Sandbox {
            _tmp: tmp,
            root,
            target,
        }
    }

    /// A directory two levels below the root, for absolute symlinks the harness plants.
    pub fn abs(&self) -> PathBuf {
        self.root.join("l1").join("l2")
    }

    /// What can be observed outside the target.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.target, &mut out);
        out
    }

    /// Panics (a finding) when anything outside the target differs from `before`.
    pub fn assert_unchanged(&self, before: &Snapshot, what: &str) {
        let after = self.snapshot();
        if &after == before {
            return;
        }
        let mut changes = Vec::new();
        for (p, s) in before {
            match after.get(p) {
                None => changes.push(format!("removed {}", p.display())),
                Some(t) if t != s => changes.push(format!("changed {}", p.display())),
                Some(_) => {}
            }
        }
        for p in after.keys() {
            if !before.contains_key(p) {
                changes.push(format!("created {}", p.display()));
            }
        }
        panic!("{what} changed files outside its target directory: {changes:#?}");
    }
}

/// Per path: kind, mode, owner, group, content (files, symlink targets), extended attributes.
pub type Snapshot = BTreeMap<PathBuf, (char, u32, u32, u32, Vec<u8>, Vec<(String, Vec<u8>)>)>;

fn walk(dir: &Path, skip: &Path, out: &mut Snapshot) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.starts_with(skip) {
            continue;
        }
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let ft = md.file_type();
        let (kind, content) = if ft.is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            ('l', t.to_string_lossy().into_owned().into_bytes())
        } else if ft.is_dir() {
            ('d', Vec::new())
        } else if ft.is_file() {
            ('f', std::fs::read(&p).unwrap_or_default())
        } else {
            ('o', Vec::new())
        };
        let mut xattrs: Vec<(String, Vec<u8>)> = match xattr::list(&p) {
            Ok(names) => names
                .map(|n| {
                    let v = xattr::get(&p, &n).ok().flatten().unwrap_or_default();
                    (n.to_string_lossy().into_owned(), v)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        xattrs.sort();
        out.insert(
            p.clone(),
            (kind, md.mode(), md.uid(), md.gid(), content, xattrs),
        );
        if ft.is_dir() {
            walk(&p, skip, out);
        }
    }
}
