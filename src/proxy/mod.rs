//! The managed-session failover proxy (SPEC §8): blocking HTTP/1.1 on 127.0.0.1 between a
//! harness and its provider. It swaps in the elected account's credential, holds back
//! responses the pool judges as "this account cannot serve this", replays the request on the
//! next account, and streams everything else byte-for-byte.
//!
//! ```no_run
//! use std::sync::Arc;
//! use oauth_mux::proxy::{self, Harness, ProxyConfig, frames, durable_pool::DurablePool};
//! # fn pool() -> DurablePool { unimplemented!() }
//! let handle = proxy::start(
//!     ProxyConfig::new(Harness::Claude, "https://api.anthropic.com"),
//!     Arc::new(pool()),
//!     frames::discard(),
//! )?;
//! println!("ANTHROPIC_BASE_URL={}", handle.base_url());
//! handle.shutdown();
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod abandon;
pub mod attempt;
pub mod coalesce;
pub mod connections;
pub mod durable_pool;
pub mod exchange;
pub mod fields;
pub mod frames;
pub mod framing;
pub mod headers;
pub mod lean_tcp;
pub mod pool;
pub mod reader;
pub mod refusals;
pub mod renewal;
pub mod replies;
pub mod resolver;
pub mod response;
pub mod server;
pub mod session;
pub mod slots;
pub mod sse;
pub mod target;
pub mod tls;
pub mod upstream;
pub mod usage;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use self::frames::FrameSink;
use self::pool::Pool;
use self::response::SseHold;
use self::session::Session;
use self::target::RequestRules;
use self::upstream::UpstreamOptions;

/// Which harness the session serves: decides error shapes and path families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Harness {
    Codex,
    Claude,
}

/// Everything a proxy session needs besides its pool.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub harness: Harness,
    /// Upstream origin (scheme, host, port), e.g. `https://chatgpt.com`.
    pub upstream: String,
    pub limits: framing::Limits,
    pub upstream_options: UpstreamOptions,
    /// Bound on holding back an SSE opening (bytes and time) before delivering anyway.
    pub sse_hold: SseHold,
    /// Concurrent connections per listener. When they run out, the oldest connection that
    /// has not shown the session secret is closed to make room; only when every one has,
    /// a newcomer gets 503 (plain HTTP) or a closed connection (TLS side).
    pub max_connections: usize,
    /// The methods and paths forwarded at all (the provider definition's
    /// `upstream.requests`); anything else is answered locally.
    pub requests: RequestRules,
    /// At most one `requests_refused` frame per this interval.
    pub refusal_report_interval: Duration,
    /// In-place retries for transient overload (529/5xx) and transport failures.
    pub retries_in_place: u32,
    /// First in-place backoff; doubled per retry.
    pub retry_backoff: Duration,
    /// Also serve the same routes over TLS on a second port, with a per-session CA (for
    /// Codex's interactive TUI, which wants an `https://` `chatgpt_base_url`).
    pub tls_side_listener: bool,
}

impl Harness {
    /// The built-in provider definition of this harness's wire protocol.
    pub fn provider(self) -> &'static str {
        match self {
            Harness::Codex => "codex",
            Harness::Claude => "claude",
        }
    }

    /// What the built-in provider definition allows through the proxy.
    pub fn builtin_request_rules(self) -> RequestRules {
        crate::config::builtin::definition(self.provider())
            .and_then(|def| def.upstream)
            .and_then(|up| up.requests)
            .unwrap_or(RequestRules {
                methods: Vec::new(),
                path_prefixes: Vec::new(),
            })
    }
}

impl ProxyConfig {
    /// Defaults for a harness and an upstream origin.
    pub fn new(harness: Harness, upstream: impl Into<String>) -> Self {
        ProxyConfig {
            harness,
            upstream: upstream.into(),
            limits: framing::Limits::default(),
            upstream_options: UpstreamOptions::default(),
            sse_hold: SseHold {
                max_bytes: 64 * 1024,
                max_time: Duration::from_secs(10),
            },
            max_connections: 64,
            requests: harness.builtin_request_rules(),
            refusal_report_interval: Duration::from_secs(60),
            retries_in_place: 2,
            retry_backoff: Duration::from_millis(250),
            tls_side_listener: false,
        }
    }
}

/// A running proxy. Dropping it shuts it down.
pub struct ProxyHandle {
    addr: SocketAddr,
    secret: Arc<str>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    tls: Option<(SocketAddr, String, JoinHandle<()>)>,
    session: Arc<Session>,
}

impl ProxyHandle {
    /// `http://127.0.0.1:PORT/<secret>`: the only prefix the proxy serves.
    pub fn base_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.secret)
    }

    /// The bound loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/<secret>` when the TLS side listener runs.
    pub fn tls_base_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(addr, _, _)| format!("https://{addr}/{}", self.secret))
    }

    /// The per-session CA certificate (PEM) the child must trust for the TLS side.
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|(_, pem, _)| pem.clone())
    }

    /// Stop accepting connections and make every recorded fact durable.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(accept) = self.accept.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = accept.join();
            if let Some((addr, _, tls_accept)) = self.tls.take() {
                let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
                let _ = tls_accept.join();
            }
            self.session.finish();
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A fresh 128-bit session secret, hex-encoded.
pub fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("reading OS randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Bind 127.0.0.1 on an ephemeral port and serve the session until shut down.
pub fn start(config: ProxyConfig, pool: Arc<dyn Pool>, frames: FrameSink) -> Result<ProxyHandle> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).context("binding the session proxy on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let secret: Arc<str> = new_secret()?.into();
    let max = config.max_connections;
    let want_tls = config.tls_side_listener;
    let session = Arc::new(Session::new(config, pool, frames)?);
    let stop = Arc::new(AtomicBool::new(false));
    let tls = if want_tls {
        let identity = tls::session_tls()?;
        let tls_listener = TcpListener::bind(("127.0.0.1", 0))
            .context("binding the session proxy's TLS side on 127.0.0.1")?;
        let tls_addr = tls_listener.local_addr()?;
        let (session, secret, stop) = (session.clone(), secret.clone(), stop.clone());
        let config = identity.config.clone();
        let handle = std::thread::Builder::new()
            .name("omux-proxy-tls".into())
            .spawn(move || {
                server::accept_loop(tls_listener, session, secret, stop, max, Some(config))
            })
            .context("starting the proxy TLS accept thread")?;
        Some((tls_addr, identity.ca_pem, handle))
    } else {
        None
    };
    let accept = {
        let (session, secret, stop) = (session.clone(), secret.clone(), stop.clone());
        std::thread::Builder::new()
            .name("omux-proxy-accept".into())
            .spawn(move || server::accept_loop(listener, session, secret, stop, max, None))
            .context("starting the proxy accept thread")?
    };
    Ok(ProxyHandle {
        addr,
        secret,
        stop,
        accept: Some(accept),
        tls,
        session,
    })
}
