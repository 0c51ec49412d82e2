//! The harness's request with and without 1,000 idle attacker connections open on the
//! session proxy (issue 17, finding 1: connections that never show the session secret must
//! not lock the harness out, nor slow it down). Writes the "Proxy under idle connections"
//! section of docs/performance.md (or the path in `OMUX_BENCH_OUT`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_mux::config::builtin;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::model::RouteKey;
use oauth_mux::proxy::durable_pool::{DurablePool, PoolAccount};
use oauth_mux::proxy::pool::Credential;
use oauth_mux::proxy::{self, Harness, ProxyConfig};
use oauth_mux::store::paths::Dirs;

const TOKEN: &str = "bench-token-idle-connections";
const IDLE: usize = 1000;
const REQUESTS: usize = 400;

fn raise_fd_limit() {
    // SAFETY: get/set of this process's own limit with valid pointers.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// One request of the harness on a fresh connection, from connect to the whole answer.
fn harness_request(addr: SocketAddr, secret: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = br#"{"model":"m","input":[]}"#;
    let head = format!(
        "POST /{secret}/backend-api/codex/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer placeholder\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let status = String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50 and p99 of `REQUESTS` harness requests, and how many were answered 200.
fn measure(addr: SocketAddr, secret: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(REQUESTS);
    let mut ok = 0;
    for _ in 0..REQUESTS {
        let (status, took) = harness_request(addr, secret);
        ok += usize::from(status == 200);
        times.push(took);
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), ok)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn write_section(section: &str) {
    const BEGIN: &str = "<!-- idle-connections:begin -->";
    const END: &str = "<!-- idle-connections:end -->";
    let path = std::env::var("OMUX_BENCH_OUT").unwrap_or_else(|_| "docs/performance.md".into());
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Performance\n".into());
    let block = format!("{BEGIN}\n{section}{END}\n");
    let out = match (existing.find(BEGIN), existing.find(END)) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}{block}{}",
                &existing[..a],
                &existing[b + END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!(
            "{}\n{block}",
            existing.trim_end_matches('\n').to_string() + "\n"
        ),
    };
    std::fs::write(&path, out).unwrap();
    println!("wrote {path}");
}

fn main() {
    raise_fd_limit();
    let state = tempfile::tempdir().unwrap();
    let root = state.path().to_path_buf();
    let dirs = Dirs::resolve(&|k: &str| match k {
        "OMUX_CONFIG" => Some(root.join("config.json").display().to_string()),
        "OMUX_STATE_DIR" => Some(root.join("state").display().to_string()),
        "OMUX_RUNTIME_DIR" => Some(root.join("run").display().to_string()),
        "HOME" => Some(root.display().to_string()),
        _ => None,
    })
    .unwrap();
    let fake = FakeProvider::start(vec![(TOKEN.into(), Behaviour::SmallJson)]).unwrap();
    let account = PoolAccount {
        label: "one".into(),
        route_key: RouteKey::new("codex", "one", Some("codex-max")),
        credential: Credential::CodexChatgpt {
            access_token: TOKEN.into(),
            account_id: "bench".into(),
        },
        upstream: None,
        priority: 10,
    };
    let pool = DurablePool::new(
        "bench",
        builtin::definition("codex").unwrap(),
        vec![account],
        dirs,
        95.0,
    )
    .unwrap();
    let config = ProxyConfig::new(Harness::Codex, fake.origin());
    let handle = proxy::start(config, Arc::new(pool), proxy::frames::discard()).unwrap();
    let addr = handle.addr();
    let secret = handle.base_url().rsplit('/').next().unwrap().to_string();

    // Warm up, then measure without and with idle attacker connections.
    measure(addr, &secret);
    let (quiet_p50, quiet_p99, quiet_ok) = measure(addr, &secret);
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (busy_p50, busy_p99, busy_ok) = measure(addr, &secret);
    // How many of the idle connections the proxy closed to make room.
    let mut closed = 0;
    for mut c in idle {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    handle.shutdown();

    let when = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let section = format!(
        "## Proxy under idle connections (issue 17)\n\n\
Measured by `just bench-idle` (benches/idle_connections.rs) on {when}, {cores} cores. The harness's request\n\
(a small Codex model request on a fresh connection, from connect to the whole answer, against the\n\
loopback fake provider, over the durable pool) {REQUESTS} times with no other connection, then {REQUESTS} times\n\
with {IDLE} attacker connections open that never send a byte. The proxy keeps 64 connection slots;\n\
a connection that has not shown the session secret is the first to give its slot to a newcomer.\n\n\
| measure | no idle connections | {IDLE} idle connections |\n\
|---|---|---|\n\
| harness request, p50 | {} | {} |\n\
| harness request, p99 | {} | {} |\n\
| answered 200 | {quiet_ok} of {REQUESTS} | {busy_ok} of {REQUESTS} |\n\n\
Of the {IDLE} idle connections, {closed} had been closed by the proxy to make room when the run\n\
ended (the rest sat in slots, each closed after the 10 s first-request deadline at the latest).\n\n",
        ms(quiet_p50),
        ms(busy_p50),
        ms(quiet_p99),
        ms(busy_p99),
    );
    print!("{section}");
    write_section(&section);
}
