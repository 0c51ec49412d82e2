//! The test kit every end-to-end test shares (`mod kit;`): a test reads like a user
//! session.
//!
//! ```ignore
//! let mut sb = Sandbox::new();                       // temp HOME and XDG dirs, clean env
//! sb.write_config(&json!({...}));
//! sb.set_env("TOY_SECRET", canary::token("a1"));     // every canary carries one marker
//! sb.record("toy:a1#cheap", Classification::Success, Timestamp::now());
//! let out = sb.oauth_mux().args(["route", "select", "--json"]).run();
//! out.ok();                                          // exit code, with stdout/stderr shown
//! assert_eq!(out.json()["selected"]["account"], "a1");
//! sb.assert_no_canary_on_disk();
//! ```
//!
//! - [`sandbox`]: the temp machine, its config, health, events and files;
//! - [`command`]: the command builder and a run's output (`oauth-mux` runs fail on any
//!   canary in their output);
//! - [`canary`]: canary secrets, all carrying [`canary::MARKER`];
//! - the fake upstream is the library's `oauth_mux::demo::fake_provider` (the demo's too);
//! - [`proxy_rig`]: the session proxy in-process over the production pool;
//! - [`harness`]: the real harness CLIs, the user's own harness files, a stub harness;
//! - [`fake_harness`]: stand-in `codex`/`claude` executables that record argv and environment
//!   and log accounts in, writing the real CLIs' credential formats (onboarding tests);
//! - [`fixture`]: recorded provider responses; [`worker`]: re-running this test binary;
//! - [`stores`]: Codex and Claude credential stores for the refresh tests;
//! - [`terminal`]: a program on a fresh pseudo-terminal, typed at and read like a screen;
//! - [`toy`]: the `toy` provider of the injection and stay-afloat tests.
#![allow(dead_code)]

pub mod canary;
pub mod command;
pub mod fake_harness;
pub mod files;
pub mod fixture;
pub mod harness;
pub mod proxy_rig;
pub mod sandbox;
pub mod stores;
pub mod terminal;
pub mod toy;
pub mod worker;

#[allow(unused_imports)]
pub use command::{Cmd, Output};
#[allow(unused_imports)]
pub use sandbox::Sandbox;
