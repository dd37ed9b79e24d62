//! The state database (SQLite through rusqlite): schema, migrations and the one connection.
//!
//! Objects are stored as a JSON document per row plus the columns needed for uniqueness
//! (names), joins (pod membership) and cheap listing (state). Every multi-row change runs in
//! one transaction, the database is opened with `synchronous=FULL` and WAL, so a `kill -9`
//! at any point leaves either the old or the new state. The schema version lives in
//! `PRAGMA user_version`; opening a newer database than this build knows is refused.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::error::{Error, Result};

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- Containers and pods share one name space, like libpod.
    CREATE TABLE names (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL);
    CREATE TABLE pods (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE containers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
        pod_id TEXT REFERENCES pods(id),
        config TEXT NOT NULL, state TEXT NOT NULL, status TEXT NOT NULL,
        created INTEGER NOT NULL);
    CREATE INDEX containers_pod ON containers(pod_id);
    CREATE TABLE exec_sessions (
        id TEXT PRIMARY KEY,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        data TEXT NOT NULL);
    CREATE TABLE volumes (name TEXT PRIMARY KEY, data TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE container_volumes (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        volume TEXT NOT NULL REFERENCES volumes(name),
        PRIMARY KEY (container_id, volume));
    CREATE TABLE networks (name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
    CREATE TABLE ipam (
        network TEXT NOT NULL, ip TEXT NOT NULL, container_id TEXT NOT NULL,
        PRIMARY KEY (network, ip));
    CREATE TABLE secrets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
    CREATE TABLE images (id TEXT PRIMARY KEY, data TEXT NOT NULL, created INTEGER NOT NULL);
    CREATE TABLE image_names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
    CREATE TABLE layers (
        chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT,
        short_link TEXT NOT NULL UNIQUE, size INTEGER NOT NULL);
    "#,
    // 2: which layers each image uses (for sharing and garbage collection).
    r#"
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, idx));
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    "#,
    // 3: removed containers whose runtime leftovers (mount, runtime state, network, files)
    // are still being cleaned up in the background; start-up finishes what a crash cut off.
    r#"
    CREATE TABLE pending_cleanups (id TEXT PRIMARY KEY, data TEXT NOT NULL);
    "#,
    // 4: manifest lists (images/manifest.rs).
    r#"CREATE TABLE manifest_lists (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL, created INTEGER NOT NULL);"#,
];

/// The newest schema version this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A shared handle to the state database. Cloning shares the connection.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    /// Latency of `write`/`with_conn` transactions, lock wait included.
    tx_latency: Arc<crate::metrics::Histogram>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Opens (creating when missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(100))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            tx_latency: Arc::new(crate::metrics::Histogram::latency()),
        })
    }

    /// Runs `f` inside one IMMEDIATE transaction on a blocking thread; commits when `f`
    /// returns `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let latency = self.tx_latency.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut guard = conn
                .lock()
                .map_err(|_| Error::Internal("state database lock poisoned".into()))?;
            let tx = guard.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            latency.observe(started.elapsed());
            Ok(out)
        })
        .await
        .map_err(|e| Error::Internal(format!("state database task: {e}")))?
    }

    /// Runs `f` with the connection itself on a blocking thread (for work that manages its
    /// own transactions around file I/O).
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let latency = self.tx_latency.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut guard = conn
                .lock()
                .map_err(|_| Error::Internal("state database lock poisoned".into()))?;
            let out = f(&mut guard);
            latency.observe(started.elapsed());
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("state database task: {e}")))?
    }

    /// Runs a read-only `f` on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| Error::Internal("state database lock poisoned".into()))?;
            f(&guard)
        })
        .await
        .map_err(|e| Error::Internal(format!("state database task: {e}")))?
    }

    /// The latency of write transactions so far.
    pub fn tx_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.tx_latency.snapshot()
    }

    /// Counts the rows of a table (used by `info`).
    pub async fn count(&self, table: &'static str) -> Result<i64> {
        self.read(move |c| {
            Ok(c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
        })
        .await
    }

    /// Reads a `meta` value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // All pending steps and the version bump in one transaction: a crash mid-migration
    // leaves the old schema untouched.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(from = i, to = i + 1, "migrated state database schema");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.sqlite");
        let db = Db::open(&p).unwrap();
        db.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('k', 'v')",
                rusqlite::params![],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        drop(db);
        let db = Db::open(&p).unwrap();
        assert_eq!(db.meta("k").await.unwrap().as_deref(), Some("v"));
        assert_eq!(db.count("containers").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite")).unwrap();
        let r: Result<()> = db
            .write(|tx| {
                tx.execute("INSERT INTO meta (key, value) VALUES ('a', '1')", [])?;
                Err(Error::Internal("boom".into()))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(db.meta("a").await.unwrap(), None);
    }

    /// A database as the first release wrote it: schema 1 and some rows.
    fn first_schema_db(p: &Path) {
        let c = Connection::open(p).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.execute_batch(
            "INSERT INTO meta (key, value) VALUES ('k', 'v');
             INSERT INTO volumes (name, data, created) VALUES ('vol1', '{}', 1);
             INSERT INTO secrets (id, name, data) VALUES ('s1', 'sec', '{}');",
        )
        .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }

    fn tables(c: &Connection) -> Vec<String> {
        let mut stmt = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    #[tokio::test]
    async fn a_first_schema_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.sqlite");
        first_schema_db(&p);
        let db = Db::open(&p).unwrap();
        assert_eq!(db.meta("k").await.unwrap().as_deref(), Some("v"));
        assert_eq!(db.count("volumes").await.unwrap(), 1);
        assert_eq!(db.count("secrets").await.unwrap(), 1);
        // Tables of later schemas exist and work.
        assert_eq!(db.count("pending_cleanups").await.unwrap(), 0);
        assert_eq!(db.count("manifest_lists").await.unwrap(), 0);
        drop(db);
        let c = Connection::open(&p).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_failed_migration_leaves_the_old_schema_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.sqlite");
        first_schema_db(&p);
        // Make the last step fail: its table already exists.
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE manifest_lists (x TEXT);")
                .unwrap();
        }
        let before = tables(&Connection::open(&p).unwrap());
        assert!(Db::open(&p).is_err());
        let c = Connection::open(&p).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1, "the version is not bumped");
        assert_eq!(tables(&c), before, "no step of the migration is kept");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db.sqlite");
        {
            let c = Connection::open(&p).unwrap();
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = Db::open(&p).unwrap_err();
        assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
        assert!(err.to_string().contains("refusing to touch it"), "{err}");
        // Nothing was changed.
        let c = Connection::open(&p).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION + 1);
        assert!(tables(&c).is_empty());
    }
}
