//! The OpenAPI operations of the networks routes, with the wire types of their JSON answers:
//! Docker's network object (`compat_doc`) and libpod's, which is netavark's network JSON
//! (`engine::networks::netavark::Network` serialized).

#![allow(dead_code)]

use std::collections::BTreeMap;

use api_core::openapi::Op;
use schemars::JsonSchema;

/// The operations of the networks router fragment.
pub fn openapi() -> Vec<Op> {
    vec![
        Op::delete("/networks/{name}")
            .summary("Remove a network")
            .empty(204),
        Op::get("/networks/{name}")
            .summary("Inspect a network")
            .json::<NetworkResource>(),
        Op::get("/networks")
            .summary("List networks")
            .json::<Vec<NetworkResource>>(),
        Op::post("/networks/create")
            .summary("Create a network")
            .json_at::<NetworkCreateResponse>(201),
        Op::post("/networks/{name}/connect")
            .summary("Connect a container to a network")
            .raw(200, "text/plain"),
        Op::post("/networks/{name}/disconnect")
            .summary("Disconnect a container from a network")
            .raw(200, "text/plain"),
        Op::post("/networks/prune")
            .summary("Remove the unused networks")
            .json::<NetworkPruneResponse>(),
        Op::delete("/libpod/networks/{name}")
            .summary("Remove a network")
            .json::<Vec<NetworkRmReport>>(),
        Op::post("/libpod/networks/{name}/update")
            .summary("Add or remove the DNS servers of a network")
            .empty(204),
        Op::get("/libpod/networks/{name}/exists")
            .summary("Whether a network exists")
            .empty(204),
        Op::get("/libpod/networks/json")
            .summary("List networks")
            .json::<Vec<LibpodNetwork>>(),
        Op::get("/libpod/networks/{name}/json")
            .summary("Inspect a network")
            .json::<LibpodNetwork>(),
        Op::get("/libpod/networks/{name}")
            .summary("Inspect a network")
            .json::<LibpodNetwork>(),
        Op::post("/libpod/networks/create")
            .summary("Create a network")
            .json::<LibpodNetwork>(),
        Op::post("/libpod/networks/{name}/connect")
            .summary("Connect a container to a network")
            .raw(200, "text/plain"),
        Op::post("/libpod/networks/{name}/disconnect")
            .summary("Disconnect a container from a network")
            .raw(200, "text/plain"),
        Op::post("/libpod/networks/prune")
            .summary("Remove the unused networks")
            .json::<Vec<NetworkPruneReport>>(),
    ]
}

/// One subnet of a Docker network's IPAM (Docker's `IPAMConfig`).
#[derive(serde::Serialize, JsonSchema)]
#[schemars(rename = "NetworkIPAMConfig")]
struct NetworkIpamConfig {
    /// CIDR, e.g. `10.89.0.0/24`.
    #[serde(rename = "Subnet")]
    subnet: String,
    /// The gateway address, when the subnet has one.
    #[serde(rename = "Gateway", skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

/// A Docker network's address management (Docker's `IPAM`).
#[derive(serde::Serialize, JsonSchema)]
#[schemars(rename = "NetworkIPAM")]
struct NetworkIpam {
    /// Always `default`.
    #[serde(rename = "Driver")]
    driver: String,
    /// Always empty.
    #[serde(rename = "Options")]
    options: BTreeMap<String, String>,
    #[serde(rename = "Config")]
    config: Vec<NetworkIpamConfig>,
}

/// Docker's `ConfigReference`.
#[derive(serde::Serialize, JsonSchema)]
struct NetworkConfigReference {
    /// Always empty.
    #[serde(rename = "Network")]
    network: String,
}

/// A running container on a Docker network (Docker's `EndpointResource`).
#[derive(serde::Serialize, JsonSchema)]
struct NetworkEndpointResource {
    /// The container's name.
    #[serde(rename = "Name")]
    name: String,
    /// Always empty.
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    #[serde(rename = "MacAddress")]
    mac_address: String,
    /// The container's address in CIDR form, empty when unknown.
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    /// Always empty.
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
}

/// Docker's network object (`GET /networks`, `GET /networks/{name}`).
#[derive(serde::Serialize, JsonSchema)]
struct NetworkResource {
    /// The name; the default network shows as `bridge`.
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Id")]
    id: String,
    /// Creation time, RFC 3339 (empty when unknown).
    #[serde(rename = "Created")]
    created: String,
    /// Always `local`.
    #[serde(rename = "Scope")]
    scope: String,
    #[serde(rename = "Driver")]
    driver: String,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: NetworkIpam,
    #[serde(rename = "Internal")]
    internal: bool,
    #[serde(rename = "Attachable")]
    attachable: bool,
    #[serde(rename = "Ingress")]
    ingress: bool,
    #[serde(rename = "ConfigFrom")]
    config_from: NetworkConfigReference,
    #[serde(rename = "ConfigOnly")]
    config_only: bool,
    /// The running containers on the network, by ID.
    #[serde(rename = "Containers")]
    containers: BTreeMap<String, NetworkEndpointResource>,
    /// Driver options.
    #[serde(rename = "Options")]
    options: BTreeMap<String, String>,
    #[serde(rename = "Labels")]
    labels: BTreeMap<String, String>,
}

/// `POST /networks/create`.
#[derive(serde::Serialize, JsonSchema)]
struct NetworkCreateResponse {
    /// The network's ID.
    #[serde(rename = "Id")]
    id: String,
    /// An unrecognized option, or empty.
    #[serde(rename = "Warning")]
    warning: String,
}

/// `POST /networks/prune`.
#[derive(serde::Serialize, JsonSchema)]
struct NetworkPruneResponse {
    /// The names of the removed networks.
    #[serde(rename = "NetworksDeleted")]
    networks_deleted: Vec<String>,
}

/// A range of addresses automatic allocation may use, bounds included (`LeaseRange`).
#[derive(serde::Serialize, JsonSchema)]
struct NetworkLeaseRange {
    /// First address.
    #[serde(skip_serializing_if = "Option::is_none")]
    start_ip: Option<String>,
    /// Last address.
    #[serde(skip_serializing_if = "Option::is_none")]
    end_ip: Option<String>,
}

/// One subnet of a libpod network (`Subnet`).
#[derive(serde::Serialize, JsonSchema)]
struct NetworkSubnet {
    /// CIDR, e.g. `10.88.0.0/16`.
    subnet: String,
    /// The gateway address.
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_range: Option<NetworkLeaseRange>,
}

/// libpod's network object (Podman's `Network`), as netavark stores it.
#[derive(serde::Serialize, JsonSchema)]
struct LibpodNetwork {
    name: String,
    /// 64 hex characters.
    id: String,
    /// `bridge`, `macvlan` or `ipvlan`.
    driver: String,
    /// The bridge name, or the parent interface for macvlan/ipvlan.
    #[serde(skip_serializing_if = "Option::is_none")]
    network_interface: Option<String>,
    /// Creation time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subnets: Option<Vec<NetworkSubnet>>,
    ipv6_enabled: bool,
    internal: bool,
    dns_enabled: bool,
    /// Upstream DNS servers aardvark-dns uses for this network.
    #[serde(skip_serializing_if = "Option::is_none")]
    network_dns_servers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    /// Driver options: `mtu`, `isolate`, `metric`, `mode`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<BTreeMap<String, String>>,
    /// IPAM options (`driver`: `host-local`, `dhcp` or `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ipam_options: Option<BTreeMap<String, String>>,
}

/// A network removed by `DELETE /libpod/networks/{name}`.
#[derive(serde::Serialize, JsonSchema)]
struct NetworkRmReport {
    #[serde(rename = "Name")]
    name: String,
    /// Always `null`.
    #[serde(rename = "Err")]
    err: Option<String>,
}

/// A network removed by `POST /libpod/networks/prune`.
#[derive(serde::Serialize, JsonSchema)]
struct NetworkPruneReport {
    #[serde(rename = "Name")]
    name: String,
    /// Always `null`.
    #[serde(rename = "Error")]
    error: Option<String>,
}
