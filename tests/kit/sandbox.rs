//! A throw-away machine for one test: its own HOME and XDG dirs under one temp dir, and a
//! cleared environment for every program it runs (no `OMUX_*`, proxy or XDG variable of
//! the developer's leaks in).
//!
//! Layout (relative to [`Sandbox::root`]):
//!
//! | dir | variable | holds |
//! |---|---|---|
//! | `home` | `HOME` | the user's own files (`.codex`, `.claude`) |
//! | `config` | `XDG_CONFIG_HOME` | `oauth-mux/config.json` |
//! | `state` | `XDG_STATE_HOME` | `oauth-mux/health.json`, the event log, sessions |
//! | `data`, `cache` | `XDG_DATA_HOME`, `XDG_CACHE_HOME` | |
//! | `runtime` | `XDG_RUNTIME_DIR` | `oauth-mux/` credential dirs, locks |
//! | `tmp` | `TMPDIR` | |
//! | `bin` | first on `PATH` | scripts a test plants ([`Sandbox::plant_script`]) |
//! | `work` | working directory | |

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use jiff::Timestamp;
use oauth_mux::demo::fake_provider::FakeProvider;
use oauth_mux::model::health::{EvidenceSource, RouteHealth, UsageGauge};
use oauth_mux::model::{Classification, RouteKey};
use oauth_mux::store::health_file::HealthFile;
use oauth_mux::store::paths::Dirs;
use serde_json::Value;

use super::command::{Cmd, Output};
use super::{canary, files};

/// The built binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_oauth-mux");

/// The sub-directories every sandbox has.
const LAYOUT: &[&str] = &[
    "home", "config", "state", "data", "cache", "runtime", "tmp", "bin", "work",
];

/// The programs tests run through the binary (`sh -c …`, command probes, harness CLIs):
/// `PATH` holds the directories these live in, and nothing else.
const TOOLS: &[&str] = &[
    "sh", "bash", "env", "cat", "cp", "grep", "mkdir", "sleep", "stat", "touch", "true", "node",
];

/// One test's machine.
pub struct Sandbox {
    root: tempfile::TempDir,
    env: BTreeMap<String, OsString>,
    /// Files the test planted that hold secrets on purpose (the user's own credentials).
    secrets: Mutex<Vec<PathBuf>>,
    /// The refusing proxy of [`Sandbox::refuse_off_box_traffic`].
    off_box: Option<FakeProvider>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("a temp dir");
        for dir in LAYOUT {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        let p = |rel: &str| OsString::from(root.path().join(rel));
        let mut path = p("bin");
        for dir in tool_dirs() {
            path.push(":");
            path.push(dir);
        }
        let env = BTreeMap::from([
            ("HOME".to_owned(), p("home")),
            ("XDG_CONFIG_HOME".to_owned(), p("config")),
            ("XDG_STATE_HOME".to_owned(), p("state")),
            ("XDG_DATA_HOME".to_owned(), p("data")),
            ("XDG_CACHE_HOME".to_owned(), p("cache")),
            ("XDG_RUNTIME_DIR".to_owned(), p("runtime")),
            ("TMPDIR".to_owned(), p("tmp")),
            ("PATH".to_owned(), path),
            ("NO_COLOR".to_owned(), "1".into()),
            ("TERM".to_owned(), "dumb".into()),
        ]);
        Sandbox {
            root,
            env,
            secrets: Mutex::new(Vec::new()),
            off_box: None,
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A path inside the sandbox.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The working directory of every command.
    pub fn work_dir(&self) -> PathBuf {
        self.path("work")
    }

    pub fn config_file(&self) -> PathBuf {
        self.dirs().config_file
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dirs().state_dir
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dirs().runtime_dir
    }

    /// The directories oauth-mux resolves in this sandbox.
    pub fn dirs(&self) -> Dirs {
        Dirs::resolve(&|name| self.env_var(name)).expect("sandbox dirs")
    }

    // ---- environment -------------------------------------------------------------------

    /// Set a variable for every program this sandbox runs from now on.
    pub fn set_env(&mut self, key: &str, value: impl Into<OsString>) {
        self.env.insert(key.to_owned(), value.into());
    }

    /// Unset a variable for every program this sandbox runs from now on.
    pub fn remove_env(&mut self, key: &str) {
        self.env.remove(key);
    }

    /// Put `dir` first on the `PATH` of every program this sandbox runs from now on.
    pub fn prepend_path(&mut self, dir: &Path) {
        let mut path = OsString::from(dir);
        path.push(":");
        path.push(&self.env["PATH"]);
        self.set_env("PATH", path);
    }

    pub fn env_var(&self, key: &str) -> Option<String> {
        self.env.get(key).map(|v| v.to_string_lossy().into_owned())
    }

    /// Every variable the sandbox sets.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
            .collect()
    }

    // ---- commands ----------------------------------------------------------------------

    /// `program` with the sandbox's environment only, in its working directory.
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        Cmd::new(program)
            .env_clear()
            .current_dir(self.work_dir())
            .envs(&self.env)
    }

    /// The built `oauth-mux`, like [`Sandbox::program`]; every run fails when its output
    /// holds a canary.
    pub fn oauth_mux(&self) -> Cmd {
        self.program(BIN).checking_canaries()
    }

    /// Run `oauth-mux ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.oauth_mux().args(args).run()
    }

    // ---- files -------------------------------------------------------------------------

    /// Write the config file (pretty JSON).
    pub fn write_config(&self, config: &Value) {
        self.write_config_text(&serde_json::to_string_pretty(config).unwrap());
    }

    /// The config file, parsed (to change a sandbox's config and write it back).
    pub fn config(&self) -> Value {
        let path = self.config_file();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Write the config file exactly as given.
    pub fn write_config_text(&self, text: &str) {
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Write a file (creating its directory); returns its path.
    pub fn plant(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// [`Sandbox::plant`] a file that holds secrets on purpose (a credential the user
    /// keeps): the canary search of [`Sandbox::assert_no_canary_on_disk`] skips it.
    pub fn plant_secret(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.plant(rel, contents);
        self.secrets.lock().unwrap().push(path.clone());
        path
    }

    /// Exempt `path` from [`Sandbox::assert_no_canary_on_disk`]: a file that holds secrets
    /// by the user's choice (a config with an inline secret).
    pub fn mark_secret(&self, path: &Path) {
        self.secrets.lock().unwrap().push(path.to_path_buf());
    }

    /// An executable `#!/bin/sh` script in `bin/`, which is first on `PATH`.
    pub fn plant_script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(&format!("bin/{name}"));
        files::write_script(&path, body);
        path
    }

    /// Every file under the sandbox with its content as text.
    pub fn files_as_text(&self) -> Vec<(PathBuf, String)> {
        files::texts_under(self.root())
    }

    /// Every file under the sandbox whose content contains `needle`.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        self.files_as_text()
            .into_iter()
            .filter(|(_, text)| text.contains(needle))
            .map(|(path, _)| path)
            .collect()
    }

    /// No file under the sandbox holds a canary, except those planted with
    /// [`Sandbox::plant_secret`].
    #[track_caller]
    pub fn assert_no_canary_on_disk(&self) {
        let planted = self.secrets.lock().unwrap().clone();
        for (path, text) in self.files_as_text() {
            if !planted.contains(&path) {
                canary::assert_absent(&path.display().to_string(), &text);
            }
        }
    }

    // ---- health and events -------------------------------------------------------------

    /// Record an observation for `key` through the library, as a probe would at `at`.
    pub fn record(&self, key: &str, class: Classification, at: Timestamp) {
        let key = RouteKey::parse(key).unwrap();
        oauth_mux::evidence::record(&self.dirs(), &key, &class, None, EvidenceSource::Manual, at)
            .unwrap();
    }

    /// Give `key`'s record (which must exist) a usage gauge: `used_pct` of a window that
    /// resets at `resets_at`, observed at `at`.
    pub fn record_usage(&self, key: &str, used_pct: f64, resets_at: Timestamp, at: Timestamp) {
        HealthFile::update(&self.dirs().health_file(), |routes| {
            let record = routes
                .get(key)
                .unwrap_or_else(|| panic!("record evidence for {key} before its usage"));
            let mut health = RouteHealth::from_json(record).unwrap();
            health.usage = Some(UsageGauge {
                used_pct,
                resets_at: Some(resets_at),
                observed_at: at,
                windows: Vec::new(),
            });
            routes.insert(key.to_owned(), health.to_json());
        })
        .unwrap();
    }

    /// The health store's records by route key (empty when there is no store yet).
    pub fn health(&self) -> BTreeMap<String, Value> {
        HealthFile::load(&self.dirs().health_file())
            .expect("a readable health store")
            .routes()
            .clone()
    }

    /// `key`'s record, parsed.
    pub fn route_health(&self, key: &str) -> Option<RouteHealth> {
        self.health()
            .get(key)
            .map(|v| RouteHealth::from_json(v).expect("a readable record"))
    }

    /// The event log, parsed (empty when there is none).
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dirs().events_file())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("event line is JSON"))
            .collect()
    }

    // ---- the network -------------------------------------------------------------------

    /// Point every proxy variable at a local proxy that refuses everything (loopback stays
    /// direct), so any attempt to leave the machine is refused and shows in
    /// [`Sandbox::off_box_attempts`].
    pub fn refuse_off_box_traffic(&mut self) {
        let proxy = FakeProvider::builder()
            .refuse_tunnels()
            .start()
            .expect("start the refusing proxy");
        let url = proxy.origin();
        for var in [
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "https_proxy",
            "http_proxy",
        ] {
            self.set_env(var, &url);
        }
        for var in ["NO_PROXY", "no_proxy"] {
            self.set_env(var, "127.0.0.1,localhost,::1");
        }
        self.off_box = Some(proxy);
    }

    /// The request lines of every attempt to leave the machine.
    pub fn off_box_attempts(&self) -> Vec<String> {
        self.off_box
            .as_ref()
            .expect("refuse_off_box_traffic() first")
            .requests()
            .iter()
            .map(|r| r.request_line())
            .collect()
    }
}

/// The directories of [`TOOLS`] on the test process's `PATH`, each once.
fn tool_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DIRS.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for tool in TOOLS {
            let found = std::env::split_paths(&path).find(|dir| dir.join(tool).is_file());
            match found {
                Some(dir) if !dirs.contains(&dir) => dirs.push(dir),
                Some(_) => {}
                None if *tool == "sh" => panic!("no `sh` on PATH: the sandbox needs a shell"),
                None => {}
            }
        }
        dirs
    })
}
