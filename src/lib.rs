//! oauth-mux: typed, route-scoped account health for AI coding harnesses, credential
//! injection, and a managed-session failover proxy.
//!
//! The crate is a pure core (`model`) with a thin shell around it (`commands`,
//! `config`, `secrets`, `store`, `probe`, `proxy`, `harness`).

pub mod child_signals;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod exit;
pub mod harness;
pub mod inject;
pub mod model;
pub mod output;
pub mod probe;
pub mod proxy;
pub mod routes;
pub mod secrets;
pub mod store;
pub mod update;

use exit::{ExitCode, Failure, Quiet};

/// Entry point used by `main.rs`: parse, run, map errors to exit codes.
pub fn main_entry() -> std::process::ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return std::process::ExitCode::from(code),
    };
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => std::process::ExitCode::from(report_error(&err).code()),
    }
}

fn report_error(err: &anyhow::Error) -> ExitCode {
    if let Some(quiet) = err.downcast_ref::<Quiet>() {
        return quiet.0;
    }
    let code = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>().map(|f| f.code))
        .unwrap_or(ExitCode::Error);
    output::warn(&format!("oauth-mux: error: {err:#}"));
    code
}
