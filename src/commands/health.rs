//! `oauth-mux health [--reset KEY|all]`.

use serde::Serialize;

use super::context::{Context, HealthView};
use super::facts::describe_status;
use crate::cli::HealthArgs;
use crate::exit::{ExitCode, Failure};
use crate::model::RouteKey;
use crate::model::event::{Event, EventKind, Outcome};
use crate::model::health::RouteHealth;
use crate::output;
use crate::store::health_file::HealthFile;

#[derive(Serialize)]
struct HealthEntry {
    key: String,
    state: String,
    decision: crate::model::classify::Decision,
    record: RouteHealth,
}

#[derive(Serialize)]
struct HealthReport {
    entries: Vec<HealthEntry>,
    unreadable: Vec<serde_json::Value>,
    warnings: Vec<String>,
    next_commands: Vec<String>,
}

#[derive(Serialize)]
struct ResetReport {
    ok: bool,
    reset: String,
    removed: usize,
    moved_aside: Option<String>,
    next_commands: Vec<String>,
}

pub fn run(args: &HealthArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    match &args.reset {
        Some(key) => reset(&ctx, key, args.json),
        None => show(&ctx, args),
    }
}

fn show(ctx: &Context, args: &HealthArgs) -> anyhow::Result<()> {
    let view: HealthView = ctx.health()?;
    let keep = |k: &str| {
        args.provider
            .as_ref()
            .is_none_or(|p| k.split(':').next() == Some(p.as_str()))
    };
    let entries = view
        .records
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, r)| {
            let status = r.status_at(ctx.now);
            HealthEntry {
                key: k.clone(),
                state: describe_status(&status, ctx.now),
                decision: status.decision(),
                record: r.clone(),
            }
        })
        .collect();
    let report = HealthReport {
        entries,
        unreadable: view
            .unreadable
            .iter()
            .map(|(k, e)| serde_json::json!({"key": k, "problem": e}))
            .collect(),
        warnings: view.warnings.clone(),
        next_commands: vec![
            "oauth-mux route explain --json".into(),
            "oauth-mux health --reset <key>".into(),
        ],
    };
    output::emit(args.json, &report, |r| {
        if r.entries.is_empty() && r.unreadable.is_empty() {
            return "no health recorded yet (routes without evidence are `probe_needed`)"
                .to_owned()
                + &output::next_block(&r.next_commands);
        }
        let rows: Vec<Vec<String>> = r
            .entries
            .iter()
            .map(|e| {
                vec![
                    e.key.clone(),
                    e.state.clone(),
                    e.record.last_status.map_or("-".into(), |s| s.to_string()),
                    e.record
                        .observed_at
                        .map_or("-".into(), |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()),
                ]
            })
            .collect();
        let mut out = output::table(&["ROUTE", "STATE", "LAST STATUS", "OBSERVED"], &rows);
        for u in &r.unreadable {
            out.push_str(&format!(
                "unreadable record {} (kept on disk, treated as no evidence)\n",
                u["key"]
            ));
        }
        out + &output::next_block(&r.next_commands)
    })
}

fn reset(ctx: &Context, key: &str, json: bool) -> anyhow::Result<()> {
    let path = ctx.dirs.health_file();
    let mut moved_aside = None;
    let removed = if key == "all" {
        match HealthFile::load(&path) {
            Ok(_) => HealthFile::update(&path, |routes| {
                let n = routes.len();
                routes.clear();
                n
            })
            .map_err(Failure::from)?,
            Err(_) => {
                // An unreadable store is moved aside whole, never deleted.
                let aside = path.with_extension(format!("json.corrupt-{}", ctx.now.as_second()));
                std::fs::rename(&path, &aside).map_err(|e| {
                    Failure::new(
                        ExitCode::Error,
                        format!("cannot move the unreadable health store aside: {e}"),
                    )
                })?;
                moved_aside = Some(aside.display().to_string());
                0
            }
        }
    } else {
        let parsed = RouteKey::parse(key)
            .map_err(|e| Failure::new(ExitCode::Usage, format!("{e}; or use `all`")))?;
        let k = parsed.to_string();
        HealthFile::update(&path, |routes| {
            let before = routes.len();
            routes.retain(|rk, _| {
                rk != &k && !(parsed.is_account_level() && rk.starts_with(&format!("{k}#")))
            });
            before - routes.len()
        })
        .map_err(Failure::from)?
    };
    crate::evidence::append_event(
        &ctx.dirs,
        &Event::new(
            ctx.now,
            EventKind::HealthReset {
                key: key.to_owned(),
                removed,
                outcome: Outcome {
                    outcome: "executed".into(),
                    reason: None,
                    ok: true,
                    executed: true,
                },
            },
        ),
    );
    let report = ResetReport {
        ok: true,
        reset: key.to_owned(),
        removed,
        moved_aside,
        next_commands: vec![
            "oauth-mux route explain --json".into(),
            "oauth-mux probe --json".into(),
        ],
    };
    output::emit(json, &report, |r| {
        let mut out = format!("reset {}: {} record(s) removed", r.reset, r.removed);
        if let Some(a) = &r.moved_aside {
            out.push_str(&format!("\nthe unreadable store was moved aside to {a}"));
        }
        out + &output::next_block(&r.next_commands)
    })
}
