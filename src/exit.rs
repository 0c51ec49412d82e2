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
    pub fn code(self) -> u8 {
        self as u8
    }
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
