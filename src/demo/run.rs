//! `oauth-mux demo`: the main job, end to end, on a built-in default. A loopback fake
//! provider with two accounts, a managed session whose first request meets a spent quota on
//! account `work` and is answered by account `personal` before the client ever sees the
//! error, then the resulting `route explain` table. No accounts, no network, nothing left
//! behind (everything lives in a private temporary directory removed at exit).

use std::io::{Read, Write};

/// A demo line on stdout (through the one output path: redacted, quiet on a closed pipe).
macro_rules! say {
    ($($arg:tt)*) => {
        crate::output::print_text(&format!($($arg)*))
    };
}
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::fake_provider::{Behaviour, FakeProvider};
use crate::config::builtin;
use crate::model::RouteKey;
use crate::proxy::durable_pool::{DurablePool, PoolAccount};
use crate::proxy::frames::Frame;
use crate::proxy::pool::Credential;
use crate::proxy::{self, Harness, ProxyConfig};
use crate::store::paths::Dirs;

const PROFILE: &str = "demo";
const PROVIDER: &str = "demo";
const CAPABILITY: &str = "codex-max";
const ANSWER: &str = "Hello from account personal: the quota on work never reached you.";

/// A private temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("oauth-mux-demo-{}", proxy::new_secret()?));
        crate::util::private_fs::create_private_dir(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo's provider definition: Codex's wire protocol and classifier rules, pointed at
/// the fake provider, with no local runtime requirements (no `codex` binary needed).
fn demo_definition(origin: &str) -> Result<Value> {
    let codex = builtin::definition("codex").context("the built-in codex definition is missing")?;
    let mut def = serde_json::to_value(&codex)?;
    def["name"] = json!(PROVIDER);
    def["display_name"] = json!("Demo provider (a local fake speaking the Codex protocol)");
    def["runtime"] = json!({});
    def["detection"] = json!({});
    if let Some(up) = def.get_mut("upstream").filter(|u| u.is_object()) {
        up["base_url"] = json!(origin);
        up["base_url_env"] = Value::Null;
        up["api_key_base_url"] = Value::Null;
    }
    Ok(def)
}

fn demo_config(definition: Value, origin: &str) -> Value {
    json!({
        "version": 1,
        "defaults": {"profile": PROFILE},
        "provider_definitions": {PROVIDER: definition},
        "providers": {PROVIDER: {
            "kind": PROVIDER,
            "upstream": origin,
            "accounts": {
                "work": {"priority": 10, "secret": {"backend": "env", "variable": "OMUX_DEMO_WORK_TOKEN"}},
                "personal": {"priority": 5, "secret": {"backend": "env", "variable": "OMUX_DEMO_PERSONAL_TOKEN"}},
            },
        }},
        "profiles": {PROFILE: {"providers": [
            format!("{PROVIDER}:work#{CAPABILITY}"),
            format!("{PROVIDER}:personal#{CAPABILITY}"),
        ]}},
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::util::private_fs::private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("writing {}", path.display()))
}

fn narrate(frame: &Frame) {
    match frame {
        Frame::ProxyTurn {
            account,
            status,
            classification,
            delivered_to_harness,
            ..
        } => {
            let fate = if *delivered_to_harness {
                "delivered to the client"
            } else {
                "held back: the client never sees it"
            };
            say!("    {account:<9} {status} {classification:<16} {fate}");
        }
        Frame::Handoff { from, to, reason } => {
            let from = from.as_deref().unwrap_or("-");
            say!("    handoff   {from} -> {to} ({reason}); same request replayed");
        }
        Frame::PoolExhausted { repair_command, .. } => {
            say!("    every account is spent; repair: {repair_command}");
        }
        _ => {}
    }
}

/// Send one Codex-shaped turn through the proxy and collect the streamed text.
fn client_turn(base_url: &str, prompt: &str) -> Result<(u16, String, usize)> {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let body = json!({"model": "gpt-6.1-sol", "stream": true, "store": false,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}]});
    let request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base_url}/backend-api/codex/responses"))
        .header("authorization", "Bearer placeholder-the-proxy-swaps-it")
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("originator", "oauth_mux_demo")
        .body(serde_json::to_vec(&body)?)?;
    let response = agent.run(request).context("talking to the session proxy")?;
    let status = response.status().as_u16();
    let mut raw = String::new();
    response
        .into_body()
        .into_reader()
        .read_to_string(&mut raw)?;
    let mut text = String::new();
    let mut events = 0;
    for line in raw.lines() {
        if let Some(data) = line.strip_prefix("data: ") {
            events += 1;
            if let Ok(v) = serde_json::from_str::<Value>(data)
                && v["type"] == "response.output_text.delta"
            {
                text.push_str(v["delta"].as_str().unwrap_or(""));
            }
        }
    }
    if events == 0 {
        text = raw;
    }
    Ok((status, text, events))
}

/// Run the demo, printing its narrative and the resulting `route explain` table.
pub fn run() -> Result<()> {
    let scratch = ScratchDir::new()?;
    let fake = FakeProvider::start(vec![
        (
            "demo-token-work".into(),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 2 * 3600,
            },
        ),
        (
            "demo-token-personal".into(),
            Behaviour::Succeed {
                text: ANSWER.into(),
            },
        ),
    ])
    .context("starting the fake provider on 127.0.0.1")?;
    let origin = fake.origin();
    let definition_json = demo_definition(&origin)?;
    let definition = serde_json::from_value(definition_json.clone())?;
    let config_file = scratch.0.join("config.json");
    let state_dir = scratch.0.join("state");
    let runtime_dir = scratch.0.join("run");
    write_private(
        &config_file,
        &serde_json::to_vec_pretty(&demo_config(definition_json, &origin))?,
    )?;
    let env = |k: &str| -> Option<String> {
        match k {
            "OMUX_CONFIG" => Some(config_file.display().to_string()),
            "OMUX_STATE_DIR" => Some(state_dir.display().to_string()),
            "OMUX_RUNTIME_DIR" => Some(runtime_dir.display().to_string()),
            "HOME" => Some(scratch.0.display().to_string()),
            _ => None,
        }
    };
    let dirs = Dirs::resolve(&env)?;
    let account = |label: &str, priority: i32| PoolAccount {
        label: label.into(),
        route_key: RouteKey::new(PROVIDER, label, Some(CAPABILITY)),
        credential: Credential::CodexChatgpt {
            access_token: format!("demo-token-{label}"),
            account_id: format!("demo-account-{label}"),
        },
        upstream: None,
        priority,
    };
    let pool = DurablePool::new(
        PROFILE,
        definition,
        vec![account("work", 10), account("personal", 5)],
        dirs,
        95.0,
    )?;

    say!(
        "oauth-mux demo: a managed session against a local fake provider (no accounts, no network)\n"
    );
    say!("  fake provider  {origin}  (speaks the Codex wire protocol)");
    say!(
        "  profile {PROFILE}   {PROVIDER}:work#{CAPABILITY}      answers 429 usage_limit_reached (quota spent)"
    );
    say!("                 {PROVIDER}:personal#{CAPABILITY}  healthy");
    let handle = proxy::start(
        ProxyConfig::new(Harness::Codex, origin.clone()),
        Arc::new(pool),
        Arc::new(|f| narrate(&f)),
    )?;
    say!(
        "  session proxy  http://{}/<session secret>\n",
        handle.addr()
    );

    say!("  request 1: the client (standing in for `codex exec \"say hi\"`) sends one turn");
    let (status, text, events) = client_turn(&handle.base_url(), "say hi")?;
    say!("  client got     {status} with {events} SSE events: \"{text}\"\n");
    say!("  request 2: the session stays on the account that works (sticky)");
    let (status2, _, _) = client_turn(&handle.base_url(), "and again")?;
    say!("  client got     {status2}\n");
    handle.shutdown(); // makes every recorded fact durable
    let spent_calls = fake.calls("demo-token-work");
    let healthy_calls = fake.calls("demo-token-personal");
    say!("  the fake provider saw {spent_calls} request on work and {healthy_calls} on personal;");
    say!("  the health store now says why, and what happens next:\n");

    let exe = std::env::current_exe().context("locating the oauth-mux binary")?;
    say!("$ oauth-mux route explain --profile {PROFILE}");
    std::io::stdout().flush()?;
    let explain = Command::new(exe)
        .args(["route", "explain", "--profile", PROFILE])
        .env("OMUX_CONFIG", &config_file)
        .env("OMUX_STATE_DIR", &state_dir)
        .env("OMUX_RUNTIME_DIR", &runtime_dir)
        .env_remove("OMUX_CONFIG_DIR")
        .output()
        .context("running `oauth-mux route explain`")?;
    std::io::stdout().write_all(&explain.stdout)?;
    std::io::stderr().write_all(&explain.stderr)?;
    say!(
        "\nNext: `oauth-mux init` to describe your own accounts, then `oauth-mux codex` or `oauth-mux claude`."
    );
    anyhow::ensure!(
        status == 200 && text == ANSWER && status2 == 200 && spent_calls == 1 && healthy_calls == 2,
        "the demo did not go as expected (status {status}, {spent_calls} + {healthy_calls} upstream calls)"
    );
    Ok(())
}
