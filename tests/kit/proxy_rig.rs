//! The session proxy in-process: the fake provider scripted per account, the production
//! pool over a [`Sandbox`]'s health store, a running proxy, every frame it emitted, and a
//! client that talks to it like a harness.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_mux::config::builtin;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::harness::session::artifact_sink;
use oauth_mux::harness::status::{HarnessKind, StatusWriter};
use oauth_mux::model::RouteKey;
use oauth_mux::model::health::{RouteHealth, RouteStatus};
use oauth_mux::proxy::durable_pool::{DurablePool, PoolAccount};
use oauth_mux::proxy::frames::{Frame, FrameSink};
use oauth_mux::proxy::pool::{Credential, Pool};
use oauth_mux::proxy::{self, Harness, ProxyConfig, ProxyHandle};
use oauth_mux::store::health_file::HealthFile;
use oauth_mux::store::paths::Dirs;

use super::canary;
use super::sandbox::Sandbox;

/// The profile every rig's pool serves.
pub const PROFILE: &str = "test-profile";

/// The provider and capability of a harness's pool.
pub fn provider_of(harness: Harness) -> (&'static str, &'static str) {
    match harness {
        Harness::Codex => ("codex", "codex-max"),
        Harness::Claude => ("claude", "messages"),
    }
}

/// The session record's name for `harness`.
pub fn harness_kind(harness: Harness) -> HarnessKind {
    match harness {
        Harness::Codex => HarnessKind::Codex,
        Harness::Claude => HarnessKind::Claude,
    }
}

/// The route key of account `label` in a rig of `harness`.
pub fn route_key(harness: Harness, label: &str) -> RouteKey {
    let (provider, capability) = provider_of(harness);
    RouteKey::new(provider, label, Some(capability))
}

/// Account `label` of a pool, carrying its canary credential; `priority` orders the pool.
pub fn pool_member(harness: Harness, label: &str, priority: i32) -> PoolAccount {
    PoolAccount {
        label: label.to_owned(),
        route_key: route_key(harness, label),
        priority,
        credential: match harness {
            Harness::Codex => Credential::CodexChatgpt {
                access_token: canary::token(label),
                account_id: canary::account_id(label),
            },
            Harness::Claude => Credential::ClaudeOauth {
                access_token: canary::token(label),
            },
        },
        upstream: None,
    }
}

/// The production pool over `labels` (first = highest priority) recording into `dirs`.
pub fn durable_pool(harness: Harness, labels: &[&str], dirs: &Dirs) -> DurablePool {
    let members = labels
        .iter()
        .enumerate()
        .map(|(i, label)| pool_member(harness, label, 100 - i as i32))
        .collect();
    let definition = builtin::definition(provider_of(harness).0).expect("built-in definition");
    DurablePool::new(PROFILE, definition, members, dirs.clone(), 95.0).expect("pool")
}

/// A running session proxy in front of the fake provider.
pub struct Rig {
    pub harness: Harness,
    pub fake: FakeProvider,
    pub pool: Arc<DurablePool>,
    pub sandbox: Sandbox,
    pub proxy: Option<ProxyHandle>,
    frames: Arc<Mutex<Vec<Frame>>>,
    artifact: Option<PathBuf>,
}

impl Rig {
    /// Accounts in priority order, each answered by the fake as scripted.
    pub fn new(harness: Harness, accounts: &[(&str, Behaviour)]) -> Rig {
        Rig::with(harness, accounts, |_| {})
    }

    /// [`Rig::new`], with the proxy's configuration tuned first (`c.upstream` may point it
    /// at another upstream than the fake, or under a path prefix of the fake).
    pub fn with(
        harness: Harness,
        accounts: &[(&str, Behaviour)],
        tune: impl FnOnce(&mut ProxyConfig),
    ) -> Rig {
        Rig::start(harness, accounts, tune, false)
    }

    /// [`Rig::with`], the frames also appended to a session status artifact in the
    /// sandbox's `sessions/` state dir, as a managed session writes them
    /// ([`Rig::artifact`]).
    pub fn with_artifact(
        harness: Harness,
        accounts: &[(&str, Behaviour)],
        tune: impl FnOnce(&mut ProxyConfig),
    ) -> Rig {
        Rig::start(harness, accounts, tune, true)
    }

    fn start(
        harness: Harness,
        accounts: &[(&str, Behaviour)],
        tune: impl FnOnce(&mut ProxyConfig),
        with_artifact: bool,
    ) -> Rig {
        let fake = FakeProvider::start(
            accounts
                .iter()
                .map(|(label, b)| (canary::token(label), b.clone()))
                .collect(),
        )
        .expect("start the fake provider");
        let sandbox = Sandbox::new();
        let labels: Vec<&str> = accounts.iter().map(|(l, _)| *l).collect();
        let pool = Arc::new(durable_pool(harness, &labels, &sandbox.dirs()));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let collect = {
            let frames = frames.clone();
            move |f: &Frame| frames.lock().unwrap().push(f.clone())
        };
        let (sink, artifact): (FrameSink, _) = if with_artifact {
            let sessions = sandbox.state_dir().join("sessions");
            let writer = StatusWriter::create(&sessions, harness_kind(harness))
                .expect("create the status artifact");
            let path = sessions.join(writer.file_name());
            (artifact_sink(Arc::new(writer), collect), Some(path))
        } else {
            (Arc::new(move |f: Frame| collect(&f)), None)
        };
        let mut config = ProxyConfig::new(harness, fake.origin());
        config.retry_backoff = Duration::from_millis(5);
        tune(&mut config);
        let proxy = proxy::start(config, pool.clone(), sink).expect("start the proxy");
        Rig {
            harness,
            fake,
            pool,
            sandbox,
            proxy: Some(proxy),
            frames,
            artifact,
        }
    }

    pub fn handle(&self) -> &ProxyHandle {
        self.proxy.as_ref().expect("the proxy runs")
    }

    /// The base URL the harness is given (with the session secret).
    pub fn base(&self) -> String {
        self.handle().base_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }

    /// The session secret: the first path segment of every request the proxy serves.
    pub fn secret(&self) -> String {
        let base = self.base();
        base.rsplit('/').next().unwrap().to_owned()
    }

    /// The request target for `path` (`/v1/messages`) under the session secret, as the
    /// harness sends it.
    pub fn target(&self, path: &str) -> String {
        format!("/{}{path}", self.secret())
    }

    /// The session status artifact of a [`Rig::with_artifact`] rig.
    pub fn artifact(&self) -> &Path {
        self.artifact
            .as_deref()
            .expect("a rig started with_artifact")
    }

    /// The route key of account `label`.
    pub fn key(&self, label: &str) -> String {
        route_key(self.harness, label).to_string()
    }

    /// Model requests the fake received with account `label`'s credential.
    pub fn calls(&self, label: &str) -> u32 {
        self.fake.calls(&canary::token(label))
    }

    /// The account's health as the store holds it once the pool's writer has flushed
    /// (`None`: nothing was ever recorded for it).
    pub fn health(&self, label: &str) -> Option<RouteHealth> {
        self.pool.flush();
        self.sandbox.route_health(&self.key(label))
    }

    /// The account's recorded status now (`None`: nothing recorded).
    pub fn status(&self, label: &str) -> Option<RouteStatus> {
        self.health(label)
            .map(|h| h.status_at(jiff::Timestamp::now()))
    }

    /// The status keeping the account out of elections (`quota_exhausted`, `rate_limited`,
    /// `token_revoked`…), or `None` when it may carry traffic or nothing is recorded.
    pub fn benched(&self, label: &str) -> Option<&'static str> {
        self.status(label)
            .filter(|s| !s.may_carry_traffic())
            .map(|s| s.label())
    }

    /// Shut the session down (flushing the pool's writer), then read the whole store.
    pub fn finish(&mut self) -> BTreeMap<String, RouteHealth> {
        self.proxy.take().expect("the proxy runs").shutdown();
        HealthFile::load(&self.sandbox.dirs().health_file())
            .unwrap()
            .routes()
            .iter()
            .map(|(k, v)| (k.clone(), RouteHealth::from_json(v).unwrap()))
            .collect()
    }

    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().unwrap().clone()
    }

    pub fn frames_json(&self) -> String {
        serde_json::to_string(&self.frames()).unwrap()
    }

    /// The model turns: (account, status, classification, delivered to the harness).
    pub fn turns(&self) -> Vec<(String, u16, String, bool)> {
        self.frames()
            .into_iter()
            .filter_map(|f| match f {
                Frame::ProxyTurn {
                    account,
                    status,
                    classification,
                    delivered_to_harness,
                    path_kind,
                    ..
                } if path_kind == "responses" || path_kind == "messages" => {
                    Some((account, status, classification, delivered_to_harness))
                }
                _ => None,
            })
            .collect()
    }

    /// A model request as this rig's harness sends it.
    pub fn turn(&self) -> Seen {
        match self.harness {
            Harness::Codex => codex_turn(self),
            Harness::Claude => claude_turn(self),
        }
    }
}

/// A response as the harness sees it.
#[derive(Debug)]
pub struct Seen {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Status, headers and body as one text (for canary searches).
    pub fn all_text(&self) -> String {
        format!("{} {:?} {}", self.status, self.headers, self.body)
    }
}

/// A client that never goes through a proxy and hands every status back.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
}

/// Send a request like a harness would (its own placeholder credential included).
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Seen {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let resp = client()
        .run(b.body(body.to_vec()).unwrap())
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .read_to_end(&mut bytes)
        .expect("body");
    Seen {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A Codex-style model request through the proxy.
pub fn codex_turn(rig: &Rig) -> Seen {
    send(
        "POST",
        &format!("{}/backend-api/codex/responses", rig.base()),
        &[
            ("authorization", "Bearer harness-placeholder"),
            ("chatgpt-account-id", "harness-placeholder-acct"),
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
            ("originator", "codex_exec"),
        ],
        br#"{"model":"gpt-6.1-sol","stream":true,"input":[]}"#,
    )
}

/// A Claude-Code-style model request through the proxy.
pub fn claude_turn(rig: &Rig) -> Seen {
    send(
        "POST",
        &format!("{}/v1/messages?beta=true", rig.base()),
        &[
            ("x-api-key", "harness-placeholder"),
            ("anthropic-version", "2023-06-01"),
            (
                "anthropic-beta",
                "claude-code-20250219,context-1m-2025-08-07",
            ),
            ("content-type", "application/json"),
        ],
        br#"{"model":"claude-sonnet-5","stream":true,"max_tokens":64000,"messages":[]}"#,
    )
}

/// The status code of the answer to raw `request` bytes on a fresh connection (0 when no
/// status line came within `timeout`).
pub fn raw_status(addr: SocketAddr, request: &[u8], timeout: Duration) -> u16 {
    raw(addr, request, timeout)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Write raw bytes on a fresh connection and read until the peer closes (or `timeout`).
pub fn raw(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A successful stream saying `text`.
pub fn ok(text: &str) -> Behaviour {
    Behaviour::Succeed { text: text.into() }
}

/// The provider's quota error, resetting in `secs`.
pub fn quota(secs: u64) -> Behaviour {
    Behaviour::QuotaExhausted {
        resets_in_seconds: secs,
    }
}
