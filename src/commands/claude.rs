//! `oauth-mux claude [status-latest] [-- ARGS]`.

use super::managed::{self, HarnessLaunch};
use crate::cli::{ClaudeArgs, ClaudeCommand};
use crate::harness::status::HarnessKind;

/// Launch claude in a managed session, or summarize the newest one.
pub fn run(args: ClaudeArgs) -> anyhow::Result<()> {
    if let Some(ClaudeCommand::StatusLatest(flag)) = args.command {
        return managed::status_latest(HarnessKind::Claude, flag.json);
    }
    managed::launch(
        HarnessLaunch {
            harness: HarnessKind::Claude,
            default_profile: "claude",
            bin_env: "OMUX_CLAUDE_BIN",
            bin_name: "claude",
            args: args.args,
            isolated_config: args.isolated_config,
        },
        &args.launch,
    )
}
