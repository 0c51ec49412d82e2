//! The versioned route health store, `<state>/health.json`.
//!
//! Shape: `{"version": 1, "routes": {"<route key>": <record object>, ...}}`. Records are
//! kept as raw JSON so that fields this build does not know (written by a newer one)
//! survive a rewrite; the typed view of a record lives in the model. Unknown top-level
//! fields and a higher `version` are preserved too.
//!
//! Loading is tolerant where nothing can be lost (a record that is not an object is
//! kept verbatim and reported as a warning) and strict where guessing would destroy
//! data: a file that is not JSON, or whose `routes` is not an object, is an error and is
//! never rewritten or deleted.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::StoreError;
use super::atomic::{remove_stale_temps, write_atomic};
use super::lock::{DEFAULT_LOCK_TIMEOUT, lock_path_for, with_exclusive};

/// The store format version this build writes.
pub const HEALTH_FILE_VERSION: u64 = 1;

/// Larger files are refused rather than read into memory.
pub const MAX_HEALTH_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The in-memory health store: route records plus whatever else the file held.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthFile {
    path: PathBuf,
    version: u64,
    routes: BTreeMap<String, Value>,
    unknown_fields: Map<String, Value>,
    warnings: Vec<String>,
}

impl HealthFile {
    /// Read the store at `path`. A missing file is an empty store.
    ///
    /// Malformed content is a [`StoreError::Corrupt`] naming the file, the line and
    /// column, and how to recover; the file is not touched.
    pub fn load(path: &Path) -> Result<HealthFile, StoreError> {
        let bytes = match read_capped(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(Self::empty(path));
            }
            Err(err) if err.kind() == io::ErrorKind::FileTooLarge => {
                return Err(corrupt(
                    path,
                    format!("it is larger than {MAX_HEALTH_FILE_BYTES} bytes"),
                ));
            }
            Err(err) => return Err(StoreError::io("read", path, err)),
        };
        Self::parse(path, &bytes)
    }

    /// Parse store content read from `path` (used for error messages).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<HealthFile, StoreError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt(path, "it is empty".to_string()));
        }
        let document: Value = serde_json::from_slice(bytes).map_err(|err| {
            // serde_json syntax errors describe the grammar, never echo the content.
            corrupt(
                path,
                format!(
                    "invalid JSON at line {} column {}: {}",
                    err.line(),
                    err.column(),
                    syntax_problem(&err)
                ),
            )
        })?;
        let Value::Object(mut top) = document else {
            return Err(corrupt(
                path,
                format!(
                    "the top level is {}, expected an object {{\"version\": 1, \"routes\": {{...}}}}",
                    kind_of(&document)
                ),
            ));
        };

        let mut warnings = Vec::new();
        let version = match top.shift_remove("version") {
            None => {
                warnings.push("no `version` field; treating the store as version 1".into());
                HEALTH_FILE_VERSION
            }
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                let version = n.as_u64().unwrap_or(HEALTH_FILE_VERSION);
                if version > HEALTH_FILE_VERSION {
                    warnings.push(format!(
                        "store version {version} is newer than this oauth-mux understands \
                         ({HEALTH_FILE_VERSION}); unknown fields are kept as they are"
                    ));
                }
                version
            }
            Some(other) => {
                warnings.push(format!(
                    "`version` is {}, not a number; treating the store as version 1",
                    kind_of(&other)
                ));
                HEALTH_FILE_VERSION
            }
        };

        let routes = match top.shift_remove("routes") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(routes)) => routes.into_iter().collect(),
            Some(other) => {
                return Err(corrupt(
                    path,
                    format!("`routes` is {}, expected an object", kind_of(&other)),
                ));
            }
        };
        for (key, record) in &routes {
            if !record.is_object() {
                warnings.push(format!(
                    "route `{key}`: record is {}, not an object; kept as is",
                    kind_of(record)
                ));
            }
        }

        Ok(HealthFile {
            path: path.to_path_buf(),
            version,
            routes,
            unknown_fields: top,
            warnings,
        })
    }

    /// Apply `change` to the route records under an exclusive lock on `<path>.lock`:
    /// re-read the store, call `change`, and write the result atomically if it changed.
    /// Temp files left by a writer killed mid-write are removed.
    ///
    /// Fails without writing when the file on disk cannot be understood.
    pub fn update<R>(
        path: &Path,
        change: impl FnOnce(&mut BTreeMap<String, Value>) -> R,
    ) -> Result<R, StoreError> {
        with_exclusive(&lock_path_for(path), DEFAULT_LOCK_TIMEOUT, || {
            let mut store = Self::load(path)?;
            // Only lock holders write this file, so any temp file beside it is stale.
            remove_stale_temps(path).map_err(|err| StoreError::io("clean up beside", path, err))?;
            let before = store.routes.clone();
            let result = change(&mut store.routes);
            if store.routes != before {
                store.save()?;
            }
            Ok(result)
        })?
    }

    /// The route records, keyed by route key.
    pub fn routes(&self) -> &BTreeMap<String, Value> {
        &self.routes
    }

    /// The file this store was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version found on disk (preserved when newer than ours).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Top-level fields other than `version` and `routes`, preserved on rewrite.
    pub fn unknown_fields(&self) -> &Map<String, Value> {
        &self.unknown_fields
    }

    /// Problems found while loading that lost nothing (for `doctor` to show).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The bytes this store is written as: pretty JSON, `version` and `routes` first.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut top = Map::new();
        top.insert("version".into(), Value::from(self.version));
        let routes: Map<String, Value> = self
            .routes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        top.insert("routes".into(), Value::Object(routes));
        for (key, value) in &self.unknown_fields {
            top.insert(key.clone(), value.clone());
        }
        let mut bytes =
            serde_json::to_vec_pretty(&Value::Object(top)).expect("a JSON value serializes");
        bytes.push(b'\n');
        bytes
    }

    fn save(&self) -> Result<(), StoreError> {
        write_atomic(&self.path, &self.to_json_bytes())
            .map_err(|err| StoreError::io("write", &self.path, err))
    }

    fn empty(path: &Path) -> HealthFile {
        HealthFile {
            path: path.to_path_buf(),
            version: HEALTH_FILE_VERSION,
            routes: BTreeMap::new(),
            unknown_fields: Map::new(),
            warnings: Vec::new(),
        }
    }
}

fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_HEALTH_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_HEALTH_FILE_BYTES {
        return Err(io::Error::from(io::ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

fn corrupt(path: &Path, problem: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        problem,
        fix: format!(
            "move it aside (mv '{0}' '{0}.bad') or run `oauth-mux health --reset all` \
             to start with empty route health",
            path.display()
        ),
    }
}

/// The grammar problem of a JSON parse error, without its position suffix.
fn syntax_problem(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<HealthFile, StoreError> {
        HealthFile::parse(Path::new("/s/health.json"), text.as_bytes())
    }

    #[test]
    fn missing_file_is_an_empty_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = HealthFile::load(&tmp.path().join("health.json")).unwrap();
        assert!(store.routes().is_empty());
        assert_eq!(store.version(), HEALTH_FILE_VERSION);
        assert!(store.warnings().is_empty());
    }

    #[test]
    fn garbage_reports_line_column_file_and_fix() {
        let err = parse("{\"version\": 1,\n  \"routes\": {oops}}").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/s/health.json"), "{text}");
        assert!(text.contains("line 2 column"), "{text}");
        assert!(text.contains("health --reset all"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }

    #[test]
    fn wrong_shapes_are_errors_not_guesses() {
        for (text, needle) in [
            ("", "empty"),
            ("[1,2]", "top level is an array"),
            ("{\"version\":1,\"routes\":[]}", "`routes` is an array"),
            ("{\"version\":1,\"routes\":\"x\"}", "`routes` is a string"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn parse_errors_do_not_echo_file_content() {
        let canary = "sk-CANARY-health-0123456789";
        let err = parse(&format!("{{\"routes\": {{\"a\": \"{canary}\" nope}}}}"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains(canary), "{err}");
    }

    #[test]
    fn non_object_records_are_kept_and_warned_about() {
        let store = parse(r#"{"version":1,"routes":{"a:b#c":{"x":1},"bad:one#c":[1,2]}}"#).unwrap();
        assert_eq!(store.routes()["bad:one#c"], json!([1, 2]));
        assert_eq!(store.warnings().len(), 1);
        assert!(store.warnings()[0].contains("bad:one#c"));
        let reparsed = HealthFile::parse(store.path(), &store.to_json_bytes()).unwrap();
        assert_eq!(reparsed.routes(), store.routes());
    }

    #[test]
    fn newer_version_and_unknown_fields_are_preserved() {
        let store = parse(r#"{"version":7,"routes":{},"future":{"k":[1]},"z":true}"#).unwrap();
        assert_eq!(store.version(), 7);
        assert!(store.warnings()[0].contains("newer"));
        let bytes = store.to_json_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            value,
            json!({"version": 7, "routes": {}, "future": {"k": [1]}, "z": true})
        );
    }

    #[test]
    fn missing_or_odd_version_is_tolerated() {
        let store = parse(r#"{"routes":{"a:b#c":{}}}"#).unwrap();
        assert_eq!(store.version(), 1);
        assert_eq!(store.warnings().len(), 1);
        let store = parse(r#"{"version":"1","routes":null}"#).unwrap();
        assert_eq!(store.version(), 1);
        assert!(store.routes().is_empty());
        assert!(store.warnings()[0].contains("a string"));
    }

    #[test]
    fn update_creates_then_modifies_and_skips_noop_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state/health.json");
        HealthFile::update(&path, |_| ()).unwrap();
        assert!(!path.exists(), "a no-op update writes nothing");
        let inserted = HealthFile::update(&path, |routes| {
            routes.insert("codex:max-1#codex".into(), json!({"score": 1}))
        })
        .unwrap();
        assert!(inserted.is_none());
        HealthFile::update(&path, |routes| {
            routes.insert("codex:max-2#codex".into(), json!({"score": 2}));
        })
        .unwrap();
        let store = HealthFile::load(&path).unwrap();
        assert_eq!(store.routes().len(), 2);
        assert_eq!(store.routes()["codex:max-1#codex"], json!({"score": 1}));
    }
}
