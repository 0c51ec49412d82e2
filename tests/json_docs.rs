//! docs/json.md stays true: every command section's command runs with `--json` in a prepared
//! sandbox (json_docs/machine.rs) and prints exactly the fields its tables list, at the top
//! and at every documented path; the shared objects and every event kind are held against
//! their tables where they appear; failures print the error object with the exit code of the
//! human path; and every command path that accepts `--json` has a section.
//!
//! Two outputs are checked by their documented refusal instead of a run: the logins need a
//! person, so `--json` gets the error object (exit 2), and `keepalive --print-unit` prints a
//! unit file, so it refuses `--json` too.

mod kit;

#[path = "json_docs/check.rs"]
mod check;
#[path = "json_docs/doc.rs"]
mod doc;
#[path = "json_docs/machine.rs"]
mod machine;

use jiff::Timestamp;
use kit::{Sandbox, canary, fake_harness};

use check::Checker;

/// Where each shared object is held against its table: (its title, the command section whose
/// output holds it, the path there).
fn shared_at() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "Route id",
            "oauth-mux route select --json",
            "session_order[]",
        ),
        ("Route id", "oauth-mux stay-afloat --json", "selected"),
        (
            "Route action",
            "oauth-mux route select --json",
            "routes[].action",
        ),
        (
            "Route action",
            "oauth-mux repair-plan --json",
            "routes[].action",
        ),
        (
            "Admission verdict",
            "oauth-mux route select --json",
            "routes[].daemon_repair",
        ),
        ("Policy", "oauth-mux route select --json", "policy"),
        (
            "Writeback",
            "oauth-mux route select --json",
            "routes[].writeback",
        ),
        (
            "Writeback",
            "oauth-mux accounts list --json",
            "accounts[].writeback",
        ),
        (
            "Token outlook",
            "oauth-mux status --json",
            "profiles[].routes[].token",
        ),
        (
            "Token outlook",
            "oauth-mux doctor runtime --json",
            "account_reports[].token",
        ),
        (
            "Token outlook",
            "oauth-mux accounts list --json",
            "accounts[].token",
        ),
        (
            "Account check",
            "oauth-mux setup codex --json",
            "accounts[]",
        ),
        (
            "Credential facts",
            "oauth-mux setup codex --json",
            "accounts[].credentials",
        ),
        (
            "Credential facts",
            "oauth-mux codex canary --json",
            "accounts[].credentials",
        ),
        (
            "Config change",
            "oauth-mux setup codex --json",
            "config_changes[]",
        ),
        (
            "Config change",
            "oauth-mux enroll plan codex --account NAME --json",
            "config_changes[]",
        ),
        (
            "Config change",
            "oauth-mux codex config-merge --candidate PATH --json",
            "config_changes[]",
        ),
        (
            "Config problem",
            "oauth-mux config validate --json",
            "errors[]",
        ),
        ("Probe row", "oauth-mux probe --json", "routes[]"),
        ("Probe row", "oauth-mux codex live-qa --json", "routes[]"),
        (
            "Refresh report",
            "oauth-mux probe --json",
            "routes[].token_refresh",
        ),
        ("Execution", "oauth-mux stay-afloat --json", "executions[]"),
        ("Claim", "oauth-mux stay-afloat --json", "claim"),
        ("Claim", "oauth-mux stay-afloat next --json", "claim"),
        (
            "oauth-mux stay-afloat --json",
            "oauth-mux stay-afloat --loop --json",
            "ticks[]",
        ),
        ("Events", "oauth-mux daemon events --json", "events[]"),
        (
            "Events",
            "oauth-mux stay-afloat handoffs --json",
            "handoffs[]",
        ),
    ]
}

/// The words of a command line.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Run each `(section, arguments, exit code)` and hold its output against the section.
fn run_all(c: &mut Checker, sb: &Sandbox, runs: &[(&str, &str, i32)]) {
    for (id, args, code) in runs {
        c.run(id, &sb.run(&words(args)), *code);
    }
}

/// The candidate flow needs a config with at most one Codex account: its own machine.
fn check_candidate_and_merge(c: &mut Checker) {
    let sb = Sandbox::new();
    sb.run(&["init"]).ok();
    let out = sb.run(&["codex", "config-candidate", "--json"]);
    c.run("oauth-mux codex config-candidate --json", &out, 0);
    let candidate = out.json()["candidate_config"].as_str().unwrap().to_owned();
    let out = sb.run(&["codex", "config-merge", "--candidate", &candidate, "--json"]);
    c.run(
        "oauth-mux codex config-merge --candidate PATH --json",
        &out,
        0,
    );
}

const INIT: &str = "oauth-mux init --json";
const DOCTOR: &str = "oauth-mux doctor --json";
const SETUP: &str = "oauth-mux setup codex --json";
const LOGIN: &str = "oauth-mux codex login-device ACCOUNT --json";
const LIVE_QA: &str = "oauth-mux codex live-qa --json";
const LATEST: &str = "oauth-mux codex status-latest --json";
const ENROLL: &str = "oauth-mux enroll plan codex --account NAME --json";
const VALIDATE: &str = "oauth-mux config validate --json";
const STATUS: &str = "oauth-mux status --json";
const SELECT: &str = "oauth-mux route select --json";
const CANARY: &str = "oauth-mux codex canary --json";
const PREFLIGHT: &str = "oauth-mux codex preflight --json";
const PROBE: &str = "oauth-mux probe --json";
const REPAIR: &str = "oauth-mux repair run --json";
const KEEPALIVE: &str = "oauth-mux keepalive --json";
const TICK: &str = "oauth-mux stay-afloat --json";
const TICKS: &str = "oauth-mux stay-afloat --loop --json";
const NEXT: &str = "oauth-mux stay-afloat next --json";
const HANDOFFS: &str = "oauth-mux stay-afloat handoffs --json";
const SETTLE: &str = "oauth-mux stay-afloat handoff ack --provider P --account A --json";

#[test]
fn every_json_output_prints_the_fields_docs_json_md_lists() {
    let mut c = Checker::new(doc::load(), shared_at());
    let (sb, _fake) = machine::machine();

    // A fresh machine: the config, what doctor misses, the Claude accounts setup would add;
    // logins need a person, so they refuse --json.
    run_all(
        &mut c,
        &sb,
        &[
            ("oauth-mux config path --json", "config path --json", 0),
            (INIT, "init --codex-max --json", 0),
            (INIT, "init --json", 1),
            (DOCTOR, "doctor --json", 1),
            (SETUP, "setup claude --json", 0),
            (LOGIN, "codex login-device max-1 --json", 2),
            (LOGIN, "claude login work --json", 2),
        ],
    );
    sb.run(&words("setup claude")).ok();
    for (harness, login, account) in [
        ("codex", "login-device", "max-1"),
        ("codex", "login-device", "max-2"),
        ("codex", "login-device", "max-3"),
        ("claude", "login", "personal"),
        ("claude", "login", "work"),
    ] {
        sb.run(&[harness, login, account]).ok();
    }
    fake_harness::mark_stores_secret(&sb);
    // Before any session, status-latest prints the four fields its section names.
    let out = sb.run(&words("codex status-latest --json"));
    out.code(1);
    let value = out.json();
    let fields: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["harness", "verdict", "next_action", "next_commands"],
        "{out}"
    );
    c.documented(LATEST, &value, &out.command);

    // Evidence from live-qa, then a spent quota, a dead account, usage, sessions, profiles;
    // a fourth account whose token has expired (its refresh cannot reach the token endpoint).
    run_all(
        &mut c,
        &sb,
        &[
            (LIVE_QA, "codex live-qa --json", 1),
            (LIVE_QA, "codex live-qa --confirm-spend --json", 0),
            (LIVE_QA, "claude live-qa --confirm-spend --json", 0),
        ],
    );
    let now = Timestamp::now();
    machine::record_health(&sb, now);
    machine::record_session(&sb, now);
    sb.run(&words("claude -p hi")).ok();
    machine::record_launch_reselect(&sb, now);
    machine::add_profiles(&sb);
    run_all(
        &mut c,
        &sb,
        &[
            (LATEST, "codex status-latest --json", 0),
            (LATEST, "claude status-latest --json", 0),
            (ENROLL, "enroll plan codex --account max-4 --json", 0),
            (ENROLL, "enroll codex --account max-4 --json", 1),
            (
                ENROLL,
                "enroll codex --account max-4 --confirm-enroll --json",
                0,
            ),
        ],
    );
    let expired = fake_harness::codex_auth_json("max-4").replace(
        &fake_harness::codex_token("max-4"),
        &canary::jwt_expiring("max-4", now.as_second() - 3600),
    );
    sb.plant_secret("data/oauth-mux/codex/max-4/auth.json", expired);

    // Inventory, routing, probes, repairs, stay-afloat, events.
    run_all(
        &mut c,
        &sb,
        &[
            ("oauth-mux version --json", "version --json", 0),
            // The test binary has no install receipt: update replaces nothing and makes no
            // connection (tests/update_cli.rs and the release proof cover the other outcomes).
            ("oauth-mux update --json", "update --json", 207),
            (VALIDATE, "config validate --json", 0),
            (DOCTOR, "doctor --json", 0),
            (
                "oauth-mux doctor runtime --json",
                "doctor runtime --profile codex-max --json",
                0,
            ),
            ("oauth-mux discover --json", "discover --json", 0),
            ("oauth-mux report --json", "report --json", 0),
            (
                "oauth-mux providers list --json",
                "providers list --json",
                0,
            ),
            ("oauth-mux accounts list --json", "accounts list --json", 0),
            ("oauth-mux health --json", "health --json", 0),
            (STATUS, "status --json", 0),
            (SELECT, "route select --profile codex-max --json", 0),
            (SELECT, "route explain --profile codex-max --json", 0),
            (SELECT, "route explain --profile codex-solo3 --json", 201),
            (
                "oauth-mux repair-plan --json",
                "repair-plan --profile codex-max --json",
                0,
            ),
            (CANARY, "codex canary --json", 1),
            (CANARY, "claude canary --json", 0),
            (PREFLIGHT, "codex preflight --json", 0),
            (PREFLIGHT, "claude preflight --json", 0),
            ("oauth-mux env --json", "env --profile claude --json", 0),
            (PROBE, "probe --profile claude --json", 201),
            (
                PROBE,
                "probe --provider codex --account max-4 --confirm-spend --json",
                204,
            ),
            (REPAIR, "repair run --profile codex-solo3 --json", 1),
            (REPAIR, "repair run --profile codex-max --json", 0),
            (KEEPALIVE, "keepalive --json", 204),
            (
                KEEPALIVE,
                "keepalive --provider claude --loop --iterations 2 --interval 1 --json",
                0,
            ),
            (TICK, "stay-afloat --json", 0),
            (
                TICK,
                "stay-afloat --execute --profile claude-status --json",
                0,
            ),
            (
                TICK,
                "daemon tick --execute --profile codex-solo3 --json",
                0,
            ),
            (TICK, "stay-afloat refresh --profile codex-max --json", 0),
            (
                TICKS,
                "stay-afloat --loop --iterations 2 --interval-ms 1 --json",
                0,
            ),
            (
                TICKS,
                "daemon tick --loop --iterations 2 --interval-ms 1 --json",
                0,
            ),
            (NEXT, "stay-afloat next --json", 0),
            (NEXT, "stay-afloat next --profile codex-solo3 --json", 201),
            (HANDOFFS, "stay-afloat handoffs --json", 0),
            (HANDOFFS, "daemon handoffs --all --json", 0),
            (
                SETTLE,
                "stay-afloat handoff ack --provider codex --account max-3 --json",
                0,
            ),
            (
                SETTLE,
                "stay-afloat handoff clear --provider codex --account max-3 --json",
                0,
            ),
            (
                "oauth-mux health --reset KEY --json",
                "health --reset codex:max-1#broken --json",
                0,
            ),
            (
                "oauth-mux daemon events --json",
                "daemon events --limit 500 --json",
                0,
            ),
        ],
    );
    c.run(
        STATUS,
        &machine::first_line(&sb, &words("status --watch --json")),
        0,
    );
    let bad = sb.plant(
        "work/bad.json",
        r#"{"version": 1, "providers": {"x": {"kind": 3}}}"#,
    );
    let bad_config = |args: &[&str]| sb.oauth_mux().args(args).env("OMUX_CONFIG", &bad).run();
    c.run(
        VALIDATE,
        &bad_config(&["config", "validate", "--json"]),
        200,
    );
    check_candidate_and_merge(&mut c);

    // Failures without a report of their own: the error object, with the exit code the
    // command has without `--json`.
    for (args, code, name) in [
        (&["route", "select", "--profile", "nope"][..], 2, "usage"),
        (&["env", "--profile", "codex-solo3"], 201, "none_selectable"),
    ] {
        c.error(&sb.run(&[args, &["--json"]].concat()), code, name);
        sb.run(args).code(code);
    }
    c.error(
        &bad_config(&["route", "explain", "--json"]),
        200,
        "config_error",
    );
    bad_config(&["route", "explain"]).code(200);
    // `--print-unit` prints a unit file, never JSON.
    c.error(
        &sb.run(&["keepalive", "--print-unit", "systemd", "--json"]),
        2,
        "usage",
    );

    let problems = c.finish();
    assert!(
        problems.is_empty(),
        "docs/json.md is out of date:\n{}",
        problems.join("\n")
    );
}

/// Every command path that accepts `--json` has a section, and every section names commands
/// that exist and take `--json`.
#[test]
fn every_command_with_json_has_a_section() {
    let sections = doc::load();
    let documented: Vec<Vec<String>> = sections
        .iter()
        .filter(|s| s.group == check::COMMANDS)
        .flat_map(|s| s.invocations.clone())
        .map(|line| command_path(&line))
        .collect();
    let mut missing = Vec::new();
    walk(
        &oauth_mux::cli::command(),
        &mut Vec::new(),
        &mut |path, cmd| {
            let json = cmd.get_arguments().any(|a| a.get_long() == Some("json"));
            if json && !documented.contains(&path.to_vec()) {
                missing.push(format!("oauth-mux {}", path.join(" ")));
            }
        },
    );
    assert!(
        missing.is_empty(),
        "no section in docs/json.md for: {missing:?}"
    );
    for path in &documented {
        let mut cmd = oauth_mux::cli::command();
        for word in path {
            cmd = cmd.find_subcommand(word).unwrap().clone();
        }
        assert!(
            cmd.get_arguments().any(|a| a.get_long() == Some("json")),
            "docs/json.md documents `oauth-mux {}`, which has no --json",
            path.join(" ")
        );
    }
    let ids: Vec<String> = sections.iter().map(doc::Section::id).collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "section names repeat: {ids:?}");
    assert!(documented.len() >= 40, "{documented:?}");
}

/// The exit-code table names every exit code with the name its error object carries.
#[test]
fn the_exit_code_table_matches_the_error_names() {
    use oauth_mux::exit::ExitCode;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"),
    )
    .unwrap();
    for code in ExitCode::ALL {
        let row = format!("| {} | `{}` |", code.code(), code.name());
        assert!(text.contains(&row), "docs/json.md lacks the row `{row}`");
    }
}

/// The command path (subcommand names) of a documented command line.
fn command_path(line: &str) -> Vec<String> {
    let mut cmd = oauth_mux::cli::command();
    let mut path = Vec::new();
    for word in line.split_whitespace().skip(1) {
        let Some(sub) = cmd.find_subcommand(word).cloned() else {
            break;
        };
        path.push(word.to_owned());
        cmd = sub;
    }
    assert!(!path.is_empty(), "`{line}` names no oauth-mux command");
    path
}

fn walk(
    cmd: &clap::Command,
    path: &mut Vec<String>,
    visit: &mut dyn FnMut(&[String], &clap::Command),
) {
    visit(path, cmd);
    for sub in cmd.get_subcommands() {
        path.push(sub.get_name().to_owned());
        walk(sub, path, visit);
        path.pop();
    }
}
