//! The state layer: where files live, crash-safe writes, locks, the route health
//! store, the repair event log and per-account repair locks (SPEC §6).
//!
//! Every state file is written atomically with 0600 permissions in 0700 directories,
//! and every read-modify-write runs under an advisory lock whose wait is bounded.

pub mod account_lock;
pub mod atomic;
pub mod config_file;
pub mod error;
pub mod events;
pub mod health_file;
pub mod lock;
pub mod paths;

pub use error::StoreError;
