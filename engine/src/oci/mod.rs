//! The OCI runtime (runc by default, crun selectable) driven under conmon, as libpod does:
//! conmon creates the container through the runtime and stays as its monitor (double-forked,
//! so containers outlive the daemon), writes k8s-file logs, the exit code to the exits dir,
//! and offers the attach socket and control FIFO in the bundle.
#![allow(unsafe_code)] // pre_exec fd plumbing for conmon's sync and start pipes

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

pub mod attach;

/// What conmon needs to create one container.
#[derive(Debug, Clone)]
pub struct ConmonSpec {
    pub conmon: PathBuf,
    pub runtime: PathBuf,
    /// The runtime's `--root` (its state dir).
    pub runtime_root: PathBuf,
    pub id: String,
    pub name: String,
    pub bundle: PathBuf,
    pub exit_dir: PathBuf,
    pub persist_dir: PathBuf,
    pub log_path: PathBuf,
    pub log_size_max: Option<i64>,
    pub terminal: bool,
    pub stdin: bool,
    /// Program and arguments conmon runs when the container exits.
    pub exit_command: Vec<String>,
    pub log_level: String,
}

impl ConmonSpec {
    /// conmon's command line.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--api-version".into(),
            "1".into(),
            "-c".into(),
            self.id.clone(),
            "-u".into(),
            self.id.clone(),
            "-r".into(),
            self.runtime.display().to_string(),
            "-b".into(),
            self.bundle.display().to_string(),
            "-p".into(),
            self.bundle.join("pidfile").display().to_string(),
            "-n".into(),
            self.name.clone(),
            "--exit-dir".into(),
            self.exit_dir.display().to_string(),
            "--persist-dir".into(),
            self.persist_dir.display().to_string(),
            "--full-attach".into(),
            "-s".into(),
            "-l".into(),
            format!("k8s-file:{}", self.log_path.display()),
            "--log-level".into(),
            self.log_level.clone(),
            "--syslog".into(),
            "--conmon-pidfile".into(),
            self.bundle.join("conmon.pid").display().to_string(),
            "--runtime-arg".into(),
            "--root".into(),
            "--runtime-arg".into(),
            self.runtime_root.display().to_string(),
        ];
        // cgroupfs, not systemd: drop the `-s` placed above.
        a.retain(|x| x != "-s");
        if let Some(m) = self.log_size_max {
            a.push("--log-size-max".into());
            a.push(m.to_string());
        }
        if self.terminal {
            a.push("-t".into());
        }
        if self.stdin {
            a.push("-i".into());
        }
        if let Some((prog, rest)) = self.exit_command.split_first() {
            a.push("--exit-command".into());
            a.push(prog.clone());
            for r in rest {
                a.push("--exit-command-arg".into());
                a.push(r.clone());
            }
        }
        a
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for conmon", e.into()))
}

/// Spawns conmon with `fds` placed at 3, 4, 5... and named `_OCI_SYNCPIPE`,
/// `_OCI_STARTPIPE`, `_OCI_ATTACHPIPE` in that order, in a session of its own, stderr piped.
pub(crate) fn spawn_conmon(
    conmon: &Path,
    args: &[String],
    cwd: Option<&Path>,
    fds: &[std::os::fd::RawFd],
) -> Result<std::process::Child> {
    const NAMES: [&str; 3] = ["_OCI_SYNCPIPE", "_OCI_STARTPIPE", "_OCI_ATTACHPIPE"];
    let mut cmd = Command::new(conmon);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    for (i, name) in NAMES.iter().enumerate().take(fds.len()) {
        cmd.env(name, (3 + i).to_string());
    }
    let fds = fds.to_vec();
    // SAFETY: only async-signal-safe calls (dup2, setsid) between fork and exec; the fds
    // are open in the parent for the whole spawn.
    unsafe {
        cmd.pre_exec(move || {
            for (i, from) in fds.iter().enumerate() {
                if nix::libc::dup2(*from, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            nix::libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| Error::io(format!("starting {}", conmon.display()), e))
}

/// Starts conmon for a container that has a bundle with `config.json`, lets it run the
/// runtime's `create`, and returns the container's pid (the runtime's `start` is separate).
/// Blocking: call on a blocking thread.
pub fn create_container(spec: &ConmonSpec) -> Result<i32> {
    std::fs::create_dir_all(&spec.exit_dir).map_err(|e| Error::io("creating the exits dir", e))?;
    std::fs::create_dir_all(&spec.persist_dir)
        .map_err(|e| Error::io("creating the persist dir", e))?;
    let (sync_r, sync_w) = pipe()?;
    let (start_r, start_w) = pipe()?;
    let (sync_fd, start_fd) = (sync_w.as_raw_fd(), start_r.as_raw_fd());
    let mut child = spawn_conmon(&spec.conmon, &spec.args(), None, &[sync_fd, start_fd])?;
    drop(sync_w);
    drop(start_r);
    // Let conmon go on (podman moves it into its cgroup first; cgroupfs needs nothing here).
    let mut start = std::fs::File::from(start_w);
    start
        .write_all(b"0")
        .map_err(|e| Error::io("writing conmon's start pipe", e))?;
    drop(start);
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for conmon to daemonize", e))?;
    let mut err_text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err_text);
    }
    if !status.success() {
        return Err(Error::Internal(format!(
            "conmon failed ({status}): {}",
            err_text.trim()
        )));
    }
    let reader = BufReader::new(std::fs::File::from(sync_r));
    for line in reader.lines() {
        let line = line.map_err(|e| Error::io("reading conmon's sync pipe", e))?;
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if let Some(pid) = v["data"].as_i64() {
            if pid < 0 {
                let msg = v["message"].as_str().unwrap_or("the OCI runtime failed");
                return Err(Error::InvalidState(runtime_message(msg)));
            }
            return Ok(pid as i32);
        }
    }
    Err(Error::Internal(format!(
        "conmon ended without reporting the container pid: {}",
        err_text.trim()
    )))
}

/// The runtime's error text without its log-format noise.
fn runtime_message(raw: &str) -> String {
    raw.lines()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["msg"].as_str().map(String::from))
                .or_else(|| (!l.trim().is_empty()).then(|| l.trim().to_string()))
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// Runs the OCI runtime CLI (`runc --root R <args>`), returning stdout.
pub fn runtime(runtime: &Path, root: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(runtime)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| Error::io(format!("running {}", runtime.display()), e))?;
    if !out.status.success() {
        return Err(Error::InvalidState(format!(
            "{} {}: {}",
            runtime.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The exit code conmon recorded for `id`, if the container exited.
pub fn exit_code(exit_dir: &Path, id: &str) -> Option<i32> {
    std::fs::read_to_string(exit_dir.join(id))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::spec::{runtime_spec, NetworkMode, ProcessSpec, RuntimeSpecInput};

    #[test]
    fn conmon_arguments() {
        let s = ConmonSpec {
            conmon: "/usr/bin/conmon".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_root: "/run/podapid/runc".into(),
            id: "abc".into(),
            name: "web".into(),
            bundle: "/b".into(),
            exit_dir: "/x".into(),
            persist_dir: "/p".into(),
            log_path: "/b/ctr.log".into(),
            log_size_max: None,
            terminal: true,
            stdin: true,
            exit_command: vec!["/usr/bin/podapid".into(), "cleanup".into(), "abc".into()],
            log_level: "warning".into(),
        };
        let a = s.args().join(" ");
        assert!(a.contains("-c abc -u abc -r /usr/sbin/runc -b /b -p /b/pidfile -n web"));
        assert!(a.contains("-l k8s-file:/b/ctr.log"));
        assert!(a.contains("--runtime-arg --root --runtime-arg /run/podapid/runc"));
        assert!(a.contains(" -t -i --exit-command /usr/bin/podapid --exit-command-arg cleanup --exit-command-arg abc"));
        assert!(!s.args().contains(&"-s".to_string()));
    }

    fn tool(p: &str) -> Option<PathBuf> {
        Path::new(p).exists().then(|| PathBuf::from(p))
    }

    /// A real container: busybox under runc under conmon, its output in the k8s-file log
    /// and its exit code in the exits dir.
    #[test]
    fn conmon_runs_a_container_to_its_exit_code() {
        let (Some(conmon), Some(runc), Some(busybox)) = (
            tool("/usr/bin/conmon"),
            tool("/usr/sbin/runc").or_else(|| tool("/usr/bin/runc")),
            tool("/bin/busybox"),
        ) else {
            return; // needs the runtime stack that CI installs
        };
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let id = crate::ids::new_id();
        let bundle = t.path().join("bundle");
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy(&busybox, rootfs.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        let spec = runtime_spec(&RuntimeSpecInput {
            process: ProcessSpec {
                args: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "echo out; echo err >&2; exit 7".into(),
                ],
                env: vec!["PATH=/bin".into()],
                cwd: "/".into(),
                ..Default::default()
            },
            rootfs: rootfs.display().to_string(),
            hostname: "t".into(),
            capabilities: vec!["CAP_KILL".into()],
            network: NetworkMode::Host,
            cgroups_path: format!("/podapid_test/{id}"),
            ..Default::default()
        });
        std::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        let runtime_root = t.path().join("runc");
        let c = ConmonSpec {
            conmon,
            runtime: runc.clone(),
            runtime_root: runtime_root.clone(),
            id: id.clone(),
            name: "t".into(),
            bundle: bundle.clone(),
            exit_dir: t.path().join("exits"),
            persist_dir: t.path().join("persist"),
            log_path: bundle.join("ctr.log"),
            log_size_max: None,
            terminal: false,
            stdin: false,
            exit_command: vec![],
            log_level: "warning".into(),
        };
        let pid = create_container(&c).unwrap();
        assert!(pid > 0);
        let state = runtime(&runc, &runtime_root, &["state", &id]).unwrap();
        assert!(state.contains("\"created\""), "{state}");
        runtime(&runc, &runtime_root, &["start", &id]).unwrap();
        let mut code = None;
        for _ in 0..200 {
            code = exit_code(&c.exit_dir, &id);
            if code.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert_eq!(code, Some(7));
        eprintln!("container {id} exited {code:?}");
        let log = std::fs::read_to_string(bundle.join("ctr.log")).unwrap();
        assert!(log.contains(" stdout F out"), "{log}");
        assert!(log.contains(" stderr F err"), "{log}");
        let _ = runtime(&runc, &runtime_root, &["delete", "--force", &id]);
    }
}
