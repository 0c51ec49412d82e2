//! The append-only repair event log, `<state>/repair-events.jsonl`.
//!
//! One JSON object per line, appended under an exclusive lock (`<log>.lock`), each
//! passed through redaction first. When the next line would push the file past its size
//! cap, the file is renamed to `<log>.1` (replacing an older one) and a fresh file is
//! started, so a line is never split across files or torn by rotation.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::StoreError;
use super::atomic::{parent_dir, sync_dir};
use super::lock::{DEFAULT_LOCK_TIMEOUT, lock_path_for, with_exclusive};
use crate::model::event::Event;
use crate::util::private_fs::{ensure_private_dir, private_file_options};

/// Default size at which the log is rotated.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Rows larger than this (serialized, including the newline) are refused.
pub const MAX_ROW_BYTES: usize = 256 * 1024;

/// Readers look at no more than this many bytes at the end of each file.
const READ_TAIL_BYTES: u64 = 8 * 1024 * 1024;

/// The repair event log and its rotation policy.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
    max_bytes: u64,
}

/// The last events of the log and how many lines could not be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventTail {
    /// Parsed events, oldest first.
    pub events: Vec<Value>,
    /// Lines in the scanned range that were not JSON objects (torn or foreign lines).
    pub skipped_lines: usize,
}

/// The last typed events of the log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecentEvents {
    /// Oldest first.
    pub events: Vec<Event>,
    /// Rows that were not JSON objects or not events oauth-mux knows.
    pub skipped_lines: usize,
}

impl EventLog {
    /// The log at `path` with the default 1 MiB rotation size.
    pub fn new(path: impl Into<PathBuf>) -> EventLog {
        EventLog {
            path: path.into(),
            max_bytes: DEFAULT_MAX_LOG_BYTES,
        }
    }

    /// The same log rotating at `max_bytes` instead (tests use a small cap).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> EventLog {
        self.max_bytes = max_bytes;
        self
    }

    /// The current log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The previous (rotated) log file, `<log>.1`.
    pub fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Redact `event` and append it as one line. Refuses non-objects and rows over
    /// [`MAX_ROW_BYTES`].
    pub fn append(&self, event: &Value) -> Result<(), StoreError> {
        if !event.is_object() {
            return Err(self.invalid("an event must be a JSON object".into()));
        }
        let mut event = event.clone();
        redact(&mut event);
        let mut line = serde_json::to_vec(&event).expect("a JSON value serializes");
        line.push(b'\n');
        if line.len() > MAX_ROW_BYTES {
            return Err(self.invalid(format!(
                "the event is {} bytes, more than the {MAX_ROW_BYTES}-byte row limit",
                line.len()
            )));
        }
        with_exclusive(&lock_path_for(&self.path), DEFAULT_LOCK_TIMEOUT, || {
            self.append_locked(&line)
        })?
    }

    /// The last `n` events (oldest first), reading `<log>.1` too when the current file
    /// holds fewer. A missing log is empty.
    pub fn read_last(&self, n: usize) -> Result<Vec<Value>, StoreError> {
        Ok(self.read_tail(n)?.events)
    }

    /// Append a typed event (redacted like every row).
    pub fn record(&self, event: &Event) -> Result<(), StoreError> {
        let value = serde_json::to_value(event)
            .map_err(|e| self.invalid(format!("an event did not serialize: {e}")))?;
        self.append(&value)
    }

    /// The last `n` rows that are events oauth-mux knows (oldest first), and how many rows
    /// of the scanned range were not (a torn line, a kind from a newer version).
    pub fn read_recent(&self, n: usize) -> Result<RecentEvents, StoreError> {
        let tail = self.read_tail(n)?;
        let mut recent = RecentEvents {
            skipped_lines: tail.skipped_lines,
            ..RecentEvents::default()
        };
        for value in tail.events {
            match serde_json::from_value::<Event>(value) {
                Ok(event) => recent.events.push(event),
                Err(_) => recent.skipped_lines += 1,
            }
        }
        Ok(recent)
    }

    /// Like [`EventLog::read_last`], also counting lines that could not be parsed.
    pub fn read_tail(&self, n: usize) -> Result<EventTail, StoreError> {
        let mut tail = EventTail::default();
        if n == 0 {
            return Ok(tail);
        }
        let current = self.read_events(&self.path)?;
        tail.skipped_lines += current.skipped_lines;
        if current.events.len() < n {
            let older = self.read_events(&self.rotated_path())?;
            tail.skipped_lines += older.skipped_lines;
            tail.events = older.events;
        }
        tail.events.extend(current.events);
        let excess = tail.events.len().saturating_sub(n);
        tail.events.drain(..excess);
        Ok(tail)
    }

    fn append_locked(&self, line: &[u8]) -> Result<(), StoreError> {
        let dir = parent_dir(&self.path);
        ensure_private_dir(&dir).map_err(|err| StoreError::io("create directory", &dir, err))?;
        let size = match fs::metadata(&self.path) {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
            Err(err) => return Err(StoreError::io("inspect", &self.path, err)),
        };
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            let rotated = self.rotated_path();
            fs::rename(&self.path, &rotated)
                .map_err(|err| StoreError::io("rotate", &self.path, err))?;
            sync_dir(&dir).map_err(|err| StoreError::io("sync", &dir, err))?;
        }
        let mut file = open_append(&self.path)
            .map_err(|err| StoreError::io("open for append", &self.path, err))?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        // A writer killed mid-line leaves no newline; start on a fresh line so only the
        // torn row is lost, never the one appended now.
        if ends_without_newline(&mut file).map_err(|err| StoreError::io("read", &self.path, err))? {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line);
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(|err| StoreError::io("append to", &self.path, err))
    }

    fn read_events(&self, path: &Path) -> Result<EventTail, StoreError> {
        let bytes = match read_tail_bytes(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(EventTail::default()),
            Err(err) => return Err(StoreError::io("read", path, err)),
        };
        let mut tail = EventTail::default();
        for line in bytes.split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Value>(line) {
                Ok(value) if value.is_object() => tail.events.push(value),
                _ => tail.skipped_lines += 1,
            }
        }
        Ok(tail)
    }

    fn invalid(&self, problem: String) -> StoreError {
        StoreError::InvalidEvent {
            path: self.path.clone(),
            problem,
        }
    }
}

/// Every row passes through the one redaction layer before it is written.
fn redact(value: &mut Value) {
    crate::secrets::redact::scrub_json(value);
}

fn open_append(path: &Path) -> io::Result<File> {
    private_file_options()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

fn ends_without_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The last [`READ_TAIL_BYTES`] of `path`, starting at a line boundary.
fn read_tail_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(READ_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    if start > 0 {
        let first_break = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..first_break);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn appends_and_reads_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let log = EventLog::new(tmp.path().join("s/repair-events.jsonl"));
        assert!(log.read_last(10).unwrap().is_empty());
        for i in 0..5 {
            log.append(&json!({"kind": "repair_run", "i": i})).unwrap();
        }
        let last = log.read_last(3).unwrap();
        assert_eq!(
            last.iter()
                .map(|e| e["i"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert!(log.read_last(0).unwrap().is_empty());
        assert_eq!(log.read_last(100).unwrap().len(), 5);
    }

    #[test]
    fn appended_rows_are_redacted() {
        let canary = "omux-canary-event-log-0123456789";
        crate::secrets::redact::register(canary);
        let tmp = tempfile::tempdir().unwrap();
        let log = EventLog::new(tmp.path().join("repair-events.jsonl"));
        log.append(&json!({"kind": "x", "note": format!("token {canary} leaked?")}))
            .unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(!text.contains(canary), "{text}");
        assert!(text.contains(crate::secrets::redact::REDACTED));
    }

    #[test]
    fn refuses_non_objects() {
        let tmp = tempfile::tempdir().unwrap();
        let log = EventLog::new(tmp.path().join("repair-events.jsonl"));
        let err = log.append(&json!([1])).unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
        assert!(!log.path().exists());
    }

    #[test]
    fn a_torn_last_line_costs_only_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let log = EventLog::new(tmp.path().join("repair-events.jsonl"));
        log.append(&json!({"i": 1})).unwrap();
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        file.write_all(b"{\"i\": 2, \"trunc").unwrap();
        log.append(&json!({"i": 3})).unwrap();
        let tail = log.read_tail(10).unwrap();
        assert_eq!(tail.events, vec![json!({"i": 1}), json!({"i": 3})]);
        assert_eq!(tail.skipped_lines, 1);
    }
}
