//! `oauth-mux codex|claude preflight`: every check the managed session makes before it
//! launches, without launching: the harness binary and its version, the account stores, the
//! pool and the order the session tries its accounts (the launch's own planning,
//! `session_plan`), the upstream's reachability (TCP and TLS handshake, no request), the
//! harness's own config, and the side-traffic settings the session would apply.

use std::time::Duration;

use serde::Serialize;

use super::context::Context;
use super::managed::{extra_ca_file, user_harness_home};
use super::onboard::harness_facts;
use super::session_plan::{self, PoolRoute};
use crate::cli::PreflightArgs;
use crate::exit::{ExitCode, Quiet};
use crate::harness::status::HarnessKind;
use crate::harness::{binary, claude_env, codex_home, session};
use crate::model::session_pool::LeftOut;
use crate::output;
use crate::probe::reach::{self, Reachability};

#[derive(Serialize)]
struct PreflightReport {
    mode: String,
    harness: HarnessKind,
    profile: String,
    ok: bool,
    session_start_ready: bool,
    spends_provider_calls: bool,
    mutates_user_config: bool,
    mutates_route_health: bool,
    checks: Vec<Check>,
    harness_binary: BinaryFacts,
    launch_account: Option<String>,
    /// The accounts in the order the session would try them (the launch account first).
    session_order: Vec<String>,
    /// The pool's routes with their place in that order.
    pool: Vec<PoolRoute>,
    left_out: Vec<LeftOut>,
    upstream: Option<UpstreamFacts>,
    side_traffic: SideTraffic,
    next_commands: Vec<String>,
}

/// One check and its verdict.
#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
    next_command: Option<String>,
}

#[derive(Serialize, Default)]
struct BinaryFacts {
    found: bool,
    version: Option<String>,
}

#[derive(Serialize)]
struct UpstreamFacts {
    origin: String,
    #[serde(flatten)]
    reachability: Reachability,
}

#[derive(Serialize)]
struct SideTraffic {
    /// `--no-side-traffic` was given: the settings below would be applied.
    disabled: bool,
    settings: Vec<String>,
}

fn check(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
        next_command: None,
    }
}

pub fn run(
    harness: HarnessKind,
    args: &PreflightArgs,
    isolated_config: bool,
) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let (starter, _) = harness_facts(harness);
    let opts = &args.launch;
    let profile = opts
        .profile
        .clone()
        .unwrap_or_else(|| starter.default_profile.into());
    let mut checks = Vec::new();

    let mut binary_facts = BinaryFacts::default();
    match binary::program(starter) {
        Ok(program) => {
            binary_facts.found = true;
            match binary::version(&program) {
                Ok(v) => {
                    checks.push(check(
                        "harness_binary",
                        true,
                        format!("{}: {v}", program.display()),
                    ));
                    binary_facts.version = Some(v);
                }
                Err(why) => checks.push(check(
                    "harness_binary",
                    false,
                    format!("{}: {why}", program.display()),
                )),
            }
        }
        Err(why) => {
            let mut c = check("harness_binary", false, why.message);
            c.next_command = Some(format!(
                "install {}, or set {}",
                starter.provider, starter.bin_env
            ));
            checks.push(c);
        }
    }

    let mut pool = session_plan::plan(&ctx, &loaded, harness, &profile)?;
    for view in pool.account_views(&loaded.config, harness) {
        let key = &view.key;
        let ready = view.runtime.is_ready();
        let mut c = check(
            format!("store:{}", key.account),
            ready,
            if ready {
                "present and writable".to_owned()
            } else {
                format!("runtime {}", view.runtime.label())
            },
        );
        if !ready {
            c.next_command = pool
                .evaluation
                .routes
                .iter()
                .find(|r| r.route.key == key.to_string())
                .and_then(|r| r.action.command.clone());
        }
        checks.push(c);
    }

    let launch_account = pool.plan.as_ref().map(|p| p.launch.account.clone());
    let session_order = pool.account_order();
    match &launch_account {
        Some(a) => checks.push(check(
            "session_pool",
            true,
            format!("starts on {a}; order: {}", session_order.join(" → ")),
        )),
        None => {
            let mut c = check("session_pool", false, pool.none_can_start(harness).message);
            c.next_command = Some(format!("oauth-mux route explain --profile {profile}"));
            checks.push(c);
        }
    }

    let extra_ca = match extra_ca_file(opts) {
        Ok(ca) => ca,
        Err(e) => {
            checks.push(check("extra_ca_file", false, format!("{e:#}")));
            None
        }
    };
    let upstream = if launch_account.is_some() {
        match pool.resolve_upstreams() {
            Ok(origin) => {
                let reachability =
                    reach::check(&origin, extra_ca.as_deref(), Duration::from_secs(5));
                checks.push(check(
                    "upstream",
                    reachability.reachable,
                    match &reachability.problem {
                        None => format!(
                            "{origin}: {} in {} ms (no request sent)",
                            if reachability.tls_verified == Some(true) {
                                "TLS handshake verified"
                            } else {
                                "TCP connected"
                            },
                            reachability.elapsed_ms
                        ),
                        Some(why) => format!("{origin}: {why}"),
                    },
                ));
                Some(UpstreamFacts {
                    origin,
                    reachability,
                })
            }
            Err(e) => {
                checks.push(check("upstream", false, format!("{e:#}")));
                None
            }
        }
    } else {
        None
    };

    checks.push(harness_config_check(harness, isolated_config));
    let side_traffic = SideTraffic {
        disabled: opts.no_side_traffic,
        settings: match harness {
            HarnessKind::Codex => vec![session::codex_side_traffic_args().join(" ")],
            HarnessKind::Claude => claude_env::SIDE_TRAFFIC_VARS
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        },
    };
    checks.push(check(
        "side_traffic",
        true,
        if opts.no_side_traffic {
            format!(
                "turned off for the session: {}",
                side_traffic.settings.join(" ")
            )
        } else {
            "left as the harness is configured (--no-side-traffic turns it off)".to_owned()
        },
    ));

    let ok = checks.iter().all(|c| c.ok);
    let mut next: Vec<String> = checks
        .iter()
        .filter_map(|c| c.next_command.clone())
        .collect();
    next.dedup();
    if ok {
        next.push(format!("oauth-mux {}", harness.name()));
    }
    let report = PreflightReport {
        mode: format!("{}_preflight", harness.name()),
        harness,
        profile,
        ok,
        session_start_ready: launch_account.is_some(),
        spends_provider_calls: false,
        mutates_user_config: false,
        mutates_route_health: false,
        harness_binary: binary_facts,
        pool: pool.routes(),
        left_out: pool.left_out.clone(),
        launch_account,
        session_order,
        upstream,
        side_traffic,
        checks,
        next_commands: next,
    };
    output::emit(args.json, &report, render)?;
    match (report.ok, report.session_start_ready) {
        (true, _) => Ok(()),
        (false, false) => Err(Quiet(ExitCode::NoneSelectable).into()),
        (false, true) => Err(Quiet(ExitCode::Error).into()),
    }
}

/// The harness's own config as the launch reads it: Codex's config.toml must parse (the
/// session's overlay is rendered from it); Claude settings that set routing variables are
/// overridden for the session, never changed.
fn harness_config_check(harness: HarnessKind, isolated_config: bool) -> Check {
    let home = user_harness_home(harness);
    match harness {
        HarnessKind::Codex => {
            let Some(home) = home else {
                return check(
                    "harness_config",
                    false,
                    "could not find your Codex home: set CODEX_HOME or HOME",
                );
            };
            let path = home.join("config.toml");
            let Ok(text) = std::fs::read_to_string(&path) else {
                return check(
                    "harness_config",
                    true,
                    "no config.toml: Codex defaults apply",
                );
            };
            let probe = codex_home::Endpoints {
                http_base: "http://127.0.0.1:1/preflight",
                tls: Some(("https://127.0.0.1:1/preflight", "")),
            };
            match codex_home::render_config(Some(&text), &probe, codex_home::CodexAuthKind::Chatgpt)
            {
                Ok(_) => check(
                    "harness_config",
                    true,
                    "config.toml parses; the session re-points only its routing keys",
                ),
                Err(e) => check("harness_config", false, format!("{e:#}")),
            }
        }
        HarnessKind::Claude => {
            if isolated_config {
                return check(
                    "harness_config",
                    true,
                    "a fresh CLAUDE_CONFIG_DIR for the session (--isolated-config)",
                );
            }
            let cwd = std::env::current_dir().unwrap_or_default();
            let conflicts: Vec<String> = home
                .map(|dir| claude_env::settings_files(&dir, &cwd))
                .unwrap_or_default()
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .flat_map(|text| claude_env::conflicting_settings_vars(&text))
                .collect();
            check(
                "harness_config",
                true,
                if conflicts.is_empty() {
                    "no Claude settings override the session's routing".to_owned()
                } else {
                    format!(
                        "your Claude settings set {}; the session overrides them with --settings (your files are unchanged)",
                        conflicts.join(", ")
                    )
                },
            )
        }
    }
}

fn render(r: &PreflightReport) -> String {
    let rows: Vec<Vec<String>> = r
        .checks
        .iter()
        .map(|c| {
            vec![
                if c.ok { "ok" } else { "FAIL" }.to_owned(),
                c.name.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    let mut out = format!(
        "{} preflight, profile {} (nothing launched, no request sent)\n\n",
        r.harness.name(),
        r.profile
    );
    out.push_str(&output::table(&["", "CHECK", "DETAIL"], &rows));
    for l in &r.left_out {
        out.push_str(&format!("not using account {} ({})\n", l.account, l.reason));
    }
    out.push_str(&if r.ok {
        format!(
            "\nready: `oauth-mux {}` would start on {}\n",
            r.harness.name(),
            r.launch_account.as_deref().unwrap_or("-")
        )
    } else {
        "\nnot ready\n".to_owned()
    });
    out + &output::next_block(&r.next_commands)
}
