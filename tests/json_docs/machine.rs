//! The prepared machine of tests/json_docs.rs: accounts logged in through the kit's fake
//! `codex`/`claude`, a loopback provider for model requests, and recorded state (health with
//! usage windows, a spent quota, a dead account, an unreadable record; a session that handed
//! a spent quota over; an event no command provokes).

use jiff::{SignedDuration, Timestamp};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::model::classify::Classification;
use oauth_mux::model::event::{Event, EventKind};
use oauth_mux::model::health::{RouteHealth, UsageGauge, WindowReading};
use oauth_mux::model::liveness::DeadReason;
use oauth_mux::model::session::{FRAME_VERSION, Frame, HarnessKind, Record, UsageWindow};
use oauth_mux::store::events::EventLog;
use oauth_mux::store::health_file::HealthFile;
use serde_json::{Value, json};

use crate::kit::{Output, Sandbox, canary, fake_harness};

/// The machine: the fakes on `PATH`, a loopback provider for every model request, nothing
/// off-box, and a token endpoint nobody answers (a refresh fails as a network error).
pub fn machine() -> (Sandbox, FakeProvider) {
    let mut sb = Sandbox::new();
    sb.refuse_off_box_traffic();
    fake_harness::plant(&sb);
    let fake = FakeProvider::start(
        ["personal", "work"]
            .iter()
            .map(|a| {
                let text = format!("hello from {a}");
                (fake_harness::claude_token(a), Behaviour::Succeed { text })
            })
            .collect(),
    )
    .unwrap();
    sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
    sb.set_env("OMUX_CODEX_UPSTREAM", fake.origin());
    sb.set_env("OMUX_CODEX_TOKEN_URL", "http://127.0.0.1:9/oauth/token");
    (sb, fake)
}

/// Add profiles to the config: `codex-solo3` (max-3 only) and `claude-status` (a free
/// command probe that background work may run).
pub fn add_profiles(sb: &Sandbox) {
    let path = sb.config_file();
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["profiles"]["codex-solo3"] = json!({"providers": ["codex:max-3#codex-max"]});
    config["profiles"]["claude-status"] = json!({"providers": ["claude:personal#auth-status"]});
    sb.write_config(&config);
}

/// Evidence: max-1 live with two usage windows, max-2's quota spent, max-3 dead; and a health
/// record nobody can read.
pub fn record_health(sb: &Sandbox, now: Timestamp) {
    let in_hours = |h| now + SignedDuration::from_hours(h);
    sb.record(
        "codex:max-2#codex-max",
        Classification::QuotaExhausted {
            resets_at: Some(in_hours(3)),
        },
        now,
    );
    sb.record(
        "codex:max-3",
        Classification::Dead {
            reason: DeadReason::TokenRevoked,
        },
        now,
    );
    HealthFile::update(&sb.dirs().health_file(), |routes| {
        let key = "codex:max-1#codex-max";
        let mut h = RouteHealth::from_json(&routes[key]).unwrap();
        let window = |name: &str, pct, h| WindowReading {
            window: name.into(),
            used_pct: pct,
            resets_at: Some(in_hours(h)),
            window_minutes: None,
        };
        h.usage = Some(UsageGauge {
            used_pct: 61.0,
            resets_at: Some(in_hours(2)),
            observed_at: now,
            windows: vec![window("primary", 42.0, 2), window("secondary", 61.0, 90)],
        });
        routes.insert(key.into(), h.to_json());
        routes.insert("codex:max-1#broken".into(), json!({"liveness": 42}));
    })
    .unwrap();
}

/// A codex session that handed a spent quota from max-2 to max-1, written as the launcher
/// and proxy would.
pub fn record_session(sb: &Sandbox, now: Timestamp) {
    let ago = |m| now - SignedDuration::from_mins(m);
    let turn = |account: &str, status, classification: &str, delivered| Frame::ProxyTurn {
        account: account.into(),
        method: "POST".into(),
        path_kind: "responses".into(),
        status,
        classification: classification.into(),
        delivered_to_harness: delivered,
    };
    let frames = [
        (
            ago(9),
            Frame::SessionStarted {
                harness: HarnessKind::Codex,
                oauth_mux_version: "test".into(),
                profile: "codex-max".into(),
                account: "max-2".into(),
                pool: vec!["max-2".into(), "max-1".into()],
                auth_kind: "chatgpt".into(),
                child_config: "overlay".into(),
                side_traffic_disabled: false,
                isolated_config: false,
            },
        ),
        (ago(8), turn("max-2", 429, "quota_exhausted", false)),
        (
            ago(8),
            Frame::Handoff {
                from: Some("max-2".into()),
                to: "max-1".into(),
                reason: "quota_exhausted".into(),
            },
        ),
        (ago(8), turn("max-1", 200, "success", true)),
        (
            ago(8),
            Frame::QuotaObserved {
                account: "max-1".into(),
                windows: vec![UsageWindow {
                    window: "primary".into(),
                    used_percent: 42.0,
                    resets_in_seconds: Some(7200),
                    window_minutes: Some(300),
                }],
            },
        ),
        (
            ago(7),
            Frame::SessionEnded {
                exit_code: 0,
                signal: None,
            },
        ),
    ];
    let text: String = frames
        .iter()
        .map(|(ts, frame)| {
            let record = Record {
                v: FRAME_VERSION,
                ts: ts.to_string(),
                frame: frame.clone(),
            };
            serde_json::to_string(&record).unwrap() + "\n"
        })
        .collect();
    let name = format!("codex-{}-1.ndjson", ago(9).as_millisecond());
    sb.plant(&format!("state/oauth-mux/sessions/{name}"), text);
}

/// An event no command of this test provokes.
pub fn record_launch_reselect(sb: &Sandbox, now: Timestamp) {
    let kind = EventKind::LaunchReselect {
        route: "codex:max-1#codex-max".into(),
        reason: "codex:max-2#codex-max became quota_exhausted".into(),
    };
    EventLog::new(sb.dirs().events_file())
        .record(&Event::new(now, kind))
        .unwrap();
}

/// The first line `oauth-mux ARGS` prints (a command that runs until interrupted), as a
/// finished run with exit code 0.
pub fn first_line(sb: &Sandbox, args: &[&str]) -> Output {
    use std::io::BufRead;
    let mut running = sb.oauth_mux().args(args).spawn();
    let stdout = running.child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    running.signal(libc::SIGTERM);
    let _ = running.child.wait();
    canary::assert_absent("status --watch --json", &line);
    Output {
        command: format!("oauth-mux {}", args.join(" ")),
        code: 0,
        stdout: line,
        stderr: String::new(),
    }
}
