//! The session proxy under the attacks of issue 17: idle connections that try to lock the
//! harness out (finding 1), floods of refused requests (4), a harness that gives up (5),
//! targets the upstream client cannot express and heads over the limit (6), methods, dot
//! and empty segments the harness never sends (7). The proxy runs on the kit's rig (the
//! production pool over a sandbox's store), so "nothing recorded" is read from the health
//! store.

mod kit;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kit::proxy_rig::{self, Rig, harness_kind};
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::harness::status::summarize_file;
use oauth_mux::proxy::frames::Frame;
use oauth_mux::proxy::{Harness, ProxyConfig};

/// The issue's bound for the harness's request (finding 1) and for a freed slot (finding 5).
const WITHIN: Duration = Duration::from_secs(1);
/// Generous bound for the test's own steps on a loaded machine (never a performance claim).
const SETUP: Duration = Duration::from_secs(30);

/// Nothing listens there: a session whose requests must never leave the proxy.
const NOWHERE: &str = "http://127.0.0.1:9";

/// A session over the production pool with one account, `one`, answered by the fake.
fn start_session(harness: Harness, tune: impl FnOnce(&mut ProxyConfig)) -> Rig {
    Rig::with(harness, &[("one", Behaviour::SmallJson)], tune)
}

/// Every turn the proxy recorded (model requests and side calls alike).
fn turns(rig: &Rig) -> usize {
    rig.frames()
        .iter()
        .filter(|f| matches!(f, Frame::ProxyTurn { .. }))
        .count()
}

/// Raw request bytes on a fresh connection; the status line's code (0 when none came).
fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    proxy_rig::raw_status(addr, request, Duration::from_secs(10))
}

fn codex_model_request(secret: &str) -> Vec<u8> {
    let body = br#"{"model":"gpt-6.1-sol","input":[]}"#;
    let mut req = format!(
        "POST /{secret}/backend-api/codex/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer harness-placeholder\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// Open `n` connections that never send a byte.
fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let conns: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Let the accept loop take them all before the harness comes.
    std::thread::sleep(Duration::from_millis(300));
    conns
}

/// The harness's request, timed from connect to the whole answer.
fn timed_harness_request(addr: SocketAddr, secret: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = raw_status(addr, &codex_model_request(secret));
    (status, started.elapsed())
}

#[test]
fn idle_connections_without_the_secret_do_not_lock_the_harness_out() {
    let session = start_session(Harness::Codex, |_| {});
    let _idle = idle_connections(session.addr(), 64);
    let (status, took) = timed_harness_request(session.addr(), &session.secret());
    eprintln!("64 idle connections: the harness's request answered {status} in {took:?}");
    assert_eq!(
        status, 200,
        "the harness was locked out by 64 idle connections"
    );
    assert!(took < WITHIN, "the harness's request took {took:?}");
}

#[test]
fn many_more_idle_connections_than_slots_still_leave_room_for_the_harness() {
    let session = start_session(Harness::Codex, |_| {});
    let _idle = idle_connections(session.addr(), 300);
    for _ in 0..3 {
        let (status, took) = timed_harness_request(session.addr(), &session.secret());
        assert_eq!(status, 200);
        assert!(took < WITHIN, "the harness's request took {took:?}");
    }
}

#[test]
fn the_tls_side_is_not_locked_out_by_connections_that_never_say_hello() {
    let session = start_session(Harness::Codex, |c| {
        c.upstream = NOWHERE.to_owned();
        c.tls_side_listener = true;
    });
    let base = session.handle().tls_base_url().unwrap();
    let tls_addr: SocketAddr = base
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _idle = idle_connections(tls_addr, 64);
    let ca = session.handle().ca_pem().unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(ca.as_bytes())
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into();
    let started = Instant::now();
    let answer = agent
        .get(format!("{base}/backend-api/wham/accounts/check"))
        .call();
    let took = started.elapsed();
    let status = answer
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("the harness's TLS request failed: {e}"));
    assert_eq!(status, 200);
    assert!(took < WITHIN, "the harness's TLS request took {took:?}");
}

#[test]
fn a_connection_that_never_shows_the_secret_is_closed_after_the_first_request_deadline() {
    let session = start_session(Harness::Codex, |c| {
        c.upstream = NOWHERE.to_owned();
        c.limits.first_request_timeout = Duration::from_millis(300);
    });
    let mut idle = TcpStream::connect(session.addr()).unwrap();
    idle.set_read_timeout(Some(SETUP)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "nothing is written to a connection that sent nothing");
    assert!(
        started.elapsed() < SETUP,
        "the connection stayed open for the keep-alive idle time"
    );
}

#[test]
fn ten_thousand_refused_requests_grow_the_artifact_by_less_than_ten_kilobytes() {
    let mut session = Rig::with_artifact(Harness::Claude, &[("one", Behaviour::SmallJson)], |c| {
        c.upstream = NOWHERE.to_owned();
    });
    let artifact = session.artifact().to_path_buf();
    let before = std::fs::metadata(&artifact).unwrap().len();
    let addr = session.addr();
    let refused = Arc::new(AtomicU32::new(0));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let refused = refused.clone();
            scope.spawn(move || {
                for _ in 0..2_500 {
                    let status = raw_status(
                        addr,
                        b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
                    );
                    if status == 403 {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(refused.load(Ordering::SeqCst), 10_000);
    let health = session.finish();
    let grown = std::fs::metadata(&artifact).unwrap().len() - before;
    eprintln!("10,000 refused requests grew the artifact by {grown} bytes");
    assert!(
        grown < 10 * 1024,
        "10,000 refused requests grew the artifact by {grown} bytes"
    );
    assert!(health.is_empty(), "a refused request touched an account");
    // The refusals are still accounted for, in summary.
    let summary = summarize_file(&artifact, harness_kind(Harness::Claude)).unwrap();
    assert_eq!(summary.refused_requests, 10_000);
}

/// An upstream that reads requests and never answers; notes when the proxy hangs up.
struct HangingUpstream {
    origin: String,
    received: Arc<AtomicU32>,
    hung_up: Arc<AtomicBool>,
}

impl HangingUpstream {
    fn start() -> HangingUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicU32::new(0));
        let hung_up = Arc::new(AtomicBool::new(false));
        let (seen, closed) = (received.clone(), hung_up.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (seen, closed) = (seen.clone(), closed.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut counted = false;
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(_) if !counted => {
                                counted = true;
                                seen.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(_) => {}
                        }
                    }
                    closed.store(true, Ordering::SeqCst);
                });
            }
        });
        HangingUpstream {
            origin,
            received,
            hung_up,
        }
    }
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

#[test]
fn a_harness_that_gives_up_frees_its_slot_and_the_upstream_request_is_aborted() {
    let upstream = HangingUpstream::start();
    let session = start_session(Harness::Codex, |c| {
        c.upstream = upstream.origin.clone();
        c.max_connections = 1;
    });
    let secret = session.secret();
    let mut harness = TcpStream::connect(session.addr()).unwrap();
    harness.write_all(&codex_model_request(&secret)).unwrap();
    wait_until("the upstream request", SETUP, || {
        upstream.received.load(Ordering::SeqCst) == 1
    });
    // The harness gives up.
    drop(harness);
    let gave_up = Instant::now();
    // Its slot is free again: another request of the harness is answered (the usage check is
    // answered by the proxy itself), not refused with 503.
    let usage = format!(
        "GET /{secret}/backend-api/wham/usage HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    );
    loop {
        let status = raw_status(session.addr(), usage.as_bytes());
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "unexpected answer");
        assert!(
            gave_up.elapsed() < WITHIN,
            "the abandoned request still held its slot after {WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let freed = gave_up.elapsed();
    assert!(freed < WITHIN);
    wait_until("the upstream hang-up", WITHIN, || {
        upstream.hung_up.load(Ordering::SeqCst)
    });
    eprintln!(
        "abandoned request: slot free again after {freed:?}, upstream hung up after {:?}",
        gave_up.elapsed()
    );
    assert_eq!(
        turns(&session),
        0,
        "an abandoned request is not an account's failure"
    );
}

/// A request head with `target`, for the Claude proxy.
fn claude_request(method: &str, target: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {target} HTTP/1.1\r\nhost: x\r\nx-api-key: harness-placeholder\r\ncontent-type: application/json\r\n{extra}connection: close\r\ncontent-length: 2\r\n\r\n{{}}"
    )
    .into_bytes()
}

#[test]
fn targets_the_upstream_cannot_express_and_oversized_heads_never_reach_an_account() {
    let mut session = start_session(Harness::Claude, |_| {});
    let secret = session.secret();
    let big = |n: usize| format!("x-filler: {}\r\n", "a".repeat(n));
    let cases: Vec<(String, Vec<u8>)> = vec![
        (
            "raw \"".into(),
            claude_request("POST", &format!("/{secret}/v1/messages\"x"), ""),
        ),
        (
            "raw <".into(),
            claude_request("POST", &format!("/{secret}/v1/<messages"), ""),
        ),
        (
            "raw >".into(),
            claude_request("POST", &format!("/{secret}/v1/messages>"), ""),
        ),
        (
            "raw {".into(),
            claude_request("POST", &format!("/{secret}/v1/{{messages}}"), ""),
        ),
        (
            "raw | in the query".into(),
            claude_request("POST", &format!("/{secret}/v1/messages?a|b"), ""),
        ),
        (
            "a 33 KiB head".into(),
            claude_request("POST", &format!("/{secret}/v1/messages"), &big(33 * 1024)),
        ),
        (
            "a 48 KiB head".into(),
            claude_request("POST", &format!("/{secret}/v1/messages"), &big(48 * 1024)),
        ),
        (
            "a 63 KiB head".into(),
            claude_request("POST", &format!("/{secret}/v1/messages"), &big(63 * 1024)),
        ),
    ];
    for (what, request) in &cases {
        let status = raw_status(session.addr(), request);
        assert!(
            status == 400 || status == 431,
            "{what}: answered {status}, not refused as the request's fault"
        );
    }
    assert_eq!(
        session.fake.total_calls(),
        0,
        "a refused request reached the upstream"
    );
    assert_eq!(
        turns(&session),
        0,
        "a refused request was recorded as a turn"
    );
    assert!(
        session.finish().is_empty(),
        "a refused request left a health record"
    );
}

#[test]
fn methods_and_paths_the_harness_never_sends_are_not_forwarded_with_a_credential() {
    // An upstream with a path prefix, which `..` must not leave.
    let mut session = start_session(Harness::Claude, |c| {
        c.upstream.push_str("/gateway/anthropic")
    });
    let secret = session.secret();
    let target = |rest: &str| format!("/{secret}{rest}");
    let cases = [
        ("TRACE", target("/v1/messages")),
        ("CONNECT", target("/v1/messages")),
        ("OPTIONS", target("/v1/messages")),
        ("PROPFIND", target("/v1/messages")),
        ("POST", target("/v1/../v1/messages")),
        ("POST", target("/v1/../../../admin")),
        ("GET", target("/../../etc/passwd")),
        ("POST", target("/v1/./messages")),
        ("POST", target("/v1/%2e%2e/%2E%2E/admin")),
        ("POST", target("/v1//messages")),
        ("POST", target("//v1/messages")),
        ("POST", target("/v1/messages%2f..%2f..%2fadmin")),
        ("GET", target("/")),
        ("GET", target("/admin/keys")),
    ];
    for (method, path) in &cases {
        let status = raw_status(session.addr(), &claude_request(method, path, ""));
        assert!(
            matches!(status, 400 | 404 | 405),
            "{method} {path}: answered {status}"
        );
    }
    assert_eq!(
        session.fake.total_calls(),
        0,
        "a request outside what the harness sends reached the upstream"
    );
    assert_eq!(turns(&session), 0);
    assert!(
        session.finish().is_empty(),
        "a refused request left a health record"
    );
}

#[test]
fn what_the_harness_sends_still_goes_through_under_the_upstreams_prefix() {
    let session = start_session(Harness::Claude, |c| c.upstream.push_str("/gateway"));
    let target = session.target("/v1/messages?beta=true");
    let status = raw_status(session.addr(), &claude_request("POST", &target, ""));
    // The fake answers 404 for any path but its own: the request reached it, prefixed.
    assert_eq!(status, 404);
    assert_eq!(session.fake.total_calls(), 1);
}
