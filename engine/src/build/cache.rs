//! The build layer cache.
//!
//! A step's key is the digest of everything its result depends on: the parent image ID,
//! the image config it commits (so the config-only instructions folded into it count), the
//! text of those instructions, the step itself after substitution, the digest of the
//! content a COPY/ADD copies, and the build arguments a RUN sees. The index is one small
//! file per key, `<root>/build-cache/<key>`, holding the ID of the image the step made,
//! written atomically (temporary file + rename), so concurrent builds need no lock. The
//! images themselves stay in the store untagged; an entry whose image is gone (pruned,
//! removed) is dropped when it is looked up.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::images::layer::sha256_digest;

/// What a step's cache key is made of.
#[derive(Debug, Clone, Copy)]
pub struct StepKey<'a> {
    /// The parent image ID (`scratch` before a scratch stage's first layer).
    pub parent: &'a str,
    /// The image config the step commits.
    pub config: &'a Value,
    /// Config-only instructions since the parent (after substitution).
    pub pending: &'a [String],
    /// The step after substitution (`RUN ["/bin/sh","-c","make"]`, `COPY ...`).
    pub step: &'a str,
    /// Digest of the copied content (COPY/ADD), else empty.
    pub content: &'a str,
    /// `NAME=value` build arguments the step sees.
    pub env: &'a [String],
}

impl StepKey<'_> {
    /// The key: hex SHA-256 of a canonical JSON document of the parts.
    pub fn digest(&self) -> String {
        let doc = json!({
            "v": 1,
            "parent": self.parent,
            "config": self.config,
            "pending": self.pending,
            "step": self.step,
            "content": self.content,
            "env": self.env,
        });
        let d = sha256_digest(doc.to_string().as_bytes());
        d.trim_start_matches("sha256:").to_string()
    }
}

/// The key → image ID index.
#[derive(Debug, Clone)]
pub struct CacheIndex {
    dir: PathBuf,
}

fn valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

impl CacheIndex {
    /// The index under the engine's root.
    pub fn new(root: &Path) -> CacheIndex {
        CacheIndex {
            dir: root.join("build-cache"),
        }
    }

    /// The image ID recorded for `key`.
    pub async fn get(&self, key: &str) -> Option<String> {
        if !valid_key(key) {
            return None;
        }
        let id = tokio::fs::read_to_string(self.dir.join(key)).await.ok()?;
        let id = id.trim();
        (!id.is_empty()).then(|| id.to_string())
    }

    /// Records `id` for `key` (failures only lose a cache entry).
    pub async fn put(&self, key: &str, id: &str) {
        if !valid_key(key) {
            return;
        }
        let tmp = self.dir.join(format!(".{key}.{}", crate::ids::new_id()));
        let res: std::io::Result<()> = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&tmp, id).await?;
            tokio::fs::rename(&tmp, self.dir.join(key)).await
        }
        .await;
        if let Err(e) = res {
            let _ = tokio::fs::remove_file(&tmp).await;
            tracing::warn!(error = %e, "recording a build cache entry");
        }
    }

    /// Drops the entry for `key`.
    pub async fn forget(&self, key: &str) {
        if valid_key(key) {
            let _ = tokio::fs::remove_file(self.dir.join(key)).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part() {
        let cfg = json!({"Env": ["A=1"]});
        let base = StepKey {
            parent: "abc",
            config: &cfg,
            pending: &[],
            step: "RUN [\"/bin/sh\",\"-c\",\"true\"]",
            content: "",
            env: &[],
        };
        let k = base.digest();
        assert_eq!(k.len(), 64);
        assert_eq!(k, base.digest(), "stable");
        let cfg2 = json!({"Env": ["A=2"]});
        let pending = ["ENV A=2".to_string()];
        let env = ["V=1".to_string()];
        for other in [
            StepKey {
                parent: "abd",
                ..base
            },
            StepKey {
                config: &cfg2,
                ..base
            },
            StepKey {
                pending: &pending,
                ..base
            },
            StepKey {
                step: "RUN x",
                ..base
            },
            StepKey {
                content: "sha256:1",
                ..base
            },
            StepKey { env: &env, ..base },
        ] {
            assert_ne!(other.digest(), k);
        }
    }

    #[tokio::test]
    async fn index_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let idx = CacheIndex::new(t.path());
        let key = "a".repeat(64);
        assert_eq!(idx.get(&key).await, None);
        idx.put(&key, "imageid").await;
        assert_eq!(idx.get(&key).await.as_deref(), Some("imageid"));
        idx.forget(&key).await;
        assert_eq!(idx.get(&key).await, None);
        idx.put("../escape", "x").await;
        assert!(!t.path().join("escape").exists());
    }
}
