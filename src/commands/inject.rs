//! `oauth-mux env`, `oauth-mux exec` and the `stay-afloat launch` entry point:
//! select a route with no spend (the one evaluation), then print its exports or
//! run a command with it injected.

use serde::Serialize;

use super::context::{Context, Loaded};
use super::evaluate::{Evaluation, RouteReport, evaluate};
use crate::child::{self, ChildSpec, SignalForwarder};
use crate::cli::Selectors;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::inject::{
    ChildEnvironment, InjectError, Shell, Withheld, build_child_env, printable_plan,
};
use crate::model::RouteKey;
use crate::model::classify::Classification;
use crate::model::election::{Ballot, Purpose, elect};
use crate::model::event::{Event, EventKind};
use crate::model::health::EvidenceSource;
use crate::model::liveness::DeadReason;
use crate::output;

/// When no `--provider`/`--profile` is given, pick the provider whose definition
/// lists the command's basename in `detection.binary_names` (only when exactly
/// one configured provider matches).
pub fn detect_provider(loaded: &Loaded, selectors: &Selectors, argv: &[String]) -> Selectors {
    let mut out = selectors.clone();
    if selectors.provider.is_some() || selectors.profile.is_some() {
        return out;
    }
    let Some(name) = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
    else {
        return out;
    };
    let config = &loaded.config;
    let matches: Vec<&String> = config
        .providers
        .iter()
        .filter(|(_, pc)| {
            config
                .definition(&pc.kind)
                .is_some_and(|d| d.detection.binary_names.contains(&name))
        })
        .map(|(p, _)| p)
        .collect();
    if let [only] = matches.as_slice() {
        out.provider = Some((*only).clone());
    }
    out
}

/// The `exec` command line that pins `key`.
fn exec_command(key: &RouteKey) -> String {
    let mut cmd = format!(
        "oauth-mux exec --provider {} --account {}",
        key.provider, key.account
    );
    if let Some(c) = &key.capability {
        cmd.push_str(&format!(" --capability {c}"));
    }
    cmd + " -- CMD"
}

/// The repair commands of the routes that were not selected, in table order.
fn repair_commands(routes: &[RouteReport]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in routes.iter().filter(|r| !r.selected) {
        if let Some(c) = r
            .action
            .command
            .clone()
            .or(r.action.diagnostic_command.clone())
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out.push("oauth-mux repair-plan".into());
    out
}

/// Explain on stderr that nothing is selectable and what that meant (`consequence`).
fn refuse(ctx: &Context, eval: &Evaluation, consequence: &str) -> anyhow::Error {
    let mut text = format!("oauth-mux: no selectable route; {consequence}.\n\n");
    text.push_str(&super::route::route_table(&eval.routes, ctx));
    text.push_str(&output::next_block(&repair_commands(&eval.routes)));
    output::warn(text.trim_end());
    Quiet(ExitCode::NoneSelectable).into()
}

/// Run `argv` with `env` injected and return its exit code the way a shell would: the
/// child's code, 128 + N for signal N, 127 for a command that does not exist, 126 for one
/// that cannot be executed.
fn run_target(
    argv: &[String],
    env: &ChildEnvironment,
    forwarder: &SignalForwarder,
) -> anyhow::Result<u8> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Failure::new(ExitCode::Usage, "no command given after `--`"))?;
    let spec = ChildSpec {
        program: program.into(),
        args: args.iter().map(Into::into).collect(),
        env_remove: env.remove.clone(),
        env_set: env.vars.clone(),
    };
    match child::spawn(&spec, forwarder) {
        Ok(running) => Ok(running.wait()?.shell_code()),
        Err(err) => {
            let advice = if err.not_found() {
                " (check the name and PATH)"
            } else {
                ""
            };
            output::warn(&format!("oauth-mux: {err}{advice}"));
            Ok(err.shell_code())
        }
    }
}

/// `exec [selectors] -- CMD ARGS…`: run CMD with the selected route injected and
/// exit with its exit code.
pub fn exec(selectors: &Selectors, argv: &[String]) -> anyhow::Result<()> {
    let handlers = SignalForwarder::install()?;
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let selectors = detect_provider(&loaded, selectors, argv);
    let eval = evaluate(&ctx, &loaded, &selectors)?;
    let Some(key) = eval.selection.selected.clone() else {
        return Err(refuse(&ctx, &eval, &format!("`{}` was not run", argv[0])));
    };
    let env = build_child_env(
        &loaded.config,
        &key,
        eval.request.profile.as_deref(),
        &ctx.dirs,
        ctx.now,
    )
    .map_err(Failure::from)?;
    let code = run_target(argv, &env, &handlers);
    drop(env);
    drop(handlers);
    crate::exit::child_outcome(code?)
}

/// `stay-afloat launch [selectors] -- CMD`: like `stay-afloat next`, then run CMD
/// through the exec path with the chosen route pinned. A route found stale at
/// launch (unreadable secret → recorded dead `credential_unavailable` on the
/// account; expired token) is skipped and the next one selected. When nothing is
/// selectable the mediation is printed on stderr and CMD is not run (exit 201).
pub fn launch(selectors: &Selectors, argv: &[String]) -> anyhow::Result<()> {
    if argv.is_empty() {
        return Err(Failure::new(ExitCode::Usage, "no command given after `--`").into());
    }
    let handlers = SignalForwarder::install()?;
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let selectors = detect_provider(&loaded, selectors, argv);
    let mut stale: Vec<(RouteKey, String)> = Vec::new();
    loop {
        let eval = evaluate(&ctx, &loaded, &selectors)?;
        let stale_keys: Vec<RouteKey> = stale.iter().map(|(k, _)| k.clone()).collect();
        let ballot = Ballot {
            exclude: &stale_keys,
            ..Ballot::new(Purpose::Inject)
        };
        let choice = elect(&eval.selection.routes, &ballot).first().cloned();
        let Some(key) = choice else {
            return Err(mediation(&ctx, &eval, &stale));
        };
        match build_child_env(
            &loaded.config,
            &key,
            eval.request.profile.as_deref(),
            &ctx.dirs,
            ctx.now,
        ) {
            Ok(env) => {
                output::warn(&format!("oauth-mux: launching with {key}"));
                let code = run_target(argv, &env, &handlers);
                drop(env);
                drop(handlers);
                return crate::exit::child_outcome(code?);
            }
            Err(InjectError::SecretUnavailable {
                key: account,
                error,
            }) => {
                crate::evidence::record(
                    &ctx.dirs,
                    &account,
                    &Classification::Dead {
                        reason: DeadReason::CredentialUnavailable,
                    },
                    None,
                    EvidenceSource::CredentialValidation,
                    ctx.now,
                )
                .map_err(Failure::from)?;
                crate::evidence::append_event(
                    &ctx.dirs,
                    &Event::new(
                        ctx.now,
                        EventKind::LaunchReselect {
                            route: key.to_string(),
                            reason: "credential_unavailable".into(),
                        },
                    ),
                );
                output::warn(&format!(
                    "oauth-mux: {key} is stale at launch: its secret could not be used ({error}); recorded {account} as dead credential_unavailable; trying the next route"
                ));
                stale.push((key, "credential_unavailable".into()));
            }
            Err(err @ InjectError::Expired { .. }) => {
                output::warn(&format!("oauth-mux: {err}; trying the next route"));
                stale.push((key, "token_expired".into()));
            }
            Err(InjectError::Other(f)) => return Err(f.into()),
        }
    }
}

/// The text mediation of `stay-afloat launch` when nothing is selectable.
fn mediation(ctx: &Context, eval: &Evaluation, stale: &[(RouteKey, String)]) -> anyhow::Error {
    let blocking = eval
        .routes
        .iter()
        .find(|r| !r.selectable && r.action.command.is_some())
        .or_else(|| eval.routes.iter().find(|r| !r.selectable));
    let kind = blocking
        .and_then(|r| serde_json::to_value(r.action.kind).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            if stale.is_empty() {
                "repair".into()
            } else {
                "reauth".into()
            }
        });
    let command = blocking
        .and_then(|r| {
            r.action
                .command
                .clone()
                .or(r.action.diagnostic_command.clone())
        })
        .unwrap_or_else(|| "oauth-mux repair-plan".into());
    let mut text = String::from(
        "oauth-mux stay-afloat launch: no selectable route; the target was not run.\n",
    );
    text.push_str("ready_for_exec: false\n");
    text.push_str(&format!("next_action: {kind}\n"));
    text.push_str(&format!("command: {command}\n"));
    for (key, why) in stale {
        text.push_str(&format!("stale at launch: {key} ({why})\n"));
    }
    text.push('\n');
    text.push_str(&super::route::route_table(&eval.routes, ctx));
    output::warn(text.trim_end());
    Quiet(ExitCode::NoneSelectable).into()
}

#[derive(Serialize)]
struct Export {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct EnvOutput {
    ok: bool,
    route: String,
    provider: String,
    account: String,
    capability: Option<String>,
    profile: Option<String>,
    shell: Shell,
    exports: Vec<Export>,
    /// Variables `exec` sets that `env` never prints (tokens, temp credential dirs).
    withheld: Vec<Withheld>,
    exec_command: String,
}

fn default_shell(loaded: &Loaded) -> Shell {
    loaded
        .config
        .defaults
        .shell
        .as_deref()
        .and_then(|s| s.parse().ok())
        .or_else(|| std::env::var("SHELL").ok().and_then(|s| s.parse().ok()))
        .unwrap_or(Shell::Bash)
}

/// `env [selectors] [--shell S] [--json]`: export statements for the selected
/// route. Tokens are never printed; variables that carry them are listed with a
/// pointer to `exec`.
pub fn env(selectors: &Selectors, shell: Option<&str>, json: bool) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let shell = match shell {
        Some(s) => s
            .parse::<Shell>()
            .map_err(|e| Failure::new(ExitCode::Usage, e))?,
        None => default_shell(&loaded),
    };
    let eval = evaluate(&ctx, &loaded, selectors)?;
    let Some(key) = eval.selection.selected.clone() else {
        if json {
            return Err(Failure::new(
                ExitCode::NoneSelectable,
                "no selectable route, so there is nothing to export; see why with `oauth-mux route explain`",
            )
            .into());
        }
        return Err(refuse(&ctx, &eval, "there is nothing to export"));
    };
    let profile = eval.request.profile.clone();
    let plan = printable_plan(&loaded.config, &key, profile.as_deref()).map_err(Failure::from)?;
    let out = EnvOutput {
        ok: true,
        route: key.to_string(),
        provider: key.provider.clone(),
        account: key.account.clone(),
        capability: key.capability.clone(),
        profile,
        shell,
        exports: plan
            .exports
            .into_iter()
            .map(|(name, value)| Export { name, value })
            .collect(),
        withheld: plan.withheld,
        exec_command: exec_command(&key),
    };
    output::emit(json, &out, |o| {
        let mut text = format!("# oauth-mux env: {}\n", o.route);
        for e in &o.exports {
            text.push_str(&o.shell.export_line(&e.name, &e.value));
            text.push('\n');
        }
        for w in &o.withheld {
            text.push_str(&format!(
                "# {} is not printed ({}); use `{}` instead\n",
                w.name, w.reason, o.exec_command
            ));
        }
        text
    })
}
