//! Object IDs (64 hex characters, like libpod) and name-or-ID resolution.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};

/// A new random 64-hex-character ID.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Which table a lookup resolves in.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Containers,
    Pods,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Containers => "containers",
            Table::Pods => "pods",
        }
    }
}

/// Resolves a full ID, an exact name, or a unique ID prefix to an ID, in libpod's order.
/// `Ok(None)` when nothing matches; an ambiguous prefix is an error.
pub fn resolve(conn: &Connection, table: Table, key: &str) -> Result<Option<String>> {
    if key.is_empty() {
        return Ok(None);
    }
    let t = table.name();
    let exact: Option<String> = conn
        .query_row(
            &format!("SELECT id FROM {t} WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"),
            [key],
            |r| r.get(0),
        )
        .optional()?;
    if exact.is_some() {
        return Ok(exact);
    }
    if !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT id FROM {t} WHERE id LIKE ?1 || '%' LIMIT 2"
    ))?;
    let ids: Vec<String> = stmt
        .query_map([key.to_ascii_lowercase()], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.into_iter().next()),
        _ => Err(Error::InvalidArg(format!(
            "more than one result for {} ID {key}",
            match table {
                Table::Containers => "container",
                Table::Pods => "pod",
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
    }

    #[test]
    fn resolution_order_and_ambiguity() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE pods (id TEXT PRIMARY KEY, name TEXT UNIQUE);
             INSERT INTO pods VALUES ('abc111', 'web'), ('abc222', 'abc111x'), ('fff', 'abc');",
        )
        .unwrap();
        assert_eq!(
            resolve(&c, Table::Pods, "web").unwrap().as_deref(),
            Some("abc111")
        );
        assert_eq!(
            resolve(&c, Table::Pods, "abc2").unwrap().as_deref(),
            Some("abc222")
        );
        // An exact name beats a prefix.
        assert_eq!(
            resolve(&c, Table::Pods, "abc").unwrap().as_deref(),
            Some("fff")
        );
        assert!(resolve(&c, Table::Pods, "abc1x").unwrap().is_none());
        assert!(resolve(&c, Table::Pods, "ab").is_err());
        assert!(resolve(&c, Table::Pods, "nope").unwrap().is_none());
    }
}
