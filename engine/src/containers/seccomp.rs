//! Podman's default seccomp filter: the containers-common profile
//! (`/usr/share/containers/seccomp.json`, Docker's profile format with `archMap`, `includes`
//! and `excludes`) turned into the runtime spec's `linux.seccomp` for one container.
//!
//! The conversion follows containers/common's rules: the architectures are the native one and
//! its sub-architectures from `archMap` (or a plain `architectures` list); a syscall rule is
//! kept only when the container's capabilities, the native architecture and the running
//! kernel satisfy its `includes` and do not hit its `excludes`; the kept rules keep their
//! names, action, `errnoRet` and argument matches and lose everything else.

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The profile file as containers-common and Docker write it. Every field may be missing or
/// `null` (Go's decoder accepts both); unknown fields (`comment`, `errno`, ...) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: Option<String>,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<ArchMapEntry>>,
    syscalls: Option<Vec<Rule>>,
    flags: Option<Vec<String>>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
}

/// One `archMap` entry: a native architecture and the ones its kernel also runs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMapEntry {
    architecture: Option<String>,
    sub_architectures: Option<Vec<String>>,
}

/// One syscall rule of the profile.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    name: Option<String>,
    names: Option<Vec<String>>,
    action: Option<String>,
    errno_ret: Option<u32>,
    args: Option<Vec<Arg>>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

/// An argument match; copied as is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: Option<u64>,
    value_two: Option<u64>,
    op: Option<String>,
}

/// The condition of a rule (`includes`: all must hold; `excludes`: any drops the rule).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// Converts a containers-common/Docker seccomp profile into the runtime spec's
/// `linux.seccomp` object for a container with `effective_caps` (`CAP_` names) on the
/// architecture `arch` (as [`std::env::consts::ARCH`] spells it) and kernel
/// `(major, minor)` (see [`kernel_version`]).
///
/// Fails with [`Error::InvalidArg`] when the text is not a profile (bad JSON, wrong types,
/// both `architectures` and `archMap`, a rule with both `name` and `names` or without an
/// action, an unparseable `minKernel`, no `defaultAction`).
pub fn oci_profile(
    profile_json: &str,
    effective_caps: &[String],
    arch: &str,
    kernel: (u32, u32),
) -> Result<Value> {
    convert(profile_json, effective_caps, arch, kernel)?.ok_or_else(|| {
        Error::InvalidArg("seccomp profile has neither a defaultAction nor syscalls".into())
    })
}

/// The running kernel's `(major, minor)` from `/proc/sys/kernel/osrelease`
/// (`6.1.0-18-amd64` → `(6, 1)`); `(0, 0)` when it cannot be read or parsed, which makes
/// every `minKernel` rule inapplicable.
pub fn kernel_version() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|s| parse_kernel_release(&s))
        .unwrap_or((0, 0))
}

/// The `linux.seccomp` object for a container with `effective_caps` from the profile file
/// at `path` (containers.conf's `seccomp_profile`), for this machine's architecture and
/// kernel. `None` (no filter) when the path is empty or `unconfined`, the file does not
/// exist, or the profile disables seccomp (no default action, no rules); a file that cannot
/// be read or converted is logged as a warning and also gives `None`.
pub fn default_profile(path: &Path, effective_caps: &[String]) -> Option<Value> {
    if path.as_os_str().is_empty() || path == Path::new("unconfined") {
        return None;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "no seccomp profile; containers run unconfined");
            return None;
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "reading the seccomp profile; containers run unconfined");
            return None;
        }
    };
    match convert(
        &text,
        effective_caps,
        std::env::consts::ARCH,
        kernel_version(),
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "converting the seccomp profile; containers run unconfined");
            None
        }
    }
}

/// The conversion; `Ok(None)` when the profile disables seccomp (no default action and no
/// rules, as containers/common reads it).
fn convert(
    profile_json: &str,
    effective_caps: &[String],
    arch: &str,
    kernel: (u32, u32),
) -> Result<Option<Value>> {
    let profile: Profile = serde_json::from_str(profile_json)
        .map_err(|e| Error::InvalidArg(format!("decoding seccomp profile failed: {e}")))?;
    let rules = profile.syscalls.unwrap_or_default();
    let default_action = profile.default_action.unwrap_or_default();
    if default_action.is_empty() {
        if rules.is_empty() {
            return Ok(None);
        }
        return Err(Error::InvalidArg(
            "seccomp profile has syscalls but no defaultAction".into(),
        ));
    }

    let native = profile_arch_name(arch);
    let caps: Vec<String> = effective_caps.iter().map(|c| norm_cap(c)).collect();

    let mut out = Map::new();
    out.insert("defaultAction".into(), json!(default_action));
    if let Some(e) = profile.default_errno_ret {
        out.insert("defaultErrnoRet".into(), json!(e));
    }
    let architectures = architectures(
        profile.architectures.unwrap_or_default(),
        profile.arch_map.unwrap_or_default(),
        native,
    )?;
    if !architectures.is_empty() {
        out.insert("architectures".into(), json!(architectures));
    }
    if let Some(flags) = profile.flags.filter(|f| !f.is_empty()) {
        out.insert("flags".into(), json!(flags));
    }
    if let Some(p) = profile.listener_path.filter(|p| !p.is_empty()) {
        out.insert("listenerPath".into(), json!(p));
    }
    if let Some(m) = profile.listener_metadata.filter(|m| !m.is_empty()) {
        out.insert("listenerMetadata".into(), json!(m));
    }

    let mut syscalls = Vec::new();
    for (i, rule) in rules.into_iter().enumerate() {
        let includes = rule.includes.unwrap_or_default();
        let excludes = rule.excludes.unwrap_or_default();
        if !applies(&includes, &excludes, &caps, native, kernel)? {
            continue;
        }
        let names = match (rule.name.filter(|n| !n.is_empty()), rule.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(Error::InvalidArg(format!(
                    "seccomp profile: syscall rule {i} has both 'name' and 'names', use either 'name' or 'names'"
                )));
            }
            (Some(name), _) => vec![name],
            (None, Some(names)) if !names.is_empty() => names,
            // Nothing to match: containers/common skips such a rule too.
            _ => continue,
        };
        let action = rule.action.unwrap_or_default();
        if action.is_empty() {
            return Err(Error::InvalidArg(format!(
                "seccomp profile: syscall rule {i} ({}) has no action",
                names.join(",")
            )));
        }
        let mut call = Map::new();
        call.insert("names".into(), json!(names));
        call.insert("action".into(), json!(action));
        if let Some(e) = rule.errno_ret {
            call.insert("errnoRet".into(), json!(e));
        }
        let args: Vec<Value> = rule
            .args
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                json!({
                    "index": a.index,
                    "value": a.value.unwrap_or(0),
                    "valueTwo": a.value_two.unwrap_or(0),
                    "op": a.op.unwrap_or_default(),
                })
            })
            .collect();
        if !args.is_empty() {
            call.insert("args".into(), Value::Array(args));
        }
        syscalls.push(Value::Object(call));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    Ok(Some(Value::Object(out)))
}

/// The `architectures` of the result: a plain list as given, else the `archMap` entry of the
/// native architecture with its sub-architectures, else none (the runtime then filters the
/// native architecture only).
fn architectures(
    plain: Vec<String>,
    arch_map: Vec<ArchMapEntry>,
    native: &str,
) -> Result<Vec<String>> {
    if !plain.is_empty() && !arch_map.is_empty() {
        return Err(Error::InvalidArg(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into(),
        ));
    }
    if !plain.is_empty() {
        return Ok(plain);
    }
    let Some(scmp) = scmp_arch(native) else {
        return Ok(Vec::new());
    };
    Ok(arch_map
        .into_iter()
        .find(|e| e.architecture.as_deref() == Some(scmp))
        .map(|e| {
            let mut v = vec![scmp.to_string()];
            v.extend(e.sub_architectures.unwrap_or_default());
            v
        })
        .unwrap_or_default())
}

/// Whether a rule applies to this container: all `includes` hold and no `excludes` matches.
fn applies(
    includes: &Filter,
    excludes: &Filter,
    caps: &[String],
    native: &str,
    kernel: (u32, u32),
) -> Result<bool> {
    let has_cap = |c: &String| caps.contains(&norm_cap(c));
    let is_native = |a: &String| a == native;

    if let Some(arches) = &excludes.arches {
        if arches.iter().any(is_native) {
            return Ok(false);
        }
    }
    if let Some(ex_caps) = &excludes.caps {
        if ex_caps.iter().any(has_cap) {
            return Ok(false);
        }
    }
    if let Some(min) = non_empty(&excludes.min_kernel) {
        if kernel >= parse_min_kernel(min)? {
            return Ok(false);
        }
    }
    if let Some(arches) = &includes.arches {
        if !arches.is_empty() && !arches.iter().any(is_native) {
            return Ok(false);
        }
    }
    if let Some(in_caps) = &includes.caps {
        if !in_caps.iter().all(has_cap) {
            return Ok(false);
        }
    }
    if let Some(min) = non_empty(&includes.min_kernel) {
        if kernel < parse_min_kernel(min)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A capability as `CAP_X` in upper case, however the profile or the caller spelt it.
fn norm_cap(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// `minKernel` (`"4.8"`; a patch level is ignored) as `(major, minor)`.
fn parse_min_kernel(s: &str) -> Result<(u32, u32)> {
    let bad = || Error::InvalidArg(format!("seccomp profile: invalid minKernel {s:?}"));
    let mut parts = s.split('.');
    let major = parts
        .next()
        .and_then(|p| p.parse::<u32>().ok())
        .ok_or_else(bad)?;
    let minor = match parts.next() {
        Some(p) => p.parse::<u32>().map_err(|_| bad())?,
        None => 0,
    };
    Ok((major, minor))
}

/// `(major, minor)` of a kernel release string (`6.1.0-18-amd64`, `5.15.0+`, `6.8`).
fn parse_kernel_release(s: &str) -> Option<(u32, u32)> {
    fn leading_number(s: &str) -> Option<(u32, &str)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        Some((s[..end].parse().ok()?, &s[end..]))
    }
    let (major, rest) = leading_number(s.trim())?;
    let minor = rest
        .strip_prefix('.')
        .and_then(leading_number)
        .map(|(m, _)| m)
        .unwrap_or(0);
    Some((major, minor))
}

/// The native architecture as the profile's `arches` spell it (libseccomp's names) from
/// Rust's `std::env::consts::ARCH`; unknown architectures pass through unchanged. Byte order
/// (ppc64 vs ppc64le, mips vs mipsel) is the build target's.
fn profile_arch_name(arch: &str) -> &str {
    let little = cfg!(target_endian = "little");
    match arch {
        "x86_64" if cfg!(target_pointer_width = "32") => "x32",
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if little => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" | "mips64r6" if little => "mipsel64",
        "mips64" | "mips64r6" => "mips64",
        "mips" | "mips32r6" if little => "mipsel",
        "mips" | "mips32r6" => "mips",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The `SCMP_ARCH_*` name of an architecture spelt the profile's way.
fn scmp_arch(profile_arch: &str) -> Option<&'static str> {
    Some(match profile_arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "x86" => "SCMP_ARCH_X86",
        "x32" => "SCMP_ARCH_X32",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc" => "SCMP_ARCH_PPC",
        "s390x" => "SCMP_ARCH_S390X",
        "s390" => "SCMP_ARCH_S390",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "mips" => "SCMP_ARCH_MIPS",
        "mipsel" => "SCMP_ARCH_MIPSEL",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "defaultErrno": "ENOSYS",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": "",
             "includes": {}, "excludes": {}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 131080, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
             "comment": "", "includes": {}, "excludes": {}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "args": null,
             "includes": {"arches": ["amd64", "x32"]}, "excludes": {}},
            {"names": ["breakpoint"], "action": "SCMP_ACT_ALLOW",
             "includes": {"arches": ["arm", "arm64"]}},
            {"names": ["s390_only"], "action": "SCMP_ACT_ALLOW",
             "excludes": {"arches": ["amd64"]}},
            {"names": ["bpf"], "action": "SCMP_ACT_ALLOW",
             "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}},
            {"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "errno": "EPERM",
             "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["both_caps"], "action": "SCMP_ACT_ALLOW",
             "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"]}},
            {"names": ["new_call"], "action": "SCMP_ACT_ALLOW",
             "includes": {"minKernel": "5.8"}},
            {"name": "single", "action": "SCMP_ACT_LOG"}
        ],
        "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    }"#;

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    /// Every (syscall name, action) pair of the converted rules.
    fn rule_names(v: &Value) -> Vec<(String, String)> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let action = r["action"].as_str().unwrap().to_string();
                r["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |n| (n.as_str().unwrap().to_string(), action.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn has(v: &Value, name: &str, action: &str) -> bool {
        rule_names(v).iter().any(|(n, a)| n == name && a == action)
    }

    #[test]
    fn amd64_without_sys_admin() {
        let v = oci_profile(SAMPLE, &caps(&["CAP_SYS_CHROOT"]), "x86_64", (6, 1)).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 38);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert_eq!(v["flags"], json!(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]));
        assert!(has(&v, "read", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "arch_prctl", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "breakpoint", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "s390_only", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "bpf", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "bpf", "SCMP_ACT_ERRNO"));
        assert!(!has(&v, "both_caps", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "new_call", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "single", "SCMP_ACT_LOG"));

        let rules = v["syscalls"].as_array().unwrap();
        // Only kept fields; args and errnoRet only where present.
        let read = &rules[0];
        assert_eq!(
            read,
            &json!({"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"})
        );
        let personality = &rules[1];
        assert_eq!(
            personality["args"],
            json!([{"index": 0, "value": 131080, "valueTwo": 0, "op": "SCMP_CMP_EQ"}])
        );
        let bpf_deny = rules.iter().find(|r| r["names"] == json!(["bpf"])).unwrap();
        assert_eq!(bpf_deny["errnoRet"], 1);
        assert!(bpf_deny.get("args").is_none());
        assert!(bpf_deny.get("excludes").is_none());
        assert!(bpf_deny.get("errno").is_none());
    }

    #[test]
    fn caps_include_and_exclude() {
        let v = oci_profile(
            SAMPLE,
            &caps(&["CAP_SYS_ADMIN", "CAP_SYS_CHROOT"]),
            "x86_64",
            (6, 1),
        )
        .unwrap();
        assert!(has(&v, "bpf", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "bpf", "SCMP_ACT_ERRNO"));
        assert!(has(&v, "both_caps", "SCMP_ACT_ALLOW"));

        // Only one of the two included caps: dropped. Spelling without CAP_ still counts.
        let v = oci_profile(SAMPLE, &caps(&["sys_admin"]), "x86_64", (6, 1)).unwrap();
        assert!(has(&v, "bpf", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "both_caps", "SCMP_ACT_ALLOW"));
    }

    #[test]
    fn arches_and_kernel() {
        let v = oci_profile(SAMPLE, &[], "aarch64", (5, 7)).unwrap();
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert!(has(&v, "breakpoint", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "arch_prctl", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "s390_only", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "new_call", "SCMP_ACT_ALLOW"));

        let v = oci_profile(SAMPLE, &[], "aarch64", (5, 8)).unwrap();
        assert!(has(&v, "new_call", "SCMP_ACT_ALLOW"));
        let v = oci_profile(SAMPLE, &[], "aarch64", (0, 0)).unwrap();
        assert!(!has(&v, "new_call", "SCMP_ACT_ALLOW"));

        // No archMap entry for the native arch: no architectures list at all.
        let v = oci_profile(SAMPLE, &[], "riscv64", (6, 1)).unwrap();
        assert!(v.get("architectures").is_none());
    }

    #[test]
    fn plain_architectures_and_errors() {
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                    "syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO",
                                 "excludes":{"minKernel":"4.0"}}]}"#;
        let v = oci_profile(p, &[], "x86_64", (3, 10)).unwrap();
        assert_eq!(v["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert!(v.get("defaultErrnoRet").is_none());
        assert!(v.get("flags").is_none());
        assert!(has(&v, "kill", "SCMP_ACT_ERRNO"));
        let v = oci_profile(p, &[], "x86_64", (4, 0)).unwrap();
        assert_eq!(v["syscalls"], json!([]));

        for bad in [
            "not json",
            "[]",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64"}],"syscalls":[]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"]}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"x"}}]}"#,
            r#"{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1,"syscalls":[]}"#,
            "{}",
        ] {
            assert!(
                matches!(
                    oci_profile(bad, &[], "x86_64", (6, 1)),
                    Err(Error::InvalidArg(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn kernel_release_parsing() {
        assert_eq!(parse_kernel_release("6.1.0-18-amd64\n"), Some((6, 1)));
        assert_eq!(parse_kernel_release("5.15.0+"), Some((5, 15)));
        assert_eq!(parse_kernel_release("6.18.44-fc-v857"), Some((6, 18)));
        assert_eq!(parse_kernel_release("4"), Some((4, 0)));
        assert_eq!(parse_kernel_release("garbage"), None);
        assert_eq!(parse_min_kernel("4.8").unwrap(), (4, 8));
        assert_eq!(parse_min_kernel("5").unwrap(), (5, 0));
        let (major, _) = kernel_version();
        if Path::new("/proc/sys/kernel/osrelease").exists() {
            assert!(major >= 2);
        }
    }

    #[test]
    fn default_profile_paths() {
        assert!(default_profile(Path::new(""), &[]).is_none());
        assert!(default_profile(Path::new("unconfined"), &[]).is_none());
        assert!(default_profile(Path::new("/nonexistent/seccomp.json"), &[]).is_none());
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{").unwrap();
        assert!(default_profile(&broken, &[]).is_none());
        let disabled = dir.path().join("disabled.json");
        std::fs::write(&disabled, "{}").unwrap();
        assert!(default_profile(&disabled, &[]).is_none());
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, SAMPLE).unwrap();
        let v = default_profile(&ok, &[]).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
    }

    #[test]
    fn real_containers_common_profile() {
        let path = Path::new("/usr/share/containers/seccomp.json");
        if !path.exists() {
            return;
        }
        let podman_caps = caps(&[
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ]);
        let v = default_profile(path, &podman_caps).unwrap();
        let rules = v["syscalls"].as_array().unwrap();
        assert!(!rules.is_empty());
        assert!(has(&v, "read", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "chroot", "SCMP_ACT_ALLOW"));
        // CAP_SYS_ADMIN-only rules are gone; their denials are kept.
        assert!(!has(&v, "bpf", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "perf_event_open", "SCMP_ACT_ALLOW"));
        assert!(has(&v, "bpf", "SCMP_ACT_ERRNO"));
        assert!(!has(&v, "init_module", "SCMP_ACT_ALLOW"));
        for r in rules {
            let obj = r.as_object().unwrap();
            assert!(obj
                .keys()
                .all(|k| ["names", "action", "errnoRet", "args"].contains(&k.as_str())));
        }

        let admin = [podman_caps.clone(), caps(&["CAP_SYS_ADMIN"])].concat();
        let v = default_profile(path, &admin).unwrap();
        assert!(has(&v, "bpf", "SCMP_ACT_ALLOW"));
        assert!(!has(&v, "bpf", "SCMP_ACT_ERRNO"));
    }
}
