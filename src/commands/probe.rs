//! `oauth-mux probe`: walk the selected routes in selection order and probe them
//! (until one is usable, or all with `--all`), behind the spend gate.

use serde::Serialize;

use super::context::Context;
use crate::cli::ProbeArgs;
use crate::exit::{ExitCode, Quiet};
use crate::model::RouteKey;
use crate::model::budget::ActionBudget;
use crate::model::classify::{Classification, Decision};
use crate::model::liveness::Liveness;
use crate::model::repair::probe_command;
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::{RouteView, view_of};
use crate::output;
use crate::probe::{self, EvidenceSummary, OutcomeKind, ProbeOutcome, ProbeRoute};

/// The JSON report of `oauth-mux probe`.
#[derive(Debug, Serialize)]
struct ProbeReport {
    ok: bool,
    exit_code: u8,
    profile: Option<String>,
    capability: Option<String>,
    /// The first route a probe found usable.
    usable_route: Option<RouteKey>,
    /// Some route was not probed because it spends provider calls.
    confirmation_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<&'static str>,
    /// Some selected route's probe spends provider calls (`spend_provider`).
    spends_provider_calls: bool,
    routes: Vec<RouteReport>,
    next_commands: Vec<String>,
}

/// One route in the report (also one route of `live-qa`).
#[derive(Debug, Serialize)]
pub(super) struct RouteReport {
    provider: String,
    account: String,
    capability: Option<String>,
    pub(super) health_key: RouteKey,
    pub(super) outcome: OutcomeKind,
    probe_executed: bool,
    budget: Option<ActionBudget>,
    spends_provider_calls: bool,
    confirmation_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<&'static str>,
    /// The status before this run, as selection saw it.
    status_before: String,
    status: Option<u16>,
    pub(super) classification: Option<Classification>,
    decision: Option<Decision>,
    liveness: Option<Liveness>,
    evidence: Option<EvidenceSummary>,
    runtime: Option<RuntimeReadiness>,
    pub(super) message: Option<String>,
    /// The refresh that ran first because the token had expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_refresh: Option<crate::oauth::RefreshReport>,
}

/// Run `oauth-mux probe`.
pub fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let (request, selection, health) =
        super::evaluate::select_routes(&ctx, &loaded, &args.selectors)?;
    let mut ordered: Vec<RouteView> = selection.routes;
    if args.all {
        // Routes of capabilities outside the primary tier and its chain.
        for c in &request.candidates {
            if !ordered.iter().any(|v| v.key == c.key) {
                ordered.push(view_of(c, &health, config.usage_threshold_pct(), ctx.now));
            }
        }
    }
    // The user named the route(s): probe them whatever their recorded state.
    let explicit = args.all || args.selectors.account.is_some() || ordered.len() == 1;
    let mut reports = Vec::new();
    let mut usable_route = None;
    // Providers a probe found degraded as a whole: the walk moves to the next provider.
    let mut degraded_providers: Vec<String> = Vec::new();
    for view in ordered {
        if usable_route.is_some() && !args.all {
            break;
        }
        if !args.all && degraded_providers.contains(&view.key.provider) {
            reports.push(skipped_for_provider(&view));
            continue;
        }
        let report = probe_one(
            &ctx,
            config,
            &view,
            request.profile.as_deref(),
            args,
            explicit,
        )?;
        if report.decision == Some(Decision::TryNextProvider) {
            degraded_providers.push(view.key.provider.clone());
        }
        if report.outcome == OutcomeKind::Usable && usable_route.is_none() {
            usable_route = Some(view.key.clone());
        }
        reports.push(report);
    }
    let exit = if usable_route.is_some() {
        ExitCode::Ok
    } else {
        reports
            .iter()
            .rev()
            .find(|r| !matches!(r.outcome, OutcomeKind::Skipped | OutcomeKind::NoProbe))
            .map_or(ExitCode::NoneSelectable, |r| r.outcome.exit_code())
    };
    let confirmation_required = reports.iter().any(|r| r.confirmation_required);
    let report = ProbeReport {
        ok: exit == ExitCode::Ok,
        exit_code: exit.code(),
        profile: request.profile.clone(),
        capability: request.primary_capability.clone(),
        usable_route: usable_route.clone(),
        confirmation_required,
        requires: confirmation_required.then_some("--confirm-spend"),
        spends_provider_calls: reports.iter().any(|r| r.spends_provider_calls),
        next_commands: next_commands(&reports, usable_route.is_some()),
        routes: reports,
    };
    output::emit(args.json, &report, render)?;
    if exit == ExitCode::Ok {
        Ok(())
    } else {
        Err(Quiet(exit).into())
    }
}

/// Probe one route behind the spend gate (`args.confirm_spend`); `explicit` probes it
/// whatever its recorded state.
pub(super) fn probe_one(
    ctx: &Context,
    config: &crate::config::Config,
    view: &RouteView,
    profile: Option<&str>,
    args: &ProbeArgs,
    explicit: bool,
) -> anyhow::Result<RouteReport> {
    let key = &view.key;
    let pc = config
        .providers
        .get(&key.provider)
        .expect("gathered routes name configured providers");
    let account = pc
        .accounts
        .get(&key.account)
        .expect("gathered routes name configured accounts");
    let def = config.definition(&pc.kind);
    let probe_def = def.as_ref().and_then(|d| probe::probe_definition(d, key));
    let budget = probe_def.map(|p| p.effective_budget());
    let spends = budget == Some(ActionBudget::SpendProvider);
    let mut confirmation_required = false;
    let outcome = match &def {
        None => ProbeOutcome::bare(
            OutcomeKind::NoProbe,
            format!("{key}: no provider definition for kind {:?}", pc.kind),
        ),
        Some(_) if !view.runtime.is_ready() => {
            let mut out = ProbeOutcome::bare(
                OutcomeKind::RuntimeProblem,
                format!(
                    "{key}: runtime not ready ({}); run `oauth-mux doctor runtime --provider {} --json`",
                    view.runtime.label(),
                    key.provider
                ),
            );
            out.runtime = Some(view.runtime.clone());
            out
        }
        Some(_) if !explicit && !view.status.may_carry_traffic() => ProbeOutcome::bare(
            OutcomeKind::Skipped,
            format!(
                "{key}: recorded state is {}; not probed (name it with --account, or use --all)",
                view.status.label()
            ),
        ),
        Some(_)
            if spends
                && !args.confirm_spend
                && !probe::policy_admits_spend(config, &key.provider, &pc.kind) =>
        {
            confirmation_required = true;
            let out = ProbeOutcome::bare(
                OutcomeKind::ConfirmationRequired,
                format!(
                    "{key}: this probe spends provider calls; rerun with --confirm-spend or admit spend_provider in policy.providers.{}.allowed_budgets",
                    key.provider
                ),
            );
            probe::log_probe(&ctx.dirs, key, ActionBudget::SpendProvider, &out, ctx.now);
            out
        }
        Some(d) => {
            // One progress line per probe that runs (stderr; stdout stays the report).
            output::warn(&format!(
                "oauth-mux: probing {key}{}…",
                if spends { " (spends a model call)" } else { "" }
            ));
            let started = std::time::Instant::now();
            let out = probe::run_probe(
                &ctx.dirs,
                ProbeRoute {
                    key,
                    provider: pc,
                    account,
                    definition: d,
                    profile,
                },
                ctx.now,
            )?;
            output::warn(&format!(
                "oauth-mux: {key}: {} in {:.1} s",
                out.classification
                    .as_ref()
                    .map_or_else(|| out.outcome.as_str().to_owned(), |c| c.label().to_owned()),
                started.elapsed().as_secs_f64()
            ));
            out
        }
    };
    Ok(RouteReport {
        provider: key.provider.clone(),
        account: key.account.clone(),
        capability: key.capability.clone(),
        health_key: key.clone(),
        outcome: outcome.outcome,
        probe_executed: outcome.probe_executed,
        budget,
        spends_provider_calls: spends,
        confirmation_required,
        requires: confirmation_required.then_some("--confirm-spend"),
        status_before: view.status.label().to_owned(),
        status: outcome.status,
        classification: outcome.classification,
        decision: outcome.decision,
        liveness: outcome.liveness,
        evidence: outcome.evidence,
        runtime: outcome.runtime,
        message: outcome.message,
        token_refresh: outcome.token_refresh,
    })
}

fn skipped_for_provider(view: &RouteView) -> RouteReport {
    let key = &view.key;
    RouteReport {
        provider: key.provider.clone(),
        account: key.account.clone(),
        capability: key.capability.clone(),
        health_key: key.clone(),
        outcome: OutcomeKind::Skipped,
        probe_executed: false,
        budget: None,
        spends_provider_calls: false,
        confirmation_required: false,
        requires: None,
        status_before: view.status.label().to_owned(),
        status: None,
        classification: None,
        decision: Some(Decision::TryNextProvider),
        liveness: None,
        evidence: None,
        runtime: None,
        message: Some(format!(
            "{key}: provider {} answered as degraded on an earlier route; trying the next provider",
            key.provider
        )),
        token_refresh: None,
    }
}

fn next_commands(reports: &[RouteReport], usable: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        match r.outcome {
            OutcomeKind::ConfirmationRequired => {
                out.push(probe_command(
                    &r.health_key,
                    Some(ActionBudget::SpendProvider),
                ));
            }
            OutcomeKind::RuntimeProblem => out.push(format!(
                "oauth-mux doctor runtime --provider {} --account {} --json",
                r.provider, r.account
            )),
            _ => {}
        }
    }
    if usable {
        out.push("oauth-mux route explain --json".into());
    } else {
        out.push("oauth-mux repair-plan --json".into());
        out.push("oauth-mux health --json".into());
    }
    out.dedup();
    out
}

fn render(report: &ProbeReport) -> String {
    let rows: Vec<Vec<String>> = report
        .routes
        .iter()
        .map(|r| {
            vec![
                r.health_key.to_string(),
                r.budget.map_or("-", ActionBudget::as_str).to_owned(),
                if r.probe_executed { "yes" } else { "no" }.to_owned(),
                r.status.map_or("-".into(), |s| s.to_string()),
                r.classification
                    .as_ref()
                    .map_or("-", Classification::label)
                    .to_owned(),
                r.outcome.as_str().to_owned(),
            ]
        })
        .collect();
    let mut out = output::table(
        &["ROUTE", "BUDGET", "PROBED", "STATUS", "CLASS", "OUTCOME"],
        &rows,
    );
    for r in &report.routes {
        if let Some(m) = &r.message {
            out.push_str(&format!("  {m}\n"));
        }
    }
    out.push_str(&match &report.usable_route {
        Some(k) => format!("\nUsable: {k}\n"),
        None => format!("\nNo probed route is usable (exit {}).\n", report.exit_code),
    });
    out.push_str(&output::next_block(&report.next_commands));
    out
}
