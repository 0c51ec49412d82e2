//! Every command and flag, with help text and examples.

use clap::{Args, Parser, Subcommand};

/// Parse the process arguments. Usage errors print clap's message and map to exit 2;
/// `--help`/`--version` print and map to 0.
pub fn parse() -> Result<Cli, u8> {
    Cli::try_parse().map_err(|err| {
        let _ = err.print();
        if err.use_stderr() { 2 } else { 0 }
    })
}

#[derive(Debug, Parser)]
#[command(
    name = "oauth-mux",
    version,
    about = "Keep AI coding harnesses working across several accounts per provider.",
    long_about = None,
    after_help = "Start here:\n  oauth-mux demo            see a quota handoff against a local fake provider\n  oauth-mux init --codex-max\n  oauth-mux doctor"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version.
    Version(VersionArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}

/// The clap command tree, for completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
