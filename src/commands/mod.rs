//! One module per command family. Each gathers inputs, asks the core, renders output.

pub mod afloat;
mod claude;
mod codex;
mod config_cmd;
pub mod context;
mod doctor;
pub mod evaluate;
pub mod facts;
mod health;
mod init;
pub mod inject;
mod inventory;
mod managed;
mod probe;
pub mod repair;
pub mod route;
pub mod update;
pub mod version;

use crate::cli::{AccountsCommand, Cli, Command, ProvidersCommand, RepairCommand, RouteCommand};

/// Run one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Codex(args) => codex::run(args),
        Command::Claude(args) => claude::run(args),
        Command::Demo => crate::demo::run::run(),
        Command::Version(args) => version::run(&args),
        Command::Update(args) => update::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Config(cmd) => config_cmd::run(&cmd),
        Command::Doctor(args) => doctor::run(&args),
        Command::Discover(args) => inventory::discover(args.json),
        Command::Report(args) => inventory::report(&args),
        Command::Providers(ProvidersCommand::List(args)) => inventory::providers_list(args.json),
        Command::Accounts(AccountsCommand::List(args)) => inventory::accounts_list(&args),
        Command::Health(args) => health::run(&args),
        Command::Route(RouteCommand::Select(a)) => route::run(&a.selectors, a.json, false),
        Command::Route(RouteCommand::Explain(a)) => route::run(&a.selectors, a.json, true),
        Command::RepairPlan(a) => route::repair_plan(&a.selectors, a.json),
        Command::Probe(args) => probe::run(&args),
        Command::Env(a) => inject::env(&a.selectors, a.shell.as_deref(), a.json),
        Command::Exec(a) => inject::exec(&a.selectors, &a.command),
        Command::Repair(RepairCommand::Run(a)) => repair::run(&a),
        Command::StayAfloat(a) => afloat::stay_afloat(&a),
        Command::Daemon(cmd) => afloat::daemon(&cmd),
        Command::Completions(args) => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(args.shell, &mut cmd, "oauth-mux", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            clap_mangen::Man::new(crate::cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
    }
}
