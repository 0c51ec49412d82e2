//! Export statements for the shells `env` supports, with values quoted so the
//! shell takes them literally.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A shell `env` can print for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Ksh,
}

impl FromStr for Shell {
    type Err = String;
    fn from_str(s: &str) -> Result<Shell, String> {
        match s.rsplit('/').next().unwrap_or(s) {
            "bash" | "sh" | "dash" => Ok(Shell::Bash),
            "zsh" => Ok(Shell::Zsh),
            "fish" => Ok(Shell::Fish),
            "ksh" | "mksh" => Ok(Shell::Ksh),
            other => Err(format!(
                "unsupported shell {other:?}; use bash, zsh, fish or ksh"
            )),
        }
    }
}

impl fmt::Display for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Ksh => "ksh",
        })
    }
}

impl Shell {
    /// `export K='V'` (POSIX-like shells) or `set -gx K 'V';` (fish).
    pub fn export_line(self, name: &str, value: &str) -> String {
        match self {
            Shell::Fish => format!("set -gx {name} {};", quote_fish(value)),
            _ => format!("export {name}={}", quote_posix(value)),
        }
    }
}

/// Single-quote for sh/bash/zsh/ksh: `'` becomes `'\''`.
pub fn quote_posix(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Single-quote for fish: `\` and `'` are backslash-escaped inside quotes.
pub fn quote_fish(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_values_literal() {
        assert_eq!(
            Shell::Bash.export_line("K", "a'b $x"),
            r"export K='a'\''b $x'"
        );
        assert_eq!(
            Shell::Fish.export_line("K", r"a'b\c"),
            r"set -gx K 'a\'b\\c';"
        );
        assert_eq!("/usr/bin/zsh".parse::<Shell>(), Ok(Shell::Zsh));
        assert!("tcsh".parse::<Shell>().is_err());
    }
}
