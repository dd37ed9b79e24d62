//! Exec sessions: a process started in a running container through conmon's exec mode
//! (`-e --exec-attach --exec-process-spec`), with its own bundle dir
//! `<container bundle>/<session id>` holding the process spec, the attach socket and the exit
//! file. Sessions live in the `exec_sessions` table (so inspect survives a daemon restart) and
//! go with their container.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::containers::lifecycle::ContainerRecord;
use crate::containers::{spec, ContainerStatus};
use crate::error::{Error, Result};
use crate::oci::attach::AttachConn;
use crate::runtime::Runtime;

/// What an exec is created with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub privileged: bool,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: Option<String>,
}

/// A stored exec session (on-disk record, version 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSession {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    #[serde(default)]
    pub running: bool,
    #[serde(default)]
    pub started: bool,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

fn pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for conmon", e.into()))
}

/// Reads one `{"data": N}` message from a conmon pipe (blocking).
fn read_pipe_data(r: &mut BufReader<std::fs::File>, what: &str) -> Result<i64> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = r
            .read_line(&mut line)
            .map_err(|e| Error::io(format!("reading conmon's {what} pipe"), e))?;
        if n == 0 {
            return Err(Error::Internal(format!(
                "conmon closed its {what} pipe before answering"
            )));
        }
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if let Some(d) = v["data"].as_i64() {
                if d < 0 {
                    let msg = v["message"].as_str().unwrap_or("the OCI runtime failed");
                    return Err(Error::Runtime(msg.trim().to_string()));
                }
                return Ok(d);
            }
        }
    }
}

impl Runtime {
    fn exec_dir(&self, rec: &ContainerRecord, session: &str) -> PathBuf {
        self.ctr_paths(&rec.id).bundle.join(session)
    }

    async fn save_exec(&self, s: &ExecSession) -> Result<()> {
        let json = serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?;
        let (id, cid) = (s.id.clone(), s.container_id.clone());
        self.db()
            .write(move |tx| {
                tx.execute(
                    "INSERT OR REPLACE INTO exec_sessions (id, container_id, data) VALUES (?1, ?2, ?3)",
                    params![id, cid, json],
                )?;
                Ok(())
            })
            .await
    }

    /// Creates an exec session in a running container.
    pub async fn exec_create(&self, name_or_id: &str, cfg: ExecConfig) -> Result<ExecSession> {
        let rec = self.container_record(name_or_id).await?;
        if rec.status != ContainerStatus::Running {
            return Err(Error::InvalidState(format!(
                "container {} is not running, can't exec in it: container state improper",
                rec.id
            )));
        }
        if cfg.cmd.is_empty() {
            return Err(Error::InvalidArg(
                "must provide a command to execute: invalid argument".into(),
            ));
        }
        let s = ExecSession {
            id: crate::ids::new_id(),
            container_id: rec.id.clone(),
            config: cfg,
            running: false,
            started: false,
            pid: 0,
            exit_code: None,
        };
        self.save_exec(&s).await?;
        self.emit_container("exec_create", &rec, &[("execID", s.id.clone())]);
        Ok(s)
    }

    /// An exec session; a running one is refreshed from its exit file first.
    pub async fn exec_inspect(&self, id: &str) -> Result<ExecSession> {
        let key = id.to_string();
        let json: Option<String> = self
            .db()
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT data FROM exec_sessions WHERE id = ?1 OR id LIKE ?1 || '%' LIMIT 1",
                    [&key],
                    |r| r.get(0),
                )
                .optional()?)
            })
            .await?;
        let json = json.ok_or_else(|| Error::NoSuchExecSession(id.to_string()))?;
        let mut s: ExecSession = serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("corrupt exec session: {e}")))?;
        if s.running {
            if let Ok(rec) = self.container_record(&s.container_id).await {
                // conmon names the exit file after the container (`-c`), in the session's exit dir.
                let f = self.exec_dir(&rec, &s.id).join("exit").join(&rec.id);
                if let Some(code) = std::fs::read_to_string(&f)
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok())
                {
                    s.running = false;
                    s.exit_code = Some(code);
                    self.save_exec(&s).await?;
                    self.emit_container("exec_died", &rec, &[("execID", s.id.clone())]);
                } else if !rec.is_running() {
                    s.running = false;
                    s.exit_code = Some(-1);
                    self.save_exec(&s).await?;
                }
            }
        }
        Ok(s)
    }

    /// Waits (up to `limit`) for a started session's exit; its exit code.
    pub async fn exec_wait(&self, id: &str, limit: Duration) -> Result<Option<i32>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.exec_inspect(id).await?;
            if !s.running {
                return Ok(s.exit_code);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts a session. With `attach`, the returned connection carries its streams (the
    /// process starts only after the connection is made, so no output is lost).
    pub async fn exec_start(&self, id: &str, attach: bool) -> Result<Option<AttachConn>> {
        let mut s = self.exec_inspect(id).await?;
        if s.started {
            return Err(Error::InvalidState(format!(
                "exec session {} has already been started: container state improper",
                s.id
            )));
        }
        let rec = self.container_record(&s.container_id).await?;
        if rec.status != ContainerStatus::Running {
            return Err(Error::InvalidState(format!(
                "container {} is not running, can't exec in it: container state improper",
                rec.id
            )));
        }
        let dir = self.exec_dir(&rec, &s.id);
        let bundle = self.ctr_paths(&rec.id).bundle;
        let conf = self.options().conf.clone();
        let runtime = conf.runtime_path().ok_or_else(|| {
            Error::InvalidState(format!("OCI runtime {:?} not found", conf.runtime_name()))
        })?;
        let conmon = conf
            .conmon_path()
            .ok_or_else(|| Error::InvalidState("conmon not found".into()))?;
        let runtime_root = self.options().runroot.join(conf.runtime_name());
        let merged = self.ctr_paths(&rec.id).merged();
        let (rec2, s2) = (rec.clone(), s.clone());
        let setup = tokio::task::spawn_blocking(move || -> Result<ExecSpawn> {
            std::fs::create_dir_all(dir.join("exit"))
                .map_err(|e| Error::io("creating the exec bundle", e))?;
            let process = exec_process(&bundle, &merged, &rec2, &s2.config)?;
            let spec_path = dir.join("process.json");
            std::fs::write(&spec_path, serde_json::to_vec(&process).unwrap_or_default())
                .map_err(|e| Error::io("writing the exec process spec", e))?;
            spawn_exec_conmon(&ExecSpawnArgs {
                conmon,
                runtime,
                runtime_root,
                ctr: &rec2,
                session: &s2,
                dir: &dir,
                spec_path: &spec_path,
                attach,
            })
        })
        .await
        .map_err(|e| Error::Internal(format!("exec: {e}")))??;
        let conn = if attach {
            let sock = self.exec_dir(&rec, &s.id).join("attach");
            Some(AttachConn::connect(&sock)?)
        } else {
            None
        };
        let pid = tokio::task::spawn_blocking(move || setup.finish())
            .await
            .map_err(|e| Error::Internal(format!("exec: {e}")))??;
        s.started = true;
        s.running = true;
        s.pid = pid;
        self.save_exec(&s).await?;
        self.emit_container("exec", &rec, &[("execID", s.id.clone())]);
        Ok(conn)
    }

    /// Resizes a session's TTY.
    pub async fn exec_resize(&self, id: &str, h: u16, w: u16) -> Result<()> {
        let s = self.exec_inspect(id).await?;
        if !s.config.tty || !s.running {
            return Ok(());
        }
        let rec = self.container_record(&s.container_id).await?;
        let dir = self.exec_dir(&rec, &s.id);
        tokio::task::spawn_blocking(move || crate::oci::attach::resize(&dir, h, w))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Removes a session (a running one only with `force`, which kills it).
    pub async fn exec_remove(&self, id: &str, force: bool) -> Result<()> {
        let s = self.exec_inspect(id).await?;
        if s.running {
            if !force {
                return Err(Error::InvalidState(format!(
                    "cannot remove exec session {} as it is running: container state improper",
                    s.id
                )));
            }
            if s.pid > 0 {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(s.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Ok(rec) = self.container_record(&s.container_id).await {
            let _ = tokio::fs::remove_dir_all(self.exec_dir(&rec, &s.id)).await;
        }
        let id2 = s.id.clone();
        self.db()
            .write(move |tx| {
                tx.execute("DELETE FROM exec_sessions WHERE id = ?1", [&id2])?;
                Ok(())
            })
            .await
    }
}

/// The exec's OCI process: the container's process (caps, rlimits, ...) with the exec's
/// command, environment, user, working dir and terminal.
fn exec_process(
    bundle: &Path,
    rootfs: &Path,
    rec: &ContainerRecord,
    cfg: &ExecConfig,
) -> Result<Value> {
    let text = std::fs::read_to_string(bundle.join("config.json"))
        .map_err(|e| Error::io("reading the container's config.json", e))?;
    let spec: Value =
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("config.json: {e}")))?;
    let mut p = spec["process"].clone();
    p["args"] = json!(cfg.cmd);
    p["terminal"] = json!(cfg.tty);
    let mut env = spec::merge_env(&rec.env, &cfg.env);
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    p["env"] = json!(env);
    if !cfg.workdir.is_empty() {
        p["cwd"] = json!(cfg.workdir);
    }
    if !cfg.user.is_empty() {
        let read = |f: &str| std::fs::read_to_string(rootfs.join(f)).unwrap_or_default();
        let (uid, gid, extra) =
            spec::resolve_user(&cfg.user, &read("etc/passwd"), &read("etc/group"))?;
        p["user"] = json!({"uid": uid, "gid": gid});
        if !extra.is_empty() {
            p["user"]["additionalGids"] = json!(extra);
        }
    }
    if cfg.privileged {
        let all = spec::capabilities(&[], &[], &[], true)?;
        p["capabilities"] = json!({"bounding": all, "effective": all, "permitted": all});
    }
    if let Some(o) = p.as_object_mut() {
        o.remove("consoleSize");
    }
    Ok(p)
}

struct ExecSpawnArgs<'a> {
    conmon: PathBuf,
    runtime: PathBuf,
    runtime_root: PathBuf,
    ctr: &'a ContainerRecord,
    session: &'a ExecSession,
    dir: &'a Path,
    spec_path: &'a Path,
    attach: bool,
}

/// conmon started for an exec, waiting for the start message (attach mode).
struct ExecSpawn {
    sync: BufReader<std::fs::File>,
    start: Option<std::fs::File>,
}

impl ExecSpawn {
    /// Lets the process start (attach mode) and returns its pid.
    fn finish(mut self) -> Result<i32> {
        if let Some(mut start) = self.start.take() {
            start
                .write_all(b"0")
                .map_err(|e| Error::io("starting the exec", e))?;
        }
        let pid = read_pipe_data(&mut self.sync, "sync")?;
        Ok(pid as i32)
    }
}

fn spawn_exec_conmon(a: &ExecSpawnArgs<'_>) -> Result<ExecSpawn> {
    let mut args: Vec<String> = vec![
        "--api-version".into(),
        "1".into(),
        "-c".into(),
        a.ctr.id.clone(),
        "-u".into(),
        a.session.id.clone(),
        "-r".into(),
        a.runtime.display().to_string(),
        "-b".into(),
        a.dir.display().to_string(),
        "-p".into(),
        a.dir.join("exec_pid").display().to_string(),
        "-n".into(),
        a.ctr.name.clone(),
        "--exit-dir".into(),
        a.dir.join("exit").display().to_string(),
        "--full-attach".into(),
        "-l".into(),
        "none".into(),
        "--log-level".into(),
        "warning".into(),
        "--syslog".into(),
        "--runtime-arg".into(),
        "--root".into(),
        "--runtime-arg".into(),
        a.runtime_root.display().to_string(),
    ];
    if a.session.config.tty {
        args.push("-t".into());
    }
    if a.session.config.attach_stdin && a.attach {
        args.push("-i".into());
    }
    args.push("-e".into());
    if a.attach {
        args.push("--exec-attach".into());
    }
    args.push("--exec-process-spec".into());
    args.push(a.spec_path.display().to_string());
    let (sync_r, sync_w) = pipe()?;
    let (start_r, start_w) = pipe()?;
    let (attach_r, attach_w) = pipe()?;
    let fds = [
        sync_w.as_raw_fd(),
        start_r.as_raw_fd(),
        attach_w.as_raw_fd(),
    ];
    let mut child = crate::oci::spawn_conmon(&a.conmon, &args, Some(a.dir), &fds)?;
    drop(sync_w);
    drop(start_r);
    drop(attach_w);
    let mut start = std::fs::File::from(start_w);
    start
        .write_all(b"0")
        .map_err(|e| Error::io("writing conmon's start pipe", e))?;
    let status = child
        .wait()
        .map_err(|e| Error::io("waiting for conmon to daemonize", e))?;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        return Err(Error::Internal(format!(
            "conmon failed ({status}): {}",
            err.trim()
        )));
    }
    let sync = BufReader::new(std::fs::File::from(sync_r));
    if a.attach {
        // conmon says when its attach socket is there; the process waits for the second
        // start message, sent once the client is connected.
        let mut ap = BufReader::new(std::fs::File::from(attach_r));
        read_pipe_data(&mut ap, "attach")?;
        Ok(ExecSpawn {
            sync,
            start: Some(start),
        })
    } else {
        drop(attach_r);
        drop(start);
        Ok(ExecSpawn { sync, start: None })
    }
}
