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
    "outcome",
    "message",
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
    // `oauth-mux probe --json` reports `ok`/`exit_code` and one entry per probed route.
    let entry = report
        .as_ref()
        .and_then(|r| r.get("routes"))
        .and_then(Value::as_array)
        .and_then(|routes| routes.first());
    let kept = report.as_ref().map(|r| {
        let mut map = serde_json::Map::new();
        for source in [Some(r), entry].into_iter().flatten() {
            if let Some(obj) = source.as_object() {
                for (k, v) in obj {
                    if PROBE_FIELDS.contains(&k.as_str()) {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Value::Object(map)
    });
    let field = |name: &str| kept.as_ref().and_then(|v| v.get(name)).cloned();
    result.executed = field("probe_executed")
        .and_then(|v| v.as_bool())
        .unwrap_or(output.status.success());
    let reported_ok = field("ok").and_then(|v| v.as_bool()).unwrap_or(true);
    let decision_ok = field("decision")
        .and_then(|v| v.as_str().map(str::to_owned))
        .is_none_or(|d| d == "use_this");
    result.ok = output.status.success() && reported_ok && decision_ok && result.executed;
    if !result.ok {
        let message = field("message").and_then(|v| v.as_str().map(str::to_owned));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned());
        result.error = match (message, last, result.executed) {
            (Some(m), _, _) => Some(m),
            (None, _, true) => None,
            (None, Some(l), false) => Some(l),
            (None, None, false) => Some("the probe did not run".to_owned()),
        }
        .map(|e| crate::output::redact_text(&e));
    }
    result.probe = kept;
    result
}
