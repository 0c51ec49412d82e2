//! The onboarding commands' arguments: `init`, `setup`, `enroll`, and the harness
//! subcommands `login-device`/`login`, `canary`, `live-qa`, `preflight`,
//! `config-candidate` and `config-merge`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::LaunchArgs;
use crate::harness::status::HarnessKind;

/// A harness provider (`codex`, `claude`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HarnessName {
    /// OpenAI Codex CLI (ChatGPT subscription or API key accounts).
    Codex,
    /// Claude Code (Claude subscription or API key accounts).
    Claude,
}

impl HarnessName {
    pub fn kind(self) -> HarnessKind {
        match self {
            HarnessName::Codex => HarnessKind::Codex,
            HarnessName::Claude => HarnessKind::Claude,
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Three Codex accounts (max-1, max-2, max-3) in the codex-max and codex-mini profiles.
    #[arg(long)]
    pub codex_max: bool,
    /// Claude Code accounts (personal, work) in the claude profile.
    #[arg(long)]
    pub claude: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub const INIT_HELP: &str = "\
Writes the config only when there is none; an existing config is extended with `setup`,
`enroll` or `codex config-merge`, never rewritten by init. Every account the starter names
gets its own store (0700) under the data dir ($XDG_DATA_HOME/oauth-mux/<provider>/<account>),
which the harness's login fills; init then prints the login command of each account.

Examples:
  oauth-mux init --codex-max
  oauth-mux init --claude
  oauth-mux init --codex-max --claude --json
  oauth-mux init";

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The harness to set up.
    #[arg(value_enum)]
    pub harness: HarnessName,
    /// The accounts to have (comma-separated; default: the configured ones, else the
    /// starter's: max-1,max-2,max-3 for codex, personal,work for claude).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub accounts: Vec<String>,
    /// Only report what would change (also implied by --json).
    #[arg(long)]
    pub plan: bool,
    /// Print JSON; like --plan, changes nothing.
    #[arg(long)]
    pub json: bool,
}

pub const SETUP_HELP: &str = "\
Idempotent: creates only what is missing (the config or the provider's accounts and
profiles, through the same checked, backed-up write as `enroll`; the account stores),
then lists every account with whether its store holds usable credentials and, for each
that does not, the exact login command. Running it again changes nothing.

Examples:
  oauth-mux setup codex
  oauth-mux setup claude --accounts personal,work
  oauth-mux setup codex --plan
  oauth-mux setup claude --json";

/// `enroll [plan] PROVIDER --account NAME`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EnrollArgs {
    #[command(subcommand)]
    pub sub: Option<EnrollCommand>,
    #[command(flatten)]
    pub target: EnrollTarget,
    /// Write the config and create the store (without it, enroll only shows the plan).
    #[arg(long)]
    pub confirm_enroll: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnrollCommand {
    /// Show the config change and the store an enrollment would make; changes nothing.
    #[command(
        after_help = "Examples:\n  oauth-mux enroll plan codex --account max-4\n  oauth-mux enroll plan claude --account work --json"
    )]
    Plan(EnrollTarget),
}

#[derive(Debug, Args)]
pub struct EnrollTarget {
    /// The harness provider to add the account to.
    #[arg(value_enum, required = true)]
    pub provider: Option<HarnessName>,
    /// The new account's name (letters, digits, '-', '_', '.').
    #[arg(long, required = true)]
    pub account: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub const ENROLL_HELP: &str = "\
Adds the account to the provider (creating the provider when the config has none) and to
the provider's profiles (codex: codex-max and codex-mini; claude: claude), with its own
store under the data dir. The new config is validated before it is written; the previous
one is kept as a backup beside it and replaced atomically. A name that exists is refused.

Examples:
  oauth-mux enroll plan codex --account max-4
  oauth-mux enroll codex --account max-4 --confirm-enroll
  oauth-mux enroll claude --account work --confirm-enroll --json";

/// `codex login-device ACCOUNT` / `claude login ACCOUNT`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The account to log in (its store receives the credentials).
    pub account: String,
    /// The provider holding the account (default: the only one of this harness).
    #[arg(long)]
    pub provider: Option<String>,
    /// Refused: a login runs in this terminal and needs a person.
    #[arg(long)]
    pub json: bool,
}

/// The account checks both harnesses have: `canary` and `live-qa`.
#[derive(Debug, Subcommand)]
pub enum HarnessCheck {
    /// Check every account without a provider call: store, credentials, expiry, plan, session use.
    #[command(after_help = format!(
        "{CANARY_HELP}\n\nExamples:\n  oauth-mux codex canary\n  oauth-mux claude canary --json\n  oauth-mux codex canary --profile codex-mini"
    ))]
    Canary(CanaryArgs),
    /// One minimal model request per route (with --confirm-spend) and capability coverage.
    #[command(name = "live-qa", after_help = format!(
        "{LIVE_QA_HELP}\n\nExamples:\n  oauth-mux codex live-qa\n  oauth-mux codex live-qa --confirm-spend --json\n  oauth-mux claude live-qa --confirm-spend"
    ))]
    LiveQa(LiveQaArgs),
}

/// `codex|claude canary`.
#[derive(Debug, Args)]
pub struct CanaryArgs {
    /// The profile whose accounts to check (default: codex-max / claude).
    #[arg(long)]
    pub profile: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `codex|claude live-qa`.
#[derive(Debug, Args)]
pub struct LiveQaArgs {
    /// The profile whose routes to check (default: codex-max / claude).
    #[arg(long)]
    pub profile: Option<String>,
    /// Send one minimal model request per route (costs quota); without it, only the plan.
    #[arg(long)]
    pub confirm_spend: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `codex|claude preflight`.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `claude preflight` (also takes `--isolated-config`).
#[derive(Debug, Args)]
pub struct ClaudePreflightArgs {
    #[command(flatten)]
    pub preflight: PreflightArgs,
    /// Check as for `oauth-mux claude --isolated-config`.
    #[arg(long)]
    pub isolated_config: bool,
}

/// `codex config-candidate`.
#[derive(Debug, Args)]
pub struct CandidateArgs {
    /// Where to write the candidate (default: codex-max.config.json beside the config).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `codex config-merge --candidate PATH`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The candidate config (from `oauth-mux codex config-candidate`).
    #[arg(long, value_name = "PATH")]
    pub candidate: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub const CANARY_HELP: &str = "\
No provider call: per account of the profile, whether its store exists, its credentials
parse and are not expired (with the expiry), the plan and entitlement claims the token
carries, and whether the next managed session would use the account (and in which place).
Exit 0 when every account is usable and a session can start.";

pub const LIVE_QA_HELP: &str = "\
Without --confirm-spend: prints the request each route would make, and changes nothing
(exit 1, confirmation_required). With it: one minimal model request per route, recorded as
evidence like `probe`. Coverage: a capability counts as covered while one account answers
for it, so `routes_unavailable` may be above 0 while `ok` stays true; a capability with no
available account is in `capabilities_uncovered` and the exit code is 1.";

pub const PREFLIGHT_HELP: &str = "\
Every check the managed session makes before it launches, without launching and without a
model request: the harness binary and its version, the account stores, the accounts the
session would use in the order it would try them (the same planning the launch runs), the
upstream's reachability (a TCP connect and TLS handshake, no request), and the side-traffic
settings the session would apply. Exit 0 when a session can start.";
