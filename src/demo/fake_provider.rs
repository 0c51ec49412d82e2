//! A loopback fake provider speaking the Codex (ChatGPT backend and `/v1/responses`) and
//! Anthropic (`/v1/messages`) wire shapes recorded in harness-facts.md. Each account's
//! behaviour is scripted by the credential it receives (bearer token or `x-api-key`); a
//! canned answer can stand in for every other request on any path; a `CONNECT` opens a
//! tunnel, as a forward proxy would. Every request is logged (method, target, headers,
//! body), so `oauth-mux demo` and the test suite can see exactly what reached it. Its OAuth
//! token endpoint (`…/oauth/token`) rotates refresh tokens by the real rules
//! ([`TokenLineage`]), and the access tokens it issues work on the model paths.

mod answers;
mod request_log;
mod token_endpoint;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use self::answers::Wire;
pub use self::request_log::SeenRequest;
use self::token_endpoint::TokenBook;
pub use self::token_endpoint::{TokenLineage, TokenStyle, TokenUse};
use crate::proxy::framing::{ClientConn, FrameError, Limits, body_framing};

/// How the fake provider answers one account's model requests (or, as the canned answer,
/// every request no script covers).
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// A complete successful SSE stream whose text is `text`.
    Succeed { text: String },
    /// Success, with usage headers reporting `used_percent` of the 5-hour window.
    SucceedWithUsage { text: String, used_percent: f64 },
    /// A small non-streaming 200 JSON answer (for latency benchmarks).
    SmallJson,
    /// [`Behaviour::SmallJson`] with the usage headers real providers send on nearly every
    /// answer (`used_percent` of the 5-hour window).
    SmallJsonWithUsage { used_percent: f64 },
    /// The provider's real quota error, resetting in `resets_in_seconds`.
    QuotaExhausted { resets_in_seconds: u64 },
    /// A 429 with no reset information at all (request-scoped).
    WindowlessRateLimit,
    /// A 200 SSE stream whose first event is the quota error.
    ErrorFirstEvent { resets_in_seconds: u64 },
    /// `failures` answers of `status` (529 or 5xx), then success.
    Transient { status: u16, failures: u32 },
    /// `failures` short rate limits (429 with `retry-after`), then success.
    ShortRateLimit {
        retry_after_seconds: u64,
        failures: u32,
    },
    /// 401: the token is no longer valid.
    Unauthorized,
    /// A slow SSE stream: `events` content events `interval_ms` apart.
    SlowStream { events: u32, interval_ms: u64 },
    /// A stream that delivers content, then fails with a quota error event.
    ContentThenError,
    /// Nothing for `millis`, then a successful stream (an upstream that hangs).
    Stall { millis: u64 },
    /// A 429's status line and headers, then nothing for `millis` before its body.
    StallBody { millis: u64 },
    /// Exactly this status, headers and body (bytes untouched, e.g. gzip).
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

impl Behaviour {
    /// A [`Behaviour::Raw`] JSON answer: `status` with `body` as `application/json`.
    pub fn json(status: u16, body: &str) -> Behaviour {
        Behaviour::Raw {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<SeenRequest>,
    scripted_calls: HashMap<String, u32>,
    released_streams: u32,
    completed_streams: u32,
    tokens: TokenBook,
}

/// What every connection thread shares.
struct Shared {
    script: HashMap<String, Behaviour>,
    canned: Option<Behaviour>,
    tunnels: bool,
    /// Scripted credentials that stop working at a Unix time (answered 401 from then on).
    expiries: HashMap<String, i64>,
    /// How long the token endpoint takes to answer.
    token_delay: Duration,
    /// When set, every token request gets this status (a provider in trouble).
    token_failure: Option<u16>,
    state: Arc<Mutex<State>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count a call of a fail-then-succeed behaviour; true while the credential's calls are
    /// still within its first `failures`.
    fn nth_failing_call(&self, cred: &str, failures: u32) -> bool {
        let mut s = self.lock();
        let n = s.scripted_calls.entry(cred.to_owned()).or_default();
        *n += 1;
        *n <= failures
    }
}

/// What a [`FakeProvider`] will do, before it starts.
#[derive(Debug, Default)]
pub struct FakeProviderBuilder {
    script: Vec<(String, Behaviour)>,
    canned: Option<Behaviour>,
    refuse_tunnels: bool,
    lineages: Vec<TokenLineage>,
    expiries: Vec<(String, i64)>,
    token_delay: Duration,
    token_failure: Option<u16>,
}

impl FakeProviderBuilder {
    /// Answer model requests carrying `credential` with `behaviour`.
    pub fn account(mut self, credential: impl Into<String>, behaviour: Behaviour) -> Self {
        self.script.push((credential.into(), behaviour));
        self
    }

    /// [`FakeProviderBuilder::account`] for each `(credential, behaviour)`.
    pub fn accounts(mut self, script: Vec<(String, Behaviour)>) -> Self {
        self.script.extend(script);
        self
    }

    /// Answer every request that no account script covers, on any path, with `behaviour`.
    pub fn every_request(mut self, behaviour: Behaviour) -> Self {
        self.canned = Some(behaviour);
        self
    }

    /// Refuse `CONNECT` (with the canned answer, else a bare 403) instead of tunnelling: a
    /// proxy that lets nothing off the machine.
    pub fn refuse_tunnels(mut self) -> Self {
        self.refuse_tunnels = true;
        self
    }

    /// Honour refresh tokens of this lineage at the token endpoint (`POST …/oauth/token`).
    pub fn lineage(mut self, lineage: TokenLineage) -> Self {
        self.lineages.push(lineage);
        self
    }

    /// Answer model requests carrying `credential` with 401 from `unix_seconds` on (an
    /// access token that expires).
    pub fn expiring(mut self, credential: impl Into<String>, unix_seconds: i64) -> Self {
        self.expiries.push((credential.into(), unix_seconds));
        self
    }

    /// Hold every token endpoint answer back for `delay` (so concurrent refreshes overlap).
    pub fn token_delay(mut self, delay: Duration) -> Self {
        self.token_delay = delay;
        self
    }

    /// Answer every token request with `status` and a server error (a provider in trouble).
    pub fn token_failure(mut self, status: u16) -> Self {
        self.token_failure = Some(status);
        self
    }

    /// Start serving on 127.0.0.1 and a free port.
    pub fn start(self) -> std::io::Result<FakeProvider> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            tokens: TokenBook::new(self.lineages),
            ..State::default()
        }));
        let shared = Arc::new(Shared {
            script: self.script.into_iter().collect(),
            canned: self.canned,
            tunnels: !self.refuse_tunnels,
            expiries: self.expiries.into_iter().collect(),
            token_delay: self.token_delay,
            token_failure: self.token_failure,
            state: state.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let accept = std::thread::Builder::new()
            .name("fake-provider".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = shared.clone();
                    let _ = std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || serve_connection(stream, &shared));
                }
            })?;
        Ok(FakeProvider {
            addr,
            stop,
            accept: Some(accept),
            state,
        })
    }
}

/// A running fake provider on 127.0.0.1.
pub struct FakeProvider {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    state: Arc<Mutex<State>>,
}

impl FakeProvider {
    /// Start serving `script` (credential → behaviour). Unknown credentials get 401.
    pub fn start(script: Vec<(String, Behaviour)>) -> std::io::Result<Self> {
        FakeProvider::builder().accounts(script).start()
    }

    /// A fake that answers every request, on any path, with `behaviour`.
    pub fn answering(behaviour: Behaviour) -> std::io::Result<Self> {
        FakeProvider::builder().every_request(behaviour).start()
    }

    pub fn builder() -> FakeProviderBuilder {
        FakeProviderBuilder::default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request received so far, in order (`CONNECT`s and unreadable requests too).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().requests.clone()
    }

    /// Model requests received with this credential.
    pub fn calls(&self, credential: &str) -> u32 {
        self.model_requests(credential).count() as u32
    }

    /// Every request received (model and side calls, any credential), tunnels not counted.
    pub fn total_calls(&self) -> u32 {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method != "CONNECT")
            .count() as u32
    }

    /// Headers (lower-case names) of the last model request with this credential.
    pub fn last_headers(&self, credential: &str) -> Vec<(String, String)> {
        self.model_requests(credential)
            .last()
            .map(|r| r.headers)
            .unwrap_or_default()
    }

    /// Body bytes of the last model request with this credential.
    pub fn last_body(&self, credential: &str) -> Vec<u8> {
        self.model_requests(credential)
            .last()
            .map(|r| r.body)
            .unwrap_or_default()
    }

    fn model_requests(&self, credential: &str) -> impl Iterator<Item = SeenRequest> {
        let credential = credential.to_owned();
        self.requests().into_iter().filter(move |r| {
            wire_of(r.path()).is_some() && r.credential().as_deref() == Some(credential.as_str())
        })
    }

    /// The token endpoint requests received so far, in order (method, headers, body).
    pub fn token_requests(&self) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && TokenBook::serves(r.path()))
            .collect()
    }

    /// Every token endpoint request so far, in order: what each came to.
    pub fn token_uses(&self) -> Vec<TokenUse> {
        self.lock().tokens.uses().to_vec()
    }

    /// How many token requests were granted new tokens.
    pub fn grants(&self) -> usize {
        self.token_uses()
            .iter()
            .filter(|u| **u == TokenUse::Granted)
            .count()
    }

    /// The one valid refresh token of the lineage that started with `initial`.
    pub fn current_refresh_token(&self, initial: &str) -> Option<String> {
        self.lock().tokens.current_refresh_token(initial)
    }

    /// Slow streams that ended because the reader went away.
    pub fn released_streams(&self) -> u32 {
        self.lock().released_streams
    }

    /// Slow streams that ran to completion.
    pub fn completed_streams(&self) -> u32 {
        self.lock().completed_streams
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = accept.join();
        }
    }
}

/// The wire of a model path, or `None` for any other path.
fn wire_of(path: &str) -> Option<Wire> {
    match path {
        "/backend-api/codex/responses" | "/v1/responses" => Some(Wire::Codex),
        "/v1/messages" => Some(Wire::Anthropic),
        _ => None,
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let limits = Limits::default();
    let mut conn = ClientConn::new(stream);
    loop {
        let (head, body) = match read_request(&mut conn, &limits) {
            Ok(request) => request,
            Err(FrameError::Closed | FrameError::Timeout { mid_request: false }) => return,
            Err(_) => {
                // Something arrived that is no HTTP request (a TLS hello, garbage): it is
                // still an attempt to reach the provider.
                shared.lock().requests.push(SeenRequest::unreadable());
                return;
            }
        };
        let request = SeenRequest::new(&head, body);
        shared.lock().requests.push(request.clone());
        let keep = head.keep_alive();
        if request.method == "CONNECT" {
            if shared.tunnels {
                // Like a forward proxy: the tunnelled request follows on this connection.
                if answers::connection_established(&mut conn.stream) {
                    continue;
                }
                return;
            }
            let _ = answer_canned(&mut conn.stream, shared, Wire::Codex);
            return;
        }
        if head.is_upgrade() {
            // Like a gateway without WebSocket support: Codex then streams over POST + SSE.
            let _ = answers::write_json(
                &mut conn.stream,
                426,
                &[],
                &json!({"error": "upgrade required"}),
            );
            return;
        }
        if !answer(&mut conn.stream, shared, &request) || !keep {
            return;
        }
    }
}

fn read_request(
    conn: &mut ClientConn,
    limits: &Limits,
) -> Result<(crate::proxy::framing::RequestHead, Vec<u8>), FrameError> {
    let head = conn.read_head(limits)?;
    let framing = body_framing(&head)?;
    let body = conn.read_body(framing, limits)?;
    Ok((head, body))
}

/// Answer one request: the account's script on a model path, a Codex side call, the canned
/// answer, or what a provider says to an unknown token or path.
fn answer(out: &mut TcpStream, shared: &Shared, request: &SeenRequest) -> bool {
    let path = request.path();
    let wire = wire_of(path);
    let now = jiff::Timestamp::now().as_second();
    if request.method == "POST" && TokenBook::serves(path) {
        std::thread::sleep(shared.token_delay);
        let (status, body) = match shared.token_failure {
            Some(status) => (status, json!({"error": "server_error"})),
            None => shared.lock().tokens.answer(&request.body_text(), now),
        };
        return answers::write_json(out, status, &[], &body);
    }
    let credential = request.credential().unwrap_or_default();
    if let Some(wire) = wire {
        let expired = shared
            .expiries
            .get(&credential)
            .is_some_and(|at| now >= *at);
        let issued = shared.lock().tokens.access(&credential, now);
        let behaviour = match (shared.script.get(&credential), issued) {
            _ if expired => return answers::unknown_credential(out, wire),
            (Some(behaviour), _) => Some(behaviour.clone()),
            (None, Some(Ok(behaviour))) => Some(behaviour),
            (None, Some(Err(()))) => return answers::unknown_credential(out, wire),
            (None, None) => None,
        };
        if let Some(behaviour) = behaviour {
            return answers::behave(out, wire, behaviour, &credential, shared);
        }
    }
    if shared.canned.is_some() {
        return answer_canned(out, shared, wire.unwrap_or(Wire::Codex));
    }
    if let Some(wire) = wire {
        return answers::unknown_credential(out, wire);
    }
    let accounts = shared.lock().tokens.account_ids();
    match answers::side_call(path, &accounts) {
        Some(body) => answers::write_json(out, 200, &[], &body),
        None => answers::write_json(out, 404, &[], &json!({"error": {"type": "not_found"}})),
    }
}

/// The canned answer (a bare 403 when there is none).
fn answer_canned(out: &mut TcpStream, shared: &Shared, wire: Wire) -> bool {
    match &shared.canned {
        Some(behaviour) => answers::behave(out, wire, behaviour.clone(), "<canned>", shared),
        None => answers::raw(out, 403, &[], b""),
    }
}
