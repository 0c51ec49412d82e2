//! A temp machine for injection tests: HOME and XDG dirs, a `toy` provider with
//! canary secrets, and health evidence recorded through the library.
#![allow(dead_code)]

#[path = "../common/files.rs"]
mod files;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use jiff::Timestamp;
use oauth_mux::model::RouteKey;
use oauth_mux::model::classify::Classification;
use oauth_mux::model::health::EvidenceSource;
use oauth_mux::store::paths::Dirs;
use serde_json::json;

pub const CANARY_A1: &str = "toy-canary-access-a1-7Q3xZ9";
pub const CANARY_A2: &str = "toy-canary-access-a2-K8pL2m";
pub const REFRESH_A1: &str = "toy-canary-refresh-a1-W4vN6t";
pub const REFRESH_A2: &str = "toy-canary-refresh-a2-R1cY5j";

/// One isolated machine.
pub struct Machine {
    pub root: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
}

impl Machine {
    /// A machine with the toy config: a1 (priority 10, no config dir: temp
    /// credential file) and a2 (priority 5, its own config dir), plus a claude
    /// provider so the provider must be chosen (or detected).
    pub fn new() -> Machine {
        let root = tempfile::tempdir().unwrap();
        let p = |s: &str| root.path().join(s).display().to_string();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("HOME", p("home")),
            ("XDG_CONFIG_HOME", p("config")),
            ("XDG_STATE_HOME", p("state")),
            ("XDG_RUNTIME_DIR", p("run")),
            ("XDG_DATA_HOME", p("data")),
            ("TMPDIR", p("tmp")),
        ] {
            fs::create_dir_all(&v).unwrap();
            env.insert(k.to_owned(), v);
        }
        env.insert(
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        );
        let future = Timestamp::now().as_second() + 7200;
        env.insert(
            "TOY_SECRET_A1".into(),
            json!({"access_token": CANARY_A1, "refresh_token": REFRESH_A1, "expires_at": future})
                .to_string(),
        );
        env.insert(
            "TOY_SECRET_A2".into(),
            json!({"access_token": CANARY_A2, "refresh_token": REFRESH_A2, "expires_at": future})
                .to_string(),
        );
        fs::create_dir_all(root.path().join("a2home")).unwrap();
        let m = Machine { root, env };
        m.write_config(&m.config_json());
        m
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn config_json(&self) -> serde_json::Value {
        json!({
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
                           "config_dir": self.path("a2home").display().to_string()}
                }},
                "claude": {"kind": "claude", "accounts": {
                    "work": {"secret": {"backend": "env", "variable": "CLAUDE_SECRET_WORK"}}
                }}
            },
            "profiles": {
                "toy-expensive": {"providers": ["toy:a1#expensive", "toy:a2#expensive"]}
            }
        })
    }

    pub fn write_config(&self, config: &serde_json::Value) {
        let dir = self.path("config/oauth-mux");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.json"), config.to_string()).unwrap();
    }

    pub fn dirs(&self) -> Dirs {
        Dirs::resolve(&|k| self.env.get(k).cloned()).unwrap()
    }

    /// Record an observation for `key` through the library.
    pub fn record(&self, key: &str, class: Classification) {
        let key = RouteKey::parse(key).unwrap();
        oauth_mux::evidence::record(
            &self.dirs(),
            &key,
            &class,
            Some(200),
            EvidenceSource::Manual,
            Timestamp::now(),
        )
        .unwrap();
    }

    pub fn live(&self, key: &str) {
        self.record(key, Classification::Success);
    }

    pub fn quota(&self, key: &str) {
        self.record(
            key,
            Classification::QuotaExhausted {
                resets_at: Some(
                    Timestamp::from_second(Timestamp::now().as_second() + 86_400).unwrap(),
                ),
            },
        );
    }

    /// A command for the built binary with this machine's environment only.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oauth-mux"));
        c.args(args).env_clear().envs(&self.env);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Every file under the state, runtime and config dirs, as text.
    pub fn state_texts(&self) -> Vec<(PathBuf, String)> {
        files::texts_under(&["state", "run", "config", "data", "tmp"].map(|d| self.path(d)))
    }

    /// Fail when a canary appears in `text`.
    pub fn assert_no_canary(&self, what: &str, text: &str) {
        for c in [CANARY_A1, CANARY_A2, REFRESH_A1, REFRESH_A2] {
            assert!(!text.contains(c), "{what} leaks a canary:\n{text}");
        }
    }

    pub fn assert_state_clean(&self) {
        for (path, text) in self.state_texts() {
            self.assert_no_canary(&path.display().to_string(), &text);
        }
    }
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
