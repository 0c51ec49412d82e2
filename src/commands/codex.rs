//! `oauth-mux codex [run|resume|status-latest|login-device|canary|live-qa|preflight|
//! config-candidate|config-merge] [-- ARGS]`.

use super::managed::{self, HarnessLaunch};
use super::{canary, live_qa, onboard, preflight};
use crate::cli::{CodexArgs, CodexCommand, HarnessCheck};
use crate::harness::status::HarnessKind;

/// Launch codex in a managed session, or run one of its own subcommands.
pub fn run(args: CodexArgs) -> anyhow::Result<()> {
    const CODEX: HarnessKind = HarnessKind::Codex;
    let (launch, codex_args) = match args.command {
        Some(CodexCommand::StatusLatest(flag)) => {
            return managed::status_latest(CODEX, flag.json);
        }
        Some(CodexCommand::LoginDevice(a)) => return onboard::login::run(CODEX, &a),
        Some(CodexCommand::Check(HarnessCheck::Canary(a))) => return canary::run(CODEX, &a),
        Some(CodexCommand::Check(HarnessCheck::LiveQa(a))) => return live_qa::run(CODEX, &a),
        Some(CodexCommand::Preflight(a)) => return preflight::run(CODEX, &a, false),
        Some(CodexCommand::ConfigCandidate(a)) => return onboard::candidate::candidate(&a),
        Some(CodexCommand::ConfigMerge(a)) => return onboard::candidate::merge(&a),
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
            harness: CODEX,
            args: codex_args,
            isolated_config: false,
        },
        &launch,
    )
}
