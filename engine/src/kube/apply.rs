//! `kube apply`: sends Kubernetes YAML to a cluster's API server, as Podman does — each
//! document POSTed (`application/yaml`) to its collection in the namespace, the kinds that
//! pods need first. The cluster, credentials and CA come from a kubeconfig (its first
//! cluster and user): client certificate and key as files or inline data, a bearer token,
//! a CA file or data, or `caCertFile=insecure` to skip verification.

use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};

/// What `kube apply` is given besides the YAML.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// The kubeconfig file (required).
    pub kubeconfig: String,
    /// Namespace (default `default`).
    pub namespace: String,
    /// A CA bundle file, or `insecure`.
    pub ca_cert_file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KubeConfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedCluster {
    cluster: Cluster,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cluster {
    server: String,
    #[serde(rename = "certificate-authority")]
    certificate_authority: String,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: String,
    #[serde(rename = "insecure-skip-tls-verify")]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedUser {
    user: User,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct User {
    #[serde(rename = "client-certificate")]
    client_certificate: String,
    #[serde(rename = "client-key")]
    client_key: String,
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: String,
    #[serde(rename = "client-key-data")]
    client_key_data: String,
    token: String,
}

/// The collection a kind is created in, under `/…/namespaces/<ns>/`.
fn collection(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "api/v1/namespaces/{ns}/pods",
        "Service" => "api/v1/namespaces/{ns}/services",
        "PersistentVolumeClaim" => "api/v1/namespaces/{ns}/persistentvolumeclaims",
        "ConfigMap" => "api/v1/namespaces/{ns}/configmaps",
        "Secret" => "api/v1/namespaces/{ns}/secrets",
        "Deployment" => "apis/apps/v1/namespaces/{ns}/deployments",
        "DaemonSet" => "apis/apps/v1/namespaces/{ns}/daemonsets",
        "Job" => "apis/batch/v1/namespaces/{ns}/jobs",
        _ => return None,
    })
}

fn read(path: &str, what: &str) -> Result<Vec<u8>> {
    std::fs::read(Path::new(path))
        .map_err(|e| Error::InvalidArg(format!("reading {what} {path}: {e}")))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| Error::InvalidArg(format!("decoding {what}: {e}")))
}

/// Deploys `yaml` to the cluster the kubeconfig names.
pub async fn apply(yaml: &str, opts: &ApplyOptions) -> Result<()> {
    if yaml.trim().is_empty() {
        return Err(Error::InvalidArg(
            "yaml file provided is empty, cannot apply to a cluster".into(),
        ));
    }
    if opts.kubeconfig.is_empty() {
        return Err(Error::InvalidArg(
            "a kubeconfig is required to apply to a cluster: invalid argument".into(),
        ));
    }
    let docs = super::play::documents(yaml)?;
    let cfg: KubeConfig = serde_norway::from_slice(&read(&opts.kubeconfig, "kubeconfig")?)
        .map_err(|e| Error::InvalidArg(format!("reading kubeconfig {}: {e}", opts.kubeconfig)))?;
    let cluster = cfg
        .clusters
        .first()
        .map(|c| &c.cluster)
        .ok_or_else(|| Error::InvalidArg("the kubeconfig names no cluster".into()))?;
    let user = cfg.users.first().map(|u| &u.user);
    let ns = if opts.namespace.is_empty() {
        "default"
    } else {
        opts.namespace.as_str()
    };

    crate::images::registry::ensure_crypto();
    let mut b = reqwest::Client::builder();
    let insecure =
        opts.ca_cert_file.eq_ignore_ascii_case("insecure") || cluster.insecure_skip_tls_verify;
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    } else {
        let ca = if !opts.ca_cert_file.is_empty() {
            Some(read(&opts.ca_cert_file, "CA certificate")?)
        } else if !cluster.certificate_authority.is_empty() {
            Some(read(&cluster.certificate_authority, "CA certificate")?)
        } else if !cluster.certificate_authority_data.is_empty() {
            Some(b64(
                &cluster.certificate_authority_data,
                "certificate-authority-data",
            )?)
        } else {
            None
        };
        if let Some(pem) = ca {
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::InvalidArg(format!("reading the CA certificate: {e}")))?
            {
                b = b.add_root_certificate(cert);
            }
        }
    }
    let mut token = None;
    if let Some(u) = user {
        let pair = if !u.client_certificate.is_empty() && !u.client_key.is_empty() {
            Some((
                read(&u.client_certificate, "client certificate")?,
                read(&u.client_key, "client key")?,
            ))
        } else if !u.client_certificate_data.is_empty() && !u.client_key_data.is_empty() {
            Some((
                b64(&u.client_certificate_data, "client-certificate-data")?,
                b64(&u.client_key_data, "client-key-data")?,
            ))
        } else {
            None
        };
        if let Some((mut cert, key)) = pair {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            let id = reqwest::Identity::from_pem(&cert)
                .map_err(|e| Error::InvalidArg(format!("reading the client certificate: {e}")))?;
            b = b.identity(id);
        }
        if !u.token.is_empty() {
            token = Some(u.token.clone());
        }
    }
    let client = b
        .build()
        .map_err(|e| Error::Internal(format!("building the cluster client: {e}")))?;
    let server = cluster.server.trim_end_matches('/');
    for (kind, doc) in docs {
        let path = collection(&kind)
            .ok_or_else(|| {
                Error::InvalidArg(format!("unsupported Kubernetes kind found: {kind:?}"))
            })?
            .replace("{ns}", ns);
        let body = serde_norway::to_string(&doc)
            .map_err(|e| Error::Internal(format!("writing YAML: {e}")))?;
        let mut req = client
            .post(format!("{server}/{path}"))
            .header("Content-Type", "application/yaml")
            .body(body);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            Error::Runtime(format!("error applying YAML to k8s cluster: {msg}"))
        })?;
        let status = resp.status().as_u16();
        if !(200..=202).contains(&status) {
            let text = resp.text().await.unwrap_or_default();
            return Err(Error::Runtime(format!(
                "error applying YAML to k8s cluster: {status}: {text}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_by_kind() {
        assert_eq!(collection("Pod"), Some("api/v1/namespaces/{ns}/pods"));
        assert_eq!(
            collection("Deployment"),
            Some("apis/apps/v1/namespaces/{ns}/deployments")
        );
        assert_eq!(collection("Frobnicator"), None);
    }
}
