//! Container logs (both trees share the handler): the k8s-file log read with `since`,
//! `until`, `tail`, `timestamps`, stream selection, and `follow` (tails the file until the
//! container stops). Multiplexed frames for non-TTY containers, raw bytes for TTY ones.

use std::time::Duration;

use api_core::stream::{encode_frame, StdStream};
use api_core::{ApiError, ApiPath, ApiResult, AppState, Query};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// One k8s-file log line: `<time> <stdout|stderr> <F|P> <text>`.
pub(crate) fn parse_line(l: &str) -> Option<(&str, bool, bool, &str)> {
    let (time, rest) = l.split_once(' ')?;
    let (stream, rest) = rest.split_once(' ')?;
    let (tag, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((time, stream == "stderr", tag == "F", text))
}

/// What to show.
#[derive(Clone)]
pub(crate) struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub timestamps: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub tty: bool,
}

/// Turns complete log lines into output chunks (assembling partial `P` lines).
pub(crate) struct LineAssembler {
    opts: LogOptions,
    partial: Vec<u8>,
    partial_err: bool,
}

impl LineAssembler {
    pub(crate) fn new(opts: LogOptions) -> Self {
        LineAssembler {
            opts,
            partial: Vec::new(),
            partial_err: false,
        }
    }

    /// One line of the log file; returns (is_stderr, bytes) for a finished message.
    pub(crate) fn line(&mut self, l: &str) -> Option<(bool, Vec<u8>)> {
        let (time, is_err, full, body) = parse_line(l)?;
        let t = DateTime::parse_from_rfc3339(time)
            .ok()
            .map(|t| t.with_timezone(&Utc));
        if let (Some(since), Some(t)) = (self.opts.since, t) {
            if t < since {
                return None;
            }
        }
        if let (Some(until), Some(t)) = (self.opts.until, t) {
            if t > until {
                return None;
            }
        }
        if (is_err && !self.opts.stderr) || (!is_err && !self.opts.stdout) {
            return None;
        }
        if self.partial.is_empty() && self.opts.timestamps {
            self.partial.extend_from_slice(time.as_bytes());
            self.partial.push(b' ');
        }
        self.partial.extend_from_slice(body.as_bytes());
        self.partial_err = is_err;
        if full {
            self.partial.push(b'\n');
            return Some((is_err, std::mem::take(&mut self.partial)));
        }
        None
    }

    /// The bytes to send for one message.
    pub(crate) fn encode(&self, is_err: bool, data: &[u8]) -> Bytes {
        if self.opts.tty {
            Bytes::copy_from_slice(data)
        } else {
            encode_frame(
                if is_err {
                    StdStream::Stderr
                } else {
                    StdStream::Stdout
                },
                data,
            )
        }
    }
}

/// Reads the whole log; the messages kept after `tail`.
pub(crate) async fn read_messages(
    path: &std::path::Path,
    opts: &LogOptions,
    tail: Option<usize>,
) -> (Vec<(bool, Vec<u8>)>, u64) {
    let text = tokio::fs::read(path).await.unwrap_or_default();
    let len = text.len() as u64;
    let text = String::from_utf8_lossy(&text);
    let mut asm = LineAssembler::new(opts.clone());
    let mut out: Vec<(bool, Vec<u8>)> = text.lines().filter_map(|l| asm.line(l)).collect();
    if let Some(n) = tail {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    (out, len)
}

/// `GET /containers/{name}/logs` (both trees).
pub(crate) async fn logs(
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    q: Query,
) -> ApiResult<Response> {
    let r = st.containers.inspect(&name).await?;
    let (out, err) = (q.bool_or("stdout", false)?, q.bool_or("stderr", false)?);
    if !out && !err {
        return Err(ApiError::bad_request("you must choose at least one stream"));
    }
    let time = |k: &str| -> ApiResult<Option<DateTime<Utc>>> {
        match q.string(k).filter(|s| !s.is_empty() && s != "0") {
            None => Ok(None),
            // Go's zero time means "not set" (podman's client always sends both).
            Some(s) if s.starts_with("0001-01-01") => Ok(None),
            Some(s) => api_core::time::parse_time_param(k, &s).map(Some),
        }
    };
    let opts = LogOptions {
        stdout: out,
        stderr: err,
        timestamps: q.bool_or("timestamps", false)?,
        since: time("since")?,
        until: time("until")?,
        tty: r.tty,
    };
    let tail: Option<usize> = match q.string("tail").as_deref() {
        None | Some("all") | Some("") => None,
        Some(t) => match t.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => return Err(ApiError::bad_request(format!("invalid tail {t:?}"))),
        },
    };
    let follow = q.bool_or("follow", false)?;
    let path = st.containers.log_path(&r.id);
    let (msgs, offset) = read_messages(&path, &opts, tail).await;
    let asm = LineAssembler::new(opts.clone());
    let first: Vec<Bytes> = msgs.iter().map(|(e, d)| asm.encode(*e, d)).collect();
    let content_type = if r.tty {
        api_core::hijack::RAW_STREAM
    } else {
        api_core::hijack::MULTIPLEXED_STREAM
    };
    let body =
        if follow && (r.is_running() || r.status == engine::containers::ContainerStatus::Created) {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(32);
            let containers = st.containers.clone();
            let id = r.id.clone();
            tokio::spawn(async move {
                for b in first {
                    if tx.send(b).await.is_err() {
                        return;
                    }
                }
                follow_log(containers, id, path, offset, asm, tx).await;
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            });
            Body::from_stream(stream)
        } else {
            let mut all = Vec::new();
            for b in first {
                all.extend_from_slice(&b);
            }
            Body::from(all)
        };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

/// Reads what was appended to the log since `offset` and sends the finished messages;
/// false when the client went away.
async fn send_new(
    path: &std::path::Path,
    offset: &mut u64,
    rest: &mut Vec<u8>,
    asm: &mut LineAssembler,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) -> bool {
    if let Ok(mut f) = tokio::fs::File::open(path).await {
        if f.seek(std::io::SeekFrom::Start(*offset)).await.is_ok() {
            let mut buf = Vec::new();
            if let Ok(n) = f.read_to_end(&mut buf).await {
                *offset += n as u64;
                rest.extend_from_slice(&buf);
            }
        }
    }
    while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = rest.drain(..=pos).collect();
        let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
        if let Some((e, d)) = asm.line(&line) {
            if tx.send(asm.encode(e, &d)).await.is_err() {
                return false;
            }
        }
    }
    true
}

/// Sends new log messages until the container is no longer running.
async fn follow_log(
    containers: std::sync::Arc<dyn engine::containers::ContainerEngine>,
    id: String,
    path: std::path::PathBuf,
    mut offset: u64,
    mut asm: LineAssembler,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut changes = containers.subscribe();
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let running = matches!(
            containers.inspect(&id).await,
            Ok(r) if r.is_running() || r.status == engine::containers::ContainerStatus::Created
        );
        // Read after the state check, so output written before an exit is not lost.
        if !send_new(&path, &mut offset, &mut rest, &mut asm, &tx).await || !running {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                match changes.recv().await {
                    Ok(c) if c.id == id => return,
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        })
        .await;
    }
}
