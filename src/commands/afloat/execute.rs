//! Running the one non-interactive action stay-afloat and `repair run` may run:
//! an admitted probe (or revalidation). The probe runs as `oauth-mux probe … --json`
//! in a child process of this same binary, so there is one probe implementation and
//! its evidence is recorded exactly as a user-run probe records it.

use std::process::{Command, Stdio};

use serde::Serialize;
use serde_json::Value;

use crate::commands::evaluate::RouteReport;
use crate::model::budget::ActionBudget;
use crate::model::repair::ActionKind;

/// Environment variable naming the account whose repair lock the parent holds
/// while the child probe runs (`provider:account`).
pub const HELD_LOCK_ENV: &str = "OMUX_REPAIR_LOCK_HELD";

/// The probe output fields an execution keeps (the child already redacted them).
const PROBE_FIELDS: &[&str] = &[
    "ok",
    "error",
    "exit_code",
    "probe_executed",
    "health_key",
    "status",
    "decision",
    "liveness",
    "classification",
];

/// What running one action did.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionResult {
    /// `probe` (revalidation is a probe too).
    pub phase: &'static str,
    pub provider: String,
    pub account: String,
    pub capability: Option<String>,
    pub action: ActionKind,
    pub command: Option<String>,
    pub budget: ActionBudget,
    pub admitted: bool,
    pub executed: bool,
    /// The action ran and the route came out usable.
    pub ok: bool,
    pub exit_code: Option<i32>,
    /// The probe's own report (selected fields).
    pub probe: Option<Value>,
    pub error: Option<String>,
}

impl ExecutionResult {
    /// The planned (not run) execution of a route's action, for plan-mode ticks.
    pub fn planned(route: &RouteReport) -> ExecutionResult {
        ExecutionResult {
            phase: "probe",
            provider: route.route.provider.clone(),
            account: route.route.account.clone(),
            capability: route.route.capability.clone(),
            action: route.action.kind,
            command: route.action.command.clone(),
            budget: route.action.budget,
            admitted: route.daemon_repair.admitted,
            executed: false,
            ok: false,
            exit_code: None,
            probe: None,
            error: None,
        }
    }
}

/// Whether a route's action is one an executor may run without a human.
pub fn is_runnable_probe(route: &RouteReport) -> bool {
    matches!(
        route.action.kind,
        ActionKind::ProbeNeeded | ActionKind::RevalidationNeeded
    ) && route.action.command.is_some()
        && !route.action.interactive
        && route.route.capability.is_some()
}

/// Run the route's probe and report what happened. The caller has checked
/// admission (and holds the account lock when `holding_lock`).
pub fn execute_action(route: &RouteReport, holding_lock: bool) -> ExecutionResult {
    let mut result = ExecutionResult {
        executed: true,
        admitted: true,
        ..ExecutionResult::planned(route)
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            result.executed = false;
            result.error = Some(format!(
                "cannot locate the oauth-mux binary to run the probe: {e}"
            ));
            return result;
        }
    };
    let mut cmd = Command::new(exe);
    cmd.args(["probe", "--provider", &route.route.provider])
        .args(["--account", &route.route.account]);
    if let Some(c) = &route.route.capability {
        cmd.args(["--capability", c]);
    }
    if route.action.budget == ActionBudget::SpendProvider {
        cmd.arg("--confirm-spend");
    }
    cmd.arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if holding_lock {
        cmd.env(
            HELD_LOCK_ENV,
            format!("{}:{}", route.route.provider, route.route.account),
        );
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            result.executed = false;
            result.error = Some(format!("could not start `oauth-mux probe`: {e}"));
            return result;
        }
    };
    result.exit_code = output.status.code();
    let report: Option<Value> = serde_json::from_slice(&output.stdout).ok();
    let kept = report.as_ref().and_then(Value::as_object).map(|map| {
        Value::Object(
            map.iter()
                .filter(|(k, _)| PROBE_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    });
    let reported_ok = kept
        .as_ref()
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let decision_ok = kept
        .as_ref()
        .and_then(|v| v.get("decision"))
        .and_then(Value::as_str)
        .is_none_or(|d| d == "use_this");
    result.ok = output.status.success() && reported_ok && decision_ok;
    if !output.status.success() && kept.is_none() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        result.error = Some(last.map_or_else(
            || "the probe failed without output".to_owned(),
            |l| crate::output::redact_text(l.trim()),
        ));
    }
    result.probe = kept;
    result
}
