//! The one error type of the state layer.
//!
//! Every variant names the file involved and says what to do next. Messages never
//! contain file contents, so they cannot leak a secret that ended up in a state file.
//!
//! Exit code: every state failure maps to [`ExitCode::Error`] (1). State problems are
//! not configuration problems (200) and not secret problems (202): the user fixes them
//! by moving a file aside, fixing permissions or waiting for another process.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exit::{ExitCode, Failure};

/// What went wrong in the state layer, with the file it concerns.
#[derive(Debug)]
pub enum StoreError {
    /// Neither an override variable nor `HOME` says where a directory lives.
    NoHome {
        /// Which directory could not be resolved (`config`, `state`, `data`).
        what: &'static str,
        /// The variables that would have resolved it.
        variables: &'static str,
    },
    /// Reading, writing or locking a file failed at the OS level.
    Io {
        /// What was being done (`read`, `write`, `lock`, ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A state file exists but its content cannot be understood. It is left untouched.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. `invalid JSON at line 3 column 7: expected value`.
        problem: String,
        /// How to recover, e.g. a command to run.
        fix: String,
    },
    /// Another live process held a lock for longer than we were willing to wait.
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// An event could not be appended to the event log.
    InvalidEvent {
        /// The event log.
        path: PathBuf,
        /// Why the event was refused.
        problem: String,
    },
}

impl StoreError {
    /// The process exit code for this error: always [`ExitCode::Error`] (1).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Error
    }

    /// Build an [`StoreError::Io`] for `path`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file this error concerns, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::NoHome { .. } => None,
            Self::Io { path, .. }
            | Self::Corrupt { path, .. }
            | Self::LockTimeout { path, .. }
            | Self::InvalidEvent { path, .. } => Some(path),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHome { what, variables } => write!(
                f,
                "cannot locate the oauth-mux {what} directory: HOME is not set; \
                 set HOME or one of {variables}"
            ),
            Self::Io {
                action,
                path,
                source,
            } => {
                write!(f, "cannot {action} {}: {source}", path.display())?;
                if source.kind() == io::ErrorKind::PermissionDenied {
                    write!(
                        f,
                        "; check that you own it and its permissions (files 0600, directories 0700)"
                    )?;
                }
                Ok(())
            }
            Self::Corrupt { path, problem, fix } => write!(
                f,
                "state file {} is unreadable: {problem}; it was left untouched; {fix}",
                path.display()
            ),
            Self::LockTimeout { path, waited } => write!(
                f,
                "timed out after {:.1}s waiting for the lock {}: another live oauth-mux \
                 process holds it; retry when it finishes (a crashed holder releases the \
                 lock automatically)",
                waited.as_secs_f64(),
                path.display()
            ),
            Self::InvalidEvent { path, problem } => write!(
                f,
                "refused to append an event to {}: {problem}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::new(err.exit_code(), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_error_names_file_problem_and_fix() {
        let err = StoreError::Corrupt {
            path: PathBuf::from("/s/health.json"),
            problem: "invalid JSON at line 2 column 5: expected value".into(),
            fix: "move it aside".into(),
        };
        let text = err.to_string();
        assert!(text.contains("/s/health.json"), "{text}");
        assert!(text.contains("line 2 column 5"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
        let failure = Failure::from(err);
        assert_eq!(failure.code, ExitCode::Error);
    }

    #[test]
    fn lock_timeout_names_lock_file() {
        let err = StoreError::LockTimeout {
            path: PathBuf::from("/r/health.json.lock"),
            waited: Duration::from_millis(1500),
        };
        let text = err.to_string();
        assert!(text.contains("/r/health.json.lock"), "{text}");
        assert!(text.contains("1.5s"), "{text}");
    }
}
