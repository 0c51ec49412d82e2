//! `oauth-mux codex|claude live-qa [--confirm-spend]`: one minimal model request per route of
//! the harness's profile (the capability's own probe, recorded as evidence like `probe`), and
//! whether every capability is still covered by an account. Without `--confirm-spend` it only
//! says what it would call.

use serde::Serialize;

use super::context::Context;
use super::onboard::harness_facts;
use super::probe::{RouteReport, probe_one};
use crate::cli::{LiveQaArgs, ProbeArgs, Selectors};
use crate::exit::{ExitCode, Quiet};
use crate::harness::status::HarnessKind;
use crate::model::selection::{RouteView, view_of};
use crate::output;
use crate::probe::{OutcomeKind, probe_definition};

#[derive(Serialize)]
struct LiveQaReport {
    harness: HarnessKind,
    profile: String,
    /// Every capability has an available account (and the spend was confirmed).
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    confirmation_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<&'static str>,
    spends_provider_calls: bool,
    /// What each route would call (always present; the spend plan).
    plan: Vec<PlannedCall>,
    /// The probe of each route, when confirmed.
    routes: Vec<RouteReport>,
    routes_available: usize,
    routes_unavailable: usize,
    capabilities_covered: Vec<String>,
    capabilities_uncovered: Vec<String>,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct PlannedCall {
    route: String,
    capability: Option<String>,
    /// `command: codex exec …` or `POST https://…` (never a token).
    call: String,
}

pub fn run(harness: HarnessKind, args: &LiveQaArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let config = &loaded.config;
    let (starter, _) = harness_facts(harness);
    let profile = args
        .profile
        .clone()
        .unwrap_or_else(|| starter.default_profile.into());
    super::session_plan::require_profile(config, harness, &profile)?;
    let selectors = Selectors {
        profile: Some(profile.clone()),
        ..Selectors::default()
    };
    let (request, selection, health) = super::evaluate::select_routes(&ctx, &loaded, &selectors)?;
    let mut views: Vec<RouteView> = selection.routes.clone();
    for c in &request.candidates {
        if !views.iter().any(|v| v.key == c.key) {
            views.push(view_of(c, &health, config.usage_threshold_pct(), ctx.now));
        }
    }
    views.retain(|v| {
        config
            .providers
            .get(&v.key.provider)
            .is_some_and(|p| p.kind == harness.name())
    });
    let plan: Vec<PlannedCall> = views
        .iter()
        .map(|v| {
            let def = config.definition(&config.providers[&v.key.provider].kind);
            let call = def.and_then(|d| probe_definition(d, &v.key)).map_or_else(
                || "nothing: the capability defines no probe".to_owned(),
                |p| match p.transport {
                    crate::config::provider_def::ProbeTransport::Command => {
                        format!("command: {}", p.command.join(" "))
                    }
                    crate::config::provider_def::ProbeTransport::Http => {
                        format!("{} {}", p.method, p.url.as_deref().unwrap_or("-"))
                    }
                },
            );
            PlannedCall {
                route: v.key.to_string(),
                capability: v.key.capability.clone(),
                call,
            }
        })
        .collect();
    let mut capabilities: Vec<String> = Vec::new();
    for v in &views {
        if let Some(c) = &v.key.capability
            && !capabilities.contains(c)
        {
            capabilities.push(c.clone());
        }
    }
    let mut report = LiveQaReport {
        harness,
        profile: profile.clone(),
        ok: false,
        error: None,
        confirmation_required: !args.confirm_spend,
        requires: (!args.confirm_spend).then_some("--confirm-spend"),
        spends_provider_calls: true,
        plan,
        routes: Vec::new(),
        routes_available: 0,
        routes_unavailable: 0,
        capabilities_covered: Vec::new(),
        capabilities_uncovered: Vec::new(),
        next_commands: Vec::new(),
    };
    if !args.confirm_spend {
        report.error = Some("confirmation_required");
        report.next_commands = vec![format!(
            "oauth-mux {} live-qa --confirm-spend{}",
            harness.name(),
            args.profile
                .as_deref()
                .map(|p| format!(" --profile {p}"))
                .unwrap_or_default()
        )];
        output::emit(args.json, &report, render)?;
        return Err(Quiet(ExitCode::Error).into());
    }
    let probe_args = ProbeArgs {
        selectors: Selectors::default(),
        confirm_spend: true,
        all: true,
        json: args.json,
    };
    for view in &views {
        report.routes.push(probe_one(
            &ctx,
            config,
            view,
            Some(&profile),
            &probe_args,
            true,
        )?);
    }
    let usable = |r: &&RouteReport| r.outcome == OutcomeKind::Usable;
    report.routes_available = report.routes.iter().filter(usable).count();
    report.routes_unavailable = report.routes.len() - report.routes_available;
    for c in capabilities {
        let covered = report
            .routes
            .iter()
            .filter(usable)
            .any(|r| r.health_key.capability.as_deref() == Some(c.as_str()));
        if covered {
            report.capabilities_covered.push(c);
        } else {
            report.capabilities_uncovered.push(c);
        }
    }
    report.ok = report.capabilities_uncovered.is_empty() && !report.routes.is_empty();
    report.next_commands = if report.ok {
        vec![
            format!("oauth-mux route explain --profile {profile}"),
            format!("oauth-mux {}", harness.name()),
        ]
    } else {
        vec![format!("oauth-mux repair-plan --profile {profile}")]
    };
    output::emit(args.json, &report, render)?;
    if report.ok {
        return Ok(());
    }
    // Every probe failed to reach the provider: a network problem, not an account verdict.
    let offline = !report.routes.is_empty()
        && report
            .routes
            .iter()
            .all(|r| r.outcome == OutcomeKind::NetworkError);
    Err(Quiet(if offline {
        ExitCode::Network
    } else {
        ExitCode::Error
    })
    .into())
}

fn render(r: &LiveQaReport) -> String {
    let mut out = String::new();
    if r.confirmation_required {
        out.push_str(&format!(
            "{} live-qa would send one model request per route (this costs quota); nothing was sent:\n",
            r.harness.name()
        ));
        for p in &r.plan {
            out.push_str(&format!("  {}: {}\n", p.route, p.call));
        }
        return out + &output::next_block(&r.next_commands);
    }
    let rows: Vec<Vec<String>> = r
        .routes
        .iter()
        .map(|route| {
            vec![
                route.health_key.to_string(),
                route.outcome.as_str().to_owned(),
                route
                    .classification
                    .as_ref()
                    .map_or("-".into(), |c| c.label().to_owned()),
            ]
        })
        .collect();
    out.push_str(&output::table(&["ROUTE", "OUTCOME", "CLASS"], &rows));
    out.push_str(&format!(
        "\nroutes available {} / unavailable {}; capabilities covered: {}; uncovered: {}\n",
        r.routes_available,
        r.routes_unavailable,
        list(&r.capabilities_covered),
        list(&r.capabilities_uncovered)
    ));
    out + &output::next_block(&r.next_commands)
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
