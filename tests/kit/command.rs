//! A command builder for the programs a test runs (the built `oauth-mux`, a real harness,
//! this test binary as a worker), and what one run produced.
//!
//! ```ignore
//! let out = sandbox.oauth_mux().args(["route", "select", "--json"]).run();
//! out.code(201);
//! assert_eq!(out.json()["selected"], Value::Null);
//! ```

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::canary;

/// One program to run: arguments, environment, stdin and working directory.
pub struct Cmd {
    command: Command,
    stdin: Option<Vec<u8>>,
    check_canaries: bool,
}

impl Cmd {
    /// `program` with the test process's environment and no stdin.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            command: Command::new(program),
            stdin: None,
            check_canaries: false,
        }
    }

    /// Every run of this command fails when its stdout or stderr holds a canary (the
    /// sandbox sets this for `oauth-mux`: no command may print a secret, SPEC §1.4).
    pub(super) fn checking_canaries(mut self) -> Cmd {
        self.check_canaries = true;
        self
    }

    /// Start from an empty environment (the sandbox then sets its own).
    pub(super) fn env_clear(mut self) -> Cmd {
        self.command.env_clear();
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.command.envs(vars);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.command.env_remove(key);
        self
    }

    /// Feed `bytes` on stdin (default: no stdin at all).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.command.current_dir(dir);
        self
    }

    /// The underlying command, for what the builder does not cover (a child whose stdin
    /// stays open while the test talks to it).
    pub fn into_std(self) -> Command {
        self.command
    }

    /// Whether runs of this command fail on a canary in their output.
    pub(super) fn checks_canaries(&self) -> bool {
        self.check_canaries
    }

    /// The command line, for messages.
    pub(super) fn shown(&self) -> String {
        let mut parts = vec![self.command.get_program().to_string_lossy().into_owned()];
        parts.extend(
            self.command
                .get_args()
                .map(|a| a.to_string_lossy().into_owned()),
        );
        parts.join(" ")
    }

    /// Start it with stdout and stderr captured.
    pub fn spawn(mut self) -> Running {
        let shown = self.shown();
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{shown}`: {e}"));
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            // Written from a thread: a child that does not read stdin must not block the test.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        Running {
            child,
            shown,
            check_canaries: self.check_canaries,
        }
    }

    /// Run it to the end.
    pub fn run(self) -> Output {
        self.spawn().wait()
    }
}

/// A started command.
pub struct Running {
    pub child: Child,
    shown: String,
    check_canaries: bool,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill {} {signal}", self.pid());
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the process itself to end, not for its output to close (a process it
    /// started may hold that open); [`Running::wait`] collects the output later.
    pub fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for `{}`: {e}", self.shown))
    }

    /// Wait for it to end and collect what it printed.
    pub fn wait(self) -> Output {
        let out = self
            .child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for `{}`: {e}", self.shown));
        let output = Output {
            command: self.shown,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if self.check_canaries {
            output.assert_no_canaries();
        }
        output
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line.
    pub command: String,
    /// The exit code (-1 when a signal ended the process).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    /// Assert the exit code.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Output {
        assert_eq!(self.code, want, "unexpected exit code:\n{self}");
        self
    }

    /// Assert exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Output {
        self.code(0)
    }

    /// Stdout and stderr, one after the other.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Fail when stdout or stderr holds a canary.
    #[track_caller]
    pub fn assert_no_canaries(&self) -> &Output {
        canary::assert_absent(&format!("the output of `{}`", self.command), &self.all());
        self
    }
}
