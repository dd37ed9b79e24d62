//! `GET /libpod/swagger`: an OpenAPI 3.0 document of the routes podapid serves — both trees,
//! every method and path of its route table (`routes.tsv`: method, path, tree, stream kind),
//! path parameters typed as strings, streaming answers marked by their media type, and the
//! error envelope every route answers with as a typed schema (`ErrorModel`, the fields of
//! `api_core::ApiError`'s body).

use std::collections::BTreeMap;

use axum::response::Json;
use serde_json::{json, Map, Value};

const ROUTES: &str = include_str!("routes.tsv");

fn error_model() -> Value {
    json!({
        "type": "object",
        "required": ["cause", "message", "response"],
        "properties": {
            "cause": {"type": "string", "description": "the root cause, as Podman words it"},
            "message": {"type": "string", "description": "the whole error chain"},
            "response": {"type": "integer", "format": "int64", "description": "the HTTP status"},
        },
    })
}

fn media_type(stream_kind: &str) -> &'static str {
    match stream_kind {
        "json-stream" | "progress-stream" => "application/x-ndjson",
        "tar-download" => "application/x-tar",
        "hijack" | "log-stream" => "application/vnd.docker.multiplexed-stream",
        _ => "application/json",
    }
}

/// The document.
pub(crate) fn document() -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for line in ROUTES.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (method, path, tree, kind) = (
            cols.first().copied().unwrap_or(""),
            cols.get(1).copied().unwrap_or(""),
            cols.get(2).copied().unwrap_or(""),
            cols.get(3).copied().unwrap_or(""),
        );
        // `{name:.*}` → `{name}`; catch-alls keep their name.
        let mut clean = String::new();
        let mut params = Vec::new();
        let mut rest = path;
        while let Some(i) = rest.find('{') {
            clean.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else { break };
            let inner = &rest[i + 1..i + j];
            let name = inner.split(':').next().unwrap_or(inner);
            clean.push_str(&format!("{{{name}}}"));
            params.push(name.to_string());
            rest = &rest[i + j + 1..];
        }
        clean.push_str(rest);
        let methods: Vec<String> = if method == "*" {
            ["get", "post", "put", "delete", "head"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            vec![method.to_ascii_lowercase()]
        };
        let parameters: Vec<Value> = params
            .iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(clean.clone()).or_default();
        for m in methods {
            entry.insert(
                m.clone(),
                json!({
                    "tags": [tree],
                    "operationId": format!("{m} {clean}"),
                    "parameters": parameters,
                    "responses": {
                        "200": {"description": "success", "content": {media_type(kind): {}}},
                        "default": {
                            "description": "an error",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorModel"}}},
                        },
                    },
                }),
            );
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "podapid: the Podman v4 REST API",
            "version": "4.9.5",
            "description": "Docker-compatible routes (also under /v{version}) and libpod routes (under /v{version}/libpod).",
        },
        "paths": paths,
        "components": {"schemas": {"ErrorModel": error_model()}},
    })
}

/// `GET /libpod/swagger`.
pub(crate) async fn swagger() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_document() {
        let d = document();
        let n: usize = d["paths"]
            .as_object()
            .map(|m| {
                m.values()
                    .map(|v| v.as_object().map_or(0, |o| o.len()))
                    .sum()
            })
            .unwrap_or(0);
        assert!(n >= 198, "{n} operations");
        assert!(d["paths"]["/containers/{name}/archive"]["put"].is_object());
        assert!(d["paths"]["/libpod/generate/{name}/systemd"]["get"].is_object());
    }
}
