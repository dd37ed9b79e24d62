//! Leniency for request targets: Go's HTTP server accepts bytes such as `"`, `{`, `}`, `<`,
//! `>`, `\`, `^`, `` ` `` and `|` raw in a request target (curl and Podman's own tests send
//! `?filters={"label":["x"]}` unencoded), while hyper's URI parser rejects them with a bare
//! 400. This reader sits between the socket and hyper and percent-encodes such bytes in each
//! request line, following HTTP/1.1 framing (Content-Length, chunked bodies) so bodies pass
//! untouched, and stepping aside entirely once a connection is upgraded (attach/exec).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request line.
    Line,
    /// Reading header lines.
    Headers,
    /// Passing `n` body bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Passing chunk data plus its CRLF.
    ChunkData(u64),
    /// Reading trailer lines after the last chunk.
    Trailers,
    /// Upgraded or unparseable: pass everything.
    Raw,
}

/// The framing tracker (pure, unit-tested), fed with bytes, producing rewritten bytes.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
    line: Vec<u8>,
    content_length: u64,
    chunked: bool,
    upgrade: bool,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter {
            state: State::Line,
            line: Vec::new(),
            content_length: 0,
            chunked: false,
            upgrade: false,
        }
    }
}

fn needs_escape(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'{' | b'}' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'|'
    )
}

fn fix_request_line(line: &[u8], out: &mut Vec<u8>) {
    // METHOD SP TARGET SP VERSION CRLF: only the target is touched.
    let first = line.iter().position(|&b| b == b' ');
    let last = line.iter().rposition(|&b| b == b' ');
    match (first, last) {
        (Some(f), Some(l)) if l > f => {
            out.extend_from_slice(&line[..=f]);
            for &b in &line[f + 1..l] {
                if needs_escape(b) {
                    out.extend_from_slice(format!("%{b:02X}").as_bytes());
                } else {
                    out.push(b);
                }
            }
            out.extend_from_slice(&line[l..]);
        }
        _ => out.extend_from_slice(line),
    }
}

impl Rewriter {
    /// Feeds bytes read from the client; appends what hyper should see to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match self.state {
                State::Raw => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(n) | State::ChunkData(n) => {
                    let take = (n.min(input.len() as u64)) as usize;
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let left = n - take as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => State::Line,
                        (State::Body(_), l) => State::Body(l),
                        (_, 0) => State::ChunkSize,
                        (_, l) => State::ChunkData(l),
                    };
                }
                State::Line | State::Headers | State::ChunkSize | State::Trailers => {
                    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(input);
                        if self.line.len() > 1 << 20 {
                            // Not HTTP as we know it: let hyper deal with it.
                            out.append(&mut self.line);
                            self.state = State::Raw;
                        }
                        return;
                    };
                    self.line.extend_from_slice(&input[..=nl]);
                    input = &input[nl + 1..];
                    let line = std::mem::take(&mut self.line);
                    self.on_line(&line, out);
                }
            }
        }
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        match self.state {
            State::Line => {
                if trimmed.is_empty() {
                    // Stray CRLF between requests.
                    out.extend_from_slice(line);
                    return;
                }
                fix_request_line(line, out);
                self.content_length = 0;
                self.chunked = false;
                self.upgrade = false;
                self.state = State::Headers;
            }
            State::Headers => {
                out.extend_from_slice(line);
                if trimmed.is_empty() {
                    self.state = if self.upgrade {
                        State::Raw
                    } else if self.chunked {
                        State::ChunkSize
                    } else if self.content_length > 0 {
                        State::Body(self.content_length)
                    } else {
                        State::Line
                    };
                    return;
                }
                if let Some((k, v)) = trimmed.split_once(':') {
                    let (k, v) = (k.trim(), v.trim());
                    if k.eq_ignore_ascii_case("content-length") {
                        self.content_length = v.parse().unwrap_or(0);
                    } else if k.eq_ignore_ascii_case("transfer-encoding") {
                        self.chunked = v.to_ascii_lowercase().contains("chunked");
                    } else if k.eq_ignore_ascii_case("upgrade") {
                        self.upgrade = true;
                    }
                }
            }
            State::ChunkSize => {
                out.extend_from_slice(line);
                let size = trimmed.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => self.state = State::Trailers,
                    // Chunk data is followed by CRLF, passed along with it.
                    Ok(n) => self.state = State::ChunkData(n.saturating_add(2)),
                    Err(_) => self.state = State::Raw,
                }
            }
            State::Trailers => {
                out.extend_from_slice(line);
                if trimmed.is_empty() {
                    self.state = State::Line;
                }
            }
            _ => out.extend_from_slice(line),
        }
    }
}

/// An IO wrapper applying [`Rewriter`] to what is read.
#[derive(Debug)]
pub struct LenientIo<T> {
    inner: T,
    rw: Rewriter,
    pending: Vec<u8>,
    pos: usize,
}

impl<T> LenientIo<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        LenientIo {
            inner,
            rw: Rewriter::default(),
            pending: Vec::new(),
            pos: 0,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LenientIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.pending.len() {
                let n = (this.pending.len() - this.pos).min(buf.remaining());
                buf.put_slice(&this.pending[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.pending.len() {
                    this.pending.clear();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.rw.state == State::Raw && this.rw.line.is_empty() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut tmp = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if got.is_empty() {
                        // EOF: flush a partial line as is.
                        let mut rest = std::mem::take(&mut this.rw.line);
                        if rest.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
                        this.pending.append(&mut rest);
                        continue;
                    }
                    let mut out = Vec::with_capacity(got.len() + 16);
                    this.rw.feed(got, &mut out);
                    this.pending = out;
                    this.pos = 0;
                    if this.pending.is_empty() {
                        continue;
                    }
                }
            }
        }
    }
}

crate::macros::forward_async_write!(LenientIo<T>, T);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> String {
        let mut rw = Rewriter::default();
        let mut out = Vec::new();
        for c in chunks {
            rw.feed(c, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn request_targets_are_escaped_and_bodies_are_not() {
        let req = b"POST /x?f={\"a\":[1]} HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"b\":2}GET /y?g=\"z\" HTTP/1.1\r\n\r\n";
        let out = run(&[req]);
        assert_eq!(
            out,
            "POST /x?f=%7B%22a%22:[1]%7D HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"b\":2}GET /y?g=%22z%22 HTTP/1.1\r\n\r\n"
        );
        // The same, split at every byte.
        let pieces: Vec<&[u8]> = req.chunks(1).collect();
        assert_eq!(run(&pieces), out);
    }

    #[test]
    fn chunked_bodies_pass_untouched() {
        let req = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"x\"}\r\n0\r\n\r\nGET /b?{ HTTP/1.1\r\n\r\n";
        assert_eq!(
            run(&[req]),
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"x\"}\r\n0\r\n\r\nGET /b?%7B HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn upgraded_connections_are_raw() {
        let req = b"POST /attach HTTP/1.1\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\nGET {\"raw\" HTTP/1.1\r\n";
        assert!(run(&[req]).ends_with("\r\n\r\nGET {\"raw\" HTTP/1.1\r\n"));
    }
}
