//! The shared flow of `oauth-mux codex` and `oauth-mux claude`: load config, elect the launch
//! account, resolve every account of the profile into the session pool, run the real harness
//! through the session proxy, and exit with the harness's code. Plus `status-latest`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::context::Context;
use super::session_plan;
use crate::cli::LaunchArgs;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::harness::session::{self, LaunchPlan};
use crate::harness::status::{self, HarnessKind};
use crate::harness::{codex_home, token_renewal, upstream};
use crate::model::session_verdict;
use crate::proxy::durable_pool::DurablePool;

/// What the launcher needs about one harness (its binary and default profile are the
/// harness's onboarding facts, `config::starter`).
pub struct HarnessLaunch {
    pub harness: HarnessKind,
    pub args: Vec<OsString>,
    pub isolated_config: bool,
}

/// Run a managed session and exit the process with the harness's exit code.
pub fn launch(spec: HarnessLaunch, opts: &LaunchArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let (starter, _) = super::onboard::harness_facts(spec.harness);
    let profile = opts
        .profile
        .clone()
        .unwrap_or_else(|| starter.default_profile.to_string());
    let mut pool = session_plan::plan_for_launch(&ctx, &loaded, spec.harness, &profile)?;
    for l in &pool.left_out {
        eprintln!("oauth-mux: not using account {} ({})", l.account, l.reason);
    }
    let (Some(launch_auth), Some(launch_key)) = (
        pool.launch_auth(),
        pool.plan.as_ref().map(|p| p.launch.clone()),
    ) else {
        return Err(pool.none_can_start(spec.harness).into());
    };
    let session_upstream = pool.resolve_upstreams()?;
    let launch_member = pool
        .members
        .iter()
        .position(|m| m.account.route_key == launch_key)
        .unwrap_or(0);
    let definition = pool.members[launch_member].definition.clone();
    let requests = definition
        .upstream
        .as_ref()
        .and_then(|up| up.requests.clone());
    let pool_labels: Vec<String> = pool
        .members
        .iter()
        .map(|m| m.account.label.clone())
        .collect();
    let request = &pool.evaluation.request;
    let tiers = (
        request.primary_capability.clone(),
        request.fallback_chain.clone(),
    );
    let mut renewer = token_renewal::SessionRenewer::new(ctx.dirs.clone(), spec.harness);
    for m in &mut pool.members {
        if let Some((target, expires_at)) = m.refresh.take() {
            renewer.add(
                crate::proxy::pool::AccountId(m.account.label.as_str().into()),
                target,
                &m.account.credential,
                expires_at,
            );
        }
    }
    let mut durable = DurablePool::new(
        &profile,
        definition,
        pool.members.into_iter().map(|m| m.account).collect(),
        ctx.dirs.clone(),
        loaded.config.usage_threshold_pct(),
    )?
    .with_tiers(tiers.0, tiers.1);
    if !renewer.is_empty() {
        durable = durable.with_renewer(Arc::new(renewer))?;
    }

    let program = crate::harness::binary::program(starter)?;
    if spec.harness == HarnessKind::Codex {
        let args: Vec<String> = spec
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        codex_home::check_forwarded_args(&args)
            .map_err(|e| Failure::new(ExitCode::Usage, format!("{e:#}")))?;
    }
    let plan = LaunchPlan {
        auth: launch_auth,
        profile: profile.clone(),
        launch_account: launch_key.account.clone(),
        pool_labels,
        upstream: session_upstream,
        extra_ca_file: extra_ca_file(opts)?,
        program: program.into_os_string(),
        args: spec.args,
        no_side_traffic: opts.no_side_traffic,
        isolated_config: spec.isolated_config,
        sessions_dir: ctx.dirs.sessions_dir(),
        runtime_dir: ctx.dirs.runtime_dir.clone(),
        user_harness_home: user_harness_home(spec.harness),
        cwd: std::env::current_dir().unwrap_or_default(),
        // The child gets no variable a configured secret backend reads (issue 17).
        env_remove: loaded.config.secret_environment().into_iter().collect(),
        requests,
    };
    let outcome = session::run(&plan, Arc::new(durable))?;
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

/// The user's own harness home: Codex's (`$CODEX_HOME`, else `~/.codex`), or Claude's config
/// dir (`$CLAUDE_CONFIG_DIR`, else `~/.claude`).
pub fn user_harness_home(harness: HarnessKind) -> Option<PathBuf> {
    match harness {
        HarnessKind::Codex => codex_home::user_codex_home(
            std::env::var_os("CODEX_HOME").map(PathBuf::from).as_deref(),
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
        ),
        HarnessKind::Claude => std::env::var_os("CLAUDE_CONFIG_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude"))),
    }
}

/// The extra CA bundle of `--extra-ca-file` or `OMUX_EXTRA_CA_FILE`, which must exist.
pub fn extra_ca_file(opts: &LaunchArgs) -> anyhow::Result<Option<PathBuf>> {
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
    Ok(extra_ca_file)
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
    let s = status::summarize_file(&path, harness)?;
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
