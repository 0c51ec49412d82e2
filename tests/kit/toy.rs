//! The `toy` provider that the injection and stay-afloat tests configure in a sandbox:
//! two accounts whose secrets are canaries, and no real tool behind them.

use jiff::Timestamp;
use oauth_mux::model::Classification;
use serde_json::{Value, json};

use super::canary;
use super::sandbox::Sandbox;

/// The injection tests' machine: toy accounts a1 (priority 10, no config dir: the
/// credential goes into a temporary file) and a2 (priority 5, its own config dir
/// `a2home`), their secrets in `TOY_SECRET_A1`/`TOY_SECRET_A2` (access and refresh token
/// canaries, valid for two hours), and a claude provider, so the provider must be chosen
/// (or detected). One profile: `toy-expensive`.
pub fn injection_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    let expires_at = Timestamp::now().as_second() + 7200;
    for (var, label) in [("TOY_SECRET_A1", "a1"), ("TOY_SECRET_A2", "a2")] {
        sb.set_env(var, secret_json(label, expires_at));
    }
    std::fs::create_dir_all(sb.path("a2home")).unwrap();
    sb.write_config(&json!({
        "version": 1,
        "provider_definitions": {
            "toy": {
                "credential": {"expires_at_path": "expires_at"},
                "injection": {
                    "config_dir_env": "TOY_HOME",
                    "credential_filename": "toy-creds.json",
                    "credential_template": "{\"token\":\"{{access_token}}\",\"refresh\":\"{{refresh_token}}\",\"exp\":{{expires_at}}}",
                    "direct_env": [["TOY_TOKEN", "access_token"]]
                },
                "detection": {"binary_names": ["toy-cli"]},
                "repair": {"owner": "upstream_cli_login", "login_command": "toy login {account}"},
                "capabilities": [
                    {"name": "cheap", "probe": {"transport": "command", "command": ["true"]}},
                    {"name": "expensive", "probe": {"transport": "command", "command": ["true"]}}
                ]
            }
        },
        "providers": {
            "toy": {"kind": "toy", "accounts": {
                "a1": {"priority": 10, "secret": {"backend": "env", "variable": "TOY_SECRET_A1"}},
                "a2": {"priority": 5, "secret": {"backend": "env", "variable": "TOY_SECRET_A2"},
                       "config_dir": sb.path("a2home")}
            }},
            "claude": {"kind": "claude", "accounts": {
                "work": {"secret": {"backend": "env", "variable": "CLAUDE_SECRET_WORK"}}
            }}
        },
        "profiles": {
            "toy-expensive": {"providers": ["toy:a1#expensive", "toy:a2#expensive"]}
        }
    }));
    sb
}

/// Account `label`'s secret: its canary access and refresh tokens, expiring at `expires_at`
/// (epoch seconds).
pub fn secret_json(label: &str, expires_at: i64) -> String {
    json!({
        "access_token": canary::token(label),
        "refresh_token": canary::refresh_token(label),
        "expires_at": expires_at
    })
    .to_string()
}

/// The stay-afloat and `repair run` tests' machine: toy accounts a1 (priority 20) and a2
/// (priority 10) whose secrets (`OMUX_E2E_A1_AUTH`, `OMUX_E2E_A2_AUTH`) are canary tokens,
/// and a command probe that reports quota for a1 and success for a2 (`Logged in: false`
/// for an account marked [`make_dead`], success for one marked [`make_alive`]). Profiles
/// `cheap` (the default), `expensive` and `solo` (a1 only); the login command is
/// `toy-login {account}` (plant it with `Sandbox::plant_script`).
pub fn afloat_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.set_env("OMUX_E2E_A1_AUTH", canary::token("a1"));
    sb.set_env("OMUX_E2E_A2_AUTH", canary::token("a2"));
    std::fs::create_dir_all(sb.path("probe")).unwrap();
    let script = format!(
        r#"if [ -e "{dir}/dead-$OMUX_ACTIVE_ACCOUNT" ]; then echo "Logged in: false"; exit 1; fi
if [ -e "{dir}/fresh-$OMUX_ACTIVE_ACCOUNT" ]; then echo "Logged in: true"; exit 0; fi
case "$OMUX_ACTIVE_ACCOUNT" in
  a1) echo "quota_exhausted: toy $OMUX_ACTIVE_CAPABILITY spent (token ${{TOY_TOKEN:-none}})"; exit 1;;
  *) echo "Logged in: true"; exit 0;;
esac"#,
        dir = sb.path("probe").display()
    );
    let probe = json!({"transport": "command", "command": ["sh", "-c", script]});
    sb.write_config(&json!({
        "version": 1,
        "defaults": {"profile": "cheap"},
        "provider_definitions": {
            "toy": {
                "display_name": "Toy",
                "injection": {"config_dir_env": "TOY_HOME", "direct_env": [["TOY_TOKEN", "access_token"]]},
                "repair": {"owner": "upstream_cli_login", "login_command": "toy-login {account}"},
                "capabilities": [
                    {"name": "cheap", "probe": probe.clone()},
                    {"name": "expensive", "probe": probe}
                ],
                "failure_rules": [
                    {"status": 400, "hint_contains": "Logged in: false", "class": {"dead": "token_revoked"}},
                    {"status": 400, "hint_contains": "quota_exhausted", "class": "quota_exhausted"},
                    {"status": 400, "class": {"degraded": "unknown_4xx"}}
                ]
            }
        },
        "providers": {
            "toy": {
                "kind": "toy",
                "accounts": {
                    "a1": {"priority": 20, "secret": {"backend": "env", "variable": "OMUX_E2E_A1_AUTH"}},
                    "a2": {"priority": 10, "secret": {"backend": "env", "variable": "OMUX_E2E_A2_AUTH"}}
                }
            }
        },
        "profiles": {
            "cheap": {"providers": ["toy:a1#cheap", "toy:a2#cheap"]},
            "expensive": {"providers": ["toy:a1#expensive", "toy:a2#expensive"]},
            "solo": {"providers": ["toy:a1#cheap"]}
        }
    }));
    sb
}

/// Mark an account of [`afloat_sandbox`] so its probe answers `Logged in: false` (a dead
/// token).
pub fn make_dead(sb: &Sandbox, account: &str) {
    sb.plant(&format!("probe/dead-{account}"), "");
}

/// Undo [`make_dead`] and let the account's probe succeed (a fresh login with quota left).
pub fn make_alive(sb: &Sandbox, account: &str) {
    let _ = std::fs::remove_file(sb.path(&format!("probe/dead-{account}")));
    sb.plant(&format!("probe/fresh-{account}"), "");
}

/// The route entry of a tick or evaluation by key.
pub fn route<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no route {key} in {report:#}"))
}

/// Evidence that `key` is live, recorded now.
pub fn live(sb: &Sandbox, key: &str) {
    sb.record(key, Classification::Success, Timestamp::now());
}

/// Evidence that `key`'s quota is spent for a day, recorded now.
pub fn quota(sb: &Sandbox, key: &str) {
    let now = Timestamp::now();
    sb.record(
        key,
        Classification::QuotaExhausted {
            resets_at: Some(now + jiff::SignedDuration::from_hours(24)),
        },
        now,
    );
}
