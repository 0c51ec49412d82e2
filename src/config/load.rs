//! Reading and parsing the config file, reporting every problem at once.
//!
//! Parsing is typed (serde) but recovers: when a field fails to deserialize, the
//! problem is recorded with its JSON path, the offending value is set aside, and
//! parsing runs again, so one run names every bad field. Unknown keys become
//! warnings through `serde_ignored`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;
use super::schema::Config;

/// Largest config file accepted.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The outcome of parsing config text.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `None` when the text is not a JSON object at all.
    pub config: Option<Config>,
    pub problems: Vec<Problem>,
    /// JSON paths whose values were set aside because they did not parse.
    pub set_aside: Vec<String>,
}

/// Read a config file. `Ok(None)` means it does not exist.
pub fn read_config_text(path: &Path) -> Result<Option<String>, Problem> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_problem(path, &format!("cannot read it: {e}"))),
    };
    if meta.is_dir() {
        return Err(file_problem(path, "is a directory, not a file"));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(file_problem(
            path,
            &format!("is {} bytes; the limit is {MAX_CONFIG_BYTES}", meta.len()),
        ));
    }
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| file_problem(path, &format!("cannot read it: {e}")))
}

fn file_problem(path: &Path, what: &str) -> Problem {
    Problem::error(
        "$",
        format!("config file {} {what}", path.display()),
        "point OMUX_CONFIG at a readable JSON file, or run `oauth-mux init` to write a starter config",
    )
}

/// Parse config text into a typed config plus every problem found on the way.
pub fn parse_config(text: &str) -> Parsed {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Parsed {
                config: None,
                problems: vec![Problem::error(
                    "$",
                    format!(
                        "malformed JSON at line {}, column {}: {}",
                        e.line(),
                        e.column(),
                        strip_position(&e.to_string())
                    ),
                    "fix the JSON syntax there (a trailing comma, a missing quote or brace is the usual cause)",
                )],
                set_aside: Vec::new(),
            };
        }
    };
    if !value.is_object() {
        return Parsed {
            config: None,
            problems: vec![Problem::error(
                "$",
                "the config must be a JSON object",
                "start from `oauth-mux init` or examples/",
            )],
            set_aside: Vec::new(),
        };
    }
    let mut parsed = Parsed::default();
    parsed.config = typed_with_recovery(value, &mut parsed.problems, &mut parsed.set_aside);
    parsed
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Deserialize `T`, recording a problem and setting the bad value aside for each
/// failure, until it succeeds (or nothing more can be set aside).
pub fn typed_with_recovery<T: DeserializeOwned>(
    mut value: Value,
    problems: &mut Vec<Problem>,
    set_aside: &mut Vec<String>,
) -> Option<T> {
    for _ in 0..200 {
        let mut ignored = Vec::new();
        let result = {
            let mut on_ignored = |path: serde_ignored::Path<'_>| ignored.push(path.to_string());
            let de = serde_ignored::Deserializer::new(&value, &mut on_ignored);
            serde_path_to_error::deserialize::<_, T>(de)
        };
        match result {
            Ok(typed) => {
                for path in ignored {
                    problems.push(Problem::warning(
                        path,
                        "unknown key (ignored)",
                        "check the spelling; docs/configuration.md lists every key",
                    ));
                }
                return Some(typed);
            }
            Err(err) => {
                let path = err.path().to_string();
                let message = err.inner().to_string();
                let found = value_at(&value, err.path());
                problems.push(Problem::error(
                    display_path(&path),
                    without_value(&message, found),
                    hint_for(&message),
                ));
                if !set_aside_value(&mut value, err.path()) {
                    return None;
                }
                set_aside.push(display_path(&path));
            }
        }
    }
    None
}

fn display_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        "$".into()
    } else {
        path.to_owned()
    }
}

/// The value a serde path points at, if it is there.
fn value_at<'v>(root: &'v Value, path: &serde_path_to_error::Path) -> Option<&'v Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(root, |cursor, seg| match seg {
        Segment::Map { key } => cursor.get(key.as_str()),
        Segment::Seq { index } => cursor.get(*index),
        _ => None,
    })
}

/// What kind of JSON value this is, for messages that must not show the value itself.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A deserialization error in words that never quote the value: serde's messages do
/// (`invalid type: string "…", expected i32`), and the value may be a token typed into the
/// wrong field. Keeps what the schema expected and says what kind of value was found.
pub fn without_value(message: &str, found: Option<&Value>) -> String {
    let kind = found.map_or("a value", kind_of);
    // Field names come from the schema, not from the config's values.
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        return message.to_string();
    }
    // The schema's part is the last `, expected …` (a quoted value may hold the words too).
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, expected)| expected.trim());
    if message.starts_with("unknown field") {
        // The field's name is the last part of the path already.
        return match expected {
            Some(expected) => format!("unknown field; expected {expected}"),
            None => "unknown field".into(),
        };
    }
    if message.starts_with("unknown variant") {
        return match expected {
            Some(expected) => format!("unknown value ({kind}); expected {expected}"),
            None => format!("unknown value ({kind})"),
        };
    }
    let standard = ["invalid type", "invalid value", "invalid length"];
    if standard.iter().any(|p| message.starts_with(p)) {
        return match expected {
            Some(expected) => format!("expected {expected}, found {kind}"),
            None => format!("invalid value ({kind})"),
        };
    }
    // A message of the schema's own (a custom deserializer): its help stays, any quoted
    // piece of the value goes; if the value still shows, only its kind is said.
    let mut texts = Vec::new();
    if let Some(found) = found {
        value_texts(found, &mut texts);
    }
    let mut clean = message.to_string();
    for text in &texts {
        for quoted in [format!("{text:?}"), format!("`{text}`")] {
            clean = clean.replace(&quoted, "(the value)");
        }
    }
    if texts
        .iter()
        .any(|t| t.len() >= 4 && clean.contains(t.as_str()))
    {
        return format!("invalid value ({kind})");
    }
    clean
}

/// Every string and number inside a JSON value, as text (object keys are the config's
/// names, shown in paths anyway).
fn value_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| value_texts(v, out)),
        Value::Object(map) => map.values().for_each(|v| value_texts(v, out)),
        Value::Null | Value::Bool(_) => {}
    }
}

fn hint_for(message: &str) -> String {
    if message.starts_with("missing field") {
        "add the missing field; docs/configuration.md shows each object's required fields".into()
    } else if message.starts_with("unknown variant") {
        "use one of the expected values listed in the message".into()
    } else if message.starts_with("invalid type") {
        "change the value to the expected type".into()
    } else {
        "see docs/configuration.md".into()
    }
}

/// Remove the value at `path` (or, for a failure of the object itself, the object
/// from its parent). Returns false when the document root itself is at fault.
fn set_aside_value(root: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut cursor = root;
    for seg in parents {
        let next = match seg {
            Segment::Map { key } => cursor.get_mut(key.as_str()),
            Segment::Seq { index } => cursor.get_mut(*index),
            _ => None,
        };
        match next {
            Some(v) => cursor = v,
            None => return false,
        }
    }
    match (last, cursor) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key.as_str()).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// Where the config lives and what it holds.
#[derive(Debug)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub config: Config,
    /// Warnings (and, for `load_lenient`, errors too).
    pub problems: Vec<Problem>,
}
