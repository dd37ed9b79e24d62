//! Checking registry credentials (`/auth`, `docker login`): `GET /v2/` with HTTP basic
//! authentication, and when the registry answers with a bearer challenge, a token request
//! to its realm with the same credentials. Nothing is stored (the client keeps its own).

use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// The host part of a server address as clients give it (`https://host:port/`,
/// `host:port/v1/`, `docker.io`).
fn registry_host(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s).to_string();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "registry-1.docker.io".into(),
        _ => host,
    }
}

/// `key="value"` pairs of a `WWW-Authenticate` challenge.
fn challenge_param(h: &str, key: &str) -> Option<String> {
    let i = h.find(&format!("{key}=\""))? + key.len() + 2;
    let rest = &h[i..];
    Some(rest[..rest.find('"')?].to_string())
}

fn chain(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    if msg.contains("failed to lookup address") || msg.contains("Name or service not known") {
        msg.push_str(" (no such host)");
    }
    msg
}

impl Runtime {
    /// Checks `username`/`password` against the registry at `server`. `Unauthorized`
    /// credentials are an `Error::NotAuthorized`-like refusal (`401 Unauthorized`).
    pub async fn registry_login(&self, server: &str, username: &str, password: &str) -> Result<()> {
        if username.is_empty() {
            return Err(Error::InvalidArg(
                "login attempt failed: a username is required".into(),
            ));
        }
        if password.is_empty() {
            return Err(Error::InvalidArg(
                "login attempt failed: a password is required".into(),
            ));
        }
        let host = registry_host(server);
        crate::images::registry::ensure_crypto();
        let plain_ok = self.options().registries.is_insecure(&host)
            || host.starts_with("localhost")
            || host.starts_with("127.0.0.1");
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(plain_ok)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let failed = |msg: String| {
            Error::Runtime(format!(
                "login attempt to {server} failed with status: {msg}"
            ))
        };
        let mut resp = client
            .get(format!("https://{host}/v2/"))
            .basic_auth(username, Some(password))
            .send()
            .await;
        if resp.is_err() && plain_ok {
            resp = client
                .get(format!("http://{host}/v2/"))
                .basic_auth(username, Some(password))
                .send()
                .await;
        }
        let resp = resp.map_err(|e| failed(chain(&e)))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 => {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if !challenge.to_ascii_lowercase().starts_with("bearer") {
                    return Err(Error::Unauthorized(format!(
                        "login attempt to {server} failed with status: 401 Unauthorized"
                    )));
                }
                let realm = challenge_param(&challenge, "realm").unwrap_or_default();
                let mut req = client.get(&realm).basic_auth(username, Some(password));
                if let Some(svc) = challenge_param(&challenge, "service") {
                    req = req.query(&[("service", svc.as_str()), ("account", username)]);
                }
                let tok = req.send().await.map_err(|e| failed(chain(&e)))?;
                if tok.status().is_success() {
                    Ok(())
                } else {
                    Err(Error::Unauthorized(format!(
                        "login attempt to {server} failed with status: 401 Unauthorized"
                    )))
                }
            }
            s => Err(failed(format!("{s}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_challenges() {
        assert_eq!(registry_host("https://localhost:5000/"), "localhost:5000");
        assert_eq!(registry_host("docker.io"), "registry-1.docker.io");
        let c = r#"Bearer realm="https://auth.example/token",service="registry.example""#;
        assert_eq!(
            challenge_param(c, "realm").as_deref(),
            Some("https://auth.example/token")
        );
        assert_eq!(
            challenge_param(c, "service").as_deref(),
            Some("registry.example")
        );
    }
}
