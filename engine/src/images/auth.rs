//! Registry credentials: `auth.json` like containers/image reads it
//! (`REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json`,
//! `/run/containers/0/auth.json`, then `~/.docker/config.json`), keyed by registry host or by
//! a repository prefix.

use std::path::PathBuf;

use base64::Engine as _;

/// A username and password (or identity token as password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

fn candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        v.push(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(x).join("containers/auth.json"));
    }
    v.push(PathBuf::from("/run/containers/0/auth.json"));
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(&h).join(".config/containers/auth.json"));
        v.push(PathBuf::from(h).join(".docker/config.json"));
    }
    v
}

/// Decodes the `auth` field (`base64(user:password)`).
pub fn decode_auth(b64: &str) -> Option<Credentials> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

/// Looks up credentials for `repository` (`host/path...`) in the auth files, most specific
/// key first.
pub fn lookup(repository: &str) -> Option<Credentials> {
    for file in candidates() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        let mut key = repository.to_string();
        loop {
            for k in [
                key.clone(),
                format!("https://{key}"),
                format!("http://{key}"),
            ] {
                if let Some(c) = auths
                    .get(&k)
                    .and_then(|e| e.get("auth"))
                    .and_then(|a| a.as_str())
                    .and_then(decode_auth)
                {
                    return Some(c);
                }
            }
            match key.rfind('/') {
                Some(i) => key.truncate(i),
                None => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_user_and_password() {
        let c = decode_auth("dXNlcjpwYXNzOndvcmQ=").unwrap();
        assert_eq!(c.username, "user");
        assert_eq!(c.password, "pass:word");
        assert!(decode_auth("!!").is_none());
    }
}
