//! Every command and flag, with help text and examples. Commands appear here
//! only once they work.

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};

mod onboarding;
pub use onboarding::*;

/// A command-line parse that did not give a command: a usage error, or `--help`/`--version`.
pub struct ParseStop(clap::Error);

impl ParseStop {
    /// True for a usage error (not for `--help` or `--version`).
    pub fn is_error(&self) -> bool {
        self.0.use_stderr()
    }

    /// clap's message, plain.
    pub fn render(&self) -> String {
        self.0.render().to_string()
    }

    /// Print clap's message where clap prints it; the exit code (2 for a usage error).
    pub fn print_and_code(&self) -> u8 {
        let _ = self.0.print();
        if self.0.use_stderr() { 2 } else { 0 }
    }
}

/// Parse arguments already routed by [`route_harness_args`].
pub fn parse_from(argv: Vec<OsString>) -> Result<Cli, ParseStop> {
    Cli::try_parse_from(argv).map_err(ParseStop)
}

/// Whether the command line asks for JSON: `--json` among oauth-mux's own arguments (before
/// a `--` that starts a child's or a harness's arguments).
pub fn wants_json(argv: &[OsString]) -> bool {
    argv.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// After `oauth-mux codex` / `oauth-mux claude`, everything that is not one of oauth-mux's
/// own long options (read from the clap definitions below) or own subcommands belongs to
/// the harness: `oauth-mux claude -p "hi"`, `oauth-mux codex exec "…"`,
/// `oauth-mux codex resume --last`, `oauth-mux codex --model x`. This inserts the `--` that
/// hands it over, so clap sees `oauth-mux codex [OWN OPTIONS] -- HARNESS ARGS`. oauth-mux's
/// options come first; from the first argument that is not one, the rest is the harness's.
pub fn route_harness_args(argv: Vec<OsString>) -> Vec<OsString> {
    let Some(harness) = argv.get(1).and_then(|a| a.to_str()) else {
        return argv;
    };
    let root = command();
    let Some(mut cmd) = root
        .get_subcommands()
        .find(|c| c.get_name() == harness && (harness == "codex" || harness == "claude"))
        .cloned()
    else {
        return argv;
    };
    let mut out: Vec<OsString> = argv[..2].to_vec();
    let mut rest = argv[2..].iter().peekable();
    // An own subcommand: its own options, then the harness's (`run`, `resume`); the
    // others (`status-latest`, …) take no harness arguments and are left to clap.
    if let Some(name) = rest.peek().and_then(|a| a.to_str())
        && let Some(sub) = cmd.find_subcommand(name).cloned()
    {
        out.push(rest.next().expect("peeked").clone());
        if !sub.get_arguments().any(|a| a.is_last_set()) {
            out.extend(rest.cloned());
            return out;
        }
        cmd = sub;
    }
    let own = |arg: &str| -> Option<bool> {
        let name = arg.strip_prefix("--")?.split('=').next()?;
        if name == "help" {
            return Some(false);
        }
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_action().takes_values() && !arg.contains('='))
    };
    while let Some(arg) = rest.peek() {
        let Some(takes_value) = arg.to_str().and_then(&own) else {
            break;
        };
        out.push(rest.next().expect("peeked").clone());
        if takes_value && let Some(value) = rest.next() {
            out.push(value.clone());
        }
    }
    if rest.peek().is_some_and(|a| *a == "--") {
        rest.next();
    }
    let harness_args: Vec<OsString> = rest.cloned().collect();
    if !harness_args.is_empty() {
        out.push("--".into());
        out.extend(harness_args);
    }
    out
}

const AFTER_HELP: &str = "\
Start here:
  oauth-mux init --codex-max      a starter config and the account stores (never overwrites)
  oauth-mux doctor                what is configured, what is missing, what to run next
  oauth-mux setup codex           create what is missing; the login command per account
  oauth-mux route explain         which route would be used, and how to repair the others

Environment: OMUX_CONFIG, OMUX_CONFIG_DIR, OMUX_STATE_DIR, OMUX_RUNTIME_DIR.
Exit codes: 0 ok, 1 error, 2 usage, 200 config, 201 nothing selectable, 202 secret read,
203 token refresh, 204 network, 205-207 update (docs/exit-codes.md).";

#[derive(Debug, Parser)]
#[command(
    name = "oauth-mux",
    version,
    about = "Keep AI coding harnesses working across several accounts per provider.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// See a managed session hand a spent quota to a second account (local fake provider;
    /// no accounts, no network, nothing written outside a temporary directory).
    #[command(after_help = "Examples:\n  oauth-mux demo")]
    Demo,
    /// Print the version; with --check, also whether a newer release is out.
    #[command(
        after_help = "Examples:\n  oauth-mux version\n  oauth-mux version --json\n  oauth-mux version --check\n\nExit: 0 (with --check: up to date); 205 a newer release is available; 204\nthe release host is unreachable; 206 the release failed verification."
    )]
    Version(VersionArgs),
    /// Write a starter config and create the account stores it names (never overwrites).
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Set up Codex or Claude Code accounts: create what is missing, then the login per account.
    #[command(after_help = SETUP_HELP)]
    Setup(SetupArgs),
    /// Add an account of a harness provider (`enroll plan` shows the change first).
    #[command(after_help = ENROLL_HELP)]
    Enroll(EnrollArgs),
    /// Validate the config or print its path.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check what is configured and ready, without reading tokens or contacting providers.
    #[command(
        after_help = "Examples:\n  oauth-mux doctor --json\n  oauth-mux doctor runtime --provider codex --json"
    )]
    Doctor(DoctorArgs),
    /// Redacted inventory of providers, accounts and profiles, for agents.
    #[command(after_help = "Examples:\n  oauth-mux discover --json")]
    Discover(JsonFlag),
    /// A redacted support bundle: config summary, health, platform, tools.
    #[command(after_help = "Examples:\n  oauth-mux report --redacted --json")]
    Report(ReportArgs),
    /// Built-in and configured providers.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Configured accounts, their recorded health and each token's expiry and refresh
    /// admission (no spend; a token is read only from a file or environment secret).
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// One screen per profile: each account's state, usage windows, token, the account the
    /// next managed session starts on, and the last handoffs (local state only; no provider
    /// call).
    #[command(
        after_help = "Examples:\n  oauth-mux status\n  oauth-mux status --profile codex-max --watch\n  oauth-mux status --json"
    )]
    Status(StatusArgs),
    /// The same status in the browser: a read-only page on 127.0.0.1 behind a random token
    /// in its URL, with plots of usage and of handoffs and failures over the last day.
    #[command(
        after_help = "Examples:\n  oauth-mux dashboard\n  oauth-mux dashboard --open\n  oauth-mux dashboard --port 8765\n\nIt serves until interrupted (Ctrl-C). Only this machine can reach it, and only with the\nprinted URL; the page holds no secret, no raw account id and no path."
    )]
    Dashboard(DashboardArgs),
    /// Show recorded route health, or reset it.
    #[command(
        after_help = "Examples:\n  oauth-mux health --json\n  oauth-mux health --reset codex:max-1#codex-max\n  oauth-mux health --reset all"
    )]
    Health(HealthArgs),
    /// Select a route (no spend), or explain every route with its skip reason and repair.
    #[command(subcommand)]
    Route(RouteCommand),
    /// The repair action of every route, with the exact command; changes nothing.
    #[command(
        name = "repair-plan",
        after_help = "Examples:\n  oauth-mux repair-plan --profile codex-max --json"
    )]
    RepairPlan(SelectorsJson),
    /// Run the real Codex CLI in a managed session: its model traffic goes through a local
    /// proxy that answers a spent quota with another account of the profile.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "oauth-mux's own options are long-only and come first; every other argument\ngoes to codex unchanged (`--` before them works too).\n\nExamples:\n  oauth-mux codex\n  oauth-mux codex exec --skip-git-repo-check \"fix the tests\"\n  oauth-mux codex resume --last\n  oauth-mux codex --profile codex-max --model gpt-5.5\n  oauth-mux codex --no-side-traffic -- exec \"say hi\"\n  oauth-mux codex status-latest --json\n  oauth-mux codex preflight\n  oauth-mux codex login-device max-1\n\nEnvironment:\n  OMUX_CODEX_BIN       the codex binary (default: codex on PATH)\n  OMUX_CODEX_UPSTREAM  upstream origin (gateways, mirrors, tests)\n  OMUX_EXTRA_CA_FILE   extra PEM CA bundle for upstream TLS\n  HTTPS_PROXY          honoured for upstream traffic"
    )]
    Codex(CodexArgs),
    /// Run the real Claude Code CLI in a managed session (ANTHROPIC_BASE_URL points at a
    /// local proxy that answers a spent quota with another account of the profile).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "oauth-mux's own options are long-only and come first; every other argument\ngoes to claude unchanged (`--` before them works too).\n\nExamples:\n  oauth-mux claude\n  oauth-mux claude -p \"explain this repo\"\n  oauth-mux claude --profile claude --continue\n  oauth-mux claude --isolated-config --no-side-traffic\n  oauth-mux claude status-latest --json\n  oauth-mux claude preflight\n  oauth-mux claude login work\n\nEnvironment:\n  OMUX_CLAUDE_BIN       the claude binary (default: claude on PATH)\n  OMUX_CLAUDE_UPSTREAM  upstream origin (gateways, mirrors, tests)\n  OMUX_EXTRA_CA_FILE    extra PEM CA bundle for upstream TLS\n  HTTPS_PROXY           honoured for upstream traffic"
    )]
    Claude(ClaudeArgs),
    /// Probe routes against their providers and record the evidence (budgeted).
    #[command(after_help = PROBE_HELP)]
    Probe(ProbeArgs),
    /// Print shell exports for the selected route (config dir and OMUX_ACTIVE_* breadcrumbs; never tokens).
    #[command(after_help = ENV_HELP)]
    Env(EnvArgs),
    /// Run a command with the selected account injected; exits with the command's exit code.
    #[command(after_help = EXEC_HELP)]
    Exec(ExecArgs),
    // --- repair run / stay-afloat / daemon (afloat) ---
    /// Run at most one admitted repair (interactive ones only with --confirm-repair).
    #[command(
        subcommand,
        after_help = "Examples:\n  oauth-mux repair run --json\n  oauth-mux repair run --provider codex --account max-1 --confirm-repair"
    )]
    Repair(RepairCommand),
    /// The stay-afloat tick engine: plan (default) or run one admitted action per tick.
    #[command(
        name = "stay-afloat",
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  oauth-mux stay-afloat --once --json\n  oauth-mux stay-afloat --execute --profile cheap --json\n  oauth-mux stay-afloat --loop --iterations 3 --interval-ms 60000\n  oauth-mux stay-afloat next --json\n  oauth-mux stay-afloat handoffs --json"
    )]
    StayAfloat(StayAfloatArgs),
    /// Foreground daemon surfaces: ticks, the event log, pending handoffs.
    #[command(
        subcommand,
        after_help = "Examples:\n  oauth-mux daemon tick --once --json\n  oauth-mux daemon events --limit 20 --json\n  oauth-mux daemon handoffs --json"
    )]
    Daemon(DaemonCommand),
    // --- end afloat ---
    /// Refresh OAuth tokens before they expire, for every account whose writeback is admitted
    /// (cron, a systemd user timer, launchd; see `--print-unit`).
    #[command(after_help = KEEPALIVE_HELP)]
    Keepalive(KeepaliveArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  oauth-mux completions bash > ~/.local/share/bash-completion/completions/oauth-mux\n  oauth-mux completions fish > ~/.config/fish/completions/oauth-mux.fish"
    )]
    Completions(CompletionsArgs),
    /// Replace this binary with the newest signed release (or check for one).
    #[command(after_help = UPDATE_HELP)]
    Update(UpdateArgs),
    /// Print the man page (roff) to standard output.
    #[command(after_help = "Examples:\n  oauth-mux man > oauth-mux.1 && man ./oauth-mux.1")]
    Man,
}

/// `oauth-mux codex [run|resume|status-latest] [-- ARGS]`.
#[derive(Debug, Args)]
pub struct CodexArgs {
    #[command(subcommand)]
    pub command: Option<CodexCommand>,
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Arguments for codex (e.g. `exec "say hi"`, `--model x`); `--` before them is optional.
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum CodexCommand {
    /// Start codex with ARGS (the default when no subcommand is given).
    #[command(
        after_help = "Examples:\n  oauth-mux codex run\n  oauth-mux codex run exec \"say hi\""
    )]
    Run(HarnessRunArgs),
    /// `codex resume ARGS`: continue a session recorded through oauth-mux.
    #[command(after_help = "Examples:\n  oauth-mux codex resume\n  oauth-mux codex resume --last")]
    Resume(HarnessRunArgs),
    /// Summarize the newest managed Codex session: verdict and next action.
    #[command(
        name = "status-latest",
        after_help = "Examples:\n  oauth-mux codex status-latest\n  oauth-mux codex status-latest --json"
    )]
    StatusLatest(JsonFlag),
    /// Log an account in: `codex login --device-auth` with the account's CODEX_HOME
    /// (interactive; holds the account's repair lock; not with --json).
    #[command(
        name = "login-device",
        after_help = "Examples:\n  oauth-mux codex login-device max-1"
    )]
    LoginDevice(LoginArgs),
    #[command(flatten)]
    Check(HarnessCheck),
    /// Every check `oauth-mux codex` makes before it launches, without launching.
    #[command(
        after_help = format!("{PREFLIGHT_HELP}\n\nExamples:\n  oauth-mux codex preflight\n  oauth-mux codex preflight --profile codex-max --no-side-traffic --json"))]
    Preflight(PreflightArgs),
    /// Write a Codex Max candidate config beside the active one (one Codex account → three).
    #[command(
        name = "config-candidate",
        after_help = "Written only when the active config holds at most one Codex account, and never over an\nexisting file; nothing else changes. Try it with OMUX_CONFIG=<candidate>, then merge it.\n\nExamples:\n  oauth-mux codex config-candidate\n  oauth-mux codex config-candidate --json"
    )]
    ConfigCandidate(CandidateArgs),
    /// Merge a candidate's Codex provider and codex-max/codex-mini profiles into the config.
    #[command(
        name = "config-merge",
        after_help = "Validates the candidate and the merged result, keeps a backup of the active config beside\nit, and replaces it atomically; every other provider and profile is kept as it is.\n\nExamples:\n  oauth-mux codex config-merge --candidate ~/.config/oauth-mux/codex-max.config.json"
    )]
    ConfigMerge(MergeArgs),
}

/// `oauth-mux claude [status-latest] [-- ARGS]`.
#[derive(Debug, Args)]
pub struct ClaudeArgs {
    #[command(subcommand)]
    pub command: Option<ClaudeCommand>,
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Give Claude a fresh CLAUDE_CONFIG_DIR for this session only (removed at exit);
    /// by default Claude uses your own config dir.
    #[arg(long)]
    pub isolated_config: bool,
    /// Arguments for claude (e.g. `-p "say hi"`, `--continue`); `--` before them is optional.
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum ClaudeCommand {
    /// Summarize the newest managed Claude session: verdict and next action.
    #[command(
        name = "status-latest",
        after_help = "Examples:\n  oauth-mux claude status-latest\n  oauth-mux claude status-latest --json"
    )]
    StatusLatest(JsonFlag),
    /// Log an account in: `claude auth login` with the account's CLAUDE_CONFIG_DIR
    /// (interactive; holds the account's repair lock; not with --json).
    #[command(
        after_help = "Runs Claude Code's own subscription login, which stores a refreshable credential in the\naccount's store (.credentials.json). `claude setup-token` is not used: its token cannot be\nrefreshed and is printed instead of stored (docs/onboarding.md).\n\nExamples:\n  oauth-mux claude login work"
    )]
    Login(LoginArgs),
    #[command(flatten)]
    Check(HarnessCheck),
    /// Every check `oauth-mux claude` makes before it launches, without launching.
    #[command(after_help = format!("{PREFLIGHT_HELP}\n\nExamples:\n  oauth-mux claude preflight\n  oauth-mux claude preflight --isolated-config --json"))]
    Preflight(ClaudePreflightArgs),
}

/// A managed-session subcommand's own flags plus the harness arguments.
#[derive(Debug, Args)]
pub struct HarnessRunArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Arguments for the harness; `--` before them is optional.
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// `oauth-mux status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this profile (default: every profile).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// Redraw in place every `--interval` seconds until interrupted (with `--json`: one
    /// report per line).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between redraws with `--watch`.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub interval: u64,
    /// Print JSON (stable field names; see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// `oauth-mux dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the page in the system browser instead of only printing its URL.
    #[arg(long)]
    pub open: bool,
}

/// Flags shared by `oauth-mux codex` and `oauth-mux claude`.
#[derive(Debug, Args, Default, Clone)]
pub struct LaunchArgs {
    /// Profile whose accounts the session may use (default: codex-max / claude). Long
    /// only: `-p` and every other argument oauth-mux does not own go to the harness.
    #[arg(long)]
    pub profile: Option<String>,
    /// Turn off the harness's non-model traffic for this session only (Codex: plugin sync,
    /// apps MCP, analytics; Claude: telemetry, bootstrap, auto-update). Off by default:
    /// oauth-mux never changes your setup unless asked.
    #[arg(long)]
    pub no_side_traffic: bool,
    /// Extra PEM CA bundle trusted for upstream TLS (also OMUX_EXTRA_CA_FILE).
    #[arg(long, value_name = "PEM")]
    pub extra_ca_file: Option<std::path::PathBuf>,
}

const ENV_HELP: &str = "\
Prints `export K='V'` (fish: `set -gx K 'V';`) for the selected route: the account's
config-dir variable and the OMUX_ACTIVE_PROVIDER/ACCOUNT/CAPABILITY/PROFILE breadcrumbs.
Tokens are never printed (no oauth-mux command prints one): `direct_env` token variables and
the private credential dir of accounts without a config_dir appear as `#` comments; run the
command through `oauth-mux exec ... -- CMD` to get them. See docs/injection.md.

Examples:
  eval \"$(oauth-mux env --provider codex)\"
  oauth-mux env --profile codex-max --shell fish | source
  oauth-mux env --provider claude --account work --json";

const EXEC_HELP: &str = "\
Selects with no spend (a route without recorded evidence is not selectable; exit 201 and the
repair commands when nothing is). Sets the account's config-dir variable, or writes the
provider's credential template into a private 0700 temp dir that is removed when CMD exits;
sets `direct_env` token variables in CMD's environment only, plus OMUX_ACTIVE_* breadcrumbs.
The provider is detected from CMD's name when no --provider/--profile is given. SIGINT,
SIGTERM and SIGHUP are passed to CMD; the exit code is CMD's (a signal N gives 128+N;
127 when CMD is not found). An expired token fails closed with exit 203.

Examples:
  oauth-mux exec -- codex exec 'fix the tests'
  oauth-mux exec --provider claude --account work -- claude
  oauth-mux exec --profile codex-max --capability codex-max -- codex";

/// A lone `--json` flag.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON (stable field names; see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// Selectors plus `--json`.
#[derive(Debug, Args)]
pub struct SelectorsJson {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Print the route that would be used (exit 201 when none is selectable). No spend.
    #[command(after_help = "Examples:\n  oauth-mux route select --profile codex-max --json")]
    Select(SelectorsJson),
    /// Every route with its health, runtime, skip reason, writeback, admission and repair command.
    #[command(
        after_help = "Examples:\n  oauth-mux route explain\n  oauth-mux route explain --profile codex-max --capability codex-max --json"
    )]
    Explain(SelectorsJson),
}

// --- repair run / stay-afloat / daemon (afloat) ---

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Run the first actionable repair: an admitted probe, or (with --confirm-repair, no --json)
    /// an interactive login. Takes the account's repair lock; appends an event every time.
    #[command(
        after_help = "Examples:\n  oauth-mux repair run --profile cheap --json\n  oauth-mux repair run --provider codex --account max-1 --confirm-repair"
    )]
    Run(RepairRunArgs),
}

#[derive(Debug, Args)]
pub struct RepairRunArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Allow an interactive repair (a login); it runs in this terminal, so not with --json.
    #[arg(long)]
    pub confirm_repair: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of one stay-afloat run (`stay-afloat`, `daemon tick`).
#[derive(Debug, Args, Clone, Default)]
pub struct TickArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// One tick (the default).
    #[arg(long, conflicts_with = "loop_")]
    pub once: bool,
    /// Several ticks, `--interval-ms` apart (bounded by `--iterations`).
    #[arg(long = "loop")]
    pub loop_: bool,
    /// Ticks to run; more than 1 implies --loop.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub iterations: u32,
    /// Pause between loop ticks, in milliseconds (at most one hour).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub interval_ms: u64,
    /// Run at most one admitted non-interactive action per tick, or queue one handoff
    /// for a human (background policy decides; no confirmation flags apply).
    #[arg(long)]
    pub execute: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StayAfloatArgs {
    #[command(subcommand)]
    pub sub: Option<StayAfloatCommand>,
    #[command(flatten)]
    pub tick: TickArgs,
}

#[derive(Debug, Subcommand)]
pub enum StayAfloatCommand {
    /// What to run next (no spend): the exec argv for the selected route, or the repair.
    #[command(after_help = "Examples:\n  oauth-mux stay-afloat next --profile cheap --json")]
    Next(SelectorsJson),
    /// Run CMD on the selected route (exec with the route pinned); re-selects when the
    /// route is stale at launch; refuses with the mediation (exit 201) when none is selectable.
    #[command(
        after_help = "Examples:\n  oauth-mux stay-afloat launch --profile codex-max -- codex\n  oauth-mux stay-afloat launch --provider claude -- claude"
    )]
    Launch(ExecArgs),
    /// One execute tick, to refresh evidence (for example after a login).
    #[command(after_help = "Examples:\n  oauth-mux stay-afloat refresh --profile codex-max --json")]
    Refresh(SelectorsJson),
    /// Pending repair handoffs (or every handoff event with --all).
    #[command(
        after_help = "Examples:\n  oauth-mux stay-afloat handoffs --json\n  oauth-mux stay-afloat handoffs --all --limit 20"
    )]
    Handoffs(HandoffsArgs),
    /// Acknowledge or clear a pending handoff.
    #[command(
        subcommand,
        after_help = "Examples:\n  oauth-mux stay-afloat handoff ack --provider codex --account max-1\n  oauth-mux stay-afloat handoff clear --provider codex --account max-1 --json"
    )]
    Handoff(HandoffCommand),
}

#[derive(Debug, Args)]
pub struct HandoffsArgs {
    /// Every handoff event, not only the pending ones.
    #[arg(long)]
    pub all: bool,
    /// At most this many (the latest).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HandoffCommand {
    /// Note that a human saw the handoff; it stays pending.
    #[command(
        visible_alias = "acknowledge",
        after_help = "Examples:\n  oauth-mux stay-afloat handoff ack --provider codex --account max-1 --json"
    )]
    Ack(HandoffTarget),
    /// Mark the handoff resolved; it is no longer pending.
    #[command(
        visible_alias = "resolve",
        after_help = "Examples:\n  oauth-mux stay-afloat handoff clear --provider codex --account max-1 --json"
    )]
    Clear(HandoffTarget),
}

#[derive(Debug, Args)]
pub struct HandoffTarget {
    #[arg(long)]
    pub provider: String,
    #[arg(long)]
    pub account: String,
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    #[arg(long)]
    pub capability: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// One stay-afloat tick (same options as `stay-afloat`).
    #[command(
        after_help = "Examples:\n  oauth-mux daemon tick --once --json\n  oauth-mux daemon tick --execute --profile codex-max --json"
    )]
    Tick(TickArgs),
    /// The last events of the repair event log.
    #[command(after_help = "Examples:\n  oauth-mux daemon events --limit 20 --json")]
    Events(EventsArgs),
    /// Pending repair handoffs (alias of `stay-afloat handoffs`).
    #[command(after_help = "Examples:\n  oauth-mux daemon handoffs --all --json")]
    Handoffs(HandoffsArgs),
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// At most this many (the latest).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

// --- end afloat ---

const KEEPALIVE_HELP: &str = "\
Refreshes each selected account whose token expires within --within (default: the
provider's margin: 45 minutes for Claude, a day for Codex), sharing the real CLIs' locks so
nothing spends a refresh token twice. Accounts whose writeback is not admitted are listed
with the reason and left alone. Exit 203 when a refresh token was rejected (log in again),
204 when the token endpoint could not be reached.

Examples:
  oauth-mux keepalive
  oauth-mux keepalive --once --provider claude --json
  oauth-mux keepalive --within 2h
  oauth-mux keepalive --loop --interval 600
  oauth-mux keepalive --print-unit systemd
  oauth-mux keepalive --print-unit launchd --interval 1800";

/// `keepalive` arguments.
#[derive(Debug, Args)]
pub struct KeepaliveArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// One pass, then exit (the default).
    #[arg(long, conflicts_with = "loop_")]
    pub once: bool,
    /// Keep going: one pass every --interval seconds until stopped (or --iterations).
    #[arg(long = "loop")]
    pub loop_: bool,
    /// With --loop: stop after this many passes.
    #[arg(long, requires = "loop_", value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: Option<u32>,
    /// Seconds between passes (--loop) or timer runs (--print-unit).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,
    /// Refresh tokens that expire within this long: 90s, 45m, 2h, 1d (default: the
    /// provider definition's margin).
    #[arg(long, value_parser = parse_duration)]
    pub within: Option<u64>,
    /// Print a unit that runs `keepalive --once` every --interval seconds, and exit. Installs
    /// nothing.
    #[arg(long, value_enum, conflicts_with_all = ["once", "loop_", "json"])]
    pub print_unit: Option<UnitKind>,
    /// Print JSON (with --loop: one line per pass).
    #[arg(long)]
    pub json: bool,
}

/// Service managers `keepalive --print-unit` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnitKind {
    /// A systemd user service and timer.
    Systemd,
    /// A launchd user agent (macOS).
    Launchd,
}

/// `90`, `90s`, `45m`, `2h`, `1d` → seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 90s, 45m, 2h or 1d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}; use s, m, h or d")),
    };
    Ok(n.saturating_mul(scale))
}

/// Route selectors shared by every route-aware command.
#[derive(Debug, Args, Default, Clone)]
pub struct Selectors {
    /// Profile to use (an ordered list of routes).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// The capability wanted (e.g. codex-max).
    #[arg(long)]
    pub capability: Option<String>,
}

/// `env` arguments.
#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Shell syntax: bash, zsh, fish or ksh (default: config defaults.shell, else $SHELL, else bash).
    #[arg(long)]
    pub shell: Option<String>,
    /// Print JSON (exports and the names of withheld variables; never values of tokens).
    #[arg(long)]
    pub json: bool,
}

/// `exec` arguments.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config; every problem is listed with its JSON path and a fix (exit 200 when invalid).
    #[command(
        after_help = "Examples:\n  oauth-mux config validate\n  OMUX_CONFIG=examples/claude.config.json oauth-mux config validate --json"
    )]
    Validate(JsonFlag),
    /// Print the config file path oauth-mux uses.
    #[command(after_help = "Examples:\n  oauth-mux config path\n  oauth-mux config path --json")]
    Path(JsonFlag),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(subcommand)]
    pub sub: Option<DoctorCommand>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DoctorCommand {
    /// Binaries, store dirs, writability, session files and the token's expiry and refresh
    /// admission per account (a token is read only from a file or environment secret).
    #[command(
        after_help = "Examples:\n  oauth-mux doctor runtime\n  oauth-mux doctor runtime --profile codex-max --capability codex-max --json"
    )]
    Runtime(RuntimeArgs),
}

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Redact (the default; kept for compatibility).
    #[arg(long, default_value_t = true)]
    pub redacted: bool,
    /// Include file paths (config, state, secret locations). Never includes secret values.
    #[arg(long)]
    pub include_paths: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// List built-in and configured providers with their capabilities and budgets.
    #[command(
        after_help = "Examples:\n  oauth-mux providers list\n  oauth-mux providers list --json"
    )]
    List(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List configured accounts with runtime, writeback and per-capability health.
    #[command(
        after_help = "Examples:\n  oauth-mux accounts list\n  oauth-mux accounts list --provider codex --json"
    )]
    List(AccountsListArgs),
}

#[derive(Debug, Args)]
pub struct AccountsListArgs {
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Forget the recorded health of a route or account key (`provider:account[#capability]`), or `all`.
    #[arg(long, value_name = "KEY")]
    pub reset: Option<String>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub json: bool,
}

const PROBE_HELP: &str = "\
Without --all, routes are probed in selection order until one is usable; with
--all, every selected route is probed. Routes whose recorded state says to wait
(dead, quota or rate limit not yet reset) are skipped unless --all or --account
names them. An explicit `probe` may make cheap_provider calls (one small request,
e.g. GET /user); spend_provider probes (e.g. a Codex model turn) run only with
--confirm-spend or a config policy that admits them.

Examples:
  oauth-mux probe --profile expensive --json
  oauth-mux probe --provider github --account work --capability identity
  oauth-mux probe --provider codex --account max-1 --capability codex-max --confirm-spend
  oauth-mux probe --all --profile default --json

Exit: 0 a probed route is usable; 201 none is (also when a spend probe needed
--confirm-spend: the JSON says confirmation_required); 202 secret read failed;
203 token expired without an admitted refresh; 204 network error; 200 probe
request invalid (e.g. a {{PLACEHOLDER}} variable is unset).";

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub selectors: Selectors,
    /// Allow probes whose budget is spend_provider (they cost provider quota).
    #[arg(long)]
    pub confirm_spend: bool,
    /// Probe every selected route instead of stopping at the first usable one.
    #[arg(long)]
    pub all: bool,
    /// Print JSON: per route the outcome, budget, status, classification, decision,
    /// recorded liveness and evidence; plus `ok`, `exit_code`, `next_commands`.
    #[arg(long)]
    pub json: bool,
}

const UPDATE_HELP: &str = "\
Reads the install receipt next to the binary, fetches the release's SHA256SUMS and
SHA256SUMS.minisig, and checks the signature with the release key compiled into this
binary (and that it names SHA256SUMS and the release's version). `update` then downloads
the archive for this platform, checks its SHA-256, runs the new binary, swaps it in with
one rename and keeps the old one until the new one has run. A binary that Homebrew, npm,
Nix or a system package owns is never replaced: the manager's upgrade command is printed.
Only `update` and `version --check` contact the network.

Examples:
  oauth-mux update --check
  oauth-mux update
  oauth-mux update --yes --json
  oauth-mux update --version 0.3.0 --yes

Environment:
  OMUX_RELEASE_BASE_URL  the release directory (a mirror; `{version}` is replaced)
  HTTPS_PROXY, NO_PROXY  honoured

Exit: 0 up to date or updated; 205 (--check) an update is available; 204 the release
host is unreachable; 206 verification failed (nothing changed); 207 a package manager
owns the binary, or it has no install receipt (nothing changed); 1 not confirmed.";

/// `oauth-mux version [--json] [--check]`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also check the newest release (contacts the release host; see `update --check`).
    #[arg(long)]
    pub check: bool,
}

/// `oauth-mux update [--check] [--json] [--yes] [--version V]`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Only report whether an update is available (exit 205 when one is); change nothing.
    #[arg(long)]
    pub check: bool,
    /// Print JSON (status, versions, owner, release, next commands).
    #[arg(long)]
    pub json: bool,
    /// Replace the binary without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Install this release instead of the newest (may be older: a deliberate downgrade).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
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

#[cfg(test)]
mod harness_args_tests {
    use super::*;

    fn routed(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("oauth-mux")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        route_harness_args(argv)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    fn harness_args(args: &[&str]) -> Vec<String> {
        let argv = route_harness_args(
            std::iter::once("oauth-mux")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        );
        let cli = Cli::try_parse_from(argv).unwrap();
        let (own, args) = match cli.command {
            Command::Codex(c) => match c.command {
                Some(CodexCommand::Run(r) | CodexCommand::Resume(r)) => (r.launch, r.args),
                _ => (c.launch, c.args),
            },
            Command::Claude(c) => (c.launch, c.args),
            _ => panic!("not a harness command"),
        };
        let mut out: Vec<String> = own
            .profile
            .into_iter()
            .map(|p| format!("profile={p}"))
            .collect();
        out.extend(args.into_iter().map(|a| a.into_string().unwrap()));
        out
    }

    #[test]
    fn everything_oauth_mux_does_not_own_goes_to_the_harness() {
        assert_eq!(harness_args(&["claude", "-p", "hi"]), ["-p", "hi"]);
        assert_eq!(
            harness_args(&["codex", "exec", "say hi"]),
            ["exec", "say hi"]
        );
        assert_eq!(harness_args(&["codex", "--model", "x"]), ["--model", "x"]);
        assert_eq!(harness_args(&["codex", "resume", "--last"]), ["--last"]);
        assert_eq!(
            harness_args(&["codex", "--profile", "work", "exec", "--profile", "p2"]),
            ["profile=work", "exec", "--profile", "p2"],
            "oauth-mux's options come first; after the first harness argument all is the harness's"
        );
        assert_eq!(
            harness_args(&["claude", "--profile=team", "--", "--profile", "x"]),
            ["profile=team", "--profile", "x"]
        );
        assert_eq!(
            harness_args(&["claude", "--no-side-traffic", "--isolated-config", "-c"]),
            ["-c"]
        );
    }

    #[test]
    fn own_subcommands_and_other_commands_are_left_alone() {
        assert_eq!(
            routed(&["codex", "status-latest", "--json"]),
            ["codex", "status-latest", "--json"]
        );
        assert_eq!(
            routed(&["route", "explain", "-p", "x"]),
            ["route", "explain", "-p", "x"]
        );
        assert_eq!(routed(&["codex", "--help"]), ["codex", "--help"]);
        assert_eq!(routed(&["claude"]), ["claude"]);
    }
}
