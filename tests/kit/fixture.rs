//! Recorded provider responses: `tests/fixtures/providers/<provider>/<case>.json` (the
//! shared recorded set, described in its README) and `tests/fixtures/probe/<provider>/`
//! (test providers with a `definition.json`). One strict loader for the classifier replay
//! (`provider_fixtures.rs`) and the probe replay against the fake (`probe_http.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oauth_mux::demo::fake_provider::Behaviour;
use serde::Deserialize;
use serde_json::Value;

/// One recorded response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The provider directory it was loaded from.
    #[serde(skip)]
    pub provider: String,
    /// The file name without `.json`.
    #[serde(skip)]
    pub case: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The capability (name or alias) whose probe or traffic this is.
    pub capability: String,
    #[serde(default)]
    pub via: Via,
    /// Command probes: the exit code of the command.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Command probes: the signal that ended the command (`SIGKILL`).
    #[serde(default)]
    pub signal: Option<String>,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body exactly as sent (a JSON value in the file is sent serialized).
    #[serde(deserialize_with = "text_or_json")]
    pub body: String,
    pub expect: Expect,
}

/// Where the response was seen.
#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// What the capability's probe sees.
    #[default]
    Probe,
    /// A response of the provider's model API as the managed-session proxy sees it.
    Upstream,
}

/// What the fixture must classify as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub class: String,
    /// Quota: seconds from the fixture clock to the reset (`null`: the provider did not say).
    #[serde(default, deserialize_with = "present")]
    pub resets_in_s: Option<Option<u64>>,
    /// Rate limit: the retry horizon in seconds (`null`: windowless).
    #[serde(default, deserialize_with = "present")]
    pub retry_after_s: Option<Option<u64>>,
    /// The probe's decision (`try_next_account`…).
    #[serde(default)]
    pub decision: Option<String>,
    /// Headers the probe request must carry.
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
}

/// Distinguish an absent key (not checked) from an explicit `null` (checked: none).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

fn text_or_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    })
}

/// `tests/fixtures`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

impl Fixture {
    /// Load one fixture file of `provider`.
    pub fn load(provider: &str, path: &Path) -> Fixture {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
        let mut fixture: Fixture = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: bad fixture: {e}", path.display()));
        fixture.provider = provider.to_owned();
        fixture.case = path.file_stem().unwrap().to_string_lossy().into_owned();
        fixture
    }

    /// Every `*.json` fixture in `dir` but `definition.json` (sorted); none when `dir` is
    /// absent.
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

    /// The response headers as pairs.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The fake provider's answer replaying this response.
    pub fn behaviour(&self) -> Behaviour {
        Behaviour::Raw {
            status: self.status,
            headers: self.header_pairs(),
            body: self.body.as_bytes().to_vec(),
        }
    }

    /// A `sh -c` script that replays this fixture as a command probe: prints the body,
    /// then exits with `exit_code` or kills itself with `signal`.
    pub fn replay_script(&self) -> String {
        let quoted = self.body.replace('\'', "'\\''");
        let end = match (&self.signal, self.exit_code) {
            (Some(sig), _) => format!("kill -s {} $$", sig.trim_start_matches("SIG")),
            (None, Some(code)) => format!("exit {code}"),
            (None, None) => format!("exit {}", if self.status == 200 { 0 } else { 1 }),
        };
        format!("printf '%s' '{quoted}'; {end}")
    }
}
