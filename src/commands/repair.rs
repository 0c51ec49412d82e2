//! `oauth-mux repair run`: at most one repair. An admitted non-interactive probe
//! runs under the account's repair lock; an interactive login runs only with
//! `--confirm-repair`, in this terminal (never with `--json`). Every call appends
//! one `repair_run` event.

use serde::Serialize;

use super::afloat::execute::{ExecutionResult, execute_action, is_runnable_probe};
use super::afloat::record::{Outcome, RouteEventKind, route_event};
use super::context::Context;
use super::evaluate::{RouteReport, evaluate};
use super::facts::RouteId;
use crate::cli::RepairRunArgs;
use crate::evidence::append_event;
use crate::exit::{ExitCode, Quiet};
use crate::model::budget::AdmissionVerdict;
use crate::model::refresh::Writeback;
use crate::model::repair::{ActionKind, RouteAction};
use crate::output;
use crate::store::account_lock::AccountLock;

#[derive(Serialize, Default)]
struct RepairOutput {
    ok: bool,
    executed: bool,
    confirmation_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    reason: &'static str,
    profile: Option<String>,
    route: Option<RouteId>,
    command: Option<String>,
    action: Option<RouteAction>,
    daemon_repair: Option<AdmissionVerdict>,
    writeback: Option<Writeback>,
    execution: Option<ExecutionResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock_started_at: Option<String>,
    interactive: bool,
    mutating: bool,
    event_recorded: bool,
    message: String,
}

/// What `repair run` picks: the first route (selection order) with a runnable repair.
fn actionable(r: &RouteReport) -> bool {
    (is_runnable_probe(r) && r.daemon_repair.admitted)
        || (r.action.kind == ActionKind::Reauth && r.action.command.is_some())
}

/// `repair run [selectors] [--confirm-repair] [--json]`.
pub fn run(args: &RepairRunArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    let eval = evaluate(&ctx, &loaded, &args.selectors)?;
    let profile = eval.request.profile.clone();
    let base = RepairOutput {
        profile: profile.clone(),
        event_recorded: true,
        ..Default::default()
    };
    let record = |route: Option<&RouteReport>,
                  outcome: &str,
                  reason: Option<&str>,
                  ok: bool,
                  executed: bool| {
        append_event(
            &ctx.dirs,
            &route_event(
                RouteEventKind::RepairRun,
                ctx.now,
                profile.as_deref(),
                route,
                &Outcome {
                    outcome,
                    reason,
                    ok,
                    executed,
                },
            ),
        );
    };
    if let Some(selected) = eval.selected() {
        record(
            Some(selected),
            "noop",
            Some("route_selectable"),
            true,
            false,
        );
        return finish(
            args.json,
            RepairOutput {
                ok: true,
                reason: "route_selectable",
                route: Some(selected.route.clone()),
                message: format!("{} is selectable; nothing to repair", selected.route.key),
                ..base
            },
            ExitCode::Ok,
        );
    }
    let Some(route) = eval
        .routes
        .iter()
        .find(|r| actionable(r) || r.action.kind == ActionKind::WaitForRepair)
    else {
        record(None, "noop", Some("no_admitted_repair"), true, false);
        return finish(
            args.json,
            RepairOutput {
                ok: true,
                reason: "no_admitted_repair",
                message: "no repair is admitted; see `oauth-mux repair-plan`".into(),
                ..base
            },
            ExitCode::Ok,
        );
    };
    let about = RepairOutput {
        route: Some(route.route.clone()),
        command: route.action.command.clone(),
        action: Some(route.action.clone()),
        daemon_repair: Some(route.daemon_repair.clone()),
        writeback: Some(route.writeback.clone()),
        interactive: route.action.interactive,
        mutating: route.action.mutating,
        ..base
    };
    if route.action.interactive {
        if !args.confirm_repair {
            record(
                Some(route),
                "confirmation_required",
                Some(route.daemon_repair.reason),
                false,
                false,
            );
            return finish(
                args.json,
                RepairOutput {
                    confirmation_required: true,
                    requires: Some("--confirm-repair"),
                    reason: "confirmation_required",
                    message: format!(
                        "{} needs an interactive login; run `oauth-mux repair run --provider {} --account {} --confirm-repair` in a terminal",
                        route.route.key, route.route.provider, route.route.account
                    ),
                    ..about
                },
                ExitCode::Error,
            );
        }
        if args.json {
            record(
                Some(route),
                "interactive_json_unsupported",
                Some("interactive_json_unsupported"),
                false,
                false,
            );
            return finish(
                true,
                RepairOutput {
                    error: Some("interactive_json_unsupported"),
                    reason: "interactive_json_unsupported",
                    message:
                        "an interactive repair runs in the terminal; run it again without --json"
                            .into(),
                    ..about
                },
                ExitCode::Error,
            );
        }
    }
    let lock = if route.action.kind == ActionKind::WaitForRepair {
        None
    } else {
        AccountLock::try_acquire(
            &ctx.dirs,
            &route.route.provider,
            &route.route.account,
            &ctx.now.to_string(),
        )
        .map_err(crate::exit::Failure::from)?
    };
    let Some(lock) = lock else {
        let started = crate::store::account_lock::probe(
            &ctx.dirs,
            &route.route.provider,
            &route.route.account,
        )
        .map(|h| h.started_at);
        record(
            Some(route),
            "repair_in_progress",
            Some("repair_in_progress"),
            false,
            false,
        );
        return finish(
            args.json,
            RepairOutput {
                error: Some("repair_in_progress"),
                reason: "repair_in_progress",
                lock_started_at: started,
                message: format!(
                    "another oauth-mux process is repairing {}:{}; try again when it finishes",
                    route.route.provider, route.route.account
                ),
                ..about
            },
            ExitCode::Error,
        );
    };
    if route.action.interactive {
        let command = route.action.command.clone().unwrap_or_default();
        output::warn(&format!(
            "oauth-mux: running the login for {}: {command}",
            route.route.key
        ));
        let status = match command.strip_prefix("oauth-mux ") {
            // A login handoff of this binary: it takes the account's repair lock itself
            // (and says whether the store then holds usable credentials).
            Some(args) => {
                drop(lock);
                std::env::current_exe().and_then(|exe| {
                    std::process::Command::new(exe)
                        .args(args.split_whitespace())
                        .status()
                })
            }
            None => {
                let status = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .status();
                drop(lock);
                status
            }
        };
        let code = status.as_ref().ok().and_then(|s| s.code()).unwrap_or(1);
        let ok = status.as_ref().is_ok_and(|s| s.success());
        record(
            Some(route),
            "executed",
            (!ok).then_some("login_command_failed"),
            ok,
            true,
        );
        output::warn(&if ok {
            format!(
                "oauth-mux: login finished; refresh the evidence with `oauth-mux stay-afloat refresh --provider {} --account {}`",
                route.route.provider, route.route.account
            )
        } else {
            format!("oauth-mux: the login command exited with {code}")
        });
        return crate::exit::child_outcome(code.clamp(0, 255) as u8);
    }
    let result = execute_action(&ctx, &loaded, route, profile.as_deref());
    drop(lock);
    let ok = result.ok;
    record(
        Some(route),
        if result.executed {
            "executed"
        } else {
            "not_executed"
        },
        if ok {
            None
        } else {
            result.error.as_deref().or(Some("probe_failed"))
        },
        ok,
        result.executed,
    );
    let executed = result.executed;
    finish(
        args.json,
        RepairOutput {
            ok,
            executed,
            reason: match (executed, ok) {
                (true, true) => "repaired",
                (true, false) => "repair_failed",
                (false, _) => "repair_not_executed",
            },
            message: format!(
                "{} {}: {}",
                if executed { "ran" } else { "could not run" },
                route.action.command.as_deref().unwrap_or("the probe"),
                match (executed, ok) {
                    (true, true) => "the route is usable",
                    (true, false) => "the route is still not usable",
                    (false, _) => "nothing was recorded",
                }
            ),
            execution: Some(result),
            ..about
        },
        if ok { ExitCode::Ok } else { ExitCode::Error },
    )
}

fn finish(json: bool, out: RepairOutput, code: ExitCode) -> anyhow::Result<()> {
    output::emit(json, &out, |o| {
        let mut text = o.message.clone();
        if let Some(e) = o.execution.as_ref().and_then(|e| e.error.as_deref()) {
            text.push_str(&format!("\nerror: {e}"));
        }
        if let Some(c) = &o.command
            && !o.executed
        {
            text.push_str(&format!("\ncommand: {c}"));
        }
        text
    })?;
    if code == ExitCode::Ok {
        Ok(())
    } else {
        Err(Quiet(code).into())
    }
}
