//! `oauth-mux status [--profile P] [--json] [--watch]`: one screen per profile — each
//! account's liveness and reason, its usage windows, its token, the account the next
//! managed session starts on, the last handoffs — and the history `dashboard` plots. All of
//! it from local state (the health store, the event log, the session artifacts): no
//! provider call. `dashboard`'s data endpoint serves exactly this report.

use std::io::IsTerminal;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::context::{Context, Loaded};
use super::evaluate::evaluate;
use super::facts::describe_status;
use crate::cli::{Selectors, StatusArgs};
use crate::model::event::EventKind;
use crate::model::refresh::{RefreshOutcome, TokenOutlook};
use crate::model::session::{Frame, HarnessKind};
use crate::model::timeline::{self, Happening, HourCount, UsagePoint, window_label};
use crate::output;
use crate::store::events::EventLog;

/// How many of the newest session artifacts the history reads.
const ARTIFACTS_READ: usize = 40;
/// How many handoffs a profile shows.
const HANDOFFS_SHOWN: usize = 5;
/// The hours the hourly plot covers.
const HOURS_PLOTTED: u32 = 24;
/// The usage points the history keeps (newest first kept).
const USAGE_POINTS: usize = 2000;
/// How many recent events the failure count scans.
const EVENTS_SCANNED: usize = 5000;

/// The whole report (`status --json`, `dashboard`'s `/data`).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub generated_at: Timestamp,
    pub profiles: Vec<ProfileStatus>,
    pub history: History,
    pub next_commands: Vec<String>,
}

/// One profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileStatus {
    pub profile: String,
    /// The account a new managed session (`oauth-mux codex|claude`) would start on.
    pub next_session_account: Option<String>,
    /// The account `route select`, `exec` and `env` would inject.
    pub injected_account: Option<String>,
    pub routes: Vec<RouteStatusRow>,
    /// The newest handoffs of sessions on this profile, newest first.
    pub last_handoffs: Vec<HandoffEntry>,
}

/// One route of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStatusRow {
    pub route: String,
    pub provider: String,
    pub account: String,
    pub capability: Option<String>,
    /// `available`, `quota_exhausted`, `probe_needed`, `token_revoked`, …
    pub state: &'static str,
    /// The state in words, with its time (`quota exhausted until 14:05 (in 2h 3m)`).
    pub summary: String,
    /// When the state changes by itself (a rate limit lifts, a quota window resets).
    pub until: Option<Timestamp>,
    /// Why `route select` passes it over, if it does.
    pub why: Option<String>,
    pub windows: Vec<WindowStatus>,
    pub token: TokenOutlook,
}

/// One usage window of a route, as last reported by the provider.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStatus {
    /// `5h`, `weekly`, …
    pub window: String,
    pub used_pct: f64,
    pub resets_at: Option<Timestamp>,
    pub observed_at: Timestamp,
}

/// One handoff of a managed session.
#[derive(Debug, Clone, Serialize)]
pub struct HandoffEntry {
    pub at: Timestamp,
    pub harness: HarnessKind,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
}

/// What the dashboard plots.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// Usage readings over the last day, oldest first.
    pub usage: Vec<UsagePoint>,
    /// Handoffs and failures per hour over the last day.
    pub hourly: Vec<HourCount>,
}

/// `oauth-mux status`.
pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    if !args.watch {
        let ctx = Context::from_env()?;
        let loaded = ctx.config()?;
        let report = gather(&ctx, &loaded, args.profile.as_deref())?;
        return output::emit(args.json, &report, |r| render(r, output::terminal_width()));
    }
    watch(args)
}

/// Redraw in place every `--interval` seconds until interrupted (JSON: one report a line).
fn watch(args: &StatusArgs) -> anyhow::Result<()> {
    let interval = std::time::Duration::from_secs(args.interval.max(1));
    let terminal = std::io::stdout().is_terminal();
    let mut previous_lines = 0usize;
    loop {
        let ctx = Context::from_env()?;
        let loaded = ctx.config()?;
        let report = gather(&ctx, &loaded, args.profile.as_deref())?;
        if args.json {
            output::write_stdout(serde_json::to_string(&report)?.as_bytes());
            output::write_stdout(b"\n");
        } else {
            let text = render(&report, output::terminal_width());
            let text = output::redact_text(&text);
            // Home, draw over the old screen line by line (clearing each line's rest), then
            // clear what the old screen had below: no blank flash between frames.
            let mut frame = String::new();
            if terminal {
                frame.push_str("\x1b[H");
            }
            for line in text.lines() {
                frame.push_str(line);
                if terminal {
                    frame.push_str("\x1b[K");
                }
                frame.push('\n');
            }
            let lines = text.lines().count();
            if terminal && previous_lines > lines {
                frame.push_str("\x1b[J");
            }
            previous_lines = lines;
            if !terminal {
                frame.push('\n');
            }
            output::write_stdout(frame.as_bytes());
        }
        std::thread::sleep(interval);
    }
}

/// Assemble the report from local state at `ctx.now`.
pub fn gather(ctx: &Context, loaded: &Loaded, only: Option<&str>) -> anyhow::Result<StatusReport> {
    let config = &loaded.config;
    let mut names: Vec<String> = config.profiles.keys().cloned().collect();
    if let Some(p) = only {
        if !config.profiles.contains_key(p) {
            return Err(crate::exit::Failure::new(
                crate::exit::ExitCode::Usage,
                format!(
                    "unknown profile {p:?}; known profiles: {}",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ),
            )
            .into());
        }
        names.retain(|n| n == p);
    }
    let sessions = read_sessions(&ctx.dirs.sessions_dir());
    let health = ctx.health().unwrap_or_default();
    let mut profiles = Vec::new();
    for name in names {
        let selectors = Selectors {
            profile: Some(name.clone()),
            ..Selectors::default()
        };
        let eval = evaluate(ctx, loaded, &selectors)?;
        let routes = eval
            .routes
            .iter()
            .map(|r| RouteStatusRow {
                route: r.route.key.clone(),
                provider: r.route.provider.clone(),
                account: r.route.account.clone(),
                capability: r.route.capability.clone(),
                state: r.status.label(),
                summary: describe_status(&r.status, ctx.now),
                until: r.status.wakes_at(),
                why: r.skip_reason.clone(),
                windows: windows_of(&health, &r.route.key),
                token: r.token.clone(),
            })
            .collect();
        let mut last_handoffs: Vec<HandoffEntry> = sessions
            .handoffs
            .iter()
            .filter(|(profile, _)| profile.as_deref() == Some(name.as_str()))
            .map(|(_, h)| h.clone())
            .collect();
        last_handoffs.sort_by_key(|h| std::cmp::Reverse(h.at));
        last_handoffs.truncate(HANDOFFS_SHOWN);
        profiles.push(ProfileStatus {
            profile: name,
            next_session_account: eval
                .selection
                .session_order
                .first()
                .map(|k| k.account.clone()),
            injected_account: eval.selection.selected.as_ref().map(|k| k.account.clone()),
            routes,
            last_handoffs,
        });
    }
    let mut happenings = sessions.happenings;
    happenings.extend(refresh_failures(ctx));
    let history = History {
        usage: timeline::recent_usage(
            sessions.usage,
            SignedDuration::from_hours(i64::from(HOURS_PLOTTED)),
            ctx.now,
            USAGE_POINTS,
        ),
        hourly: timeline::per_hour(&happenings, HOURS_PLOTTED, ctx.now),
    };
    Ok(StatusReport {
        generated_at: ctx.now,
        next_commands: if profiles.is_empty() {
            vec!["oauth-mux init --codex-max".into()]
        } else {
            vec![
                "oauth-mux route explain".into(),
                "oauth-mux dashboard".into(),
            ]
        },
        profiles,
        history,
    })
}

/// The route's windows as the health store last recorded them.
fn windows_of(health: &super::context::HealthView, route: &str) -> Vec<WindowStatus> {
    let Some(gauge) = health.records.get(route).and_then(|r| r.usage.clone()) else {
        return Vec::new();
    };
    gauge
        .windows
        .iter()
        .map(|w| WindowStatus {
            window: window_label(&w.window, w.window_minutes),
            used_pct: w.used_pct,
            resets_at: w.resets_at,
            observed_at: gauge.observed_at,
        })
        .collect()
}

/// What the newest session artifacts say: handoffs by profile, usage readings, and the
/// hours handoffs and harness-visible failures happened in.
#[derive(Default)]
struct Sessions {
    handoffs: Vec<(Option<String>, HandoffEntry)>,
    usage: Vec<UsagePoint>,
    happenings: Vec<(Timestamp, Happening)>,
}

fn read_sessions(dir: &std::path::Path) -> Sessions {
    let mut sessions = Sessions::default();
    for (harness, path) in newest_artifacts(dir) {
        let Ok(artifact) = crate::harness::status::read_artifact(&path) else {
            continue;
        };
        let mut profile = None;
        for record in &artifact.records {
            let Ok(ts) = record.ts.parse::<Timestamp>() else {
                continue;
            };
            match &record.frame {
                Frame::SessionStarted { profile: p, .. } => profile = Some(p.clone()),
                Frame::Handoff { from, to, reason } => {
                    sessions.happenings.push((ts, Happening::Handoff));
                    sessions.handoffs.push((
                        profile.clone(),
                        HandoffEntry {
                            at: ts,
                            harness,
                            from: from.clone(),
                            to: to.clone(),
                            reason: reason.clone(),
                        },
                    ));
                }
                Frame::QuotaObserved { account, windows } => {
                    for w in windows {
                        sessions.usage.push(UsagePoint {
                            ts,
                            account: account.clone(),
                            window: window_label(&w.window, w.window_minutes),
                            used_pct: w.used_percent,
                        });
                    }
                }
                Frame::ProxyTurn {
                    status,
                    delivered_to_harness: true,
                    classification,
                    ..
                } if *status >= 400 && classification != "side_call" => {
                    sessions.happenings.push((ts, Happening::Failure));
                }
                Frame::PoolExhausted { .. } | Frame::StreamErrorAfterContent { .. } => {
                    sessions.happenings.push((ts, Happening::Failure));
                }
                _ => {}
            }
        }
    }
    sessions
}

/// The newest artifacts of both harnesses, newest first (by the time in their names).
fn newest_artifacts(dir: &std::path::Path) -> Vec<(HarnessKind, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, HarnessKind, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".ndjson") {
                return None;
            }
            let (harness, rest) = if let Some(rest) = name.strip_prefix("codex-") {
                (HarnessKind::Codex, rest)
            } else {
                (HarnessKind::Claude, name.strip_prefix("claude-")?)
            };
            Some((rest.to_owned(), harness, e.path()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.truncate(ARTIFACTS_READ);
    found.into_iter().map(|(_, h, p)| (h, p)).collect()
}

/// Failed token refreshes in the event log (a login will be needed, or the provider was
/// unreachable).
fn refresh_failures(ctx: &Context) -> Vec<(Timestamp, Happening)> {
    let Ok(recent) = EventLog::new(ctx.dirs.events_file()).read_recent(EVENTS_SCANNED) else {
        return Vec::new();
    };
    recent
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TokenRefresh(t)
                if matches!(t.outcome, RefreshOutcome::Rejected | RefreshOutcome::Failed) =>
            {
                Some((e.ts, Happening::Failure))
            }
            _ => None,
        })
        .collect()
}

/// A percentage bar `width` cells wide.
fn bar(pct: f64, width: usize) -> String {
    let filled = ((pct.clamp(0.0, 100.0) / 100.0) * width as f64).round() as usize;
    "█".repeat(filled) + &"░".repeat(width - filled.min(width))
}

/// One screen per profile, fitting `width` columns.
pub fn render(r: &StatusReport, width: usize) -> String {
    let mut out = String::new();
    if r.profiles.is_empty() {
        out.push_str("no profiles configured\n");
    }
    for p in &r.profiles {
        out.push_str(&format!(
            "{}   next session: {}   inject: {}\n",
            p.profile,
            p.next_session_account.as_deref().unwrap_or("none"),
            p.injected_account.as_deref().unwrap_or("none"),
        ));
        let rows: Vec<Vec<String>> = p
            .routes
            .iter()
            .map(|row| {
                let window = |label: &str| {
                    row.windows.iter().find(|w| w.window == label).map_or_else(
                        || "-".to_owned(),
                        |w| {
                            format!(
                                "{} {:>3.0}%{}",
                                bar(w.used_pct, 5),
                                w.used_pct,
                                w.resets_at
                                    .map(|t| format!(" ↻{}", hhmm_or_date(t, r.generated_at)))
                                    .unwrap_or_default()
                            )
                        },
                    )
                };
                let token = match (row.token.expires_at, row.token.state) {
                    (Some(at), _) => format!(
                        "{}{}",
                        hhmm_or_date(at, r.generated_at),
                        if row.token.refresh.admitted {
                            " ⟳"
                        } else {
                            ""
                        }
                    ),
                    _ => "-".to_owned(),
                };
                let account = route_label(p, row);
                let state = match row.until {
                    Some(t) => format!("{} ↻{}", row.state, hhmm_or_date(t, r.generated_at)),
                    None => row.state.to_owned(),
                };
                vec![account, state, window("5h"), window("weekly"), token]
            })
            .collect();
        out.push_str(&output::table_within(
            &["ACCOUNT", "STATE", "5H", "WEEKLY", "TOKEN"],
            &rows,
            width,
        ));
        for h in &p.last_handoffs {
            out.push_str(&format!(
                "  handoff {} {} → {} ({})\n",
                hhmm_or_date(h.at, r.generated_at),
                h.from.as_deref().unwrap_or("-"),
                h.to,
                h.reason
            ));
        }
        out.push('\n');
    }
    let last_day: (u32, u32) = r
        .history
        .hourly
        .iter()
        .fold((0, 0), |(h, f), c| (h + c.handoffs, f + c.failures));
    out.push_str(&format!(
        "last 24 h: {} handoffs, {} failures   (⟳ refresh admitted, ↻ window resets)\n",
        last_day.0, last_day.1
    ));
    out + &output::next_block(&r.next_commands)
}

/// How a route is named in a profile's table: the account, with `#capability` when the
/// profile has more than one capability of that account.
pub fn route_label(p: &ProfileStatus, row: &RouteStatusRow) -> String {
    match &row.capability {
        Some(c)
            if p.routes
                .iter()
                .any(|o| o.account == row.account && o.capability.as_ref() != Some(c)) =>
        {
            format!("{}#{c}", row.account)
        }
        _ => row.account.clone(),
    }
}

/// `14:05` for today, `12-09 14:05` otherwise.
fn hhmm_or_date(t: Timestamp, now: Timestamp) -> String {
    let tz = jiff::tz::TimeZone::system();
    let (zt, zn) = (t.to_zoned(tz.clone()), now.to_zoned(tz));
    if zt.date() == zn.date() {
        zt.strftime("%H:%M").to_string()
    } else {
        zt.strftime("%m-%d %H:%M").to_string()
    }
}
