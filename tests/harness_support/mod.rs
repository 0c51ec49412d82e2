//! Shared pieces of the real-CLI proof tests: locating the pinned harness CLIs (installed by
//! `.ci/deps/20-harness.sh`), a refusing HTTPS proxy that records every off-box attempt,
//! a temp user with its own HOME and harness files, canary secrets, and output scanning.
#![allow(dead_code)]

#[path = "../common/files.rs"]
mod files;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Canary secrets planted as real credentials; none may appear in any output.
pub const CANARY_TOKEN_1: &str = "omux-canary-token-acct1-Zk3q";
pub const CANARY_TOKEN_2: &str = "omux-canary-token-acct2-Wp7x";
pub const CANARY_ACCOUNT_ID: &str = "omux-canary-raw-account-id-9Jd2";
pub const CANARY_USER_TOKEN: &str = "omux-canary-user-own-token-Qe5m";

/// Absolute path of a pinned harness CLI, or a panic that names the fix.
pub fn harness_bin(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = root.join(".ci/.tools/npm/bin").join(name);
    if local.exists() {
        return local;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the real `{name}` CLI is missing: run `bash .ci/deps/20-harness.sh` (installs the pinned \
         @openai/codex and @anthropic-ai/claude-code into .ci/.tools/npm) — this test never skips"
    );
}

/// A local "HTTPS proxy" that refuses everything and records the first line of each attempt
/// (e.g. `CONNECT api.anthropic.com:443 HTTP/1.1`). Point HTTPS_PROXY/HTTP_PROXY at it.
pub struct RefusingProxy {
    pub url: String,
    attempts: Arc<Mutex<Vec<String>>>,
}

impl RefusingProxy {
    pub fn start() -> RefusingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let mut buf = [0u8; 2048];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    let line = String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    seen.lock().unwrap().push(line);
                    let _ = stream.write_all(
                        b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        RefusingProxy { url, attempts }
    }

    /// Every off-box attempt seen so far.
    pub fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }
}

/// A throw-away user: HOME, XDG dirs, state and runtime dirs, all under one temp dir.
pub struct TempUser {
    pub dir: tempfile::TempDir,
}

impl TempUser {
    pub fn new() -> TempUser {
        let dir = tempfile::tempdir().unwrap();
        for sub in [
            "home",
            "xdg/config",
            "xdg/state",
            "xdg/cache",
            "xdg/data",
            "runtime",
            "work",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        TempUser { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("xdg/state/oauth-mux")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.path("runtime")
    }

    /// The variables every child of a test gets: temp HOME/XDG, refusing proxies.
    pub fn env(&self, proxy: &RefusingProxy) -> Vec<(String, String)> {
        let p = |rel: &str| self.path(rel).to_string_lossy().into_owned();
        vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("xdg/config")),
            ("XDG_STATE_HOME".into(), p("xdg/state")),
            ("XDG_CACHE_HOME".into(), p("xdg/cache")),
            ("XDG_DATA_HOME".into(), p("xdg/data")),
            ("XDG_RUNTIME_DIR".into(), p("runtime")),
            ("HTTPS_PROXY".into(), proxy.url.clone()),
            ("HTTP_PROXY".into(), proxy.url.clone()),
            ("ALL_PROXY".into(), proxy.url.clone()),
            ("https_proxy".into(), proxy.url.clone()),
            ("http_proxy".into(), proxy.url.clone()),
            ("NO_PROXY".into(), "127.0.0.1,localhost,::1".into()),
            ("no_proxy".into(), "127.0.0.1,localhost,::1".into()),
            ("TERM".into(), "dumb".into()),
            ("NO_COLOR".into(), "1".into()),
        ]
    }

    /// The user's own Codex files: a config.toml and a ChatGPT auth.json carrying a canary.
    pub fn plant_codex_files(&self) {
        let home = self.path("home/.codex");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            "# the user's own settings\nmodel_reasoning_effort = \"low\"\n\n[analytics]\nenabled = true\n",
        )
        .unwrap();
        std::fs::write(
            home.join("auth.json"),
            format!(
                "{{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":null,\"tokens\":{{\"id_token\":\"{CANARY_USER_TOKEN}\",\"access_token\":\"{CANARY_USER_TOKEN}\",\"refresh_token\":\"rt_{CANARY_USER_TOKEN}\",\"account_id\":\"user-own-account\"}}}}\n"
            ),
        )
        .unwrap();
    }

    /// The user's own Claude files: settings.json and a .credentials.json carrying a canary.
    pub fn plant_claude_files(&self) {
        let dir = self.path("home/.claude");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("settings.json"), "{\"theme\":\"dark\"}\n").unwrap();
        std::fs::write(
            dir.join(".credentials.json"),
            format!(
                "{{\"claudeAiOauth\":{{\"accessToken\":\"{CANARY_USER_TOKEN}\",\"refreshToken\":\"rt-{CANARY_USER_TOKEN}\",\"expiresAt\":4102444800000,\"scopes\":[\"user:inference\"],\"subscriptionType\":\"max\"}}}}\n"
            ),
        )
        .unwrap();
    }

    /// Byte snapshot of the given files (relative to the temp root).
    pub fn snapshot(&self, files: &[&str]) -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|f| (f.to_string(), std::fs::read(self.path(f)).unwrap()))
            .collect()
    }

    /// Every file under the temp root whose content contains `needle` (symlinks not followed).
    pub fn files_containing(&self, needle: &str, skip: &[&str]) -> Vec<PathBuf> {
        let root = self.dir.path();
        files::files_under(root)
            .into_iter()
            .filter(|path| {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                !skip.iter().any(|s| rel.starts_with(s))
            })
            .filter(|path| {
                std::fs::read(path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            })
            .collect()
    }
}

/// A wrapper script that runs `real` with `env` set and its stdio in files under `dir`
/// (the launcher gives the child inherited stdio; tests read it back from the files).
pub fn wrapper_script(dir: &Path, real: &Path, env: &[(String, String)]) -> PathBuf {
    let script = dir.join(format!(
        "{}-wrapper.sh",
        real.file_name().unwrap().to_string_lossy()
    ));
    let mut text = String::from("#!/bin/sh\n");
    for (k, v) in env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!(
        "exec '{}' \"$@\" </dev/null >'{}/child.out' 2>'{}/child.err'\n",
        real.display(),
        dir.display(),
        dir.display()
    ));
    std::fs::write(&script, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

/// An unsigned JWT with `exp` 30 days out whose signature part is `sig` (unique, searchable).
pub fn canary_jwt(sig: &str) -> String {
    fn b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30 * 86_400;
    format!(
        "{}.{}.{sig}",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(format!(r#"{{"exp":{exp},"sub":"canary"}}"#).as_bytes())
    )
}
