//! oauth-mux's session proxy in a child process of the bench (so its CPU time and RSS are
//! its own), over the durable pool (election included, as in a managed session), appending
//! the session's status artifact as a managed session does. Only the failover scenario's
//! proxy forgets between requests (see [`ForgetfulPool`]).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Child;
use std::sync::Arc;

use jiff::Timestamp;
use oauth_mux::config::builtin;
use oauth_mux::harness::session::artifact_sink;
use oauth_mux::harness::status::{HarnessKind, StatusWriter};
use oauth_mux::model::RouteKey;
use oauth_mux::model::judgement::Judgement;
use oauth_mux::proxy::durable_pool::{DurablePool, PoolAccount};
use oauth_mux::proxy::pool::{
    AccountId, Credential, Elected, Pool, ResponseEvidence, ResponseReader, UsageView, UsageWindow,
};
use oauth_mux::proxy::{self, Harness, ProxyConfig};
use oauth_mux::store::paths::Dirs;

use crate::procs;

/// Accounts in a fixed order. Judging, usage reading and recording go to the real durable
/// pool (the model's classifier, a background writer into a health store in a temporary
/// state dir); only election forgets, so every iteration of the failover scenario pays the
/// whole failover again instead of going straight to the healthy account.
struct ForgetfulPool {
    accounts: Vec<(AccountId, Arc<Credential>)>,
    durable: DurablePool,
}

impl Pool for ForgetfulPool {
    fn profile(&self) -> &str {
        "bench"
    }
    fn elect(
        &self,
        _prefer: Option<&AccountId>,
        exclude: &[AccountId],
        _now: Timestamp,
    ) -> Option<Elected> {
        self.accounts
            .iter()
            .find(|(id, _)| !exclude.contains(id))
            .map(|(id, c)| Elected {
                account: id.clone(),
                credential: c.clone(),
                upstream: None,
                passed_over: None,
            })
    }
    fn reader(&self) -> &ResponseReader {
        self.durable.reader()
    }
    fn record(
        &self,
        a: &AccountId,
        ev: &ResponseEvidence,
        j: &Judgement,
        u: &[UsageWindow],
        now: Timestamp,
    ) {
        self.durable.record(a, ev, j, u, now)
    }
    fn earliest_reset(&self, _now: Timestamp) -> Option<Timestamp> {
        None
    }
    fn short_limit(
        &self,
        _exclude: &[AccountId],
        _now: Timestamp,
    ) -> Option<(Timestamp, AccountId)> {
        None
    }
    fn usage_view(&self, _now: Timestamp) -> UsageView {
        UsageView::default()
    }
    fn flush(&self) {
        self.durable.flush()
    }
}

/// Child mode: `proxy --child STATE_DIR ORIGIN [--forgetful] label=token...` runs one proxy
/// until stdin closes.
pub fn child(args: &[String]) {
    let state = std::path::PathBuf::from(&args[0]);
    let origin = args[1].clone();
    let forgetful = args.get(2).is_some_and(|a| a == "--forgetful");
    let parsed: Vec<(String, String)> = args[2 + usize::from(forgetful)..]
        .iter()
        .map(|a| {
            let (label, token) = a.split_once('=').expect("label=token");
            (label.to_string(), token.to_string())
        })
        .collect();
    let credential = |token: &str| Credential::ClaudeOauth {
        access_token: token.to_string(),
    };
    let dirs = Dirs::resolve(&|k: &str| match k {
        "OMUX_CONFIG" => Some(state.join("config.json").display().to_string()),
        "OMUX_STATE_DIR" => Some(state.join("state").display().to_string()),
        "OMUX_RUNTIME_DIR" => Some(state.join("run").display().to_string()),
        "HOME" => Some(state.display().to_string()),
        _ => None,
    })
    .expect("state dirs");
    let members = parsed
        .iter()
        .map(|(label, token)| PoolAccount {
            label: label.clone(),
            route_key: RouteKey::new("claude", label, Some("claude-code")),
            credential: credential(token),
            upstream: None,
            priority: 0,
        })
        .collect();
    let definition = builtin::definition("claude").expect("claude definition");
    let durable = DurablePool::new("bench", definition, members, dirs, 95.0).expect("pool");
    let accounts = parsed
        .iter()
        .map(|(label, token)| {
            (
                AccountId(label.as_str().into()),
                Arc::new(credential(token)),
            )
        })
        .collect();
    // The session's status artifact, as a managed session writes it (a line per frame).
    let artifact = StatusWriter::create(&state.join("state/sessions"), HarnessKind::Claude)
        .expect("status artifact");
    let pool: Arc<dyn Pool> = if forgetful {
        Arc::new(ForgetfulPool { accounts, durable })
    } else {
        Arc::new(durable)
    };
    let handle = proxy::start(
        ProxyConfig::new(Harness::Claude, origin),
        pool,
        artifact_sink(Arc::new(artifact), |_| {}),
    )
    .expect("start proxy");
    println!("{}", handle.base_url());
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    handle.shutdown();
}

/// A proxy child, stopped (stdin closed, waited for) when dropped.
pub struct ProxyChild {
    child: Child,
    pub addr: SocketAddr,
    /// `/<secret>`: what every request path starts with.
    pub prefix: String,
    state: std::path::PathBuf,
}

impl ProxyChild {
    /// A proxy in front of `origin` with these `(label, token)` accounts, in order, over the
    /// durable pool as a managed session has it.
    pub fn spawn(origin: &str, accounts: &[(&str, &str)]) -> ProxyChild {
        Self::start(origin, accounts, false)
    }

    /// The same over a pool whose election forgets every answer (the failover scenario).
    pub fn spawn_forgetful(origin: &str, accounts: &[(&str, &str)]) -> ProxyChild {
        Self::start(origin, accounts, true)
    }

    fn start(origin: &str, accounts: &[(&str, &str)], forgetful: bool) -> ProxyChild {
        let state = std::env::temp_dir().join(format!(
            "omux-bench-{}-{}",
            std::process::id(),
            proxy::new_secret().unwrap()
        ));
        std::fs::create_dir_all(&state).unwrap();
        let mut args = vec![
            "--child".into(),
            state.clone().into_os_string(),
            origin.into(),
        ];
        if forgetful {
            args.push("--forgetful".into());
        }
        args.extend(accounts.iter().map(|(l, t)| format!("{l}={t}").into()));
        let (child, line) = procs::spawn_self(&args);
        let url = line.strip_prefix("http://").expect("base url").to_string();
        let (addr, secret) = url.split_once('/').unwrap();
        ProxyChild {
            child,
            addr: addr.parse().unwrap(),
            prefix: format!("/{secret}"),
            state,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ProxyChild {
    fn drop(&mut self) {
        procs::stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
