//! registries.conf (v2 format): registries with prefix/location rewrites, mirrors, `insecure`,
//! `blocked`, `unqualified-search-registries` and short-name `[aliases]`.
//!
//! Files: `/etc/containers/registries.conf` (or `CONTAINERS_REGISTRIES_CONF`), then the
//! drop-ins of `/etc/containers/registries.conf.d/*.conf` in name order, like
//! containers/image. `PODAPID_REGISTRIES_CONF_DIR` chooses another drop-in directory (what
//! containers/image's `SystemRegistriesConfDirPath` does). A later file's `[[registry]]` with
//! the same prefix replaces the earlier one; other keys are replaced when set; aliases merge.
//! This module only answers "where does this image name come from"; pulling is elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::dropins;
use crate::error::{Error, Result};

/// One `[[registry.mirror]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Mirror {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub pull_from_mirror: String,
}

/// One `[[registry]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Registry {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default, rename = "mirror")]
    pub mirrors: Vec<Mirror>,
    #[serde(default)]
    pub mirror_by_digest_only: bool,
}

impl Registry {
    /// The prefix this entry matches (`location` when `prefix` is unset).
    pub fn effective_prefix(&self) -> &str {
        if self.prefix.is_empty() {
            &self.location
        } else {
            &self.prefix
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<Registry>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// The merged registries configuration.
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    pub unqualified_search_registries: Vec<String>,
    pub short_name_mode: String,
    pub registries: Vec<Registry>,
    pub aliases: BTreeMap<String, String>,
    pub files: Vec<PathBuf>,
}

/// Where an image name is really fetched from, after the rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSource {
    /// `host[:port]/path/repo` to contact (mirrors first, then the primary location).
    pub repository: String,
    /// Whether plain HTTP / unverified TLS is allowed for it.
    pub insecure: bool,
}

const SYSTEM_FILE: &str = "/etc/containers/registries.conf";
const SYSTEM_DIR: &str = "/etc/containers/registries.conf.d";

impl RegistriesConf {
    /// Reads the files containers/image reads (see the module docs).
    pub fn load_default() -> Result<Self> {
        let main = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_FILE));
        let dir = std::env::var_os("PODAPID_REGISTRIES_CONF_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_DIR));
        let mut files = vec![main];
        if !dir.as_os_str().is_empty() {
            files.extend(dropins(&dir));
        }
        Self::load_files(&files)
    }

    /// Merges the given files in order; missing files are skipped.
    pub fn load_files(files: &[PathBuf]) -> Result<Self> {
        let mut conf = RegistriesConf {
            short_name_mode: "enforcing".into(),
            ..Default::default()
        };
        for f in files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", f.display()), e)),
            };
            conf.merge(f, &text)?;
        }
        Ok(conf)
    }

    fn merge(&mut self, path: &Path, text: &str) -> Result<()> {
        let raw: RawFile = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        if let Some(u) = raw.unqualified_search_registries {
            self.unqualified_search_registries = u;
        }
        if let Some(m) = raw.short_name_mode {
            self.short_name_mode = m;
        }
        for mut r in raw.registry {
            if r.location.is_empty() && r.prefix.is_empty() {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    msg: "a [[registry]] needs a location or a prefix".into(),
                });
            }
            if r.location.is_empty() {
                r.location = r.prefix.clone();
            }
            let p = r.effective_prefix().to_string();
            self.registries.retain(|x| x.effective_prefix() != p);
            self.registries.push(r);
        }
        self.aliases.extend(raw.aliases);
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// The `[[registry]]` whose prefix matches `name` (a fully qualified `host/path`, no tag)
    /// the longest, like containers/image's `FindRegistry`.
    pub fn find(&self, name: &str) -> Option<&Registry> {
        self.registries
            .iter()
            .filter(|r| prefix_matches(r.effective_prefix(), name))
            .max_by_key(|r| r.effective_prefix().len())
    }

    /// The places to fetch a fully qualified repository from, in order: mirrors, then the
    /// (possibly rewritten) primary location. Errors when the registry is blocked.
    pub fn pull_sources(&self, repository: &str) -> Result<Vec<PullSource>> {
        let Some(reg) = self.find(repository) else {
            return Ok(vec![PullSource {
                repository: repository.to_string(),
                insecure: false,
            }]);
        };
        if reg.blocked {
            return Err(Error::InvalidArg(format!(
                "registry {} is blocked in registries.conf",
                reg.effective_prefix()
            )));
        }
        let rest = rest_after_prefix(reg.effective_prefix(), repository);
        let mut v: Vec<PullSource> = reg
            .mirrors
            .iter()
            .map(|m| PullSource {
                repository: format!("{}{}", m.location, rest),
                insecure: m.insecure,
            })
            .collect();
        v.push(PullSource {
            repository: format!("{}{}", reg.location, rest),
            insecure: reg.insecure,
        });
        Ok(v)
    }

    /// Whether a registry host (`host[:port]`) is marked insecure.
    pub fn is_insecure(&self, host: &str) -> bool {
        self.find(host).is_some_and(|r| r.insecure)
    }

    /// The alias target of a short name, if one is configured.
    pub fn alias(&self, short: &str) -> Option<&str> {
        self.aliases.get(short).map(String::as_str)
    }
}

/// Prefix semantics of registries.conf: `*.example.com` matches subdomains of the host;
/// otherwise a prefix matches the same string or a string continuing with `/`, `:` or `@`.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    match name.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with('/') || rest.starts_with(':') || rest.starts_with('@'),
        None => false,
    }
}

fn rest_after_prefix<'a>(prefix: &str, name: &'a str) -> &'a str {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let _ = domain;
        // A wildcard matches the host only: keep the path.
        return name.find('/').map(|i| &name[i..]).unwrap_or("");
    }
    &name[prefix.len()..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANCHOR_LIKE: &str = r#"
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "quay.io"
location = "127.0.0.1:5000/quay.io"
insecure = true

[[registry]]
prefix = "docker.io"
location = "127.0.0.1:5000/docker.io"
insecure = true

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[aliases]
"busybox" = "docker.io/library/busybox"
"#;

    fn conf(texts: &[&str]) -> RegistriesConf {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = dir.path().join(format!("{i}.conf"));
                std::fs::write(&p, t).unwrap();
                p
            })
            .collect();
        RegistriesConf::load_files(&files).unwrap()
    }

    #[test]
    fn prefix_rewrite_keeps_the_rest_of_the_name() {
        let c = conf(&[ANCHOR_LIKE]);
        let s = c.pull_sources("docker.io/library/busybox").unwrap();
        assert_eq!(
            s,
            vec![PullSource {
                repository: "127.0.0.1:5000/docker.io/library/busybox".into(),
                insecure: true
            }]
        );
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert_eq!(c.unqualified_search_registries, ["docker.io"]);
        assert_eq!(c.alias("busybox"), Some("docker.io/library/busybox"));
    }

    #[test]
    fn prefix_does_not_match_inside_a_host_name() {
        let c = conf(&[ANCHOR_LIKE]);
        let s = c.pull_sources("docker.iox/library/busybox").unwrap();
        assert_eq!(s[0].repository, "docker.iox/library/busybox");
        assert!(!s[0].insecure);
    }

    #[test]
    fn longest_prefix_wins_and_mirrors_come_first() {
        let c = conf(&[r#"
[[registry]]
prefix = "example.com"
location = "a.test"
[[registry]]
prefix = "example.com/team"
location = "b.test/x"
blocked = false
[[registry.mirror]]
location = "mirror.test/y"
insecure = true
"#]);
        let s = c.pull_sources("example.com/team/app").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].repository, "mirror.test/y/app");
        assert!(s[0].insecure);
        assert_eq!(s[1].repository, "b.test/x/app");
        assert_eq!(
            c.pull_sources("example.com/other").unwrap()[0].repository,
            "a.test/other"
        );
    }

    #[test]
    fn blocked_and_wildcards() {
        let c = conf(&[r#"
[[registry]]
prefix = "*.blocked.test"
blocked = true
"#]);
        assert!(c.pull_sources("a.blocked.test/x").is_err());
        assert!(c.pull_sources("blocked.test/x").is_ok());
    }

    #[test]
    fn dropins_replace_same_prefix_and_merge_aliases() {
        let c = conf(&[
            ANCHOR_LIKE,
            r#"
unqualified-search-registries = ["quay.io", "docker.io"]
[[registry]]
prefix = "docker.io"
location = "other.test/d"
[aliases]
"alpine" = "docker.io/library/alpine"
"#,
        ]);
        assert_eq!(
            c.pull_sources("docker.io/library/busybox").unwrap()[0].repository,
            "other.test/d/library/busybox"
        );
        assert_eq!(c.unqualified_search_registries, ["quay.io", "docker.io"]);
        assert_eq!(c.aliases.len(), 2);
        assert_eq!(c.registries.len(), 3);
    }
}
