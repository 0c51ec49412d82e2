//! No-spend inventory: `discover`, `report`, `providers list`, `accounts list`.

use serde::Serialize;

use super::context::{Context, HealthView};
use super::facts::{describe_status, secret_facts};
use crate::cli::{AccountsListArgs, ReportArgs};
use crate::config::builtin;
use crate::config::{Config, ProviderDefinition};
use crate::model::RouteKey;
use crate::model::health::effective_status;
use crate::model::refresh::Writeback;
use crate::model::runtime::RuntimeReadiness;
use crate::output;
use crate::routes;

// ---------------------------------------------------------------- providers list

#[derive(Serialize)]
struct CapabilityInfo {
    name: String,
    aliases: Vec<String>,
    proof_status: String,
    budget: Option<String>,
    probe: Option<&'static str>,
}

#[derive(Serialize)]
struct ProviderInfo {
    name: String,
    display_name: String,
    support_status: &'static str,
    repair_owner: &'static str,
    configured_accounts: usize,
    harness: Option<String>,
    capabilities: Vec<CapabilityInfo>,
}

#[derive(Serialize)]
struct ProvidersReport {
    configured: bool,
    providers: Vec<ProviderInfo>,
    next_commands: Vec<String>,
}

fn provider_info(
    def: &ProviderDefinition,
    support_status: &'static str,
    configured_accounts: usize,
) -> ProviderInfo {
    ProviderInfo {
        name: def.name.clone(),
        display_name: def.title().to_owned(),
        support_status,
        repair_owner: def.repair.owner.as_str(),
        configured_accounts,
        harness: def.upstream.as_ref().map(|u| u.harness.clone()),
        capabilities: def
            .capabilities
            .iter()
            .map(|c| CapabilityInfo {
                name: c.name.clone(),
                aliases: c.aliases.clone(),
                proof_status: c
                    .proof_status
                    .clone()
                    .unwrap_or_else(|| "needs_operator_proof".into()),
                budget: c
                    .probe
                    .as_ref()
                    .map(|p| p.effective_budget().as_str().to_owned()),
                probe: c.probe.as_ref().map(|p| match p.transport {
                    crate::config::provider_def::ProbeTransport::Http => "http",
                    crate::config::provider_def::ProbeTransport::Command => "command",
                }),
            })
            .collect(),
    }
}

fn accounts_of_kind(config: Option<&Config>, kind: &str) -> usize {
    config.map_or(0, |c| {
        c.providers
            .values()
            .filter(|p| p.kind == kind)
            .map(|p| p.accounts.len())
            .sum()
    })
}

pub fn providers_list(json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config_if_present()?;
    let config = loaded.as_ref().map(|l| &l.config);
    let mut providers: Vec<ProviderInfo> = builtin::all()
        .iter()
        .map(|d| provider_info(d, "built_in", accounts_of_kind(config, &d.name)))
        .collect();
    if let Some(c) = config {
        for (name, def) in &c.provider_definitions {
            let mut def = def.clone();
            def.name = name.clone();
            let status = if builtin::NAMES.contains(&name.as_str()) {
                "user_override"
            } else {
                "schema_modeled"
            };
            providers.retain(|p| &p.name != name);
            providers.push(provider_info(&def, status, accounts_of_kind(config, name)));
        }
    }
    let report = ProvidersReport {
        configured: config.is_some(),
        providers,
        next_commands: vec![
            "oauth-mux accounts list".into(),
            "oauth-mux init --codex-max".into(),
        ],
    };
    output::emit(json, &report, |r| {
        let rows: Vec<Vec<String>> = r
            .providers
            .iter()
            .map(|p| {
                let caps: Vec<String> = p
                    .capabilities
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.budget.as_deref().unwrap_or("no probe")))
                    .collect();
                vec![
                    p.name.clone(),
                    p.support_status.to_owned(),
                    p.configured_accounts.to_string(),
                    if caps.is_empty() {
                        "-".into()
                    } else {
                        caps.join(", ")
                    },
                ]
            })
            .collect();
        output::table(
            &[
                "PROVIDER",
                "SUPPORT",
                "ACCOUNTS",
                "CAPABILITIES (probe budget)",
            ],
            &rows,
        ) + &output::next_block(&r.next_commands)
    })
}

// ---------------------------------------------------------------- accounts list

#[derive(Serialize)]
struct CapabilityHealth {
    name: String,
    health_recorded: bool,
    state: String,
    selectable: bool,
}

#[derive(Serialize)]
struct AccountInfo {
    provider: String,
    kind: String,
    account: String,
    priority: i32,
    state: &'static str,
    secret_backend: String,
    tags: Vec<String>,
    runtime: RuntimeReadiness,
    writeback: Writeback,
    /// The token's expiry and whether a refresh is admitted, or why not.
    token: crate::model::refresh::TokenOutlook,
    capabilities: Vec<CapabilityHealth>,
}

#[derive(Serialize)]
struct AccountsReport {
    configured: bool,
    filter_provider: Option<String>,
    accounts: Vec<AccountInfo>,
    agent_safe_commands: Vec<String>,
}

fn account_infos(
    ctx: &Context,
    config: &Config,
    health: &HealthView,
    filter: Option<&str>,
) -> Vec<AccountInfo> {
    let mut out = Vec::new();
    for (pname, pc) in &config.providers {
        if filter.is_some_and(|f| f != pname) {
            continue;
        }
        let def = config.definition(&pc.kind);
        for (aname, account) in &pc.accounts {
            let key = RouteKey::new(pname, aname, None);
            let runtime = routes::readiness(&ctx.dirs, &key, pc, account, def);
            let account_health = health.get(&key);
            let capabilities: Vec<CapabilityHealth> = def
                .as_ref()
                .map(|d| {
                    d.capabilities
                        .iter()
                        .map(|c| {
                            let rk = key.with_capability(&c.name);
                            let route = health.get(&rk);
                            let status = effective_status(account_health, route, ctx.now);
                            CapabilityHealth {
                                name: c.name.clone(),
                                health_recorded: route.is_some(),
                                state: describe_status(&status, ctx.now),
                                selectable: runtime.is_ready() && status.is_available(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let (backend, _) = secret_facts(account);
            out.push(AccountInfo {
                provider: pname.clone(),
                kind: pc.kind.clone(),
                account: aname.clone(),
                priority: account.priority,
                state: if runtime.is_ready() {
                    "configured"
                } else {
                    "action_needed"
                },
                secret_backend: backend,
                tags: account.tags.clone(),
                writeback: crate::oauth::account_writeback(
                    config,
                    pname,
                    account,
                    &ctx.dirs.data_dir,
                ),
                token: crate::oauth::inspect::account_outlook(
                    config, &ctx.dirs, pname, aname, account, ctx.now,
                ),
                runtime,
                capabilities,
            });
        }
    }
    out
}

pub fn accounts_list(args: &AccountsListArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config_if_present()?;
    let health = ctx.health()?;
    if let (Some(l), Some(p)) = (&loaded, &args.provider)
        && !l.config.providers.contains_key(p)
    {
        let known: Vec<&str> = l.config.providers.keys().map(String::as_str).collect();
        return Err(crate::exit::Failure::new(
            crate::exit::ExitCode::Usage,
            format!("unknown provider {p:?}; configured: {}", known.join(", ")),
        )
        .into());
    }
    let accounts = loaded
        .as_ref()
        .map(|l| account_infos(&ctx, &l.config, &health, args.provider.as_deref()))
        .unwrap_or_default();
    let report = AccountsReport {
        configured: loaded.is_some(),
        filter_provider: args.provider.clone(),
        accounts,
        agent_safe_commands: if loaded.is_some() {
            vec![
                "oauth-mux route explain --json".into(),
                "oauth-mux repair-plan --json".into(),
                "oauth-mux doctor runtime --json".into(),
            ]
        } else {
            vec![
                "oauth-mux init --codex-max".into(),
                "oauth-mux doctor".into(),
            ]
        },
    };
    output::emit(args.json, &report, |r| {
        if !r.configured {
            return "no config yet".to_owned() + &output::next_block(&r.agent_safe_commands);
        }
        let mut rows = Vec::new();
        let mut warnings = String::new();
        for a in &r.accounts {
            let token = super::facts::describe_token(&a.token, ctx.now);
            let caps: Vec<(&str, &str)> = if a.capabilities.is_empty() {
                vec![("-", "-")]
            } else {
                a.capabilities
                    .iter()
                    .map(|c| (c.name.as_str(), c.state.as_str()))
                    .collect()
            };
            for (name, state) in caps {
                rows.push(vec![
                    format!("{}:{}", a.provider, a.account),
                    a.priority.to_string(),
                    a.secret_backend.clone(),
                    a.runtime.label().to_owned(),
                    token.clone(),
                    name.to_owned(),
                    state.to_owned(),
                ]);
            }
            if let Some(w) = &a.token.warning {
                warnings.push_str(&format!("\n{}:{}: {w}", a.provider, a.account));
            }
        }
        output::table(
            &[
                "ACCOUNT",
                "PRIO",
                "SECRET",
                "RUNTIME",
                "TOKEN",
                "CAPABILITY",
                "HEALTH",
            ],
            &rows,
        ) + &warnings
            + &output::next_block(&r.agent_safe_commands)
    })
}

// ---------------------------------------------------------------- discover

#[derive(Serialize)]
struct DiscoverAccount {
    name: String,
    priority: i32,
    secret_backend: String,
    config_dir_set: bool,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct DiscoverProvider {
    name: String,
    kind: String,
    config_dir_env: Option<String>,
    accounts: Vec<DiscoverAccount>,
}

#[derive(Serialize)]
struct DiscoverProfile {
    name: String,
    strategy: Option<String>,
    affinity_ttl_minutes: u32,
    routes: Vec<String>,
    capability_degradation_chain: Vec<String>,
}

#[derive(Serialize)]
struct DiscoverReport {
    version: &'static str,
    configured: bool,
    config_path: String,
    state_dir: String,
    codex_max_configured: bool,
    providers: Vec<DiscoverProvider>,
    profiles: Vec<DiscoverProfile>,
    agent_safe_commands: Vec<String>,
}

pub fn discover(json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config_if_present()?;
    let mut report = DiscoverReport {
        version: crate::VERSION,
        configured: loaded.is_some(),
        config_path: ctx.dirs.config_file.display().to_string(),
        state_dir: ctx.dirs.state_dir.display().to_string(),
        codex_max_configured: false,
        providers: Vec::new(),
        profiles: Vec::new(),
        agent_safe_commands: vec![
            "oauth-mux init --codex-max".into(),
            "oauth-mux doctor --json".into(),
            "oauth-mux providers list --json".into(),
        ],
    };
    if let Some(l) = &loaded {
        let c = &l.config;
        report.codex_max_configured = crate::config::edit::codex_max_configured(c);
        report.providers = c
            .providers
            .iter()
            .map(|(name, pc)| DiscoverProvider {
                name: name.clone(),
                kind: pc.kind.clone(),
                config_dir_env: pc.config_dir_env.clone().or_else(|| {
                    c.definition(&pc.kind)
                        .and_then(|d| d.injection.config_dir_env.clone())
                }),
                accounts: pc
                    .accounts
                    .iter()
                    .map(|(an, a)| DiscoverAccount {
                        name: an.clone(),
                        priority: a.priority,
                        secret_backend: secret_facts(a).0,
                        config_dir_set: a.config_dir.is_some(),
                        tags: a.tags.clone(),
                    })
                    .collect(),
            })
            .collect();
        report.profiles = c
            .profiles
            .iter()
            .map(|(name, p)| DiscoverProfile {
                name: name.clone(),
                strategy: p.strategy.clone(),
                affinity_ttl_minutes: p.affinity_ttl_minutes,
                routes: p.providers.clone(),
                capability_degradation_chain: p.capability_degradation_chain.clone(),
            })
            .collect();
        report.agent_safe_commands = vec![
            "oauth-mux doctor --json".into(),
            "oauth-mux doctor runtime --json".into(),
            "oauth-mux accounts list --json".into(),
            "oauth-mux route explain --json".into(),
            "oauth-mux repair-plan --json".into(),
        ];
        // A single Codex account: the three-account Codex Max shape is one command away
        // (it writes a candidate beside the config and changes nothing else).
        if !report.codex_max_configured && c.providers.values().any(|p| p.kind == "codex") {
            report
                .agent_safe_commands
                .push("oauth-mux codex config-candidate --json".into());
        }
    }
    output::emit(json, &report, |r| {
        let mut out = format!(
            "oauth-mux {}\nconfig: {}\n",
            r.version,
            if r.configured {
                &r.config_path
            } else {
                "(none)"
            }
        );
        for p in &r.providers {
            let names: Vec<&str> = p.accounts.iter().map(|a| a.name.as_str()).collect();
            out.push_str(&format!(
                "provider {} (kind {}): {}\n",
                p.name,
                p.kind,
                names.join(", ")
            ));
        }
        for p in &r.profiles {
            out.push_str(&format!("profile {}: {}\n", p.name, p.routes.join(" → ")));
        }
        out + &output::next_block(&r.agent_safe_commands)
    })
}

// ---------------------------------------------------------------- report

#[derive(Serialize)]
struct ReportAccount {
    provider: String,
    account: String,
    secret_backend: String,
    secret_location: String,
    config_dir: String,
    runtime: String,
}

#[derive(Serialize)]
struct ReportHealth {
    key: String,
    state: String,
    last_class: Option<String>,
    last_status: Option<u16>,
    observed_at: Option<jiff::Timestamp>,
}

#[derive(Serialize)]
struct SupportReport {
    redacted: bool,
    paths_included: bool,
    version: &'static str,
    platform: serde_json::Value,
    config: serde_json::Value,
    accounts: Vec<ReportAccount>,
    health: Vec<ReportHealth>,
    unreadable_health_records: usize,
    tools: Vec<serde_json::Value>,
    recent_events: usize,
    next_commands: Vec<String>,
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config_if_present();
    let health = ctx.health().unwrap_or_default();
    let shown = |p: &str| {
        if args.include_paths {
            p.to_owned()
        } else {
            "redacted".to_owned()
        }
    };
    let (config_summary, accounts) = match &loaded {
        Ok(Some(l)) => {
            let mut accounts = Vec::new();
            for (pname, pc) in &l.config.providers {
                let def = l.config.definition(&pc.kind);
                for (aname, a) in &pc.accounts {
                    let location = a
                        .secret
                        .get("path")
                        .or_else(|| a.secret.get("variable"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("-");
                    let key = RouteKey::new(pname, aname, None);
                    accounts.push(ReportAccount {
                        provider: pname.clone(),
                        account: aname.clone(),
                        secret_backend: secret_facts(a).0,
                        secret_location: shown(location),
                        config_dir: a.config_dir.as_deref().map_or_else(|| "-".into(), shown),
                        runtime: routes::readiness(&ctx.dirs, &key, pc, a, def)
                            .label()
                            .to_owned(),
                    });
                }
            }
            (
                serde_json::json!({"configured": true, "valid": true, "warnings": l.warnings.len(), "path": shown(&ctx.dirs.config_file.display().to_string())}),
                accounts,
            )
        }
        Ok(None) => (
            serde_json::json!({"configured": false, "valid": false}),
            Vec::new(),
        ),
        Err(e) => (
            serde_json::json!({"configured": true, "valid": false, "error": format!("{e:#}")}),
            Vec::new(),
        ),
    };
    let health_rows = health
        .records
        .iter()
        .map(|(k, r)| ReportHealth {
            key: k.clone(),
            state: r.status_at(ctx.now).label().to_owned(),
            last_class: r.last_class.clone(),
            last_status: r.last_status,
            observed_at: r.observed_at,
        })
        .collect();
    let tools = [
        "codex",
        "claude",
        "gh",
        "security",
        "secret-tool",
        "sops",
        "age",
    ]
    .iter()
    .map(|t| serde_json::json!({"name": t, "on_path": routes::find_on_path(t).is_some()}))
    .collect();
    let recent_events = crate::store::events::EventLog::new(ctx.dirs.events_file())
        .read_last(20)
        .map(|v| v.len())
        .unwrap_or(0);
    let report = SupportReport {
        redacted: true,
        paths_included: args.include_paths,
        version: crate::VERSION,
        platform: serde_json::json!({"os": std::env::consts::OS, "arch": std::env::consts::ARCH}),
        config: config_summary,
        accounts,
        health: health_rows,
        unreadable_health_records: health.unreadable.len(),
        tools,
        recent_events,
        next_commands: vec![
            "oauth-mux doctor --json".into(),
            "oauth-mux route explain --json".into(),
        ],
    };
    output::emit(args.json, &report, render_report)
}

/// The support report for a person (to paste into an issue; `--json` for tools).
fn render_report(r: &SupportReport) -> String {
    let field = |v: &serde_json::Value, k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "-".into(),
    };
    let mut out = format!(
        "oauth-mux {} on {}/{} (report redacted: {}; paths {})\n",
        r.version,
        field(&r.platform, "os"),
        field(&r.platform, "arch"),
        if r.redacted { "yes" } else { "no" },
        if r.paths_included {
            "included"
        } else {
            "hidden"
        },
    );
    out.push_str(&format!(
        "config: configured {}, valid {}, warnings {}{}\n\n",
        field(&r.config, "configured"),
        field(&r.config, "valid"),
        field(&r.config, "warnings"),
        r.config
            .get("error")
            .and_then(|e| e.as_str())
            .map(|e| format!("\n  error: {e}"))
            .unwrap_or_default()
    ));
    let accounts: Vec<Vec<String>> = r
        .accounts
        .iter()
        .map(|a| {
            vec![
                format!("{}:{}", a.provider, a.account),
                a.secret_backend.clone(),
                a.runtime.clone(),
            ]
        })
        .collect();
    if accounts.is_empty() {
        out.push_str("accounts: none configured\n");
    } else {
        out.push_str(&output::table(&["ACCOUNT", "SECRET", "RUNTIME"], &accounts));
    }
    let health: Vec<Vec<String>> = r
        .health
        .iter()
        .map(|h| {
            vec![
                h.key.clone(),
                h.state.clone(),
                h.last_class.clone().unwrap_or_else(|| "-".into()),
                h.observed_at.map_or_else(|| "-".into(), |t| t.to_string()),
            ]
        })
        .collect();
    out.push('\n');
    if health.is_empty() {
        out.push_str("health: nothing recorded\n");
    } else {
        out.push_str(&output::table(
            &["ROUTE", "STATE", "LAST", "OBSERVED"],
            &health,
        ));
    }
    if r.unreadable_health_records > 0 {
        out.push_str(&format!(
            "({} health records could not be read)\n",
            r.unreadable_health_records
        ));
    }
    let tools: Vec<String> = r
        .tools
        .iter()
        .map(|t| {
            format!(
                "{}{}",
                field(t, "name"),
                if t.get("on_path").and_then(|v| v.as_bool()) == Some(true) {
                    " ✓"
                } else {
                    " ✗"
                }
            )
        })
        .collect();
    out.push_str(&format!(
        "\ntools on PATH: {}\nrecent events: {}\n",
        tools.join("  "),
        r.recent_events
    ));
    out + &output::next_block(&r.next_commands)
}
