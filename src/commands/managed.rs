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
use crate::harness::session::{self, AuthKind, LaunchPlan};
use crate::harness::status::{self, HarnessKind};
use crate::harness::{codex_home, token_renewal, upstream};
use crate::model::selection::RouteView;
use crate::model::session_pool::plan_pool;
use crate::model::session_verdict;
use crate::proxy::durable_pool::{DurablePool, PoolAccount};
use crate::routes;
use crate::secrets;

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

    // The routes of the profile whose provider speaks this harness's wire protocol; the
    // core plans the pool over them (docs/routing.md).
    let speaks_harness = |key: &crate::model::RouteKey| {
        config
            .providers
            .get(&key.provider)
            .and_then(|pc| config.definition(&pc.kind))
            .and_then(|def| def.upstream.as_ref())
            .is_some_and(|up| up.harness == harness_name)
    };
    let routes: Vec<RouteView> = evaluation
        .selection
        .routes
        .iter()
        .filter(|v| speaks_harness(&v.key))
        .cloned()
        .collect();
    let mut resolved: Vec<Member> = Vec::new();
    let (plan, left_out) = plan_pool(&routes, &evaluation.selection.session_order, |key| {
        let pc = &config.providers[&key.provider];
        let def = config
            .definition(&pc.kind)
            .ok_or("no provider definition")?;
        let account = pc.accounts.get(&key.account).ok_or("not configured")?;
        let field = format!("providers.{}.accounts.{}.secret", key.provider, key.account);
        let raw =
            read_account_secret(account, def, &field).map_err(|why| format!("secret: {why}"))?;
        let target = crate::oauth::target_for(
            config,
            &ctx.dirs.data_dir,
            &key.provider,
            &key.account,
            &|n| std::env::var(n).ok(),
        )
        .ok();
        let launched = token_renewal::launch_credential(
            &ctx.dirs,
            spec.harness,
            def,
            target.as_ref(),
            raw,
            ctx.now,
        )?;
        let (credential, auth) = (launched.credential, launched.auth);
        let priority = routes
            .iter()
            .find(|v| &v.key == key)
            .map_or(0, |v| v.priority);
        resolved.push(Member {
            account: PoolAccount {
                label: key.account.clone(),
                route_key: key.clone(),
                credential,
                upstream: None,
                priority,
            },
            account_upstream: account.upstream.clone(),
            provider_upstream: pc.upstream.clone(),
            definition: def.clone(),
            refresh: target.map(|t| (t, launched.expires_at)),
        });
        Ok(auth)
    });
    for l in &left_out {
        eprintln!("oauth-mux: not using account {} ({})", l.account, l.reason);
    }
    let Some(plan) = plan else {
        let why: Vec<String> = left_out
            .iter()
            .map(|l| format!("{}: {}", l.account, l.reason))
            .collect();
        return Err(Failure::new(
            ExitCode::NoneSelectable,
            format!(
                "no account of profile {profile:?} can start a {harness_name} session{}; run `oauth-mux route explain --profile {profile}`",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                }
            ),
        )
        .into());
    };
    let launch_auth = plan.members[0].1;
    let launch_label = plan.launch.account.clone();
    let mut members: Vec<Member> = resolved
        .into_iter()
        .filter(|m| plan.members.iter().any(|(k, _)| k == &m.account.route_key))
        .collect();
    let launch_member = members
        .iter()
        .position(|m| m.account.route_key == plan.launch)
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
    let threshold = config.usage_threshold_pct();
    let mut renewer = token_renewal::SessionRenewer::new(ctx.dirs.clone(), spec.harness);
    for m in &mut members {
        if let Some((target, expires_at)) = m.refresh.take() {
            renewer.add(
                crate::proxy::pool::AccountId(m.account.label.clone()),
                target,
                &m.account.credential,
                expires_at,
            );
        }
    }
    let mut pool = DurablePool::new(
        &profile,
        definition,
        members.into_iter().map(|m| m.account).collect(),
        ctx.dirs.clone(),
        threshold,
    )?
    .with_tiers(
        evaluation.request.primary_capability.clone(),
        evaluation.request.fallback_chain.clone(),
    );
    if !renewer.is_empty() {
        pool = pool.with_renewer(Arc::new(renewer))?;
    }

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
    let code = outcome.exit.code.clamp(0, 255) as u8;
    drop(outcome);
    crate::exit::child_outcome(code)
}

struct Member {
    account: PoolAccount,
    account_upstream: Option<String>,
    provider_upstream: Option<String>,
    definition: ProviderDefinition,
    /// The account's refresh target and its token's expiry, when it may be refreshed.
    refresh: Option<(crate::oauth::RefreshTarget, Option<jiff::Timestamp>)>,
}

/// Read an account's credential: its `secret` block, or `<config_dir>/<credential file>`.
fn read_account_secret(
    account: &AccountConfig,
    def: &ProviderDefinition,
    field: &str,
) -> Result<secrets::Secret, String> {
    let spec = account.secret_spec(&def.injection.credential_filename)?;
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
            crate::output::print_json(&none)?;
        } else {
            crate::output::print_text(&format!(
                "no managed {} session recorded yet; run `oauth-mux {}`",
                harness.name(),
                harness.name()
            ));
        }
        return Err(Quiet(ExitCode::Error).into());
    };
    let artifact = status::read_artifact(&path)?;
    let s = session_verdict::summarize(harness, &artifact);
    if json {
        crate::output::print_json(&s)?;
        return Ok(());
    }
    crate::output::print_text(&render_summary(&s));
    Ok(())
}

fn render_summary(s: &session_verdict::Summary) -> String {
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
