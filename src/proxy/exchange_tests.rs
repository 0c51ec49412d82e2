use std::collections::VecDeque;
use std::sync::Mutex;

use ureq::unversioned::transport::{Buffers, LazyBuffers};

use super::*;

/// A connection that answers from a script: each wait for input delivers the next piece
/// (an empty piece is the provider's end of the connection); what is written is kept.
#[derive(Debug)]
struct Scripted {
    buffers: LazyBuffers,
    pieces: VecDeque<Vec<u8>>,
    written: Arc<Mutex<Vec<Vec<u8>>>>,
    open: bool,
}

impl Scripted {
    fn new(pieces: Vec<Vec<u8>>, output: usize) -> (Scripted, Arc<Mutex<Vec<Vec<u8>>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let scripted = Scripted {
            buffers: LazyBuffers::new(4096, output),
            pieces: pieces.into(),
            written: written.clone(),
            open: true,
        };
        (scripted, written)
    }
}

impl Transport for Scripted {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _: NextTimeout) -> Result<(), Error> {
        let bytes = self.buffers.output()[..amount].to_vec();
        self.written.lock().unwrap().push(bytes);
        Ok(())
    }

    fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
        let Some(piece) = self.pieces.pop_front() else {
            return Err(Error::Io(io::ErrorKind::TimedOut.into()));
        };
        if piece == RESET {
            return Err(Error::Io(io::ErrorKind::ConnectionReset.into()));
        }
        // As much as fits, as a socket gives; the rest waits for the next read.
        let free = self.buffers.input_append_buf();
        let n = piece.len().min(free.len());
        free[..n].copy_from_slice(&piece[..n]);
        self.buffers.input_appended(n);
        if n < piece.len() {
            self.pieces.push_front(piece[n..].to_vec());
        }
        Ok(!piece.is_empty())
    }

    fn is_open(&mut self) -> bool {
        self.open
    }
}

/// A script piece that is the provider resetting the connection.
const RESET: &[u8] = b"<reset>";

const WAITS: Waits = Waits {
    send: Duration::from_secs(5),
    response: Duration::from_secs(5),
    read_idle: Duration::from_secs(5),
};

const ORIGIN: &str = "http://provider.test";

/// The head read from a connection that delivers `pieces`, and its body.
fn opened(
    pieces: Vec<Vec<u8>>,
    head_request: bool,
) -> Result<(Head, Body, Arc<Connections>), Error> {
    let (mut scripted, _) = Scripted::new(pieces, 1024);
    let head = read_head(&mut scripted, head_request, &WAITS)?;
    let connections = Arc::new(Connections::new(4));
    let body = Body::new(
        Box::new(scripted),
        &head,
        &WAITS,
        connections.clone(),
        ORIGIN.into(),
    );
    Ok((head, body, connections))
}

/// The answer `wire` gives, delivered in `pieces` of that size, read whole: its status,
/// body, and whether its connection went back to the idle ones.
fn answer(wire: &[u8], piece: usize, head_request: bool) -> Result<(u16, Vec<u8>, bool), Error> {
    let mut pieces: Vec<Vec<u8>> = wire.chunks(piece).map(<[u8]>::to_vec).collect();
    pieces.push(Vec::new());
    let (head, mut body, connections) = opened(pieces, head_request)?;
    let mut out = Vec::new();
    body.read_to_end(&mut out).map_err(Error::from)?;
    drop(body);
    Ok((head.status, out, connections.take(ORIGIN).is_some()))
}

/// Every way of cutting the answer into pieces reads the same.
fn answer_in_every_piece_size(wire: &[u8]) -> (u16, Vec<u8>, bool) {
    let whole = answer(wire, wire.len(), false).unwrap();
    for piece in 1..wire.len() {
        assert_eq!(
            answer(wire, piece, false).unwrap(),
            whole,
            "pieces of {piece}"
        );
    }
    whole
}

#[test]
fn urls_split_into_origin_authority_and_target() {
    let url = split_url("https://api.anthropic.com/v1/messages?beta=true").unwrap();
    assert_eq!(url.origin, "https://api.anthropic.com");
    assert_eq!(url.host, "api.anthropic.com");
    assert_eq!(url.target, "/v1/messages?beta=true");
    assert!(url.https);
    let url = split_url("http://127.0.0.1:8080").unwrap();
    assert_eq!(
        (url.origin, url.target, url.https),
        ("http://127.0.0.1:8080", "/", false)
    );
    let url = split_url("http://[::1]:9/a#frag").unwrap();
    assert_eq!((url.host, url.target), ("[::1]:9", "/a"));
    // The scheme's default port is left out of `host`, as clients do.
    let url = split_url("https://h.test:443/x").unwrap();
    assert_eq!((url.origin, url.host), ("https://h.test:443", "h.test"));
    assert_eq!(split_url("http://[::1]:80/").unwrap().host, "[::1]");
    assert_eq!(split_url("http://h:443/").unwrap().host, "h:443");
    // The session always joins a base and a path that starts with `/`; anything else is
    // refused rather than guessed at.
    for bad in [
        "ftp://h/x",
        "h/x",
        "http:///x",
        "http://user:pw@h/x",
        "http://h#x",
        "http://h?q",
    ] {
        assert!(matches!(split_url(bad), Err(Error::BadUri(_))), "{bad}");
    }
}

fn written(
    method: &str,
    url: &str,
    headers: &[UpstreamHeader<'_>],
    body: &[u8],
    output: usize,
) -> Result<Vec<Vec<u8>>, Error> {
    let (mut scripted, written) = Scripted::new(Vec::new(), output);
    write_request(
        &mut scripted,
        method,
        &split_url(url).unwrap(),
        headers,
        body,
        &WAITS,
    )?;
    let pieces = written.lock().unwrap().clone();
    Ok(pieces)
}

#[test]
fn a_request_is_written_as_given_with_host_and_length_added() {
    let headers: Vec<UpstreamHeader<'_>> = vec![
        ("content-type", b"application/json".as_slice().into()),
        ("authorization", b"Bearer tok".as_slice().into()),
    ];
    let pieces = written(
        "POST",
        "https://api.test:8443/v1/messages?x=1",
        &headers,
        b"{}",
        1024,
    )
    .unwrap();
    assert_eq!(pieces.len(), 1, "a small request leaves in one write");
    assert_eq!(
        String::from_utf8(pieces[0].clone()).unwrap(),
        "POST /v1/messages?x=1 HTTP/1.1\r\nhost: api.test:8443\r\ncontent-type: application/json\r\n\
         authorization: Bearer tok\r\ncontent-length: 2\r\n\r\n{}"
    );
    let get = written("GET", "http://h/v1/models", &[], b"", 1024).unwrap();
    assert_eq!(
        get,
        vec![b"GET /v1/models HTTP/1.1\r\nhost: h\r\n\r\n".to_vec()]
    );
    let empty_post = written("POST", "http://h/x", &[], b"", 1024).unwrap();
    assert!(String::from_utf8_lossy(&empty_post[0]).contains("content-length: 0\r\n"));
}

#[test]
fn a_request_larger_than_the_buffer_goes_out_in_full_buffers() {
    let body = vec![b'b'; 100];
    let pieces = written(
        "POST",
        "http://h/x",
        &[("x-a", b"1".as_slice().into())],
        &body,
        16,
    )
    .unwrap();
    assert!(pieces.iter().all(|p| p.len() <= 16));
    assert!(
        pieces[..pieces.len() - 1].iter().all(|p| p.len() == 16),
        "full writes but the last"
    );
    let whole: Vec<u8> = pieces.concat();
    let mut expected =
        b"POST /x HTTP/1.1\r\nhost: h\r\nx-a: 1\r\ncontent-length: 100\r\n\r\n".to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(whole, expected);
}

#[test]
fn a_field_that_would_split_the_request_is_refused_before_anything_is_written() {
    for (name, value) in [
        ("x-evil", b"a\r\nx-injected: 1".as_slice()),
        ("x-evil", b"a\nb".as_slice()),
        ("x-nul", b"a\0b".as_slice()),
        ("bad name", b"v".as_slice()),
        ("", b"v".as_slice()),
    ] {
        let headers: Vec<UpstreamHeader<'_>> = vec![(name, value.into())];
        let (mut scripted, written) = Scripted::new(Vec::new(), 1024);
        let err = write_request(
            &mut scripted,
            "POST",
            &split_url("http://h/x").unwrap(),
            &headers,
            b"",
            &WAITS,
        )
        .unwrap_err();
        assert!(matches!(err, Error::BadUri(_)), "{name:?}: {err:?}");
        assert!(written.lock().unwrap().is_empty(), "{name:?}: nothing sent");
    }
    let tab = written(
        "GET",
        "http://h/x",
        &[("x-ok", b"a\tb \x80".as_slice().into())],
        b"",
        1024,
    );
    assert!(tab.is_ok(), "HTAB, SP and obs-text are allowed");
}

/// Each answer, cut into pieces every way, reads as its status, its body and whether its
/// connection was kept.
fn each_reads_as(cases: &[(&[u8], u16, &[u8], bool)]) {
    for (wire, status, body, kept) in cases {
        let read = answer_in_every_piece_size(wire);
        assert_eq!(
            read,
            (*status, body.to_vec(), *kept),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn length_framed_and_chunked_answers_are_read_to_their_end_and_their_connection_kept() {
    each_reads_as(&[
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
            200,
            b"{\"ok\":true}",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\n",
            200,
            b"hello 0123456789",
            true,
        ),
        // Repeated equal lengths are one length.
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok", 200, b"ok", true),
        // Interim answers are passed over.
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
              HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            200,
            b"ok",
            true,
        ),
        (b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n", 204, b"", true),
    ]);
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n";
    assert_eq!(
        answer(head, 64, true).unwrap(),
        (200, Vec::new(), true),
        "an answer to HEAD ends at its head"
    );
}

#[test]
fn an_http10_answer_that_asks_to_keep_the_connection_leaves_it_fit() {
    each_reads_as(&[(
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 2\r\n\r\nok",
        200,
        b"ok",
        true,
    )]);
}

#[test]
fn a_connection_the_answer_does_not_leave_fit_is_closed_not_kept() {
    each_reads_as(&[
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok", 200, b"ok", false),
        (b"HTTP/1.1 200 OK\r\n\r\nall of it", 200, b"all of it", false),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", 200, b"ok", false),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\ncontent-length: 2\r\n\r\nok",
            200,
            b"ok",
            false,
        ),
        (
            b"HTTP/1.0 200 OK\r\nconnection: close, keep-alive\r\ncontent-length: 2\r\n\r\nok",
            200,
            b"ok",
            false,
        ),
        // The transfer coding wins over the length, and the connection goes.
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            200,
            b"ok",
            false,
        ),
    ]);
    let extra = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokSTRAY";
    assert_eq!(
        answer(extra, extra.len(), false).unwrap(),
        (200, b"ok".to_vec(), false),
        "bytes past the body"
    );
}

#[test]
fn an_answer_cut_short_or_malformed_is_an_error() {
    let short = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc";
    let err = answer(short, 64, false).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    let short_chunk = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab";
    assert!(answer(short_chunk, 64, false).is_err());
    for bad in [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok".as_slice(),
        b"HTTP/1.1 200 OK\r\ncontent-length: two\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokk\r\n0\r\n\r\n",
        b"NOT HTTP\r\n\r\n",
    ] {
        let err = answer(bad, 64, false).unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::InvalidData),
            "{err:?}"
        );
    }
}

#[test]
fn a_close_before_any_answer_is_told_apart_from_one_inside_the_head() {
    let (mut silent, _) = Scripted::new(vec![Vec::new()], 64);
    let err = read_head(&mut silent, false, &WAITS).unwrap_err();
    assert!(failed_before_answering(&err), "{err:?}");
    let (mut cut, _) = Scripted::new(vec![b"HTTP/1.1 200".to_vec(), Vec::new()], 64);
    let err = read_head(&mut cut, false, &WAITS).unwrap_err();
    assert!(
        !failed_before_answering(&err),
        "part of a head came: not sent again"
    );
    assert!(!failed_before_answering(&Error::Timeout(
        Timeout::RecvResponse
    )));
}

#[test]
fn a_body_dropped_before_its_end_closes_its_connection() {
    let wire = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab".to_vec();
    let (_, mut body, connections) = opened(vec![wire, b"cd".to_vec()], false).unwrap();
    assert_eq!(body.content_length(), Some(4));
    let mut two = [0u8; 2];
    body.read_exact(&mut two).unwrap();
    drop(body);
    assert!(connections.take(ORIGIN).is_none());
}

#[test]
fn a_body_that_ends_with_the_connection_ends_cleanly_without_keeping_it() {
    // Close-delimited, ended by a close without TLS's close_notify or by a reset.
    for end in [Vec::new(), RESET.to_vec()] {
        let pieces = vec![b"HTTP/1.1 200 OK\r\n\r\nall of it".to_vec(), end.clone()];
        let (status, mut body, connections) = opened(pieces, false).unwrap();
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        assert_eq!(
            (status.status, out.as_slice()),
            (200, b"all of it".as_slice())
        );
        drop(body);
        assert!(connections.take(ORIGIN).is_none());
    }
    // A chunked body whose last chunk is followed by the close, not the trailer's end.
    let wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
    assert_eq!(
        answer(wire, 7, false).unwrap(),
        (200, b"ok".to_vec(), false)
    );
    // A length-framed one cut short by a reset is still an error.
    let pieces = vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nall".to_vec(),
        RESET.to_vec(),
    ];
    let (_, mut body, _) = opened(pieces, false).unwrap();
    assert!(body.read_to_end(&mut Vec::new()).is_err());
}

#[test]
fn lengths_and_sizes_are_plain_digits_and_trailers_are_bounded() {
    for bad in [
        b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok".to_vec(),
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n".to_vec(),
        [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n".as_slice(),
            &b"x-t: 1\r\n".repeat(MAX_TRAILER_LINES + 1),
            b"\r\n",
        ]
        .concat(),
    ] {
        let err = answer(&bad, 512, false).unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::InvalidData),
            "{err:?}"
        );
    }
}

#[test]
fn a_head_that_outgrows_the_input_buffer_is_refused_as_too_large() {
    let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
    while wire.len() < 5000 {
        wire.extend_from_slice(b"x-filler: 0123456789012345678901234567890123456789\r\n");
    }
    let err = answer(&wire, 1000, false).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn only_a_close_before_any_answer_sends_the_request_again() {
    let reset_at_once = vec![RESET.to_vec()];
    let (mut scripted, _) = Scripted::new(reset_at_once, 64);
    let err = read_head(&mut scripted, false, &WAITS).unwrap_err();
    assert!(failed_before_answering(&err), "{err:?}");
    let reset_inside = vec![b"HTTP/1.1 200".to_vec(), RESET.to_vec()];
    let (mut scripted, _) = Scripted::new(reset_inside, 64);
    let err = read_head(&mut scripted, false, &WAITS).unwrap_err();
    assert!(!failed_before_answering(&err), "{err:?}");
    // A harness that went away (`abandon` reports it as aborted) is never sent again.
    let aborted = Error::Io(io::ErrorKind::ConnectionAborted.into());
    assert!(!failed_before_answering(&aborted));
}
