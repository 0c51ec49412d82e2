//! Every command and flag, with help text and examples. Commands appear here
//! only once they work.

use clap::{Args, Parser, Subcommand};

/// Parse the process arguments. Usage errors print clap's message and map to exit 2;
/// `--help`/`--version` print and map to 0.
pub fn parse() -> Result<Cli, u8> {
    Cli::try_parse().map_err(|err| {
        let _ = err.print();
        if err.use_stderr() { 2 } else { 0 }
    })
}

const AFTER_HELP: &str = "\
Start here:
  oauth-mux init --codex-max      write a starter config (never overwrites)
  oauth-mux doctor                what is configured, what is missing, what to run next
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
    /// Write a starter config (never overwrites an existing one).
    #[command(after_help = "Examples:\n  oauth-mux init\n  oauth-mux init --codex-max")]
    Init(InitArgs),
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
    /// Configured accounts and their recorded health (no spend, no token reads).
    #[command(subcommand)]
    Accounts(AccountsCommand),
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
        after_help = "Examples:\n  oauth-mux codex\n  oauth-mux codex -- exec --skip-git-repo-check \"fix the tests\"\n  oauth-mux codex resume -- --last\n  oauth-mux codex --no-side-traffic -p codex-max\n  oauth-mux codex status-latest --json\n\nEnvironment:\n  OMUX_CODEX_BIN       the codex binary (default: codex on PATH)\n  OMUX_CODEX_UPSTREAM  upstream origin (gateways, mirrors, tests)\n  OMUX_EXTRA_CA_FILE   extra PEM CA bundle for upstream TLS\n  HTTPS_PROXY          honoured for upstream traffic"
    )]
    Codex(CodexArgs),
    /// Run the real Claude Code CLI in a managed session (ANTHROPIC_BASE_URL points at a
    /// local proxy that answers a spent quota with another account of the profile).
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  oauth-mux claude\n  oauth-mux claude -- -p \"explain this repo\"\n  oauth-mux claude --isolated-config --no-side-traffic\n  oauth-mux claude status-latest --json\n\nEnvironment:\n  OMUX_CLAUDE_BIN       the claude binary (default: claude on PATH)\n  OMUX_CLAUDE_UPSTREAM  upstream origin (gateways, mirrors, tests)\n  OMUX_EXTRA_CA_FILE    extra PEM CA bundle for upstream TLS\n  HTTPS_PROXY           honoured for upstream traffic"
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
    /// Arguments for codex, after `--` (e.g. `-- exec "say hi"`).
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum CodexCommand {
    /// Start codex with ARGS (the default when no subcommand is given).
    #[command(
        after_help = "Examples:\n  oauth-mux codex run\n  oauth-mux codex run -- exec \"say hi\""
    )]
    Run(HarnessRunArgs),
    /// `codex resume ARGS`: continue a session recorded through oauth-mux.
    #[command(
        after_help = "Examples:\n  oauth-mux codex resume\n  oauth-mux codex resume -- --last"
    )]
    Resume(HarnessRunArgs),
    /// Summarize the newest managed Codex session: verdict and next action.
    #[command(
        name = "status-latest",
        after_help = "Examples:\n  oauth-mux codex status-latest\n  oauth-mux codex status-latest --json"
    )]
    StatusLatest(JsonFlag),
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
    /// Arguments for claude, after `--` (e.g. `-- -p "say hi"`).
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
}

/// A managed-session subcommand's own flags plus the harness arguments.
#[derive(Debug, Args)]
pub struct HarnessRunArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Arguments for the harness, after `--`.
    #[arg(last = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// Flags shared by `oauth-mux codex` and `oauth-mux claude`.
#[derive(Debug, Args, Default, Clone)]
pub struct LaunchArgs {
    /// Profile whose accounts the session may use (default: codex-max / claude).
    #[arg(long, short = 'p')]
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

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Write the three-account Codex Max starter (max-1, max-2, max-3).
    #[arg(long)]
    pub codex_max: bool,
    #[arg(long)]
    pub json: bool,
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
    /// Binaries, store dirs, writability and session files per account (reads no token values).
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
