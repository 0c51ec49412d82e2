//! Per-account repair locks across processes: a lock held by a live child is reported
//! by `probe`, and the OS releases it when the child dies.
//!
//! The child is this test binary re-run as a worker (`kit::worker`).

mod kit;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use kit::worker;
use oauth_mux::store::account_lock::{self, AccountLock, LockHolder};
use oauth_mux::store::paths::Dirs;

const LOCKED_MARKER: &str = "OMUX-TEST-LOCK-HELD";
const STARTED_AT: &str = "2026-11-22T05:10:00Z";

fn dirs(root: &Path) -> Dirs {
    Dirs::resolve(&|name| match name {
        "OMUX_CONFIG" => Some(root.join("config.json").display().to_string()),
        "OMUX_STATE_DIR" => Some(root.join("state").display().to_string()),
        "OMUX_RUNTIME_DIR" => Some(root.join("run").display().to_string()),
        "XDG_DATA_HOME" => Some(root.join("data").display().to_string()),
        _ => None,
    })
    .unwrap()
}

#[test]
fn a_lock_held_by_a_live_child_is_reported_and_released_when_it_dies() {
    if let Some(args) = worker::args() {
        // Worker: take the lock, announce it, hold it until killed (or stdin closes).
        let lock =
            AccountLock::try_acquire(&dirs(Path::new(&args[0])), "codex", "max/1", STARTED_AT)
                .unwrap()
                .expect("the lock is free when the child starts");
        println!("{LOCKED_MARKER}");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        drop(lock);
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let dirs = dirs(tmp.path());
    assert_eq!(account_lock::probe(&dirs, "codex", "max/1"), None);

    let mut child = worker::command(
        "a_lock_held_by_a_live_child_is_reported_and_released_when_it_dies",
        &[tmp.path().display().to_string()],
    )
    .into_std()
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let announced = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(LOCKED_MARKER));
    assert!(announced, "the child exited without taking the lock");

    let lock_file: PathBuf = account_lock::lock_file_path(&dirs, "codex", "max/1");
    assert_eq!(
        lock_file,
        tmp.path().join("run/repair-locks/codex-max_1.lock")
    );
    assert_eq!(
        account_lock::probe(&dirs, "codex", "max/1"),
        Some(LockHolder {
            started_at: STARTED_AT.to_string()
        })
    );
    assert!(
        AccountLock::try_acquire(&dirs, "codex", "max/1", "2026-11-22T05:11:00Z")
            .unwrap()
            .is_none(),
        "a held lock must not be taken twice"
    );
    assert_eq!(account_lock::probe(&dirs, "codex", "max-2"), None);

    child.kill().unwrap(); // SIGKILL: no destructor runs, only the OS can release it.
    child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while account_lock::probe(&dirs, "codex", "max/1").is_some() {
        assert!(
            Instant::now() < deadline,
            "lock still held after the child died"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(lock_file.exists(), "lock files are not unlinked");
    let mine = AccountLock::try_acquire(&dirs, "codex", "max/1", "2026-11-22T05:12:00Z")
        .unwrap()
        .expect("the lock is free after its holder died");
    assert_eq!(
        account_lock::probe(&dirs, "codex", "max/1"),
        Some(LockHolder {
            started_at: "2026-11-22T05:12:00Z".to_string()
        })
    );
    drop(mine);
}
