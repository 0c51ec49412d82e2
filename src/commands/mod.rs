//! One module per command family. Each gathers inputs, asks the core, renders output.

mod version;

use crate::cli::{Cli, Command};

/// Run one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version(args) => version::run(&args),
        Command::Completions(args) => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(args.shell, &mut cmd, "oauth-mux", &mut std::io::stdout());
            Ok(())
        }
    }
}
