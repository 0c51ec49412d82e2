//! The proof of SPEC §8 with the real harnesses: the pinned Codex CLI and Claude Code CLI
//! run through `oauth-mux codex` / `oauth-mux claude` (the built binary, a temp HOME and
//! XDG dirs, a config with two accounts) against the loopback fake provider, with
//! HTTPS_PROXY pointing at a refusing proxy so any off-box attempt fails the test.

mod harness_support;

use std::process::{Command, Output, Stdio};

use harness_support::*;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use serde_json::{Value, json};

const SIG_1: &str = "omuxcanarysigacctone1";
const SIG_2: &str = "omuxcanarysigaccttwo2";
const RAW_ID_1: &str = "omux-canary-raw-id-acct-one";
const RAW_ID_2: &str = "omux-canary-raw-id-acct-two";
/// The API key plain `codex` (without oauth-mux) uses in the cross-resume test.
const PLAIN_USER_KEY: &str = "sk-user-own-plain-key";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Codex,
    Claude,
}

/// One scenario: a temp user with their own harness files, a config with accounts
/// `acct-1` (priority 10) and `acct-2` (priority 5), the fake provider scripted per account.
struct Scenario {
    kind: Kind,
    user: TempUser,
    refusing: RefusingProxy,
    fake: FakeProvider,
    tokens: [String; 2],
    user_files: Vec<&'static str>,
    before: Vec<(String, Vec<u8>)>,
}

impl Scenario {
    fn new(kind: Kind, acct1: Behaviour, acct2: Behaviour) -> Scenario {
        let user = TempUser::new();
        let tokens = match kind {
            Kind::Codex => [canary_jwt(SIG_1), canary_jwt(SIG_2)],
            Kind::Claude => [
                format!("sk-ant-oat01-{SIG_1}"),
                format!("sk-ant-oat01-{SIG_2}"),
            ],
        };
        let fake = FakeProvider::start(vec![
            (tokens[0].clone(), acct1),
            (tokens[1].clone(), acct2),
            (PLAIN_USER_KEY.to_string(), ok("PLAIN-ANSWER")),
        ])
        .unwrap();
        std::fs::create_dir_all(user.path("secrets")).unwrap();
        let mut accounts = serde_json::Map::new();
        for (i, (label, raw_id)) in [("acct-1", RAW_ID_1), ("acct-2", RAW_ID_2)]
            .into_iter()
            .enumerate()
        {
            let secret = match kind {
                Kind::Codex => json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
                    "tokens": {"id_token": tokens[i], "access_token": tokens[i],
                               "refresh_token": format!("rt-{raw_id}"), "account_id": raw_id}}),
                Kind::Claude => json!({"claudeAiOauth": {"accessToken": tokens[i],
                    "refreshToken": format!("rt-{raw_id}"), "expiresAt": 4_102_444_800_000_i64,
                    "scopes": ["user:inference"], "subscriptionType": "max"}}),
            };
            let path = user.path(&format!("secrets/{label}.json"));
            std::fs::write(&path, serde_json::to_vec(&secret).unwrap()).unwrap();
            accounts.insert(
                label.into(),
                json!({"priority": 10 - 5 * i as i32,
                       "secret": {"backend": "file", "path": path.to_string_lossy()}}),
            );
        }
        let (provider, profile, capability) = match kind {
            Kind::Codex => ("codex", "codex-max", "codex-max"),
            Kind::Claude => ("claude", "claude", "messages"),
        };
        let config = json!({
            "version": 1,
            "providers": {provider: {"kind": provider, "accounts": accounts}},
            "profiles": {profile: {"providers": [
                format!("{provider}:acct-1#{capability}"),
                format!("{provider}:acct-2#{capability}"),
            ]}},
        });
        std::fs::create_dir_all(user.path("xdg/config/oauth-mux")).unwrap();
        std::fs::write(
            user.path("xdg/config/oauth-mux/config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        let user_files = match kind {
            Kind::Codex => {
                user.plant_codex_files();
                vec!["home/.codex/config.toml", "home/.codex/auth.json"]
            }
            Kind::Claude => {
                user.plant_claude_files();
                vec![
                    "home/.claude/settings.json",
                    "home/.claude/.credentials.json",
                ]
            }
        };
        let before = user.snapshot(&user_files);
        Scenario {
            kind,
            refusing: RefusingProxy::start(),
            user,
            fake,
            tokens,
            user_files,
            before,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let npm_bin = harness_bin(match self.kind {
            Kind::Codex => "codex",
            Kind::Claude => "claude",
        });
        let npm_dir = npm_bin.parent().unwrap().to_string_lossy().into_owned();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oauth-mux"));
        cmd.env_clear()
            .args(args)
            .envs(self.user.env(&self.refusing))
            .env("PATH", format!("{npm_dir}:/usr/local/bin:/usr/bin:/bin"))
            .env("OMUX_CODEX_UPSTREAM", self.fake.origin())
            .env("OMUX_CLAUDE_UPSTREAM", self.fake.origin())
            .current_dir(self.user.path("work"))
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `oauth-mux <harness> --no-side-traffic -- <one non-interactive turn>`.
    fn turn(&self) -> Output {
        match self.kind {
            Kind::Codex => self.run(&[
                "codex",
                "--no-side-traffic",
                "--",
                "exec",
                "--skip-git-repo-check",
                "say hi",
            ]),
            Kind::Claude => self.run(&["claude", "--no-side-traffic", "--", "-p", "say hi"]),
        }
    }

    /// [`Scenario::turn`], which must exit 0 and print `expected`.
    #[track_caller]
    fn turn_printing(&self, expected: &str) -> Output {
        let out = self.turn();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(text(&out).contains(expected), "{}", text(&out));
        out
    }

    fn harness(&self) -> &'static str {
        match self.kind {
            Kind::Codex => "codex",
            Kind::Claude => "claude",
        }
    }

    fn status_latest(&self) -> Value {
        let out = self.run(&[self.harness(), "status-latest", "--json"]);
        assert!(out.status.success(), "status-latest failed: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `route explain --json` for the profile: account label -> route JSON.
    fn routes(&self) -> Vec<Value> {
        let profile = match self.kind {
            Kind::Codex => "codex-max",
            Kind::Claude => "claude",
        };
        let out = self.run(&["route", "explain", "--profile", profile, "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("route explain JSON: {e}\n{}", text(&out)));
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
    /// any output, state, runtime file or artifact.
    fn assert_hygiene(&self, outputs: &[&Output]) {
        assert_eq!(
            self.user.snapshot(&self.user_files),
            self.before,
            "the user's own harness files changed"
        );
        assert_eq!(
            self.refusing.attempts(),
            Vec::<String>::new(),
            "off-box attempts"
        );
        let leftovers: Vec<String> = std::fs::read_dir(self.user.path("runtime/oauth-mux"))
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
        for canary in [SIG_1, SIG_2, RAW_ID_1, RAW_ID_2, CANARY_USER_TOKEN] {
            for out in outputs {
                assert!(
                    !text(out).contains(canary),
                    "{canary} in output:\n{}",
                    text(out)
                );
            }
            let hits = self.user.files_containing(
                canary,
                &[
                    "secrets/",
                    "home/.codex/auth.json",
                    "home/.claude/.credentials.json",
                ],
            );
            assert!(hits.is_empty(), "{canary} written to {hits:?}");
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("HANDOFF-TEXT-OK"),
        "{all}"
    );
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
    use std::os::unix::fs::PermissionsExt;
    let sessions = s.user.state_dir().join("sessions");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sessions), 0o700);
    for entry in std::fs::read_dir(&sessions).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
    let human = s.run(&[s.harness(), "status-latest"]);
    assert!(
        text(&human).contains("successful_live_quota_handoff"),
        "{}",
        text(&human)
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
    let all = text(&out);
    assert_ne!(out.status.code(), Some(0), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
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
    assert_eq!(s.status_latest()["verdict"], "pool_exhausted");
    // A new session refuses before starting the harness, naming the reset.
    let again = s.turn();
    assert_eq!(again.status.code(), Some(201), "{}", text(&again));
    assert!(text(&again).contains("route explain"), "{}", text(&again));
    assert_eq!(s.fake.calls(&s.tokens[0]) + s.fake.calls(&s.tokens[1]), 2);
    s.assert_hygiene(&[&out, &again]);
}

both_harnesses!(
    assert_pool_exhausted:
    b_codex_every_account_spent_gives_one_error_with_the_reset,
    b_claude_every_account_spent_gives_one_error_with_the_reset
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
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        s.fake.calls(&s.tokens[0]),
        2,
        "529 then success, same account"
    );
    assert_eq!(s.fake.calls(&s.tokens[1]), 0, "no failover for overload");
    assert!(!text(&out).contains("SHOULD-NOT-BE-USED"));
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
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("after the wait"),
        "{all}"
    );
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

/// A stand-in harness (shell script) for checks that need the session's proxy address.
fn script_harness(s: &Scenario, name: &str, body: &str) -> std::path::PathBuf {
    let path = s.user.path(&format!("work/{name}.sh"));
    std::fs::write(&path, format!("#!/bin/sh\nset -u\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

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

#[test]
fn e_requests_without_the_session_secret_get_403_and_touch_no_account() {
    let s = Scenario::new(Kind::Codex, ok("UNUSED"), ok("UNUSED"));
    let out_dir = s.user.path("work");
    // A stand-in harness that waits while the test talks to its proxy.
    let script = script_harness(
        &s,
        "wait-for-done",
        r#"cp "$CODEX_HOME/config.toml" "$OUT/overlay-config.toml"
i=0
while [ ! -e "$OUT/done" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit 0"#,
    );
    let child = s
        .command(&["codex"])
        .env("OMUX_CODEX_BIN", &script)
        .env("OUT", &out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
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
    let out_dir = s.user.path("work");
    let script = script_harness(
        &s,
        "wait-for-term",
        r#"trap 'echo TERM > "$OUT/signal"; exit 143' TERM
echo ready > "$OUT/ready"
i=0
while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exit 3"#,
    );
    let child = s
        .command(&["codex"])
        .env("OMUX_CODEX_BIN", &script)
        .env("OUT", &out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out_dir.join("ready").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the harness never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: signalling the oauth-mux process this test spawned.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
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
    let bin = harness_bin("codex");
    let npm_dir = bin.parent().unwrap().to_string_lossy().into_owned();
    Command::new(&bin)
        .env_clear()
        .envs(s.user.env(&s.refusing))
        .env("PATH", format!("{npm_dir}:/usr/local/bin:/usr/bin:/bin"))
        .env("CODEX_API_KEY", PLAIN_USER_KEY)
        .args([
            "--no-daemon",
            "-c",
            &format!("openai_base_url=\"{}/v1\"", s.fake.origin()),
        ])
        .args(oauth_mux::harness::session::codex_side_traffic_args())
        .args(["exec", "--skip-git-repo-check"])
        .args(args)
        .current_dir(s.user.path("work"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
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
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert!(text(&plain).contains("PLAIN-ANSWER"), "{}", text(&plain));
    // 2. A managed session resumes it: the request carries the plain turn.
    let managed = s.run(&[
        "codex",
        "--no-side-traffic",
        "--",
        "exec",
        "--skip-git-repo-check",
        "resume",
        "--last",
        "MANAGED-TURN",
    ]);
    assert_eq!(managed.status.code(), Some(0), "{}", text(&managed));
    assert!(
        text(&managed).contains("MANAGED-ANSWER"),
        "{}",
        text(&managed)
    );
    let managed_request = request_text(&s, &s.tokens[0]);
    assert!(
        managed_request.contains("PLAIN-MARKER") && managed_request.contains("MANAGED-TURN"),
        "the managed session did not resume the plain thread"
    );
    let rollouts = s.user.files_containing("MANAGED-TURN", &[]);
    assert!(
        !rollouts.is_empty()
            && rollouts
                .iter()
                .all(|p| p.starts_with(s.user.path("home/.codex"))),
        "the managed turn must be recorded in the user's own Codex home: {rollouts:?}"
    );
    // 3. Plain codex resumes the thread the managed session continued.
    let again = plain_codex(&s, &["resume", "--last", "PLAIN-AGAIN"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
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
    let settings = s.user.path("home/.claude/settings.json");
    std::fs::write(
        &settings,
        "{\"env\":{\"ANTHROPIC_BASE_URL\":\"http://127.0.0.1:9\",\"ANTHROPIC_API_KEY\":\"sk-ant-api03-user\"}}\n",
    )
    .unwrap();
    let before = std::fs::read(&settings).unwrap();
    let out = s.turn();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("THROUGH-THE-PROXY"), "{}", text(&out));
    assert!(
        text(&out).contains("overrides them with --settings"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&settings).unwrap(), before);
    assert_eq!(s.fake.calls(&s.tokens[0]), 1);
}

#[test]
fn codex_arguments_reach_the_harness_in_order_and_routing_overrides_are_refused() {
    let s = Scenario::new(Kind::Codex, ok("UNUSED"), ok("UNUSED"));
    let out_dir = s.user.path("work");
    let script = script_harness(
        &s,
        "echo-args",
        r#"printf '%s\n' "$@" > "$OUT/args"
grep -q '^openai_base_url = "http://127.0.0.1:' "$CODEX_HOME/config.toml" && echo overlay > "$OUT/overlay"
exit 0"#,
    );
    let run = |args: &[&str]| {
        s.command(args)
            .env("OMUX_CODEX_BIN", &script)
            .env("OUT", &out_dir)
            .output()
            .unwrap()
    };
    let args = || std::fs::read_to_string(out_dir.join("args")).unwrap_or_default();
    let out = run(&["codex", "resume", "--", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(args(), "--no-daemon\nresume\n--last\n");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("overlay")).unwrap_or_default(),
        "overlay\n"
    );
    let out = run(&["codex", "run", "--no-side-traffic", "--", "exec", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_file(out_dir.join("args")).unwrap();
    let refused = run(&["codex", "--", "-c", "model_provider=openai", "exec", "hi"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("model_provider"),
        "{}",
        text(&refused)
    );
    assert!(!out_dir.join("args").exists(), "the harness must not start");
    s.assert_hygiene(&[&out, &refused]);
}

#[test]
fn claude_isolated_config_leaves_the_users_config_dir_alone() {
    let s = Scenario::new(Kind::Claude, ok("ISOLATED-OK"), ok("UNUSED"));
    let list = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(s.user.path(dir))
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
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("ISOLATED-OK"), "{}", text(&out));
    assert_eq!(
        list("home/.claude"),
        before,
        "the user's config dir changed"
    );
    assert!(!s.user.path("home/.claude.json").exists());
    assert_eq!(s.status_latest()["verdict"], "no_handoff_needed");
    s.assert_hygiene(&[&out]);
}
