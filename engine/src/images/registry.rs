//! Talking to registries through oci-client: manifests (with our own platform choice),
//! blobs streamed to disk with their digests verified, and errors mapped to what Podman
//! reports.

use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::images::auth::Credentials;
use crate::images::reference::ImageRef;

/// Media types accepted for manifests.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Installs rustls' ring provider once (oci-client is built without a default provider).
pub(crate) fn ensure_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for one registry location.
pub struct RegistryClient {
    client: Client,
    auth: RegistryAuth,
}

/// Maps an oci-client error to an engine error carrying the HTTP status Podman would use.
pub fn map_error(what: &str, e: oci_client::errors::OciDistributionError) -> Error {
    use oci_client::errors::OciDistributionError as E;
    // The whole chain: reqwest hides the TLS reason in its sources.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(inner) = src {
        msg.push_str(": ");
        msg.push_str(&inner.to_string());
        src = inner.source();
    }
    let status = match &e {
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => 401,
        E::ServerError { code, .. } => *code,
        E::ImageManifestNotFoundError(_) => 404,
        E::RegistryError { .. } => {
            let l = msg.to_ascii_lowercase();
            if l.contains("unauthorized") || l.contains("denied") {
                401
            } else if l.contains("unknown") || l.contains("not found") {
                404
            } else {
                500
            }
        }
        _ => 500,
    };
    let message = match status {
        401 => "unauthorized: access to the requested resource is not authorized".to_string(),
        404 => format!("{what}: manifest unknown"),
        _ if msg.contains("UnknownIssuer") || msg.contains("certificate") => {
            // Say it the way Go's TLS stack does; clients match on it.
            format!("{what}: {msg}: x509: certificate signed by unknown authority")
        }
        _ => format!("{what}: {msg}"),
    };
    Error::Registry { status, message }
}

/// For hosts where TLS verification is off: whether they speak plain HTTP (cached per
/// host). containers/image tries TLS without verification first and falls back to HTTP;
/// this asks the host once with a plain request: a TLS server answers it with Go's
/// "Client sent an HTTP request to an HTTPS server" (or not at all).
async fn speaks_plain_http(host: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tokio::io::AsyncReadExt;
    static CACHE: Mutex<Option<HashMap<String, bool>>> = Mutex::new(None);
    if let Some(v) = CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(host).copied()))
    {
        return v;
    }
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:443")
    };
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = vec![0u8; 512];
        let n = s.read(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        Some(text.starts_with("HTTP/") && !text.contains("HTTPS"))
    };
    let plain = tokio::time::timeout(std::time::Duration::from_secs(3), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false);
    if let Ok(mut c) = CACHE.lock() {
        c.get_or_insert_with(HashMap::new)
            .insert(host.to_string(), plain);
    }
    plain
}

impl RegistryClient {
    /// A client for `host`. With `insecure` (registries.conf `insecure`, `tlsVerify=false`)
    /// certificates are not verified and plain HTTP is used when the host speaks it.
    pub async fn connect(host: &str, insecure: bool, creds: Option<&Credentials>) -> Self {
        let plain = insecure && speaks_plain_http(host).await;
        Self::new(host, insecure, plain, creds)
    }

    fn new(host: &str, insecure: bool, plain_http: bool, creds: Option<&Credentials>) -> Self {
        ensure_crypto();
        let config = ClientConfig {
            protocol: if plain_http {
                ClientProtocol::HttpsExcept(vec![host.to_string()])
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: insecure,
            platform_resolver: None,
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            ..Default::default()
        };
        RegistryClient {
            client: Client::new(config),
            auth: match creds {
                Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
                None => RegistryAuth::Anonymous,
            },
        }
    }

    /// Uploads a blob file unless the registry has it, streaming it from disk; returns
    /// whether it was uploaded.
    pub async fn push_blob(
        &self,
        r: &ImageRef,
        digest: &str,
        path: &std::path::Path,
    ) -> Result<bool> {
        let oref = Self::oci_ref(r);
        self.client
            .store_auth_if_needed(oref.resolve_registry(), &self.auth)
            .await;
        if self
            .client
            .blob_exists(&oref, digest)
            .await
            .map_err(|e| map_error(&r.full(), e))?
        {
            return Ok(false);
        }
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let size = file.metadata().await.map(|m| m.len()).ok();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
            .map(|c| c.map_err(oci_client::errors::OciDistributionError::IoError));
        self.client
            .push_blob_stream(&oref, stream, digest, size)
            .await
            .map_err(|e| map_error(&r.full(), e))?;
        Ok(true)
    }

    /// Uploads a manifest as is (its digest is preserved).
    pub async fn push_manifest(
        &self,
        r: &ImageRef,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<()> {
        let oref = Self::oci_ref(r);
        self.client
            .store_auth_if_needed(oref.resolve_registry(), &self.auth)
            .await;
        let ct = media_type
            .parse()
            .map_err(|_| Error::InvalidArg(format!("bad media type {media_type:?}")))?;
        self.client
            .push_manifest_raw(&oref, bytes, ct)
            .await
            .map_err(|e| map_error(&r.full(), e))?;
        Ok(())
    }

    /// The repositories of the registry (`/v2/_catalog`), up to `n`.
    pub async fn catalog(&self, host: &str, n: usize) -> Result<Vec<String>> {
        let oref = Reference::with_tag(host.to_string(), "x".into(), "latest".into());
        self.client
            .catalog(&oref, &self.auth, Some(n), None)
            .await
            .map(|c| c.repositories)
            .map_err(|e| match map_error(host, e) {
                Error::Registry { status, message } => Error::Registry {
                    status,
                    message: format!("couldn't search registry {host:?}: {message}"),
                },
                other => other,
            })
    }

    /// The tags of a repository.
    pub async fn tags(&self, r: &ImageRef) -> Result<Vec<String>> {
        self.client
            .list_tags(&Self::oci_ref(r), &self.auth, None, None)
            .await
            .map(|t| t.tags)
            .map_err(|e| map_error(&r.name(), e))
    }

    fn oci_ref(r: &ImageRef) -> Reference {
        match (&r.tag, &r.digest) {
            (_, Some(d)) => {
                Reference::with_digest(r.registry.clone(), r.repository.clone(), d.clone())
            }
            (Some(t), None) => {
                Reference::with_tag(r.registry.clone(), r.repository.clone(), t.clone())
            }
            (None, None) => {
                Reference::with_tag(r.registry.clone(), r.repository.clone(), "latest".into())
            }
        }
    }

    /// Fetches a manifest (or index): raw bytes, their digest and media type.
    pub async fn manifest(&self, r: &ImageRef) -> Result<(Vec<u8>, String, String)> {
        let oref = Self::oci_ref(r);
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(&oref, &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| map_error(&r.full(), e))?;
        let computed = crate::images::layer::sha256_digest(&bytes);
        if r.digest.as_deref().is_some_and(|d| d != computed) {
            return Err(Error::Registry {
                status: 500,
                message: format!("manifest digest mismatch for {}: got {computed}", r.full()),
            });
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(String::from)
            })
            .unwrap_or_default();
        let _ = digest;
        Ok((bytes.to_vec(), computed, media_type))
    }

    /// Fetches a small blob (a config) whole, verifying its digest.
    pub async fn blob_bytes(&self, r: &ImageRef, digest: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.blob_to(r, digest, &mut out, |_| {}).await?;
        Ok(out)
    }

    /// Streams a blob into `out`, calling `progress(bytes so far)`, and verifies its digest.
    pub async fn blob_to<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        r: &ImageRef,
        digest: &str,
        out: &mut W,
        mut progress: impl FnMut(u64),
    ) -> Result<u64> {
        let oref = Self::oci_ref(r);
        let mut stream = self
            .client
            .pull_blob_stream(&oref, digest)
            .await
            .map_err(|e| map_error(&r.full(), e))?;
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = stream.stream.next().await {
            let chunk = chunk.map_err(|e| Error::io(format!("downloading {digest}"), e))?;
            hasher.update(&chunk);
            n += chunk.len() as u64;
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("writing {digest}"), e))?;
            progress(n);
        }
        out.flush()
            .await
            .map_err(|e| Error::io("flushing a blob", e))?;
        let got = format!("sha256:{}", hex::encode(hasher.finalize()));
        if got != digest {
            return Err(Error::Registry {
                status: 500,
                message: format!("blob digest mismatch: expected {digest}, got {got}"),
            });
        }
        Ok(n)
    }
}
