//! `stay-afloat` ticks through the real binary: plan and execute modes, schedules,
//! the snapshot file, loops, `next`, handoffs and `daemon events`.

mod kit;

use jiff::{SignedDuration, Timestamp};
use kit::Sandbox;
use kit::toy::{afloat_sandbox, route};
use oauth_mux::model::Classification;
use serde_json::Value;

fn ts(v: &Value) -> Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

#[test]
fn plan_tick_shows_probe_needed_actions_and_runs_nothing() {
    let bed = afloat_sandbox();
    let tick = bed.run(&["stay-afloat", "--once", "--json"]).ok().json();
    assert_eq!(tick["version"], 1);
    assert_eq!(tick["tick_index"], 1);
    assert_eq!(tick["mode"], "once");
    assert_eq!(tick["execution_mode"], "plan");
    assert_eq!(tick["executed"], false);
    assert_eq!(tick["handoff_queued"], false);
    assert_eq!(tick["afloat"], false);
    assert_eq!(tick["selected"], Value::Null);
    assert_eq!(tick["profile"], "cheap");
    assert_eq!(tick["reason"], "action_admitted");
    let observed = ts(&tick["observed_at"]);
    for key in ["toy:a1#cheap", "toy:a2#cheap"] {
        let r = route(&tick, key);
        assert_eq!(r["action"]["kind"], "probe_needed", "{r:#}");
        assert_eq!(r["daemon_probe"]["admitted"], true);
        assert_eq!(r["schedule_reason"], "action_due");
        assert_eq!(ts(&r["next_tick_after"]), observed);
    }
    assert_eq!(tick["summary"]["next_tick_reason"], "action_due");
    let executions = tick["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "{tick:#}");
    assert_eq!(executions[0]["executed"], false);
    assert_eq!(executions[0]["admitted"], true);
    assert_eq!(executions[0]["phase"], "probe");
    assert_eq!(
        executions[0]["command"],
        "oauth-mux probe --provider toy --account a1 --capability cheap"
    );
    assert_eq!(tick["claim"]["level"], "mediation_required");
    // Planning records nothing and appends no event.
    assert!(!bed.state_dir().join("health.json").exists());
    assert!(bed.events().is_empty());
    // The snapshot holds the same tick, private.
    let snap_path = bed.state_dir().join("daemon-snapshot.json");
    let snapshot: Value = serde_json::from_slice(&std::fs::read(&snap_path).unwrap()).unwrap();
    assert_eq!(snapshot, tick);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&snap_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // `daemon tick` is the same engine; text mode renders the table.
    let text = bed.run(&["daemon", "tick", "--once"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("toy:a1#cheap"), "{}", text.stdout);
    assert!(text.stdout.contains("would run probe"), "{}", text.stdout);
}

#[test]
fn quota_waits_until_the_reset_while_another_route_is_selectable() {
    let bed = afloat_sandbox();
    let now = Timestamp::now();
    let reset = now + SignedDuration::from_hours(3);
    let reset = reset.round(jiff::Unit::Second).unwrap();
    bed.record(
        "toy:a1#cheap",
        Classification::QuotaExhausted {
            resets_at: Some(reset),
        },
        now,
    );
    bed.record("toy:a2#cheap", Classification::Success, now);
    let tick = bed.run(&["stay-afloat", "--json"]).ok().json();
    assert_eq!(tick["afloat"], true);
    assert_eq!(tick["reason"], "route_selectable");
    assert_eq!(tick["selected"]["key"], "toy:a2#cheap");
    let a1 = route(&tick, "toy:a1#cheap");
    assert_eq!(a1["action"]["kind"], "wait_for_quota");
    assert_eq!(a1["schedule_reason"], "wait_until");
    assert_eq!(ts(&a1["next_tick_after"]), reset);
    let a2 = route(&tick, "toy:a2#cheap");
    assert_eq!(a2["schedule_reason"], "route_selectable");
    assert_eq!(a2["next_tick_after"], Value::Null);
    assert_eq!(ts(&tick["summary"]["next_tick_after"]), reset);
    assert_eq!(tick["summary"]["next_tick_reason"], "wait_until");
    assert_eq!(tick["summary"]["selectable_routes"], 1);
    assert_eq!(tick["claim"]["level"], "prepared_fallback");
    // An execute tick with a selectable route is a no-op.
    let tick = bed.run(&["stay-afloat", "--execute", "--json"]).ok().json();
    assert_eq!(tick["execution_mode"], "execute");
    assert_eq!(tick["executed"], false);
    assert_eq!(tick["reason"], "route_selectable");
    assert!(tick["executions"].as_array().unwrap().is_empty());
    // `next` hands out the exec argv of the selected route.
    let next = bed.run(&["stay-afloat", "next", "--json"]).ok().json();
    assert_eq!(next["action"], "next");
    assert_eq!(next["ready_for_exec"], true);
    assert_eq!(next["next_action"]["kind"], "exec");
    assert_eq!(
        next["exec_argv"],
        serde_json::json!([
            "oauth-mux",
            "exec",
            "--provider",
            "toy",
            "--account",
            "a2",
            "--capability",
            "cheap",
            "--",
            "<command>"
        ])
    );
    assert_eq!(next["claim"]["claim_version"], 1);
    assert_eq!(next["claim"]["level"], "prepared_fallback");
    assert_eq!(next["claim"]["per_request_muxing"], false);
    assert_eq!(next["claim"]["launch_argv"][0], "oauth-mux");
    assert_eq!(next["claim"]["launch_argv"][2], "launch");
    assert_eq!(next["spends_provider_calls"], false);
    bed.assert_no_canary_on_disk();
}

#[test]
fn a_passed_quota_reset_needs_revalidation() {
    let bed = afloat_sandbox();
    let now = Timestamp::now();
    bed.record(
        "toy:a1#cheap",
        Classification::QuotaExhausted {
            resets_at: Some(now - SignedDuration::from_mins(5)),
        },
        now - SignedDuration::from_hours(2),
    );
    let tick = bed
        .run(&["stay-afloat", "--profile", "solo", "--json"])
        .ok()
        .json();
    let a1 = route(&tick, "toy:a1#cheap");
    assert_eq!(a1["status"]["state"], "revalidation_needed", "{a1:#}");
    assert_eq!(a1["action"]["kind"], "revalidation_needed");
    assert_eq!(a1["schedule_reason"], "action_due");
    assert_eq!(tick["afloat"], false);
    // Not afloat: `next` says what to repair and exits 201.
    let next = bed.run(&["stay-afloat", "next", "--profile", "solo", "--json"]);
    assert_eq!(next.code, 201, "{}", next.stderr);
    let next = next.json();
    assert_eq!(next["ready_for_exec"], false);
    assert_eq!(next["exec_argv"], Value::Null);
    assert_eq!(next["next_action"]["kind"], "repair");
    assert_eq!(next["next_action"]["action"], "revalidation_needed");
    assert_eq!(next["claim"]["level"], "mediation_required");
}

/// `oauth-mux stay-afloat handoff VERB` for toy:a1.
fn handoff(bed: &Sandbox, verb: &str) -> Value {
    bed.run(&[
        "stay-afloat",
        "handoff",
        verb,
        "--provider",
        "toy",
        "--account",
        "a1",
        "--json",
    ])
    .ok()
    .json()
}

#[test]
fn a_dead_token_queues_one_handoff_until_cleared() {
    let bed = afloat_sandbox();
    let now = Timestamp::now();
    bed.record(
        "toy:a1#cheap",
        Classification::Dead {
            reason: oauth_mux::model::DeadReason::TokenRevoked,
        },
        now,
    );
    let plan = bed
        .run(&["stay-afloat", "--profile", "solo", "--json"])
        .ok()
        .json();
    assert_eq!(plan["reason"], "handoff_needed");
    assert_eq!(plan["handoff_queued"], false);
    assert!(bed.events().is_empty(), "plan mode appends nothing");

    let tick = |bed: &Sandbox| {
        bed.run(&["stay-afloat", "--execute", "--profile", "solo", "--json"])
            .ok()
            .json()
    };
    let queued = |bed: &Sandbox| {
        bed.events()
            .iter()
            .filter(|e| e["kind"] == "daemon_handoff" && e["outcome"] == "handoff_queued")
            .count()
    };
    let first = tick(&bed);
    assert_eq!(first["handoff_queued"], true, "{first:#}");
    assert_eq!(first["handoff_pending"], true);
    assert_eq!(first["executed"], false);
    let a1 = route(&first, "toy:a1#cheap");
    assert_eq!(a1["action"]["kind"], "reauth");
    assert_eq!(a1["action"]["command"], "toy-login a1");
    assert_eq!(a1["schedule_reason"], "awaiting_user");
    assert_eq!(a1["handoff_pending"], true);
    for _ in 0..2 {
        let again = tick(&bed);
        assert_eq!(again["handoff_queued"], false);
        assert_eq!(again["handoff_pending"], true);
        assert_eq!(again["reason"], "handoff_pending");
    }
    assert_eq!(queued(&bed), 1, "the handoff is queued once");
    let event = bed
        .events()
        .into_iter()
        .find(|e| e["outcome"] == "handoff_queued")
        .unwrap();
    assert_eq!(event["profile"], "solo");
    assert_eq!(event["provider"], "toy");
    assert_eq!(event["account"], "a1");
    assert_eq!(event["capability"], "cheap");
    assert_eq!(event["action"], "reauth");
    assert_eq!(event["interactive"], true);
    assert_eq!(event["command"], "toy-login a1");

    let handoffs = bed.run(&["stay-afloat", "handoffs", "--json"]).ok().json();
    assert_eq!(handoffs["handoffs"].as_array().unwrap().len(), 1);
    let alias = bed.run(&["daemon", "handoffs", "--json"]).ok().json();
    assert_eq!(alias["handoffs"], handoffs["handoffs"]);

    let ack = handoff(&bed, "ack");
    assert_eq!(ack["outcome"], "handoff_acknowledged");
    assert_eq!(ack["handoff_pending"], true);
    assert_eq!(ack["event_recorded"], true);
    assert_eq!(ack["matched"], 1);
    assert_eq!(tick(&bed)["handoff_queued"], false, "ack keeps it pending");

    let clear = handoff(&bed, "clear");
    assert_eq!(clear["outcome"], "handoff_resolved");
    assert_eq!(clear["handoff_pending"], false);
    let handoffs = bed.run(&["stay-afloat", "handoffs", "--json"]).ok().json();
    assert!(handoffs["handoffs"].as_array().unwrap().is_empty());
    let all = bed
        .run(&["stay-afloat", "handoffs", "--all", "--json"])
        .ok()
        .json();
    let outcomes: Vec<&str> = all["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["handoff_queued", "handoff_acknowledged", "handoff_resolved"]
    );
    let text = bed.run(&["stay-afloat", "handoffs"]);
    assert!(
        text.stdout.contains("no pending handoffs"),
        "{}",
        text.stdout
    );

    // The user did not actually log in: a later tick may queue it again.
    let requeued = tick(&bed);
    assert_eq!(requeued["handoff_queued"], true);
    assert_eq!(queued(&bed), 2);

    let events = bed.run(&["daemon", "events", "--json"]).ok().json();
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        bed.events().len()
    );
    let limited = bed
        .run(&["daemon", "events", "--limit", "2", "--json"])
        .ok()
        .json();
    let limited = limited["events"].as_array().unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[1]["outcome"], "handoff_queued");
    bed.assert_no_canary_on_disk();
}

#[test]
fn a_bounded_loop_reports_every_tick() {
    let bed = afloat_sandbox();
    let envelope = bed
        .run(&[
            "stay-afloat",
            "--loop",
            "--iterations",
            "3",
            "--interval-ms",
            "10",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(envelope["mode"], "loop");
    assert_eq!(envelope["iterations_requested"], 3);
    let ticks = envelope["ticks"].as_array().unwrap();
    let indexes: Vec<i64> = ticks
        .iter()
        .map(|t| t["tick_index"].as_i64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3]);
    assert!(
        ticks
            .iter()
            .all(|t| t["mode"] == "loop" && t["executed"] == false)
    );
    let snapshot: Value = serde_json::from_slice(
        &std::fs::read(bed.state_dir().join("daemon-snapshot.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(snapshot["tick_index"], 3, "the latest tick is the snapshot");
    // `--iterations` above 1 implies a loop.
    let envelope = bed
        .run(&[
            "stay-afloat",
            "--iterations",
            "2",
            "--interval-ms",
            "0",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(envelope["ticks"].as_array().unwrap().len(), 2);
    let empty = bed.run(&["daemon", "events"]);
    assert!(
        empty.stdout.contains("no events recorded"),
        "{}",
        empty.stdout
    );
}

#[test]
fn execute_ticks_serialize_and_never_requeue_a_pending_handoff() {
    let bed = afloat_sandbox();
    bed.record(
        "toy:a1#cheap",
        Classification::Dead {
            reason: oauth_mux::model::DeadReason::TokenRevoked,
        },
        Timestamp::now(),
    );
    // Execute ticks serialize on the snapshot lock: a tick waits while another holds it.
    let lock_path = bed.state_dir().join("daemon-snapshot.json.lock");
    let held = oauth_mux::store::lock::ExclusiveLock::acquire(
        &lock_path,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let tick = || {
        bed.oauth_mux()
            .args(["stay-afloat", "--execute", "--profile", "solo", "--json"])
            .spawn()
    };
    let mut waiting = tick();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(
        waiting.is_running(),
        "an execute tick must wait for the running one"
    );
    assert!(bed.events().is_empty());
    drop(held);
    waiting.wait().ok();
    assert_eq!(bed.events().len(), 1, "the waiting tick queued the handoff");

    let children: Vec<_> = (0..8).map(|_| tick()).collect();
    let mut queued_by_ticks = 0;
    for child in children {
        let tick = child.wait().ok().json();
        assert_eq!(tick["handoff_pending"], true);
        if tick["handoff_queued"] == true {
            queued_by_ticks += 1;
        }
    }
    assert_eq!(
        queued_by_ticks, 0,
        "already pending: no tick queues it again"
    );
    let queued = bed
        .events()
        .iter()
        .filter(|e| e["outcome"] == "handoff_queued")
        .count();
    assert_eq!(queued, 1);
}
