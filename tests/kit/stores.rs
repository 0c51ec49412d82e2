//! Credential stores for the refresh tests: a Codex `auth.json` or a Claude
//! `.credentials.json` holding canary tokens (plus keys oauth-mux does not know, which a
//! refresh must keep), planted where oauth-mux creates stores (its data directory) or
//! where the user keeps their own; the config naming them; and the fake provider's token
//! lineage that honours their refresh tokens.

use std::path::PathBuf;
use std::time::Duration;

use oauth_mux::demo::fake_provider::{Behaviour, TokenLineage, TokenStyle};
use serde_json::{Value, json};

use super::canary;
use super::sandbox::Sandbox;

/// Which CLI's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cli {
    Codex,
    Claude,
}

impl Cli {
    /// The provider (and kind) name in config.
    pub fn provider(self) -> &'static str {
        match self {
            Cli::Codex => "codex",
            Cli::Claude => "claude",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Cli::Codex => "auth.json",
            Cli::Claude => ".credentials.json",
        }
    }

    /// The environment variable that points oauth-mux's refresh at a token endpoint.
    pub fn token_url_env(self) -> &'static str {
        match self {
            Cli::Codex => "OMUX_CODEX_TOKEN_URL",
            Cli::Claude => "OMUX_CLAUDE_TOKEN_URL",
        }
    }

    /// The token endpoint path the CLI uses.
    pub fn token_path(self) -> &'static str {
        match self {
            Cli::Codex => "/oauth/token",
            Cli::Claude => "/v1/oauth/token",
        }
    }
}

/// One planted store.
#[derive(Clone, Debug)]
pub struct Store {
    pub cli: Cli,
    pub label: String,
    /// The store directory (`CODEX_HOME` / `CLAUDE_CONFIG_DIR`).
    pub dir: PathBuf,
    pub file: PathBuf,
    pub access_token: String,
    pub refresh_token: String,
}

impl Store {
    /// The store parsed.
    pub fn json(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.file).unwrap()).unwrap()
    }

    /// The access token the store holds now.
    pub fn current_access_token(&self) -> String {
        let v = self.json();
        match self.cli {
            Cli::Codex => v["tokens"]["access_token"].as_str().unwrap().to_owned(),
            Cli::Claude => v["claudeAiOauth"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    /// The refresh token the store holds now.
    pub fn current_refresh_token(&self) -> String {
        let v = self.json();
        match self.cli {
            Cli::Codex => v["tokens"]["refresh_token"].as_str().unwrap().to_owned(),
            Cli::Claude => v["claudeAiOauth"]["refreshToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    /// After the real CLI ran on this store: the files it wrote there (its sessions and
    /// logs, which name the account) are its own, not oauth-mux output, so the canary
    /// search of `Sandbox::assert_no_canary_on_disk` skips them. A temp file oauth-mux's
    /// write left behind is never exempt (and fails this check).
    pub fn exempt_files_the_cli_wrote(&self, sb: &Sandbox) {
        let ours = format!(".{}.tmp-", self.cli.file_name());
        for path in super::files::files_under(&self.dir) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with(&ours), "a temp file was left: {name}");
            sb.mark_secret(&path);
        }
    }

    /// The token lineage the fake provider's token endpoint honours for this store, with
    /// the lifetimes the providers give (ChatGPT: ten days; Claude: eight hours).
    pub fn lineage(&self, behaviour: Behaviour) -> TokenLineage {
        let (style, lifetime) = match self.cli {
            Cli::Codex => (TokenStyle::Codex, 10 * 86_400),
            Cli::Claude => (TokenStyle::Claude, 8 * 3600),
        };
        TokenLineage::new(self.refresh_token.clone(), style, behaviour)
            .account_id(canary::account_id(&self.label))
            .lifetime(Duration::from_secs(lifetime))
    }

    /// The account's config block (`secret` names the store file).
    pub fn account_config(&self) -> Value {
        json!({"config_dir": self.dir, "secret": {"backend": "file", "path": self.file}})
    }
}

/// Where a store lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Under oauth-mux's data directory (a store oauth-mux created).
    Owned,
    /// In the user's home (the user's own).
    UsersOwn,
}

/// Plant `cli`'s store for account `label`, its access token expiring in `expires_in`
/// seconds (negative: already expired), with mode 0600.
pub fn plant(sb: &Sandbox, cli: Cli, label: &str, place: Place, expires_in: i64) -> Store {
    let dir = match place {
        Place::Owned => sb.dirs().data_dir.join(cli.provider()).join(label),
        Place::UsersOwn => sb.home().join(format!("{label}-{}", cli.provider())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let exp = jiff::Timestamp::now().as_second() + expires_in;
    let refresh_token = canary::refresh_token(label);
    let (access_token, doc) = match cli {
        Cli::Codex => {
            let at = canary::jwt_expiring(label, exp);
            let doc = json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
                "tokens": {"id_token": canary::jwt_expiring(&format!("{label}-id"), exp),
                           "access_token": at, "refresh_token": refresh_token,
                           "account_id": canary::account_id(label)},
                "last_refresh": "2026-01-01T00:00:00Z",
                "a_future_codex_field": {"kept": true}});
            (at, doc)
        }
        Cli::Claude => {
            let at = canary::claude_token(label);
            let doc = json!({"claudeAiOauth": {"accessToken": at, "refreshToken": refresh_token,
                    "expiresAt": exp * 1000, "scopes": ["user:inference"],
                    "subscriptionType": "max", "rateLimitTier": "default_claude_max_20x"},
                "mcpOAuth": {"some-server": {"kept": true}}});
            (at, doc)
        }
    };
    let file = dir.join(cli.file_name());
    plant_secret_file(
        sb,
        &file,
        serde_json::to_string_pretty(&doc).unwrap() + "\n",
    );
    Store {
        cli,
        label: label.to_owned(),
        dir,
        file,
        access_token,
        refresh_token,
    }
}

/// Plant a credential file at `path` (inside the sandbox) with mode 0600; the canary search
/// of `Sandbox::assert_no_canary_on_disk` skips it.
pub fn plant_secret_file(sb: &Sandbox, path: &std::path::Path, contents: String) {
    let rel = path.strip_prefix(sb.root()).expect("a path in the sandbox");
    sb.plant_secret(&rel.to_string_lossy(), contents);
    set_mode(path, 0o600);
}

/// Set `path`'s permission bits.
pub fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A config with `stores` as accounts of their providers (priority in order), a profile per
/// provider named after it, and `extra` merged into each account block.
pub fn config(stores: &[&Store], extra: Value) -> Value {
    let mut providers = serde_json::Map::new();
    let mut profiles = serde_json::Map::new();
    for (i, store) in stores.iter().enumerate() {
        let provider = store.cli.provider();
        let mut account = store.account_config();
        if let (Some(a), Some(e)) = (account.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                a.insert(k.clone(), v.clone());
            }
        }
        account["priority"] = json!(100 - i as i64);
        let entry = providers
            .entry(provider)
            .or_insert_with(|| json!({"kind": provider, "accounts": {}}));
        entry["accounts"][&store.label] = account;
        let capability = match store.cli {
            Cli::Codex => "codex-max",
            Cli::Claude => "messages",
        };
        let routes = profiles
            .entry(provider)
            .or_insert_with(|| json!({"providers": []}));
        routes["providers"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("{provider}:{}#{capability}", store.label)));
    }
    json!({"version": 1, "providers": providers, "profiles": profiles})
}
