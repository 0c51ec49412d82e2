//! One HTTP/1.1 exchange with the provider, written and read straight on a connection from
//! `ureq`'s connector chain (TCP, TLS, a CONNECT tunnel; see `upstream`).
//!
//! The proxy already holds the request as bytes (the harness's head with the credential
//! swapped, the buffered body), and wants the answer as bytes: its status, its header fields,
//! its body decoded from the wire's framing. Going through `ureq`'s request and response
//! model cost more than everything else the proxy does per request (docs/performance.md):
//! an `http::Request` with a header map built from the fields, a call state machine, an
//! `http::Response` with another map and per-request extensions. Here the head is written
//! into the connection's output buffer as it goes, the answer's head parsed with `httparse`,
//! and the body read through the framing it names (RFC 9112 §6).

use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::Error;
use ureq::Timeout;
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{NextTimeout, Transport};

use super::connections::{Connection, Connections};
use super::fields::{Fields, name_ok, value_ok};
use super::framing::lists_token;
use super::headers::UpstreamHeader;

/// Response header fields read at most (more is a malformed answer).
const MAX_RESPONSE_FIELDS: usize = 160;

/// The longest chunk-size or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// Trailer fields accepted after a chunked body (they are read and dropped).
const MAX_TRAILER_LINES: usize = 64;

/// A request URL in the parts the exchange needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    /// `scheme://authority`: which connections can carry the request.
    pub origin: &'a str,
    /// The `host` field: `host[:port]`, without the port when it is the scheme's default.
    pub host: &'a str,
    /// The origin-form request target (`/path?query`).
    pub target: &'a str,
    pub https: bool,
}

/// Split an absolute `http(s)` URL.
pub fn split_url(url: &str) -> Result<Url<'_>, Error> {
    let bad = || Error::BadUri(format!("not an absolute http(s) URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(bad());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let origin = &url[..scheme.len() + 3 + end];
    let default_port = if https { ":443" } else { ":80" };
    let host = authority.strip_suffix(default_port).unwrap_or(authority);
    let target = match &rest[end..] {
        "" => "/",
        t if t.starts_with('/') => t.split('#').next().unwrap_or(t),
        _ => return Err(bad()),
    };
    Ok(Url {
        origin,
        host,
        target,
        https,
    })
}

/// The waits of one exchange.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// For the request to be written.
    pub send: Duration,
    /// From the request written to the answer's head read.
    pub response: Duration,
    /// The longest silence inside a body (and inside the wait for the head).
    pub read_idle: Duration,
}

fn next_timeout(
    after: Option<Duration>,
    reason: Timeout,
    per_read: Option<Duration>,
) -> NextTimeout {
    NextTimeout {
        after: after.map_or(UreqDuration::NotHappening, UreqDuration::from),
        reason,
        per_read: per_read.map(UreqDuration::from),
        per_write: None,
    }
}

/// Writes into the connection's output buffer, transmitting whenever it is full.
struct Output<'t> {
    connection: &'t mut dyn Transport,
    filled: usize,
    timeout: NextTimeout,
}

impl Output<'_> {
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let out = self.connection.buffers().output();
            let room = out.len() - self.filled;
            if room == 0 {
                self.transmit()?;
                continue;
            }
            let n = room.min(bytes.len());
            out[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn transmit(&mut self) -> Result<(), Error> {
        if self.filled > 0 {
            // Nothing of an answer can have come yet: a close seen here is the provider's
            // close of an idle connection.
            self.connection
                .transmit_output(self.filled, self.timeout)
                .map_err(|e| match e {
                    Error::Io(e) if closed_by_peer(&e) => closed_before_answering(),
                    other => other,
                })?;
            self.filled = 0;
        }
        Ok(())
    }
}

/// Write one request: the request line, `host`, the fields as given, `content-length`
/// when there is a body (or the method carries one), and the body.
pub fn write_request(
    connection: &mut dyn Transport,
    method: &str,
    url: &Url<'_>,
    headers: &[UpstreamHeader<'_>],
    body: &[u8],
    waits: &Waits,
) -> Result<(), Error> {
    if !name_ok(method) || !url.target.bytes().all(|b| b > 0x20 && b != 0x7f) {
        return Err(Error::BadUri(
            "a request line the provider cannot be sent".into(),
        ));
    }
    if headers
        .iter()
        .any(|(name, value)| !name_ok(name) || !value_ok(value))
    {
        return Err(Error::BadUri(
            "a header field the provider cannot be sent".into(),
        ));
    }
    let mut out = Output {
        connection,
        filled: 0,
        timeout: next_timeout(Some(waits.send), Timeout::SendRequest, None),
    };
    out.put(method.as_bytes())?;
    out.put(b" ")?;
    out.put(url.target.as_bytes())?;
    out.put(b" HTTP/1.1\r\nhost: ")?;
    out.put(url.host.as_bytes())?;
    out.put(b"\r\n")?;
    for (name, value) in headers {
        out.put(name.as_bytes())?;
        out.put(b": ")?;
        out.put(value)?;
        out.put(b"\r\n")?;
    }
    let carries_body = !body.is_empty()
        || ["POST", "PUT", "PATCH"]
            .iter()
            .any(|m| method.eq_ignore_ascii_case(m));
    if carries_body {
        let mut line = [0u8; 40];
        let mut cursor = io::Cursor::new(&mut line[..]);
        let _ = write!(cursor, "content-length: {}\r\n", body.len());
        let end = cursor.position() as usize;
        out.put(&line[..end])?;
    }
    out.put(b"\r\n")?;
    out.put(body)?;
    out.transmit()
}

/// How the answer's body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No body (a HEAD request, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Until the provider closes the connection.
    Close,
}

/// An answer's head.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Fields,
    framing: Framing,
    /// Whether the connection may carry another request once the body is read.
    reusable: bool,
}

fn protocol_error(what: &str) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidData, what.to_string()))
}

fn disconnected() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the provider closed the connection inside the answer's head",
    ))
}

/// The provider closed the connection without a byte of answer: on a connection that sat
/// idle, it had closed it as the request went out.
#[derive(Debug)]
struct ClosedBeforeAnswering;

impl std::fmt::Display for ClosedBeforeAnswering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the provider closed the connection before answering")
    }
}

impl std::error::Error for ClosedBeforeAnswering {}

/// Whether a request failed before a byte of the answer came because the provider closed
/// the connection: on a connection that sat idle, the provider closed it as the request went
/// out (or before), so the request is sent again on a new one. A reset after part of an
/// answer, or a harness that went away, is not this.
pub fn failed_before_answering(err: &Error) -> bool {
    matches!(err, Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<ClosedBeforeAnswering>()))
}

/// Read the answer's head (passing over interim 1xx answers) and consume it from the
/// connection's input.
pub fn read_head(
    connection: &mut dyn Transport,
    head_request: bool,
    waits: &Waits,
) -> Result<Head, Error> {
    let deadline = Instant::now() + waits.response;
    let mut received = !connection.buffers().input().is_empty();
    loop {
        let parsed = {
            let input = connection.buffers().input();
            if input.is_empty() {
                None
            } else {
                parse_head(input, head_request)?
            }
        };
        match parsed {
            Some((len, head)) => {
                connection.buffers().input_consume(len);
                if (100..200).contains(&head.status) && head.status != 101 {
                    continue;
                }
                return Ok(head);
            }
            None => {
                if connection.buffers().input_append_buf().is_empty() {
                    return Err(protocol_error("the provider's answer head is too large"));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(Timeout::RecvResponse));
                }
                let timeout =
                    next_timeout(Some(left), Timeout::RecvResponse, Some(waits.read_idle));
                match connection.await_input(timeout) {
                    Ok(true) => received = true,
                    Ok(false) if received => return Err(disconnected()),
                    Ok(false) => return Err(closed_before_answering()),
                    // The request was written into a connection the provider had closed (a
                    // write held by the coalescing layer goes out with this first wait).
                    Err(Error::Io(e)) if !received && closed_by_peer(&e) => {
                        return Err(closed_before_answering());
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// An error that means the peer closed the connection (not a harness going away, which
/// `abandon` reports as aborted).
fn closed_by_peer(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

fn closed_before_answering() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        ClosedBeforeAnswering,
    ))
}

/// The head at the start of `input` and its length, or `None` when more is needed.
fn parse_head(input: &[u8], head_request: bool) -> Result<Option<(usize, Head)>, Error> {
    // Left uninitialized: filling a few KB of empty fields before every parse showed in
    // the proxy's profile.
    let mut fields = [const { MaybeUninit::uninit() }; MAX_RESPONSE_FIELDS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        input,
        &mut fields,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(protocol_error("the provider's answer head is malformed")),
    };
    let status = response.code.unwrap_or(0);
    let http11 = response.version == Some(1);
    let headers = Fields::new(
        response
            .headers
            .iter()
            .map(|field| (field.name, field.value)),
    )
    .ok_or_else(|| protocol_error("a malformed field in the provider's answer"))?;
    let mut close = !http11;
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for (name, value) in headers.iter() {
        match name {
            "connection" => {
                if lists_token(value, "close") {
                    close = true;
                } else if !http11 && lists_token(value, "keep-alive") {
                    close = false;
                }
            }
            "transfer-encoding" => {
                let text = String::from_utf8_lossy(value);
                let last = text.rsplit(',').map(str::trim).find(|t| !t.is_empty());
                chunked = Some(last.is_some_and(|t| t.eq_ignore_ascii_case("chunked")));
            }
            "content-length" => {
                for part in String::from_utf8_lossy(value).split(',').map(str::trim) {
                    let n: u64 = Some(part)
                        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| {
                            protocol_error("a malformed content-length in the provider's answer")
                        })?;
                    if length.is_some_and(|l| l != n) {
                        return Err(protocol_error(
                            "conflicting content-lengths in the provider's answer",
                        ));
                    }
                    length = Some(n);
                }
            }
            _ => {}
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::Close,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::Close,
        }
    };
    // A switch of protocols leaves the connection to the new one; an answer with both a
    // length and a transfer coding must not be trusted with another (RFC 9112 §6.3).
    let reusable = !close
        && framing != Framing::Close
        && status != 101
        && !(chunked.is_some() && length.is_some());
    Ok(Some((
        len,
        Head {
            status,
            headers,
            framing,
            reusable,
        },
    )))
}

/// Where a chunked body's decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk, before the end of the trailer section.
    Trailers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Close,
    Done,
}

/// Where a connection goes back when its answer was read whole.
struct Home {
    connections: Arc<Connections>,
    origin: String,
}

/// An answer's body, decoded from its framing, read straight from the connection. Read to
/// its end on a connection the provider keeps open, the connection goes back to the
/// session's idle connections; dropped before that, it is closed.
pub struct Body {
    connection: Option<Connection>,
    state: State,
    content_length: Option<u64>,
    read_idle: Duration,
    home: Option<Home>,
    trailer_lines: usize,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("state", &self.state)
            .field("content_length", &self.content_length)
            .finish()
    }
}

impl Body {
    /// The body of `head` on `connection`, which goes back to `connections` under `origin`
    /// once read whole (when the provider keeps it open).
    pub fn new(
        connection: Connection,
        head: &Head,
        waits: &Waits,
        connections: Arc<Connections>,
        origin: String,
    ) -> Body {
        let state = match head.framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size),
            Framing::Close => State::Close,
        };
        let mut body = Body {
            connection: Some(connection),
            state,
            content_length: match head.framing {
                Framing::Empty => Some(0),
                Framing::Length(n) => Some(n),
                _ => None,
            },
            read_idle: waits.read_idle,
            home: head.reusable.then_some(Home {
                connections,
                origin,
            }),
            trailer_lines: 0,
        };
        if body.state == State::Done {
            body.finish();
        }
        body
    }

    /// The body's length, when the answer names it.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The body is read whole: the connection goes home when it is fit for another request.
    fn finish(&mut self) {
        self.state = State::Done;
        let (Some(mut connection), Some(home)) = (self.connection.take(), self.home.take()) else {
            return;
        };
        if connection.buffers().input().is_empty() {
            home.connections.put(home.origin, connection);
        }
    }

    /// [`Self::fill`] where the provider's close ends the body: a close without TLS's
    /// `close_notify`, or a reset, is an end too (the body had no other end to miss).
    fn fill_until_closed(&mut self) -> io::Result<bool> {
        match self.fill() {
            Err(e) if closed_by_peer(&e) => Ok(false),
            other => other,
        }
    }

    /// The body ended with the connection: it is closed, never kept.
    fn end_here(&mut self) {
        self.state = State::Done;
        self.connection = None;
        self.home = None;
    }

    /// Wait for more input; false at the provider's end of the connection.
    fn fill(&mut self) -> io::Result<bool> {
        let timeout = next_timeout(None, Timeout::RecvBody, Some(self.read_idle));
        let connection = self
            .connection
            .as_mut()
            .ok_or_else(|| io::Error::other("body read after its end"))?;
        connection.await_input(timeout).map_err(Error::into_io)
    }

    fn input(&mut self) -> &[u8] {
        match self.connection.as_mut() {
            Some(c) => c.buffers().input(),
            None => &[],
        }
    }

    fn consume(&mut self, n: usize) {
        if let Some(c) = self.connection.as_mut() {
            c.buffers().input_consume(n);
        }
    }

    /// Copy up to `limit` bytes of input into `buf`.
    fn copy_out(&mut self, buf: &mut [u8], limit: u64) -> usize {
        let input = self.input();
        let n = input
            .len()
            .min(buf.len())
            .min(usize::try_from(limit).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&input[..n]);
        self.consume(n);
        n
    }

    /// One line of the chunked framing (without its line end), consumed; `None` when the
    /// input does not hold a whole line yet.
    fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let input = self.input();
        match input.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = input[..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&input[..end])
                    .to_vec();
                self.consume(end + 1);
                Ok(Some(line))
            }
            None if input.len() > MAX_CHUNK_LINE => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a chunk line in the provider's answer is too long",
            )),
            None => Ok(None),
        }
    }

    fn more_or_eof(&mut self) -> io::Result<()> {
        if self.fill()? {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the provider closed the connection inside the body",
            ))
        }
    }

    fn read_chunked(&mut self, buf: &mut [u8], chunk: Chunk) -> io::Result<Option<usize>> {
        match chunk {
            Chunk::Size => {
                let Some(line) = self.line()? else {
                    self.more_or_eof()?;
                    return Ok(None);
                };
                let text = String::from_utf8_lossy(&line);
                let size = text.split(';').next().unwrap_or("").trim();
                let size = Some(size)
                    .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a malformed chunk size in the provider's answer",
                        )
                    })?;
                self.state = State::Chunked(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                });
                Ok(None)
            }
            Chunk::Data(left) => {
                if self.input().is_empty() {
                    self.more_or_eof()?;
                    return Ok(None);
                }
                let n = self.copy_out(buf, left);
                let left = left - n as u64;
                self.state = State::Chunked(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                });
                Ok(Some(n))
            }
            Chunk::DataEnd => {
                let Some(line) = self.line()? else {
                    self.more_or_eof()?;
                    return Ok(None);
                };
                if !line.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a chunk in the provider's answer is longer than its size",
                    ));
                }
                self.state = State::Chunked(Chunk::Size);
                Ok(None)
            }
            Chunk::Trailers => {
                let Some(line) = self.line()? else {
                    // Some servers close the connection after the last chunk instead of
                    // ending the trailer section: all the body came, so it ends here.
                    if !self.fill_until_closed()? {
                        self.end_here();
                        return Ok(Some(0));
                    }
                    return Ok(None);
                };
                if line.is_empty() {
                    self.finish();
                    return Ok(Some(0));
                }
                self.trailer_lines += 1;
                if self.trailer_lines > MAX_TRAILER_LINES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "too many trailer fields in the provider's answer",
                    ));
                }
                Ok(None)
            }
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Length(left) => {
                    if self.input().is_empty() {
                        self.more_or_eof()?;
                        continue;
                    }
                    let n = self.copy_out(buf, left);
                    let left = left - n as u64;
                    if left == 0 {
                        self.finish();
                    } else {
                        self.state = State::Length(left);
                    }
                    return Ok(n);
                }
                State::Close => {
                    if self.input().is_empty() && !self.fill_until_closed()? {
                        self.end_here();
                        return Ok(0);
                    }
                    return Ok(self.copy_out(buf, u64::MAX));
                }
                State::Chunked(chunk) => {
                    if let Some(n) = self.read_chunked(buf, chunk)? {
                        return Ok(n);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
