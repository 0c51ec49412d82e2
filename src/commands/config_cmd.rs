//! `oauth-mux config validate` and `oauth-mux config path`.

use serde::Serialize;

use super::context::Context;
use crate::cli::ConfigCommand;
use crate::config::{self, Problem};
use crate::exit::{ExitCode, Quiet};
use crate::output;

#[derive(Serialize)]
struct ValidateReport {
    ok: bool,
    configured: bool,
    config_path: String,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct PathReport {
    config_path: String,
    exists: bool,
    source: &'static str,
}

pub fn run(cmd: &ConfigCommand) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    match cmd {
        ConfigCommand::Path(flag) => {
            let report = PathReport {
                config_path: ctx.dirs.config_file.display().to_string(),
                exists: ctx.dirs.config_file.exists(),
                source: config_source(),
            };
            output::emit(flag.json, &report, |r| r.config_path.clone())
        }
        ConfigCommand::Validate(flag) => validate(&ctx, flag.json),
    }
}

fn config_source() -> &'static str {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    if set("OMUX_CONFIG") {
        "OMUX_CONFIG"
    } else if set("OMUX_CONFIG_DIR") {
        "OMUX_CONFIG_DIR"
    } else {
        "platform_default"
    }
}

fn validate(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let path = &ctx.dirs.config_file;
    let (configured, problems) = match config::load::read_config_text(path) {
        Ok(None) => (
            false,
            vec![Problem::error(
                "$",
                format!("no config file at {}", path.display()),
                "run `oauth-mux init` (or `init --codex-max`), or set OMUX_CONFIG",
            )],
        ),
        Ok(Some(text)) => (true, config::check_text(&text).1),
        Err(p) => (true, vec![p]),
    };
    let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
        problems.into_iter().partition(Problem::is_error);
    let ok = errors.is_empty();
    let next_commands = if ok {
        vec!["oauth-mux doctor".into(), "oauth-mux route explain".into()]
    } else if configured {
        // Fix the fields listed, in the file `config path` names.
        vec!["${EDITOR:-vi} \"$(oauth-mux config path)\"".into()]
    } else {
        vec!["oauth-mux init".into(), "oauth-mux init --codex-max".into()]
    };
    let report = ValidateReport {
        ok,
        configured,
        config_path: path.display().to_string(),
        errors,
        warnings,
        next_commands,
    };
    output::emit(json, &report, |r| {
        let mut out = String::new();
        if r.ok {
            out.push_str(&format!("config: valid ({})\n", r.config_path));
        } else {
            out.push_str(&format!(
                "config: invalid ({}): {} error(s)\n",
                r.config_path,
                r.errors.len()
            ));
        }
        for p in r.errors.iter().chain(&r.warnings) {
            out.push_str(&format!("  {p}\n"));
        }
        out + &output::next_block(&r.next_commands)
    })?;
    if ok {
        Ok(())
    } else {
        Err(Quiet(ExitCode::Config).into())
    }
}
