//! The harness binary a managed session, a login handoff and a preflight run: `$OMUX_CODEX_BIN`
//! / `$OMUX_CLAUDE_BIN` when set, else `codex` / `claude` on `PATH`; and its version.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::starter::Starter;
use crate::exit::{ExitCode, Failure};
use crate::routes;

/// The harness binary of `starter`'s provider, or an error that says how to provide one.
pub fn program(starter: &Starter) -> Result<PathBuf, Failure> {
    find(starter.bin_env, starter.provider)
}

/// `$<bin_env>` when set (non-empty), else the first `name` on `PATH`.
pub fn find(bin_env: &str, name: &str) -> Result<PathBuf, Failure> {
    if let Some(path) = std::env::var_os(bin_env).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    routes::find_on_path(name).ok_or_else(|| {
        Failure::new(
            ExitCode::Error,
            format!("`{name}` is not on PATH; install it or set {bin_env} to its path"),
        )
    })
}

/// The first line `PROGRAM --version` prints (`codex-cli 0.169.0`, `2.1.197 (Claude Code)`),
/// or why there is none. Bounded by a timeout; the output is kept short.
pub fn version(program: &std::path::Path) -> Result<String, String> {
    let argv = [
        program.to_string_lossy().into_owned(),
        "--version".to_owned(),
    ];
    let result = crate::probe::command::run(&crate::probe::command::CommandSpec {
        argv: &argv,
        env: Vec::new(),
        timeout: Duration::from_secs(20),
    })
    .map_err(|runtime| format!("it could not start ({})", runtime.label()))?;
    if result.timed_out {
        return Err("`--version` did not answer within 20 s".into());
    }
    let line = result
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if result.exit_code != Some(0) || line.is_empty() {
        return Err(format!(
            "`--version` exited {} without a version",
            result
                .exit_code
                .map_or_else(|| "by a signal".into(), |c| c.to_string())
        ));
    }
    Ok(line.chars().take(120).collect())
}
