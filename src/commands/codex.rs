//! `oauth-mux codex [run|resume|status-latest] [-- ARGS]`.

use super::managed::{self, HarnessLaunch};
use crate::cli::{CodexArgs, CodexCommand};
use crate::harness::status::HarnessKind;

/// Launch codex in a managed session, or summarize the newest one.
pub fn run(args: CodexArgs) -> anyhow::Result<()> {
    let (launch, codex_args) = match args.command {
        Some(CodexCommand::StatusLatest(flag)) => {
            return managed::status_latest(HarnessKind::Codex, flag.json);
        }
        Some(CodexCommand::Run(run)) => (run.launch, run.args),
        Some(CodexCommand::Resume(run)) => {
            let mut forwarded = vec!["resume".into()];
            forwarded.extend(run.args);
            (run.launch, forwarded)
        }
        None => (args.launch, args.args),
    };
    managed::launch(
        HarnessLaunch {
            harness: HarnessKind::Codex,
            default_profile: "codex-max",
            bin_env: "OMUX_CODEX_BIN",
            bin_name: "codex",
            args: codex_args,
            isolated_config: false,
        },
        &launch,
    )
}
