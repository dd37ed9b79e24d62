//! `commit`: a new image from a container — the image's layers plus one layer made from the
//! container's overlay upper directory, with overlay whiteouts written as OCI whiteouts
//! (a 0:0 character device → `.wh.<name>`, an opaque directory → `.wh..wh..opq`), and a
//! config built from the container's settings with Dockerfile-style `changes` applied. The
//! placeholders the runtime creates for its bind mounts (`/etc/hosts`, `/etc/resolv.conf`,
//! `/etc/hostname`, `/run/.containerenv`, empty mount points) are left out, as Docker does.
#![allow(unsafe_code)] // one lgetxattr(2) call to read overlayfs' opaque-directory mark

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{json, Value};

use crate::containers::lifecycle::ContainerRecord;
use crate::containers::ContainerStatus;
use crate::error::{Error, Result};
use crate::images::archive::{ingest, with_conn, LayerBlob};
use crate::images::layer::HashingReader;
use crate::images::{ImageEngine, ImageRecord, ImageRef};
use crate::runtime::Runtime;

/// What a commit is asked for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `repo[:tag]` to name the image (none: untagged).
    pub reference: Option<String>,
    pub author: String,
    pub comment: String,
    /// Dockerfile-style changes: `CMD`, `ENTRYPOINT`, `ENV`, `LABEL`, `EXPOSE`, `WORKDIR`,
    /// `USER`, `VOLUME`.
    pub changes: Vec<String>,
    /// A Docker container config (`Cmd`, `Entrypoint`, `Env`, `Labels`, ...) whose set
    /// fields replace the container's.
    pub config: Option<Value>,
    /// Freeze a running container while its files are read.
    pub pause: bool,
    /// `docker` (Docker v2 schema 2) instead of OCI.
    pub docker_format: bool,
}

fn has_opaque_xattr(path: &Path) -> bool {
    matches!(
        xattr_get(path, "trusted.overlay.opaque").as_deref(),
        Some(b"y")
    )
}

fn xattr_get(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = [0u8; 16];
    // SAFETY: both strings are NUL-terminated and the buffer is valid for its length.
    let r =
        unsafe { nix::libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| buf[..r as usize].to_vec())
}

/// Writes the tar of an overlay upper directory into `out`, skipping `skip` (relative
/// paths of runtime placeholders). Blocking.
pub fn upper_layer_tar(upper: &Path, out: &Path, skip: &HashSet<PathBuf>) -> Result<()> {
    let io =
        |what: &str, p: &Path, e: std::io::Error| Error::io(format!("{what} {}", p.display()), e);
    let f = std::fs::File::create(out).map_err(|e| io("creating", out, e))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    b.follow_symlinks(false);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = upper.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io("reading", &dir, e))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            if skip.contains(&r) {
                continue;
            }
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io("reading", &path, e))?;
            let ft = meta.file_type();
            if ft.is_char_device() && meta.rdev() == 0 {
                // Deleted in the container: an OCI whiteout.
                let name = format!(
                    ".wh.{}",
                    r.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                );
                let wh = r.parent().unwrap_or(Path::new("")).join(name);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o600);
                h.set_mtime(meta.mtime().max(0) as u64);
                h.set_cksum();
                b.append_data(&mut h, &wh, std::io::empty())
                    .map_err(|e| io("writing", &wh, e))?;
                continue;
            }
            b.append_path_with_name(&path, &r)
                .map_err(|e| io("archiving", &path, e))?;
            if ft.is_dir() {
                if has_opaque_xattr(&path) {
                    let wh = r.join(".wh..wh..opq");
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(0);
                    h.set_mode(0o600);
                    h.set_cksum();
                    b.append_data(&mut h, &wh, std::io::empty())
                        .map_err(|e| io("writing", &wh, e))?;
                }
                stack.push(r);
            }
        }
    }
    b.into_inner()
        .map_err(|e| io("finishing", out, e))?
        .into_inner()
        .map_err(|e| io("finishing", out, e.into_error()))?
        .sync_all()
        .map_err(|e| io("syncing", out, e))
}

/// The runtime's placeholders in the upper dir that are not the user's changes: empty
/// files or directories at mount destinations that the image does not have.
fn placeholders(rec: &ContainerRecord, upper: &Path, lowers: &[PathBuf]) -> HashSet<PathBuf> {
    let mut dests: Vec<String> = vec![
        "/etc/hosts".into(),
        "/etc/hostname".into(),
        "/etc/resolv.conf".into(),
        "/run/.containerenv".into(),
        "/run/secrets".into(),
        "/run/podman-init".into(),
        "/dev/shm".into(),
    ];
    dests.extend(rec.config.mounts.iter().map(|m| m.destination.clone()));
    let mut out = HashSet::new();
    for d in dests {
        let rel = PathBuf::from(d.trim_start_matches('/'));
        if rel.as_os_str().is_empty() {
            continue;
        }
        let in_image = lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(&rel)).is_ok());
        let Ok(meta) = std::fs::symlink_metadata(upper.join(&rel)) else {
            continue;
        };
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

/// The image config of a commit: the base image's, with the container's settings, the
/// given config's set fields and the changes on top.
fn commit_config(
    base: &ImageRecord,
    rec: &ContainerRecord,
    opts: &CommitOptions,
    diff_id: &str,
) -> Result<Value> {
    let mut config = base.config.clone();
    let mut c = config["config"].clone();
    if !c.is_object() {
        c = json!({});
    }
    c["Env"] = json!(rec.env);
    c["Cmd"] = if rec.cmd.is_empty() {
        Value::Null
    } else {
        json!(rec.cmd)
    };
    c["Entrypoint"] = if rec.entrypoint.is_empty() {
        Value::Null
    } else {
        json!(rec.entrypoint)
    };
    if !rec.cwd.is_empty() {
        c["WorkingDir"] = json!(rec.cwd);
    }
    if !rec.user.is_empty() {
        c["User"] = json!(rec.user);
    }
    if !rec.labels.is_empty() {
        c["Labels"] = json!(rec.labels);
    }
    if !rec.config.expose.is_empty() {
        let ports: serde_json::Map<String, Value> = rec
            .config
            .expose
            .iter()
            .map(|p| (p.clone(), json!({})))
            .collect();
        c["ExposedPorts"] = Value::Object(ports);
    }
    if let Some(Value::Object(given)) = &opts.config {
        for (k, v) in given {
            if !v.is_null() {
                c[k.as_str()] = v.clone();
            }
        }
    }
    crate::images::archive::apply_changes(&mut c, &opts.changes)?;
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    config["config"] = c;
    config["created"] = json!(now);
    if !opts.author.is_empty() {
        config["author"] = json!(opts.author);
    }
    let mut diff_ids = config["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    diff_ids.push(json!(diff_id));
    config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    let mut history = config["history"].as_array().cloned().unwrap_or_default();
    let mut h = json!({"created": now, "created_by": rec.command.join(" ")});
    if !opts.author.is_empty() {
        h["author"] = json!(opts.author);
    }
    if !opts.comment.is_empty() {
        h["comment"] = json!(opts.comment);
    }
    history.push(h);
    config["history"] = json!(history);
    if !opts.docker_format {
        // OCI configs carry no Docker-only keys at the top.
        if let Some(m) = config.as_object_mut() {
            m.remove("container");
            m.remove("container_config");
            m.remove("docker_version");
        }
    }
    Ok(config)
}

impl Runtime {
    /// Commits a container (see [`CommitOptions`]).
    pub async fn commit_container(
        &self,
        name_or_id: &str,
        opts: CommitOptions,
    ) -> Result<ImageRecord> {
        let rec = self.container_record(name_or_id).await?;
        let names: Vec<String> = match &opts.reference {
            Some(r) if !r.is_empty() => vec![ImageRef::parse_normalized(r)?
                .tagged()
                .ok_or_else(|| Error::InvalidArg(format!("{r}: cannot tag with a digest")))?],
            _ => Vec::new(),
        };
        let base = self.lookup_image(&rec.image_id).await?;
        let paths = self.ctr_paths(&rec.id);
        let upper = paths.storage.join("diff");
        let store = self.image_store().clone();
        let lowers: Vec<PathBuf> = base
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_diff(&l.chain_id))
            .collect();
        let pause = opts.pause && rec.status == ContainerStatus::Running;
        if pause {
            let _ = self.pause_container(&rec.id).await;
        }
        // Under the store's tmp/, which start-up empties: a crash leaves nothing for long.
        let dir = tempfile::tempdir_in(store.tmp_dir())
            .map_err(|e| Error::io("a temporary directory", e))?;
        let tar_path = dir.path().join("layer.tar");
        let (u, t, r2) = (upper.clone(), tar_path.clone(), rec.clone());
        let made = tokio::task::spawn_blocking(move || {
            let skip = if u.exists() {
                placeholders(&r2, &u, &lowers)
            } else {
                HashSet::new()
            };
            if !u.exists() {
                std::fs::create_dir_all(&u).map_err(|e| Error::io("creating the upper dir", e))?;
            }
            upper_layer_tar(&u, &t, &skip)?;
            let f = std::fs::File::open(&t).map_err(|e| Error::io("reading the layer", e))?;
            let mut h = HashingReader::new(f);
            std::io::copy(&mut h, &mut std::io::sink())
                .map_err(|e| Error::io("reading the layer", e))?;
            Ok::<_, Error>(h.finish().0)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        if pause {
            let _ = self.unpause_container(&rec.id).await;
        }
        let diff_id = made?;
        let config = commit_config(&base, &rec, &opts, &diff_id)?;
        let bytes = serde_json::to_vec(&config).map_err(|e| Error::Internal(e.to_string()))?;
        let mut layers: Vec<LayerBlob> = base
            .layers
            .iter()
            .map(|l| LayerBlob {
                path: store.blob_path(&l.blob_digest),
                media_type: l.media_type.clone(),
            })
            .collect();
        layers.push(LayerBlob {
            path: tar_path,
            media_type: if opts.docker_format {
                "application/vnd.docker.image.rootfs.diff.tar".into()
            } else {
                "application/vnd.oci.image.layer.v1.tar".into()
            },
        });
        let img = with_conn(self.db(), move |c| {
            ingest(&store, c, &bytes, layers, None, &names)
        })
        .await?;
        drop(dir);
        let mut e = crate::events::Event::new(crate::events::EventType::Container, "commit");
        e.id = rec.id.clone();
        e.name = rec.name.clone();
        e.image = img.names.first().cloned().unwrap_or_else(|| img.id.clone());
        self.event_bus().emit(e);
        Ok(img)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn upper_dirs_become_oci_layers_with_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let upper = t.path().join("upper");
        std::fs::create_dir_all(upper.join("etc/new")).unwrap();
        std::fs::write(upper.join("etc/new/f"), "x").unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        // A whiteout for /etc/gone, as overlayfs makes it.
        nix::sys::stat::mknod(
            &upper.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        let out = t.path().join("l.tar");
        let skip: HashSet<PathBuf> = [PathBuf::from("etc/hosts")].into_iter().collect();
        upper_layer_tar(&upper, &out, &skip).unwrap();
        let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
        let mut names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["etc", "etc/.wh.gone", "etc/new", "etc/new/f"]);
    }
}
