//! The session proxy under the attacks of issue 17: idle connections that try to lock the
//! harness out (finding 1), floods of refused requests (4), a harness that gives up (5),
//! targets the upstream client cannot express and heads over the limit (6), methods, dot
//! and empty segments the harness never sends (7). The proxy runs over the production
//! (durable) pool in a temp dir, so "nothing recorded" is read from the health store.

mod proxy_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth_mux::config::builtin;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::harness::session::artifact_sink;
use oauth_mux::harness::status::{HarnessKind, StatusWriter};
use oauth_mux::model::RouteKey;
use oauth_mux::proxy::durable_pool::{DurablePool, PoolAccount};
use oauth_mux::proxy::frames::{FrameSink, ProxyFrame};
use oauth_mux::proxy::pool::Credential;
use oauth_mux::proxy::{self, Harness, ProxyConfig, ProxyHandle};
use oauth_mux::store::health_file::HealthFile;
use oauth_mux::store::paths::Dirs;
use proxy_support::token;

/// The issue's bound for the harness's request (finding 1) and for a freed slot (finding 5).
const WITHIN: Duration = Duration::from_secs(1);
/// Generous bound for the test's own steps on a loaded machine (never a performance claim).
const SETUP: Duration = Duration::from_secs(30);

/// A proxy session over a durable pool with one account, writing into a temp dir.
struct Session {
    _dir: tempfile::TempDir,
    dirs: Dirs,
    proxy: Option<ProxyHandle>,
    frames: Arc<Mutex<Vec<ProxyFrame>>>,
    /// The status artifact, when the session writes one.
    artifact: Option<PathBuf>,
}

impl Session {
    fn start(harness: Harness, upstream: &str, tune: impl FnOnce(&mut ProxyConfig)) -> Session {
        Session::start_with(harness, upstream, tune, false)
    }

    fn start_with(
        harness: Harness,
        upstream: &str,
        tune: impl FnOnce(&mut ProxyConfig),
        with_artifact: bool,
    ) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let dirs = Dirs::resolve(&|k: &str| match k {
            "OMUX_CONFIG" => Some(root.join("config.json").display().to_string()),
            "OMUX_STATE_DIR" => Some(root.join("state").display().to_string()),
            "OMUX_RUNTIME_DIR" => Some(root.join("run").display().to_string()),
            "HOME" => Some(root.display().to_string()),
            _ => None,
        })
        .unwrap();
        let (provider, capability) = match harness {
            Harness::Codex => ("codex", "codex-max"),
            Harness::Claude => ("claude", "claude-code"),
        };
        let account = PoolAccount {
            label: "one".into(),
            route_key: RouteKey::new(provider, "one", Some(capability)),
            credential: match harness {
                Harness::Codex => Credential::CodexChatgpt {
                    access_token: token("one"),
                    account_id: "raw-one".into(),
                },
                Harness::Claude => Credential::ClaudeOauth {
                    access_token: token("one"),
                },
            },
            upstream: None,
            priority: 10,
        };
        let definition = builtin::definition(provider).unwrap();
        let pool = DurablePool::new("work", definition, vec![account], dirs.clone(), 95.0).unwrap();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let collect = {
            let frames = frames.clone();
            move |f: &ProxyFrame| frames.lock().unwrap().push(f.clone())
        };
        let (sink, artifact): (FrameSink, _) = if with_artifact {
            let sessions = root.join("state/sessions");
            let writer = Arc::new(StatusWriter::create(&sessions, HarnessKind::Claude).unwrap());
            let path = sessions.join(writer.file_name());
            (artifact_sink(writer, collect), Some(path))
        } else {
            (Arc::new(move |f: ProxyFrame| collect(&f)), None)
        };
        let mut config = ProxyConfig::new(harness, upstream);
        config.retry_backoff = Duration::from_millis(5);
        tune(&mut config);
        let proxy = proxy::start(config, Arc::new(pool), sink).unwrap();
        Session {
            _dir: dir,
            dirs,
            proxy: Some(proxy),
            frames,
            artifact,
        }
    }

    fn handle(&self) -> &ProxyHandle {
        self.proxy.as_ref().unwrap()
    }

    fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }

    /// The session secret (the first path segment of the base URL).
    fn secret(&self) -> String {
        let base = self.handle().base_url();
        base.rsplit('/').next().unwrap().to_string()
    }

    /// End the session; what the health store recorded, by route key.
    fn finish(&mut self) -> Vec<String> {
        self.proxy.take().unwrap().shutdown();
        HealthFile::load(&self.dirs.health_file())
            .unwrap()
            .routes()
            .keys()
            .cloned()
            .collect()
    }

    fn turns(&self) -> usize {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter(|f| matches!(f, ProxyFrame::ProxyTurn { .. }))
            .count()
    }
}

/// Raw request bytes on a fresh connection; the status line's code (0 when none came).
fn raw_status(addr: SocketAddr, request: &[u8]) -> u16 {
    let text = proxy_support::raw(addr, request, Duration::from_secs(10));
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
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
    let fake = FakeProvider::start(vec![(token("one"), Behaviour::SmallJson)]).unwrap();
    let session = Session::start(Harness::Codex, &fake.origin(), |_| {});
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
    let fake = FakeProvider::start(vec![(token("one"), Behaviour::SmallJson)]).unwrap();
    let session = Session::start(Harness::Codex, &fake.origin(), |_| {});
    let _idle = idle_connections(session.addr(), 300);
    for _ in 0..3 {
        let (status, took) = timed_harness_request(session.addr(), &session.secret());
        assert_eq!(status, 200);
        assert!(took < WITHIN, "the harness's request took {took:?}");
    }
}

#[test]
fn the_tls_side_is_not_locked_out_by_connections_that_never_say_hello() {
    let session = Session::start(Harness::Codex, "http://127.0.0.1:9", |c| {
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
    let session = Session::start(Harness::Codex, "http://127.0.0.1:9", |c| {
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
    let mut session = Session::start_with(Harness::Claude, "http://127.0.0.1:9", |_| {}, true);
    let artifact = session.artifact.clone().unwrap();
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
    let summary = oauth_mux::harness::status::summary::summarize(
        HarnessKind::Claude,
        &oauth_mux::harness::status::read_artifact(&artifact).unwrap(),
    );
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
    let session = Session::start(Harness::Codex, &upstream.origin, |c| {
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
        session.turns(),
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
    let fake = FakeProvider::start(vec![(token("one"), Behaviour::SmallJson)]).unwrap();
    let mut session = Session::start(Harness::Claude, &fake.origin(), |_| {});
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
        fake.total_calls(),
        0,
        "a refused request reached the upstream"
    );
    assert_eq!(
        session.turns(),
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
    let fake = FakeProvider::start(vec![(token("one"), Behaviour::SmallJson)]).unwrap();
    // An upstream with a path prefix, which `..` must not leave.
    let upstream = format!("{}/gateway/anthropic", fake.origin());
    let mut session = Session::start(Harness::Claude, &upstream, |_| {});
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
        fake.total_calls(),
        0,
        "a request outside what the harness sends reached the upstream"
    );
    assert_eq!(session.turns(), 0);
    assert!(
        session.finish().is_empty(),
        "a refused request left a health record"
    );
}

#[test]
fn what_the_harness_sends_still_goes_through_under_the_upstreams_prefix() {
    let fake = FakeProvider::start(vec![(token("one"), Behaviour::SmallJson)]).unwrap();
    let upstream = format!("{}/gateway", fake.origin());
    let session = Session::start(Harness::Claude, &upstream, |_| {});
    let target = format!("/{}/v1/messages?beta=true", session.secret());
    let status = raw_status(session.addr(), &claude_request("POST", &target, ""));
    // The fake answers 404 for any path but its own: the request reached it, prefixed.
    assert_eq!(status, 404);
    assert_eq!(fake.total_calls(), 1);
}
