//! Shared test bed for the stay-afloat and `repair run` tests: a temp HOME/XDG tree,
//! a `toy` provider whose command probe reports quota for a1 and success for a2
//! (`Logged in: false` for an account whose `dead-<account>` marker exists, success
//! for one whose `fresh-<account>` marker exists),
//! env secrets holding canary values, and a command builder for the real binary.

#![allow(dead_code)]

#[path = "../common/files.rs"]
mod files;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Canary secrets planted in the accounts; they must never appear in any output.
pub const CANARY_A1: &str = "omux-canary-a1-7f3e9b2c4d5a6e8f";
pub const CANARY_A2: &str = "omux-canary-a2-1b2c3d4e5f6a7b8c";

/// A temp HOME with config, state and runtime dirs.
pub struct Bed {
    pub root: tempfile::TempDir,
}

/// One finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn toy_config(probe_dir: &Path) -> Value {
    let script = format!(
        r#"if [ -e "{dir}/dead-$OMUX_ACTIVE_ACCOUNT" ]; then echo "Logged in: false"; exit 1; fi
if [ -e "{dir}/fresh-$OMUX_ACTIVE_ACCOUNT" ]; then echo "Logged in: true"; exit 0; fi
case "$OMUX_ACTIVE_ACCOUNT" in
  a1) echo "quota_exhausted: toy $OMUX_ACTIVE_CAPABILITY spent (token ${{TOY_TOKEN:-none}})"; exit 1;;
  *) echo "Logged in: true"; exit 0;;
esac"#,
        dir = probe_dir.display()
    );
    let probe = json!({"transport": "command", "command": ["sh", "-c", script]});
    json!({
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
    })
}

impl Bed {
    pub fn new() -> Bed {
        let root = tempfile::tempdir().unwrap();
        let bed = Bed { root };
        for d in [
            "home",
            "config/oauth-mux",
            "state",
            "runtime",
            "data",
            "probe",
            "bin",
        ] {
            std::fs::create_dir_all(bed.path(d)).unwrap();
        }
        let config = toy_config(&bed.path("probe"));
        std::fs::write(
            bed.config_file(),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        bed
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn config_file(&self) -> PathBuf {
        self.path("config/oauth-mux/config.json")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state/oauth-mux")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.path("runtime/oauth-mux")
    }

    /// The directories the binary resolves in this bed.
    pub fn dirs(&self) -> oauth_mux::store::paths::Dirs {
        let env = self.env();
        oauth_mux::store::paths::Dirs::resolve(&|name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    fn env(&self) -> Vec<(String, String)> {
        let p = |rel: &str| self.path(rel).to_string_lossy().into_owned();
        vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_STATE_HOME".into(), p("state")),
            ("XDG_RUNTIME_DIR".into(), p("runtime")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("OMUX_E2E_A1_AUTH".into(), CANARY_A1.into()),
            ("OMUX_E2E_A2_AUTH".into(), CANARY_A2.into()),
        ]
    }

    /// Put an executable script on the binary's PATH (e.g. the toy login command).
    pub fn script(&self, name: &str, body: &str) {
        let path = self.path(&format!("bin/{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Mark an account so its probe answers `Logged in: false` (a dead token).
    pub fn make_dead(&self, account: &str) {
        std::fs::write(self.path(&format!("probe/dead-{account}")), "").unwrap();
    }

    /// Undo [`Bed::make_dead`] and let the account's probe succeed (a fresh login
    /// with quota left).
    pub fn make_alive(&self, account: &str) {
        let _ = std::fs::remove_file(self.path(&format!("probe/dead-{account}")));
        std::fs::write(self.path(&format!("probe/fresh-{account}")), "").unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oauth-mux"));
        cmd.args(args).env_clear();
        let mut path = std::ffi::OsString::from(self.path("bin"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        cmd.env("PATH", path);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run the binary; every output is checked for the canaries.
    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for canary in [CANARY_A1, CANARY_A2] {
            assert!(
                !run.stdout.contains(canary) && !run.stderr.contains(canary),
                "canary leaked by {args:?}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    }

    /// Run and require exit 0 and JSON on stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert_eq!(
            run.code, 0,
            "{args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run.json()
    }

    /// The event log, parsed.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state_dir().join("repair-events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Record evidence for a route through the store API, as a probe would.
    pub fn record(&self, key: &str, class: oauth_mux::model::Classification, at: jiff::Timestamp) {
        let key = oauth_mux::model::RouteKey::parse(key).unwrap();
        oauth_mux::evidence::record(
            &self.dirs(),
            &key,
            &class,
            Some(400),
            oauth_mux::model::health::EvidenceSource::CommandProbe,
            at,
        )
        .unwrap();
    }

    /// Every file oauth-mux wrote (state and runtime) must be free of canaries.
    pub fn assert_no_canary_on_disk(&self) {
        let written = files::texts_under(&[self.state_dir(), self.runtime_dir()]);
        files::assert_absent(&[CANARY_A1, CANARY_A2], &written);
    }
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

impl Bed {
    /// The recorded health records, by route key.
    pub fn health(&self) -> std::collections::BTreeMap<String, Value> {
        oauth_mux::store::health_file::HealthFile::load(&self.dirs().health_file())
            .unwrap()
            .routes()
            .clone()
    }
}
