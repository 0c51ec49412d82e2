//! oauth-mux: typed, route-scoped account health for AI coding harnesses, credential
//! injection, and a managed-session failover proxy.
//!
//! The crate is a pure core (`model`) with a thin shell around it (`commands`,
//! `config`, `secrets`, `store`, `probe`, `proxy`, `harness`).

pub mod child;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod exit;
pub mod harness;
pub mod http_agent;
pub mod inject;
pub mod model;
pub mod oauth;
pub mod output;
pub mod probe;
pub mod proxy;
pub mod routes;
pub mod secrets;
pub mod store;
pub mod update;
pub mod util;

/// This build's version (the workspace version in Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

use exit::{ChildExit, ExitCode, Failure, Quiet};

/// Entry point used by `main.rs`: parse, run, map errors to exit codes.
pub fn main_entry() -> std::process::ExitCode {
    let argv = cli::route_harness_args(std::env::args_os().collect());
    let json = cli::wants_json(&argv);
    let cli = match cli::parse_from(argv) {
        Ok(cli) => cli,
        Err(usage) => {
            return std::process::ExitCode::from(if json && usage.is_error() {
                let message = usage.render().to_string();
                exit::print_json_error(ExitCode::Usage, message.trim());
                ExitCode::Usage.code()
            } else {
                usage.print_and_code()
            });
        }
    };
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => match err.chain().find_map(|c| c.downcast_ref::<ChildExit>()) {
            Some(child) => std::process::ExitCode::from(child.0),
            None => std::process::ExitCode::from(report_error(&err, json).code()),
        },
    }
}

/// Report a failure: a line on stderr, or with `--json` one `{"error": …}` object on
/// stdout (docs/json.md); the exit code is the same either way.
fn report_error(err: &anyhow::Error, json: bool) -> ExitCode {
    if let Some(quiet) = err.downcast_ref::<Quiet>() {
        return quiet.0;
    }
    let code = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>().map(|f| f.code))
        .unwrap_or(ExitCode::Error);
    let message = format!("{err:#}");
    if json {
        exit::print_json_error(code, &message);
    } else {
        output::warn(&format!("oauth-mux: error: {message}"));
    }
    code
}
