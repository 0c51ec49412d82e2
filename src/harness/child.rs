//! Run the real harness as a child with inherited stdio, pass termination signals to it,
//! and report how it ended.
//!
//! While the child runs, oauth-mux stays alive (its proxy serves the child): SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT sent to oauth-mux are forwarded to the child instead of
//! ending oauth-mux. A Ctrl-C typed at the terminal already reaches the child (same process
//! group), so on Linux a terminal-generated SIGINT/SIGQUIT is not sent a second time.

use std::ffi::OsString;
use std::process::{Command, ExitStatus};

use anyhow::Context;

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildExit {
    /// The exit code oauth-mux should return: the child's code, or 128 + signal.
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
}

/// A harness invocation: program, arguments and environment changes.
#[derive(Clone, Debug, Default)]
pub struct ChildSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub env_remove: Vec<String>,
    pub env_set: Vec<(String, OsString)>,
}

/// Spawn the child, forward signals while it runs, wait for it.
pub fn run(spec: &ChildSpec) -> anyhow::Result<ChildExit> {
    let mut command = Command::new(&spec.program);
    command.args(&spec.args);
    for name in &spec.env_remove {
        command.env_remove(name);
    }
    for (name, value) in &spec.env_set {
        command.env(name, value);
    }
    let program = std::path::Path::new(&spec.program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let forwarder = crate::child_signals::SignalForwarder::install()
        .context("could not install signal forwarding")?;
    let mut child = command.spawn().with_context(|| {
        format!("could not start `{program}`; install it or point oauth-mux at it (OMUX_CODEX_BIN / OMUX_CLAUDE_BIN)")
    })?;
    forwarder.attach(child.id());
    let status = child.wait().context("waiting for the harness failed");
    drop(forwarder);
    Ok(ChildExit::from_status(status?))
}
