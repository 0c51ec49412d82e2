//! Requests the proxy refuses before they touch an account (no session secret, a target or
//! method the harness never uses, malformed framing) are counted in memory and reported
//! in at most one `requests_refused` frame per interval, plus one at shutdown for the rest.
//! Anyone on the machine can send such requests as fast as they like; what they cost the
//! status artifact is bounded by time, not by their number.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::frames::{Frame, FrameSink};

/// Why a request was refused (the keys of a `requests_refused` frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefusalReason {
    /// No (or a wrong) session secret: not the harness.
    MissingSessionSecret,
    /// Framing the proxy does not accept (malformed, ambiguous, too large, too slow).
    MalformedRequest,
    /// A request target the upstream client cannot express, or with dot or empty segments.
    BadRequestTarget,
    /// A method the harness never uses.
    MethodNotAllowed,
    /// A path outside those the harness uses.
    PathNotAllowed,
    /// A request head that would not fit the upstream request.
    HeadTooLarge,
}

impl RefusalReason {
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::MissingSessionSecret => "missing_session_secret",
            RefusalReason::MalformedRequest => "malformed_request",
            RefusalReason::BadRequestTarget => "bad_request_target",
            RefusalReason::MethodNotAllowed => "method_not_allowed",
            RefusalReason::PathNotAllowed => "path_not_allowed",
            RefusalReason::HeadTooLarge => "head_too_large",
        }
    }
}

/// The counter of one session.
pub struct Refusals {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    counts: BTreeMap<RefusalReason, u64>,
    last_frame: Option<Instant>,
}

impl Refusals {
    /// At most one frame per `interval` (the first refusal is reported at once).
    pub fn new(interval: Duration) -> Refusals {
        Refusals {
            interval,
            state: Mutex::new(State::default()),
        }
    }

    /// Count one refusal; emit the counts so far when the interval since the last frame
    /// has passed.
    pub fn count(&self, reason: RefusalReason, frames: &FrameSink) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state.counts.entry(reason).or_default() += 1;
        let now = Instant::now();
        let due = state
            .last_frame
            .is_none_or(|at| now.duration_since(at) >= self.interval);
        if due {
            state.last_frame = Some(now);
            let frame = take_frame(&mut state.counts);
            drop(state);
            frames(frame);
        }
    }

    /// Emit what was counted since the last frame, if anything (at shutdown).
    pub fn flush(&self, frames: &FrameSink) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.counts.is_empty() {
            return;
        }
        let frame = take_frame(&mut state.counts);
        drop(state);
        frames(frame);
    }
}

fn take_frame(counts: &mut BTreeMap<RefusalReason, u64>) -> Frame {
    let counts = std::mem::take(counts)
        .into_iter()
        .map(|(reason, n)| (reason.label().into(), n))
        .collect();
    Frame::RequestsRefused { counts }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn refusals_are_summarized_at_most_once_per_interval_and_flushed_at_the_end() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink: FrameSink = {
            let seen = seen.clone();
            Arc::new(move |f| seen.lock().unwrap().push(f))
        };
        let refusals = Refusals::new(Duration::from_secs(3600));
        for _ in 0..10_000 {
            refusals.count(RefusalReason::MissingSessionSecret, &sink);
        }
        refusals.count(RefusalReason::PathNotAllowed, &sink);
        refusals.flush(&sink);
        refusals.flush(&sink);
        let frames = seen.lock().unwrap().clone();
        let counts = |f: &Frame| match f {
            Frame::RequestsRefused { counts } => counts.clone(),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            counts(&frames[0]),
            [("missing_session_secret".into(), 1)].into()
        );
        assert_eq!(
            counts(&frames[1]),
            [
                ("missing_session_secret".into(), 9_999),
                ("path_not_allowed".into(), 1)
            ]
            .into()
        );
    }
}
