//! Image records to the Docker and libpod wire shapes.

use engine::images::ImageRecord;
use serde_json::{json, Map, Value};

fn repo_tags(img: &ImageRecord) -> Vec<String> {
    img.names.clone()
}

fn created_rfc3339(img: &ImageRecord) -> String {
    img.created
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn labels(img: &ImageRecord) -> Value {
    let l = img.labels();
    if l.is_empty() {
        Value::Null
    } else {
        json!(l)
    }
}

/// Compat `ImageSummary`.
pub(crate) fn compat_summary(img: &ImageRecord, containers: i64) -> Value {
    json!({
        "Id": format!("sha256:{}", img.id),
        "ParentId": "",
        "RepoTags": if img.names.is_empty() { json!(["<none>:<none>"]) } else { json!(repo_tags(img)) },
        "RepoDigests": img.repo_digests,
        "Created": img.created.timestamp(),
        "Size": img.size,
        "SharedSize": 0,
        "VirtualSize": img.size,
        "Labels": img.labels(),
        "Containers": containers,
    })
}

/// libpod `LibpodImageSummary`.
pub(crate) fn libpod_summary(img: &ImageRecord, containers: i64) -> Value {
    let cfg = &img.config;
    json!({
        "Id": img.id,
        "ParentId": "",
        "RepoTags": repo_tags(img),
        "RepoDigests": img.repo_digests,
        "Created": img.created.timestamp(),
        "Size": img.size,
        "SharedSize": 0,
        "VirtualSize": img.size,
        "Labels": img.labels(),
        "Containers": containers,
        "Names": repo_tags(img),
        "Digest": img.digest,
        "History": repo_tags(img),
        "ReadOnly": false,
        "Dangling": img.dangling(),
        "Arch": cfg["architecture"].as_str().unwrap_or(""),
        "Os": cfg["os"].as_str().unwrap_or(""),
    })
}

fn graph_driver(img: &ImageRecord, lower: &[String]) -> Value {
    let mut data = Map::new();
    if let Some((top, rest)) = lower.split_last() {
        data.insert("UpperDir".into(), json!(top));
        if !rest.is_empty() {
            let l: Vec<&str> = rest.iter().rev().map(String::as_str).collect();
            data.insert("LowerDir".into(), json!(l.join(":")));
        }
        data.insert(
            "WorkDir".into(),
            json!(top.trim_end_matches("/diff").to_string() + "/work"),
        );
    }
    let _ = img;
    json!({ "Name": "overlay", "Data": data })
}

fn docker_config(img: &ImageRecord) -> Value {
    let c = img.container_config();
    json!({
        "Hostname": "",
        "Domainname": "",
        "User": c["User"].as_str().unwrap_or(""),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": c.get("ExposedPorts").cloned().unwrap_or(Value::Null),
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": c.get("Env").cloned().unwrap_or(json!([])),
        "Cmd": c.get("Cmd").cloned().unwrap_or(Value::Null),
        "Image": "",
        "Volumes": c.get("Volumes").cloned().unwrap_or(Value::Null),
        "WorkingDir": c["WorkingDir"].as_str().unwrap_or(""),
        "Entrypoint": c.get("Entrypoint").cloned().unwrap_or(Value::Null),
        "OnBuild": c.get("OnBuild").cloned().unwrap_or(Value::Null),
        "Labels": labels(img),
        "StopSignal": c.get("StopSignal").cloned().unwrap_or(Value::Null),
    })
}

/// Compat `ImageInspect`.
pub(crate) fn compat_inspect(img: &ImageRecord, layer_dirs: &[String]) -> Value {
    let cfg = &img.config;
    json!({
        "Id": format!("sha256:{}", img.id),
        "RepoTags": repo_tags(img),
        "RepoDigests": img.repo_digests,
        "Parent": "",
        "Comment": cfg["comment"].as_str().unwrap_or(""),
        "Created": created_rfc3339(img),
        "Container": "",
        "ContainerConfig": docker_config(img),
        "DockerVersion": cfg["docker_version"].as_str().unwrap_or(""),
        "Author": cfg["author"].as_str().unwrap_or(""),
        "Config": docker_config(img),
        "Architecture": cfg["architecture"].as_str().unwrap_or(""),
        "Variant": cfg["variant"].as_str().unwrap_or(""),
        "Os": cfg["os"].as_str().unwrap_or(""),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": graph_driver(img, layer_dirs),
        "RootFS": { "Type": "layers", "Layers": img.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
    })
}

/// libpod `ImageData`.
pub(crate) fn libpod_inspect(img: &ImageRecord, layer_dirs: &[String]) -> Value {
    let cfg = &img.config;
    let c = img.container_config();
    let mut config = Map::new();
    for k in [
        "User",
        "ExposedPorts",
        "Env",
        "Entrypoint",
        "Cmd",
        "Volumes",
        "WorkingDir",
        "Labels",
        "StopSignal",
    ] {
        if let Some(v) = c.get(k) {
            if !v.is_null() {
                config.insert(k.into(), v.clone());
            }
        }
    }
    json!({
        "Id": img.id,
        "Digest": img.digest,
        "RepoTags": repo_tags(img),
        "RepoDigests": img.repo_digests,
        "Parent": "",
        "Comment": cfg["comment"].as_str().unwrap_or(""),
        "Created": created_rfc3339(img),
        "Config": config,
        "Version": cfg["docker_version"].as_str().unwrap_or(""),
        "Author": cfg["author"].as_str().unwrap_or(""),
        "Architecture": cfg["architecture"].as_str().unwrap_or(""),
        "Os": cfg["os"].as_str().unwrap_or(""),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": graph_driver(img, layer_dirs),
        "RootFS": { "Type": "layers", "Layers": img.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "Labels": img.labels(),
        "Annotations": {},
        "ManifestType": img.manifest_media_type,
        "User": c["User"].as_str().unwrap_or(""),
        "History": cfg.get("history").cloned().unwrap_or(json!([])),
        "NamesHistory": repo_tags(img),
    })
}

/// History entries, newest first; the newest carries the image ID and tags.
pub(crate) fn history(img: &ImageRecord, compat: bool) -> Vec<Value> {
    let hist = img.config["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut layer_sizes = img.layers.iter().map(|l| l.size);
    let mut entries: Vec<Value> = hist
        .iter()
        .map(|h| {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            };
            let created = h["created"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            json!({
                "Id": "<missing>",
                "Created": created,
                "CreatedBy": h["created_by"].as_str().unwrap_or(""),
                "Tags": Value::Null,
                "Size": size,
                "Comment": h["comment"].as_str().unwrap_or(""),
            })
        })
        .collect();
    entries.reverse();
    if entries.is_empty() {
        entries.push(json!({
            "Id": "", "Created": img.created.timestamp(), "CreatedBy": "", "Tags": Value::Null,
            "Size": img.size, "Comment": "",
        }));
    }
    let id = if compat {
        format!("sha256:{}", img.id)
    } else {
        img.id.clone()
    };
    entries[0]["Id"] = json!(id);
    entries[0]["Tags"] = if img.names.is_empty() {
        Value::Null
    } else {
        json!(img.names)
    };
    entries
}

/// Sizes like Go's `units.HumanSize` (4 significant digits, decimal units).
fn human(size: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut n = format!("{v:.digits$}");
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{n}{}", units[i])
}

fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// The text of `podman image tree`.
pub(crate) fn tree(img: &ImageRecord) -> String {
    let short = |s: &str| {
        s.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    };
    let mut t = format!(
        "Image ID: {}\nTags:     {}\nSize:     {}\nImage Layers\n",
        short(&img.id),
        go_list(&img.names),
        human(img.size)
    );
    let n = img.layers.len();
    for (i, l) in img.layers.iter().enumerate() {
        let branch = if i + 1 == n { "└──" } else { "├──" };
        let top = if i + 1 == n {
            format!(" Top Layer of: {}", go_list(&img.names))
        } else {
            String::new()
        };
        t.push_str(&format!(
            "{branch} ID: {} Size: {:>7}{top}\n",
            short(&l.chain_id),
            human(l.size)
        ));
    }
    t
}
