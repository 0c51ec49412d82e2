//! The properties the fuzz harness checks, one function per target. Each panics when a
//! property fails. Shared by the libFuzzer targets (`fuzz/fuzz_targets/`, nightly, run in
//! CI for a time budget) and the stable replay of the committed corpus
//! (`tests/fuzz_corpus.rs`), so every input ever kept is checked on every test run.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::time::Duration;

use oauth_mux::proxy::framing::{
    BodyFraming, ClientConn, ConnStream, FrameError, Limits, body_framing,
};

/// A property check over one input; panics when the property fails.
pub type Oracle = fn(&[u8]);

/// The fuzz targets, by name (the corpus directories under `fuzz/corpus/`).
pub const TARGETS: [(&str, Oracle); 5] = [
    ("request_framing", request_framing),
    ("chunked_body", chunked_body),
    ("request_target", request_target),
    ("config_text", config_text),
    ("credential", credential),
];

// ---------------------------------------------------------------------------------------
// Request framing

/// Bytes served to the proxy's framing code the way a socket would: in reads of the sizes
/// given (cycling), then end of file.
struct Segmented<'a> {
    data: &'a [u8],
    pos: usize,
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Segmented<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()].max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Segmented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ConnStream for Segmented<'_> {
    fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// What the proxy made of one request on a connection.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Request {
        method: String,
        target: String,
        minor: u8,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    /// Reading stopped: the status the proxy answers with (None: it just closes).
    Stopped(Option<u16>),
}

fn small_limits() -> Limits {
    Limits {
        max_head_bytes: 4096,
        max_headers: 16,
        max_body_bytes: 64 * 1024,
        ..Limits::default()
    }
}

/// Every request the proxy reads from `data` delivered in reads of `sizes`.
fn read_requests(data: &[u8], sizes: Vec<usize>, limits: &Limits) -> Vec<Outcome> {
    let stream = Segmented {
        data,
        pos: 0,
        sizes,
        next: 0,
    };
    let mut conn = ClientConn::new(stream);
    let mut out = Vec::new();
    let stop = |e: FrameError| Outcome::Stopped(e.status());
    for _ in 0..64 {
        let head = match conn.read_head(limits) {
            Ok(head) => head,
            Err(e) => {
                out.push(stop(e));
                break;
            }
        };
        let framing = match body_framing(&head) {
            Ok(framing) => framing,
            Err(e) => {
                out.push(stop(e));
                break;
            }
        };
        let body = match conn.read_body(framing, limits) {
            Ok(body) => body,
            Err(e) => {
                out.push(stop(e));
                break;
            }
        };
        if let BodyFraming::Length(n) = framing {
            assert_eq!(
                body.len() as u64,
                n,
                "a Content-Length body of another length"
            );
        }
        assert!(body.len() <= limits.max_body_bytes, "a body over the limit");
        for text in [head.method(), head.target()] {
            assert!(
                !text.is_empty() && !text.bytes().any(|b| b.is_ascii_whitespace() || b == 0),
                "a request line part with whitespace: {text:?}"
            );
        }
        for h in head.headers() {
            assert!(
                !h.name.is_empty() && !h.value.iter().any(|b| *b == b'\r' || *b == b'\n'),
                "a header that could split the request: {h:?}"
            );
        }
        out.push(Outcome::Request {
            method: head.method().to_string(),
            target: head.target().to_string(),
            minor: head.minor_version,
            headers: head
                .headers()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            body,
        });
    }
    out
}

/// Read sizes from a seed: a small xorshift generator, so each input picks its own split.
fn sizes_from(seed: u16) -> Vec<usize> {
    let mut x = u32::from(seed) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            1 + (x % 97) as usize
        })
        .collect()
}

/// The proxy reads the same requests (or stops with the same status) however the bytes
/// are cut into reads, and what it accepts is well formed (no smuggling through
/// segmentation, no body longer or shorter than framed).
pub fn request_framing(data: &[u8]) {
    let (seed, stream) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let limits = small_limits();
    let whole = read_requests(stream, vec![usize::MAX], &limits);
    let cut = read_requests(stream, sizes_from(seed), &limits);
    let single = read_requests(stream, vec![1], &limits);
    assert_eq!(whole, cut, "the outcome depends on how the bytes arrive");
    assert_eq!(
        whole, single,
        "the outcome depends on how the bytes arrive (bytewise)"
    );
}

// ---------------------------------------------------------------------------------------
// Chunked bodies

/// The strict chunked grammar (RFC 9112 §7.1 without extensions or trailers): the body and
/// the bytes consumed, or None.
fn strict_chunked(data: &[u8], max_body: usize) -> Option<(Vec<u8>, usize)> {
    let mut pos = 0;
    let mut body = Vec::new();
    loop {
        let line_end = data[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
        let size_text = &data[pos..line_end];
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.iter().all(u8::is_ascii_hexdigit)
        {
            return None;
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_text).ok()?, 16).ok()?;
        pos = line_end + 2;
        if size == 0 {
            return data[pos..].starts_with(b"\r\n").then(|| (body, pos + 2));
        }
        if body.len() + size > max_body {
            return None;
        }
        let end = pos.checked_add(size)?;
        if end + 2 > data.len() || &data[end..end + 2] != b"\r\n" {
            return None;
        }
        body.extend_from_slice(&data[pos..end]);
        pos = end + 2;
    }
}

/// Chunked decoding accepts every body the strict grammar accepts, with the same bytes,
/// and never produces more than the limit, however the bytes arrive.
pub fn chunked_body(data: &[u8]) {
    let (seed, chunked) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => return,
    };
    let limits = small_limits();
    let mut stream = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    stream.extend_from_slice(chunked);
    let whole = read_requests(&stream, vec![usize::MAX], &limits);
    let cut = read_requests(&stream, sizes_from(seed), &limits);
    assert_eq!(
        whole, cut,
        "chunked decoding depends on how the bytes arrive"
    );
    if let Some((body, _)) = strict_chunked(chunked, limits.max_body_bytes) {
        match whole.first() {
            Some(Outcome::Request { body: ours, .. }) => {
                assert_eq!(
                    ours, &body,
                    "a strictly valid chunked body decoded differently"
                )
            }
            other => panic!("a strictly valid chunked body was refused: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Request targets

/// Every dot or empty segment, percent escapes decoded.
fn has_dot_or_empty_segment(path: &str) -> bool {
    let decoded: Vec<u8> = {
        let b = path.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && let Some(v) = path
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        out
    };
    let segments: Vec<&[u8]> = decoded[1..].split(|b| *b == b'/' || *b == b'\\').collect();
    let last = segments.len() - 1;
    segments
        .iter()
        .enumerate()
        .any(|(n, s)| *s == b"." || *s == b".." || (s.is_empty() && n != last))
}

/// A target the proxy lets through is one the upstream client can express unchanged, with
/// no dot or empty segment even after percent-decoding.
pub fn request_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let target = format!("/{text}");
    if oauth_mux::proxy::target::check_target(&target).is_err() {
        return;
    }
    let url = format!("https://upstream.example{target}");
    let uri = ureq::http::Uri::try_from(url.as_str())
        .unwrap_or_else(|e| panic!("an accepted target is no URI ({e}): {target:?}"));
    let sent = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    assert_eq!(sent, target, "the upstream client would change the target");
    let path = target.split('?').next().unwrap_or(&target);
    assert!(
        !has_dot_or_empty_segment(path),
        "an accepted target holds a dot or empty segment: {target:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Config text

/// Token-like runs of the input: 16 or more of `[A-Za-z0-9_-]`, holding a digit.
fn token_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|run| run.len() >= 16 && run.bytes().any(|b| b.is_ascii_digit()))
        .collect()
}

fn keys_of(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys_of(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys_of(v, out)),
        _ => {}
    }
}

/// Config validation never panics, and no problem it reports quotes a token-like value of
/// the config (object keys excepted: they are the config's names, shown in paths).
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (_, problems) = oauth_mux::config::check_text(text);
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let mut keys = Vec::new();
    keys_of(&doc, &mut keys);
    let values: Vec<&str> = token_runs(text)
        .into_iter()
        .filter(|run| !keys.iter().any(|k| k.contains(run)))
        .collect();
    for p in &problems {
        for run in &values {
            assert!(
                !p.message.contains(run) && !p.hint.contains(run),
                "a config problem quotes a value ({run}): {p}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Credentials

/// Credential parsing never panics, for every built-in provider's format, and its errors
/// never quote the credential.
pub fn credential(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let runs = token_runs(&text);
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    for def in oauth_mux::config::builtin::all() {
        let raw = oauth_mux::secrets::Secret::new(text.clone());
        if let Err(err) = oauth_mux::secrets::parse_credential(&raw, &def.credential, now) {
            let message = err.to_string();
            for run in &runs {
                assert!(
                    !message.contains(run),
                    "a credential error quotes the credential ({run}): {message}"
                );
            }
        }
        for harness in [
            oauth_mux::harness::status::HarnessKind::Codex,
            oauth_mux::harness::status::HarnessKind::Claude,
        ] {
            if let Err(err) = oauth_mux::harness::credentials::materialize(harness, def, &raw, now)
            {
                let message = err.to_string();
                for run in &runs {
                    assert!(
                        !message.contains(run),
                        "a harness credential error quotes the credential ({run}): {message}"
                    );
                }
            }
        }
    }
    // Parsed tokens register for redaction; a harness parsing millions must forget them.
    oauth_mux::secrets::redact::clear_registered();
}
