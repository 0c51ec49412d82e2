//! Exit codes (SPEC §7) and the typed failure that carries one to `main`.

use std::fmt;

/// The process exit codes oauth-mux promises. Documented in `docs/exit-codes.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Error = 1,
    Usage = 2,
    Config = 200,
    NoneSelectable = 201,
    SecretRead = 202,
    TokenRefresh = 203,
    Network = 204,
    /// `update --check` / `version --check`: a newer release is available.
    UpdateAvailable = 205,
    /// `update`: a verification failed (signature, checksum, test run); nothing changed.
    UpdateRefused = 206,
    /// `update`: a package manager (or no install receipt) owns the binary; nothing changed.
    NotSelfManaged = 207,
}

impl ExitCode {
    /// Every code, in numeric order (docs/exit-codes.md and docs/json.md list each one).
    pub const ALL: [ExitCode; 11] = [
        Self::Ok,
        Self::Error,
        Self::Usage,
        Self::Config,
        Self::NoneSelectable,
        Self::SecretRead,
        Self::TokenRefresh,
        Self::Network,
        Self::UpdateAvailable,
        Self::UpdateRefused,
        Self::NotSelfManaged,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// The stable name of the code in JSON errors (docs/json.md).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Usage => "usage",
            Self::Config => "config_error",
            Self::NoneSelectable => "none_selectable",
            Self::SecretRead => "secret_read_failed",
            Self::TokenRefresh => "token_refresh_failed",
            Self::Network => "network_error",
            Self::UpdateAvailable => "update_available",
            Self::UpdateRefused => "update_refused",
            Self::NotSelfManaged => "not_self_managed",
        }
    }
}

/// The JSON error every `--json` command prints on failure (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct JsonError {
    pub error: JsonErrorBody,
}

#[derive(Debug, serde::Serialize)]
pub struct JsonErrorBody {
    /// Stable name of the exit code (`config_error`, `none_selectable`, …).
    pub code: &'static str,
    pub exit_code: u8,
    /// What failed (redacted; never a secret).
    pub message: String,
    /// How to fix it, when the message says (`…; run X` or `…; fix Y`).
    pub hint: Option<String>,
    /// Commands to run next, taken from the message.
    pub next: Vec<String>,
}

impl JsonError {
    pub fn new(code: ExitCode, message: &str) -> JsonError {
        let hint = message
            .rsplit_once("; ")
            .map(|(_, fix)| fix.trim().to_owned())
            .filter(|fix| !fix.is_empty());
        let next = message
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.starts_with("oauth-mux "))
            .map(str::to_owned)
            .collect();
        JsonError {
            error: JsonErrorBody {
                code: code.name(),
                exit_code: code.code(),
                message: message.to_owned(),
                hint,
                next,
            },
        }
    }
}

/// Print a failure as the one JSON error object on stdout.
pub fn print_json_error(code: ExitCode, message: &str) {
    let _ = crate::output::print_json(&JsonError::new(code, message));
}

/// An error that already knows which exit code it maps to. Anything else that
/// reaches `main` maps to `1`.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An outcome whose output was already printed (for example a refused action that
/// still printed its JSON) but which must end the process with a non-zero code.
#[derive(Debug)]
pub struct Quiet(pub ExitCode);

impl fmt::Display for Quiet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0.code())
    }
}

impl std::error::Error for Quiet {}

/// The command ran a child (a harness, an `exec` command, a login) and ends with the child's
/// exit code: its output was the child's own, nothing more is printed.
#[derive(Debug)]
pub struct ChildExit(pub u8);

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "child exited with {}", self.0)
    }
}

impl std::error::Error for ChildExit {}

/// `Ok` when the child succeeded, else the [`ChildExit`] that ends the process with its code.
pub fn child_outcome(code: u8) -> anyhow::Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(ChildExit(code).into())
    }
}
