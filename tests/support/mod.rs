//! Test helper: a temporary HOME with XDG dirs, and a command builder that runs
//! the real `oauth-mux` binary inside it (no OMUX_* leaks in from the outside).
#![allow(dead_code)]

#[path = "../common/files.rs"]
mod files;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_oauth-mux");

/// A scratch machine: HOME, XDG config/state/data/runtime dirs, no config yet.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["home", "cfg", "state", "data", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        TestEnv {
            dir,
            extra_env: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn config_path(&self) -> PathBuf {
        self.root().join("cfg/oauth-mux/config.json")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state/oauth-mux")
    }

    pub fn env(mut self, key: &str, value: &str) -> TestEnv {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    /// Write the config file (creating its dir).
    pub fn write_config(&self, json: &str) {
        let p = self.config_path();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, json).unwrap();
    }

    /// The command, with the scratch environment applied.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(Path::new(BIN), args)
    }

    /// Like [`TestEnv::command`], running `program` (e.g. a copy of the binary elsewhere).
    pub fn command_of(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("OMUX_") || k.starts_with("XDG_") {
                cmd.env_remove(k);
            }
        }
        let r = self.root();
        cmd.env("HOME", r.join("home"))
            .env("XDG_CONFIG_HOME", r.join("cfg"))
            .env("XDG_STATE_HOME", r.join("state"))
            .env("XDG_DATA_HOME", r.join("data"))
            .env("XDG_RUNTIME_DIR", r.join("run"))
            .env("NO_COLOR", "1")
            .current_dir(r)
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().expect("run oauth-mux");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every file under the scratch state, config and runtime dirs, as text.
    pub fn state_files_text(&self) -> Vec<(PathBuf, String)> {
        files::texts_under(&["state", "cfg", "run", "data"].map(|sub| self.root().join(sub)))
    }
}

/// Assert that no canary appears in any of the texts.
#[track_caller]
pub fn assert_no_canary(canaries: &[&str], texts: &[(String, String)]) {
    for (label, text) in texts {
        for c in canaries {
            assert!(!text.contains(c), "canary {c:?} leaked in {label}:\n{text}");
        }
    }
}

/// The repository root (for examples/ and fixtures).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Multi-process tests (store_health.rs, store_events.rs) re-run their own test binary as a worker: the parent spawns
/// `<this binary> --exact <test name>` with this variable set (arguments joined by `|`),
/// and the same test function, seeing it, plays the worker role instead.
pub const WORKER_VAR: &str = "OMUX_STORE_TEST_WORKER";

/// `Some(args)` when this process was spawned as a worker.
pub fn worker_args() -> Option<Vec<String>> {
    std::env::var(WORKER_VAR)
        .ok()
        .map(|v| v.split('|').map(str::to_string).collect())
}

/// Spawn this test binary running only `test_name`, as a worker with `args`.
pub fn spawn_worker(test_name: &str, args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(WORKER_VAR, args.join("|"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn worker")
}
