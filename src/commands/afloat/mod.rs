//! `oauth-mux stay-afloat` and its family (`next`, `refresh`, `handoffs`,
//! `handoff ack|clear`), `daemon tick|events|handoffs`: the foreground tick engine.
//! Every tick renders the one evaluation (`commands::evaluate`); scheduling and the
//! pending-handoff rule live in `model::schedule`.

pub mod execute;
mod handoffs;
pub mod next;
pub mod record;
pub mod tick;

use std::io::IsTerminal;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{
    DaemonCommand, HandoffCommand, SelectorsJson, StayAfloatArgs, StayAfloatCommand, TickArgs,
};
use crate::commands::context::Context;
use crate::output;
use tick::{TickMode, render, run_tick, to_value, write_snapshot};

/// `stay-afloat [SUBCOMMAND]`.
pub fn stay_afloat(args: &StayAfloatArgs) -> anyhow::Result<()> {
    match &args.sub {
        None => run(&args.tick),
        Some(StayAfloatCommand::Next(a)) => next::run(&a.selectors, a.json),
        Some(StayAfloatCommand::Launch(a)) => {
            crate::commands::inject::launch(&a.selectors, &a.command)
        }
        Some(StayAfloatCommand::Refresh(a)) => refresh(a),
        Some(StayAfloatCommand::Handoffs(a)) => handoffs::handoffs(a),
        Some(StayAfloatCommand::Handoff(HandoffCommand::Ack(t))) => handoffs::settle(t, false),
        Some(StayAfloatCommand::Handoff(HandoffCommand::Clear(t))) => handoffs::settle(t, true),
    }
}

/// `daemon tick|events|handoffs`.
pub fn daemon(cmd: &DaemonCommand) -> anyhow::Result<()> {
    match cmd {
        DaemonCommand::Tick(a) => run(a),
        DaemonCommand::Events(a) => handoffs::events(a),
        DaemonCommand::Handoffs(a) => handoffs::handoffs(a),
    }
}

fn refresh(a: &SelectorsJson) -> anyhow::Result<()> {
    run(&TickArgs {
        selectors: a.selectors.clone(),
        once: true,
        execute: true,
        json: a.json,
        iterations: 1,
        interval_ms: 0,
        loop_: false,
    })
}

#[derive(Serialize)]
struct LoopEnvelope {
    mode: &'static str,
    execution_mode: &'static str,
    iterations_requested: u32,
    interval_ms: u64,
    ticks: Vec<Value>,
}

/// Run one tick (`--once`, the default) or a bounded loop of ticks.
pub fn run(args: &TickArgs) -> anyhow::Result<()> {
    let looping = !args.once && (args.loop_ || args.iterations > 1);
    let iterations = if looping { args.iterations } else { 1 };
    let progress = looping && std::io::stderr().is_terminal();
    let mut ticks = Vec::new();
    for index in 1..=iterations {
        let ctx = Context::from_env()?;
        let tick = run_tick(
            &ctx,
            &args.selectors,
            TickMode {
                execute: args.execute,
                looping,
                tick_index: index,
            },
        )?;
        write_snapshot(&ctx, &tick);
        if !args.json {
            output::print_text(&render(&tick));
        }
        if progress {
            output::warn(&format!(
                "stay-afloat: tick {index}/{iterations}: {}{}",
                tick.reason,
                if index < iterations {
                    format!("; next tick in {} ms", args.interval_ms)
                } else {
                    String::new()
                }
            ));
        }
        ticks.push(tick);
        if index < iterations {
            std::thread::sleep(Duration::from_millis(args.interval_ms));
        }
    }
    if args.json {
        if looping {
            output::print_json(&LoopEnvelope {
                mode: "loop",
                execution_mode: if args.execute { "execute" } else { "plan" },
                iterations_requested: iterations,
                interval_ms: args.interval_ms,
                ticks: ticks.iter().map(to_value).collect(),
            })?;
        } else if let Some(t) = ticks.first() {
            output::print_json(t)?;
        }
    }
    Ok(())
}
