//! The repair event log: rotation, the row cap, permissions and concurrent appenders.
//!
//! Concurrency tests re-run this test binary as a worker (see `kit::worker`).

mod kit;

use std::fs;
use std::path::{Path, PathBuf};

use kit::command::Running;
use kit::worker;
use oauth_mux::store::events::{EventLog, MAX_ROW_BYTES};
use serde_json::{Value, json};

/// Every line of `path` parsed as a JSON object (panics on a torn or foreign line).
fn lines_of(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends mid-line",
        path.display()
    );
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("torn line in {}: {err}", path.display()));
            assert!(value.is_object());
            value
        })
        .collect()
}

fn event(i: usize) -> Value {
    json!({"ts": "2026-11-22T05:00:00Z", "kind": "repair_run", "i": i, "pad": "x".repeat(60)})
}

#[test]
fn rotates_at_the_cap_keeping_one_previous_file() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::new(tmp.path().join("repair-events.jsonl")).with_max_bytes(1000);
    let row_len = serde_json::to_vec(&event(10)).unwrap().len() + 1;
    for i in 0..40 {
        log.append(&event(i)).unwrap();
        let size = fs::metadata(log.path()).unwrap().len();
        assert!(size <= 1000, "current file grew past the cap: {size}");
    }
    let current = lines_of(log.path());
    let previous = lines_of(&log.rotated_path());
    assert!(!previous.is_empty(), "no rotation happened");
    let per_file = 1000 / (row_len - 1);
    assert!(previous.len() <= per_file && current.len() <= per_file);

    // The two files hold the newest events, contiguous and in order; older ones are gone.
    let kept: Vec<u64> = previous
        .iter()
        .chain(&current)
        .map(|e| e["i"].as_u64().unwrap())
        .collect();
    let first = kept[0];
    assert!(first > 0, "the oldest rotated file was replaced");
    assert_eq!(kept, (first..40).collect::<Vec<_>>());

    // read_last spans both files when the current one holds fewer.
    let want = current.len() + 2;
    let last: Vec<u64> = log
        .read_last(want)
        .unwrap()
        .iter()
        .map(|e| e["i"].as_u64().unwrap())
        .collect();
    assert_eq!(last, ((40 - want as u64)..40).collect::<Vec<_>>());
    // Asking for more than exists returns everything kept.
    assert_eq!(log.read_last(1000).unwrap().len(), kept.len());
}

#[test]
fn rows_over_256_kib_are_refused_and_leave_the_log_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::new(tmp.path().join("repair-events.jsonl"));
    log.append(&event(0)).unwrap();
    let before = fs::read(log.path()).unwrap();

    let huge = json!({"kind": "repair_run", "reason": "r".repeat(MAX_ROW_BYTES)});
    let err = log.append(&huge).unwrap_err().to_string();
    assert!(err.contains("row limit"), "{err}");
    assert!(err.contains(&log.path().display().to_string()), "{err}");
    assert_eq!(fs::read(log.path()).unwrap(), before);

    // Just under the cap is fine: the serialized row plus newline is exactly the cap.
    let overhead = serde_json::to_vec(&json!({"reason": ""})).unwrap().len() + 1;
    let fits = json!({"reason": "r".repeat(MAX_ROW_BYTES - overhead)});
    log.append(&fits).unwrap();
    let too_big = json!({"reason": "r".repeat(MAX_ROW_BYTES - overhead + 1)});
    assert!(log.append(&too_big).is_err());
    assert_eq!(log.read_last(10).unwrap().len(), 2);
}

#[test]
fn unparseable_lines_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let log = EventLog::new(tmp.path().join("repair-events.jsonl"));
    fs::write(
        log.path(),
        "{\"i\":1}\nnot json\n[1,2]\n\n{\"i\":2}\n{\"i\":3,\"torn",
    )
    .unwrap();
    fs::write(log.rotated_path(), "{\"i\":0}\n???\n").unwrap();
    let tail = log.read_tail(10).unwrap();
    assert_eq!(
        tail.events,
        vec![json!({"i": 0}), json!({"i": 1}), json!({"i": 2})]
    );
    assert_eq!(tail.skipped_lines, 4);
    // Only the current file is read when it holds enough events.
    let tail = log.read_tail(2).unwrap();
    assert_eq!(tail.events, vec![json!({"i": 1}), json!({"i": 2})]);
    assert_eq!(tail.skipped_lines, 3);
}

#[cfg(unix)]
#[test]
fn log_files_are_0600_in_a_0700_dir() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let log = EventLog::new(dir.join("repair-events.jsonl")).with_max_bytes(200);
    for i in 0..5 {
        log.append(&event(i)).unwrap();
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(log.path()), 0o600);
    assert_eq!(mode(&log.rotated_path()), 0o600);
    assert_eq!(mode(&dir.join("repair-events.jsonl.lock")), 0o600);
}

const APPENDERS: usize = 4;
const APPENDS_EACH: usize = 50;

fn run_appender(args: &[String]) {
    let log = EventLog::new(PathBuf::from(&args[0])).with_max_bytes(args[1].parse().unwrap());
    let writer: usize = args[2].parse().unwrap();
    for i in 0..APPENDS_EACH {
        log.append(&json!({"writer": writer, "i": i, "pad": "y".repeat(200)}))
            .unwrap();
    }
}

fn run_appenders(test_name: &str, path: &Path, max_bytes: u64) {
    let children: Vec<Running> = (0..APPENDERS)
        .map(|writer| {
            worker::spawn(
                test_name,
                &[
                    path.display().to_string(),
                    max_bytes.to_string(),
                    writer.to_string(),
                ],
            )
        })
        .collect();
    for child in children {
        child.wait().ok(); // every appender succeeds
    }
}

#[test]
fn concurrent_appenders_lose_and_tear_nothing() {
    if let Some(args) = worker::args() {
        return run_appender(&args);
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repair-events.jsonl");
    run_appenders(
        "concurrent_appenders_lose_and_tear_nothing",
        &path,
        1024 * 1024,
    );
    let lines = lines_of(&path);
    assert_eq!(lines.len(), APPENDERS * APPENDS_EACH);
    for writer in 0..APPENDERS {
        let mine: Vec<u64> = lines
            .iter()
            .filter(|e| e["writer"] == writer)
            .map(|e| e["i"].as_u64().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..APPENDS_EACH as u64).collect::<Vec<_>>(),
            "writer {writer}"
        );
    }
}

#[test]
fn concurrent_appenders_with_rotation_never_tear_a_line() {
    if let Some(args) = worker::args() {
        return run_appender(&args);
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repair-events.jsonl");
    run_appenders(
        "concurrent_appenders_with_rotation_never_tear_a_line",
        &path,
        4096,
    );
    let log = EventLog::new(&path);
    let current = lines_of(&path);
    let previous = lines_of(&log.rotated_path());
    assert!(!previous.is_empty(), "expected rotations with a 4 KiB cap");
    assert!(fs::metadata(&path).unwrap().len() <= 4096);
    assert!(fs::metadata(log.rotated_path()).unwrap().len() <= 4096);
    let tail = log.read_tail(usize::MAX).unwrap();
    assert_eq!(tail.skipped_lines, 0);
    assert_eq!(tail.events.len(), previous.len() + current.len());
}
