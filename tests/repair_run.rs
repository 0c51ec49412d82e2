//! `repair run` through the real binary: no-op when afloat, nothing admitted,
//! interactive repair gated by `--confirm-repair` (never with `--json`), the
//! account lock, and one event per call.

mod kit;

use jiff::{SignedDuration, Timestamp};
use kit::Sandbox;
use kit::toy::afloat_sandbox;
use oauth_mux::model::{Classification, DeadReason};
use oauth_mux::store::account_lock::AccountLock;

fn dead_a1(bed: &Sandbox) {
    bed.record(
        "toy:a1#cheap",
        Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        Timestamp::now(),
    );
}

fn repair_events(bed: &Sandbox) -> Vec<serde_json::Value> {
    bed.events()
        .into_iter()
        .filter(|e| e["kind"] == "repair_run")
        .collect()
}

#[test]
fn afloat_is_a_noop_and_still_recorded() {
    let bed = afloat_sandbox();
    bed.record("toy:a2#cheap", Classification::Success, Timestamp::now());
    let out = bed.run(&["repair", "run", "--json"]).ok().json();
    assert_eq!(out["ok"], true);
    assert_eq!(out["executed"], false);
    assert_eq!(out["reason"], "route_selectable");
    assert_eq!(out["confirmation_required"], false);
    let events = repair_events(&bed);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["outcome"], "noop");
    assert_eq!(events[0]["reason"], "route_selectable");
    assert_eq!(events[0]["ok"], true);
    assert_eq!(events[0]["executed"], false);
    assert_eq!(events[0]["account"], "a2");
}

#[test]
fn nothing_admitted_is_ok_and_recorded() {
    let bed = afloat_sandbox();
    let now = Timestamp::now();
    for key in ["toy:a1#cheap", "toy:a2#cheap"] {
        bed.record(
            key,
            Classification::QuotaExhausted {
                resets_at: Some(now + SignedDuration::from_hours(1)),
            },
            now,
        );
    }
    let out = bed.run(&["repair", "run", "--json"]).ok().json();
    assert_eq!(out["ok"], true);
    assert_eq!(out["executed"], false);
    assert_eq!(out["confirmation_required"], false);
    assert_eq!(out["reason"], "no_admitted_repair");
    let text = bed.run(&["repair", "run"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("no repair is admitted"),
        "{}",
        text.stdout
    );
    assert_eq!(repair_events(&bed).len(), 2, "one event per call");
}

#[test]
fn interactive_repair_needs_the_flag_and_a_terminal() {
    let bed = afloat_sandbox();
    dead_a1(&bed);
    let refused = bed.run(&["repair", "run", "--profile", "solo", "--json"]);
    assert_ne!(refused.code, 0, "confirmation required exits non-zero");
    let out = refused.json();
    assert_eq!(out["ok"], false);
    assert_eq!(out["executed"], false);
    assert_eq!(out["confirmation_required"], true);
    assert_eq!(out["requires"], "--confirm-repair");
    assert_eq!(out["command"], "toy-login a1");
    assert_eq!(out["daemon_repair"]["admitted"], false);
    assert_eq!(out["daemon_repair"]["reason"], "interactive_not_allowed");
    assert_eq!(out["daemon_repair"]["budget"], "interactive");
    assert_eq!(
        out["writeback"]["reason"],
        "provider_repair_owned_by_upstream_cli"
    );

    let json = bed.run(&[
        "repair",
        "run",
        "--profile",
        "solo",
        "--confirm-repair",
        "--json",
    ]);
    assert_ne!(json.code, 0);
    let out = json.json();
    assert_eq!(out["error"], "interactive_json_unsupported");
    assert_eq!(out["executed"], false);

    // Confirmed, in a terminal: the login command runs with inherited stdio.
    bed.plant_script(
        "toy-login",
        &format!(
            "echo \"logging in $1\"; echo \"$1\" > {}/login-ran; exit 0",
            bed.path("probe").display()
        ),
    );
    let ran = bed.run(&["repair", "run", "--profile", "solo", "--confirm-repair"]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("logging in a1"), "{}", ran.stdout);
    assert_eq!(
        std::fs::read_to_string(bed.path("probe/login-ran")).unwrap(),
        "a1\n"
    );
    // The login's exit code is the command's exit code.
    bed.plant_script("toy-login", "exit 7");
    let failed = bed.run(&["repair", "run", "--profile", "solo", "--confirm-repair"]);
    assert_eq!(failed.code, 7);

    let outcomes: Vec<String> = repair_events(&bed)
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        [
            "confirmation_required",
            "interactive_json_unsupported",
            "executed",
            "executed"
        ]
    );
    let events = repair_events(&bed);
    assert_eq!(events[0]["interactive"], true);
    assert_eq!(events[0]["route"], "toy:a1#cheap");
    assert_eq!(events[0]["action"], "reauth");
    assert_eq!(events[0]["mutating"], false);
    assert_eq!(events[0]["profile"], "solo");
    assert_eq!(events[0]["budget"], "interactive");
    assert_eq!(events[2]["ok"], true);
    assert_eq!(events[3]["ok"], false);
    let text = bed.run(&["daemon", "events", "--json"]).ok().json();
    assert_eq!(text["events"].as_array().unwrap().len(), 4);
    bed.assert_no_canary_on_disk();
}

#[test]
fn a_held_account_lock_is_repair_in_progress() {
    let bed = afloat_sandbox();
    let held = AccountLock::try_acquire(&bed.dirs(), "toy", "a1", "2026-11-22T05:00:00Z")
        .unwrap()
        .expect("the test takes the lock first");
    let run = bed.run(&["repair", "run", "--profile", "solo", "--json"]);
    assert_ne!(run.code, 0);
    let out = run.json();
    assert_eq!(out["error"], "repair_in_progress");
    assert_eq!(out["executed"], false);
    assert_eq!(out["lock_started_at"], "2026-11-22T05:00:00Z");
    // A confirmed interactive repair waits for the lock too.
    dead_a1(&bed);
    let run = bed.run(&["repair", "run", "--profile", "solo", "--confirm-repair"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("another oauth-mux process"),
        "{}",
        run.stdout
    );
    drop(held);
    assert_eq!(repair_events(&bed).len(), 2);
}
