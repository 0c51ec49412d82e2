//! An upstream response on its way to the harness: the part held back for the decision
//! (status, headers, a bounded body prefix, the SSE opening) and the rest, streamed
//! byte-for-byte once the decision to deliver is made.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::abandon;
use super::exchange::Body;
use super::framing::{self, ResponseFraming};
use super::headers::downstream_response_headers;
use super::pool::ResponseEvidence;
use super::replies::LocalReply;
use super::sse::{Opening, scan_opening};
use super::upstream::Answer;

/// Largest error body read for classification.
pub const MAX_EVIDENCE_BODY: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Where the not-yet-delivered part of a body comes from.
pub enum Rest {
    /// The body was read completely into `held`.
    Done,
    /// Read directly from the upstream.
    Reader(Body),
}

/// A response from the provider, partly held back. Its header fields are the evidence's
/// (`evidence.headers`): the classifier and the harness read the same ones.
pub struct Held {
    pub status: u16,
    pub held: Vec<u8>,
    pub rest: Rest,
    pub content_length: Option<u64>,
    pub evidence: ResponseEvidence,
}

/// How long and how much of an SSE opening is held back.
#[derive(Clone, Copy, Debug)]
pub struct SseHold {
    pub max_bytes: usize,
    pub max_time: Duration,
}

/// Read into `out` until the body ends (true) or `out` holds `limit` bytes (false). Read
/// straight into `out`: a zeroed 16 KB chunk per call showed in the proxy's profile.
fn read_up_to(reader: &mut impl Read, out: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    let want = limit.saturating_sub(out.len()) as u64;
    reader.take(want).read_to_end(out)?;
    Ok(out.len() < limit)
}

/// Hold back what the decision needs: error bodies (bounded), small complete bodies, and
/// for SSE on model requests the opening up to the first content event.
pub fn hold(answer: Answer, model_request: bool, sse: SseHold) -> io::Result<Held> {
    let Answer {
        status,
        headers,
        body: mut reader,
    } = answer;
    let content_length = reader.content_length();
    let is_sse = headers
        .get("content-type")
        .is_some_and(|v| v.trim_ascii_start().starts_with(b"text/event-stream"));
    let mut evidence = ResponseEvidence {
        status,
        headers,
        body: Vec::new(),
        from_stream_event: false,
    };
    let mut held = Vec::new();
    let success = (200..300).contains(&status);
    let rest = if success && is_sse && model_request {
        // Read on this thread, each wait bounded by the end of the hold (see `abandon`).
        let _hold = abandon::hold_until(Instant::now() + sse.max_time);
        let mut chunk = [0u8; READ_CHUNK];
        let mut done = false;
        loop {
            match scan_opening(&held) {
                Opening::Undecided => {}
                Opening::Content => break,
                Opening::Error { status, body } => {
                    evidence.status = status;
                    evidence.body = body;
                    evidence.from_stream_event = true;
                    break;
                }
            }
            if held.len() >= sse.max_bytes {
                break;
            }
            match reader.read(&mut chunk) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => held.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if abandon::is_hold_time_up(&e) => break,
                Err(e) => return Err(e),
            }
        }
        if done {
            Rest::Done
        } else {
            Rest::Reader(reader)
        }
    } else if !success || content_length.is_some_and(|n| n <= MAX_EVIDENCE_BODY as u64) {
        held.reserve_exact(content_length.map_or(0, |n| n.min(MAX_EVIDENCE_BODY as u64) as usize));
        let complete = read_up_to(&mut reader, &mut held, MAX_EVIDENCE_BODY)?;
        evidence.body = held.clone();
        if complete {
            Rest::Done
        } else {
            Rest::Reader(reader)
        }
    } else {
        Rest::Reader(reader)
    };
    Ok(Held {
        status,
        held,
        rest,
        content_length,
        evidence,
    })
}

/// The request facts that shape how a response is framed.
#[derive(Clone, Copy, Debug)]
pub struct Framing {
    pub head_request: bool,
    pub http10: bool,
    pub keep_alive: bool,
}

/// Write a held response to the harness and stream the rest. Returns whether the
/// connection can carry another request. A failed write drops the upstream reader, which
/// closes the upstream connection.
pub fn deliver(out: &mut impl Write, held: Held, how: Framing) -> bool {
    deliver_watched(out, held, how, None)
}

/// Sees each streamed chunk before it is sent to the harness.
pub type ChunkWatch<'a> = &'a mut dyn FnMut(&[u8]);

/// [`deliver`], showing every chunk streamed after the held opening to `watch` before it
/// is sent (to record late errors; it never changes what the harness receives).
pub fn deliver_watched(
    out: &mut impl Write,
    held: Held,
    how: Framing,
    mut watch: Option<ChunkWatch<'_>>,
) -> bool {
    let headers = downstream_response_headers(&held.evidence.headers);
    let no_body = how.head_request || held.status < 200 || held.status == 204 || held.status == 304;
    let framing = if no_body {
        ResponseFraming::Empty
    } else if matches!(held.rest, Rest::Done) {
        ResponseFraming::Length(held.held.len() as u64)
    } else if let Some(n) = held.content_length {
        ResponseFraming::Length(n)
    } else if how.http10 {
        ResponseFraming::Close
    } else {
        ResponseFraming::Chunked
    };
    let keep_alive = how.keep_alive && framing != ResponseFraming::Close;
    let mut first = framing::encode_head(held.status, headers.iter().copied(), framing, keep_alive);
    if no_body {
        return out.write_all(&first).is_ok() && keep_alive;
    }
    let chunked = framing == ResponseFraming::Chunked;
    let mut scratch = Vec::new();
    if chunked {
        if !held.held.is_empty() {
            first.extend_from_slice(format!("{:x}\r\n", held.held.len()).as_bytes());
            first.extend_from_slice(&held.held);
            first.extend_from_slice(b"\r\n");
        }
    } else {
        first.extend_from_slice(&held.held);
    }
    if out.write_all(&first).is_err() {
        return false;
    }
    let mut sent = held.held.len() as u64;
    let mut send = |data: &[u8]| -> io::Result<()> {
        sent += data.len() as u64;
        if chunked {
            framing::write_chunk(out, &mut scratch, data)
        } else {
            out.write_all(data)
        }
    };
    let ok = match held.rest {
        Rest::Done => true,
        Rest::Reader(mut reader) => {
            let mut buf = [0u8; READ_CHUNK];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        if let Some(w) = watch.as_deref_mut() {
                            w(&buf[..n]);
                        }
                        if send(&buf[..n]).is_err() {
                            break false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break false,
                }
            }
        }
    };
    if !ok {
        return false;
    }
    match framing {
        ResponseFraming::Chunked => out.write_all(framing::LAST_CHUNK).is_ok() && keep_alive,
        ResponseFraming::Length(n) => sent == n && keep_alive,
        _ => false,
    }
}

/// Write a locally produced reply.
pub fn write_local(out: &mut impl Write, reply: &LocalReply, keep_alive: bool) -> bool {
    let mut bytes = framing::encode_head(
        reply.status,
        reply
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice())),
        ResponseFraming::Length(reply.body.len() as u64),
        keep_alive,
    );
    bytes.extend_from_slice(&reply.body);
    out.write_all(&bytes).is_ok() && keep_alive
}
