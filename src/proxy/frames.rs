//! Where the proxy reports what happened in a session: the status artifact's frames
//! ([`crate::model::session::Frame`], one type for the writer and the reader).

use std::sync::Arc;

pub use crate::model::session::Frame;

/// Where the proxy sends its frames.
pub type FrameSink = Arc<dyn Fn(Frame) + Send + Sync>;

/// A sink that drops every frame.
pub fn discard() -> FrameSink {
    Arc::new(|_| {})
}
