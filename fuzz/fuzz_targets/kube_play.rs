#![no_main]
//! `engine::kube::play`: Kubernetes YAML document sets planned into create requests, the
//! secrets they reference and what `kube down` removes. Volume files stay in their volumes,
//! and `down` names the pods `play` plans.
//! Input: `<YAML> NUL <options, one a line: network=, publish=, ip=, mac=, userns=, no-hosts>`.

use engine::kube::PlayOptions;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (yaml, options) = common::split2(data);
    let yaml = common::text(yaml);
    let mut opts = PlayOptions::default();
    for line in common::text(options).lines() {
        if let Some(v) = line.strip_prefix("network=") {
            opts.networks.push(v.into());
        } else if let Some(v) = line.strip_prefix("publish=") {
            opts.publish_ports.push(v.into());
        } else if let Some(v) = line.strip_prefix("ip=") {
            opts.static_ips.push(v.into());
        } else if let Some(v) = line.strip_prefix("mac=") {
            opts.static_macs.push(v.into());
        } else if let Some(v) = line.strip_prefix("userns=") {
            opts.userns = Some(v.into());
        } else if line == "no-hosts" {
            opts.no_hosts = true;
        }
    }
    let _ = engine::kube::referenced_secrets(&yaml);
    let down = engine::kube::down_targets(&yaml);
    let Ok(plan) = engine::kube::plan(&yaml, &opts) else {
        return;
    };
    for vf in &plan.volume_files {
        assert!(vf.mode <= 0o777);
        for k in vf.files.keys() {
            assert!(
                !k.is_empty() && !k.starts_with('/') && !k.split('/').any(|c| c == ".."),
                "volume file {k:?} leaves volume {:?}",
                vf.volume
            );
        }
    }
    let names: Vec<String> = plan
        .pods
        .iter()
        .map(|p| p.pod.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        down.ok().map(|d| d.pods),
        Some(names),
        "kube down disagrees with play"
    );
});
