//! Execute-mode ticks through the real binary: exactly one admitted command probe
//! per tick, its evidence recorded and re-read; a dead token found by a probe
//! becomes one reauth handoff; a later usable probe settles it.

mod kit;

use jiff::Timestamp;
use kit::Sandbox;
use kit::toy::{afloat_sandbox, make_alive, make_dead, route};
use serde_json::Value;

fn execute(bed: &Sandbox, profile: &str) -> Value {
    bed.run(&["stay-afloat", "--execute", "--profile", profile, "--json"])
        .ok()
        .json()
}

fn executions(bed: &Sandbox) -> Vec<Value> {
    bed.events()
        .into_iter()
        .filter(|e| e["kind"] == "daemon_execution")
        .collect()
}

#[test]
fn each_execute_tick_runs_one_admitted_probe_and_records_it() {
    let bed = afloat_sandbox();
    let first = execute(&bed, "cheap");
    assert_eq!(first["execution_mode"], "execute");
    assert_eq!(first["executed"], true, "{first:#}");
    let runs = first["executions"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["account"], "a1", "selection order: a1 (p20) first");
    assert_eq!(runs[0]["executed"], true);
    assert_eq!(runs[0]["ok"], false, "a1 reports quota");
    let health = bed.health();
    assert!(health.contains_key("toy:a1#cheap"), "{health:?}");
    assert!(!health.contains_key("toy:a2#cheap"), "one probe per tick");
    // The tick renders the state after its action.
    let a1 = route(&first, "toy:a1#cheap");
    assert_eq!(a1["action"]["kind"], "wait_for_quota", "{a1:#}");
    assert_eq!(a1["schedule_reason"], "wait_until");
    assert_eq!(a1["next_tick_after"], a1["status"]["resets_at"]);
    assert_eq!(first["afloat"], false);

    let second = execute(&bed, "cheap");
    let runs = second["executions"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["account"], "a2");
    assert_eq!(runs[0]["ok"], true);
    assert_eq!(second["afloat"], true);
    assert_eq!(second["selected"]["key"], "toy:a2#cheap");

    let third = execute(&bed, "cheap");
    assert_eq!(third["executed"], false);
    assert_eq!(third["reason"], "route_selectable");
    assert!(third["executions"].as_array().unwrap().is_empty());
    let a1 = route(&third, "toy:a1#cheap");
    assert_eq!(a1["action"]["kind"], "wait_for_quota");
    let reset: Timestamp = a1["status"]["resets_at"].as_str().unwrap().parse().unwrap();
    let next: Timestamp = a1["next_tick_after"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, reset);
    assert_eq!(third["summary"]["next_tick_reason"], "wait_until");

    let recorded = executions(&bed);
    assert_eq!(recorded.len(), 2, "one event per executed action");
    assert_eq!(recorded[0]["outcome"], "executed");
    assert_eq!(recorded[0]["ok"], false);
    assert_eq!(recorded[1]["ok"], true);
    let snapshot: Value = serde_json::from_slice(
        &std::fs::read(bed.state_dir().join("daemon-snapshot.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(snapshot["reason"], "route_selectable");
    bed.assert_no_canary_on_disk();
}

#[test]
fn refresh_is_one_execute_tick() {
    let bed = afloat_sandbox();
    let tick = bed
        .run(&["stay-afloat", "refresh", "--profile", "cheap", "--json"])
        .ok()
        .json();
    assert_eq!(tick["execution_mode"], "execute");
    assert_eq!(tick["mode"], "once");
    assert_eq!(tick["executions"].as_array().unwrap().len(), 1);
    assert_eq!(bed.health().len(), 1);
}

#[test]
fn a_probe_that_finds_a_dead_token_leads_to_one_handoff() {
    let bed = afloat_sandbox();
    make_dead(&bed, "a1");
    let probed = execute(&bed, "solo");
    assert_eq!(probed["executed"], true);
    let a1 = route(&probed, "toy:a1#cheap");
    assert_eq!(a1["action"]["kind"], "reauth", "{a1:#}");
    assert_eq!(probed["handoff_queued"], false, "one action per tick");

    let queued = execute(&bed, "solo");
    assert_eq!(queued["handoff_queued"], true);
    let again = execute(&bed, "solo");
    assert_eq!(again["handoff_queued"], false);
    assert_eq!(again["handoff_pending"], true);
    let pending = bed.run(&["stay-afloat", "handoffs", "--json"]).ok().json();
    assert_eq!(pending["handoffs"].as_array().unwrap().len(), 1);

    // The user logs in again; an explicit probe proves it; the next tick settles the handoff.
    make_alive(&bed, "a1");
    let probe = bed.run(&[
        "probe",
        "--provider",
        "toy",
        "--account",
        "a1",
        "--capability",
        "cheap",
        "--json",
    ]);
    assert_eq!(probe.code, 0, "{}\n{}", probe.stdout, probe.stderr);
    let settled = execute(&bed, "solo");
    assert_eq!(settled["afloat"], true);
    assert_eq!(settled["handoff_pending"], false);
    let pending = bed.run(&["stay-afloat", "handoffs", "--json"]).ok().json();
    assert!(
        pending["handoffs"].as_array().unwrap().is_empty(),
        "{pending:#}"
    );
    assert!(
        bed.events()
            .iter()
            .any(|e| e["kind"] == "daemon_handoff" && e["outcome"] == "route_selectable")
    );
    bed.assert_no_canary_on_disk();
}
