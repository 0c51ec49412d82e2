//! Stand-in `codex` and `claude` executables for the onboarding tests, planted first on a
//! sandbox's `PATH`. Each records every invocation (its argv, its config-dir variable and its
//! whole environment) in `work/fake-harness.log`, and behaves like the real CLI where
//! oauth-mux relies on it:
//!
//! | invocation | what it does |
//! |---|---|
//! | `--version` | `codex-cli 0.169.0` / `2.1.197 (Claude Code)` |
//! | `codex login --device-auth` | fails like Codex when `CODEX_HOME` does not exist; else writes `$CODEX_HOME/auth.json` as Codex 0.169 does (ChatGPT mode, JWTs, plan `pro`) |
//! | `claude auth login` | writes `$CLAUDE_CONFIG_DIR/.credentials.json` with `claudeAiOauth` (plan `max`) |
//! | `codex exec --json …` | the JSON lines of a completed turn (what a probe reads) |
//! | `claude auth status --json` | `{"loggedIn": true, …}` when the credentials file exists |
//! | anything else | exits 0 (a managed session's harness) |
//!
//! The credentials carry canary tokens of the account (named by the store's directory), so a
//! test can look for them in every output; the stores are marked as holding secrets.
//! While `work/hold-login` exists, a login waits (a test then checks the lock is held). A file
//! `work/quota-<account>` (or `work/quota-<account>-<model>`) makes `codex exec` answer with
//! Codex's usage-limit error.

use std::path::PathBuf;

use serde_json::json;

use super::canary;
use super::sandbox::Sandbox;
use oauth_mux::util::base64url;

/// The accounts whose logins the fakes know (a store named otherwise gets no credentials).
pub const ACCOUNTS: &[&str] = &["max-1", "max-2", "max-3", "max-4", "personal", "work"];

/// When the fakes' tokens expire: far ahead (so no harness refreshes them), and fixed, so a
/// token computed twice is the same token.
const EXPIRES_AT_S: i64 = 4_102_444_800;

/// An unsigned JWT carrying `claims` plus the fixed expiry, its signature part carrying the
/// canary marker and `tag`.
fn jwt(tag: &str, mut claims: serde_json::Value) -> String {
    claims["exp"] = json!(EXPIRES_AT_S);
    let b64 = |v: serde_json::Value| base64url::encode(v.to_string().as_bytes());
    let signature: String = format!("{}{tag}", canary::MARKER)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!(
        "{}.{}.{signature}",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

/// The ChatGPT access token `codex login` writes for `account`.
pub fn codex_token(account: &str) -> String {
    jwt(&format!("sig{account}"), json!({"sub": "fake"}))
}

/// The Claude access token `claude auth login` writes for `account`.
pub fn claude_token(account: &str) -> String {
    canary::claude_token(account)
}

/// An unsigned id token with the ChatGPT plan claim.
fn id_token(account: &str) -> String {
    jwt(
        &format!("idsig{account}"),
        json!({"email": format!("{account}@example.com"),
            "https://api.openai.com/auth": {"chatgpt_plan_type": "pro",
                "chatgpt_account_id": canary::account_id(account)}}),
    )
}

/// `auth.json` as `codex login` writes it.
pub fn codex_auth_json(account: &str) -> String {
    json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
        "tokens": {"id_token": id_token(account), "access_token": codex_token(account),
                   "refresh_token": canary::refresh_token(account),
                   "account_id": canary::account_id(account)},
        "last_refresh": "2026-12-07T00:35:14.935449848Z"})
    .to_string()
}

/// `.credentials.json` as `claude auth login` writes it.
pub fn claude_credentials_json(account: &str) -> String {
    json!({"claudeAiOauth": {"accessToken": claude_token(account),
        "refreshToken": canary::refresh_token(account),
        "expiresAt": EXPIRES_AT_S * 1000,
        "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
        "subscriptionType": "max", "rateLimitTier": "default_claude_max_20x"}})
    .to_string()
}

/// Plant the fake `codex` and `claude` in the sandbox's `bin/`.
pub fn plant(sb: &Sandbox) {
    let log = log_path(sb);
    let hold = sb.work_dir().join("hold-login");
    let record = format!(
        r#"{{ printf 'argv:'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\n'; env | while IFS= read -r line; do printf 'env: %s\n' "$line"; done; printf -- '--\n'; }} >> '{log}'
wait_while_held() {{ i=0; while [ -e '{hold}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; }}"#,
        log = log.display(),
        hold = hold.display()
    );
    let mut codex_cases = String::new();
    let mut claude_cases = String::new();
    for account in ACCOUNTS {
        codex_cases.push_str(&format!(
            "    {account}) printf '%s' '{}' > \"$CODEX_HOME/auth.json\" ;;\n",
            codex_auth_json(account)
        ));
        claude_cases.push_str(&format!(
            "    {account}) printf '%s' '{}' > \"$CLAUDE_CONFIG_DIR/.credentials.json\" ;;\n",
            claude_credentials_json(account)
        ));
    }
    let codex = sb.plant_script(
        "codex",
        &format!(
            r#"{record}
umask 077
case "$1" in
  --version) echo "codex-cli 0.169.0"; exit 0 ;;
  login)
    if [ "$2" = status ]; then
      [ -f "$CODEX_HOME/auth.json" ] && {{ echo "Logged in using ChatGPT"; exit 0; }}
      echo "Not logged in"; exit 1
    fi
    if [ ! -d "$CODEX_HOME" ]; then
      echo "Error: CODEX_HOME points to \"$CODEX_HOME\", but that path does not exist" >&2; exit 1
    fi
    echo "Follow these steps to sign in with ChatGPT using device code authorization"
    wait_while_held
    case "${{CODEX_HOME##*/}}" in
{codex_cases}    *) echo "unknown account" >&2; exit 1 ;;
    esac
    echo "Successfully logged in"; exit 0 ;;
  exec)
    model=""; prev=""
    for a in "$@"; do [ "$prev" = "-m" ] && model="$a"; prev="$a"; done
    acct="${{CODEX_HOME##*/}}"
    if [ -e '{work}/quota-'"$acct" ] || [ -e '{work}/quota-'"$acct-$model" ]; then
      echo '{{"type":"thread.started","thread_id":"t-1"}}'
      echo '{{"type":"error","message":"You have hit your usage limit (usage_limit_reached). Try again later."}}'
      echo '{{"type":"turn.failed","error":{{"message":"usage_limit_reached"}}}}'
      exit 1
    fi
    echo '{{"type":"thread.started","thread_id":"t-1"}}'
    echo '{{"type":"turn.started"}}'
    echo '{{"type":"item.completed","item":{{"id":"item_0","type":"agent_message","text":"OMUX_CODEX_PROBE"}}}}'
    echo '{{"type":"turn.completed","usage":{{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}}}'
    exit 0 ;;
esac
exit 0"#,
            work = sb.work_dir().display()
        ),
    );
    let claude = sb.plant_script(
        "claude",
        &format!(
            r#"{record}
umask 077
case "$1" in
  --version) echo "2.1.197 (Claude Code)"; exit 0 ;;
  auth)
    case "$2" in
      login)
        echo "Opening the browser to sign in to your Claude account"
        wait_while_held
        case "${{CLAUDE_CONFIG_DIR##*/}}" in
{claude_cases}        *) echo "unknown account" >&2; exit 1 ;;
        esac
        echo "Login successful."; exit 0 ;;
      status)
        if [ -f "$CLAUDE_CONFIG_DIR/.credentials.json" ]; then
          echo '{{"loggedIn": true, "authMethod": "claude.ai", "apiProvider": "firstParty"}}'; exit 0
        fi
        echo '{{"loggedIn": false, "authMethod": "none", "apiProvider": "firstParty"}}'; exit 1 ;;
    esac ;;
esac
exit 0"#
        ),
    );
    // The fakes hold the credentials they hand out, as a provider would.
    sb.mark_secret(&codex);
    sb.mark_secret(&claude);
}

/// The log both fakes append to.
pub fn log_path(sb: &Sandbox) -> PathBuf {
    sb.work_dir().join("fake-harness.log")
}

/// One recorded invocation: its argv and its environment.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Invocation {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every invocation recorded so far, oldest first.
pub fn invocations(sb: &Sandbox) -> Vec<Invocation> {
    let text = std::fs::read_to_string(log_path(sb)).unwrap_or_default();
    let mut out = Vec::new();
    let mut current: Option<Invocation> = None;
    for line in text.lines() {
        if let Some(argv) = line.strip_prefix("argv:") {
            current = Some(Invocation {
                argv: argv
                    .split(" [")
                    .skip(1)
                    .map(|a| a.trim_end_matches(']').to_owned())
                    .collect(),
                env: Vec::new(),
            });
        } else if let Some(var) = line.strip_prefix("env: ") {
            if let (Some(inv), Some((k, v))) = (current.as_mut(), var.split_once('=')) {
                inv.env.push((k.to_owned(), v.to_owned()));
            }
        } else if line == "--"
            && let Some(inv) = current.take()
        {
            out.push(inv);
        }
    }
    out
}

/// Mark every account store under the sandbox's data dir as holding secrets on purpose
/// (the fakes wrote credentials there, as the real CLIs would).
pub fn mark_stores_secret(sb: &Sandbox) {
    let data = sb.path("data/oauth-mux");
    for path in super::files::files_under(&data) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "auth.json" || name == ".credentials.json" {
            sb.mark_secret(&path);
        }
    }
}
