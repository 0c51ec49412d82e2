//! Shared rig for the proxy's end-to-end tests: a fake provider, the production pool over a
//! health store in a temporary directory, a running proxy, and every frame it emitted.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_mux::config::builtin;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::model::RouteKey;
use oauth_mux::model::health::{RouteHealth, RouteStatus};
use oauth_mux::proxy::durable_pool::{DurablePool, PoolAccount};
use oauth_mux::proxy::frames::Frame;
use oauth_mux::proxy::pool::{Credential, Pool};
use oauth_mux::proxy::{self, Harness, ProxyConfig, ProxyHandle};
use oauth_mux::store::health_file::HealthFile;
use oauth_mux::store::paths::Dirs;

/// Canary-style token for an account label: must never show up in any output.
pub fn token(label: &str) -> String {
    format!("canary-token-{label}-7f3a9c")
}

/// Canary-style raw ChatGPT account id for an account label.
pub fn raw_account_id(label: &str) -> String {
    format!("canary-acct-{label}-51b2")
}

pub struct Rig {
    pub fake: FakeProvider,
    pub pool: Arc<DurablePool>,
    pub dirs: Dirs,
    pub provider: &'static str,
    _state: tempfile::TempDir,
    pub proxy: Option<ProxyHandle>,
    pub frames: Arc<Mutex<Vec<Frame>>>,
    pub labels: Vec<String>,
}

impl Rig {
    pub fn new(harness: Harness, accounts: &[(&str, Behaviour)]) -> Rig {
        Rig::with(harness, accounts, |_| {})
    }

    pub fn with(
        harness: Harness,
        accounts: &[(&str, Behaviour)],
        tune: impl FnOnce(&mut ProxyConfig),
    ) -> Rig {
        let fake = FakeProvider::start(
            accounts
                .iter()
                .map(|(label, b)| (token(label), b.clone()))
                .collect(),
        )
        .expect("start fake provider");
        let provider = match harness {
            Harness::Codex => "codex",
            Harness::Claude => "claude",
        };
        let state = tempfile::tempdir().expect("state dir");
        let dirs = Dirs::resolve(&|k: &str| match k {
            "OMUX_STATE_DIR" => Some(state.path().join("state").display().to_string()),
            "OMUX_RUNTIME_DIR" => Some(state.path().join("run").display().to_string()),
            "OMUX_CONFIG" => Some(state.path().join("config.json").display().to_string()),
            "HOME" => Some(state.path().display().to_string()),
            _ => None,
        })
        .expect("state dirs");
        let members = accounts
            .iter()
            .map(|(label, _)| PoolAccount {
                label: label.to_string(),
                route_key: RouteKey::new(provider, label, None),
                priority: 0,
                credential: match harness {
                    Harness::Codex => Credential::CodexChatgpt {
                        access_token: token(label),
                        account_id: raw_account_id(label),
                    },
                    Harness::Claude => Credential::ClaudeOauth {
                        access_token: token(label),
                    },
                },
                upstream: None,
            })
            .collect();
        let definition = builtin::definition(provider).expect("built-in provider definition");
        let pool = Arc::new(
            DurablePool::new("test-profile", definition, members, dirs.clone(), 95.0)
                .expect("pool"),
        );
        let frames = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let frames = frames.clone();
            Arc::new(move |f: Frame| frames.lock().unwrap().push(f))
        };
        let mut config = ProxyConfig::new(harness, fake.origin());
        config.retry_backoff = Duration::from_millis(5);
        tune(&mut config);
        let proxy = proxy::start(config, pool.clone(), sink).expect("start proxy");
        Rig {
            fake,
            pool,
            dirs,
            provider,
            _state: state,
            proxy: Some(proxy),
            frames,
            labels: accounts.iter().map(|(l, _)| l.to_string()).collect(),
        }
    }

    pub fn base(&self) -> String {
        self.proxy.as_ref().unwrap().base_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.proxy.as_ref().unwrap().addr()
    }

    /// The account's health as the store holds it once the pool's writer has flushed
    /// (`None`: nothing was ever recorded for it).
    pub fn health(&self, label: &str) -> Option<RouteHealth> {
        self.pool.flush();
        let store = HealthFile::load(&self.dirs.health_file()).expect("health store");
        let key = RouteKey::new(self.provider, label, None).to_string();
        store
            .routes()
            .get(&key)
            .map(|v| RouteHealth::from_json(v).expect("a readable record"))
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

    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().unwrap().clone()
    }

    pub fn frames_json(&self) -> String {
        serde_json::to_string(&self.frames()).unwrap()
    }

    /// Fail if any token or raw account id appears in `text`.
    pub fn assert_no_canary(&self, text: &str) {
        for label in &self.labels {
            assert!(
                !text.contains(&token(label)),
                "token of {label} leaked: {text}"
            );
            assert!(
                !text.contains(&raw_account_id(label)),
                "account id of {label} leaked: {text}"
            );
        }
        assert!(!text.contains("canary"), "canary leaked: {text}");
    }

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
    pub fn all_text(&self) -> String {
        format!("{} {:?} {}", self.status, self.headers, self.body)
    }
}

fn client() -> ureq::Agent {
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
