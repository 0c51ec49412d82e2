//! Running an external program (the `command` backend, `secret-tool`, `security`,
//! `sops`) with no shell, no stdin, bounded output and a deadline.

use std::io::{self, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

/// How much of a tool's stderr is kept for diagnostics.
const STDERR_KEEP: usize = 16 * 1024;

/// A finished program: its status, its stdout (at most the limit) and its stderr tail.
pub(crate) struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Drop for ToolOutput {
    fn drop(&mut self) {
        self.stdout.zeroize();
    }
}

/// Why a program did not produce output.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The program could not be started (`NotFound`, `PermissionDenied`, …).
    Spawn(io::ErrorKind),
    /// It ran past the deadline and was killed.
    Timeout,
    /// Its stdout exceeded the limit (the rest was discarded).
    TooLarge,
}

/// Read `source` keeping at most `keep` bytes, draining the rest so the writer never
/// blocks on a full pipe. Returns the kept bytes and whether anything was dropped.
fn drain_bounded(mut source: impl Read, keep: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let _ = (&mut source).take(keep as u64).read_to_end(&mut kept);
    let dropped = io::copy(&mut source, &mut io::sink()).unwrap_or(0);
    (kept, dropped > 0)
}

/// Run `program args…` and collect its output, killing it after `timeout`.
pub(crate) fn run_bounded(
    program: &str,
    args: &[&str],
    timeout: Duration,
    max_stdout: usize,
) -> Result<ToolOutput, RunError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunError::Spawn(e.kind()))?;

    let (out_tx, out_rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    thread::spawn(move || {
        let _ = out_tx.send(drain_bounded(stdout, max_stdout));
    });
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr is piped");
    thread::spawn(move || {
        let _ = err_tx.send(drain_bounded(stderr, STDERR_KEEP));
    });

    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(RunError::Spawn(e.kind())),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::Timeout);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    };

    // The program has exited; a grandchild could still hold the pipes open, so the
    // readers get only what is left of the deadline (and at least a moment).
    let grace = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(200));
    let (mut stdout, overflow) = out_rx.recv_timeout(grace).map_err(|_| RunError::Timeout)?;
    if overflow {
        stdout.zeroize();
        return Err(RunError::TooLarge);
    }
    let stderr = err_rx
        .recv_timeout(Duration::from_millis(200))
        .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Ok(ToolOutput {
        status,
        stdout,
        stderr,
    })
}

/// "code 3" or "signal 9": how a program ended, for messages.
pub(crate) fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    "an unknown status".to_string()
}
