//! HTTP/1.1 request framing on the harness side of the proxy: bounded heads (`httparse`),
//! `Content-Length` and chunked bodies, refusal of ambiguous framing, and response writing.
//!
//! One [`ClientConn`] per accepted connection keeps the bytes it has read but not yet used,
//! so pipelined requests are served in order.

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The most header fields any request may carry (the parse array lives on the stack).
pub const MAX_HEADERS: usize = 128;

/// Bounds applied to every request the proxy reads.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request head (request line plus headers) accepted; larger → 431. The
    /// upstream client writes a head through a 32 KiB buffer, so no larger head could be
    /// forwarded anyway.
    pub max_head_bytes: usize,
    /// Largest number of header fields accepted (at most [`MAX_HEADERS`]); more → 431.
    pub max_headers: usize,
    /// Largest request body buffered for replay; larger → 413.
    pub max_body_bytes: usize,
    /// Time allowed to receive a whole head once its first byte arrived (slowloris bound).
    pub head_timeout: Duration,
    /// Time a new connection has, from its acceptance, to complete its first request head
    /// (and its TLS handshake on the TLS side): until it shows the session secret it may be
    /// anyone's, so it does not get the keep-alive idle time.
    pub first_request_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests (after the secret).
    pub idle_timeout: Duration,
    /// Time allowed to receive a whole body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 32 * 1024,
            max_headers: 128,
            max_body_bytes: 32 * 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// One header field as received: the name as sent, the raw value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// Where a part of the head lies in its bytes.
type Span = std::ops::Range<usize>;

/// A parsed request line and header block, kept as the bytes received with the place of
/// each part: one copy per request rather than a string per method, target, name and value.
#[derive(Clone, Debug)]
pub struct RequestHead {
    raw: Vec<u8>,
    method: Span,
    target: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    fields: Vec<(Span, Span)>,
}

impl RequestHead {
    /// A head of these parts (for callers that make one rather than read it).
    pub fn new(method: &str, target: &str, minor_version: u8, fields: &[(&str, &[u8])]) -> Self {
        let mut raw = Vec::new();
        let mut put = |part: &[u8]| {
            raw.extend_from_slice(part);
            raw.len() - part.len()..raw.len()
        };
        let method = put(method.as_bytes());
        let target = put(target.as_bytes());
        let fields = fields
            .iter()
            .map(|(name, value)| (put(name.as_bytes()), put(value)))
            .collect();
        RequestHead {
            raw,
            method,
            target,
            minor_version,
            fields,
        }
    }

    /// The head httparse read from `bytes` (the head's own bytes, which its parts borrow).
    fn from_parsed(bytes: &[u8], req: &httparse::Request<'_, '_>) -> Self {
        let span = |part: &[u8]| {
            let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
            start..start + part.len()
        };
        RequestHead {
            raw: bytes.to_vec(),
            method: span(req.method.unwrap_or_default().as_bytes()),
            target: span(req.path.unwrap_or_default().as_bytes()),
            minor_version: req.version.unwrap_or(1),
            fields: req
                .headers
                .iter()
                .map(|h| (span(h.name.as_bytes()), span(h.value)))
                .collect(),
        }
    }

    fn text(&self, span: &Span) -> &str {
        // Every span but a value's holds a token httparse checked (or a caller's `&str`).
        std::str::from_utf8(&self.raw[span.clone()]).unwrap_or_default()
    }

    pub fn method(&self) -> &str {
        self.text(&self.method)
    }

    /// The request target as sent (path and query).
    pub fn target(&self) -> &str {
        self.text(&self.target)
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = Header<'_>> + Clone + '_ {
        self.fields.iter().map(|(name, value)| Header {
            name: self.text(name),
            value: &self.raw[value.clone()],
        })
    }

    /// Values of every header with this (case-insensitive) name, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| self.raw[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| &self.raw[value.clone()])
    }

    /// True when a comma-separated header (e.g. `Connection`) carries `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| lists_token(v, token))
    }

    /// Whether the connection may carry another request after this one.
    pub fn keep_alive(&self) -> bool {
        if self.minor_version == 0 {
            return self.has_token("connection", "keep-alive");
        }
        !self.has_token("connection", "close")
    }

    /// True for a WebSocket (or any protocol) upgrade request.
    pub fn is_upgrade(&self) -> bool {
        self.values("upgrade").next().is_some() || self.has_token("connection", "upgrade")
    }

    /// True when the client waits for `100 Continue` before sending its body.
    pub fn expects_continue(&self) -> bool {
        self.minor_version == 1 && self.has_token("expect", "100-continue")
    }
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// Why a request could not be read. Those with a status get an error response, then the
/// connection is closed (its framing can no longer be trusted).
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection cleanly between requests.
    Closed,
    /// The head or body did not arrive in time, or the connection idled out.
    Timeout {
        mid_request: bool,
    },
    /// Head larger than allowed or too many fields → 431.
    HeadTooLarge,
    /// Body larger than allowed → 413.
    BodyTooLarge,
    /// Malformed or ambiguous framing → 400.
    BadRequest(&'static str),
    /// A transfer coding other than chunked → 501.
    NotImplemented(&'static str),
    Io(io::Error),
}

impl FrameError {
    /// The status to answer with, or None when nothing should be written.
    pub fn status(&self) -> Option<u16> {
        match self {
            FrameError::Closed | FrameError::Io(_) => None,
            FrameError::Timeout { mid_request } => mid_request.then_some(408),
            FrameError::HeadTooLarge => Some(431),
            FrameError::BodyTooLarge => Some(413),
            FrameError::BadRequest(_) => Some(400),
            FrameError::NotImplemented(_) => Some(501),
        }
    }

    /// A short, secret-free explanation for the error body.
    pub fn message(&self) -> &'static str {
        match self {
            FrameError::Closed => "connection closed",
            FrameError::Timeout { .. } => "request not received in time",
            FrameError::HeadTooLarge => "request head too large",
            FrameError::BodyTooLarge => "request body larger than the proxy's replay buffer",
            FrameError::BadRequest(m) | FrameError::NotImplemented(m) => m,
            FrameError::Io(_) => "connection error",
        }
    }
}

/// True when a comma-separated field value (e.g. `Connection`'s) carries `token` (any case).
pub fn lists_token(value: &[u8], token: &str) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Decide the body framing of a request, refusing anything ambiguous (RFC 9112 §6.3):
/// both `Transfer-Encoding` and `Content-Length`, several `Content-Length` fields, a
/// non-numeric length, or a transfer coding other than a lone `chunked`.
pub fn body_framing(head: &RequestHead) -> Result<BodyFraming, FrameError> {
    let mut te = head.values("transfer-encoding");
    let mut cl = head.values("content-length");
    let (te, several_te) = (te.next(), te.next().is_some());
    let (cl, several_cl) = (cl.next(), cl.next().is_some());
    if te.is_some() && cl.is_some() {
        return Err(FrameError::BadRequest(
            "both Transfer-Encoding and Content-Length are present",
        ));
    }
    if let Some(te) = te {
        if head.minor_version == 0 {
            return Err(FrameError::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if several_te {
            return Err(FrameError::BadRequest("several Transfer-Encoding fields"));
        }
        return if te.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Ok(BodyFraming::Chunked)
        } else {
            Err(FrameError::NotImplemented(
                "only the chunked transfer coding is supported",
            ))
        };
    }
    if several_cl {
        return Err(FrameError::BadRequest("several Content-Length fields"));
    }
    let Some(cl) = cl else {
        return Ok(BodyFraming::None);
    };
    let text = cl.trim_ascii();
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::BadRequest("invalid Content-Length"));
    }
    let n: u64 = std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(FrameError::BadRequest("invalid Content-Length"))?;
    Ok(if n == 0 {
        BodyFraming::None
    } else {
        BodyFraming::Length(n)
    })
}

/// A deadline that starts when first consulted, so a request that arrives in one read
/// costs no clock read at all.
struct LazyDeadline {
    dur: Duration,
    at: Option<Instant>,
    /// Set from outside (not started by the first read): each read is bounded by it too.
    fixed: bool,
}

impl LazyDeadline {
    fn new(dur: Duration) -> Self {
        LazyDeadline {
            dur,
            at: None,
            fixed: false,
        }
    }

    /// A deadline fixed already.
    fn at(at: Instant) -> Self {
        LazyDeadline {
            dur: Duration::ZERO,
            at: Some(at),
            fixed: true,
        }
    }

    /// The time allowed for one read: `per_read`, or less when a fixed deadline is nearer.
    fn per_read(&self, per_read: Duration) -> Duration {
        match self.at.filter(|_| self.fixed) {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .min(per_read)
                .max(Duration::from_millis(1)),
            None => per_read,
        }
    }

    fn passed(&mut self) -> bool {
        let now = Instant::now();
        match self.at {
            Some(at) => now >= at,
            None => {
                self.at = Some(now + self.dur);
                false
            }
        }
    }
}

/// A connection requests are read from: plain TCP, TLS over TCP (or bytes in memory, for
/// the fuzz harness).
pub trait ConnStream: Read + Write {
    /// Bound each read on the underlying socket.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// The TCP socket underneath, if any (to watch for the peer going away).
    fn socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl ConnStream for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn socket(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl ConnStream for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    fn socket(&self) -> Option<&TcpStream> {
        Some(&self.sock)
    }
}

/// A client read asks for at least this much room (the buffer grows when less is left) ...
const MIN_READ: usize = 4 * 1024;
/// ... and a buffer starts at, and grows by at least, this much.
const READ_SIZE: usize = 16 * 1024;

/// The harness side of one connection: the socket plus bytes read but not yet consumed.
pub struct ClientConn<S = TcpStream> {
    pub stream: S,
    /// Bytes read and not yet taken are `buf[pos..end]`. The buffer is zero-filled once,
    /// as it grows, and read into in place (a fresh zeroed buffer per read, 16 KB, showed
    /// in the proxy's profile).
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// The socket read timeout currently set.
    read_timeout: Option<Duration>,
}

impl<S: ConnStream> ClientConn<S> {
    pub fn new(stream: S) -> Self {
        ClientConn {
            stream,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            read_timeout: None,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Read more bytes; Ok(0) on EOF. Each read waits at most `per_read`, and no read starts
    /// after `deadline`, so a peer dribbling bytes is cut off within `deadline + per_read`.
    /// The socket timeout is only set when it changes (no syscall per request).
    fn fill(
        &mut self,
        deadline: &mut LazyDeadline,
        per_read: Duration,
        mid_request: bool,
    ) -> Result<usize, FrameError> {
        if deadline.passed() {
            return Err(FrameError::Timeout { mid_request });
        }
        let per_read = deadline.per_read(per_read);
        if self.read_timeout != Some(per_read) {
            self.stream
                .set_read_timeout(Some(per_read))
                .map_err(FrameError::Io)?;
            self.read_timeout = Some(per_read);
        }
        if self.buf.len() - self.end < MIN_READ {
            let grown = (self.buf.len() * 2).max(self.end + READ_SIZE);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(FrameError::Timeout { mid_request });
                }
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
    }

    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
    }

    /// Read the next request head of a keep-alive connection. Waits up to `idle_timeout`
    /// for its first byte, then up to `head_timeout` for the rest.
    pub fn read_head(&mut self, limits: &Limits) -> Result<RequestHead, FrameError> {
        // Waiting for a request is bounded by the idle read timeout alone; once its first
        // byte is in, the whole head must follow within `head_timeout`.
        let idle = LazyDeadline::new(limits.idle_timeout);
        let head = LazyDeadline::new(limits.head_timeout);
        self.read_head_within(limits, idle, head)
    }

    /// Read the first request head of a connection: all of it must be in by `deadline`.
    pub fn read_first_head(
        &mut self,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<RequestHead, FrameError> {
        self.read_head_within(
            limits,
            LazyDeadline::at(deadline),
            LazyDeadline::at(deadline),
        )
    }

    fn read_head_within(
        &mut self,
        limits: &Limits,
        mut idle: LazyDeadline,
        mut head: LazyDeadline,
    ) -> Result<RequestHead, FrameError> {
        self.compact();
        let mut started = false;
        loop {
            // RFC 9112 §2.2: ignore empty lines before a request line.
            while self.pending().starts_with(b"\r\n") {
                self.pos += 2;
            }
            // A lone CR may be the start of one more empty line: not a request yet.
            if !self.pending().is_empty() && self.pending() != b"\r" {
                started = true;
                if let Some(parsed) = self.try_parse_head(limits)? {
                    return Ok(parsed);
                }
                if self.pending().len() > limits.max_head_bytes {
                    return Err(FrameError::HeadTooLarge);
                }
            }
            let read = if started {
                self.fill(&mut head, limits.head_timeout, true)
            } else {
                self.fill(&mut idle, limits.idle_timeout, false)
            };
            if read? == 0 {
                return Err(if started {
                    FrameError::BadRequest("connection closed in the middle of a request head")
                } else {
                    FrameError::Closed
                });
            }
        }
    }

    fn try_parse_head(&mut self, limits: &Limits) -> Result<Option<RequestHead>, FrameError> {
        // Left uninitialized: filling 4 KB of empty fields before every parse showed in the
        // proxy's profile.
        let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        // Never look past the limit: what lies beyond cannot belong to an acceptable head,
        // and the verdict must not depend on how much of it happened to arrive in one read
        // (a head over the limit is 431 whatever byte follows; the fuzz harness holds this).
        let pending = &self.buf[self.pos..self.end];
        let window = &pending[..pending.len().min(limits.max_head_bytes)];
        match req
            .parse_with_uninit_headers(window, &mut fields[..limits.max_headers.min(MAX_HEADERS)])
        {
            Ok(httparse::Status::Complete(n)) => {
                if n > limits.max_head_bytes {
                    return Err(FrameError::HeadTooLarge);
                }
                let head = RequestHead::from_parsed(&window[..n], &req);
                self.pos += n;
                Ok(Some(head))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(FrameError::HeadTooLarge),
            Err(_) => Err(FrameError::BadRequest("malformed request head")),
        }
    }

    /// Read a whole body as framed, bounded by `max_body_bytes` and `body_timeout`.
    pub fn read_body(
        &mut self,
        framing: BodyFraming,
        limits: &Limits,
    ) -> Result<Vec<u8>, FrameError> {
        let mut deadline = LazyDeadline::new(limits.body_timeout);
        match framing {
            BodyFraming::None => Ok(Vec::new()),
            BodyFraming::Length(n) => {
                if n > limits.max_body_bytes as u64 {
                    return Err(FrameError::BodyTooLarge);
                }
                let mut body = Vec::with_capacity(n as usize);
                self.take_exact(&mut body, n as usize, &mut deadline, limits.body_timeout)?;
                Ok(body)
            }
            BodyFraming::Chunked => self.read_chunked(limits, &mut deadline),
        }
    }

    fn take_exact(
        &mut self,
        out: &mut Vec<u8>,
        mut n: usize,
        deadline: &mut LazyDeadline,
        per_read: Duration,
    ) -> Result<(), FrameError> {
        loop {
            let take = n.min(self.pending().len());
            out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.compact();
            if self.fill(deadline, per_read, true)? == 0 {
                return Err(FrameError::BadRequest(
                    "connection closed in the middle of a body",
                ));
            }
        }
    }

    /// One CRLF-terminated line (without the CRLF), at most `max` bytes; a longer one is
    /// `too_long`. Only the first `max + 2` bytes are looked at, so the verdict does not
    /// depend on how much arrived in one read.
    fn take_line(
        &mut self,
        max: usize,
        too_long: FrameError,
        deadline: &mut LazyDeadline,
        per_read: Duration,
    ) -> Result<Vec<u8>, FrameError> {
        loop {
            let pending = self.pending();
            let window = &pending[..pending.len().min(max + 2)];
            if let Some(i) = window.iter().position(|b| *b == b'\n') {
                if i == 0 || pending[i - 1] != b'\r' {
                    return Err(FrameError::BadRequest(
                        "chunked body line not ended by CRLF",
                    ));
                }
                let line = self.buf[self.pos..self.pos + i - 1].to_vec();
                self.pos += i + 1;
                return Ok(line);
            }
            if pending.len() > max + 1 {
                return Err(too_long);
            }
            if self.fill(deadline, per_read, true)? == 0 {
                return Err(FrameError::BadRequest(
                    "connection closed in the middle of a body",
                ));
            }
        }
    }

    fn read_chunked(
        &mut self,
        limits: &Limits,
        deadline: &mut LazyDeadline,
    ) -> Result<Vec<u8>, FrameError> {
        let mut body = Vec::new();
        loop {
            let too_long = FrameError::BadRequest("chunked body line too long");
            let mut line = self.take_line(1024, too_long, deadline, limits.body_timeout)?;
            // httparse reads the size line with its CRLF (extensions ignored, overflow refused).
            line.extend_from_slice(b"\r\n");
            let size = match httparse::parse_chunk_size(&line) {
                Ok(httparse::Status::Complete((_, size))) => size,
                _ => return Err(FrameError::BadRequest("invalid chunk size")),
            };
            if size == 0 {
                // Trailer fields, then the final empty line.
                let mut trailer_bytes = 0;
                loop {
                    let t = self.take_line(
                        limits.max_head_bytes,
                        FrameError::HeadTooLarge,
                        deadline,
                        limits.body_timeout,
                    )?;
                    if t.is_empty() {
                        return Ok(body);
                    }
                    trailer_bytes += t.len();
                    if trailer_bytes > limits.max_head_bytes {
                        return Err(FrameError::HeadTooLarge);
                    }
                }
            }
            // A chunk size near u64::MAX must not wrap the sum past the limit.
            let total = (body.len() as u64).checked_add(size);
            if total.is_none_or(|total| total > limits.max_body_bytes as u64) {
                return Err(FrameError::BodyTooLarge);
            }
            self.take_exact(&mut body, size as usize, deadline, limits.body_timeout)?;
            let no_crlf = FrameError::BadRequest("chunk data not followed by CRLF");
            if !self
                .take_line(0, no_crlf, deadline, limits.body_timeout)?
                .is_empty()
            {
                return Err(FrameError::BadRequest("chunk data not followed by CRLF"));
            }
        }
    }
}

/// The canonical reason phrase of a status (empty for a status without one, such as 529).
pub fn reason_phrase(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// How a response body is delimited towards the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body at all (HEAD, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Delimited by closing the connection (HTTP/1.0 clients, unknown length).
    Close,
}

/// Serialize a response head. `headers` must already be free of hop-by-hop and framing fields.
pub fn encode_head<'h>(
    status: u16,
    headers: impl ExactSizeIterator<Item = (&'h str, &'h [u8])>,
    framing: ResponseFraming,
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + headers.len() * 48);
    out.extend_from_slice(b"HTTP/1.1 ");
    // Written into the head itself (a `Vec` takes `write!` without failing).
    let _ = write!(out, "{status}");
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        ResponseFraming::Empty | ResponseFraming::Close => {}
        ResponseFraming::Length(n) => {
            let _ = write!(out, "content-length: {n}\r\n");
        }
        ResponseFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Write one chunk of a chunked body in a single `write_all`.
pub fn write_chunk(out: &mut impl Write, scratch: &mut Vec<u8>, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    scratch.clear();
    let _ = write!(scratch, "{:x}\r\n", data.len());
    scratch.extend_from_slice(data);
    scratch.extend_from_slice(b"\r\n");
    out.write_all(scratch)
}

/// The last chunk of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
