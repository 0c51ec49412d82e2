//! The proof of SPEC §8 with the real harnesses: the pinned Codex CLI and Claude Code CLI
//! run through `oauth-mux codex` / `oauth-mux claude` (the built binary, a temp HOME and
//! XDG dirs, a config with two accounts) against the loopback fake provider, with
//! HTTPS_PROXY pointing at a refusing proxy so any off-box attempt fails the test.

mod kit;

use kit::files::mode;
use kit::harness::{self, real_cli, script_harness};
use kit::{Output, Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::{Value, json};

/// The API key plain `codex` (without oauth-mux) uses in the cross-resume test.
const PLAIN_USER_KEY: &str = "sk-user-own-plain-key";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Codex,
    Claude,
}

/// One scenario: a sandbox with the user's own harness files, a config with accounts
/// `acct-1` (priority 10) and `acct-2` (priority 5), the fake provider scripted per account,
/// and every proxy variable pointing at a proxy that refuses (and records) any attempt to
/// leave the machine.
struct Scenario {
    kind: Kind,
    sb: Sandbox,
    fake: FakeProvider,
    tokens: [String; 2],
    user_files: Vec<&'static str>,
    before: Vec<(String, Vec<u8>)>,
}

impl Scenario {
    fn new(kind: Kind, acct1: Behaviour, acct2: Behaviour) -> Scenario {
        let mut sb = Sandbox::new();
        sb.refuse_off_box_traffic();
        let labels = ["acct-1", "acct-2"];
        let tokens = labels.map(|label| match kind {
            Kind::Codex => canary::jwt(label),
            Kind::Claude => canary::claude_token(label),
        });
        let fake = FakeProvider::start(vec![
            (tokens[0].clone(), acct1),
            (tokens[1].clone(), acct2),
            (PLAIN_USER_KEY.to_string(), ok("PLAIN-ANSWER")),
        ])
        .unwrap();
        let mut accounts = serde_json::Map::new();
        for (i, label) in labels.into_iter().enumerate() {
            let secret = match kind {
                Kind::Codex => json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
                    "tokens": {"id_token": tokens[i], "access_token": tokens[i],
                               "refresh_token": canary::refresh_token(label),
                               "account_id": canary::account_id(label)}}),
                Kind::Claude => json!({"claudeAiOauth": {"accessToken": tokens[i],
                    "refreshToken": canary::refresh_token(label), "expiresAt": 4_102_444_800_000_i64,
                    "scopes": ["user:inference"], "subscriptionType": "max"}}),
            };
            let path = sb.plant_secret(
                &format!("secrets/{label}.json"),
                serde_json::to_vec(&secret).unwrap(),
            );
            accounts.insert(
                label.into(),
                json!({"priority": 10 - 5 * i as i32,
                       "secret": {"backend": "file", "path": path}}),
            );
        }
        let (provider, profile, capability) = match kind {
            Kind::Codex => ("codex", "codex-max", "codex-max"),
            Kind::Claude => ("claude", "claude", "messages"),
        };
        sb.write_config(&json!({
            "version": 1,
            "providers": {provider: {"kind": provider, "accounts": accounts}},
            "profiles": {profile: {"providers": [
                format!("{provider}:acct-1#{capability}"),
                format!("{provider}:acct-2#{capability}"),
            ]}},
        }));
        let user_files = match kind {
            Kind::Codex => harness::plant_user_codex_files(&sb),
            Kind::Claude => harness::plant_user_claude_files(&sb),
        };
        let before = harness::snapshot(&sb, &user_files);
        let cli = real_cli(match kind {
            Kind::Codex => "codex",
            Kind::Claude => "claude",
        });
        sb.prepend_path(cli.parent().unwrap());
        sb.set_env("OMUX_CODEX_UPSTREAM", fake.origin());
        sb.set_env("OMUX_CLAUDE_UPSTREAM", fake.origin());
        Scenario {
            kind,
            sb,
            fake,
            tokens,
            user_files,
            before,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sb.run(args)
    }

    /// One non-interactive turn, typed as a user would: `oauth-mux codex --no-side-traffic
    /// exec …` / `oauth-mux claude --no-side-traffic -p …` (the harness's own arguments
    /// pass through without `--`). Codex's refused WebSocket handshake is never shown.
    fn turn(&self) -> Output {
        let out = match self.kind {
            Kind::Codex => self.run(&[
                "codex",
                "--no-side-traffic",
                "exec",
                "--skip-git-repo-check",
                "say hi",
            ]),
            Kind::Claude => self.run(&["claude", "--no-side-traffic", "-p", "say hi"]),
        };
        assert!(
            !out.all().contains("Responses WebSocket"),
            "the 426 fallback must stay quiet:\n{out}"
        );
        out
    }

    /// [`Scenario::turn`], which must exit 0 and print `expected`.
    #[track_caller]
    fn turn_printing(&self, expected: &str) -> Output {
        let out = self.turn();
        out.ok();
        assert!(out.all().contains(expected), "{out}");
        out
    }

    fn harness(&self) -> &'static str {
        match self.kind {
            Kind::Codex => "codex",
            Kind::Claude => "claude",
        }
    }

    fn status_latest(&self) -> Value {
        self.run(&[self.harness(), "status-latest", "--json"])
            .ok()
            .json()
    }

    /// `route explain --json` for the profile: its routes.
    fn routes(&self) -> Vec<Value> {
        let profile = match self.kind {
            Kind::Codex => "codex-max",
            Kind::Claude => "claude",
        };
        let v = self
            .run(&["route", "explain", "--profile", profile, "--json"])
            .json();
        v["routes"].as_array().cloned().unwrap_or_default()
    }

    fn route_state(&self, account: &str) -> String {
        self.routes()
            .iter()
            .find(|r| r["account"] == account)
            .map(|r| r["status"]["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    /// The checks every scenario ends with: (g) the user's own harness files are
    /// byte-identical, no overlay is left, nothing went off-box, and (h) no canary appears in
    /// any output (oauth-mux's runs check their own), state, runtime file or artifact.
    fn assert_hygiene(&self, outputs: &[&Output]) {
        assert_eq!(
            harness::snapshot(&self.sb, &self.user_files),
            self.before,
            "the user's own harness files changed"
        );
        assert_eq!(
            self.sb.off_box_attempts(),
            Vec::<String>::new(),
            "off-box attempts"
        );
        let leftovers: Vec<String> = std::fs::read_dir(self.sb.runtime_dir())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("codex-home-") || n.starts_with("claude-session-"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            leftovers.is_empty(),
            "session dirs left behind: {leftovers:?}"
        );
        for out in outputs {
            out.assert_no_canaries();
        }
        self.sb.assert_no_canary_on_disk();
    }
}

fn quota() -> Behaviour {
    Behaviour::QuotaExhausted {
        resets_in_seconds: 3600,
    }
}

/// One check, two tests: the same case with the real Codex CLI and the real Claude Code.
macro_rules! both_harnesses {
    ($check:ident: $codex:ident, $claude:ident) => {
        #[test]
        fn $codex() {
            $check(Kind::Codex);
        }

        #[test]
        fn $claude() {
            $check(Kind::Claude);
        }
    };
}

fn ok(text: &str) -> Behaviour {
    Behaviour::Succeed { text: text.into() }
}

fn assert_live_handoff(kind: Kind) {
    let s = Scenario::new(kind, quota(), ok("HANDOFF-TEXT-OK"));
    let out = s.turn();
    let all = out.all();
    out.ok();
    assert!(out.stdout.contains("HANDOFF-TEXT-OK"), "{all}");
    for leak in ["usage limit", "session limit", "rate limit", "429"] {
        assert!(
            !all.to_lowercase().contains(leak),
            "quota shown to the user ({leak}):\n{all}"
        );
    }
    assert_eq!(s.fake.calls(&s.tokens[0]), 1);
    assert_eq!(s.fake.calls(&s.tokens[1]), 1);
    assert_eq!(s.route_state("acct-1"), "quota_exhausted");
    // ... until the reset the provider announced (3600 s).
    let routes = s.routes();
    let acct1 = routes.iter().find(|r| r["account"] == "acct-1").unwrap();
    let resets_at: jiff::Timestamp = acct1["status"]["resets_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no resets_at: {acct1:#}"))
        .parse()
        .unwrap();
    let in_secs = resets_at.as_second() - jiff::Timestamp::now().as_second();
    assert!((3000..=3600).contains(&in_secs), "resets in {in_secs}s");
    let status = s.status_latest();
    assert_eq!(
        status["verdict"], "successful_live_quota_handoff",
        "{status:#}"
    );
    assert_eq!(status["exit_code"], 0);
    assert_eq!(status["handoffs"][0]["from"], "acct-1");
    assert_eq!(status["handoffs"][0]["to"], "acct-2");
    // The artifact is private: 0600 in a 0700 directory.
    let sessions = s.sb.state_dir().join("sessions");
    assert_eq!(mode(&sessions), 0o700);
    for entry in std::fs::read_dir(&sessions).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
    let human = s.run(&[s.harness(), "status-latest"]);
    assert!(
        human.all().contains("successful_live_quota_handoff"),
        "{human}"
    );
    s.assert_hygiene(&[&out, &human]);
}

both_harnesses!(
    assert_live_handoff:
    a_codex_quota_on_account_1_is_answered_by_account_2,
    a_claude_quota_on_account_1_is_answered_by_account_2
);

fn assert_pool_exhausted(kind: Kind) {
    let s = Scenario::new(kind, quota(), quota());
    let out = s.turn();
    let all = out.all();
    assert_ne!(out.code, 0, "{out}");
    let stderr = &out.stderr;
    let notices: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("oauth-mux:"))
        .collect();
    assert_eq!(notices.len(), 1, "one clear error expected:\n{all}");
    assert!(notices[0].contains("earliest reset 20"), "{all}");
    assert!(notices[0].contains("route explain"), "{all}");
    assert_eq!(
        s.fake.calls(&s.tokens[0]),
        1,
        "each account tried at most once"
    );
    assert_eq!(
        s.fake.calls(&s.tokens[1]),
        1,
        "each account tried at most once"
    );
    // The harness says it in its own words, with the reset time.
    assert_native_limit_message(kind, &all, 3600);
    assert_eq!(s.status_latest()["verdict"], "pool_exhausted");
    // A new session refuses before starting the harness, naming the reset.
    let again = s.turn();
    again.code(201);
    assert!(again.all().contains("route explain"), "{again}");
    assert_eq!(s.fake.calls(&s.tokens[0]) + s.fake.calls(&s.tokens[1]), 2);
    s.assert_hygiene(&[&out, &again]);
}

/// "st", "nd", "rd" or "th", as Codex writes a day of the month ("Dec 8th", "Dec 22nd").
fn ordinal_suffix(day: i8) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// The harness's own "usage limit" wording with the reset `resets_in` seconds from now (UTC;
/// either minute next to it, the harness rounds): Claude Code "You've hit your session limit
/// · resets 3:28am" (on the hour "resets 4am"), Codex "You’ve hit your usage limit. Try again at 3:28 AM."
/// (with the date when the reset falls on another day).
#[track_caller]
fn assert_native_limit_message(kind: Kind, all: &str, resets_in: i64) {
    let now = jiff::Timestamp::now().as_second();
    let times: Vec<String> = (-2..=2)
        .flat_map(|m| {
            let t = jiff::Timestamp::from_second(now + resets_in + 60 * m).unwrap();
            let zoned = t.to_zoned(jiff::tz::TimeZone::UTC);
            match kind {
                // On the hour Claude Code leaves the minutes out: "resets 6am".
                Kind::Claude if zoned.minute() == 0 => vec![
                    format!("resets {}", zoned.strftime("%-I:%M%P")),
                    format!("resets {}", zoned.strftime("%-I%P")),
                ],
                Kind::Claude => vec![format!("resets {}", zoned.strftime("%-I:%M%P"))],
                // A reset on another day than today's carries its date:
                // "Try again at Dec 8th, 2026 12:00 AM."
                Kind::Codex => vec![
                    format!("Try again at {}", zoned.strftime("%-I:%M %p")),
                    format!(
                        "Try again at {} {}{}, {} {}",
                        zoned.strftime("%b"),
                        zoned.day(),
                        ordinal_suffix(zoned.day()),
                        zoned.year(),
                        zoned.strftime("%-I:%M %p")
                    ),
                ],
            }
        })
        .collect();
    let wording = match kind {
        Kind::Claude => "You've hit your session limit",
        Kind::Codex => "hit your usage limit",
    };
    assert!(all.contains(wording), "no native limit wording:\n{all}");
    assert!(
        times.iter().any(|t| all.contains(t.as_str())),
        "no reset time among {times:?}:\n{all}"
    );
}

both_harnesses!(
    assert_pool_exhausted:
    b_codex_every_account_spent_gives_one_error_with_the_reset,
    b_claude_every_account_spent_gives_one_error_with_the_reset
);

/// The provider cannot be reached at all: the harness gets the proxy's 502s and
/// `status-latest` says so, with the check to run.
fn assert_unreachable_upstream_is_a_failure(kind: Kind) {
    let mut s = Scenario::new(kind, ok("never"), ok("never"));
    // A loopback port nothing listens on; Claude Code is told to retry once, not ten times.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    s.sb.set_env("OMUX_CODEX_UPSTREAM", &origin);
    s.sb.set_env("OMUX_CLAUDE_UPSTREAM", &origin);
    s.sb.set_env("CLAUDE_CODE_MAX_RETRIES", "1");
    let out = s.turn();
    assert_ne!(out.code, 0, "{out}");
    let st = s.status_latest();
    assert_eq!(st["verdict"], "upstream_unreachable", "{st:#}");
    assert_eq!(st["user_visible_failure_likely"], true);
    assert_eq!(st["next_action"], "check_network");
    assert!(st["upstream_unreachable_turns"].as_u64().unwrap() >= 1);
    s.assert_hygiene(&[&out]);
}

both_harnesses!(
    assert_unreachable_upstream_is_a_failure:
    h_codex_an_unreachable_provider_is_a_failure_verdict,
    h_claude_an_unreachable_provider_is_a_failure_verdict
);

/// An error event after content reached the harness cannot be replayed: the harness shows
/// it, and `status-latest` says the turn must be run again.
fn assert_error_after_content_is_a_failure(kind: Kind) {
    let s = Scenario::new(kind, Behaviour::ContentThenError, ok("unused"));
    let out = s.turn();
    let st = s.status_latest();
    assert_eq!(st["verdict"], "error_after_content", "{st:#}\n{out}");
    assert_eq!(st["user_visible_failure_likely"], true);
    assert_eq!(st["next_action"], "run_the_turn_again");
    // The proxy never replays once content reached the harness. Claude Code then shows the
    // error; Codex retries the turn itself as a new request, which the election sends to
    // the account that still works (the late quota error recorded acct-1 as spent).
    let expected_calls = match kind {
        Kind::Claude => 0,
        Kind::Codex => s.fake.calls(&s.tokens[1]).min(1),
    };
    assert_eq!(s.fake.calls(&s.tokens[1]), expected_calls);
    s.assert_hygiene(&[&out]);
}

both_harnesses!(
    assert_error_after_content_is_a_failure:
    i_codex_an_error_after_content_is_a_failure_verdict,
    i_claude_an_error_after_content_is_a_failure_verdict
);

fn assert_error_first_event_fails_over(kind: Kind) {
    let s = Scenario::new(
        kind,
        Behaviour::ErrorFirstEvent {
            resets_in_seconds: 3600,
        },
        ok("STREAM-HANDOFF-OK"),
    );
    let out = s.turn_printing("STREAM-HANDOFF-OK");
    assert_eq!(s.fake.calls(&s.tokens[1]), 1);
    assert_eq!(
        s.status_latest()["verdict"],
        "successful_live_quota_handoff"
    );
    s.assert_hygiene(&[&out]);
}

both_harnesses!(
    assert_error_first_event_fails_over:
    c_codex_quota_as_first_event_of_a_200_stream_fails_over,
    c_claude_quota_as_first_event_of_a_200_stream_fails_over
);

fn assert_usage_threshold_moves_next_request(kind: Kind) {
    let s = Scenario::new(
        kind,
        Behaviour::SucceedWithUsage {
            text: "FIRST-ON-ACCT-1".into(),
            used_percent: 99.0,
        },
        ok("NEXT-ON-ACCT-2"),
    );
    let first = s.turn_printing("FIRST-ON-ACCT-1");
    let second = s.turn_printing("NEXT-ON-ACCT-2");
    assert_eq!(s.fake.calls(&s.tokens[0]), 1);
    assert_eq!(s.fake.calls(&s.tokens[1]), 1);
    let status = s.status_latest();
    assert_eq!(status["accounts_used"], json!(["acct-2"]), "{status:#}");
    s.assert_hygiene(&[&first, &second]);
}

both_harnesses!(
    assert_usage_threshold_moves_next_request:
    d_codex_usage_above_threshold_moves_the_next_request,
    d_claude_usage_above_threshold_moves_the_next_request
);

fn assert_transient_is_retried_in_place(kind: Kind) {
    let s = Scenario::new(
        kind,
        Behaviour::Transient {
            status: 529,
            failures: 1,
        },
        ok("SHOULD-NOT-BE-USED"),
    );
    let out = s.turn();
    out.ok();
    assert_eq!(
        s.fake.calls(&s.tokens[0]),
        2,
        "529 then success, same account"
    );
    assert_eq!(s.fake.calls(&s.tokens[1]), 0, "no failover for overload");
    assert!(!out.all().contains("SHOULD-NOT-BE-USED"));
    let state = s.route_state("acct-1");
    assert!(
        state == "available" || state == "probe_needed",
        "acct-1 must not be benched, got {state}"
    );
    assert_eq!(s.status_latest()["verdict"], "no_handoff_needed");
    s.assert_hygiene(&[&out]);
}

both_harnesses!(
    assert_transient_is_retried_in_place:
    f_codex_529_is_retried_in_place,
    f_claude_529_is_retried_in_place
);

fn assert_short_rate_limit_is_waited_out(kind: Kind) {
    // Both accounts say "try again in a second": neither harness retries a 429 on a
    // subscription, so the proxy waits once and the turn still completes.
    let short = Behaviour::ShortRateLimit {
        retry_after_seconds: 1,
        failures: 1,
    };
    let s = Scenario::new(kind, short.clone(), short);
    let out = s.turn();
    let all = out.all();
    out.ok();
    assert!(out.stdout.contains("after the wait"), "{all}");
    assert!(!all.to_lowercase().contains("rate limit"), "{all}");
    assert_eq!(s.fake.calls(&s.tokens[0]), 2, "asked again after the wait");
    assert_eq!(s.fake.calls(&s.tokens[1]), 1);
    let status = s.status_latest();
    assert_eq!(status["rate_limit_waits"], 1, "{status:#}");
    assert_eq!(status["user_visible_failure_likely"], false, "{status:#}");
    // Both limits were waited out, not replaced: no handoff to report.
    assert_eq!(status["verdict"], "no_handoff_needed", "{status:#}");
    assert_eq!(
        status["turns_by_classification"]["short_rate_limit"], 2,
        "{status:#}"
    );
    s.assert_hygiene(&[&out]);
}

both_harnesses!(
    assert_short_rate_limit_is_waited_out:
    short_codex_rate_limit_is_waited_out,
    short_claude_rate_limit_is_waited_out
);

/// POST to the proxy at `addr` with a raw HTTP/1.1 request; the status code.
fn post_status(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let body = r#"{"model":"m","input":[]}"#;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

/// `oauth-mux codex` with `script` as the harness (its `$OUT` is `work/`), running.
fn start_codex_with(s: &Scenario, script: &std::path::Path) -> kit::command::Running {
    s.sb.oauth_mux()
        .arg("codex")
        .env("OMUX_CODEX_BIN", script)
        .env("OUT", s.sb.work_dir())
        .spawn()
}

#[test]
fn e_requests_without_the_session_secret_get_403_and_touch_no_account() {
    let s = Scenario::new(Kind::Codex, ok("UNUSED"), ok("UNUSED"));
    let out_dir = s.sb.path("work");
    // A stand-in harness that waits while the test talks to its proxy.
    let script = script_harness(
        &s.sb,
        "wait-for-done",
        r#"cp "$CODEX_HOME/config.toml" "$OUT/overlay-config.toml"
i=0
while [ ! -e "$OUT/done" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit 0"#,
    );
    let child = start_codex_with(&s, &script);
    let config_copy = out_dir.join("overlay-config.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !config_copy.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the harness never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let config = std::fs::read_to_string(&config_copy).unwrap();
    let base = config
        .lines()
        .find_map(|l| l.strip_prefix("openai_base_url = \"http://"))
        .expect("the overlay config names the proxy");
    let (addr, rest) = base.split_once('/').unwrap();
    let secret = rest.split('/').next().unwrap();
    assert!(secret.len() >= 32, "the session secret is long and random");
    let probes = [
        "/backend-api/codex/responses".to_string(),
        format!("/0000{secret}/backend-api/codex/responses"),
        format!("/backend-api/codex/{secret}/responses"),
        format!(
            "/{}/backend-api/codex/responses",
            &secret[..secret.len() - 1]
        ),
    ];
    for path in &probes {
        assert_eq!(post_status(addr, path), 403, "{path}");
    }
    std::fs::write(out_dir.join("done"), "").unwrap();
    let out = child.wait();
    out.ok();
    assert_eq!(
        s.fake.total_calls(),
        0,
        "a refused request reached the upstream"
    );
    let status = s.status_latest();
    assert_eq!(status["refused_requests"], 4, "{status:#}");
    assert_eq!(status["proxy_turns"], 0);
    s.assert_hygiene(&[&out]);
}

#[test]
fn sigterm_to_oauth_mux_reaches_the_harness_and_its_exit_code_comes_back() {
    let s = Scenario::new(Kind::Codex, ok("UNUSED"), ok("UNUSED"));
    let out_dir = s.sb.path("work");
    let script = script_harness(
        &s.sb,
        "wait-for-term",
        r#"trap 'echo TERM > "$OUT/signal"; exit 143' TERM
echo ready > "$OUT/ready"
i=0
while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit 3"#,
    );
    let child = start_codex_with(&s, &script);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out_dir.join("ready").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the harness never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.signal(libc::SIGTERM);
    let out = child.wait();
    out.code(143);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("signal")).unwrap_or_default(),
        "TERM\n"
    );
    let status = s.status_latest();
    assert_eq!(status["exit_code"], 143, "{status:#}");
    s.assert_hygiene(&[&out]);
}

/// Plain `codex` as the user runs it without oauth-mux: their own Codex home, the built-in
/// provider pointed at the fake with `openai_base_url`, an API key from `CODEX_API_KEY`.
fn plain_codex(s: &Scenario, args: &[&str]) -> Output {
    s.sb.program(real_cli("codex"))
        .env("CODEX_API_KEY", PLAIN_USER_KEY)
        .args([
            "--no-daemon",
            "-c",
            &format!("openai_base_url=\"{}/v1\"", s.fake.origin()),
        ])
        .args(oauth_mux::harness::session::codex_side_traffic_args())
        .args(["exec", "--skip-git-repo-check"])
        .args(args)
        .run()
}

/// The text of the last model request the fake saw with `credential` (zstd bodies, which
/// Codex sends with ChatGPT auth, decoded).
fn request_text(s: &Scenario, credential: &str) -> String {
    let body = s.fake.last_body(credential);
    let zstd = s
        .fake
        .last_headers(credential)
        .iter()
        .any(|(k, v)| k == "content-encoding" && v == "zstd");
    let bytes = if zstd {
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut ruzstd::decoding::StreamingDecoder::new(body.as_slice()).unwrap(),
            &mut out,
        )
        .unwrap();
        out
    } else {
        body
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn g_codex_threads_resume_across_plain_and_managed_sessions_in_both_directions() {
    let s = Scenario::new(Kind::Codex, ok("MANAGED-ANSWER"), ok("UNUSED"));
    // 1. The user's own plain codex records a thread.
    let plain = plain_codex(&s, &["PLAIN-MARKER"]);
    plain.ok();
    assert!(plain.all().contains("PLAIN-ANSWER"), "{plain}");
    // 2. A managed session resumes it: the request carries the plain turn.
    let managed = s.run(&[
        "codex",
        "--no-side-traffic",
        "exec",
        "--skip-git-repo-check",
        "resume",
        "--last",
        "MANAGED-TURN",
    ]);
    managed.ok();
    assert!(managed.all().contains("MANAGED-ANSWER"), "{managed}");
    let managed_request = request_text(&s, &s.tokens[0]);
    assert!(
        managed_request.contains("PLAIN-MARKER") && managed_request.contains("MANAGED-TURN"),
        "the managed session did not resume the plain thread"
    );
    let rollouts = s.sb.files_containing("MANAGED-TURN");
    assert!(
        !rollouts.is_empty()
            && rollouts
                .iter()
                .all(|p| p.starts_with(s.sb.path("home/.codex"))),
        "the managed turn must be recorded in the user's own Codex home: {rollouts:?}"
    );
    // 3. Plain codex resumes the thread the managed session continued.
    let again = plain_codex(&s, &["resume", "--last", "PLAIN-AGAIN"]);
    again.ok();
    let plain_request = request_text(&s, PLAIN_USER_KEY);
    assert!(
        plain_request.contains("PLAIN-MARKER")
            && plain_request.contains("MANAGED-TURN")
            && plain_request.contains("PLAIN-AGAIN"),
        "plain codex did not resume the thread the managed session continued"
    );
    s.assert_hygiene(&[&plain, &managed, &again]);
}

#[test]
fn claude_settings_that_point_elsewhere_are_overridden_without_touching_them() {
    let s = Scenario::new(Kind::Claude, ok("THROUGH-THE-PROXY"), ok("UNUSED"));
    let settings = s.sb.path("home/.claude/settings.json");
    std::fs::write(
        &settings,
        "{\"env\":{\"ANTHROPIC_BASE_URL\":\"http://127.0.0.1:9\",\"ANTHROPIC_API_KEY\":\"sk-ant-api03-user\"}}\n",
    )
    .unwrap();
    let before = std::fs::read(&settings).unwrap();
    let out = s.turn();
    out.ok();
    assert!(out.all().contains("THROUGH-THE-PROXY"), "{out}");
    assert!(
        out.all().contains("overrides them with --settings"),
        "{out}"
    );
    assert_eq!(std::fs::read(&settings).unwrap(), before);
    assert_eq!(s.fake.calls(&s.tokens[0]), 1);
}

#[test]
fn codex_arguments_reach_the_harness_in_order_and_routing_overrides_are_refused() {
    let s = Scenario::new(Kind::Codex, ok("UNUSED"), ok("UNUSED"));
    let out_dir = s.sb.path("work");
    let script = script_harness(
        &s.sb,
        "echo-args",
        r#"printf '%s\n' "$@" > "$OUT/args"
grep -q '^openai_base_url = "http://127.0.0.1:' "$CODEX_HOME/config.toml" && echo overlay > "$OUT/overlay"
exit 0"#,
    );
    let run = |args: &[&str]| {
        s.sb.oauth_mux()
            .args(args)
            .env("OMUX_CODEX_BIN", &script)
            .env("OUT", &out_dir)
            .run()
    };
    let args = || std::fs::read_to_string(out_dir.join("args")).unwrap_or_default();
    let out = run(&["codex", "resume", "--last"]);
    out.ok();
    assert_eq!(args(), "--no-daemon\nresume\n--last\n");
    let out = run(&["codex", "resume", "--", "--last"]);
    out.ok();
    assert_eq!(
        args(),
        "--no-daemon\nresume\n--last\n",
        "`--` keeps working"
    );
    let out = run(&["codex", "--model", "gpt-x", "exec", "hi"]);
    out.ok();
    assert_eq!(args(), "--no-daemon\n--model\ngpt-x\nexec\nhi\n");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("overlay")).unwrap_or_default(),
        "overlay\n"
    );
    let out = run(&["codex", "run", "--no-side-traffic", "--", "exec", "hi"]);
    out.ok();
    assert_eq!(
        args(),
        "--no-daemon\n-c\nanalytics.enabled=false\n--disable\nplugins\n--disable\napps\nexec\nhi\n"
    );
    let out = run(&["codex", "--", "exec", "hi"]);
    assert_eq!(
        args(),
        "--no-daemon\nexec\nhi\n",
        "no side-traffic flags unless asked"
    );
    out.ok();
    std::fs::remove_file(out_dir.join("args")).unwrap();
    let refused = run(&["codex", "--", "-c", "model_provider=openai", "exec", "hi"]);
    refused.code(2);
    assert!(refused.all().contains("model_provider"), "{refused}");
    assert!(!out_dir.join("args").exists(), "the harness must not start");
    s.assert_hygiene(&[&out, &refused]);
}

#[test]
fn claude_isolated_config_leaves_the_users_config_dir_alone() {
    let s = Scenario::new(Kind::Claude, ok("ISOLATED-OK"), ok("UNUSED"));
    let list = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(s.sb.path(dir))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let before = list("home/.claude");
    let out = s.run(&[
        "claude",
        "--isolated-config",
        "--no-side-traffic",
        "--",
        "-p",
        "say hi",
    ]);
    out.ok();
    assert!(out.all().contains("ISOLATED-OK"), "{out}");
    assert_eq!(
        list("home/.claude"),
        before,
        "the user's config dir changed"
    );
    assert!(!s.sb.path("home/.claude.json").exists());
    assert_eq!(s.status_latest()["verdict"], "no_handoff_needed");
    s.assert_hygiene(&[&out]);
}
