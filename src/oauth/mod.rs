//! OAuth token refresh with safe writeback (docs/refresh.md): the refresh grant the
//! provider's own CLI sends, the CLI-compatible locks, the atomic, field-preserving write of
//! the store and the recovery file that survives a crash between the answer and the write.
//! The decisions (admission, timing, what an answer means, which fields change) are the
//! core's: `model::refresh` and `model::grant`.

pub mod inspect;
mod locks;
mod recovery;
mod refresh;
mod store_file;
pub mod target;
mod token_request;

pub use refresh::{FailureKind, PAUSE_ENV, RefreshReport, log_not_admitted, refresh};
pub use target::{
    AccountParts, NotRefreshable, RefreshTarget, account_writeback, target_for, target_of,
    writeback_of,
};
