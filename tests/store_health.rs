//! The health store on a real file system, with real concurrent processes.
//!
//! Multi-process tests re-run this test binary as a worker (`kit::worker`): the parent
//! spawns `<this binary> --exact <test name>`, and the same test function, seeing
//! `worker::args()`, plays the worker role instead.

mod kit;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use kit::command::Running;
use kit::worker;
use oauth_mux::exit::{ExitCode, Failure};
use oauth_mux::store::StoreError;
use oauth_mux::store::health_file::HealthFile;
use serde_json::{Value, json};

const GARBAGE: &[u8] =
    b"{\"version\": 1,\n \"routes\": {\"codex:max-1#codex\": {\"score\": 3,,}}\n";

fn garbage_store() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("health.json");
    fs::write(&path, GARBAGE).unwrap();
    (tmp, path)
}

#[test]
fn garbage_store_gives_a_clear_error_and_is_never_rewritten() {
    let (_tmp, path) = garbage_store();
    let err = HealthFile::load(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("line 2 column"), "{text}");
    assert!(text.contains("oauth-mux health --reset all"), "{text}");
    assert!(matches!(err, StoreError::Corrupt { .. }));
    assert_eq!(Failure::from(err).code, ExitCode::Error);
    assert_eq!(fs::read(&path).unwrap(), GARBAGE);

    let mut called = false;
    let err = HealthFile::update(&path, |routes| {
        called = true;
        routes.clear();
    })
    .unwrap_err();
    assert!(
        !called,
        "the change must not run against a store we could not read"
    );
    assert!(err.to_string().contains("line 2 column"), "{err}");
    assert_eq!(
        fs::read(&path).unwrap(),
        GARBAGE,
        "update must not overwrite garbage"
    );
    assert!(path.exists());
}

#[test]
fn a_store_whose_routes_is_not_an_object_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("health.json");
    let content = br#"{"version":1,"routes":["codex:max-1#codex"]}"#;
    fs::write(&path, content).unwrap();
    let err = HealthFile::update(&path, |routes| {
        routes.insert("k".into(), json!({}));
    })
    .unwrap_err();
    assert!(err.to_string().contains("`routes` is an array"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), content);
}

#[test]
fn records_and_fields_it_does_not_understand_survive_a_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("health.json");
    let original = json!({
        "version": 3,
        "routes": {
            "codex:max-1#codex": {"score": 1, "field_from_the_future": {"deep": [1, 2]}},
            "codex:weird#codex": ["not", "an", "object"],
            "codex:str#codex": "a string record"
        },
        "daemon": {"owner": "future build"},
        "checksum": "abc"
    });
    fs::write(&path, serde_json::to_vec(&original).unwrap()).unwrap();

    let loaded = HealthFile::load(&path).unwrap();
    assert_eq!(loaded.warnings().len(), 3, "{:?}", loaded.warnings());
    assert!(
        loaded
            .warnings()
            .iter()
            .any(|w| w.contains("codex:weird#codex"))
    );

    HealthFile::update(&path, |routes| {
        routes.insert("claude:pro#claude".into(), json!({"score": 9}));
    })
    .unwrap();

    let mut expected = original.clone();
    expected["routes"]["claude:pro#claude"] = json!({"score": 9});
    let on_disk: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(on_disk, expected);
}

#[cfg(unix)]
#[test]
fn updates_leave_0600_files_in_0700_dirs() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state/oauth-mux");
    let path = state.join("health.json");
    HealthFile::update(&path, |routes| {
        routes.insert("a:b#c".into(), json!({}));
    })
    .unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&state.join("health.json.lock")), 0o600);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(state.parent().unwrap()), 0o700);
}

const WRITERS: usize = 8;
const UPDATES_PER_WRITER: usize = 25;

#[test]
fn many_processes_recording_at_once_lose_no_update() {
    if let Some(args) = worker::args() {
        let path = PathBuf::from(&args[0]);
        let writer: usize = args[1].parse().unwrap();
        for i in 0..UPDATES_PER_WRITER {
            HealthFile::update(&path, |routes| {
                routes.insert(
                    format!("prov:writer-{writer}#cap-{i}"),
                    json!({"writer": writer, "i": i}),
                );
                let count = routes
                    .get("shared:counter#all")
                    .and_then(|r| r["count"].as_u64())
                    .unwrap_or(0);
                routes.insert("shared:counter#all".into(), json!({"count": count + 1}));
            })
            .unwrap();
        }
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("state/health.json");
    let children: Vec<Running> = (0..WRITERS)
        .map(|writer| {
            worker::spawn(
                "many_processes_recording_at_once_lose_no_update",
                &[path.display().to_string(), writer.to_string()],
            )
        })
        .collect();
    for child in children {
        child.wait().ok(); // every writer process succeeds
    }

    let store = HealthFile::load(&path).unwrap();
    let routes = store.routes();
    for writer in 0..WRITERS {
        for i in 0..UPDATES_PER_WRITER {
            let key = format!("prov:writer-{writer}#cap-{i}");
            assert_eq!(
                routes.get(&key),
                Some(&json!({"writer": writer, "i": i})),
                "{key}"
            );
        }
    }
    assert_eq!(routes.len(), WRITERS * UPDATES_PER_WRITER + 1);
    assert_eq!(
        routes["shared:counter#all"]["count"],
        json!(WRITERS * UPDATES_PER_WRITER),
        "every read-modify-write saw the previous one"
    );
    assert!(store.warnings().is_empty());
}

const BIG_STORE_ROUTES: usize = 2000;

fn big_generation(generation: u64) -> impl FnOnce(&mut BTreeMap<String, Value>) {
    move |routes| {
        for i in 0..BIG_STORE_ROUTES {
            routes.insert(
                format!("codex:acct-{i}#codex"),
                json!({"generation": generation, "padding": "p".repeat(120)}),
            );
        }
    }
}

fn temp_files_beside(path: &Path) -> Vec<String> {
    fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect()
}

#[test]
fn a_writer_killed_mid_write_leaves_a_store_that_loads() {
    if let Some(args) = worker::args() {
        let path = PathBuf::from(&args[0]);
        for generation in 1.. {
            HealthFile::update(&path, big_generation(generation)).unwrap();
        }
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("health.json");
    HealthFile::update(&path, big_generation(0)).unwrap();
    let mut kills_that_landed_after_progress = 0;
    for round in 0..8u64 {
        let before = fs::read(&path).unwrap();
        let child = worker::spawn(
            "a_writer_killed_mid_write_leaves_a_store_that_loads",
            &[path.display().to_string()],
        );
        // Let it run through a varying number of rewrites, then SIGKILL it.
        let started = Instant::now();
        while fs::read(&path).unwrap() == before && started.elapsed() < Duration::from_secs(20) {
            thread::sleep(Duration::from_millis(2));
        }
        thread::sleep(Duration::from_millis(7 * round + 3));
        child.signal(libc::SIGKILL);
        child.wait();
        if fs::read(&path).unwrap() != before {
            kills_that_landed_after_progress += 1;
        }

        let store = HealthFile::load(&path)
            .unwrap_or_else(|err| panic!("round {round}: store does not load: {err}"));
        let generations: std::collections::BTreeSet<_> = store
            .routes()
            .iter()
            .filter(|(key, _)| key.starts_with("codex:acct-"))
            .map(|(_, record)| record["generation"].as_u64().unwrap())
            .collect();
        assert_eq!(
            store.routes().len(),
            BIG_STORE_ROUTES + usize::from(round > 0),
            "round {round}"
        );
        assert_eq!(
            generations.len(),
            1,
            "round {round}: a mix of old and new: {generations:?}"
        );

        // The killed holder's lock is released by the OS: the next update goes through
        // promptly and sweeps the dead writer's temp file.
        let started = Instant::now();
        HealthFile::update(&path, |routes| {
            routes.insert("parent:marker#round".into(), json!({"round": round}));
        })
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "lock was not released"
        );
        assert_eq!(temp_files_beside(&path), Vec::<String>::new());
    }
    assert!(
        kills_that_landed_after_progress > 0,
        "the worker never rewrote the store before being killed"
    );
}
