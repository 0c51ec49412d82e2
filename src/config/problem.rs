//! A configuration problem: where (a JSON path), what, and how to fix it.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of config validation. Errors make the config invalid (exit 200);
/// warnings (unknown keys, likely typos) are reported but do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// JSON path, e.g. `providers.codex.accounts.max-1.secret.backend`; `$` is the document.
    pub path: String,
    pub message: String,
    pub hint: String,
}

impl Problem {
    pub fn error(
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn warning(
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}: {}", self.path, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Join a JSON path and a key (`a.b` + `c` → `a.b.c`; `$` + `c` → `c`).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() || path == "$" {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
