//! The pause image pod infra containers run: built locally, like Podman's
//! `localhost/podman-pause`, as one layer holding the host's static `catatonit` with
//! `/catatonit -P` as its entrypoint. No registry is involved; the tag carries catatonit's
//! size and modification time so a new catatonit gets a new image.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::images::ImageEngine;
use crate::runtime::Runtime;

/// The repository the pause image is tagged in.
pub const PAUSE_REPO: &str = "localhost/podman-pause";

/// Writes a tar with `catatonit` as `/catatonit` (root-owned, 0755, mtime 0).
fn pause_layer(catatonit: &Path, out: &Path) -> std::io::Result<()> {
    let f = std::fs::File::create(out)?;
    let mut b = tar::Builder::new(f);
    let data = std::fs::read(catatonit)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append_data(&mut h, "catatonit", data.as_slice())?;
    b.into_inner()?.sync_all()
}

impl Runtime {
    /// The pause image's name, building the image first when it is missing.
    pub async fn ensure_pause_image(&self) -> Result<String> {
        let catatonit = self.options().conf.init_path().ok_or_else(|| {
            Error::InvalidState(
                "building the pause image: catatonit not found (install the catatonit package)"
                    .into(),
            )
        })?;
        let meta = std::fs::metadata(&catatonit)
            .map_err(|e| Error::io(format!("reading {}", catatonit.display()), e))?;
        let name = format!(
            "{PAUSE_REPO}:{}-{:x}{:x}",
            env!("CARGO_PKG_VERSION"),
            meta.size(),
            meta.mtime()
        );
        if self.lookup_image(&name).await.is_ok() {
            return Ok(name);
        }
        let dir = tempfile::tempdir_in(self.image_store().tmp_dir())
            .map_err(|e| Error::io("a temporary directory", e))?;
        let tar_path = dir.path().join("layer.tar");
        let (src, dst) = (catatonit.clone(), tar_path.clone());
        tokio::task::spawn_blocking(move || pause_layer(&src, &dst))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::io("writing the pause layer", e))?;
        let opts = crate::images::ImportOptions {
            reference: Some(name.clone()),
            changes: vec![
                r#"ENTRYPOINT ["/catatonit", "-P"]"#.to_string(),
                r#"LABEL io.buildah.version="podapid""#.to_string(),
            ],
            message: "pod infra image built by podapid".into(),
            ..Default::default()
        };
        ImageEngine::import_image(self, tar_path, opts).await?;
        Ok(name)
    }
}
