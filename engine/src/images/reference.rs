//! Image references: parsing and Docker's normalisation (`busybox` →
//! `docker.io/library/busybox:latest`), and what counts as a short name.

use crate::error::{Error, Result};

/// The default registry for names without one.
pub const DOCKER_REGISTRY: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `docker.io`, `quay.io`, `localhost:5000`...
    pub registry: String,
    /// The path below the registry (`library/busybox`).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`
    pub digest: Option<String>,
}

fn invalid(s: &str, why: &str) -> Error {
    Error::InvalidArg(format!("invalid reference format: {s:?}: {why}"))
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or runs of '-'.
    if c.is_empty() || !c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    if !c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    let b = c.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        match ch {
            b'.' => {
                if !b.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
                    return false;
                }
                i += 1;
            }
            b'_' => {
                if b.get(i + 1) == Some(&b'_') {
                    i += 1;
                }
                if !b.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
                    return false;
                }
                i += 1;
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// Whether `s` is `sha256:` followed by 64 lower-case hex digits.
pub fn valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether the first path component names a registry (has `.` or `:`, or is `localhost`).
fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

impl ImageRef {
    /// Parses without adding a default tag; `default_registry` fills short names
    /// (`docker.io` adds `library/` to one-component names).
    pub fn parse_with(s: &str, default_registry: &str) -> Result<ImageRef> {
        if s.is_empty() {
            return Err(invalid(s, "empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid(s, "bad digest"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if !valid_tag(t) {
                    return Err(invalid(s, "bad tag"));
                }
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid(s, "no name"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => {
                // Docker's normalisation: `index.docker.io` is `docker.io`, and one-component
                // names there live under `library/` (`docker.io/busybox`).
                // Host names are case-insensitive: `Docker.IO` is docker.io.
                let lower = first.to_ascii_lowercase();
                let registry = if lower == "index.docker.io" {
                    DOCKER_REGISTRY
                } else {
                    lower.as_str()
                };
                let repo = if registry == DOCKER_REGISTRY && !path.contains('/') {
                    format!("library/{path}")
                } else {
                    path.to_string()
                };
                (registry.to_string(), repo)
            }
            _ => {
                let repo = if default_registry == DOCKER_REGISTRY && !name.contains('/') {
                    format!("library/{name}")
                } else {
                    name.to_string()
                };
                (default_registry.to_ascii_lowercase(), repo)
            }
        };
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(s, "repository name must be lowercase"));
        }
        if !repository.split('/').all(valid_component) {
            return Err(invalid(s, "bad repository name"));
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Docker's normalisation: short names go to docker.io, `latest` when neither tag nor
    /// digest is given.
    pub fn parse_normalized(s: &str) -> Result<ImageRef> {
        let mut r = Self::parse_with(s, DOCKER_REGISTRY)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".into());
        }
        Ok(r)
    }

    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository:tag`, `registry/repository@digest` or both.
    pub fn full(&self) -> String {
        let mut s = self.name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The name with the tag only (what `RepoTags` holds), when there is a tag.
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }

    /// The same reference with its path under another registry location (a registries.conf
    /// rewrite): `location` is `host[:port][/path]`.
    pub fn relocated(&self, repository_location: &str) -> ImageRef {
        let (host, path) = match repository_location.split_once('/') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (repository_location.to_string(), String::new()),
        };
        ImageRef {
            registry: host,
            repository: path,
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

/// Whether a user-given name has no registry part (a "short name").
pub fn is_short_name(s: &str) -> bool {
    let name = s.split('@').next().unwrap_or(s);
    match name.split_once('/') {
        Some((first, _)) => !looks_like_registry(first),
        None => true,
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_normalisation() {
        let r = ImageRef::parse_normalized("busybox").unwrap();
        assert_eq!(r.full(), "docker.io/library/busybox:latest");
        assert_eq!(
            ImageRef::parse_normalized("quay.io/libpod/alpine_labels")
                .unwrap()
                .full(),
            "quay.io/libpod/alpine_labels:latest"
        );
        assert_eq!(
            ImageRef::parse_normalized("localhost:5000/a/b:v1")
                .unwrap()
                .full(),
            "localhost:5000/a/b:v1"
        );
        assert_eq!(
            ImageRef::parse_normalized("user/app:1.0").unwrap().full(),
            "docker.io/user/app:1.0"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse_normalized(&format!("alpine@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.full(), format!("docker.io/library/alpine@{d}"));
    }

    #[test]
    fn invalid_references() {
        for s in [
            "",
            "UPPER",
            "a/B",
            "x:bad tag",
            "a@sha256:12",
            "-x",
            "a..b",
            ":tag",
        ] {
            assert!(ImageRef::parse_normalized(s).is_err(), "{s}");
        }
    }

    #[test]
    fn short_names() {
        assert!(is_short_name("busybox"));
        assert!(is_short_name("library/busybox:1"));
        assert!(!is_short_name("quay.io/x"));
        assert!(!is_short_name("localhost/x"));
        assert!(!is_short_name("127.0.0.1:5000/x"));
    }

    #[test]
    fn relocation_keeps_tag() {
        let r = ImageRef::parse_normalized("busybox").unwrap();
        let l = r.relocated("127.0.0.1:5000/docker.io/library/busybox");
        assert_eq!(l.registry, "127.0.0.1:5000");
        assert_eq!(l.repository, "docker.io/library/busybox");
        assert_eq!(l.tag.as_deref(), Some("latest"));
    }
}
