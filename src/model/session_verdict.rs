//! Pure summary of one session artifact: counts, the accounts involved, a verdict and the
//! next action. No I/O and no clock: the frames are the only input.

use std::collections::BTreeMap;

use serde::Serialize;

use super::session::{Artifact, Frame, HarnessKind, Record};

/// What the session proves. Failure verdicts (the harness likely showed its user a
/// failure) come first: a session that also handed a quota over, but then failed, is a
/// failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The artifact holds no `session_started` frame.
    NotAManagedSession,
    /// The artifact has no `session_ended`: the session is running, or oauth-mux was killed.
    SessionIncomplete,
    /// Every account of the profile was spent; the harness got one clear error.
    PoolExhausted,
    /// The provider could not be reached (connect, DNS, TLS, timeout); the harness got 502s.
    UpstreamUnreachable,
    /// An error arrived after content had reached the harness; it could not be replayed.
    ErrorAfterContent,
    /// A failover-class response happened and no other account carried the request, or the
    /// harness saw the failure.
    QuotaHandoffFailed,
    /// The provider answered model requests with errors that went to the harness (a 4xx
    /// that was the request's own, a 5xx after the retries in place).
    ErrorsShownToHarness,
    /// The harness exited with a failure of its own (non-zero, not an interrupt).
    HarnessFailed,
    /// A failover-class response was held back and the same request succeeded on another
    /// account: the harness never saw the failure.
    SuccessfulLiveQuotaHandoff,
    /// Usage crossed the threshold and the next request went to another account before any
    /// failure.
    ProactiveHandoff,
    /// The harness ran but sent nothing through the proxy.
    NoProxyTraffic,
    /// Traffic went through the proxy and no account needed replacing.
    NoHandoffNeeded,
}

impl Verdict {
    /// True when the harness likely showed its user a failure.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::SessionIncomplete
                | Self::PoolExhausted
                | Self::UpstreamUnreachable
                | Self::ErrorAfterContent
                | Self::QuotaHandoffFailed
                | Self::ErrorsShownToHarness
                | Self::HarnessFailed
        )
    }
}

/// One account switch, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandoffView {
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
}

/// The summary `codex status-latest --json` / `claude status-latest --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub harness: HarnessKind,
    /// Artifact file name (no directory).
    pub artifact: String,
    pub frames: usize,
    pub skipped_lines: usize,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub profile: Option<String>,
    /// The account elected at launch.
    pub launch_account: Option<String>,
    /// Accounts that carried at least one turn, in first-use order.
    pub accounts_used: Vec<String>,
    pub proxy_turns: usize,
    pub turns_by_account: BTreeMap<String, usize>,
    pub turns_by_status: BTreeMap<u16, usize>,
    pub turns_by_classification: BTreeMap<String, usize>,
    /// Responses held back from the harness (replayed elsewhere or replaced by one error).
    pub withheld_turns: usize,
    /// Failover-class responses (quota, long rate limit, dead auth, tier) seen.
    pub failover_class_turns: usize,
    /// Failover-class responses that reached the harness anyway.
    pub failover_class_delivered: usize,
    pub quota_observations: usize,
    /// The latest handoffs (at most [`MAX_LISTED_HANDOFFS`]).
    pub handoffs: Vec<HandoffView>,
    /// Every handoff of the session.
    pub handoff_count: usize,
    pub pool_exhausted: bool,
    pub earliest_reset: Option<String>,
    pub refused_requests: usize,
    pub unsupported_transport_answers: usize,
    /// Requests that waited out a short rate limit (every account refused, one briefly).
    pub rate_limit_waits: usize,
    /// Error events that arrived after content had reached the harness (not replayable).
    pub stream_errors_after_content: usize,
    /// Tokens refreshed because an account met a 401 mid-session (the harness never saw it).
    pub token_refreshes: usize,
    /// Model requests answered `502 upstream unreachable` by the proxy itself.
    pub upstream_unreachable_turns: usize,
    /// Other error answers to model requests that reached the harness (not failover-class).
    pub errors_delivered: usize,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// True when the harness probably showed the user a provider failure.
    pub user_visible_failure_likely: bool,
    pub verdict: Verdict,
    /// Machine-readable next step.
    pub next_action: &'static str,
    /// The same, for a human.
    pub next_action_hint: String,
    /// Commands to run next (may be empty).
    pub next_commands: Vec<String>,
}

/// How a `proxy_turn`'s classification label is treated by the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TurnClass {
    Success,
    /// Quota, long rate limit, dead auth, tier: the account is replaced.
    Failover,
    /// Overload / 5xx: retried in place.
    Transient,
    Other,
}

/// Classification labels (the model's `Classification::label` plus the proxy's own) whose
/// response makes the proxy replace the account: quota, rate limits, dead credentials and
/// the account-scoped degradations.
const FAILOVER_LABELS: [&str; 15] = [
    "quota_exhausted",
    "rate_limited",
    "short_rate_limit",
    "windowless_rate_limit",
    "token_revoked",
    "account_deleted",
    "auth_permanently_failed",
    "credential_unavailable",
    "tier_insufficient",
    "subscription_paused",
    "scope_insufficient",
    "audience_mismatch",
    "terms_required",
    "step_up_required",
    "pending_verification",
];

/// The label of a model request the proxy answered itself because the provider could not
/// be reached.
const UNREACHABLE_LABEL: &str = "upstream_unreachable";
/// The label of a side call (passed through as it came, never failed over).
const SIDE_CALL_LABEL: &str = "side_call";

fn turn_class(classification: &str, status: u16) -> TurnClass {
    match classification {
        "success" => TurnClass::Success,
        "provider_degraded" => TurnClass::Transient,
        c if FAILOVER_LABELS.contains(&c) => TurnClass::Failover,
        "" if (200..300).contains(&status) => TurnClass::Success,
        _ => TurnClass::Other,
    }
}

/// SIGINT's number (Ctrl-C), the same on every Unix.
const SIGINT: i32 = 2;

/// The most handoffs a summary lists (the latest ones); `handoff_count` has them all.
pub const MAX_LISTED_HANDOFFS: usize = 100;

/// Summarize one artifact.
pub fn summarize(harness: HarnessKind, artifact: &Artifact) -> Summary {
    let mut summarizer = Summarizer::new(harness, &artifact.name);
    for record in &artifact.records {
        summarizer.feed(record);
    }
    summarizer.skipped(artifact.skipped_lines);
    summarizer.finish()
}

/// A summary built one frame at a time, in bounded memory whatever the artifact's size
/// (the reader streams the file through it).
pub struct Summarizer {
    s: Summary,
    /// Failover-class turns "recovered" when a later delivered success came from another
    /// account than the first that failed: the session moved. A success on that same
    /// account (after an in-place retry, or a short rate limit waited out while every
    /// account was briefly limited) is no handoff.
    /// The account of the first failover-class turn not yet followed by a delivered answer.
    first_pending_failure: Option<String>,
    recovered_after_failure: bool,
    /// A handoff moved the session because usage crossed the threshold.
    proactive: bool,
    started: bool,
    ended: bool,
}

impl Summarizer {
    pub fn new(harness: HarnessKind, artifact: &str) -> Summarizer {
        Summarizer {
            s: Summary {
                harness,
                artifact: artifact.to_string(),
                frames: 0,
                skipped_lines: 0,
                started_at: None,
                ended_at: None,
                profile: None,
                launch_account: None,
                accounts_used: Vec::new(),
                proxy_turns: 0,
                turns_by_account: BTreeMap::new(),
                turns_by_status: BTreeMap::new(),
                turns_by_classification: BTreeMap::new(),
                withheld_turns: 0,
                failover_class_turns: 0,
                failover_class_delivered: 0,
                quota_observations: 0,
                handoffs: Vec::new(),
                handoff_count: 0,
                pool_exhausted: false,
                earliest_reset: None,
                refused_requests: 0,
                unsupported_transport_answers: 0,
                rate_limit_waits: 0,
                stream_errors_after_content: 0,
                token_refreshes: 0,
                upstream_unreachable_turns: 0,
                errors_delivered: 0,
                exit_code: None,
                signal: None,
                user_visible_failure_likely: false,
                verdict: Verdict::NotAManagedSession,
                next_action: "",
                next_action_hint: String::new(),
                next_commands: Vec::new(),
            },
            first_pending_failure: None,
            recovered_after_failure: false,
            proactive: false,
            started: false,
            ended: false,
        }
    }

    /// Lines of the artifact that did not parse.
    pub fn skipped(&mut self, lines: usize) {
        self.s.skipped_lines += lines;
    }

    /// Take one frame into account.
    pub fn feed(&mut self, record: &Record) {
        let s = &mut self.s;
        s.frames += 1;
        match &record.frame {
            Frame::SessionStarted {
                profile, account, ..
            } => {
                self.started = true;
                s.started_at = Some(record.ts.clone());
                s.profile = Some(profile.clone());
                s.launch_account = Some(account.clone());
            }
            Frame::ProxyTurn {
                account,
                status,
                classification,
                delivered_to_harness,
                ..
            } => {
                s.proxy_turns += 1;
                *s.turns_by_account.entry(account.clone()).or_default() += 1;
                *s.turns_by_status.entry(*status).or_default() += 1;
                *s.turns_by_classification
                    .entry(classification.clone())
                    .or_default() += 1;
                if !s.accounts_used.contains(account) {
                    s.accounts_used.push(account.clone());
                }
                if !delivered_to_harness {
                    s.withheld_turns += 1;
                }
                if classification == UNREACHABLE_LABEL {
                    s.upstream_unreachable_turns += 1;
                }
                match turn_class(classification, *status) {
                    TurnClass::Other | TurnClass::Transient
                        if *delivered_to_harness
                            && *status >= 400
                            && classification != UNREACHABLE_LABEL
                            && classification != SIDE_CALL_LABEL =>
                    {
                        s.errors_delivered += 1;
                        self.first_pending_failure = None;
                    }
                    TurnClass::Failover => {
                        s.failover_class_turns += 1;
                        if *delivered_to_harness {
                            s.failover_class_delivered += 1;
                        }
                        self.first_pending_failure
                            .get_or_insert_with(|| account.clone());
                    }
                    TurnClass::Success if *delivered_to_harness => {
                        let first = self.first_pending_failure.take();
                        self.recovered_after_failure |= first.is_some_and(|f| f != *account);
                    }
                    // Any other answer the harness saw ended its request (a 400, a 529
                    // after the retries): its earlier failures are no one else's.
                    _ if *delivered_to_harness => self.first_pending_failure = None,
                    _ => {}
                }
            }
            Frame::QuotaObserved { .. } => s.quota_observations += 1,
            Frame::Handoff { from, to, reason } => {
                s.handoff_count += 1;
                if from.is_some() && reason == "usage_threshold" {
                    self.proactive = true;
                }
                if s.handoffs.len() == MAX_LISTED_HANDOFFS {
                    s.handoffs.remove(0);
                }
                s.handoffs.push(HandoffView {
                    from: from.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                });
            }
            Frame::PoolExhausted { earliest_reset, .. } => {
                s.pool_exhausted = true;
                if earliest_reset.is_some() {
                    s.earliest_reset = earliest_reset.clone();
                }
            }
            Frame::UnsupportedTransport { .. } => s.unsupported_transport_answers += 1,
            Frame::RateLimitWait { .. } => s.rate_limit_waits += 1,
            Frame::HeldResponseDelivered {
                status,
                classification,
                ..
            } => {
                s.withheld_turns = s.withheld_turns.saturating_sub(1);
                if turn_class(classification, *status) == TurnClass::Failover {
                    s.failover_class_delivered += 1;
                }
            }
            Frame::StreamErrorAfterContent { .. } => s.stream_errors_after_content += 1,
            Frame::Refused { .. } => s.refused_requests += 1,
            Frame::TokenRefresh { .. } => s.token_refreshes += 1,
            Frame::RequestsRefused { counts } => {
                let n: u64 = counts.values().sum();
                s.refused_requests += usize::try_from(n).unwrap_or(usize::MAX);
            }
            Frame::SessionEnded { exit_code, signal } => {
                self.ended = true;
                s.ended_at = Some(record.ts.clone());
                s.exit_code = Some(*exit_code);
                s.signal = *signal;
            }
        }
    }

    /// The summary of every frame fed.
    pub fn finish(self) -> Summary {
        let Summarizer {
            mut s,
            first_pending_failure,
            recovered_after_failure,
            proactive,
            started,
            ended,
        } = self;
        let unrecovered_failure = first_pending_failure.is_some();
        // An interrupt (Ctrl-C: 130 or SIGINT) is the user leaving, not a failure.
        let harness_failed = match (s.exit_code, s.signal) {
            (_, Some(sig)) => sig != SIGINT,
            (Some(code), None) => code != 0 && code != 128 + SIGINT,
            (None, None) => false,
        };
        s.verdict = if !started {
            Verdict::NotAManagedSession
        } else if !ended {
            Verdict::SessionIncomplete
        } else if s.pool_exhausted {
            Verdict::PoolExhausted
        } else if s.upstream_unreachable_turns > 0 {
            Verdict::UpstreamUnreachable
        } else if s.stream_errors_after_content > 0 {
            Verdict::ErrorAfterContent
        } else if s.failover_class_delivered > 0
            || (s.failover_class_turns > 0 && unrecovered_failure)
        {
            Verdict::QuotaHandoffFailed
        } else if s.errors_delivered > 0 {
            Verdict::ErrorsShownToHarness
        } else if harness_failed {
            Verdict::HarnessFailed
        } else if s.failover_class_turns > 0 && recovered_after_failure {
            Verdict::SuccessfulLiveQuotaHandoff
        } else if proactive {
            Verdict::ProactiveHandoff
        } else if s.proxy_turns == 0 {
            Verdict::NoProxyTraffic
        } else {
            Verdict::NoHandoffNeeded
        };
        s.user_visible_failure_likely = s.verdict.is_failure();
        let (action, hint, commands) = next_action(s.harness, &s);
        s.next_action = action;
        s.next_action_hint = hint;
        s.next_commands = commands;
        s
    }
}

fn next_action(harness: HarnessKind, s: &Summary) -> (&'static str, String, Vec<String>) {
    let profile = s.profile.as_deref().unwrap_or(match harness {
        HarnessKind::Codex => "codex-max",
        HarnessKind::Claude => "claude",
    });
    let explain = format!("oauth-mux route explain --profile {profile}");
    let health = "oauth-mux health".to_string();
    match s.verdict {
        Verdict::SuccessfulLiveQuotaHandoff => (
            "none",
            "the handoff worked; the spent account stays benched until its window resets".into(),
            vec![explain],
        ),
        Verdict::ProactiveHandoff => (
            "none",
            "usage crossed the threshold and the session moved before any failure".into(),
            vec![explain],
        ),
        Verdict::NoHandoffNeeded => ("none", "nothing to do".into(), Vec::new()),
        Verdict::QuotaHandoffFailed => (
            "repair_route_health_or_add_fallback_account",
            "an account failed and no other account of the profile carried the request; repair the failing route or add a fallback account".into(),
            vec![explain, format!("oauth-mux repair-plan --profile {profile}")],
        ),
        Verdict::PoolExhausted => (
            "wait_for_reset_or_add_account",
            match &s.earliest_reset {
                Some(at) => format!("every account of the profile is spent; the earliest resets at {at}"),
                None => "every account of the profile is spent; no reset time was reported".into(),
            },
            vec![explain, health],
        ),
        Verdict::NoProxyTraffic => (
            "check_harness_configuration",
            format!(
                "{} sent nothing through the proxy; a setting of its own may point it elsewhere",
                harness.name()
            ),
            vec![format!("oauth-mux doctor runtime --provider {}", harness.name())],
        ),
        Verdict::SessionIncomplete => (
            "wait_or_inspect",
            "the session has not ended (still running, or oauth-mux was killed before it could record the end)".into(),
            vec![health],
        ),
        Verdict::UpstreamUnreachable => (
            "check_network",
            format!(
                "the provider could not be reached from this machine ({} request(s) got 502); check the network, HTTPS_PROXY and any upstream override, then start the session again",
                s.upstream_unreachable_turns
            ),
            vec![format!("oauth-mux {} preflight", harness.name())],
        ),
        Verdict::ErrorAfterContent => (
            "run_the_turn_again",
            "an error arrived after the answer had started to reach the harness, so it could not be replayed on another account; the account's state is recorded, and the next turn goes to an account that works".into(),
            vec![explain],
        ),
        Verdict::ErrorsShownToHarness => (
            "inspect_provider_errors",
            format!(
                "{} model request(s) got an error from the provider that the proxy passed on (see turns_by_status); they are not an account's fault",
                s.errors_delivered
            ),
            vec![explain],
        ),
        Verdict::HarnessFailed => (
            "check_the_harness_output",
            format!(
                "{} exited with {}; its own output says why (the proxy saw no provider failure)",
                harness.name(),
                match (s.exit_code, s.signal) {
                    (_, Some(sig)) => format!("signal {sig}"),
                    (Some(code), None) => format!("code {code}"),
                    (None, None) => "an unknown status".into(),
                }
            ),
            vec![format!("oauth-mux {} preflight", harness.name())],
        ),
        Verdict::NotAManagedSession => (
            "run_a_managed_session",
            "the artifact holds no session_started frame".into(),
            vec![format!("oauth-mux {}", harness.name())],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::session::{Record, UsageWindow};

    fn rec(frame: Frame) -> Record {
        Record {
            v: 1,
            ts: "2026-11-22T05:00:00Z".into(),
            frame,
        }
    }

    fn started(account: &str) -> Frame {
        Frame::SessionStarted {
            harness: HarnessKind::Codex,
            oauth_mux_version: "0.3.0".into(),
            profile: "codex-max".into(),
            account: account.into(),
            pool: vec!["max-1".into(), "max-2".into()],
            auth_kind: "chatgpt".into(),
            child_config: "overlay".into(),
            side_traffic_disabled: false,
            isolated_config: false,
        }
    }

    fn turn(account: &str, status: u16, class: &str, delivered: bool) -> Frame {
        Frame::ProxyTurn {
            account: account.into(),
            method: "POST".into(),
            path_kind: "responses".into(),
            status,
            classification: class.into(),
            delivered_to_harness: delivered,
        }
    }

    fn handoff(from: &str, to: &str, reason: &str) -> Frame {
        Frame::Handoff {
            from: Some(from.into()),
            to: to.into(),
            reason: reason.into(),
        }
    }

    fn ended(code: i32) -> Frame {
        Frame::SessionEnded {
            exit_code: code,
            signal: None,
        }
    }

    fn run(frames: Vec<Frame>) -> Summary {
        let artifact = Artifact {
            name: "codex-1-1.ndjson".into(),
            records: frames.into_iter().map(rec).collect(),
            skipped_lines: 0,
        };
        summarize(HarnessKind::Codex, &artifact)
    }

    #[test]
    fn withheld_quota_then_success_elsewhere_is_a_live_handoff() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "quota_exhausted", false),
            handoff("max-1", "max-2", "quota_exhausted"),
            turn("max-2", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.verdict, Verdict::SuccessfulLiveQuotaHandoff);
        assert_eq!(s.next_action, "none");
        assert_eq!(s.accounts_used, vec!["max-1", "max-2"]);
        assert_eq!(s.withheld_turns, 1);
        assert!(!s.user_visible_failure_likely);
        assert_eq!(s.turns_by_status.get(&429), Some(&1));
    }

    #[test]
    fn quota_delivered_to_harness_is_a_failed_handoff() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "quota_exhausted", true),
            ended(1),
        ]);
        assert_eq!(s.verdict, Verdict::QuotaHandoffFailed);
        assert_eq!(s.next_action, "repair_route_health_or_add_fallback_account");
        assert!(s.user_visible_failure_likely);
    }

    #[test]
    fn withheld_failure_without_later_success_is_a_failed_handoff() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 401, "token_revoked", false),
            ended(1),
        ]);
        assert_eq!(s.verdict, Verdict::QuotaHandoffFailed);
    }

    #[test]
    fn success_on_the_same_account_is_not_a_handoff() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "rate_limited", false),
            turn("max-1", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.verdict, Verdict::NoHandoffNeeded);
        assert!(!s.user_visible_failure_likely);
    }

    #[test]
    fn a_waited_out_rate_limit_is_counted_and_needs_nothing() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "short_rate_limit", false),
            Frame::RateLimitWait {
                account: "max-1".into(),
                wait_ms: 1000,
            },
            turn("max-1", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.rate_limit_waits, 1);
        assert_eq!(s.verdict, Verdict::NoHandoffNeeded);
        assert!(!s.user_visible_failure_likely);
    }

    #[test]
    fn a_wait_is_a_handoff_only_when_another_account_than_the_first_to_fail_answers() {
        // (max-1's refusal, the account waited for, the account that answered, verdict)
        let cases = [
            // Both briefly limited; max-1's limit lifts first and it answers: no move.
            (
                "short_rate_limit",
                "max-1",
                "max-1",
                Verdict::NoHandoffNeeded,
            ),
            // max-1 limited for longer: the request waits for max-2, which answers.
            (
                "short_rate_limit",
                "max-2",
                "max-2",
                Verdict::SuccessfulLiveQuotaHandoff,
            ),
            // max-1 spent, max-2 briefly limited: waited for, it answers.
            (
                "quota_exhausted",
                "max-2",
                "max-2",
                Verdict::SuccessfulLiveQuotaHandoff,
            ),
        ];
        for (first, waited_for, answered, verdict) in cases {
            let s = run(vec![
                started("max-1"),
                turn("max-1", 429, first, false),
                handoff("max-1", "max-2", first),
                turn("max-2", 429, "short_rate_limit", false),
                Frame::RateLimitWait {
                    account: waited_for.into(),
                    wait_ms: 1000,
                },
                turn(answered, 200, "success", true),
                ended(0),
            ]);
            assert_eq!(s.rate_limit_waits, 1);
            assert_eq!(s.verdict, verdict, "{first}, waited for {waited_for}");
            assert!(!s.user_visible_failure_likely);
        }
    }

    #[test]
    fn a_request_that_ended_otherwise_leaves_no_failure_behind() {
        // R1: max-1 windowless, max-2 answers 400 (the harness sees it). R2: max-2 spent,
        // max-1 answers: R2 alone would be a live handoff (judged by its own first
        // failure), but the 400 R1 showed the harness makes the session a failure.
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "windowless_rate_limit", false),
            handoff("max-1", "max-2", "windowless_rate_limit"),
            turn("max-2", 400, "unknown_4xx", true),
            turn("max-2", 429, "quota_exhausted", false),
            handoff("max-2", "max-1", "quota_exhausted"),
            turn("max-1", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.verdict, Verdict::ErrorsShownToHarness);
        assert_eq!((s.errors_delivered, s.handoff_count), (1, 2));
        let without_r1 = run(vec![
            started("max-2"),
            turn("max-2", 429, "quota_exhausted", false),
            handoff("max-2", "max-1", "quota_exhausted"),
            turn("max-1", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(without_r1.verdict, Verdict::SuccessfulLiveQuotaHandoff);
    }

    #[test]
    fn a_held_refusal_delivered_after_all_is_a_visible_failure() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "windowless_rate_limit", false),
            handoff("max-1", "max-2", "windowless_rate_limit"),
            turn("max-2", 429, "quota_exhausted", false),
            Frame::HeldResponseDelivered {
                account: "max-1".into(),
                status: 429,
                classification: "windowless_rate_limit".into(),
            },
            ended(1),
        ]);
        assert_eq!(s.withheld_turns, 1);
        assert_eq!(s.failover_class_delivered, 1);
        assert_eq!(s.verdict, Verdict::QuotaHandoffFailed);
        assert!(s.user_visible_failure_likely);
    }

    #[test]
    fn an_error_after_content_is_likely_visible() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 200, "success", true),
            Frame::StreamErrorAfterContent {
                account: "max-1".into(),
                status: 429,
                classification: "quota_exhausted".into(),
            },
            ended(1),
        ]);
        assert_eq!(s.stream_errors_after_content, 1);
        assert!(s.user_visible_failure_likely);
    }

    #[test]
    fn pool_exhausted_reports_the_reset() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 429, "quota_exhausted", false),
            handoff("max-1", "max-2", "quota_exhausted"),
            turn("max-2", 429, "quota_exhausted", false),
            Frame::PoolExhausted {
                earliest_reset: Some("2026-11-22T06:00:00Z".into()),
                repair_command: "oauth-mux route explain --profile codex-max".into(),
            },
            ended(1),
        ]);
        assert_eq!(s.verdict, Verdict::PoolExhausted);
        assert_eq!(s.next_action, "wait_for_reset_or_add_account");
        assert!(s.next_action_hint.contains("2026-11-22T06:00:00Z"));
        assert!(s.user_visible_failure_likely);
    }

    #[test]
    fn usage_threshold_switch_is_proactive() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 200, "success", true),
            Frame::QuotaObserved {
                account: "max-1".into(),
                windows: vec![UsageWindow {
                    window: "primary".into(),
                    used_percent: 97.0,
                    resets_in_seconds: Some(600),
                    window_minutes: None,
                }],
            },
            handoff("max-1", "max-2", "usage_threshold"),
            turn("max-2", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.verdict, Verdict::ProactiveHandoff);
        assert_eq!(s.quota_observations, 1);
    }

    #[test]
    fn labels_are_sorted_into_failover_transient_and_other() {
        for label in FAILOVER_LABELS {
            assert_eq!(turn_class(label, 429), TurnClass::Failover, "{label}");
        }
        assert_eq!(turn_class("success", 200), TurnClass::Success);
        assert_eq!(turn_class("provider_degraded", 529), TurnClass::Transient);
        for other in ["side_call", "unknown_4xx", "schema_invalid", "failure"] {
            assert_eq!(turn_class(other, 400), TurnClass::Other, "{other}");
        }
    }

    #[test]
    fn transient_retries_are_no_handoff() {
        let s = run(vec![
            started("max-1"),
            turn("max-1", 529, "provider_degraded", false),
            turn("max-1", 200, "success", true),
            ended(0),
        ]);
        assert_eq!(s.verdict, Verdict::NoHandoffNeeded);
        assert_eq!(s.exit_code, Some(0));
    }

    #[test]
    fn no_traffic_incomplete_and_empty() {
        assert_eq!(
            run(vec![started("max-1"), ended(0)]).verdict,
            Verdict::NoProxyTraffic
        );
        assert_eq!(
            run(vec![started("max-1"), turn("max-1", 200, "success", true)]).verdict,
            Verdict::SessionIncomplete
        );
        assert_eq!(run(vec![]).verdict, Verdict::NotAManagedSession);
    }

    #[test]
    fn summary_json_has_stable_names() {
        let s = run(vec![started("max-1"), ended(0)]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["verdict"], "no_proxy_traffic");
        assert_eq!(json["harness"], "codex");
        assert_eq!(json["next_action"], "check_harness_configuration");
    }

    /// Every verdict, the session that earns it, and whether it counts as a failure the
    /// harness's user likely saw.
    #[test]
    fn a_case_per_verdict() {
        let quota = |a: &str| turn(a, 429, "quota_exhausted", false);
        let ok = |a: &str| turn(a, 200, "success", true);
        let signal = |sig: i32| Frame::SessionEnded {
            exit_code: 128 + sig,
            signal: Some(sig),
        };
        let after_content = Frame::StreamErrorAfterContent {
            account: "max-1".into(),
            status: 429,
            classification: "quota_exhausted".into(),
        };
        let exhausted = Frame::PoolExhausted {
            earliest_reset: None,
            repair_command: "oauth-mux route explain --profile codex-max".into(),
        };
        let cases: Vec<(&str, Vec<Frame>, Verdict, bool)> = vec![
            ("no frames", vec![], Verdict::NotAManagedSession, false),
            (
                "no end",
                vec![started("max-1"), ok("max-1")],
                Verdict::SessionIncomplete,
                true,
            ),
            (
                "every account spent",
                vec![
                    started("max-1"),
                    quota("max-1"),
                    quota("max-2"),
                    exhausted,
                    ended(1),
                ],
                Verdict::PoolExhausted,
                true,
            ),
            (
                "30 turns of 502 and exit 1",
                std::iter::once(started("max-1"))
                    .chain((0..30).map(|_| turn("max-1", 502, "upstream_unreachable", true)))
                    .chain(std::iter::once(ended(1)))
                    .collect(),
                Verdict::UpstreamUnreachable,
                true,
            ),
            (
                "a quota error after content",
                vec![started("max-1"), ok("max-1"), after_content, ended(0)],
                Verdict::ErrorAfterContent,
                true,
            ),
            (
                "the failover-class answer reached the harness",
                vec![
                    started("max-1"),
                    turn("max-1", 429, "quota_exhausted", true),
                    ended(1),
                ],
                Verdict::QuotaHandoffFailed,
                true,
            ),
            (
                "a 400 the request earned, passed on",
                vec![
                    started("max-1"),
                    turn("max-1", 400, "unknown_4xx", true),
                    ended(1),
                ],
                Verdict::ErrorsShownToHarness,
                true,
            ),
            (
                "a 529 after the retries in place",
                vec![
                    started("max-1"),
                    turn("max-1", 529, "provider_degraded", false),
                    turn("max-1", 529, "provider_degraded", true),
                    ended(1),
                ],
                Verdict::ErrorsShownToHarness,
                true,
            ),
            (
                "the harness failed on its own",
                vec![started("max-1"), ok("max-1"), ended(3)],
                Verdict::HarnessFailed,
                true,
            ),
            (
                "killed by a signal",
                vec![started("max-1"), ok("max-1"), signal(9)],
                Verdict::HarnessFailed,
                true,
            ),
            (
                "a handoff carried the turn, then the harness failed",
                vec![
                    started("max-1"),
                    quota("max-1"),
                    handoff("max-1", "max-2", "quota_exhausted"),
                    ok("max-2"),
                    ended(2),
                ],
                Verdict::HarnessFailed,
                true,
            ),
            (
                "a handoff carried the turn",
                vec![
                    started("max-1"),
                    quota("max-1"),
                    handoff("max-1", "max-2", "quota_exhausted"),
                    ok("max-2"),
                    ended(0),
                ],
                Verdict::SuccessfulLiveQuotaHandoff,
                false,
            ),
            (
                "Ctrl-C is the user leaving",
                vec![started("max-1"), ok("max-1"), signal(2)],
                Verdict::NoHandoffNeeded,
                false,
            ),
            (
                "usage crossed the threshold",
                vec![
                    started("max-1"),
                    ok("max-1"),
                    handoff("max-1", "max-2", "usage_threshold"),
                    ok("max-2"),
                    ended(0),
                ],
                Verdict::ProactiveHandoff,
                false,
            ),
            (
                "nothing went through the proxy",
                vec![started("max-1"), ended(0)],
                Verdict::NoProxyTraffic,
                false,
            ),
            (
                "all well",
                vec![started("max-1"), ok("max-1"), ended(0)],
                Verdict::NoHandoffNeeded,
                false,
            ),
        ];
        for (what, frames, verdict, failure) in cases {
            let s = run(frames);
            assert_eq!(s.verdict, verdict, "{what}");
            assert_eq!(s.user_visible_failure_likely, failure, "{what}");
            if failure {
                assert_ne!(
                    s.next_action, "none",
                    "{what}: a failure needs a next action"
                );
                assert!(
                    !s.next_action_hint.is_empty() && !s.next_commands.is_empty(),
                    "{what}: {s:?}"
                );
            }
        }
    }
}
