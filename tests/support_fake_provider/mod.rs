//! Test support for probe end-to-end tests: a loopback fake provider that serves
//! a recorded response and counts the requests it gets, a recorded-fixture
//! loader, and a sandbox (temp HOME and XDG dirs) that runs the real binary.
//!
//! Use it from a test crate with `mod support_fake_provider;`.
#![allow(dead_code)]

#[path = "../common/files.rs"]
mod files;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A recorded provider response (`tests/fixtures/providers/<provider>/<case>.json`).
#[derive(Debug, Clone)]
pub struct Fixture {
    pub provider: String,
    pub case: String,
    pub capability: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The `expect` object: at least `class`.
    pub expect: Value,
    /// `probe` (default) or `upstream` (a proxied model response, not a probe).
    pub via: String,
    /// Command probes: the exit code, or the signal (`SIGKILL`) that ended it.
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
}

impl Fixture {
    /// Load one fixture file. `headers` may be an object or a list of pairs; `body`
    /// may be a string or any JSON value (sent serialized).
    pub fn load(provider: &str, path: &Path) -> Fixture {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()));
        let field = |name: &str| {
            v.get(name)
                .unwrap_or_else(|| panic!("fixture {} lacks `{name}`", path.display()))
        };
        let headers = match v.get("headers") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().expect("header name").to_owned(),
                        pair[1].as_str().expect("header value").to_owned(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let body = match v.get("body") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        Fixture {
            provider: provider.to_owned(),
            case: path.file_stem().unwrap().to_string_lossy().into_owned(),
            capability: field("capability")
                .as_str()
                .expect("capability string")
                .to_owned(),
            status: field("status").as_u64().expect("status number") as u16,
            headers,
            body,
            expect: field("expect").clone(),
            via: v
                .get("via")
                .and_then(Value::as_str)
                .unwrap_or("probe")
                .to_owned(),
            exit_code: v.get("exit_code").and_then(Value::as_i64).map(|c| c as i32),
            signal: v.get("signal").and_then(Value::as_str).map(str::to_owned),
        }
    }

    /// Every `*.json` fixture in `dir` (sorted), or an empty list when `dir` is absent.
    pub fn load_dir(provider: &str, dir: &Path) -> Vec<Fixture> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| p.file_name().is_some_and(|n| n != "definition.json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Fixture::load(provider, p)).collect()
    }

    /// A `sh -c` script that replays this fixture as a command probe: prints the
    /// body, then exits with `exit_code` or kills itself with `signal`.
    pub fn replay_script(&self) -> String {
        let quoted = self.body.replace('\'', "'\\''");
        let end = match (&self.signal, self.exit_code) {
            (Some(sig), _) => format!("kill -s {} $$", sig.trim_start_matches("SIG")),
            (None, Some(code)) => format!("exit {code}"),
            (None, None) => format!("exit {}", if self.status == 200 { 0 } else { 1 }),
        };
        format!("printf '%s' '{quoted}'; {end}")
    }

    pub fn response(&self) -> CannedResponse {
        CannedResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
            echo_header: None,
        }
    }
}

/// What the fake answers to every request.
#[derive(Debug, Clone)]
pub struct CannedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Append this request header's value to the body (a provider that echoes a
    /// token back, to prove redaction).
    pub echo_header: Option<String>,
}

impl CannedResponse {
    pub fn json(status: u16, body: &str) -> Self {
        CannedResponse {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            echo_header: None,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A loopback HTTP/1.1 server standing in for a provider.
pub struct FakeProvider {
    addr: std::net::SocketAddr,
    count: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl FakeProvider {
    /// Serve `response` to every request, on 127.0.0.1 and a free port.
    pub fn serve(response: CannedResponse) -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (count.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (c, s, r) = (c.clone(), s.clone(), response.clone());
                std::thread::spawn(move || handle(stream, &r, &c, &s));
            }
        });
        FakeProvider { addr, count, seen }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests arrived so far.
    pub fn calls(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(
    stream: TcpStream,
    r: &CannedResponse,
    count: &AtomicUsize,
    seen: &Mutex<Vec<SeenRequest>>,
) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    // Acting as a proxy: a CONNECT is answered, then the tunnelled request is served.
    while let Some(request) = read_request(&mut reader) {
        let connect = request.method == "CONNECT";
        let mut out_body = r.body.clone();
        if let Some(h) = &r.echo_header {
            out_body.push_str(
                request
                    .headers
                    .get(&h.to_ascii_lowercase())
                    .map_or("", String::as_str),
            );
        }
        seen.lock().unwrap().push(request);
        if connect {
            let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            continue;
        }
        count.fetch_add(1, Ordering::SeqCst);
        let mut out = format!("HTTP/1.1 {} Fake\r\n", r.status);
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
            {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{out_body}",
            out_body.len()
        ));
        let _ = stream.write_all(out.as_bytes());
        let _ = stream.flush();
        break;
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<SeenRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok();
    Some(SeenRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A temp HOME with XDG and oauth-mux dirs, and a command builder for the real binary.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
        for d in ["home", "config", "state", "runtime"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let env = vec![
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_STATE_HOME".into(), p("state")),
            ("XDG_RUNTIME_DIR".into(), p("runtime")),
            ("OMUX_CONFIG".into(), p("config/oauth-mux/config.json")),
            ("OMUX_STATE_DIR".into(), p("state/oauth-mux")),
            ("OMUX_RUNTIME_DIR".into(), p("runtime/oauth-mux")),
        ];
        Sandbox { dir, env }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write the config file.
    pub fn write_config(&self, config: &Value) {
        let path = self.path("config/oauth-mux/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    }

    /// Run `oauth-mux ARGS` with the sandbox env plus `extra`; proxies are cleared.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oauth-mux"));
        cmd.args(args);
        for v in [
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "OMUX_CONFIG_DIR",
        ] {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().expect("run oauth-mux")
    }

    /// Run and parse stdout as JSON (panics with stderr when it is not JSON).
    pub fn run_json(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, Value, Output) {
        let out = self.run(args, extra);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of {args:?} is not JSON ({e}); stdout={} stderr={}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), v, out)
    }

    /// The health store's routes (empty when there is none yet).
    pub fn health(&self) -> serde_json::Map<String, Value> {
        let path = self.path("state/oauth-mux/health.json");
        let Ok(text) = std::fs::read_to_string(path) else {
            return Default::default();
        };
        let v: Value = serde_json::from_str(&text).expect("health file is JSON");
        v.get("routes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The raw text of every file under the state dir (health, events, locks), for canary
    /// searches.
    pub fn state_text(&self) -> String {
        files::texts_under(&[self.path("state")])
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }

    /// The event log, parsed.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("state/oauth-mux/repair-events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("event line is JSON"))
            .collect()
    }
}
