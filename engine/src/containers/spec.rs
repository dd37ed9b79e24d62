//! From what a user asks for plus the image's config to the OCI runtime `config.json`
//! that runc executes: Docker's command/entrypoint/env/workdir/user merge rules, Podman's
//! default capabilities, mounts, masked and read-only paths, rlimits clamped to what the
//! daemon itself may grant, namespaces by network mode, and the cgroupfs path.
//!
//! Pure functions over plain data: no I/O, so every rule is unit-tested here.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// How the container is networked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Its own network namespace with only loopback.
    None,
    /// The host's network namespace.
    Host,
    /// Another container's (or a pod infra's) namespace, by `/proc/<pid>/ns/net` path.
    Joined(String),
    /// A namespace the engine created (bind-mounted at this path), plumbed by netavark.
    #[default]
    Private,
    /// A namespace at this path (`ns:/run/netns/x`).
    Path(String),
}

/// The user's side of a container's process (already defaulted from the image by
/// [`merge_process`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
}

/// What the user asked for at create time (the parts that shape the process).
#[derive(Debug, Clone, Default)]
pub struct ProcessRequest {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub hostname: String,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    })
}

fn env_key(e: &str) -> &str {
    e.split_once('=').map(|(k, _)| k).unwrap_or(e)
}

/// Merges environment lists: later entries replace earlier ones with the same key.
pub fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in base.iter().chain(over.iter()) {
        let k = env_key(e);
        out.retain(|x| env_key(x) != k);
        out.push(e.clone());
    }
    out
}

/// Docker's rules for the process: an entrypoint given at create time drops the image's
/// `Cmd` (unless a command is also given), a command replaces the image's `Cmd`; the result
/// is entrypoint + cmd. Env: the image's, then `container=podman`, `HOME`, `TERM` for a
/// tty and `HOSTNAME`, then the user's. Workdir defaults to the image's, then `/`.
/// `user` is resolved by `resolve_user` (numeric `uid[:gid]` here; names need the rootfs).
pub fn merge_process(image_config: &Value, req: &ProcessRequest) -> Result<(ProcessSpec, String)> {
    let image_entry = strings(&image_config["Entrypoint"]).unwrap_or_default();
    let image_cmd = strings(&image_config["Cmd"]).unwrap_or_default();
    let (entry, cmd) = match (&req.entrypoint, &req.cmd) {
        (Some(e), Some(c)) => (e.clone(), c.clone()),
        (Some(e), None) => (e.clone(), Vec::new()),
        (None, Some(c)) => (image_entry, c.clone()),
        (None, None) => (image_entry, image_cmd),
    };
    let args: Vec<String> = entry.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(Error::InvalidArg(
            "no command or entrypoint provided, and no CMD or ENTRYPOINT from image".into(),
        ));
    }
    let image_env = strings(&image_config["Env"]).unwrap_or_default();
    let mut defaults = vec!["container=podman".to_string()];
    if req.tty {
        defaults.push("TERM=xterm".into());
    }
    if !req.hostname.is_empty() {
        defaults.push(format!("HOSTNAME={}", req.hostname));
    }
    let mut env = merge_env(&image_env, &defaults);
    if !env.iter().any(|e| env_key(e) == "PATH") {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    let mut env = merge_env(&env, &req.env);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push("HOME=/root".into());
    }
    let cwd = req
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| {
            image_config["WorkingDir"]
                .as_str()
                .map(String::from)
                .filter(|w| !w.is_empty())
        })
        .unwrap_or_else(|| "/".into());
    let user = req
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| image_config["User"].as_str().map(String::from))
        .unwrap_or_default();
    Ok((
        ProcessSpec {
            args,
            env,
            cwd,
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            terminal: req.tty,
        },
        user,
    ))
}

/// Resolves `user[:group]` (names or numbers) with the container's `/etc/passwd` and
/// `/etc/group` contents. Returns uid, gid, and the user's supplementary groups.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<(u32, u32, Vec<u32>)> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let pw: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let gr: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let (uid, name, primary) = match u.parse::<u32>() {
        Ok(n) => {
            let entry = pw.iter().find(|f| f[2].parse::<u32>().ok() == Some(n));
            (
                n,
                entry.map(|f| f[0].to_string()),
                entry.and_then(|f| f[3].parse::<u32>().ok()).unwrap_or(0),
            )
        }
        Err(_) => {
            let f = pw.iter().find(|f| f[0] == u).ok_or_else(|| {
                Error::InvalidArg(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                ))
            })?;
            (
                f[2].parse().unwrap_or(0),
                Some(u.to_string()),
                f[3].parse().unwrap_or(0),
            )
        }
    };
    let gid = match g {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => gr
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    Error::InvalidArg(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        },
    };
    let extra = match &name {
        Some(n) => gr
            .iter()
            .filter(|f| f.get(3).is_some_and(|m| m.split(',').any(|x| x == n)))
            .filter_map(|f| f[2].parse().ok())
            .filter(|x| *x != gid)
            .collect(),
        None => Vec::new(),
    };
    Ok((uid, gid, extra))
}

/// Podman's default capability set, as `CAP_` names.
pub fn capabilities(
    defaults: &[String],
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>> {
    let norm = |c: &str| {
        let c = c.trim().to_ascii_uppercase();
        if c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        }
    };
    if privileged {
        return Ok(ALL_CAPS.iter().map(|c| c.to_string()).collect());
    }
    let mut caps: Vec<String> = defaults.iter().map(|c| norm(c)).collect();
    let drops: Vec<String> = drop.iter().map(|c| norm(c)).collect();
    if drops.iter().any(|d| d == "CAP_ALL") {
        caps.clear();
    } else {
        caps.retain(|c| !drops.contains(c));
    }
    for a in add.iter().map(|c| norm(c)) {
        if a == "CAP_ALL" {
            caps = ALL_CAPS.iter().map(|c| c.to_string()).collect();
            continue;
        }
        if !ALL_CAPS.contains(&a.as_str()) {
            return Err(Error::InvalidArg(format!("unknown capability {a:?}")));
        }
        if !caps.contains(&a) {
            caps.push(a);
        }
    }
    caps.sort();
    Ok(caps)
}

/// Every capability the kernel knows (up to CAP_CHECKPOINT_RESTORE).
pub const ALL_CAPS: &[&str] = &[
    "CAP_AUDIT_CONTROL",
    "CAP_AUDIT_READ",
    "CAP_AUDIT_WRITE",
    "CAP_BLOCK_SUSPEND",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_KILL",
    "CAP_LEASE",
    "CAP_LINUX_IMMUTABLE",
    "CAP_MAC_ADMIN",
    "CAP_MAC_OVERRIDE",
    "CAP_MKNOD",
    "CAP_NET_ADMIN",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_RAW",
    "CAP_PERFMON",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYSLOG",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_CHROOT",
    "CAP_SYS_MODULE",
    "CAP_SYS_NICE",
    "CAP_SYS_PACCT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_WAKE_ALARM",
];

/// An rlimit for the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`...
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// Parses containers.conf / `--ulimit` entries (`nofile=1024:2048`, `nproc=512`) and clamps
/// each to the daemon's own hard limit `max(kind)` (root without CAP_SYS_RESOURCE cannot
/// raise them, and runc would fail with "operation not permitted").
pub fn rlimits(entries: &[String], max: impl Fn(&str) -> Option<u64>) -> Result<Vec<Rlimit>> {
    let mut out: Vec<Rlimit> = Vec::new();
    for e in entries {
        let (name, vals) = e.split_once('=').ok_or_else(|| {
            Error::InvalidArg(format!("invalid ulimit {e:?}: want name=soft[:hard]"))
        })?;
        let parse = |v: &str| -> Result<u64> {
            if v == "-1" || v == "unlimited" {
                Ok(u64::MAX)
            } else {
                v.parse()
                    .map_err(|_| Error::InvalidArg(format!("invalid ulimit value in {e:?}")))
            }
        };
        let (soft, hard) = match vals.split_once(':') {
            Some((s, h)) => (parse(s)?, parse(h)?),
            None => {
                let v = parse(vals)?;
                (v, v)
            }
        };
        if soft > hard {
            return Err(Error::InvalidArg(format!(
                "ulimit {e:?}: soft limit above hard limit"
            )));
        }
        let kind = format!("RLIMIT_{}", name.trim().to_ascii_uppercase());
        let cap = max(&kind).unwrap_or(u64::MAX);
        out.retain(|r| r.kind != kind);
        out.push(Rlimit {
            kind,
            soft: soft.min(cap),
            hard: hard.min(cap),
        });
    }
    Ok(out)
}

/// An extra mount of the runtime spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub destination: String,
    /// `bind`, `tmpfs`...
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Everything that goes into `config.json`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeSpecInput {
    /// Namespaces joined by path (`ipc`, `uts`, `pid`, `cgroup` → `/proc/<pid>/ns/...`).
    pub join_namespaces: BTreeMap<String, String>,
    pub process: ProcessSpec,
    pub rootfs: String,
    pub readonly_rootfs: bool,
    pub hostname: String,
    pub capabilities: Vec<String>,
    pub rlimits: Vec<Rlimit>,
    pub network: NetworkMode,
    pub privileged: bool,
    pub no_new_privileges: bool,
    /// Extra mounts (replacing a default mount at the same destination).
    pub mounts: Vec<MountSpec>,
    pub shm_size: u64,
    pub cgroups_path: String,
    pub sysctls: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `linux.resources` as the runtime spec spells it.
    pub resources: Value,
    pub seccomp: Option<Value>,
    /// Host devices made available.
    pub devices: Vec<crate::containers::config::Device>,
    pub oom_score_adj: i32,
}

const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];
const READONLY: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Builds the runtime spec (`config.json`).
pub fn runtime_spec(i: &RuntimeSpecInput) -> Value {
    let caps = json!(i.capabilities);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", if i.shm_size == 0 { 64 << 20 } else { i.shm_size })]}),
    ];
    for m in &i.mounts {
        mounts.retain(|x| x["destination"] != json!(m.destination));
        mounts.push(json!({"destination": m.destination, "type": m.kind, "source": m.source, "options": m.options}));
    }
    let mut namespaces: Vec<Value> = ["pid", "ipc", "uts", "mount", "cgroup"]
        .iter()
        .map(|kind| match i.join_namespaces.get(*kind) {
            Some(path) => json!({"type": kind, "path": path}),
            None => json!({"type": kind}),
        })
        .collect();
    match &i.network {
        NetworkMode::Host => {}
        NetworkMode::None => namespaces.push(json!({"type": "network"})),
        NetworkMode::Joined(p) | NetworkMode::Path(p) => {
            namespaces.push(json!({"type": "network", "path": p}))
        }
        NetworkMode::Private => namespaces.push(json!({"type": "network"})),
    }
    let mut resources = if i.resources.is_null() {
        json!({})
    } else {
        i.resources.clone()
    };
    let mut devices = Vec::new();
    let mut allow = vec![json!({"allow": false, "access": "rwm"})];
    for d in &i.devices {
        if let Some(info) = device_info(&d.path_on_host) {
            let (kind, major, minor, mode) = info;
            let dest = if d.path_in_container.is_empty() {
                &d.path_on_host
            } else {
                &d.path_in_container
            };
            devices.push(json!({"path": dest, "type": kind, "major": major, "minor": minor, "fileMode": mode, "uid": 0, "gid": 0}));
            let access = if d.permissions.is_empty() {
                "rwm"
            } else {
                d.permissions.as_str()
            };
            allow.push(json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": access}));
        }
    }
    if i.privileged {
        allow = vec![json!({"allow": true, "access": "rwm"})];
    }
    if !i.devices.is_empty() || i.privileged {
        resources["devices"] = json!(allow);
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "cgroupsPath": i.cgroups_path,
        "sysctl": i.sysctls,
        "resources": resources,
    });
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !i.privileged {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
        if let Some(s) = &i.seccomp {
            linux["seccomp"] = s.clone();
        }
    }
    let mut process = json!({
        "terminal": i.process.terminal,
        "user": {"uid": i.process.uid, "gid": i.process.gid},
        "args": i.process.args,
        "env": i.process.env,
        "cwd": i.process.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": i.rlimits.iter().map(|r| json!({"type": r.kind, "soft": r.soft, "hard": r.hard})).collect::<Vec<_>>(),
        "noNewPrivileges": i.no_new_privileges,
        "oomScoreAdj": i.oom_score_adj,
    });
    if !i.process.additional_gids.is_empty() {
        process["user"]["additionalGids"] = json!(i.process.additional_gids);
    }
    json!({
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": i.rootfs, "readonly": i.readonly_rootfs},
        "hostname": i.hostname,
        "mounts": mounts,
        "annotations": i.annotations,
        "linux": linux,
    })
}

/// A host device's type (`c`/`b`), major, minor and mode, if it is a device node.
fn device_info(path: &str) -> Option<(&'static str, u64, u64, u32)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path).ok()?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = md.rdev();
    Some((
        kind,
        nix::sys::stat::major(rdev),
        nix::sys::stat::minor(rdev),
        md.mode() & 0o777,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Value {
        json!({"Entrypoint": ["/entry.sh"], "Cmd": ["serve"], "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/srv", "User": "daemon"})
    }

    #[test]
    fn docker_command_rules() {
        let (p, user) = merge_process(&image(), &ProcessRequest::default()).unwrap();
        assert_eq!(p.args, ["/entry.sh", "serve"]);
        assert_eq!(p.cwd, "/srv");
        assert_eq!(user, "daemon");
        let req = ProcessRequest {
            cmd: Some(vec!["x".into()]),
            ..Default::default()
        };
        assert_eq!(
            merge_process(&image(), &req).unwrap().0.args,
            ["/entry.sh", "x"]
        );
        let req = ProcessRequest {
            entrypoint: Some(vec!["sh".into()]),
            ..Default::default()
        };
        assert_eq!(merge_process(&image(), &req).unwrap().0.args, ["sh"]);
        let req = ProcessRequest {
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec!["echo hi".into()]),
            ..Default::default()
        };
        assert_eq!(
            merge_process(&image(), &req).unwrap().0.args,
            ["sh", "-c", "echo hi"]
        );
        assert!(merge_process(&json!({}), &ProcessRequest::default()).is_err());
    }

    #[test]
    fn env_merges_by_key() {
        let req = ProcessRequest {
            env: vec!["A=2".into(), "B=3".into()],
            tty: true,
            hostname: "box".into(),
            ..Default::default()
        };
        let (p, _) = merge_process(&image(), &req).unwrap();
        assert!(p.env.contains(&"A=2".to_string()));
        assert!(!p.env.contains(&"A=1".to_string()));
        for want in [
            "PATH=/bin",
            "B=3",
            "TERM=xterm",
            "HOSTNAME=box",
            "container=podman",
            "HOME=/root",
        ] {
            assert!(p.env.contains(&want.to_string()), "{want} in {:?}", p.env);
        }
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str =
        "root:x:0:\ndaemon:x:1:\ntty:x:5:daemon\nwheel:x:10:root,daemon\nnogroup:x:65534:\n";

    #[test]
    fn users_resolve_by_name_and_number() {
        assert_eq!(resolve_user("", PASSWD, GROUP).unwrap(), (0, 0, vec![]));
        assert_eq!(
            resolve_user("daemon", PASSWD, GROUP).unwrap(),
            (1, 1, vec![5, 10])
        );
        assert_eq!(
            resolve_user("nobody:wheel", PASSWD, GROUP).unwrap(),
            (65534, 10, vec![])
        );
        assert_eq!(
            resolve_user("1000:1000", PASSWD, GROUP).unwrap(),
            (1000, 1000, vec![])
        );
        assert!(resolve_user("ghost", PASSWD, GROUP).is_err());
        assert!(resolve_user("root:ghosts", PASSWD, GROUP).is_err());
    }

    #[test]
    fn capability_arithmetic() {
        let d = vec![
            "CHOWN".to_string(),
            "KILL".to_string(),
            "NET_RAW".to_string(),
        ];
        let c = capabilities(&d, &["sys_admin".into()], &["net_raw".into()], false).unwrap();
        assert_eq!(c, ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]);
        assert!(capabilities(&d, &[], &["ALL".into()], false)
            .unwrap()
            .is_empty());
        assert_eq!(
            capabilities(&d, &[], &[], true).unwrap().len(),
            ALL_CAPS.len()
        );
        assert!(capabilities(&d, &["BOGUS".into()], &[], false).is_err());
    }

    #[test]
    fn rlimits_are_clamped_to_what_the_daemon_holds() {
        let r = rlimits(
            &["nofile=1048576:1048576".into(), "nproc=100".into()],
            |k| (k == "RLIMIT_NOFILE").then_some(20000),
        )
        .unwrap();
        assert_eq!(
            r[0],
            Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 20000,
                hard: 20000
            }
        );
        assert_eq!(
            r[1],
            Rlimit {
                kind: "RLIMIT_NPROC".into(),
                soft: 100,
                hard: 100
            }
        );
        assert!(rlimits(&["nofile=2:1".into()], |_| None).is_err());
        assert!(rlimits(&["nofile".into()], |_| None).is_err());
    }

    #[test]
    fn spec_shape_by_network_mode_and_privilege() {
        let mut i = RuntimeSpecInput {
            process: ProcessSpec {
                args: vec!["true".into()],
                cwd: "/".into(),
                ..Default::default()
            },
            rootfs: "/r".into(),
            hostname: "h".into(),
            network: NetworkMode::Host,
            cgroups_path: "/libpod_parent/libpod-x".into(),
            mounts: vec![MountSpec {
                destination: "/dev/shm".into(),
                kind: "bind".into(),
                source: "/host/shm".into(),
                options: vec!["bind".into()],
            }],
            ..Default::default()
        };
        let s = runtime_spec(&i);
        let ns: Vec<&str> = s["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(!ns.contains(&"network"));
        assert_eq!(s["root"]["path"], "/r");
        assert!(s["linux"]["maskedPaths"].is_array());
        let shm: Vec<&Value> = s["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] == "/dev/shm")
            .collect();
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0]["source"], "/host/shm");
        i.network = NetworkMode::Joined("/proc/7/ns/net".into());
        i.privileged = true;
        let s = runtime_spec(&i);
        assert!(s["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["path"] == "/proc/7/ns/net"));
        assert!(s["linux"].get("maskedPaths").is_none());
    }
}
