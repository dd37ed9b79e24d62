//! Filesystem changes of a layer against the layers below it (`podman image diff`, and the
//! container `changes` from its upper dir): added, changed, and deleted paths, with overlay
//! whiteouts (0:0 character devices) read as deletions.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
}

impl ChangeKind {
    /// Docker's numeric kind (0 modified, 1 added, 2 deleted).
    pub fn code(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

fn exists_below(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
}

/// Changes in `upper` relative to `lowers` (top-most first), sorted by path.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Vec<Change> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) {
    let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let Ok(meta) = e.metadata() else { continue };
        let path = format!("/{}", r.display());
        let whiteout = meta.file_type().is_char_device() && {
            use std::os::unix::fs::MetadataExt;
            meta.rdev() == 0
        };
        if whiteout {
            out.push(Change {
                path,
                kind: ChangeKind::Deleted,
            });
            continue;
        }
        let kind = if exists_below(lowers, &r) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change { path, kind });
        if meta.is_dir() {
            walk(root, &r, lowers, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_deleted() {
        let d = tempfile::tempdir().unwrap();
        let (lower, upper) = (d.path().join("lower"), d.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/a"), "1").unwrap();
        std::fs::write(lower.join("gone"), "1").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/a"), "2").unwrap();
        std::fs::write(upper.join("new"), "n").unwrap();
        nix::sys::stat::mknod(
            &upper.join("gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let c = changes(&upper, &[lower]);
        let got: Vec<(String, u8)> = c.iter().map(|c| (c.path.clone(), c.kind.code())).collect();
        assert_eq!(
            got,
            vec![
                ("/etc".into(), 0),
                ("/etc/a".into(), 0),
                ("/gone".into(), 2),
                ("/new".into(), 1)
            ]
        );
    }
}
