//! `oauth-mux status` and `oauth-mux dashboard` over a sandbox with recorded health, usage,
//! events and two session artifacts: the page's data is exactly `status --json`, a real
//! headless browser (Debian's chromium, installed by .ci/deps/60-browser.sh) renders every
//! account and window with those numbers and the handoffs, asks no other origin, and a
//! request without the token is refused. The screenshot in docs/status.md comes from here
//! (`OMUX_UPDATE_DOCS=1`).

mod kit;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use kit::{Sandbox, canary};
use oauth_mux::model::classify::Classification;
use oauth_mux::model::event::{Event, EventKind, TokenRefreshEvent};
use oauth_mux::model::health::{EvidenceSource, RouteHealth, UsageGauge, WindowReading};
use oauth_mux::model::refresh::RefreshOutcome;
use oauth_mux::model::session::{FRAME_VERSION, Frame, HarnessKind, Record, UsageWindow};
use oauth_mux::store::events::EventLog;
use oauth_mux::store::health_file::HealthFile;
use serde_json::{Value, json};

/// The moment every command of the test sees (`OMUX_NOW`).
const NOW: &str = "2026-12-07T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn mins_ago(m: i64) -> Timestamp {
    now() - jiff::SignedDuration::from_mins(m)
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Three Claude accounts (a file-backed, an env-backed, a file-backed), with recorded
/// health, usage, two session artifacts and a failed refresh.
fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.set_env("OMUX_NOW", NOW);
    // A claude binary on PATH, so managed sessions can start (status never runs it).
    sb.plant_script("claude", "exit 0");
    let expires = (now() + jiff::SignedDuration::from_hours(6)).as_millisecond();
    let credential = |label: &str| {
        json!({"claudeAiOauth": {"accessToken": canary::claude_token(label),
            "refreshToken": canary::refresh_token(label), "expiresAt": expires,
            "scopes": ["user:inference"], "subscriptionType": "max"}})
        .to_string()
    };
    let a1 = sb.plant_secret("secrets/a1.json", credential("a1"));
    let a3 = sb.plant_secret("secrets/a3.json", credential("a3"));
    sb.set_env("OMUX_TEST_A2_SECRET", credential("a2"));
    sb.write_config(&json!({
        "version": 1,
        "providers": {"claude": {"kind": "claude", "accounts": {
            "a1": {"priority": 30, "secret": {"backend": "file", "path": a1.display().to_string()}},
            "a2": {"priority": 20, "secret": {"backend": "env", "variable": "OMUX_TEST_A2_SECRET"}},
            "a3": {"priority": 10, "secret": {"backend": "file", "path": a3.display().to_string()}},
        }}},
        "profiles": {"claude": {"providers": ["claude:a1#messages", "claude:a2#messages", "claude:a3#messages"]}}
    }));
    // Health: a1 live and warm, a2 spent, a3 live.
    let live = |pct5: f64, pct7: f64| {
        let mut h = RouteHealth::observe(
            None,
            &Classification::Success,
            Some(200),
            EvidenceSource::Proxy,
            mins_ago(10),
        );
        h.usage = Some(UsageGauge {
            used_pct: pct5.max(pct7),
            resets_at: Some(now() + jiff::SignedDuration::from_hours(2)),
            observed_at: mins_ago(10),
            windows: vec![
                WindowReading {
                    window: "five_hour".into(),
                    used_pct: pct5,
                    resets_at: Some(now() + jiff::SignedDuration::from_hours(2)),
                    window_minutes: None,
                },
                WindowReading {
                    window: "seven_day".into(),
                    used_pct: pct7,
                    resets_at: Some(now() + jiff::SignedDuration::from_hours(70)),
                    window_minutes: None,
                },
            ],
        });
        h
    };
    let spent = RouteHealth::observe(
        None,
        &Classification::QuotaExhausted {
            resets_at: Some(now() + jiff::SignedDuration::from_hours(3)),
        },
        Some(429),
        EvidenceSource::Proxy,
        mins_ago(30),
    );
    HealthFile::update(&sb.dirs().health_file(), |routes| {
        routes.insert("claude:a1#messages".into(), live(42.0, 71.0).to_json());
        routes.insert("claude:a2#messages".into(), spent.to_json());
        routes.insert("claude:a3#messages".into(), live(5.0, 12.0).to_json());
    })
    .unwrap();
    // Two sessions: the first handed a spent quota from a2 to a1.
    write_artifact(
        &sb,
        "claude-0001765100000000-11.ndjson",
        &[
            (mins_ago(95), started("a2")),
            (mins_ago(94), usage("a2", 100.0)),
            (
                mins_ago(93),
                Frame::Handoff {
                    from: Some("a2".into()),
                    to: "a1".into(),
                    reason: "quota_exhausted".into(),
                },
            ),
            (mins_ago(92), usage("a1", 40.0)),
            (
                mins_ago(90),
                Frame::SessionEnded {
                    exit_code: 0,
                    signal: None,
                },
            ),
        ],
    );
    write_artifact(
        &sb,
        "claude-0001765103000000-12.ndjson",
        &[
            (mins_ago(20), started("a1")),
            (mins_ago(15), usage("a1", 42.0)),
            (
                mins_ago(14),
                Frame::PoolExhausted {
                    earliest_reset: None,
                    repair_command: "oauth-mux route explain --profile claude".into(),
                },
            ),
            (
                mins_ago(12),
                Frame::SessionEnded {
                    exit_code: 1,
                    signal: None,
                },
            ),
        ],
    );
    let mut refresh = TokenRefreshEvent::new("claude:a2", RefreshOutcome::Failed, true);
    refresh.reason = Some("token endpoint unreachable".into());
    EventLog::new(sb.dirs().events_file())
        .record(&Event::new(mins_ago(50), EventKind::TokenRefresh(refresh)))
        .unwrap();
    sb
}

fn started(account: &str) -> Frame {
    Frame::SessionStarted {
        harness: HarnessKind::Claude,
        oauth_mux_version: "test".into(),
        profile: "claude".into(),
        account: account.into(),
        pool: vec!["a1".into(), "a2".into(), "a3".into()],
        auth_kind: "oauth".into(),
        child_config: "environment".into(),
        side_traffic_disabled: false,
        isolated_config: false,
    }
}

fn usage(account: &str, five_hour: f64) -> Frame {
    Frame::QuotaObserved {
        account: account.into(),
        windows: vec![UsageWindow {
            window: "five_hour".into(),
            used_percent: five_hour,
            resets_in_seconds: Some(3600),
            window_minutes: None,
        }],
    }
}

fn write_artifact(sb: &Sandbox, name: &str, frames: &[(Timestamp, Frame)]) {
    let text: String = frames
        .iter()
        .map(|(ts, frame)| {
            serde_json::to_string(&Record {
                v: FRAME_VERSION,
                ts: ts.to_string(),
                frame: frame.clone(),
            })
            .unwrap()
                + "\n"
        })
        .collect();
    sb.plant(&format!("state/oauth-mux/sessions/{name}"), text);
}

/// The running dashboard and its URL.
struct Dashboard {
    running: kit::command::Running,
    url: String,
}

impl Dashboard {
    fn start(sb: &Sandbox) -> Dashboard {
        let mut running = sb.oauth_mux().args(["dashboard", "--port", "0"]).spawn();
        let stdout = running.child.stdout.take().unwrap();
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_owned();
        Dashboard { running, url }
    }

    fn origin(&self) -> &str {
        let rest = &self.url["http://".len()..];
        &self.url[..("http://".len() + rest.find('/').unwrap())]
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.running.child.kill();
        let _ = self.running.child.wait();
    }
}

/// GET (or another method) through a plain client: status and body.
fn fetch(method: &str, url: &str) -> (u16, String, Vec<(String, String)>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .body(Vec::new())
        .unwrap();
    let mut response = agent.run(request).unwrap();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body, headers)
}

fn chromium(args: &[&str]) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run .ci/deps/60-browser.sh (apt-get install chromium)"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .env("HOME", profile.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn status_tells_the_state_of_every_account_in_80_columns() {
    let sb = sandbox();
    let out = sb.oauth_mux().args(["status"]).env("COLUMNS", "80").run();
    out.ok();
    for line in out.stdout.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
    }
    assert!(out.stdout.contains("next session: a1"), "{out}");
    assert!(out.stdout.contains("a2"), "{out}");
    assert!(out.stdout.contains("42%"), "{out}");
    assert!(out.stdout.contains("71%"), "{out}");
    assert!(out.stdout.contains("handoff"), "{out}");
    let v = sb.run(&["status", "--json"]).ok().json();
    let p = &v["profiles"][0];
    assert_eq!(p["next_session_account"], "a1");
    assert_eq!(p["routes"][1]["state"], "quota_exhausted");
    assert_eq!(p["last_handoffs"][0]["to"], "a1");
    // 1 handoff; 2 failures: the spent pool and the failed refresh.
    let totals = v["history"]["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(h, f), c| {
            (
                h + c["handoffs"].as_u64().unwrap(),
                f + c["failures"].as_u64().unwrap(),
            )
        });
    assert_eq!(totals, (1, 2));
}

#[test]
fn the_dashboard_serves_the_status_report_to_a_real_browser_and_nothing_else() {
    let sb = sandbox();
    let status: Value = sb.run(&["status", "--json"]).ok().json();
    let dash = Dashboard::start(&sb);

    // One data source: the page's data endpoint is `status --json`.
    let (code, data, headers) = fetch("GET", &format!("{}data", dash.url));
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap(), status);
    let csp = headers
        .iter()
        .find(|(k, _)| k == "content-security-policy")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // Without the token, or with another one, nothing is served; nothing but GET.
    let origin = dash.origin().to_owned();
    assert_eq!(fetch("GET", &format!("{origin}/")).0, 403);
    assert_eq!(fetch("GET", &format!("{origin}/data")).0, 403);
    assert_eq!(
        fetch(
            "GET",
            &format!("{origin}/0123456789abcdef0123456789abcdef/data")
        )
        .0,
        403
    );
    assert_eq!(fetch("POST", &dash.url).0, 405);

    // A real browser renders every account and window with the report's numbers.
    let netlog = tempfile::NamedTempFile::new().unwrap();
    let dom = chromium(&[
        &format!("--log-net-log={}", netlog.path().display()),
        "--dump-dom",
        &dash.url,
    ]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let profile = &status["profiles"][0];
    assert!(
        dom.contains(&format!(
            "data-next-session=\"\">{}<",
            profile["next_session_account"].as_str().unwrap()
        )),
        "{dom}"
    );
    for route in profile["routes"].as_array().unwrap() {
        let key = route["route"].as_str().unwrap();
        assert!(
            dom.contains(&format!("data-route=\"{key}\"")),
            "{key} missing"
        );
        for w in route["windows"].as_array().unwrap() {
            let shown = format!(
                "data-window=\"{}\" data-pct=\"{:.0}\"",
                w["window"].as_str().unwrap(),
                w["used_pct"].as_f64().unwrap()
            );
            assert!(dom.contains(&shown), "{key}: {shown} missing");
        }
    }
    assert_eq!(
        dom.matches("data-handoff").count(),
        profile["last_handoffs"].as_array().unwrap().len()
    );
    assert!(
        dom.contains("<span data-total=\"handoffs\">1</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("<span data-total=\"failures\">2</span>"),
        "{dom}"
    );
    // No secret of any backend on the page.
    for label in ["a1", "a2", "a3"] {
        for secret in [canary::claude_token(label), canary::refresh_token(label)] {
            assert!(!dom.contains(&secret) && !data.contains(&secret));
        }
    }
    assert!(!dom.contains(canary::MARKER), "a canary is on the page");
    assert!(
        !dom.contains(&sb.root().display().to_string()),
        "a path is on the page"
    );

    // Everything the page asked for came from the dashboard's own origin. (The net log also
    // holds Chromium's own background requests, initiated by no page: not the page's.)
    let log: Value =
        serde_json::from_str(&std::fs::read_to_string(netlog.path()).unwrap()).expect("a net log");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let page_requests: Vec<(String, String)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter_map(|e| {
            let p = &e["params"];
            Some((
                p["url"].as_str()?.to_owned(),
                p["initiator"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .filter(|(_, initiator)| initiator.starts_with("http"))
        .collect();
    assert!(
        page_requests
            .iter()
            .any(|(url, _)| url.ends_with("/style.css")),
        "the page's own stylesheet request is missing: {page_requests:?}"
    );
    for (url, initiator) in &page_requests {
        assert_eq!(initiator, &origin, "a request initiated elsewhere: {url}");
        assert!(
            url.starts_with(&origin),
            "the page asked another origin: {url}"
        );
    }

    // The screenshot for docs/status.md.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,1500",
        "--hide-scrollbars",
        &dash.url,
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    if std::env::var_os("OMUX_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png");
        std::fs::write(docs, png).unwrap();
    }
}
