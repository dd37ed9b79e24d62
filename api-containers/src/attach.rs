//! `POST /containers/{name}/attach` (both trees): the hijacked connection to conmon's attach
//! socket. Compat attach initializes a created or exited container first (so `docker run`
//! can attach before it starts); `logs=true` replays the log; stdin is forwarded with
//! half-close and detach keys; output is framed for non-TTY containers.

use api_core::hijack::{Hijack, HijackIo, MULTIPLEXED_STREAM, RAW_STREAM};
use api_core::stream::{encode_frame, StdStream};
use api_core::{ApiError, ApiPath, ApiResult, ApiVersion, AppState, Query};
use axum::extract::{Extension, State};
use axum::response::Response;
use engine::containers::ContainerStatus;
use engine::oci::attach::OutStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::logs::{read_messages, LineAssembler, LogOptions};

/// Parses Docker's detach keys (`ctrl-p,ctrl-q`, `a`, `ctrl-@`...).
pub(crate) fn parse_detach_keys(s: &str) -> ApiResult<Vec<u8>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c {
                "@" => 0,
                "[" => 27,
                "\\" => 28,
                "]" => 29,
                "^" => 30,
                "_" => 31,
                c if c.len() == 1 && c.as_bytes()[0].is_ascii_alphabetic() => {
                    c.as_bytes()[0].to_ascii_lowercase() - b'a' + 1
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid detach keys {s:?}: invalid argument"
                    )))
                }
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(ApiError::bad_request(format!(
                "invalid detach keys {s:?}: invalid argument"
            )));
        }
    }
    Ok(out)
}

/// `POST /containers/{name}/attach?logs=&stream=&stdin=&stdout=&stderr=&detachKeys=`.
pub(crate) async fn attach(
    State(st): State<AppState>,
    Extension(ver): Extension<ApiVersion>,
    ApiPath(name): ApiPath<String>,
    q: Query,
    hijack: Hijack,
) -> ApiResult<Response> {
    let logs = q.bool_or("logs", false)?;
    let stream = q.bool_or("stream", true)?;
    let want_stdin = q.bool_or("stdin", false)?;
    let mut want_out = q.bool_or("stdout", false)?;
    let mut want_err = q.bool_or("stderr", false)?;
    if !want_out && !want_err && !want_stdin {
        // Podman: no stream chosen means all of them.
        want_out = true;
        want_err = true;
    }
    let detach = match q.string("detachKeys") {
        Some(k) => parse_detach_keys(&k)?,
        None => vec![16, 17],
    };
    let mut rec = st.containers.inspect(&name).await?;
    if stream
        && matches!(
            rec.status,
            ContainerStatus::Configured | ContainerStatus::Exited | ContainerStatus::Stopped
        )
    {
        match st.containers.init(&rec.id).await {
            Ok(r) => rec = r,
            Err(engine::Error::NotModified(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if rec.status == ContainerStatus::Paused && stream {
        return Err(ApiError::conflict(
            "can only attach to created or running containers - currently in state paused: container state improper",
        ));
    }
    let conn = if stream {
        Some(st.containers.attach(&rec.id).await?)
    } else {
        None
    };
    let content_type = stream_content_type(&ver, rec.tty);
    let history = if logs {
        let opts = LogOptions {
            stdout: want_out,
            stderr: want_err,
            timestamps: false,
            since: None,
            until: None,
            tty: rec.tty,
        };
        let (msgs, _) = read_messages(&st.containers.log_path(&rec.id), &opts, None).await;
        let asm = LineAssembler::new(opts);
        msgs.iter()
            .map(|(e, d)| asm.encode(*e, d))
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    let streams = Streams {
        tty: rec.tty,
        stdin: want_stdin,
        stdout: want_out,
        stderr: want_err,
        detach,
    };
    Ok(
        hijack.respond(content_type, move |io: HijackIo| async move {
            pump(io, conn, history, streams, None).await;
        }),
    )
}

/// The content type of a hijacked stream: multiplexed for non-TTY streams from Docker API
/// 1.42 / libpod 4.7 on, raw before (Podman 4.x sent raw even when the payload is framed).
pub(crate) fn stream_content_type(ver: &ApiVersion, tty: bool) -> &'static str {
    let multiplexed = if ver.libpod {
        ver.at_least(4, 7, 0)
    } else {
        ver.at_least(1, 42, 0)
    };
    if multiplexed && !tty {
        MULTIPLEXED_STREAM
    } else {
        RAW_STREAM
    }
}

/// Which streams a hijacked connection carries.
pub(crate) struct Streams {
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Detach key sequence (empty: none).
    pub detach: Vec<u8>,
}

/// Runs before the connection closes (exec: wait for the exit code to be recorded).
pub(crate) type BeforeClose = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Pumps a hijacked connection: `history` first, then conmon's packets out (framed unless a
/// TTY) and the client's bytes in (detach keys scanned, half-close forwarded).
pub(crate) async fn pump(
    io: HijackIo,
    conn: Option<engine::oci::attach::AttachConn>,
    history: Vec<axum::body::Bytes>,
    streams: Streams,
    before_close: Option<BeforeClose>,
) {
    let Streams {
        tty,
        stdin: want_stdin,
        stdout: want_out,
        stderr: want_err,
        detach,
    } = streams;
    let duplex = io.is_duplex();
    let (mut rd, mut wr) = tokio::io::split(io);
    for b in history {
        if wr.write_all(&b).await.is_err() {
            return;
        }
    }
    let _ = wr.flush().await;
    let Some(conn) = conn else {
        let _ = wr.shutdown().await;
        return;
    };
    let conn = std::sync::Arc::new(conn);
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
    let input = if want_stdin && duplex {
        let c = conn.clone();
        Some(tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut matched = 0usize;
            loop {
                let n = match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        c.close_stdin();
                        return;
                    }
                    Ok(n) => n,
                };
                let mut data = &buf[..n];
                if !detach.is_empty() {
                    // Scan for the detach sequence (it may span reads).
                    let mut keep = Vec::with_capacity(n);
                    for &byte in data {
                        if byte == detach[matched] {
                            matched += 1;
                            if matched == detach.len() {
                                let _ = detached_tx.send(());
                                return;
                            }
                        } else {
                            if matched > 0 {
                                keep.extend_from_slice(&detach[..matched]);
                                matched = 0;
                            }
                            if byte == detach[0] {
                                matched = 1;
                            } else {
                                keep.push(byte);
                            }
                        }
                    }
                    if c.send(&keep).await.is_err() {
                        return;
                    }
                    data = &[];
                }
                if !data.is_empty() && c.send(data).await.is_err() {
                    return;
                }
            }
        }))
    } else {
        None
    };
    let mut buf = vec![0u8; 8193];
    let mut detach_armed = true;
    loop {
        tokio::select! {
            d = &mut detached_rx, if detach_armed => {
                // Ok: the detach keys were typed; Err: stdin ended (output goes on).
                if d.is_ok() {
                    break;
                }
                detach_armed = false;
            }
            r = conn.recv(&mut buf) => {
                match r {
                    Ok(Some((stream, n))) => {
                        let is_err = stream == OutStream::Stderr;
                        if (is_err && !want_err) || (!is_err && !want_out) {
                            continue;
                        }
                        let data = &buf[..n];
                        let ok = if tty {
                            wr.write_all(data).await
                        } else {
                            let s = if is_err { StdStream::Stderr } else { StdStream::Stdout };
                            wr.write_all(&encode_frame(s, data)).await
                        };
                        if ok.is_err() {
                            break;
                        }
                        let _ = wr.flush().await;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
    if let Some(t) = input {
        t.abort();
    }
    if let Some(f) = before_close {
        f.await;
    }
    let _ = wr.shutdown().await;
}
