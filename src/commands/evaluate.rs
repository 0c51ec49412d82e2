//! One evaluation of the routes a command is about: selection, and for every
//! route its evidence, repair action, writeback and admission. `route`,
//! `repair-plan`, `repair run` and `stay-afloat` all render this.

use jiff::Timestamp;
use serde::Serialize;

use super::context::{Context, HealthView, Loaded};
use super::facts::RouteId;
use crate::cli::Selectors;
use crate::config::Config;
use crate::exit::Failure;
use crate::model::budget::{AdmissionVerdict, RepairOwner};
use crate::model::election::{Selection, select};
use crate::model::health::{EvidenceSource, RouteStatus};
use crate::model::refresh::{TokenOutlook, TokenState, Writeback};
use crate::model::repair::{RepairContext, RouteAction, TokenRepair, plan_action};
use crate::model::runtime::RuntimeReadiness;
use crate::model::selection::RankPolicy;
use crate::routes::{self, RouteRequest};

/// The recorded evidence behind a route's status.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub recorded: bool,
    pub observed_at: Option<Timestamp>,
    pub source: Option<EvidenceSource>,
    pub last_status: Option<u16>,
    pub last_class: Option<String>,
}

/// Everything known about one route.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    #[serde(flatten)]
    pub route: RouteId,
    pub priority: i32,
    pub selected: bool,
    pub selectable: bool,
    pub skip_reason: Option<String>,
    pub fallback_capability: bool,
    pub status: RouteStatus,
    pub runtime: RuntimeReadiness,
    pub decision: crate::model::classify::Decision,
    pub evidence: Evidence,
    pub action: RouteAction,
    pub writeback: Writeback,
    /// The account's token: expiry, and whether a refresh is admitted or why not.
    pub token: TokenOutlook,
    /// Whether background work may run this route's probe.
    pub daemon_probe: Option<AdmissionVerdict>,
    /// Whether background work may run this route's repair action.
    pub daemon_repair: AdmissionVerdict,
}

/// The evaluation of a selector set.
pub struct Evaluation {
    pub request: RouteRequest,
    pub selection: Selection,
    pub routes: Vec<RouteReport>,
}

impl Evaluation {
    pub fn selected(&self) -> Option<&RouteReport> {
        self.routes.iter().find(|r| r.selected)
    }
}

/// Gather the selectors' candidates and run the one selection over them.
pub fn select_routes(
    ctx: &Context,
    loaded: &Loaded,
    selectors: &Selectors,
) -> Result<(RouteRequest, Selection, HealthView), anyhow::Error> {
    let health = ctx.health()?;
    let request =
        routes::gather(&loaded.config, selectors, &ctx.dirs).map_err(Failure::into_anyhow)?;
    let policy = RankPolicy {
        primary_capability: request.primary_capability.as_deref(),
        fallback_chain: &request.fallback_chain,
        usage_threshold_pct: loaded.config.usage_threshold_pct(),
    };
    let selection = select(&request.candidates, &policy, &health, ctx.now);
    Ok((request, selection, health))
}

/// Evaluate the routes the selectors name, at `ctx.now`.
pub fn evaluate(
    ctx: &Context,
    loaded: &Loaded,
    selectors: &Selectors,
) -> Result<Evaluation, anyhow::Error> {
    let config = &loaded.config;
    let (request, selection, health) = select_routes(ctx, loaded, selectors)?;
    let mut tokens = std::collections::HashMap::new();
    let routes = selection
        .routes
        .iter()
        .map(|view| {
            let token = tokens
                .entry(view.key.account_key())
                .or_insert_with(|| token_outlook(ctx, config, &view.key))
                .clone();
            report_for(
                ctx,
                config,
                &health,
                view,
                selection.selected.as_ref(),
                token,
            )
        })
        .collect();
    Ok(Evaluation {
        request,
        selection,
        routes,
    })
}

/// The token outlook of a route's account (read where that is free; see `oauth::inspect`).
fn token_outlook(ctx: &Context, config: &Config, key: &crate::model::RouteKey) -> TokenOutlook {
    let account = config
        .providers
        .get(&key.provider)
        .and_then(|p| p.accounts.get(&key.account));
    match account {
        Some(a) => crate::oauth::inspect::account_outlook(
            config,
            &ctx.dirs,
            &key.provider,
            &key.account,
            a,
            ctx.now,
        ),
        None => crate::model::refresh::outlook(
            None,
            &crate::model::refresh::writeback(&crate::model::refresh::WritebackFacts {
                owner: RepairOwner::ManualOnly,
                capability: "unsupported",
                provider_refreshes: false,
                policy: crate::model::refresh::WritebackPolicy::Auto,
                store_owned_by_oauth_mux: false,
            }),
            jiff::SignedDuration::ZERO,
            ctx.now,
        ),
    }
}

fn report_for(
    ctx: &Context,
    config: &Config,
    health: &HealthView,
    view: &crate::model::selection::RouteView,
    selected: Option<&crate::model::RouteKey>,
    token: TokenOutlook,
) -> RouteReport {
    let key = &view.key;
    let pc = config.providers.get(&key.provider);
    let def = pc.and_then(|p| config.definition(&p.kind));
    let probe = def
        .as_ref()
        .zip(key.capability.as_ref())
        .and_then(|(d, c)| d.capability(c))
        .and_then(|c| c.probe.clone());
    let probe_budget = probe.as_ref().map(|p| p.effective_budget());
    let account = pc.and_then(|p| p.accounts.get(&key.account));
    let login = super::facts::login_command(config, &key.provider, &key.account);
    let owner = def
        .as_ref()
        .map_or(RepairOwner::ManualOnly, |d| d.repair.owner);
    let action = plan_action(
        key,
        &view.status,
        &view.runtime,
        &RepairContext {
            owner,
            login_command: login.as_deref(),
            probe_budget,
            token: (token.state != TokenState::NotInspected).then_some(TokenRepair {
                expired: token.state == TokenState::Expired,
                refresh_admitted: token.refresh.admitted,
                refresh_reason: &token.refresh.reason,
            }),
        },
    );
    let admission = config.admission(&key.provider);
    let record = health.get(key);
    RouteReport {
        route: RouteId::from(key),
        priority: view.priority,
        selected: selected == Some(key),
        selectable: view.selectable,
        skip_reason: view.skip_reason.clone(),
        fallback_capability: view.fallback_capability,
        status: view.status.clone(),
        runtime: view.runtime.clone(),
        decision: view.decision,
        evidence: Evidence {
            recorded: record.is_some(),
            observed_at: record.and_then(|r| r.observed_at),
            source: record.and_then(|r| r.source),
            last_status: record.and_then(|r| r.last_status),
            last_class: record.and_then(|r| r.last_class.clone()),
        },
        writeback: account.map_or_else(
            || {
                crate::model::refresh::writeback(&crate::model::refresh::WritebackFacts {
                    owner,
                    capability: "unsupported",
                    provider_refreshes: false,
                    policy: crate::model::refresh::WritebackPolicy::Auto,
                    store_owned_by_oauth_mux: false,
                })
            },
            |a| crate::oauth::account_writeback(config, &key.provider, a, &ctx.dirs.data_dir),
        ),
        token,
        daemon_probe: probe_budget.map(|b| admission.admits(b)),
        daemon_repair: admission.admits(action.budget),
        action,
    }
}

impl Failure {
    /// Convert into `anyhow::Error` (keeps the exit code).
    pub fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::new(self)
    }
}
