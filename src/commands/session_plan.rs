//! What a managed session decides before the harness starts, in one place: the profile's
//! routes through the one election, the pool (`model::session_pool::plan_pool`) over the
//! routes whose provider speaks the harness's protocol with each account's credential read
//! and checked, and the upstream each member is sent to. `oauth-mux codex|claude` launches on
//! it; `codex|claude preflight` and `canary` report it, so they say what the next session does.

use anyhow::Context as _;
use serde::Serialize;

use super::context::{Context, Loaded};
use super::evaluate::{Evaluation, evaluate};
use super::facts::RouteId;
use crate::cli::Selectors;
use crate::config::ProviderDefinition;
use crate::exit::{ExitCode, Failure};
use crate::harness::session::AuthKind;
use crate::harness::status::HarnessKind;
use crate::harness::token_renewal::{self, LaunchRefresh};
use crate::harness::{codex_home, upstream};
use crate::model::RouteKey;
use crate::model::selection::RouteView;
use crate::model::session_pool::{LeftOut, PoolPlan, plan_pool};
use crate::proxy::durable_pool::PoolAccount;

/// One account route that joined the pool, with what the proxy needs to use it.
pub struct Member {
    pub account: PoolAccount,
    account_upstream: Option<String>,
    provider_upstream: Option<String>,
    pub definition: ProviderDefinition,
    /// The account's refresh target and its token's expiry, when oauth-mux may refresh it.
    pub refresh: Option<(crate::oauth::RefreshTarget, Option<jiff::Timestamp>)>,
}

/// The planned pool of the next managed session of one harness over one profile.
pub struct SessionPool {
    pub profile: String,
    pub evaluation: Evaluation,
    /// The members in rank order and the launch route; `None` when no account can start.
    pub plan: Option<PoolPlan<AuthKind>>,
    /// Accounts left out, one reason each.
    pub left_out: Vec<LeftOut>,
    /// The members (launch route's authentication only), in rank order.
    pub members: Vec<Member>,
}

/// A route of the pool as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct PoolRoute {
    #[serde(flatten)]
    pub route: RouteId,
    /// Its place in the order the session tries routes (1 = the launch route); `None` for a
    /// member that is temporarily out (a spent quota, a rate limit) and may come back.
    pub position: Option<usize>,
    pub status: String,
}

/// Plan the pool of a `harness` session over `profile` as the next launch would, without
/// acting on it: an account whose token is due is counted in as the launch would refresh it,
/// but nothing is refreshed (for `preflight` and `canary`). A profile that does not exist is
/// a config error that names the setup command.
pub fn plan(
    ctx: &Context,
    loaded: &Loaded,
    harness: HarnessKind,
    profile: &str,
) -> anyhow::Result<SessionPool> {
    plan_with(ctx, loaded, harness, profile, LaunchRefresh::Predict)
}

/// [`plan`] for the launch itself (`oauth-mux codex|claude`): an account whose token is due
/// (or expired) and that oauth-mux may refresh is refreshed before it joins.
pub fn plan_for_launch(
    ctx: &Context,
    loaded: &Loaded,
    harness: HarnessKind,
    profile: &str,
) -> anyhow::Result<SessionPool> {
    plan_with(ctx, loaded, harness, profile, LaunchRefresh::Now)
}

fn plan_with(
    ctx: &Context,
    loaded: &Loaded,
    harness: HarnessKind,
    profile: &str,
    refresh: LaunchRefresh,
) -> anyhow::Result<SessionPool> {
    let config = &loaded.config;
    require_profile(config, harness, profile)?;
    let selectors = Selectors {
        profile: Some(profile.to_owned()),
        ..Selectors::default()
    };
    let evaluation = evaluate(ctx, loaded, &selectors)?;
    let speaks_harness = |key: &RouteKey| {
        config
            .providers
            .get(&key.provider)
            .and_then(|pc| config.definition(&pc.kind))
            .and_then(|def| def.upstream.as_ref())
            .is_some_and(|up| up.harness == harness.name())
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
        let raw = account
            .read_secret(&def.injection.credential_filename, &field)
            .map_err(|why| format!("secret: {why}"))?;
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
            harness,
            def,
            target.as_ref(),
            raw,
            ctx.now,
            refresh,
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
    let members = match &plan {
        Some(plan) => resolved
            .into_iter()
            .filter(|m| plan.members.iter().any(|(k, _)| k == &m.account.route_key))
            .collect(),
        None => Vec::new(),
    };
    Ok(SessionPool {
        profile: profile.to_owned(),
        evaluation,
        plan,
        left_out,
        members,
    })
}

/// A harness command's profile must exist; the error names the setup command.
pub fn require_profile(
    config: &crate::config::Config,
    harness: HarnessKind,
    profile: &str,
) -> Result<(), Failure> {
    if config.profiles.contains_key(profile) {
        return Ok(());
    }
    let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
    Err(Failure::new(
        ExitCode::Config,
        format!(
            "no profile {profile:?} is configured; run `oauth-mux setup {}` to add {} accounts, or name a profile with --profile (known: {})",
            harness.name(),
            harness_title(harness),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ),
    ))
}

/// `Codex` / `Claude Code`, for messages.
pub fn harness_title(harness: HarnessKind) -> &'static str {
    match harness {
        HarnessKind::Codex => "Codex",
        HarnessKind::Claude => "Claude Code",
    }
}

impl SessionPool {
    /// The member routes in the order the session tries them: the launch route first, then
    /// the session election's order (docs/routing.md).
    pub fn order(&self) -> Vec<RouteKey> {
        self.evaluation
            .selection
            .session_order
            .iter()
            .filter(|k| self.is_member(k))
            .cloned()
            .collect()
    }

    /// The accounts in the order the session tries them (each once, first route wins).
    pub fn account_order(&self) -> Vec<String> {
        let mut accounts: Vec<String> = Vec::new();
        for key in self.order() {
            if !accounts.contains(&key.account) {
                accounts.push(key.account);
            }
        }
        accounts
    }

    /// One route per account of the profile whose provider is of the harness (its first in
    /// rank order), for reports per account.
    pub fn account_views(
        &self,
        config: &crate::config::Config,
        harness: HarnessKind,
    ) -> Vec<&RouteView> {
        let mut views: Vec<&RouteView> = Vec::new();
        for view in &self.evaluation.selection.routes {
            let of_harness = config
                .providers
                .get(&view.key.provider)
                .is_some_and(|p| p.kind == harness.name());
            if of_harness
                && !views
                    .iter()
                    .any(|v| v.key.account_key() == view.key.account_key())
            {
                views.push(view);
            }
        }
        views
    }

    fn is_member(&self, key: &RouteKey) -> bool {
        self.members.iter().any(|m| &m.account.route_key == key)
    }

    /// Every member route with its place in the order (or none, when temporarily out).
    pub fn routes(&self) -> Vec<PoolRoute> {
        let order = self.order();
        self.members
            .iter()
            .map(|m| {
                let key = &m.account.route_key;
                PoolRoute {
                    route: RouteId::from(key),
                    position: order.iter().position(|k| k == key).map(|i| i + 1),
                    status: self
                        .evaluation
                        .selection
                        .routes
                        .iter()
                        .find(|v| &v.key == key)
                        .map_or("unknown", |v| v.status.label())
                        .to_owned(),
                }
            })
            .collect()
    }

    /// The launch route's authentication.
    pub fn launch_auth(&self) -> Option<AuthKind> {
        self.plan.as_ref().map(|p| p.members[0].1)
    }

    /// The error a launch gives when no account can start a session (exit 201).
    pub fn none_can_start(&self, harness: HarnessKind) -> Failure {
        let why: Vec<String> = self
            .left_out
            .iter()
            .map(|l| format!("{}: {}", l.account, l.reason))
            .collect();
        Failure::new(
            ExitCode::NoneSelectable,
            format!(
                "no account of profile {:?} can start a {} session{}; run `oauth-mux route explain --profile {}`",
                self.profile,
                harness.name(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                },
                self.profile
            ),
        )
    }

    /// Resolve where the session sends model traffic (see `harness::upstream`), and give
    /// each member whose own upstream differs its own. Returns the session's upstream.
    pub fn resolve_upstreams(&mut self) -> anyhow::Result<String> {
        let Some(plan) = &self.plan else {
            anyhow::bail!("no launch account");
        };
        let launch = self
            .members
            .iter()
            .position(|m| m.account.route_key == plan.launch)
            .unwrap_or(0);
        let up = self.members[launch]
            .definition
            .upstream
            .clone()
            .context("the provider definition has no upstream")?;
        let api_key = matches!(
            plan.members[0].1,
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
                provider: self.members[launch].provider_upstream.as_deref(),
            },
            &default,
        )
        .map_err(|e| Failure::new(ExitCode::Config, format!("{e:#}")))?;
        for m in &mut self.members {
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
            m.account.upstream = (own != session_upstream).then_some(own);
        }
        Ok(session_upstream)
    }
}
