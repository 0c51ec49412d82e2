//! One managed session's request handling: route by path, swap credentials, and the
//! failover loop of SPEC §8 (hold back, record, elect the next account, replay).

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use super::abandon;
use super::attempt::{self, Failure, RequestProblem};
use super::fields::Fields;
use super::frames::{Frame, FrameSink};
use super::framing::RequestHead;
use super::headers::{UpstreamHeader, upstream_request_headers};
use super::pool::{AccountId, Credential, Elected, Pool, ResponseEvidence};
use super::refusals::{RefusalReason, Refusals};
use super::replies::{self, LocalReply};
use super::response::{self, Framing, Held};
use super::sse::LateErrorSniffer;
use super::upstream::Upstream;
use super::usage::wham_usage_body;
use super::{Harness, ProxyConfig};
use crate::model::judgement::{Action, Record};

/// The ChatGPT account id a managed Codex is given in its placeholder credentials; the
/// proxy's local answer to `wham/accounts/check` names it so the harness's workspace
/// routing discovery succeeds whichever real account serves the session.
pub const PLACEHOLDER_ACCOUNT_ID: &str = "omux-placeholder-account";

/// The headers a request goes upstream with (`headers::upstream_request_headers`).
type UpstreamHeaders<'r> = Vec<UpstreamHeader<'r>>;

/// A request read from the harness, the session secret already stripped from its path.
pub struct ClientRequest {
    pub head: RequestHead,
    /// Path and query after the secret, starting with `/`.
    pub path: String,
    pub body: Vec<u8>,
}

/// What a request path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Model traffic: classified, failed over, recorded.
    Model(&'static str),
    /// Codex's own usage check, answered from the pool.
    Usage,
    /// Codex's workspace routing discovery, answered locally with the placeholder account the
    /// harness was given (the real account is the proxy's business).
    AccountsCheck,
    /// Bootstrap and side calls: pinned to the current account, passed through.
    Side(&'static str),
}

/// Classify a request path (query ignored).
pub fn route(path: &str) -> Route {
    let p = path.split('?').next().unwrap_or(path);
    if p.ends_with("/responses") || p.ends_with("/responses/compact") {
        return Route::Model("responses");
    }
    if p == "/v1/messages" {
        return Route::Model("messages");
    }
    if p.ends_with("/wham/usage") || p.ends_with("/codex/usage") {
        return Route::Usage;
    }
    if p.ends_with("/wham/accounts/check") {
        return Route::AccountsCheck;
    }
    if p.starts_with("/backend-api/") {
        Route::Side("codex_other")
    } else {
        Route::Side("other")
    }
}

/// Map the path between Codex's ChatGPT (`/backend-api/codex/…`) and API-key (`/v1/…`)
/// families to fit the elected credential. Other paths are unchanged.
pub fn upstream_path<'a>(credential: &Credential, path: &'a str) -> Cow<'a, str> {
    let moved = match credential {
        Credential::CodexApiKey { .. } => path
            .strip_prefix("/backend-api/codex/")
            .map(|rest| format!("/v1/{rest}")),
        Credential::CodexChatgpt { .. } => path
            .strip_prefix("/v1/")
            .map(|rest| format!("/backend-api/codex/{rest}")),
        _ => None,
    };
    moved.map_or(Cow::Borrowed(path), Cow::Owned)
}

/// State shared by every connection of one session.
pub struct Session {
    pub config: ProxyConfig,
    pub pool: Arc<dyn Pool>,
    pub frames: FrameSink,
    pub upstream: Upstream,
    /// Requests refused before touching an account, counted and summarized.
    refusals: Refusals,
    /// The sticky account: kept while it stays selectable.
    current: Mutex<Option<AccountId>>,
    /// The account whose response the harness saw last (its `x-codex-turn-state`).
    last_served: Mutex<Option<AccountId>>,
}

impl Session {
    pub fn new(
        config: ProxyConfig,
        pool: Arc<dyn Pool>,
        frames: FrameSink,
    ) -> anyhow::Result<Self> {
        let upstream = Upstream::new(&config.upstream_options)?;
        let refusals = Refusals::new(config.refusal_report_interval);
        Ok(Session {
            config,
            pool,
            frames,
            upstream,
            refusals,
            current: Mutex::new(None),
            last_served: Mutex::new(None),
        })
    }

    fn emit(&self, frame: Frame) {
        (self.frames)(frame);
    }

    /// Count a request refused before it touched an account (see `refusals`).
    pub fn refuse(&self, reason: RefusalReason) {
        self.refusals.count(reason, &self.frames);
    }

    /// The session is over: report the refusals not reported yet and make every recorded
    /// fact durable.
    pub fn finish(&self) {
        self.refusals.flush(&self.frames);
        self.pool.flush();
    }

    /// Serve one request; returns whether the connection may carry another.
    pub fn serve(&self, out: &mut impl Write, req: ClientRequest, keep_alive: bool) -> bool {
        let route = route(&req.path);
        if req.head.is_upgrade() {
            let path_kind = match route {
                Route::Model(k) | Route::Side(k) => k,
                Route::Usage => "usage",
                Route::AccountsCheck => "accounts_check",
            };
            self.emit(Frame::UnsupportedTransport {
                path_kind: path_kind.into(),
            });
            return response::write_local(out, &replies::websocket_refused(), keep_alive);
        }
        let how = Framing {
            head_request: req.head.method().eq_ignore_ascii_case("HEAD"),
            http10: req.head.minor_version == 0,
            keep_alive,
        };
        match route {
            Route::Usage => {
                let now = Timestamp::now();
                let body = wham_usage_body(&self.pool.usage_view(now), now);
                let reply = LocalReply {
                    status: 200,
                    headers: vec![("content-type".into(), b"application/json".to_vec())],
                    body: serde_json::to_vec(&body).unwrap_or_default(),
                };
                response::write_local(out, &reply, keep_alive)
            }
            Route::AccountsCheck => {
                let body = serde_json::json!({
                    "accounts": [{"id": PLACEHOLDER_ACCOUNT_ID, "structure": "personal",
                        "workspace_backend_origin": "NO_CONSTRAINT",
                        "account_routing_override": "NO_CONSTRAINT"}],
                    "account_ordering": [PLACEHOLDER_ACCOUNT_ID],
                    "default_account_id": PLACEHOLDER_ACCOUNT_ID,
                });
                let reply = LocalReply {
                    status: 200,
                    headers: vec![("content-type".into(), b"application/json".to_vec())],
                    body: serde_json::to_vec(&body).unwrap_or_default(),
                };
                response::write_local(out, &reply, keep_alive)
            }
            Route::Side(kind) => self.forward_pinned(out, &req, kind, how),
            Route::Model(kind) => self.forward_with_failover(out, &req, kind, how),
        }
    }

    fn upstream_url(&self, elected: &Elected, path: &str) -> String {
        let origin = elected
            .upstream
            .as_deref()
            .unwrap_or(&self.config.upstream)
            .trim_end_matches('/');
        format!("{origin}{}", upstream_path(&elected.credential, path))
    }

    /// Elect for this request and note a handoff when the sticky account changes. `reason`
    /// names the failure that made this request move, if any.
    fn elect(
        &self,
        exclude: &[AccountId],
        reason: Option<&str>,
        now: Timestamp,
    ) -> Option<Elected> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let elected = self.pool.elect(current.as_ref(), exclude, now)?;
        if current.as_ref() != Some(&elected.account) {
            if current.is_some() {
                self.emit(Frame::Handoff {
                    from: current.as_ref().map(|a| a.0.to_string()),
                    to: elected.account.0.to_string(),
                    reason: reason
                        .or(elected.passed_over.as_deref())
                        .unwrap_or("not_selectable")
                        .to_string(),
                });
            }
            *current = Some(elected.account.clone());
        }
        Some(elected)
    }

    fn drop_turn_state(&self, account: &AccountId) -> bool {
        let last = self.last_served.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref() != Some(account)
    }

    fn served(&self, account: &AccountId) {
        *self.last_served.lock().unwrap_or_else(|e| e.into_inner()) = Some(account.clone());
    }

    fn turn(
        &self,
        account: &AccountId,
        req: &ClientRequest,
        kind: &'static str,
        status: u16,
        classification: &str,
        delivered: bool,
    ) {
        self.emit(Frame::ProxyTurn {
            account: account.0.to_string(),
            method: req.head.method().to_string(),
            path_kind: kind.into(),
            status,
            classification: classification.to_string(),
            delivered_to_harness: delivered,
        });
    }

    fn exhausted(&self, out: &mut impl Write, resets: Option<Timestamp>, keep_alive: bool) -> bool {
        let now = Timestamp::now();
        let earliest = match (resets, self.pool.earliest_reset(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let profile = self.pool.profile().to_string();
        self.emit(Frame::PoolExhausted {
            earliest_reset: earliest.map(|t| t.to_string()),
            repair_command: replies::repair_command(&profile),
        });
        let reply = replies::pool_exhausted(self.config.harness, &profile, earliest, now);
        response::write_local(out, &reply, keep_alive)
    }

    fn transport_failure(&self, out: &mut impl Write, err: &ureq::Error, keep_alive: bool) -> bool {
        let reply = replies::proxy_error(
            self.config.harness,
            502,
            &format!(
                "upstream unreachable ({})",
                attempt::transport_error_kind(err)
            ),
        );
        response::write_local(out, &reply, keep_alive)
    }

    /// A request the upstream client cannot send: answered here, counted as refused,
    /// nothing recorded against the account.
    fn unsendable(&self, out: &mut impl Write, problem: RequestProblem, keep_alive: bool) -> bool {
        self.refuse(problem.reason());
        let reply = replies::proxy_error(self.config.harness, problem.status(), problem.message());
        response::write_local(out, &reply, keep_alive)
    }

    fn send(
        &self,
        req: &ClientRequest,
        url: &str,
        headers: &[UpstreamHeader<'_>],
        model: bool,
    ) -> Result<Held, attempt::Failure> {
        attempt::check_head(req.head.method(), &req.path, headers)?;
        let resp = self
            .upstream
            .send(req.head.method(), url, headers, &req.body)?;
        // `From` unwraps a ureq error carried inside an I/O error (a timeout while the
        // body is read), so `worth_retrying` sees what it is.
        let held = response::hold(resp, model, self.config.sse_hold).map_err(ureq::Error::from)?;
        Ok(held)
    }

    /// Side calls: the current account, one attempt, passed through as is.
    fn forward_pinned(
        &self,
        out: &mut impl Write,
        req: &ClientRequest,
        kind: &'static str,
        how: Framing,
    ) -> bool {
        let Some(elected) = self.elect_waiting_once(&mut Attempts::default(), None) else {
            return !abandon::harness_gone() && self.exhausted(out, None, how.keep_alive);
        };
        let headers = upstream_request_headers(
            &req.head,
            &elected.credential,
            self.drop_turn_state(&elected.account),
        );
        let url = self.upstream_url(&elected, &req.path);
        let mut sent = self.send(req, &url, &headers, false);
        // A 401 on a side call with a refreshable account: refresh once and ask again, so the
        // harness never meets an expired token here either.
        if let Ok(held) = &sent
            && held.status == 401
            && let Some((_, headers)) = self.renewed(req, &elected)
        {
            sent = self.send(req, &url, &headers, false);
        }
        match sent {
            Ok(held) => {
                self.turn(&elected.account, req, kind, held.status, "side_call", true);
                response::deliver(out, held, how)
            }
            Err(Failure::HarnessGone) => false,
            Err(Failure::Request(problem)) => self.unsendable(out, problem, how.keep_alive),
            Err(Failure::Transport(e)) => self.transport_failure(out, &e, how.keep_alive),
        }
    }

    /// After a 401 from `elected`: its credential refreshed by the pool (or one another
    /// process refreshed), and the request's headers with it; `None` when it cannot be.
    fn renewed<'r>(
        &self,
        req: &'r ClientRequest,
        elected: &Elected,
    ) -> Option<(Arc<Credential>, UpstreamHeaders<'r>)> {
        let fresh = self
            .pool
            .renew_unauthorized(&elected.account, &elected.credential)?;
        self.emit(Frame::TokenRefresh {
            account: elected.account.0.to_string(),
            trigger: "unauthorized".into(),
        });
        let headers =
            upstream_request_headers(&req.head, &fresh, self.drop_turn_state(&elected.account));
        Some((fresh, headers))
    }

    /// Model traffic: SPEC §8 failover.
    fn forward_with_failover(
        &self,
        out: &mut impl Write,
        req: &ClientRequest,
        kind: &'static str,
        how: Framing,
    ) -> bool {
        let mut attempts = Attempts::default();
        let mut reason: Option<String> = None;
        // A request-scoped (windowless) refusal, kept in case no other account answers.
        let mut windowless: Option<(Held, AccountId, String)> = None;
        let mut earliest: Option<Timestamp> = None;
        while let Some(mut elected) = self.elect_waiting_once(&mut attempts, reason.as_deref()) {
            attempts.tried.push(elected.account.clone());
            let mut headers = upstream_request_headers(
                &req.head,
                &elected.credential,
                self.drop_turn_state(&elected.account),
            );
            let url = self.upstream_url(&elected, &req.path);
            let mut attempt = 0u32;
            let mut renewed = false;
            loop {
                let held = match self.send(req, &url, &headers, true) {
                    Ok(held) => held,
                    Err(Failure::HarnessGone) => return false,
                    Err(Failure::Request(problem)) => {
                        return self.unsendable(out, problem, how.keep_alive);
                    }
                    Err(Failure::Transport(e)) => {
                        if attempt < self.config.retries_in_place && attempt::worth_retrying(&e) {
                            if !abandon::sleep(self.backoff(attempt)) {
                                return false;
                            }
                            attempt += 1;
                            continue;
                        }
                        self.turn(
                            &elected.account,
                            req,
                            kind,
                            502,
                            "upstream_unreachable",
                            true,
                        );
                        return self.transport_failure(out, &e, how.keep_alive);
                    }
                };
                let now = Timestamp::now();
                let judgement = self.pool.judge(&elected.account, &held.evidence, now);
                // A 401 from an account whose token can be refreshed: refresh it (or adopt a
                // token another process refreshed) and ask the same account again, once,
                // before the 401 counts as a dead account.
                if held.evidence.status == 401
                    && judgement.record == Record::RouteAndAccount
                    && !renewed
                {
                    renewed = true;
                    if let Some((fresh, fresh_headers)) = self.renewed(req, &elected) {
                        drop(held);
                        (elected.credential, headers) = (fresh, fresh_headers);
                        continue;
                    }
                }
                let usage = self.pool.observe_usage(&held.evidence, now);
                if !usage.is_empty() {
                    self.emit(Frame::QuotaObserved {
                        account: elected.account.0.to_string(),
                        windows: usage.clone(),
                    });
                }
                self.pool
                    .record(&elected.account, &held.evidence, &judgement, &usage, now);
                let action = match judgement.action {
                    Action::RetryInPlace if attempt >= self.config.retries_in_place => {
                        Action::Deliver
                    }
                    a => a,
                };
                self.turn(
                    &elected.account,
                    req,
                    kind,
                    held.evidence.status,
                    judgement.label,
                    action == Action::Deliver,
                );
                match action {
                    Action::Deliver => {
                        self.served(&elected.account);
                        return self.deliver_and_watch(out, held, how, &elected.account);
                    }
                    Action::RetryInPlace => {
                        drop(held);
                        if !abandon::sleep(self.backoff(attempt)) {
                            return false;
                        }
                        attempt += 1;
                    }
                    // A session speaks to one provider: "next provider" (never the table's
                    // answer to a harness request) would mean the next account too.
                    Action::NextAccount | Action::NextAccountOrWait | Action::NextProvider => {
                        reason = Some(judgement.label.to_owned());
                        if judgement.is_short_limit() {
                            attempts.short.push(elected.account.clone());
                        }
                        if judgement.is_request_scoped_refusal() {
                            windowless =
                                Some((held, elected.account.clone(), judgement.label.to_owned()));
                        } else {
                            earliest = match (earliest, judgement.resets_at()) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        break;
                    }
                }
            }
        }
        // Nothing left to try. A request-scoped (windowless) refusal is passed on as the
        // provider sent it; a spent pool gets one clear error.
        if abandon::harness_gone() {
            return false;
        }
        if let Some((held, account, classification)) = windowless {
            self.emit(Frame::HeldResponseDelivered {
                account: account.0.to_string(),
                status: held.evidence.status,
                classification,
            });
            return response::deliver(out, held, how);
        }
        self.exhausted(out, earliest, how.keep_alive)
    }

    /// Elect an account for a request, never one it already asked. When none is left but
    /// one is only briefly rate limited (met by this request, or by another one in flight
    /// on an account this request has not asked), wait until the first such limit lifts,
    /// once per request, and elect again: better than handing the harness an error neither
    /// Codex nor Claude Code (on a subscription) retries.
    fn elect_waiting_once(&self, attempts: &mut Attempts, reason: Option<&str>) -> Option<Elected> {
        let now = Timestamp::now();
        if let Some(elected) = self.elect(&attempts.tried, reason, now) {
            return Some(elected);
        }
        if attempts.waited {
            return None;
        }
        // The pool's view decides how long: a limit this request met may have lifted
        // already (a slow next account, a `retry-after: 0`: no wait), or grown since.
        let (until, account) = self.pool.short_limit(&attempts.refused(), now)?;
        attempts.waited = true;
        let wait = now
            .duration_until(until)
            .try_into()
            .unwrap_or(Duration::ZERO);
        self.emit(Frame::RateLimitWait {
            account: account.0.to_string(),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        });
        if !abandon::sleep(wait) {
            return None;
        }
        attempts.tried.retain(|a| a != &account);
        // The sleep ran on the monotonic clock; if the wall clock stepped back meanwhile,
        // judge the limit from its own end rather than refuse the account again.
        self.elect(&attempts.tried, reason, Timestamp::now().max(until))
    }

    /// Deliver, and if an error event arrives after content reached the harness, record it
    /// (the account's health changes) without replaying anything.
    fn deliver_and_watch(
        &self,
        out: &mut impl Write,
        held: Held,
        how: Framing,
        account: &AccountId,
    ) -> bool {
        let is_sse = held
            .evidence
            .header("content-type")
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if !is_sse {
            return response::deliver(out, held, how);
        }
        let headers = held.evidence.headers.clone();
        let mut sniffer = LateErrorSniffer::default();
        let mut watch = |bytes: &[u8]| {
            if sniffer.found().is_some() {
                return;
            }
            sniffer.feed(bytes);
            if let Some((status, body)) = sniffer.found() {
                self.late_error(account, &headers, *status, body);
            }
        };
        // The held opening may already carry events after the first content event.
        watch(&held.held);
        response::deliver_watched(out, held, how, Some(&mut watch))
    }

    fn late_error(&self, account: &AccountId, headers: &Fields, status: u16, body: &[u8]) {
        let now = Timestamp::now();
        let evidence = ResponseEvidence {
            status,
            headers: headers.clone(),
            body: body.to_vec(),
            from_stream_event: true,
        };
        let judgement = self.pool.judge(account, &evidence, now);
        if judgement.record != Record::Nothing {
            self.pool.record(account, &evidence, &judgement, &[], now);
        }
        self.emit(Frame::StreamErrorAfterContent {
            account: account.0.to_string(),
            status,
            classification: judgement.label.to_owned(),
        });
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.config.retry_backoff * 2u32.saturating_pow(attempt)
    }
}

/// The accounts one request has asked, and its one wait for a short rate limit.
#[derive(Default)]
struct Attempts {
    /// Every account asked; none is elected again, except the one waited for.
    tried: Vec<AccountId>,
    /// Those that answered with a short rate limit.
    short: Vec<AccountId>,
    waited: bool,
}

impl Attempts {
    /// Accounts this request saw refuse for longer than a short limit: never waited for,
    /// even if another request's short limit on them is recorded since.
    fn refused(&self) -> Vec<AccountId> {
        self.tried
            .iter()
            .filter(|a| !self.short.contains(a))
            .cloned()
            .collect()
    }
}

/// Harness kind accessor used by the server for framing errors.
pub fn harness_of(session: &Session) -> Harness {
    session.config.harness
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("/backend-api/codex/responses"),
            Route::Model("responses")
        );
        assert_eq!(route("/v1/responses"), Route::Model("responses"));
        assert_eq!(route("/v1/messages?beta=true"), Route::Model("messages"));
        assert_eq!(
            route("/v1/messages/count_tokens?beta=true"),
            Route::Side("other")
        );
        assert_eq!(route("/backend-api/wham/usage"), Route::Usage);
        assert_eq!(
            route("/backend-api/wham/accounts/check"),
            Route::AccountsCheck
        );
        assert_eq!(
            route("/backend-api/codex/models?client_version=1"),
            Route::Side("codex_other")
        );
    }

    #[test]
    fn codex_path_families_follow_the_credential() {
        let key = Credential::CodexApiKey {
            api_key: "k".into(),
        };
        let chat = Credential::CodexChatgpt {
            access_token: "t".into(),
            account_id: "a".into(),
        };
        assert_eq!(
            upstream_path(&key, "/backend-api/codex/responses"),
            "/v1/responses"
        );
        assert_eq!(
            upstream_path(&chat, "/v1/responses"),
            "/backend-api/codex/responses"
        );
        assert_eq!(
            upstream_path(&chat, "/backend-api/wham/usage"),
            "/backend-api/wham/usage"
        );
    }
}
