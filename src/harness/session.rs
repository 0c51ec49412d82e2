//! One managed session end to end: start the proxy, prepare the child's configuration
//! (Codex overlay or Claude environment), run the real harness, record the status
//! artifact, clean up. The account pool (election, classification, health) is passed in.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use super::claude_env::{self, ClaudeAuthKind, ClaudeOptions};
use super::codex_home::{self, CodexAuthKind, CodexOverlay};
use super::private_fs::{self, OwnedDir};
use super::status::{Frame, HarnessKind, StatusWriter};
use crate::child::{self, ChildExit, ChildSpec, SignalForwarder};
use crate::proxy::frames::FrameSink;
use crate::proxy::target::RequestRules;
use crate::proxy::{self, Harness, ProxyConfig, pool::Pool};

/// How the launch account authenticates, per harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Codex(CodexAuthKind),
    Claude(ClaudeAuthKind),
}

impl AuthKind {
    fn harness(self) -> HarnessKind {
        match self {
            AuthKind::Codex(_) => HarnessKind::Codex,
            AuthKind::Claude(_) => HarnessKind::Claude,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuthKind::Codex(k) => k.label(),
            AuthKind::Claude(k) => k.label(),
        }
    }
}

/// Everything the launcher decided before starting the session.
#[derive(Clone, Debug)]
pub struct LaunchPlan {
    pub auth: AuthKind,
    pub profile: String,
    /// The account elected at launch (label).
    pub launch_account: String,
    /// The profile's accounts in preference order (labels).
    pub pool_labels: Vec<String>,
    /// Upstream origin for the proxy (see `harness::upstream`).
    pub upstream: String,
    pub extra_ca_file: Option<PathBuf>,
    /// The harness binary.
    pub program: OsString,
    /// Arguments for the harness, as the user gave them (after `run`/`resume` handling).
    pub args: Vec<OsString>,
    /// `--no-side-traffic`: turn off the harness's non-model traffic for this session.
    pub no_side_traffic: bool,
    /// `--isolated-config` (Claude): a throw-away `CLAUDE_CONFIG_DIR` for this session.
    pub isolated_config: bool,
    /// `<state>/sessions`.
    pub sessions_dir: PathBuf,
    /// Where session-owned directories are created (runtime dir).
    pub runtime_dir: PathBuf,
    /// Codex: the user's real Codex home. Claude: the user's config dir (for conflict checks).
    pub user_harness_home: Option<PathBuf>,
    /// Working directory (Claude project settings are read from it).
    pub cwd: PathBuf,
    /// Variables removed from the child's environment: those the configured secret
    /// backends read (the harness runs commands a model chooses; they must find no
    /// credential there).
    pub env_remove: Vec<String>,
    /// What the proxy forwards (the provider definition's `upstream.requests`); `None`:
    /// the built-in definition of the harness decides.
    pub requests: Option<RequestRules>,
}

/// "Every account is spent", as the proxy reported it: (earliest reset, repair command).
pub type PoolExhaustion = (Option<String>, String);

/// How the session ended.
#[derive(Clone, Debug)]
pub struct SessionOutcome {
    pub exit: ChildExit,
    /// The status artifact's file name.
    pub artifact: String,
    /// Set when the proxy answered "every account is spent": (earliest reset, repair command).
    pub pool_exhausted: Option<PoolExhaustion>,
}

/// Run one managed session to completion.
pub fn run(plan: &LaunchPlan, pool: Arc<dyn Pool>) -> anyhow::Result<SessionOutcome> {
    let harness = plan.auth.harness();
    let writer = Arc::new(StatusWriter::create(&plan.sessions_dir, harness)?);
    let exhausted: Arc<Mutex<Option<PoolExhaustion>>> = Arc::new(Mutex::new(None));
    let sink = {
        let exhausted = exhausted.clone();
        artifact_sink(writer.clone(), move |frame| {
            if let Frame::PoolExhausted {
                earliest_reset,
                repair_command,
            } = frame
            {
                *exhausted.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((earliest_reset.clone(), repair_command.clone()));
            }
        })
    };
    let mut config = ProxyConfig::new(
        match harness {
            HarnessKind::Codex => Harness::Codex,
            HarnessKind::Claude => Harness::Claude,
        },
        plan.upstream.clone(),
    );
    config.upstream_options.extra_ca_file = plan.extra_ca_file.clone();
    if let Some(rules) = &plan.requests {
        config.requests = rules.clone();
    }
    // Codex's TUI with ChatGPT auth wants an https chatgpt_base_url: serve a TLS side too.
    config.tls_side_listener = matches!(harness, HarnessKind::Codex);
    let proxy = proxy::start(config, pool, sink).context("could not start the session proxy")?;
    let base = proxy.base_url();
    let tls = proxy.tls_base_url().zip(proxy.ca_pem());

    let prepared = prepare_child(plan, &base, tls.as_ref())?;
    writer.write(Frame::SessionStarted {
        harness,
        oauth_mux_version: crate::VERSION.into(),
        profile: plan.profile.clone(),
        account: plan.launch_account.clone(),
        pool: plan.pool_labels.clone(),
        auth_kind: plan.auth.label().into(),
        child_config: match harness {
            HarnessKind::Codex => "overlay".into(),
            HarnessKind::Claude => "environment".into(),
        },
        side_traffic_disabled: plan.no_side_traffic,
        isolated_config: plan.isolated_config,
    })?;
    let exit = run_child(&prepared);
    let exit = match exit {
        Ok(exit) => exit,
        Err(err) => {
            let _ = writer.write(Frame::SessionEnded {
                exit_code: 127,
                signal: None,
            });
            proxy.shutdown();
            return Err(err);
        }
    };
    writer.write(Frame::SessionEnded {
        exit_code: exit.code,
        signal: exit.signal,
    })?;
    proxy.shutdown();
    writer.sync()?;
    drop(prepared);
    let pool_exhausted = exhausted.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok(SessionOutcome {
        exit,
        artifact: writer.file_name().to_string(),
        pool_exhausted,
    })
}

/// Run the harness; its directories record its pid, so that no later launch's sweep
/// removes them while it (or anything of its process group) still runs.
fn run_child(prepared: &PreparedChild) -> anyhow::Result<ChildExit> {
    let forwarder = SignalForwarder::install().context("could not install signal forwarding")?;
    let running = child::spawn(&prepared.spec, &forwarder).map_err(|err| {
        anyhow::anyhow!(
            "could not start `{}` ({}); install it or point oauth-mux at it (OMUX_CODEX_BIN / OMUX_CLAUDE_BIN)",
            err.program,
            err.source.kind()
        )
    })?;
    for dir in [
        prepared.overlay.as_ref().map(CodexOverlay::owned_dir),
        prepared.session_dir.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        dir.note_child(running.pid())?;
    }
    running.wait().context("waiting for the harness failed")
}

/// The child's invocation plus the directories that must live as long as it does.
struct PreparedChild {
    spec: ChildSpec,
    overlay: Option<CodexOverlay>,
    session_dir: Option<OwnedDir>,
}

fn prepare_child(
    plan: &LaunchPlan,
    base: &str,
    tls: Option<&(String, String)>,
) -> anyhow::Result<PreparedChild> {
    let mut spec = ChildSpec {
        program: plan.program.clone(),
        ..ChildSpec::default()
    };
    spec.env_remove.extend(plan.env_remove.iter().cloned());
    spec.env_set
        .push(("OMUX_MANAGED_SESSION".into(), "1".into()));
    // The child must reach the loopback proxy directly even behind a corporate HTTPS_PROXY.
    for var in ["NO_PROXY", "no_proxy"] {
        let existing = std::env::var(var).unwrap_or_default();
        spec.env_set
            .push((var.into(), with_loopback_bypass(&existing).into()));
    }
    match plan.auth {
        AuthKind::Codex(kind) => {
            let user_home = plan
                .user_harness_home
                .clone()
                .context("could not find your Codex home: set CODEX_HOME or HOME")?;
            let endpoints = codex_home::Endpoints {
                http_base: base,
                // The proxy's TLS side, for the TUI's https chatgpt_base_url.
                tls: tls.map(|(url, pem)| (url.as_str(), pem.as_str())),
            };
            let overlay = CodexOverlay::create(&plan.runtime_dir, &user_home, &endpoints, kind)?;
            spec.env_set
                .push(("CODEX_HOME".into(), overlay.path().as_os_str().to_owned()));
            if let Some(bundle) = overlay.ca_bundle() {
                spec.env_set
                    .push(("CODEX_CA_CERTIFICATE".into(), bundle.into_os_string()));
            }
            // The thread index must be the overlay's own (see codex_home).
            spec.env_remove.push("CODEX_SQLITE_HOME".into());
            // The session proxy carries HTTP streaming only and answers Codex's WebSocket
            // upgrade with 426; Codex falls back to POST + SSE at once but logs the refused
            // handshake as an ERROR on every start (codex-cli 0.169 logs any failed connect,
            // whatever the status). Only that log target is silenced, for this child only;
            // the user's own RUST_LOG directives are kept.
            spec.env_set.push((
                "RUST_LOG".into(),
                codex_log_filter(std::env::var("RUST_LOG").ok()).into(),
            ));
            // Codex 0.169's TUI otherwise starts a shared background server that outlives
            // the session (and its proxy); a managed session must be self-contained.
            spec.args.push("--no-daemon".into());
            if plan.no_side_traffic {
                for arg in codex_side_traffic_args() {
                    spec.args.push(arg.into());
                }
            }
            spec.args.extend(plan.args.iter().cloned());
            Ok(PreparedChild {
                spec,
                overlay: Some(overlay),
                session_dir: None,
            })
        }
        AuthKind::Claude(kind) => {
            let session_dir = OwnedDir::create(&plan.runtime_dir, "claude-session")?;
            let isolated = if plan.isolated_config {
                let dir = session_dir.path().join("config");
                private_fs::create_private_dir(&dir)?;
                Some(dir)
            } else {
                None
            };
            let env = claude_env::env_plan(
                base,
                kind,
                &ClaudeOptions {
                    isolated_config_dir: isolated.clone(),
                    no_side_traffic: plan.no_side_traffic,
                },
            );
            spec.env_remove.extend(env.remove);
            spec.env_set
                .extend(env.set.into_iter().map(|(k, v)| (k, OsString::from(v))));
            let config_dir = isolated.or_else(|| plan.user_harness_home.clone());
            let conflicts: Vec<String> = config_dir
                .map(|dir| claude_env::settings_files(&dir, &plan.cwd))
                .unwrap_or_default()
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .flat_map(|text| claude_env::conflicting_settings_vars(&text))
                .collect();
            if !conflicts.is_empty() {
                let file = session_dir.path().join("settings.json");
                private_fs::write_private_new(
                    &file,
                    claude_env::override_settings(base, kind).as_bytes(),
                )?;
                eprintln!(
                    "oauth-mux: your Claude settings set {}; this session overrides them with --settings (your files are unchanged)",
                    conflicts.join(", ")
                );
                spec.args.push("--settings".into());
                spec.args.push(file.into_os_string());
            }
            spec.args.extend(plan.args.iter().cloned());
            Ok(PreparedChild {
                spec,
                overlay: None,
                session_dir: Some(session_dir),
            })
        }
    }
}

/// `NO_PROXY` with the loopback names added (kept as they were when already present).
pub fn with_loopback_bypass(existing: &str) -> String {
    let mut parts: Vec<String> = existing
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    for host in ["127.0.0.1", "localhost", "::1"] {
        if !parts.iter().any(|p| p == host) {
            parts.push(host.into());
        }
    }
    parts.join(",")
}

/// Codex arguments that turn off its non-model traffic (plugin sync, the apps MCP client,
/// OTEL analytics). Added only with `--no-side-traffic`.
pub fn codex_side_traffic_args() -> [&'static str; 6] {
    [
        "-c",
        "analytics.enabled=false",
        "--disable",
        "plugins",
        "--disable",
        "apps",
    ]
}

/// The proxy's frame sink for a session: `observe` sees each frame, then it is appended to
/// the artifact as one line, serialized straight from the proxy's frame (the artifact's
/// [`Frame`] is one type for both).
pub fn artifact_sink(
    writer: Arc<StatusWriter>,
    observe: impl Fn(&Frame) + Send + Sync + 'static,
) -> FrameSink {
    Arc::new(move |frame: Frame| {
        observe(&frame);
        let _ = writer.write(frame);
    })
}

/// Codex's log filter for a managed session: the user's directives (or Codex's default,
/// `error`) with the refused WebSocket handshake's target turned off.
fn codex_log_filter(user: Option<String>) -> String {
    const QUIET: &str = "codex_api::endpoint::responses_websocket=off";
    match user.filter(|u| !u.trim().is_empty()) {
        Some(user) => format!("{user},{QUIET}"),
        None => format!("error,{QUIET}"),
    }
}

/// Keep `codex_home` reachable for callers that refuse overrides before starting.
pub use codex_home::check_forwarded_args as check_codex_args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_bypass_is_added_once() {
        assert_eq!(with_loopback_bypass(""), "127.0.0.1,localhost,::1");
        assert_eq!(
            with_loopback_bypass("corp.example, localhost"),
            "corp.example,localhost,127.0.0.1,::1"
        );
    }

    #[test]
    fn codex_log_filter_keeps_the_users_directives() {
        assert_eq!(
            codex_log_filter(None),
            "error,codex_api::endpoint::responses_websocket=off"
        );
        assert_eq!(
            codex_log_filter(Some("info,codex_core=debug".into())),
            "info,codex_core=debug,codex_api::endpoint::responses_websocket=off"
        );
    }

    #[test]
    fn side_traffic_args_disable_plugins_apps_and_analytics() {
        let args = codex_side_traffic_args().join(" ");
        assert_eq!(
            args,
            "-c analytics.enabled=false --disable plugins --disable apps"
        );
    }
}
