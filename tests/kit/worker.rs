//! Tests that need several processes (store concurrency, the stdin backend, a stub
//! harness) re-run their own test binary as a worker: the parent runs
//! `<this binary> --exact <test name>` with [`WORKER_VAR`] set to the worker's arguments
//! (joined by `|`), and the same test function, seeing [`args`], plays the worker instead.
//!
//! ```ignore
//! #[test]
//! fn many_writers() {
//!     if let Some(args) = worker::args() {
//!         return write_as_worker(&args);
//!     }
//!     let children: Vec<_> = (0..8).map(|i| worker::command("many_writers", &[i.to_string()]).spawn()).collect();
//!     …
//! }
//! ```

use super::command::{Cmd, Running};

/// Set in a worker's environment: its arguments, joined by `|`.
pub const WORKER_VAR: &str = "OMUX_TEST_WORKER";

/// `Some(args)` when this process runs as a worker.
pub fn args() -> Option<Vec<String>> {
    std::env::var(WORKER_VAR)
        .ok()
        .map(|v| v.split('|').map(str::to_owned).collect())
}

/// This test binary running only `test_name`, as a worker with `args`.
pub fn command(test_name: &str, args: &[String]) -> Cmd {
    Cmd::new(this_test_binary())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(WORKER_VAR, args.join("|"))
}

/// The test binary this code runs in.
pub fn this_test_binary() -> std::path::PathBuf {
    std::env::current_exe().expect("the test binary's path")
}

/// Start [`command`] with its output captured.
pub fn spawn(test_name: &str, args: &[String]) -> Running {
    command(test_name, args).spawn()
}
