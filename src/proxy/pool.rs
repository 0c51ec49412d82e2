//! What the proxy asks of an account pool: elect an account, judge a response, record
//! what it learned. The proxy owns the wire; the pool asks the model for every decision
//! about accounts (the one election, the one judgement table).

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;

pub use super::reader::{ResponseEvidence, ResponseReader, UsageWindow};
use crate::model::judgement::Judgement;

/// An account inside a pool, named by the config's account label (never a raw upstream id);
/// shared, since every request's election, attempts and frames copy it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub std::sync::Arc<str>);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The credential the proxy swaps into a request. `Debug` never shows the secret parts.
#[derive(Clone)]
pub enum Credential {
    /// Codex on a ChatGPT subscription: bearer token plus `chatgpt-account-id`.
    CodexChatgpt {
        access_token: String,
        account_id: String,
    },
    /// Codex with an OpenAI API key (`Authorization: Bearer sk-…`).
    CodexApiKey { api_key: String },
    /// Claude on a subscription: bearer token plus the `oauth-2025-04-20` beta flag.
    ClaudeOauth { access_token: String },
    /// Claude with an Anthropic API key (`x-api-key`).
    ClaudeApiKey { api_key: String },
}

impl Credential {
    /// The secret the provider sees (the access token or the API key).
    pub fn secret(&self) -> &str {
        match self {
            Credential::CodexChatgpt { access_token, .. }
            | Credential::ClaudeOauth { access_token } => access_token,
            Credential::CodexApiKey { api_key } | Credential::ClaudeApiKey { api_key } => api_key,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Credential::CodexChatgpt { .. } => "CodexChatgpt",
            Credential::CodexApiKey { .. } => "CodexApiKey",
            Credential::ClaudeOauth { .. } => "ClaudeOauth",
            Credential::ClaudeApiKey { .. } => "ClaudeApiKey",
        };
        write!(f, "Credential::{kind}(<redacted>)")
    }
}

/// An account chosen to carry a request.
#[derive(Clone, Debug)]
pub struct Elected {
    pub account: AccountId,
    pub credential: Arc<Credential>,
    /// Upstream origin for this account (e.g. `https://chatgpt.com`); None = the session's.
    pub upstream: Option<String>,
    /// Why the preferred account was passed over (`usage_threshold`, `quota_exhausted`, …),
    /// if it was.
    pub passed_over: Option<String>,
}

/// The pool's view of one usage window, for answering the harness's own usage check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageView {
    /// Highest used percent of the account the pool would elect now (None = unknown).
    pub primary_used_percent: Option<f64>,
    pub secondary_used_percent: Option<f64>,
    pub primary_resets_at: Option<Timestamp>,
    pub secondary_resets_at: Option<Timestamp>,
    /// True when some account is selectable now.
    pub any_selectable: bool,
    /// Earliest time an account comes back when none is selectable.
    pub earliest_reset: Option<Timestamp>,
}

/// The account pool behind one managed session. Implementations must be cheap on `elect`
/// and `judge` (they sit on the request path) and must keep durable writes in `record`
/// off the caller's thread; `flush` makes them durable.
pub trait Pool: Send + Sync {
    /// The profile name, for repair commands.
    fn profile(&self) -> &str;
    /// Elect an account for a request: `prefer` (the session's current account) when it is
    /// still selectable and below the usage threshold, else the best other one. Never one in
    /// `exclude`.
    fn elect(
        &self,
        prefer: Option<&AccountId>,
        exclude: &[AccountId],
        now: Timestamp,
    ) -> Option<Elected>;
    /// How this pool's provider answers are read (the model's one classifier and the
    /// definition's usage headers).
    fn reader(&self) -> &ResponseReader;
    /// Classify a response of `account`: the one classifier decides the action.
    fn judge(
        &self,
        _account: &AccountId,
        evidence: &ResponseEvidence,
        now: Timestamp,
    ) -> Judgement {
        self.reader().judge(evidence, now)
    }
    /// Read the provider's usage headers from a response.
    fn observe_usage(&self, evidence: &ResponseEvidence, now: Timestamp) -> Vec<UsageWindow> {
        self.reader().usage(evidence, now)
    }
    /// Record what a response taught about `account` (health, usage). Must not block on disk.
    fn record(
        &self,
        account: &AccountId,
        evidence: &ResponseEvidence,
        judgement: &Judgement,
        usage: &[UsageWindow],
        now: Timestamp,
    );
    /// Earliest known reset among the pool's spent accounts.
    fn earliest_reset(&self, now: Timestamp) -> Option<Timestamp>;
    /// What a request that found no account left may wait for: the account, not in
    /// `exclude`, that may be asked first and when — `now` for one that may be asked at
    /// once (a rate limit met by this request that has lifted already), else the one
    /// whose rate limit lifts first if that is at most [`crate::model::classify::SHORT_RATE_LIMIT_SECONDS`] away,
    /// whichever request met it. The pool's current view decides (another request may have
    /// met a longer limit, or a quota, on the same account since). Ties go in preference
    /// order.
    fn short_limit(&self, exclude: &[AccountId], now: Timestamp) -> Option<(Timestamp, AccountId)>;
    /// The usage the harness should see for its own limits check.
    fn usage_view(&self, now: Timestamp) -> UsageView;
    /// Block until every recorded fact is durable.
    fn flush(&self);
    /// `account` answered 401: refresh its token now (or adopt one another process
    /// refreshed) and return the credential to retry with; `None` when the account cannot
    /// be refreshed (or the refresh failed), so the 401 stands.
    fn renew_unauthorized(
        &self,
        _account: &AccountId,
        _used: &Credential,
    ) -> Option<Arc<Credential>> {
        None
    }
}

/// Renews the OAuth tokens of a pool's accounts (the launcher builds it over `oauth::`,
/// sharing the real CLIs' locks).
pub trait Renewer: Send + Sync {
    /// When `account`'s token is next due for a refresh ahead of expiry (`None`: never,
    /// e.g. an API key, or an account whose refresh was rejected).
    fn due_at(&self, account: &AccountId) -> Option<Timestamp>;
    /// Refresh `account` now: ahead of expiry, or forced after a 401 that `used` got (a
    /// store that holds another token by then is adopted, not refreshed again).
    fn renew(
        &self,
        account: &AccountId,
        trigger: crate::model::refresh::RefreshTrigger,
        used: Option<&Credential>,
    ) -> Renewal;
}

/// What a renewal came to.
#[derive(Debug)]
pub enum Renewal {
    /// A new (or another process's newer) credential: use it from now on.
    Renewed(Credential),
    /// Nothing changed (not due after all).
    Unchanged,
    /// Network trouble or a provider error: try again later.
    Failed,
    /// The account cannot be refreshed any more (refresh token rejected, none stored).
    GaveUp,
}
