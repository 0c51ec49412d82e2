//! The shared flow of `oauth-mux codex` and `oauth-mux claude`: load config, elect the launch
//! account, resolve every account of the profile into the session pool, run the real harness
//! through the session proxy, and exit with the harness's code. Plus `status-latest`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;

use super::context::Context;
use super::evaluate::evaluate;
use crate::cli::{LaunchArgs, Selectors};
use crate::config::ProviderDefinition;
use crate::config::schema::AccountConfig;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::harness::credentials::{self, Unusable};
use crate::harness::session::{self, AuthKind, LaunchPlan};
use crate::harness::status::{self, HarnessKind, summary};
use crate::harness::{codex_home, upstream};
use crate::proxy::durable_pool::{DurablePool, PoolAccount};
use crate::routes;
use crate::secrets::{self, SecretSpec};

/// Default usage percentage above which the next request moves to another account.
const DEFAULT_SWITCH_THRESHOLD_PCT: f64 = 95.0;

/// What the launcher needs about one harness.
pub struct HarnessLaunch {
    pub harness: HarnessKind,
    pub default_profile: &'static str,
    /// Environment variable naming the harness binary.
    pub bin_env: &'static str,
    pub bin_name: &'static str,
    pub args: Vec<OsString>,
    pub isolated_config: bool,
}

/// Run a managed session and exit the process with the harness's exit code.
pub fn launch(spec: HarnessLaunch, opts: &LaunchArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let profile = opts
        .profile
        .clone()
        .unwrap_or_else(|| spec.default_profile.to_string());
    let selectors = Selectors {
        profile: Some(profile.clone()),
        ..Selectors::default()
    };
    let evaluation = evaluate(&ctx, &loaded, &selectors)?;
    let harness_name = spec.harness.name();

    // Every route of the profile whose provider speaks this harness's wire protocol.
    let mut members: Vec<Member> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for report in &evaluation.routes {
        let key = crate::model::RouteKey::new(
            &report.route.provider,
            &report.route.account,
            report.route.capability.as_deref(),
        );
        let Some(pc) = config.providers.get(&key.provider) else {
            continue;
        };
        let Some(def) = config.definition(&pc.kind) else {
            continue;
        };
        let Some(up) = def.upstream.clone() else {
            continue;
        };
        if up.harness != harness_name {
            continue;
        }
        let Some(account) = pc.accounts.get(&key.account) else {
            continue;
        };
        if !report.status.may_carry_traffic() {
            skipped.push(format!(
                "{} ({})",
                key.account,
                super::facts::describe_status(&report.status, ctx.now)
            ));
            continue;
        }
        let field = format!("providers.{}.accounts.{}.secret", key.provider, key.account);
        let raw = match read_account_secret(account, def, &field) {
            Ok(raw) => raw,
            Err(why) => {
                skipped.push(format!("{} (secret: {why})", key.account));
                continue;
            }
        };
        match credentials::materialize(spec.harness, def, &raw, ctx.now) {
            Ok((credential, auth)) => members.push(Member {
                account: PoolAccount {
                    label: key.account.clone(),
                    route_key: key.clone(),
                    credential,
                    upstream: None,
                    priority: report.priority,
                },
                auth,
                account_upstream: account.upstream.clone(),
                provider_upstream: pc.upstream.clone(),
                definition: def.clone(),
                selected: report.selected,
            }),
            Err(Unusable::Expired) => {
                skipped.push(format!("{} (token expired)", key.account));
            }
            Err(why) => skipped.push(format!("{} ({why})", key.account)),
        }
    }
    for line in &skipped {
        eprintln!("oauth-mux: not using account {line}");
    }
    let Some(launch_index) = members
        .iter()
        .position(|m| m.selected)
        .or((!members.is_empty()).then_some(0))
    else {
        return Err(Failure::new(
            ExitCode::NoneSelectable,
            format!(
                "no account of profile {profile:?} can start a {harness_name} session{}; run `oauth-mux route explain --profile {profile}`",
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", skipped.join("; "))
                }
            ),
        )
        .into());
    };
    // A session speaks one path family: keep the accounts that authenticate like the launch one.
    let launch_auth = members[launch_index].auth;
    let launch_label = members[launch_index].account.label.clone();
    let (same, other): (Vec<Member>, Vec<Member>) =
        members.into_iter().partition(|m| m.auth == launch_auth);
    for m in &other {
        eprintln!(
            "oauth-mux: not using account {} in this session (it authenticates differently from {launch_label})",
            m.account.label
        );
    }
    let mut members = same;
    let launch_member = members
        .iter()
        .position(|m| m.account.label == launch_label)
        .unwrap_or(0);
    let definition = members[launch_member].definition.clone();
    let up = definition
        .upstream
        .clone()
        .context("the provider definition has no upstream")?;
    let api_key = matches!(
        launch_auth,
        AuthKind::Codex(codex_home::CodexAuthKind::ApiKey)
            | AuthKind::Claude(crate::harness::claude_env::ClaudeAuthKind::ApiKey)
    );
    let env_value = up
        .base_url_env
        .as_deref()
        .and_then(|name| std::env::var(name).ok().map(|v| (name, v)));
    let default = upstream::definition_default(&up, api_key).to_string();
    let session_upstream = upstream::resolve(
        upstream::Sources {
            account: None,
            env: env_value.as_ref().map(|(n, v)| (*n, v.as_str())),
            provider: members[launch_member].provider_upstream.as_deref(),
        },
        &default,
    )
    .map_err(|e| Failure::new(ExitCode::Config, format!("{e:#}")))?;
    for m in &mut members {
        let own = upstream::resolve(
            upstream::Sources {
                account: m.account_upstream.as_deref(),
                env: env_value.as_ref().map(|(n, v)| (*n, v.as_str())),
                provider: m.provider_upstream.as_deref(),
            },
            &default,
        )
        .map_err(|e| {
            Failure::new(
                ExitCode::Config,
                format!("account {}: {e:#}", m.account.label),
            )
        })?;
        if own != session_upstream {
            m.account.upstream = Some(own);
        }
    }
    let pool_labels: Vec<String> = members.iter().map(|m| m.account.label.clone()).collect();
    let threshold = config
        .policy
        .usage_switch_threshold_pct
        .unwrap_or(DEFAULT_SWITCH_THRESHOLD_PCT);
    let pool = DurablePool::new(
        &profile,
        definition,
        members.into_iter().map(|m| m.account).collect(),
        ctx.dirs.clone(),
        threshold,
    )?;

    let program = harness_program(spec.bin_env, spec.bin_name)?;
    let user_harness_home = match spec.harness {
        HarnessKind::Codex => codex_home::user_codex_home(
            std::env::var_os("CODEX_HOME").map(PathBuf::from).as_deref(),
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
        ),
        HarnessKind::Claude => std::env::var_os("CLAUDE_CONFIG_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude"))),
    };
    if spec.harness == HarnessKind::Codex {
        let args: Vec<String> = spec
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        codex_home::check_forwarded_args(&args)
            .map_err(|e| Failure::new(ExitCode::Usage, format!("{e:#}")))?;
    }
    let extra_ca_file = opts
        .extra_ca_file
        .clone()
        .or_else(|| std::env::var_os(upstream::EXTRA_CA_ENV).map(PathBuf::from));
    if let Some(ca) = &extra_ca_file
        && !ca.is_file()
    {
        return Err(Failure::new(
            ExitCode::Config,
            format!(
                "the extra CA file ({} / --extra-ca-file) does not exist; point it at a PEM bundle",
                upstream::EXTRA_CA_ENV
            ),
        )
        .into());
    }
    let plan = LaunchPlan {
        auth: launch_auth,
        profile: profile.clone(),
        launch_account: launch_label,
        pool_labels,
        upstream: session_upstream,
        extra_ca_file,
        program: program.into_os_string(),
        args: spec.args,
        no_side_traffic: opts.no_side_traffic,
        isolated_config: spec.isolated_config,
        sessions_dir: ctx.dirs.sessions_dir(),
        runtime_dir: ctx.dirs.runtime_dir.clone(),
        user_harness_home,
        cwd: std::env::current_dir().unwrap_or_default(),
        env_remove: config.secret_environment().into_iter().collect(),
        requests: up.requests.clone(),
    };
    let outcome = session::run(&plan, Arc::new(pool))?;
    if let Some((reset, repair)) = &outcome.pool_exhausted {
        eprintln!(
            "oauth-mux: every account of profile {profile} is spent{}; run `{repair}`",
            reset
                .as_deref()
                .map(|r| format!(" (earliest reset {r})"))
                .unwrap_or_default()
        );
    }
    let code = outcome.exit.code.clamp(0, 255);
    drop(outcome);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

struct Member {
    account: PoolAccount,
    auth: AuthKind,
    account_upstream: Option<String>,
    provider_upstream: Option<String>,
    definition: ProviderDefinition,
    selected: bool,
}

/// Read an account's credential: its `secret` block, or `<config_dir>/<credential file>`.
fn read_account_secret(
    account: &AccountConfig,
    def: &ProviderDefinition,
    field: &str,
) -> Result<secrets::Secret, String> {
    let spec: SecretSpec = if account.secret.is_null() {
        let dir = account
            .config_dir
            .as_deref()
            .ok_or("no `secret` and no `config_dir` configured")?;
        let file = def.injection.credential_filename.as_str();
        if file.is_empty() {
            return Err("no `secret` configured".into());
        }
        let mut spec = SecretSpec::new(secrets::SecretBackend::File);
        spec.path = Some(
            routes::expand_home(dir)
                .join(file)
                .to_string_lossy()
                .into_owned(),
        );
        spec
    } else {
        serde_json::from_value(account.secret.clone())
            .map_err(|_| "the `secret` block is invalid; run `oauth-mux config validate`")?
    };
    secrets::read_secret(&spec, field).map_err(|e| e.to_string())
}

/// The harness binary: `$<BIN_ENV>` when set, else the first `name` on PATH.
fn harness_program(bin_env: &str, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(bin_env).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    routes::find_on_path(name).ok_or_else(|| {
        Failure::new(
            ExitCode::Error,
            format!("`{name}` is not on PATH; install it or set {bin_env} to its path"),
        )
        .into()
    })
}

/// What `status-latest --json` prints when no session was recorded yet.
#[derive(Serialize)]
struct NoSession {
    harness: HarnessKind,
    verdict: &'static str,
    next_action: &'static str,
    next_commands: Vec<String>,
}

/// `oauth-mux codex|claude status-latest [--json]`.
pub fn status_latest(harness: HarnessKind, json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let Some(path) = status::latest_artifact(&ctx.dirs.sessions_dir(), harness)? else {
        let none = NoSession {
            harness,
            verdict: "no_session_recorded",
            next_action: "run_a_managed_session",
            next_commands: vec![format!("oauth-mux {}", harness.name())],
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&none)?);
        } else {
            println!(
                "no managed {} session recorded yet; run `oauth-mux {}`",
                harness.name(),
                harness.name()
            );
        }
        return Err(Quiet(ExitCode::Error).into());
    };
    let s = status::summarize_file(&path, harness)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("{}", render_summary(&s));
    Ok(())
}

fn render_summary(s: &summary::Summary) -> String {
    let verdict = serde_json::to_value(s.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut out = format!(
        "{} session {}\n  started  {}\n  ended    {}\n  verdict  {verdict}\n",
        s.harness.name(),
        s.artifact,
        s.started_at.as_deref().unwrap_or("-"),
        match (&s.ended_at, s.exit_code) {
            (Some(at), Some(code)) => format!("{at} (exit {code})"),
            _ => "not recorded".into(),
        },
    );
    out.push_str(&format!(
        "  profile  {}   launched on {}   accounts used: {}\n",
        s.profile.as_deref().unwrap_or("-"),
        s.launch_account.as_deref().unwrap_or("-"),
        if s.accounts_used.is_empty() {
            "-".into()
        } else {
            s.accounts_used.join(", ")
        }
    ));
    let statuses: Vec<String> = s
        .turns_by_status
        .iter()
        .map(|(k, v)| format!("{k}x{v}"))
        .collect();
    out.push_str(&format!(
        "  turns    {} ({} held back from the harness) statuses: {}\n",
        s.proxy_turns,
        s.withheld_turns,
        if statuses.is_empty() {
            "-".into()
        } else {
            statuses.join(" ")
        }
    ));
    for h in &s.handoffs {
        out.push_str(&format!(
            "  handoff  {} -> {} ({})\n",
            h.from.as_deref().unwrap_or("-"),
            h.to,
            h.reason
        ));
    }
    if let Some(reset) = &s.earliest_reset {
        out.push_str(&format!("  earliest reset {reset}\n"));
    }
    out.push_str(&format!(
        "  next     {}: {}",
        s.next_action, s.next_action_hint
    ));
    for cmd in &s.next_commands {
        out.push_str(&format!("\n    {cmd}"));
    }
    out
}
