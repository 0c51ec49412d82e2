//! One module per command family. Each gathers inputs, asks the core, renders output.

pub mod afloat;
mod canary;
mod claude;
mod codex;
mod config_cmd;
pub mod context;
pub mod dashboard;
mod doctor;
pub mod evaluate;
pub mod facts;
mod health;

pub mod inject;
mod inventory;
mod keepalive;
mod keepalive_unit;
mod live_qa;
mod managed;
mod onboard;
mod preflight;
mod probe;
pub mod repair;
pub mod route;
mod session_plan;
pub mod status;
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
        Command::Init(args) => onboard::init::run(&args),
        Command::Setup(args) => onboard::setup::run(&args),
        Command::Enroll(args) => onboard::enroll::run(&args),
        Command::Config(cmd) => config_cmd::run(&cmd),
        Command::Doctor(args) => doctor::run(&args),
        Command::Discover(args) => inventory::discover(args.json),
        Command::Report(args) => inventory::report(&args),
        Command::Providers(ProvidersCommand::List(args)) => inventory::providers_list(args.json),
        Command::Accounts(AccountsCommand::List(args)) => inventory::accounts_list(&args),
        Command::Health(args) => health::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Dashboard(args) => dashboard::run(&args),
        Command::Route(RouteCommand::Select(a)) => route::run(&a.selectors, a.json, false),
        Command::Route(RouteCommand::Explain(a)) => route::run(&a.selectors, a.json, true),
        Command::RepairPlan(a) => route::repair_plan(&a.selectors, a.json),
        Command::Probe(args) => probe::run(&args),
        Command::Env(a) => inject::env(&a.selectors, a.shell.as_deref(), a.json),
        Command::Exec(a) => inject::exec(&a.selectors, &a.command),
        Command::Repair(RepairCommand::Run(a)) => repair::run(&a),
        Command::StayAfloat(a) => afloat::stay_afloat(&a),
        Command::Daemon(cmd) => afloat::daemon(&cmd),
        Command::Keepalive(args) => keepalive::run(&args),
        Command::Completions(args) => {
            let mut cmd = crate::cli::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut cmd, "oauth-mux", &mut script);
            crate::output::write_stdout(&script);
            Ok(())
        }
        Command::Man => {
            crate::output::write_stdout(&man_page()?);
            Ok(())
        }
    }
}

/// The one manual page: clap's sections, with every command listed in it (nested ones
/// with their full path) instead of references to per-command pages that do not exist.
fn man_page() -> anyhow::Result<Vec<u8>> {
    let cmd = crate::cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    page.extend_from_slice(b".SH COMMANDS\n");
    fn list(page: &mut Vec<u8>, prefix: &str, cmd: &clap::Command) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let path = format!("{prefix} {}", sub.get_name());
            let about = sub
                .get_about()
                .map(|a| a.to_string().replace('\n', " "))
                .unwrap_or_default();
            page.extend_from_slice(
                format!(
                    ".TP\n\\fB{}\\fR\n{}\n",
                    roff_escape(&path),
                    roff_escape(&about)
                )
                .as_bytes(),
            );
            list(page, &path, sub);
        }
    }
    list(&mut page, "oauth-mux", &cmd);
    page.extend_from_slice(
        b".PP\nEvery command has \\fB\\-\\-help\\fR with examples; the documentation lives in the docs/ directory of the source tree.\n",
    );
    man.render_extra_section(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// Text safe in a roff paragraph: backslashes escaped, hyphens as minus signs, no line
/// starting with a control character.
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}
