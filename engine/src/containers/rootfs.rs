//! Container root filesystems: an overlay mount of the image's unpacked layers (through
//! their short `l/` links, so long layer lists fit the one-page mount data limit) with a
//! per-container upper and work dir, and its unmount.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// The page-size limit of mount(2) option data.
const MOUNT_DATA_LIMIT: usize = 4096;

/// The directories of one container's rootfs.
#[derive(Debug, Clone)]
pub struct RootfsDirs {
    /// Lower layers, top-most first (paths of `l/<short>` links).
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

/// The overlay option string for `dirs`.
pub fn overlay_options(dirs: &RootfsDirs) -> Result<String> {
    if dirs.lowers.is_empty() {
        return Err(Error::InvalidArg(
            "an overlay needs at least one lower layer".into(),
        ));
    }
    let lower = dirs
        .lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let opts = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        dirs.upper.display(),
        dirs.work.display()
    );
    if opts.len() >= MOUNT_DATA_LIMIT {
        return Err(Error::InvalidArg(format!(
            "the image has too many layers ({}) for one overlay mount",
            dirs.lowers.len()
        )));
    }
    Ok(opts)
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(format!("creating {}", p.display()), e))
}

/// Mounts the overlay at `dirs.merged` (creating upper, work and merged).
pub fn mount_overlay(dirs: &RootfsDirs) -> Result<()> {
    let opts = overlay_options(dirs)?;
    for d in [&dirs.upper, &dirs.work, &dirs.merged] {
        mkdir(d)?;
    }
    mount(
        Some("overlay"),
        &dirs.merged,
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
    .map_err(|e| {
        Error::io(
            format!("mounting the overlay at {}", dirs.merged.display()),
            e.into(),
        )
    })
}

/// Unmounts a rootfs; a path that is not mounted is fine.
pub fn unmount(merged: &Path) -> Result<()> {
    match umount2(merged, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io(
            format!("unmounting {}", merged.display()),
            e.into(),
        )),
    }
}

/// Whether `path` is a mount point (per /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.display().to_string();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|mp| mp == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_use_the_given_lowers_in_order_and_respect_the_page_limit() {
        let d = RootfsDirs {
            lowers: vec!["/s/l/AAA".into(), "/s/l/BBB".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
            merged: "/c/merged".into(),
        };
        assert_eq!(
            overlay_options(&d).unwrap(),
            "lowerdir=/s/l/AAA:/s/l/BBB,upperdir=/c/upper,workdir=/c/work"
        );
        let many = RootfsDirs {
            lowers: (0..200)
                .map(|i| PathBuf::from(format!("/var/lib/podapid/storage/overlay/l/{i:026}")))
                .collect(),
            ..d
        };
        assert!(overlay_options(&many).is_err());
    }

    #[test]
    fn overlay_mounts_layers_with_whiteouts_and_unmounts() {
        if !nix::unistd::geteuid().is_root() {
            return; // mounting needs root; CI runs as root
        }
        let t = tempfile::tempdir().unwrap();
        let (low1, low2) = (t.path().join("low1"), t.path().join("low2"));
        std::fs::create_dir_all(&low1).unwrap();
        std::fs::create_dir_all(&low2).unwrap();
        std::fs::write(low2.join("base.txt"), "base").unwrap();
        std::fs::write(low2.join("gone.txt"), "x").unwrap();
        std::fs::write(low1.join("top.txt"), "top").unwrap();
        nix::sys::stat::mknod(
            &low1.join("gone.txt"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let dirs = RootfsDirs {
            lowers: vec![low1, low2],
            upper: t.path().join("upper"),
            work: t.path().join("work"),
            merged: t.path().join("merged"),
        };
        mount_overlay(&dirs).unwrap();
        assert!(is_mounted(&dirs.merged));
        let m = &dirs.merged;
        assert_eq!(std::fs::read_to_string(m.join("base.txt")).unwrap(), "base");
        assert_eq!(std::fs::read_to_string(m.join("top.txt")).unwrap(), "top");
        assert!(
            !m.join("gone.txt").exists(),
            "the whiteout hides the lower file"
        );
        std::fs::write(m.join("new.txt"), "new").unwrap();
        assert!(
            dirs.upper.join("new.txt").exists(),
            "writes land in the upper dir"
        );
        unmount(m).unwrap();
        assert!(!is_mounted(m));
        unmount(m).unwrap();
    }
}
