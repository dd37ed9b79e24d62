//! The networks routes of both API trees: create, list (filters), inspect, remove, prune,
//! exists, connect, disconnect, and libpod's `update` (DNS servers), in Docker's and libpod's
//! shapes.

use std::collections::BTreeMap;

use api_core::query::label_matches;
use api_core::{ApiError, ApiJson, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use engine::json::field;
use engine::networks::manage::NetworkCreate;
use engine::networks::netavark::{LeaseRange, Network, Subnet};
use serde_json::{json, Value};

mod openapi;

pub use openapi::openapi;

/// The networks router fragment.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create_compat))
        .route("/networks/prune", post(prune))
        .route("/networks/{name}", get(inspect).delete(remove))
        .route("/networks/{name}/connect", post(connect))
        .route("/networks/{name}/disconnect", post(disconnect))
        .route("/libpod/networks/{name}/connect", post(connect))
        .route("/libpod/networks/{name}/disconnect", post(disconnect))
        .route("/libpod/networks/json", get(list))
        .route("/libpod/networks/create", post(create_libpod))
        .route("/libpod/networks/prune", post(prune))
        .route("/libpod/networks/{name}/json", get(inspect))
        .route("/libpod/networks/{name}/exists", get(exists))
        .route("/libpod/networks/{name}/update", post(update))
        .route(
            "/libpod/networks/{name}",
            get(inspect).merge(delete(remove)),
        )
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        x.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| x.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Docker's network object (`shown`: the name to show; the default network answers as
/// `bridge` in lists and when asked by that name).
async fn compat_doc(st: &AppState, n: &Network, shown: &str) -> Value {
    let mut containers = serde_json::Map::new();
    if let Ok(list) = st.networks.containers(n).await {
        for c in list.iter().filter(|c| c.is_running()) {
            let stn = &c.network_status[&n.name];
            let iface = stn["interfaces"]
                .as_object()
                .and_then(|m| m.values().next());
            let mac = iface.map(|i| s(&i["mac_address"])).unwrap_or_default();
            let ip = iface
                .and_then(|i| i["subnets"].as_array())
                .and_then(|a| a.first())
                .map(|x| s(&x["ipnet"]))
                .unwrap_or_default();
            containers.insert(
                c.id.clone(),
                json!({"Name": c.name, "EndpointID": "", "MacAddress": mac, "IPv4Address": ip, "IPv6Address": ""}),
            );
        }
    }
    // Compat bridges always carry `isolate`; it is not shown (Podman does the same).
    let mut options: BTreeMap<String, String> = n.options.clone();
    options.remove("isolate");
    json!({
        "Name": shown, "Id": n.id, "Created": n.created, "Scope": "local",
        "Driver": n.driver, "EnableIPv6": n.ipv6_enabled,
        "IPAM": {
            "Driver": "default", "Options": {},
            "Config": n.subnets.iter().map(|sn| {
                let mut c = json!({"Subnet": sn.subnet});
                if let Some(g) = &sn.gateway { c["Gateway"] = json!(g); }
                c
            }).collect::<Vec<_>>(),
        },
        "Internal": n.internal, "Attachable": false, "Ingress": false,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": containers, "Options": options, "Labels": n.labels,
    })
}

fn libpod_doc(n: &Network) -> Value {
    serde_json::to_value(n).unwrap_or(Value::Null)
}

fn matches(
    n: &Network,
    default: &str,
    filters: &BTreeMap<String, Vec<String>>,
    in_use: bool,
) -> ApiResult<bool> {
    for (k, vals) in filters {
        let ok = match k.as_str() {
            "name" => vals.iter().any(|v| n.name.contains(v.as_str())),
            "id" => vals.iter().any(|v| n.id.starts_with(v.as_str())),
            "driver" => vals.contains(&n.driver),
            "label" => vals.iter().all(|v| label_matches(&n.labels, v)),
            "label!" => vals.iter().all(|v| !label_matches(&n.labels, v)),
            "type" => vals.iter().any(|v| match v.as_str() {
                "builtin" => n.name == default,
                "custom" => n.name != default,
                _ => false,
            }),
            "dangling" if vals.len() > 1 => {
                return Err(ApiError::bad_request(
                    "got more than one value for filter key \"dangling\"",
                ))
            }
            "dangling" => vals.iter().any(|v| {
                let want = matches!(v.as_str(), "true" | "1");
                want != in_use
            }),
            "until" => {
                let mut ok = true;
                for v in vals {
                    let t = api_core::time::parse_time_param("until", v)?;
                    let created = chrono::DateTime::parse_from_rfc3339(&n.created)
                        .map(|c| c.with_timezone(&chrono::Utc))
                        .unwrap_or_else(|_| chrono::Utc::now());
                    ok &= created < t;
                }
                ok
            }
            other => return Err(ApiError::bad_request(format!("invalid filter {other:?}"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn filters_of(q: &Query) -> ApiResult<BTreeMap<String, Vec<String>>> {
    Ok(q.filters()?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// `GET /networks` and `/libpod/networks/json`.
async fn list(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Vec<Value>>> {
    let f = filters_of(&q)?;
    let all = st.networks.list().await?;
    let default = all.first().map(|n| n.name.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for n in &all {
        let in_use = if f.contains_key("dangling") {
            !st.networks.containers(n).await?.is_empty()
        } else {
            false
        };
        if !matches(n, &default, &f, in_use)? {
            continue;
        }
        out.push(if ver.libpod {
            libpod_doc(n)
        } else {
            let shown = if n.name == default {
                "bridge"
            } else {
                n.name.as_str()
            };
            compat_doc(&st, n, shown).await
        });
    }
    Ok(Json(out))
}

/// `GET /networks/{name}` and `/libpod/networks/{name}/json`.
async fn inspect(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let n = st.networks.inspect(&name).await?;
    Ok(Json(if ver.libpod {
        libpod_doc(&n)
    } else {
        let shown = if name == "bridge" {
            "bridge"
        } else {
            n.name.as_str()
        };
        compat_doc(&st, &n, shown).await
    }))
}

/// `GET /libpod/networks/{name}/exists`.
async fn exists(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.networks.inspect(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/create` (Docker body).
async fn create_compat(
    State(st): State<AppState>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Response> {
    let name = s(field(&v, "Name"));
    if name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    let ipam = field(&v, "IPAM");
    let mut subnets = Vec::new();
    for c in field(ipam, "Config").as_array().into_iter().flatten() {
        let subnet = s(field(c, "Subnet"));
        if subnet.is_empty() {
            continue;
        }
        let gateway = Some(s(field(c, "Gateway"))).filter(|g| !g.is_empty());
        if let Some(g) = &gateway {
            if g.parse::<std::net::IpAddr>().is_err() {
                return Err(ApiError::bad_request(format!(
                    "failed to parse gateway ip {g}"
                )));
            }
        }
        // `IPRange`: leases from its first to its last host address.
        let range = s(field(c, "IPRange"));
        let lease_range = if range.is_empty() {
            None
        } else {
            let (first, last) =
                engine::networks::netavark::host_bounds(&range).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "failed to parse ip range: invalid CIDR address: {range}"
                    ))
                })?;
            Some(LeaseRange {
                start_ip: Some(first.to_string()),
                end_ip: Some(last.to_string()),
            })
        };
        subnets.push(Subnet {
            subnet,
            gateway,
            lease_range,
        });
    }
    let driver = s(field(&v, "Driver"));
    let bridge = driver.is_empty() || driver == "bridge";
    let vlan = driver == "macvlan" || driver == "ipvlan";
    let mut options = BTreeMap::new();
    let mut interface = String::new();
    let mut warning = String::new();
    // Docker's bridges are isolated from each other.
    if bridge {
        options.insert("isolate".to_string(), "true".to_string());
    }
    for (k, val) in string_map(field(&v, "Options")) {
        match k.as_str() {
            "mtu" | "com.docker.network.driver.mtu" => {
                options.insert("mtu".into(), val);
            }
            "com.docker.network.bridge.name" if bridge => interface = val,
            "mode" if vlan => {
                options.insert(k, val);
            }
            "parent" if vlan => interface = val,
            _ => warning = format!("\"{k}: {val}\" is not a recognized option"),
        }
    }
    // Without CheckDuplicate an existing network of that name is answered as created.
    if !field(&v, "CheckDuplicate").as_bool().unwrap_or(false) {
        if let Ok(n) = st.networks.inspect(&name).await {
            return Ok((
                StatusCode::CREATED,
                Json(json!({"Id": n.id, "Warning": warning})),
            )
                .into_response());
        }
    }
    let req = NetworkCreate {
        name,
        driver,
        interface,
        subnets,
        internal: field(&v, "Internal").as_bool().unwrap_or(false),
        dns_enabled: bridge,
        ipv6_enabled: field(&v, "EnableIPv6").as_bool().unwrap_or(false),
        labels: string_map(field(&v, "Labels")),
        options,
    };
    let n = st.networks.create(req).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": n.id, "Warning": warning})),
    )
        .into_response())
}

/// `POST /libpod/networks/create` (netavark's network JSON; libpod API 4.0 or newer).
async fn create_libpod(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    if !ver.at_least(4, 0, 0) {
        return Err(ApiError::with_cause(
            StatusCode::BAD_REQUEST,
            "given version is not supported".to_string(),
            format!(
                "{} is not a supported libpod API version for network create: given version is not supported",
                ver.raw.clone().unwrap_or_default()
            ),
        ));
    }
    let subnets = v["subnets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Subnet {
                    subnet: s(&c["subnet"]),
                    gateway: Some(s(&c["gateway"])).filter(|g| !g.is_empty()),
                    lease_range: c["lease_range"].as_object().map(|lr| LeaseRange {
                        start_ip: lr
                            .get("start_ip")
                            .and_then(|x| x.as_str())
                            .map(String::from),
                        end_ip: lr.get("end_ip").and_then(|x| x.as_str()).map(String::from),
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    let req = NetworkCreate {
        name: s(&v["name"]),
        driver: s(&v["driver"]),
        interface: s(&v["network_interface"]),
        subnets,
        internal: v["internal"].as_bool().unwrap_or(false),
        dns_enabled: v["dns_enabled"].as_bool().unwrap_or(false),
        ipv6_enabled: v["ipv6_enabled"].as_bool().unwrap_or(false),
        labels: string_map(&v["labels"]),
        options: string_map(&v["options"]),
    };
    let n = st.networks.create(req).await?;
    Ok(Json(libpod_doc(&n)))
}

/// `DELETE /networks/{name}` (204) and `/libpod/networks/{name}?force=` (reports).
async fn remove(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let force = q.bool_or("force", false)?;
    let n = st.networks.remove(&name, force).await?;
    if ver.libpod {
        Ok(Json(json!([{"Name": n.name, "Err": null}])).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// `POST /networks/prune?filters=`: removes the unused networks (never the default one).
async fn prune(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let f = filters_of(&q)?;
    for k in f.keys() {
        if !matches!(k.as_str(), "until" | "label" | "label!") {
            return Err(ApiError::bad_request(format!("{k} is an invalid filter")));
        }
    }
    let all = st.networks.list().await?;
    let default = all.first().map(|n| n.name.clone()).unwrap_or_default();
    let mut gone = Vec::new();
    for n in all.iter().filter(|n| n.name != default) {
        if !matches(n, &default, &f, false)? || !st.networks.containers(n).await?.is_empty() {
            continue;
        }
        if st.networks.remove(&n.name, false).await.is_ok() {
            gone.push(n.name.clone());
        }
    }
    Ok(Json(if ver.libpod {
        Value::Array(
            gone.iter()
                .map(|n| json!({"Name": n, "Error": null}))
                .collect(),
        )
    } else {
        json!({"NetworksDeleted": gone})
    }))
}

/// `POST /networks/{name}/connect`: Docker's `{Container, EndpointConfig}` or libpod's
/// `{container, aliases, static_ips, static_mac, interface_name}`.
async fn connect(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Response> {
    let container = s(field(&v, "Container"));
    if container.is_empty() {
        return Err(ApiError::bad_request("a container is required"));
    }
    let ep = field(&v, "EndpointConfig");
    let list = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut att = engine::containers::config::NetAttach {
        aliases: list(field(&v, "aliases")),
        static_ips: list(field(&v, "static_ips")),
        static_mac: Some(s(field(&v, "static_mac"))).filter(|m| !m.is_empty()),
        interface_name: Some(s(field(&v, "interface_name"))).filter(|m| !m.is_empty()),
    };
    if ep.is_object() {
        att.aliases.extend(list(field(ep, "Aliases")));
        let ip = s(field(field(ep, "IPAMConfig"), "IPv4Address"));
        if !ip.is_empty() {
            att.static_ips.push(ip);
        }
        let mac = s(field(ep, "MacAddress"));
        if !mac.is_empty() {
            att.static_mac = Some(mac);
        }
    }
    st.networks.connect(&name, &container, att).await?;
    Ok((StatusCode::OK, "OK").into_response())
}

/// `POST /networks/{name}/disconnect` with `{Container, Force}`.
async fn disconnect(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Response> {
    let container = s(field(&v, "Container"));
    if container.is_empty() {
        return Err(ApiError::bad_request("a container is required"));
    }
    st.networks.disconnect(&name, &container).await?;
    Ok((StatusCode::OK, "OK").into_response())
}

/// `POST /libpod/networks/{name}/update`: `{adddnsservers, removednsservers}`.
async fn update(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(v): ApiJson<Value>,
) -> ApiResult<Response> {
    let list = |k: &str| -> ApiResult<Vec<String>> {
        match field(&v, k) {
            Value::Null => Ok(Vec::new()),
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str().map(String::from).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "failed to decode request JSON payload: {k} must be a list of strings"
                        ))
                    })
                })
                .collect(),
            _ => Err(ApiError::bad_request(format!(
                "failed to decode request JSON payload: {k} must be a list of strings"
            ))),
        }
    };
    st.networks
        .update(&name, list("adddnsservers")?, list("removednsservers")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
