//! Secrets: the trait the API crates call and the file driver behind it.
//!
//! A secret's record (name, ID, driver, labels, times) is a JSON document in the state
//! database's `secrets` table; its bytes are a file `<driver path>/<id>` (mode 0600), the
//! driver path defaulting to `<root>/secrets/filedriver`, as Podman's file driver keeps them
//! under its storage root. IDs are 25 hex characters and names follow containers/common's
//! rules. Lookups take a full name, a full ID or a unique ID prefix. The module also writes
//! a container's secrets out for its start (files bound under `/run/secrets`, environment
//! entries). It knows nothing of HTTP or wire shapes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::containers::config::SecretRef;
use crate::containers::spec::MountSpec;
use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// Length of a secret ID (containers/common truncates a 64-hex ID to 25 characters).
pub const SECRET_ID_LEN: usize = 25;

/// Largest secret accepted is one byte under this (containers/common's limit).
pub const MAX_SECRET_SIZE: usize = 512_000;

/// The only driver podapid implements.
pub const FILE_DRIVER: &str = "file";

/// Operations on secrets.
#[async_trait]
pub trait SecretEngine: Send + Sync {
    /// Whether a secret with this name, ID or unique ID prefix exists.
    async fn exists(&self, name_or_id: &str) -> Result<bool>;

    /// Stores a new secret (or, with `opts.replace`, replaces the one of that name) and
    /// returns its ID. A taken name fails with [`Error::Exists`].
    async fn create(&self, name: &str, data: Vec<u8>, opts: SecretCreateOptions) -> Result<String>;

    /// Every secret passing `filters` (`name`, `id`: regular-expression-like matches; values
    /// of one key are ORed, keys ANDed). Another key fails with [`Error::InvalidArg`].
    async fn list(&self, filters: &BTreeMap<String, Vec<String>>) -> Result<Vec<SecretRecord>>;

    /// The record of a secret by name, ID or unique ID prefix, with its bytes when
    /// `show_secret` is set.
    async fn inspect(
        &self,
        name_or_id: &str,
        show_secret: bool,
    ) -> Result<(SecretRecord, Option<Vec<u8>>)>;

    /// Removes a secret (record and bytes) and returns its ID. Containers using it are not
    /// checked, as in Podman.
    async fn remove(&self, name_or_id: &str) -> Result<String>;

    /// Removes every secret and returns their IDs.
    async fn remove_all(&self) -> Result<Vec<String>>;
}

/// How to create a secret.
#[derive(Debug, Clone, Default)]
pub struct SecretCreateOptions {
    /// Driver name; empty means `file`.
    pub driver: String,
    /// Driver options (`path` for the file driver; filled in when absent).
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Replace an existing secret of that name instead of failing.
    pub replace: bool,
}

/// A secret (on-disk record, version 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub driver_options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Checks a secret name like containers/common: 1 to 253 bytes, none of `,` `/` `=` NUL.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 253 && !name.contains([',', '/', '=', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArg(format!(
            "secret name {name:?} can not include '=', '/', ',', or the '\\0' (NULL) and be between 1 and 253 characters: invalid secret name"
        )))
    }
}

fn no_such(key: &str) -> Error {
    Error::NoSuchSecret(format!("no secret with name or id {key:?}"))
}

fn parse_record(json: &str) -> Result<SecretRecord> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("corrupt secret record: {e}")))
}

/// Resolves a full ID, a full name or a unique ID prefix (at most 25 characters), in that
/// order, like containers/common. `Ok(None)` when nothing matches; an ambiguous prefix is
/// an error.
pub fn lookup(conn: &Connection, key: &str) -> Result<Option<SecretRecord>> {
    if key.is_empty() {
        return Ok(None);
    }
    let exact: Option<String> = conn
        .query_row(
            "SELECT data FROM secrets WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(j) = exact {
        return parse_record(&j).map(Some);
    }
    if key.len() > SECRET_ID_LEN {
        return Ok(None);
    }
    // substr, not LIKE: the key is user input and may hold `%` or `_`.
    let mut stmt =
        conn.prepare("SELECT data FROM secrets WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2")?;
    let found: Vec<String> = stmt
        .query_map([key], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => parse_record(one).map(Some),
        _ => Err(Error::InvalidArg(format!(
            "more than one result secret with prefix {key}: secret is ambiguous"
        ))),
    }
}

/// Every record, oldest first.
fn load_all(conn: &Connection) -> Result<Vec<SecretRecord>> {
    let mut stmt = conn.prepare("SELECT data FROM secrets ORDER BY rowid")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    rows.iter().map(|j| parse_record(j)).collect()
}

/// `name` and `id` filter values are regular expressions in Podman; the common forms are
/// supported: `^x$`, prefixes with `^`, suffixes with `$`, otherwise a substring.
fn regex_like(pat: &str, s: &str) -> bool {
    let anchored_start = pat.starts_with('^');
    let anchored_end = pat.ends_with('$') && !pat.ends_with("\\$");
    let core = pat.strip_prefix('^').unwrap_or(pat);
    let core = if anchored_end {
        core.strip_suffix('$').unwrap_or(core)
    } else {
        core
    };
    match (anchored_start, anchored_end) {
        (true, true) => s == core,
        (true, false) => s.starts_with(core),
        (false, true) => s.ends_with(core),
        (false, false) => s.contains(core),
    }
}

/// Checks the filter keys (case-insensitive, like Podman) before any record is looked at.
fn check_filters(filters: &BTreeMap<String, Vec<String>>) -> Result<()> {
    for key in filters.keys() {
        match key.to_ascii_lowercase().as_str() {
            "name" | "id" => {}
            _ => return Err(Error::InvalidArg(format!("invalid filter {key:?}"))),
        }
    }
    Ok(())
}

/// Whether `rec` passes `filters` (already checked by [`check_filters`]).
fn passes(rec: &SecretRecord, filters: &BTreeMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(key, vals)| {
        let field = if key.eq_ignore_ascii_case("name") {
            &rec.name
        } else {
            &rec.id
        };
        vals.is_empty() || vals.iter().any(|v| regex_like(v, field))
    })
}

/// Writes `data` to `path` with mode 0600, replacing nothing (the ID is new).
fn write_secret_file(path: &Path, data: &[u8]) -> Result<()> {
    fn write(path: &Path, data: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(data)?;
        f.sync_all()
    }
    write(path, data).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn mkdir_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

fn remove_file_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "removing secret data");
        }
    }
}

/// Where the file driver keeps a secret's bytes.
fn data_path(default_dir: &Path, rec: &SecretRecord) -> PathBuf {
    rec.driver_options
        .get("path")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| default_dir.to_path_buf())
        .join(&rec.id)
}

/// The host file name of a secret in a container's secrets dir: the target's last
/// component, made unique within the dir.
fn host_file_name(dest: &str, taken: &mut Vec<String>) -> String {
    let base = Path::new(dest)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| "secret".to_string());
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name) {
        name = format!("{base}.{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// Where a secret appears in the container: `/run/secrets/<target or name>`, or the
/// target itself when it is absolute (as Podman does).
fn container_path(target: &str, name: &str) -> String {
    let t = if target.is_empty() { name } else { target };
    if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/run/secrets/{t}")
    }
}

/// One mounted secret, resolved for writing out.
struct SecretFile {
    host: PathBuf,
    data: Vec<u8>,
    uid: u32,
    gid: u32,
    mode: u32,
}

fn write_container_files(dir: &Path, files: &[SecretFile]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    mkdir_private(dir)?;
    for f in files {
        let ctx = |e: std::io::Error| Error::io(format!("writing {}", f.host.display()), e);
        // A restart writes the files again: start from a fresh file each time.
        match std::fs::remove_file(&f.host) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ctx(e)),
        }
        write_secret_file(&f.host, &f.data)?;
        std::os::unix::fs::chown(&f.host, Some(f.uid), Some(f.gid)).map_err(ctx)?;
        // After chown, which may clear set-id bits.
        std::fs::set_permissions(&f.host, std::fs::Permissions::from_mode(f.mode & 0o7777))
            .map_err(ctx)?;
    }
    Ok(())
}

impl Runtime {
    /// Where the file driver keeps secret bytes by default.
    pub fn secrets_dir(&self) -> PathBuf {
        self.options().root.join("secrets").join("filedriver")
    }

    /// Resolves a name, ID or unique ID prefix to a record.
    pub async fn secret_lookup(&self, name_or_id: &str) -> Result<SecretRecord> {
        let key = name_or_id.to_string();
        self.db()
            .read(move |c| lookup(c, &key))
            .await?
            .ok_or_else(|| no_such(name_or_id))
    }

    /// Reads the bytes of a secret.
    async fn secret_data(&self, rec: &SecretRecord) -> Result<Vec<u8>> {
        let path = data_path(&self.secrets_dir(), rec);
        match tokio::fs::read(&path).await {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoSuchSecret(
                format!("no secret data with ID {}", rec.id),
            )),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// [`SecretEngine::exists`].
    pub async fn secret_exists(&self, name_or_id: &str) -> Result<bool> {
        match self.secret_lookup(name_or_id).await {
            Ok(_) => Ok(true),
            Err(Error::NoSuchSecret(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`SecretEngine::create`].
    pub async fn secret_create(
        &self,
        name: &str,
        data: Vec<u8>,
        opts: SecretCreateOptions,
    ) -> Result<String> {
        validate_name(name)?;
        if data.is_empty() || data.len() >= MAX_SECRET_SIZE {
            return Err(Error::InvalidArg(format!(
                "secret data must be larger than 0 and less than {MAX_SECRET_SIZE} bytes"
            )));
        }
        let driver = if opts.driver.is_empty() {
            FILE_DRIVER.to_string()
        } else {
            opts.driver.clone()
        };
        match driver.as_str() {
            FILE_DRIVER => {}
            "pass" | "shell" => {
                return Err(Error::NotImplemented(format!(
                    "secret driver {driver:?} is not supported by podapid"
                )))
            }
            _ => return Err(Error::InvalidArg("invalid driver".into())),
        }
        let mut driver_options = opts.driver_options;
        let given = driver_options.get("path").cloned();
        let dir = match given {
            Some(p) if Path::new(&p).is_absolute() => PathBuf::from(p),
            Some(p) => {
                return Err(Error::InvalidArg(format!(
                    "path must be absolute: {p}: invalid driver option"
                )))
            }
            None => {
                let d = self.secrets_dir();
                driver_options.insert("path".into(), d.display().to_string());
                d
            }
        };
        let default_dir = self.secrets_dir();
        let (name, labels, replace) = (name.to_string(), opts.labels, opts.replace);
        let (id, replaced) = self
            .db()
            .write(move |tx| {
                mkdir_private(&dir)?;
                let now = Utc::now();
                let mut rec = SecretRecord {
                    id: String::new(),
                    name: name.clone(),
                    driver,
                    driver_options,
                    labels,
                    created_at: now,
                    updated_at: now,
                };
                // containers/common counts a secret whose name or ID equals the new name.
                let old: Option<String> = tx
                    .query_row(
                        "SELECT data FROM secrets WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
                        [&name],
                        |r| r.get(0),
                    )
                    .optional()?;
                let old = old.map(|j| parse_record(&j)).transpose()?;
                if let Some(o) = &old {
                    if !replace {
                        return Err(Error::Exists(format!("{name}: secret name in use")));
                    }
                    // A replacement keeps the name and creation time, with a new ID.
                    rec.name = o.name.clone();
                    rec.created_at = o.created_at;
                    tx.execute("DELETE FROM secrets WHERE id = ?1", [&o.id])?;
                }
                rec.id = loop {
                    let candidate = crate::ids::new_id()[..SECRET_ID_LEN].to_string();
                    let taken: i64 = tx.query_row(
                        "SELECT COUNT(*) FROM secrets WHERE id = ?1 OR name = ?1",
                        [&candidate],
                        |r| r.get(0),
                    )?;
                    if taken == 0 {
                        break candidate;
                    }
                };
                let json =
                    serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?;
                let file = dir.join(&rec.id);
                write_secret_file(&file, &data)?;
                let inserted = tx.execute(
                    "INSERT INTO secrets (id, name, data) VALUES (?1, ?2, ?3)",
                    rusqlite::params![rec.id, rec.name, json],
                );
                if let Err(e) = inserted {
                    remove_file_quietly(&file);
                    return Err(e.into());
                }
                Ok((rec.id, old))
            })
            .await?;
        if let Some(o) = replaced {
            let path = data_path(&default_dir, &o);
            let _ = tokio::task::spawn_blocking(move || remove_file_quietly(&path)).await;
        }
        Ok(id)
    }

    /// [`SecretEngine::list`].
    pub async fn secret_list(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<SecretRecord>> {
        check_filters(filters)?;
        let mut all = self.db().read(load_all).await?;
        all.retain(|r| passes(r, filters));
        Ok(all)
    }

    /// [`SecretEngine::inspect`].
    pub async fn secret_inspect(
        &self,
        name_or_id: &str,
        show_secret: bool,
    ) -> Result<(SecretRecord, Option<Vec<u8>>)> {
        let rec = self.secret_lookup(name_or_id).await?;
        let data = if show_secret {
            Some(self.secret_data(&rec).await?)
        } else {
            None
        };
        Ok((rec, data))
    }

    /// [`SecretEngine::remove`].
    pub async fn secret_remove(&self, name_or_id: &str) -> Result<String> {
        let key = name_or_id.to_string();
        let rec = self
            .db()
            .write(move |tx| {
                let Some(rec) = lookup(tx, &key)? else {
                    return Ok(None);
                };
                tx.execute("DELETE FROM secrets WHERE id = ?1", [&rec.id])?;
                Ok(Some(rec))
            })
            .await?
            .ok_or_else(|| no_such(name_or_id))?;
        let path = data_path(&self.secrets_dir(), &rec);
        let _ = tokio::task::spawn_blocking(move || remove_file_quietly(&path)).await;
        Ok(rec.id)
    }

    /// [`SecretEngine::remove_all`].
    pub async fn secret_remove_all(&self) -> Result<Vec<String>> {
        let all = self.db().read(load_all).await?;
        let mut ids = Vec::with_capacity(all.len());
        for rec in all {
            match self.secret_remove(&rec.id).await {
                Ok(id) => ids.push(id),
                // Removed meanwhile by another request.
                Err(Error::NoSuchSecret(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ids)
    }

    /// Writes a container's mounted secrets into `dir` (created 0700), each file with the
    /// requested mode, owner and group, and returns read-only bind mounts of them at
    /// `/run/secrets/<target>` (an absolute target is used as is), plus `KEY=value`
    /// environment entries for `secret_env` (variable → secret name or ID).
    pub async fn secret_files_and_env(
        &self,
        secrets: &[SecretRef],
        secret_env: &BTreeMap<String, String>,
        dir: &Path,
    ) -> Result<(Vec<MountSpec>, Vec<String>)> {
        let mut files = Vec::with_capacity(secrets.len());
        let mut mounts = Vec::with_capacity(secrets.len());
        let mut taken = Vec::new();
        for s in secrets {
            let (rec, data) = self.secret_inspect(&s.source, true).await?;
            let destination = container_path(&s.target, &rec.name);
            let host = dir.join(host_file_name(&destination, &mut taken));
            mounts.push(MountSpec {
                destination,
                kind: "bind".into(),
                source: host.display().to_string(),
                options: vec!["bind".into(), "ro".into(), "rprivate".into()],
            });
            files.push(SecretFile {
                host,
                data: data.unwrap_or_default(),
                uid: s.uid,
                gid: s.gid,
                mode: s.mode,
            });
        }
        if !files.is_empty() {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || write_container_files(&dir, &files))
                .await
                .map_err(|e| Error::Internal(format!("writing secrets: {e}")))??;
        }
        let mut env = Vec::with_capacity(secret_env.len());
        for (key, source) in secret_env {
            let (_, data) = self.secret_inspect(source, true).await?;
            let value = String::from_utf8_lossy(&data.unwrap_or_default()).into_owned();
            env.push(format!("{key}={value}"));
        }
        Ok((mounts, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE secrets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);",
        )
        .unwrap();
        c
    }

    fn insert(c: &Connection, id: &str, name: &str) {
        let now = Utc::now();
        let rec = SecretRecord {
            id: id.into(),
            name: name.into(),
            driver: FILE_DRIVER.into(),
            driver_options: BTreeMap::new(),
            labels: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        };
        c.execute(
            "INSERT INTO secrets (id, name, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![id, name, serde_json::to_string(&rec).unwrap()],
        )
        .unwrap();
    }

    #[test]
    fn names_follow_containers_common() {
        assert!(validate_name("mysecret").is_ok());
        assert!(validate_name("my.secret-1_x:y").is_ok());
        assert!(validate_name(&"a".repeat(253)).is_ok());
        for bad in ["", "a/b", "a=b", "a,b", "a\0b"] {
            let e = validate_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArg(_)), "{bad:?}");
            assert!(e.to_string().ends_with("invalid secret name"), "{e}");
        }
        assert!(validate_name(&"a".repeat(254)).is_err());
    }

    #[test]
    fn lookup_by_id_name_and_unique_prefix() {
        let c = db();
        insert(&c, "abc1111111111111111111111", "web");
        insert(
            &c,
            "abc2222222222222222222222",
            "abc1111111111111111111111x",
        );
        insert(&c, "fff0000000000000000000000", "abc");
        let id = |k: &str| lookup(&c, k).unwrap().map(|r| r.id);
        assert_eq!(id("web").as_deref(), Some("abc1111111111111111111111"));
        assert_eq!(
            id("abc1111111111111111111111").as_deref(),
            Some("abc1111111111111111111111")
        );
        assert_eq!(id("abc2").as_deref(), Some("abc2222222222222222222222"));
        // An exact name beats a prefix.
        assert_eq!(id("abc").as_deref(), Some("fff0000000000000000000000"));
        assert!(lookup(&c, "ab").is_err(), "ambiguous prefix");
        assert_eq!(id("nope"), None);
        assert_eq!(id(""), None);
        assert_eq!(id("%"), None);
        // Longer than an ID: never a prefix.
        assert_eq!(id("abc22222222222222222222222"), None);
    }

    #[test]
    fn filters_by_name_and_id() {
        let now = Utc::now();
        let rec = SecretRecord {
            id: "0123456789abcdef012345678".into(),
            name: "mysecret".into(),
            driver: FILE_DRIVER.into(),
            driver_options: BTreeMap::new(),
            labels: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        };
        let f = |k: &str, v: &str| BTreeMap::from([(k.to_string(), vec![v.to_string()])]);
        assert!(passes(&rec, &f("name", "mysecret")));
        assert!(passes(&rec, &f("name", "^my")));
        assert!(!passes(&rec, &f("name", "mysecret2")));
        assert!(passes(&rec, &f("id", "01234")));
        assert!(!passes(&rec, &f("id", "^9")));
        assert!(check_filters(&f("label", "x")).is_err());
        assert!(check_filters(&f("NAME", "x")).is_ok());
    }

    #[test]
    fn container_paths_and_file_names() {
        assert_eq!(container_path("", "s"), "/run/secrets/s");
        assert_eq!(container_path("t", "s"), "/run/secrets/t");
        assert_eq!(container_path("/etc/t", "s"), "/etc/t");
        let mut taken = Vec::new();
        assert_eq!(host_file_name("/run/secrets/t", &mut taken), "t");
        assert_eq!(host_file_name("/etc/t", &mut taken), "t.1");
    }

    fn opts(dir: &Path) -> crate::RuntimeOptions {
        crate::RuntimeOptions {
            root: dir.join("root"),
            runroot: dir.join("run"),
            conf: crate::config::ContainersConf::default(),
            registries: crate::registries::RegistriesConf::default(),
            service_uri: None,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn create_inspect_replace_and_remove() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::open(opts(dir.path())).await.unwrap();
        let id = rt
            .secret_create("s1", b"hush".to_vec(), SecretCreateOptions::default())
            .await
            .unwrap();
        assert_eq!(id.len(), SECRET_ID_LEN);
        let file = rt.secrets_dir().join(&id);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let e = rt
            .secret_create("s1", b"x".to_vec(), SecretCreateOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Exists(_)), "{e}");
        let (rec, data) = rt.secret_inspect(&id[..6], true).await.unwrap();
        assert_eq!(rec.name, "s1");
        assert_eq!(rec.driver, FILE_DRIVER);
        assert_eq!(
            rec.driver_options.get("path").map(String::as_str),
            Some(rt.secrets_dir().to_str().unwrap())
        );
        assert_eq!(data.as_deref(), Some(&b"hush"[..]));
        assert!(rt.secret_exists("s1").await.unwrap());

        let replaced = rt
            .secret_create(
                "s1",
                b"new".to_vec(),
                SecretCreateOptions {
                    replace: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_ne!(replaced, id);
        assert!(!file.exists());
        let (rec2, data2) = rt.secret_inspect("s1", true).await.unwrap();
        assert_eq!(rec2.created_at, rec.created_at);
        assert_eq!(data2.as_deref(), Some(&b"new"[..]));

        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let refs = vec![
            SecretRef {
                source: "s1".into(),
                uid,
                gid,
                ..Default::default()
            },
            SecretRef {
                source: "s1".into(),
                target: "/etc/app.key".into(),
                uid,
                gid,
                mode: 0o400,
            },
        ];
        let env = BTreeMap::from([("TOKEN".to_string(), "s1".to_string())]);
        let out = dir.path().join("ctr-secrets");
        let (mounts, envs) = rt.secret_files_and_env(&refs, &env, &out).await.unwrap();
        assert_eq!(mounts[0].destination, "/run/secrets/s1");
        assert_eq!(mounts[1].destination, "/etc/app.key");
        assert!(mounts.iter().all(|m| m.options.iter().any(|o| o == "ro")));
        let m1 = std::fs::metadata(&mounts[1].source).unwrap();
        assert_eq!(m1.permissions().mode() & 0o777, 0o400);
        assert_eq!(std::fs::read(&mounts[0].source).unwrap(), b"new");
        assert_eq!(envs, vec!["TOKEN=new".to_string()]);

        assert_eq!(rt.secret_list(&BTreeMap::new()).await.unwrap().len(), 1);
        assert_eq!(rt.secret_remove("s1").await.unwrap(), replaced);
        let e = rt.secret_remove("s1").await.unwrap_err();
        assert!(matches!(e, Error::NoSuchSecret(_)), "{e}");
        assert!(!rt.secret_exists("s1").await.unwrap());
        assert!(rt.secret_remove_all().await.unwrap().is_empty());
    }
}
