//! The oauth-mux-owned `CODEX_HOME` overlay for one managed Codex session.
//!
//! The child Codex runs with `CODEX_HOME=<overlay>`, a 0700 directory oauth-mux creates and
//! removes at exit. It holds:
//! - `config.toml`: the user's own config.toml, parsed and re-emitted with the routing keys
//!   oauth-mux owns (`model_provider`, `openai_base_url`, `chatgpt_base_url`, at the root and
//!   per profile) pointing Codex's built-in `openai` provider at the session proxy;
//! - `auth.json`: placeholder credentials only (the proxy swaps the elected account's real
//!   token into every request, so no real token ever sits in the child's files);
//! - a symlink to every other entry of the user's real Codex home (sessions, history,
//!   session index, skills, memories, …), so the user's history keeps growing in place.
//!
//! Not linked: Codex's thread index (`state_*.sqlite*`, `thread_history_*.sqlite*`). It
//! stores absolute rollout paths, and a path under a removed overlay breaks `resume`
//! ("no rollout found for thread id"), observed with codex-cli 0.169.0. Each session gets
//! a fresh index that Codex backfills from `sessions/` (which is linked), so `resume --last`
//! finds sessions recorded through oauth-mux.
//!
//! The user's own `config.toml` and `auth.json` are only read, never written.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml_edit::{DocumentMut, Item, value};

use super::private_fs;
use crate::util::base64url;

/// Codex's built-in provider, which the child keeps (threads are tied to a provider id).
pub const BUILTIN_PROVIDER_ID: &str = "openai";
/// Files of the user's Codex home that the overlay replaces instead of linking.
const OWNED_NAMES: [&str; 2] = ["config.toml", "auth.json"];
/// Marker file that identifies an overlay (so a nested launch never treats one as a user home).
pub const OVERLAY_MARKER: &str = private_fs::OWNED_MARKER;
/// Entries Codex keeps its session authority in; created in the user's home when absent so
/// that what a managed session records outlives the overlay.
const SESSION_DIRS: [&str; 1] = ["sessions"];
const SESSION_FILES: [&str; 2] = ["history.jsonl", "session_index.jsonl"];

/// Codex's thread index files, which hold absolute paths and so are never linked.
fn is_thread_index(name: &str) -> bool {
    (name.starts_with("state_") || name.starts_with("thread_history_")) && name.contains(".sqlite")
}

/// How the elected account authenticates, which decides the provider URL and placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodexAuthKind {
    /// ChatGPT subscription: `…/backend-api/codex` plus `chatgpt_base_url`.
    Chatgpt,
    /// OpenAI API key: `…/v1`.
    ApiKey,
}

impl CodexAuthKind {
    /// Label used in status frames.
    pub fn label(self) -> &'static str {
        match self {
            CodexAuthKind::Chatgpt => "chatgpt",
            CodexAuthKind::ApiKey => "api_key",
        }
    }
}

/// Where the child reaches the session proxy.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints<'a> {
    /// `http://127.0.0.1:PORT/<secret>` (no trailing `/`): model traffic.
    pub http_base: &'a str,
    /// The proxy's TLS side, when it has one: `https://127.0.0.1:PORT/<secret>` and the PEM
    /// of the per-session CA that signs it. Codex's TUI requires an https
    /// `chatgpt_base_url` with ChatGPT auth.
    pub tls: Option<(&'a str, &'a str)>,
}

/// File name of the CA bundle the overlay holds when the proxy has a TLS side.
pub const CA_BUNDLE_NAME: &str = "oauth-mux-ca.pem";

/// The keys oauth-mux owns in the child's config: they decide where model and workspace
/// traffic goes, at the root and in every profile.
const ROUTING_KEYS: [&str; 3] = ["model_provider", "openai_base_url", "chatgpt_base_url"];

/// Render the child's config.toml from the user's (None = the user has none).
///
/// The child keeps Codex's built-in `openai` provider (so every thread it records carries
/// the same provider id as the user's own threads, and `resume` works across managed and
/// plain sessions in both directions); only its base URLs move to the session proxy.
/// With ChatGPT auth, Codex requires an https `chatgpt_base_url`, so that one goes to the
/// proxy's TLS side.
pub fn render_config(
    user_config: Option<&str>,
    endpoints: &Endpoints<'_>,
    auth: CodexAuthKind,
) -> anyhow::Result<String> {
    let proxy_base = endpoints.http_base;
    let mut doc: DocumentMut = match user_config {
        Some(text) => text.parse().context(
            "the user's Codex config.toml is not valid TOML; fix it (codex would refuse it too)",
        )?,
        None => DocumentMut::new(),
    };
    let root = doc.as_table_mut();
    for key in ROUTING_KEYS {
        root.remove(key);
    }
    if let Some(profiles) = root.get_mut("profiles").and_then(Item::as_table_like_mut) {
        for (_, profile) in profiles.iter_mut() {
            if let Some(profile) = profile.as_table_like_mut() {
                for key in ROUTING_KEYS {
                    profile.remove(key);
                }
            }
        }
    }
    root.insert("model_provider", value(BUILTIN_PROVIDER_ID));
    let model_base = match auth {
        CodexAuthKind::Chatgpt => format!("{proxy_base}/backend-api/codex"),
        CodexAuthKind::ApiKey => format!("{proxy_base}/v1"),
    };
    root.insert("openai_base_url", value(model_base));
    if auth == CodexAuthKind::Chatgpt {
        let (tls_base, _) = endpoints.tls.context(
            "Codex with a ChatGPT account needs the session proxy's TLS side (an https \
             chatgpt_base_url); this is a bug in oauth-mux, please report it",
        )?;
        root.insert(
            "chatgpt_base_url",
            value(format!("{tls_base}/backend-api/")),
        );
    }
    let header = "# Written by oauth-mux for one managed session and removed when it ends.\n\
                  # Your own config.toml is unchanged; this copy only re-points the built-in \
                  openai provider at the session proxy.\n";
    Ok(format!("{header}{doc}"))
}

/// How far ahead the placeholder's `exp` lies: Codex refreshes a token within 5 minutes of
/// its `exp`, and would send the placeholder refresh token straight to the real token
/// endpoint, around the proxy (reference: token-refresh.md). Ten years: never, in practice;
/// oauth-mux refreshes the real accounts itself.
pub const PLACEHOLDER_LIFETIME_S: i64 = 10 * 365 * 86_400;

/// The placeholder auth.json the child reads. Nothing in it is a real credential: the proxy
/// replaces `Authorization` and `chatgpt-account-id` on every request. The access token's
/// `exp` is [`PLACEHOLDER_LIFETIME_S`] after `now_s` and `last_refresh` is `now_s`, so Codex
/// never tries to refresh it.
pub fn placeholder_auth(auth: CodexAuthKind, now_s: i64) -> String {
    let json = match auth {
        CodexAuthKind::ApiKey => serde_json::json!({
            "auth_mode": "apikey",
            "OPENAI_API_KEY": "omux-placeholder-api-key",
        }),
        CodexAuthKind::Chatgpt => {
            let claims = serde_json::json!({
                "iss": "oauth-mux-placeholder",
                "email": "placeholder@oauth-mux.invalid",
                "iat": now_s,
                "exp": now_s + PLACEHOLDER_LIFETIME_S,
                "https://api.openai.com/auth": {
                    "chatgpt_plan_type": "pro",
                    "chatgpt_account_id": crate::proxy::session::PLACEHOLDER_ACCOUNT_ID,
                    "chatgpt_user_id": "omux-placeholder-user",
                },
            });
            let jwt = unsigned_jwt(&claims);
            serde_json::json!({
                "auth_mode": "chatgpt",
                "OPENAI_API_KEY": null,
                "tokens": {
                    "id_token": jwt,
                    "access_token": jwt,
                    "refresh_token": "omux-placeholder-refresh-token",
                    "account_id": crate::proxy::session::PLACEHOLDER_ACCOUNT_ID,
                },
                "last_refresh": jiff::Timestamp::from_second(now_s)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })
        }
    };
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

pub(crate) fn unsigned_jwt(claims: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.placeholder",
        base64url::encode(header.to_string().as_bytes()),
        base64url::encode(claims.to_string().as_bytes())
    )
}

/// The user's real Codex home: `$CODEX_HOME` unless it is an oauth-mux overlay, else
/// `~/.codex`. `None` when neither can be determined.
pub fn user_codex_home(codex_home_env: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    match codex_home_env {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.join(OVERLAY_MARKER).exists() => {
            Some(dir.to_path_buf())
        }
        _ => home.map(|h| h.join(".codex")),
    }
}

/// A live overlay directory; removed when dropped.
#[derive(Debug)]
pub struct CodexOverlay {
    dir: private_fs::OwnedDir,
}

impl CodexOverlay {
    /// Build the overlay under `parent` (created 0700) for a session whose proxy listens at
    /// `proxy_base`, linking the entries of `user_home` (created when absent).
    pub fn create(
        parent: &Path,
        user_home: &Path,
        endpoints: &Endpoints<'_>,
        auth: CodexAuthKind,
    ) -> anyhow::Result<CodexOverlay> {
        let overlay = CodexOverlay {
            dir: private_fs::OwnedDir::create(parent, "codex-home")?,
        };
        overlay.populate(user_home, endpoints, auth)?;
        Ok(overlay)
    }

    fn populate(
        &self,
        user_home: &Path,
        endpoints: &Endpoints<'_>,
        auth: CodexAuthKind,
    ) -> anyhow::Result<()> {
        let dir = self.dir.path();
        if !user_home.exists() {
            private_fs::ensure_private_dir(user_home).context(
                "could not create your Codex home (CODEX_HOME or ~/.codex) for session history",
            )?;
        }
        for name in SESSION_DIRS {
            let real = user_home.join(name);
            if !real.exists() {
                fs::create_dir_all(&real)
                    .with_context(|| format!("could not create {name}/ in your Codex home"))?;
            }
        }
        let user_config = match fs::read_to_string(user_home.join("config.toml")) {
            Ok(text) => Some(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                return Err(err).context("could not read your Codex config.toml");
            }
        };
        let config = render_config(user_config.as_deref(), endpoints, auth)?;
        if let Some((_, ca_pem)) = endpoints.tls {
            private_fs::write_private_new(&dir.join(CA_BUNDLE_NAME), ca_pem.as_bytes())?;
        }
        private_fs::write_private_new(&dir.join("config.toml"), config.as_bytes())?;
        let now = jiff::Timestamp::now().as_second();
        private_fs::write_private_new(
            &dir.join("auth.json"),
            placeholder_auth(auth, now).as_bytes(),
        )?;
        let mut linked: Vec<String> = Vec::new();
        let entries = fs::read_dir(user_home).context("could not list your Codex home")?;
        for entry in entries {
            let entry = entry.context("could not list your Codex home")?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if OWNED_NAMES.contains(&name.as_str())
                || name == OVERLAY_MARKER
                || is_thread_index(&name)
            {
                continue;
            }
            private_fs::symlink(&entry.path(), &dir.join(&name))?;
            linked.push(name);
        }
        for name in SESSION_FILES {
            if !linked.iter().any(|l| l == name) {
                // Dangling until Codex first appends; the append then creates the user's file.
                private_fs::symlink(&user_home.join(name), &dir.join(name))?;
            }
        }
        Ok(())
    }

    /// The CA bundle the child must trust (`CODEX_CA_CERTIFICATE`), when the proxy has a
    /// TLS side.
    pub fn ca_bundle(&self) -> Option<PathBuf> {
        let path = self.dir.path().join(CA_BUNDLE_NAME);
        path.exists().then_some(path)
    }

    /// The overlay directory (the child's `CODEX_HOME`). Never printed.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The session-owned directory behind the overlay.
    pub fn owned_dir(&self) -> &private_fs::OwnedDir {
        &self.dir
    }

    /// Remove the overlay now (also done on drop).
    pub fn remove(self) -> anyhow::Result<()> {
        self.dir.remove()
    }
}

/// Refuse forwarded Codex arguments that would re-point the model provider away from the
/// proxy (`-c model_provider=…`, `--config openai_base_url=…`, `-c profiles.P.chatgpt_base_url=…`,
/// `-c model_providers.openai.…`)
/// or log in/out inside the throw-away overlay (`login`, `logout`).
pub fn check_forwarded_args(args: &[String]) -> anyhow::Result<()> {
    if let Some(first) = args.first().filter(|a| *a == "login" || *a == "logout") {
        bail!(
            "`codex {first}` inside a managed session would act on a throw-away overlay; \
             run `codex {first}` directly (each account keeps its own CODEX_HOME)"
        );
    }
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let override_value = if arg == "-c" || arg == "--config" {
            iter.peek().map(|s| s.as_str())
        } else if let Some(v) = arg.strip_prefix("--config=") {
            Some(v)
        } else {
            arg.strip_prefix("-c").filter(|v| v.contains('='))
        };
        let Some(kv) = override_value else { continue };
        let key = kv.split('=').next().unwrap_or("").trim();
        let owned = ROUTING_KEYS
            .iter()
            .any(|owned| key == *owned || key.ends_with(&format!(".{owned}")))
            || key
                .strip_prefix("model_providers.")
                .and_then(|rest| rest.strip_prefix(BUILTIN_PROVIDER_ID))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
        if owned {
            bail!(
                "the Codex override `-c {key}=…` would route model traffic around oauth-mux; \
                 drop it, or run codex directly without oauth-mux"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:4000/s3cr3t";
    const ENDPOINTS: Endpoints<'static> = Endpoints {
        http_base: BASE,
        tls: Some(("https://127.0.0.1:4001/s3cr3t", "PEM")),
    };

    #[test]
    fn chatgpt_sessions_keep_the_builtin_provider_pointed_at_the_proxy() {
        let text = render_config(None, &ENDPOINTS, CodexAuthKind::Chatgpt).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["model_provider"].as_str(), Some("openai"));
        assert_eq!(
            doc["openai_base_url"].as_str(),
            Some("http://127.0.0.1:4000/s3cr3t/backend-api/codex")
        );
        assert_eq!(
            doc["chatgpt_base_url"].as_str(),
            Some("https://127.0.0.1:4001/s3cr3t/backend-api/"),
            "Codex refuses an http workspace origin with ChatGPT auth"
        );
        assert!(doc.get("model_providers").is_none(), "no custom provider");
        assert!(doc.get("analytics").is_none(), "never added silently");
    }

    #[test]
    fn chatgpt_sessions_without_a_tls_side_are_refused() {
        let plain = Endpoints {
            http_base: BASE,
            tls: None,
        };
        let err = render_config(None, &plain, CodexAuthKind::Chatgpt).unwrap_err();
        assert!(format!("{err:#}").contains("TLS side"), "{err:#}");
    }

    #[test]
    fn api_key_accounts_use_v1_and_no_chatgpt_base() {
        let text = render_config(None, &ENDPOINTS, CodexAuthKind::ApiKey).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["model_provider"].as_str(), Some("openai"));
        assert_eq!(
            doc["openai_base_url"].as_str(),
            Some("http://127.0.0.1:4000/s3cr3t/v1")
        );
        assert!(doc.get("chatgpt_base_url").is_none());
    }

    #[test]
    fn user_config_is_kept_except_routing_keys() {
        let user = r#"# my settings
model = "gpt-6.1-sol"
model_provider = "azure"
openai_base_url = "https://gateway.example.invalid/v1"
chatgpt_base_url = "https://chatgpt.com/backend-api/"
approval_policy = "on-request"

[profiles.fast]
model = "gpt-6.1-mini"
model_provider = "azure"
openai_base_url = "https://other.example.invalid/v1"

[model_providers.azure]
name = "Azure"
base_url = "https://example.invalid/openai"

[analytics]
enabled = true

[mcp_servers.docs]
command = "docs-mcp"
args = ["--stdio"]
"#;
        let text = render_config(Some(user), &ENDPOINTS, CodexAuthKind::Chatgpt).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["model"].as_str(), Some("gpt-6.1-sol"));
        assert_eq!(doc["approval_policy"].as_str(), Some("on-request"));
        assert_eq!(doc["model_provider"].as_str(), Some("openai"));
        assert!(doc["profiles"]["fast"].get("model_provider").is_none());
        assert!(doc["profiles"]["fast"].get("openai_base_url").is_none());
        assert_eq!(
            doc["profiles"]["fast"]["model"].as_str(),
            Some("gpt-6.1-mini")
        );
        assert_eq!(
            doc["model_providers"]["azure"]["name"].as_str(),
            Some("Azure")
        );
        assert_eq!(doc["analytics"]["enabled"].as_bool(), Some(true));
        assert_eq!(
            doc["mcp_servers"]["docs"]["command"].as_str(),
            Some("docs-mcp")
        );
        assert!(text.contains("# my settings"));
        assert_eq!(text.matches("model_provider =").count(), 1, "{text}");
        assert_eq!(text.matches("openai_base_url =").count(), 1, "{text}");
        assert_eq!(text.matches("chatgpt_base_url =").count(), 1, "{text}");
    }

    #[test]
    fn invalid_user_config_names_the_file() {
        let err = render_config(Some("model = ["), &ENDPOINTS, CodexAuthKind::Chatgpt).unwrap_err();
        assert!(format!("{err:#}").contains("config.toml"));
    }

    #[test]
    fn placeholder_auth_has_no_real_material_and_far_expiry() {
        let text = placeholder_auth(CodexAuthKind::Chatgpt, 1_800_000_000);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["auth_mode"], "chatgpt");
        let jwt = json["tokens"]["access_token"].as_str().unwrap();
        let payload = jwt.split('.').nth(1).unwrap();
        assert!(!payload.contains('='));
        let exp = crate::util::jwt::exp(jwt).unwrap().as_second();
        assert!(exp >= 1_800_000_000 + 9 * 365 * 86_400, "far future: {exp}");
        assert_eq!(json["last_refresh"], "2027-01-15T08:00:00Z");
        assert_eq!(
            json["tokens"]["account_id"],
            crate::proxy::session::PLACEHOLDER_ACCOUNT_ID
        );
        let api = placeholder_auth(CodexAuthKind::ApiKey, 0);
        assert!(api.contains("omux-placeholder-api-key"));
    }

    #[test]
    fn forwarded_overrides_of_routing_keys_are_refused() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_forwarded_args(&args(&["exec", "-c", "model=\"x\"", "hi"])).is_ok());
        assert!(check_forwarded_args(&args(&["-c", "model_provider=openai"])).is_err());
        assert!(check_forwarded_args(&args(&["--config=profiles.a.model_provider=x"])).is_err());
        assert!(check_forwarded_args(&args(&["-cchatgpt_base_url=https://x"])).is_err());
        assert!(check_forwarded_args(&args(&["-c", "openai_base_url=http://x"])).is_err());
        assert!(check_forwarded_args(&args(&["-c", "model_providers.openai.base_url=x"])).is_err());
        assert!(check_forwarded_args(&args(&["-c", "model_providers.openai_x.name=x"])).is_ok());
        assert!(check_forwarded_args(&args(&["login", "--device-auth"])).is_err());
        assert!(check_forwarded_args(&args(&["exec", "login please"])).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn overlay_links_user_state_and_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("home/.codex");
        fs::create_dir_all(user.join("sessions/2026")).unwrap();
        fs::write(user.join("config.toml"), "model = \"m\"\n").unwrap();
        fs::write(user.join("auth.json"), "{\"tokens\":\"REAL\"}").unwrap();
        fs::write(user.join("history.jsonl"), "{}\n").unwrap();
        fs::write(user.join("state_5.sqlite"), "").unwrap();
        fs::write(user.join("state_5.sqlite-wal"), "").unwrap();
        fs::write(user.join("memories_1.sqlite"), "").unwrap();
        let runtime = tmp.path().join("run");
        let overlay =
            CodexOverlay::create(&runtime, &user, &ENDPOINTS, CodexAuthKind::Chatgpt).unwrap();
        let dir = overlay.path().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(
            fs::symlink_metadata(dir.join("sessions"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(dir.join("history.jsonl"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(dir.join("session_index.jsonl"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            !fs::symlink_metadata(dir.join("auth.json"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            !fs::read_to_string(dir.join("auth.json"))
                .unwrap()
                .contains("REAL")
        );
        assert!(
            fs::read_to_string(dir.join("config.toml"))
                .unwrap()
                .contains("model = \"m\"")
        );
        overlay.remove().unwrap();
        assert!(!dir.exists());
        assert_eq!(
            fs::read_to_string(user.join("auth.json")).unwrap(),
            "{\"tokens\":\"REAL\"}"
        );
        assert!(user.join("sessions/2026").exists());
    }

    #[test]
    fn user_home_prefers_codex_home_unless_it_is_an_overlay() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        assert_eq!(user_codex_home(None, Some(home)), Some(home.join(".codex")));
        let custom = home.join("custom");
        fs::create_dir_all(&custom).unwrap();
        assert_eq!(
            user_codex_home(Some(&custom), Some(home)),
            Some(custom.clone())
        );
        fs::write(custom.join(OVERLAY_MARKER), "").unwrap();
        assert_eq!(
            user_codex_home(Some(&custom), Some(home)),
            Some(home.join(".codex"))
        );
    }
}
