//! Pods with `podman --url`: a pod publishing 127.0.0.1:P, a busybox httpd joining it and
//! answering on that port, `pod ps/top/stats/stop/start/rm -f`; members share the infra
//! container's network and UTS namespaces; the infra container cannot be removed alone.
#![cfg(feature = "e2e")]
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use tests::{podman, TestDaemon};

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (ok, out) = podman(d, args).await;
    assert!(ok, "podman {args:?}: {out}");
    out
}

async fn fetch(port: u16, want: &str) -> String {
    tests::http_get_until(port, want).await
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_remote_pod_lifecycle() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let port = tests::free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(&d, &["pod", "create", "--name", "web", "-p", &publish]).await;
    let out = ok(
        &d,
        &[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "web Created 1");
    ok(
        &d,
        &[
            "run",
            "-d",
            "--pod",
            "web",
            "--name",
            "httpd",
            "busybox",
            "sh",
            "-c",
            "echo from-pod > /tmp/index.html; exec httpd -f -p 80 -h /tmp",
        ],
    )
    .await;
    assert_eq!(fetch(port, "from-pod").await.trim(), "from-pod");
    let out = ok(
        &d,
        &[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "web Running 2");
    // The member has the pod's hostname (shared UTS namespace).
    let out = ok(&d, &["exec", "httpd", "hostname"]).await;
    assert_eq!(out.trim(), "web");
    let out = ok(&d, &["pod", "top", "web"]).await;
    assert!(
        out.contains("/catatonit -P") && out.contains("httpd -f -p 80"),
        "{out}"
    );
    let out = ok(&d, &["pod", "stats", "--no-stream", "web"]).await;
    assert!(out.contains("httpd") && out.contains("-infra"), "{out}");
    let infra = ok(
        &d,
        &["pod", "inspect", "web", "--format", "{{.InfraContainerID}}"],
    )
    .await;
    let (okr, out) = podman(&d, &["rm", "-f", infra.trim()]).await;
    assert!(!okr && out.contains("infra container"), "{out}");
    ok(&d, &["pod", "stop", "-t", "1", "web"]).await;
    let out = ok(&d, &["pod", "ps", "--format", "{{.Status}}"]).await;
    assert_eq!(out.trim(), "Exited");
    ok(&d, &["pod", "start", "web"]).await;
    assert_eq!(fetch(port, "from-pod").await.trim(), "from-pod");
    ok(&d, &["pod", "rm", "-f", "web"]).await;
    let out = ok(&d, &["pod", "ps", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
    let out = ok(&d, &["ps", "-aq"]).await;
    assert!(out.trim().is_empty(), "{out}");
}

/// Reads YAML documents into Kubernetes API types and checks that nothing was unknown to
/// them or of the wrong type: serializing the typed value gives back the same document.
fn validate_k8s(yaml: &str) -> Vec<String> {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
    fn check<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &serde_json::Value) {
        let typed: T = serde_json::from_value(doc.clone()).unwrap();
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(&back, doc, "a field unknown to the Kubernetes types");
    }
    let mut kinds = Vec::new();
    for d in serde_norway::Deserializer::from_str(yaml) {
        let v: serde_json::Value = serde::Deserialize::deserialize(d).unwrap();
        if v.is_null() {
            continue;
        }
        let kind = v["kind"].as_str().unwrap().to_string();
        match kind.as_str() {
            "Pod" => check::<Pod>(&v),
            "Service" => check::<Service>(&v),
            "PersistentVolumeClaim" => check::<PersistentVolumeClaim>(&v),
            "Deployment" => check::<k8s_openapi::api::apps::v1::Deployment>(&v),
            other => panic!("unexpected kind {other}"),
        }
        kinds.push(kind);
    }
    kinds
}

/// A tiny API server on 127.0.0.1 that records what `kube apply` sends: (method, path,
/// content type, body) per request; every request gets 201.
async fn recording_server() -> (
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let seen = s2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: head, then Content-Length bytes of body.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match c.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.lines();
                    let mut first = lines.next().unwrap_or("").split_whitespace();
                    let (method, path) = (
                        first.next().unwrap_or("").to_string(),
                        first.next().unwrap_or("").to_string(),
                    );
                    let mut len = 0;
                    let mut ctype = String::new();
                    for l in lines {
                        let lower = l.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if let Some(v) = lower.strip_prefix("content-type:") {
                            ctype = v.trim().to_string();
                        }
                    }
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match c.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                    buf.drain(..head_end + len);
                    seen.lock().unwrap().push((method, path, ctype, body));
                    let _ = c
                        .write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                        .await;
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn kube_generate_down_play_round_trip_and_apply() {
    let d = TestDaemon::start().await;
    ok(&d, &["pull", "-q", "busybox"]).await;
    let port = tests::free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(&d, &["pod", "create", "--name", "shop", "-p", &publish]).await;
    ok(&d, &["volume", "create", "shopdata"]).await;
    ok(
        &d,
        &[
            "run",
            "-d",
            "--pod",
            "shop",
            "--name",
            "front",
            "-e",
            "GREETING=hello",
            "-v",
            "shopdata:/data",
            "busybox",
            "sh",
            "-c",
            "echo $GREETING > /data/index.html; exec httpd -f -p 80 -h /data",
        ],
    )
    .await;
    assert_eq!(fetch(port, "hello").await.trim(), "hello");

    let dir = tempfile::tempdir().unwrap();
    let yaml = ok(&d, &["generate", "kube", "shop"]).await;
    assert_eq!(validate_k8s(&yaml), ["Pod"], "{yaml}");
    let with_service = ok(&d, &["generate", "kube", "--service", "shop", "shopdata"]).await;
    let mut kinds = validate_k8s(&with_service);
    kinds.sort();
    assert_eq!(
        kinds,
        ["PersistentVolumeClaim", "Pod", "Service"],
        "{with_service}"
    );
    let file = dir.path().join("shop.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let f = file.display().to_string();

    ok(&d, &["play", "kube", "--down", &f]).await;
    let out = ok(&d, &["pod", "ps", "-q"]).await;
    assert!(out.trim().is_empty(), "{out}");
    ok(&d, &["play", "kube", &f]).await;
    let out = ok(
        &d,
        &[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ],
    )
    .await;
    assert_eq!(out.trim(), "shop Running 2");
    // Same port, same environment, same volume with its data.
    assert_eq!(fetch(port, "hello").await.trim(), "hello");
    let out = ok(
        &d,
        &["ps", "--format", "{{.Names}}", "--filter", "pod=shop"],
    )
    .await;
    assert!(out.lines().any(|l| l == "shop-front"), "{out}");
    ok(&d, &["play", "kube", "--down", &f]).await;

    // `kube apply` sends each document to the API server of the kubeconfig.
    let (api_port, seen) = recording_server().await;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://127.0.0.1:{api_port}\nusers:\n- name: test\n  user:\n    token: secret-token\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\ncurrent-context: test\n"
        ),
    )
    .unwrap();
    let svc_file = dir.path().join("svc.yaml");
    std::fs::write(&svc_file, &with_service).unwrap();
    let r = d
        .req(
            "POST",
            &format!(
                "/v4.9.5/libpod/kube/apply?kubeconfig={}&namespace=shopns",
                kubeconfig.display()
            ),
            Some(&with_service),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(paths.len(), 3, "{seen:?}");
    assert!(
        paths.contains(&"/api/v1/namespaces/shopns/pods"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/api/v1/namespaces/shopns/services"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/api/v1/namespaces/shopns/persistentvolumeclaims"),
        "{paths:?}"
    );
    // The pod goes last (what it uses first), each as YAML.
    assert_eq!(paths[2], "/api/v1/namespaces/shopns/pods");
    for (method, _, ctype, body) in &seen {
        assert_eq!(method, "POST");
        assert_eq!(ctype, "application/yaml");
        assert!(body.contains("kind:"), "{body}");
    }
    let pod_body = &seen[2].3;
    assert!(pod_body.contains("name: shop"), "{pod_body}");
}
