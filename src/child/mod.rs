//! Running one child process for oauth-mux (`exec`, `stay-afloat launch`, managed
//! sessions): inherited stdio, the environment changes the caller decided, termination
//! signals passed on, and the exit code a shell would report (signal N → 128 + N).
//!
//! The child must not outlive oauth-mux: a harness left behind keeps retrying a proxy that
//! is gone, and its overlay or credential directory is no longer anyone's. On Unix the
//! child therefore runs in its own process group (handed the terminal when oauth-mux held
//! it), and a small watchdog process ends that group when oauth-mux dies, however it dies:
//! `SIGTERM` (and `SIGCONT`, so a stopped member can act on it), then `SIGKILL` after
//! [`TERMINATION_GRACE`]. On Linux the child also gets `SIGTERM` as its parent-death
//! signal, which holds even if the watchdog is killed too. See `docs/security.md`.
//!
//! ```no_run
//! use oauth_mux::child::{self, ChildSpec, SignalForwarder};
//! let forwarder = SignalForwarder::install()?;
//! let spec = ChildSpec::new("sh").arg("-c").arg("exit 3");
//! let exit = child::spawn(&spec, &forwarder)?.wait()?;
//! assert_eq!(exit.shell_code(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod signals;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
mod watchdog;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::process::{Command, ExitStatus};
use std::time::Duration;

pub use signals::SignalForwarder;

/// How long the group of a child whose oauth-mux died may take to end after `SIGTERM`
/// before it gets `SIGKILL`.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(1);

/// A child invocation: program, arguments and environment changes. Everything not
/// removed or set is inherited.
#[derive(Clone, Debug, Default)]
pub struct ChildSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables removed from the inherited environment (before `env_set` applies).
    pub env_remove: Vec<String>,
    pub env_set: Vec<(String, OsString)>,
}

impl ChildSpec {
    pub fn new(program: impl Into<OsString>) -> ChildSpec {
        ChildSpec {
            program: program.into(),
            ..ChildSpec::default()
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> ChildSpec {
        self.args.push(arg.into());
        self
    }

    /// The program's file name, for messages (never its directory).
    pub fn program_name(&self) -> String {
        std::path::Path::new(&self.program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for name in &self.env_remove {
            command.env_remove(name);
        }
        for (name, value) in &self.env_set {
            command.env(name, value);
        }
        command
    }
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildExit {
    /// The child's exit code, or 128 + the signal that killed it.
    pub code: i32,
    /// The signal that killed the child, if one did.
    pub signal: Option<i32>,
}

impl ChildExit {
    fn from_status(status: ExitStatus) -> ChildExit {
        if let Some(code) = status.code() {
            return ChildExit { code, signal: None };
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(sig) = status.signal() {
                return ChildExit {
                    code: 128 + sig,
                    signal: Some(sig),
                };
            }
        }
        ChildExit {
            code: 1,
            signal: None,
        }
    }

    /// The code for oauth-mux's own exit, as a shell reports it (0–255; a failure never
    /// maps to 0).
    pub fn shell_code(&self) -> u8 {
        match u8::try_from(self.code) {
            Ok(code) => code,
            Err(_) => match (self.code & 0xff) as u8 {
                0 => 1,
                code => code,
            },
        }
    }
}

/// Why a child could not be started.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub source: io::Error,
}

impl SpawnError {
    /// True when no such program exists (a shell's exit 127); else it could not be
    /// executed (126).
    pub fn not_found(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
    }

    /// The exit code a shell reports for this failure.
    pub fn shell_code(&self) -> u8 {
        if self.not_found() { 127 } else { 126 }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.not_found() {
            write!(f, "command not found: {}", self.program)
        } else {
            write!(f, "cannot run {}: {}", self.program, self.source)
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A started child, supervised until [`Running::wait`] returns.
pub struct Running {
    child: std::process::Child,
    #[cfg(unix)]
    supervision: unix::Supervision,
}

/// Start `spec` with signals passed on through `forwarder` (installed before, so a signal
/// that arrived during setup is delivered now).
pub fn spawn(spec: &ChildSpec, forwarder: &SignalForwarder) -> Result<Running, SpawnError> {
    let mut command = spec.command();
    let failed = |source| SpawnError {
        program: spec.program_name(),
        source,
    };
    #[cfg(unix)]
    let prepared = unix::prepare(&mut command);
    let child = command.spawn().map_err(failed)?;
    #[cfg(unix)]
    let supervision = unix::Supervision::start(&child, prepared);
    forwarder.attach(child.id());
    Ok(Running {
        child,
        #[cfg(unix)]
        supervision,
    })
}

impl Running {
    /// The child's process id (also its process group id on Unix).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the child to end (passing terminal stops on to oauth-mux's own job on
    /// Unix), take the terminal back, and stand the watchdog down.
    pub fn wait(self) -> io::Result<ChildExit> {
        #[cfg(unix)]
        {
            let Running { child, supervision } = self;
            supervision.wait(child).map(ChildExit::from_status)
        }
        #[cfg(not(unix))]
        {
            let Running { mut child } = self;
            child.wait().map(ChildExit::from_status)
        }
    }
}

/// Whether any process of the group led by `pid` (or `pid` itself) still exists; true
/// where that cannot be told (not Unix).
pub fn group_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        unix::group_alive(pid)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_signals_come_back_as_a_shell_reports_them() {
        let forwarder = SignalForwarder::install().unwrap();
        let run = |script: &str| {
            let spec = ChildSpec::new("sh").arg("-c").arg(script);
            spawn(&spec, &forwarder).unwrap().wait().unwrap()
        };
        assert_eq!(run("exit 7").shell_code(), 7);
        let killed = run("kill -9 $$");
        assert_eq!((killed.code, killed.signal), (137, Some(9)));
        let missing = spawn(&ChildSpec::new("/no/such/omux-program"), &forwarder)
            .err()
            .unwrap();
        assert_eq!(missing.shell_code(), 127);
        assert_eq!(missing.to_string(), "command not found: omux-program");
    }

    #[test]
    fn the_child_leads_its_own_process_group() {
        let forwarder = SignalForwarder::install().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pgid");
        let script = format!("ps -o pgid= -p $$ > {}", out.display());
        let spec = ChildSpec::new("sh").arg("-c").arg(script);
        let running = spawn(&spec, &forwarder).unwrap();
        let pid = running.pid();
        assert_eq!(running.wait().unwrap().code, 0);
        let pgid: u32 = std::fs::read_to_string(&out)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pgid, pid);
    }

    #[test]
    fn shell_codes_never_turn_a_failure_into_success() {
        let exit = |code| ChildExit { code, signal: None };
        assert_eq!(exit(0).shell_code(), 0);
        assert_eq!(exit(255).shell_code(), 255);
        assert_eq!(exit(256).shell_code(), 1);
        assert_eq!(exit(-1073741819).shell_code(), 5);
    }
}
