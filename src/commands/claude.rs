//! `oauth-mux claude [status-latest|login|canary|live-qa|preflight] [-- ARGS]`.

use super::managed::{self, HarnessLaunch};
use super::{canary, live_qa, onboard, preflight};
use crate::cli::{ClaudeArgs, ClaudeCommand, HarnessCheck};
use crate::harness::status::HarnessKind;

/// Launch claude in a managed session, or run one of its own subcommands.
pub fn run(args: ClaudeArgs) -> anyhow::Result<()> {
    const CLAUDE: HarnessKind = HarnessKind::Claude;
    match args.command {
        Some(ClaudeCommand::StatusLatest(flag)) => {
            return managed::status_latest(CLAUDE, flag.json);
        }
        Some(ClaudeCommand::Login(a)) => return onboard::login::run(CLAUDE, &a),
        Some(ClaudeCommand::Check(HarnessCheck::Canary(a))) => return canary::run(CLAUDE, &a),
        Some(ClaudeCommand::Check(HarnessCheck::LiveQa(a))) => return live_qa::run(CLAUDE, &a),
        Some(ClaudeCommand::Preflight(a)) => {
            return preflight::run(CLAUDE, &a.preflight, a.isolated_config);
        }
        None => {}
    }
    managed::launch(
        HarnessLaunch {
            harness: CLAUDE,
            args: args.args,
            isolated_config: args.isolated_config,
        },
        &args.launch,
    )
}
