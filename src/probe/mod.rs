//! Probes: check one route against its provider (HTTP through one shared agent,
//! or a command against the account's config dir), classify the answer with the
//! one classifier, record the evidence, and log a redacted event.
//!
//! Runtime problems (a missing binary, a placeholder whose variable is unset, a
//! network failure) are reported but never recorded as credential liveness.

pub mod codex_jsonl;
pub mod command;
pub mod http;
pub mod placeholder;
pub mod reach;

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::provider_def::{ProbeAuth, ProbeDefinition, ProbeTransport};
use crate::config::schema::{AccountConfig, ProviderConfig};
use crate::config::{Config, ProviderDefinition};
use crate::evidence;
use crate::exit::ExitCode;
use crate::model::RouteKey;
use crate::model::budget::ActionBudget;
use crate::model::classify::{Classification, Decision, ResponseEvidence, classify_response};
use crate::model::event::{Event, EventKind, ProbeEvent, label_of};
use crate::model::health::EvidenceSource;
use crate::model::judgement::{Origin, judge};
use crate::model::liveness::{DeadReason, DegradedReason, Liveness};
use crate::model::refresh::{RefreshOutcome, RefreshTrigger};
use crate::model::runtime::RuntimeReadiness;
use crate::oauth::FailureKind;
use crate::secrets::{self, Credential, SecretSpec};
use crate::store::paths::Dirs;

/// How many characters of the classification hint a report or event keeps.
const HINT_EXCERPT_CHARS: usize = 240;

/// Everything a probe needs about one route.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRoute<'a> {
    pub key: &'a RouteKey,
    pub provider: &'a ProviderConfig,
    pub account: &'a AccountConfig,
    pub definition: &'a ProviderDefinition,
    /// The profile the route was selected through, for `OMUX_ACTIVE_PROFILE`.
    pub profile: Option<&'a str>,
}

/// How a probe attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The provider answered and the route is usable.
    Usable,
    /// The provider answered; the classification says the route is not usable now.
    NotUsable,
    /// A `spend_provider` probe was not run: it needs `--confirm-spend` or a policy.
    ConfirmationRequired,
    /// The recorded state says not to probe yet (dead, waiting out a limit…).
    Skipped,
    /// The capability defines no probe.
    NoProbe,
    /// The account's secret could not be read or parsed (recorded dead, exit 202).
    SecretUnavailable,
    /// The token is expired and no refresh is admitted (exit 203; not recorded).
    TokenExpired,
    /// The token was expired and the token endpoint rejected its refresh (exit 203; the
    /// account is recorded dead `refresh_rejected`).
    RefreshRejected,
    /// A local runtime problem (missing binary, no permission); not recorded.
    RuntimeProblem,
    /// The request could not be built (e.g. a placeholder's variable is unset); nothing sent.
    RequestInvalid,
    /// Connect, TLS or timeout failure talking to the provider (exit 204); not recorded.
    NetworkError,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usable => "usable",
            Self::NotUsable => "not_usable",
            Self::ConfirmationRequired => "confirmation_required",
            Self::Skipped => "skipped",
            Self::NoProbe => "no_probe",
            Self::SecretUnavailable => "secret_unavailable",
            Self::TokenExpired => "token_expired",
            Self::RefreshRejected => "refresh_rejected",
            Self::RuntimeProblem => "runtime_problem",
            Self::RequestInvalid => "request_invalid",
            Self::NetworkError => "network_error",
        }
    }

    /// The exit code this outcome maps to when no route is usable.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Self::SecretUnavailable => ExitCode::SecretRead,
            Self::TokenExpired | Self::RefreshRejected => ExitCode::TokenRefresh,
            Self::NetworkError => ExitCode::Network,
            Self::RequestInvalid => ExitCode::Config,
            _ => ExitCode::NoneSelectable,
        }
    }
}

/// A bounded, redacted-on-output summary of what the provider said.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSummary {
    pub source: EvidenceSource,
    pub status: u16,
    /// The first characters of the classification hint (output is redacted).
    pub hint_excerpt: String,
}

/// The result of probing one route.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutcome {
    pub outcome: OutcomeKind,
    pub probe_executed: bool,
    pub status: Option<u16>,
    pub classification: Option<Classification>,
    pub decision: Option<Decision>,
    /// The liveness recorded for the route by this probe.
    pub liveness: Option<Liveness>,
    pub evidence: Option<EvidenceSummary>,
    /// Set for runtime problems.
    pub runtime: Option<RuntimeReadiness>,
    pub message: Option<String>,
    /// The refresh that ran first because the token had expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_refresh: Option<crate::oauth::RefreshReport>,
}

impl ProbeOutcome {
    /// An outcome without a provider answer.
    pub fn bare(outcome: OutcomeKind, message: impl Into<String>) -> Self {
        Self {
            outcome,
            probe_executed: false,
            status: None,
            classification: None,
            decision: None,
            liveness: None,
            evidence: None,
            runtime: None,
            message: Some(message.into()),
            token_refresh: None,
        }
    }

    /// Whether the route is usable after this probe.
    pub fn usable(&self) -> bool {
        self.outcome == OutcomeKind::Usable
    }
}

/// The capability's probe definition, if any.
pub fn probe_definition<'d>(
    def: &'d ProviderDefinition,
    key: &RouteKey,
) -> Option<&'d ProbeDefinition> {
    def.capability(key.capability.as_deref()?)?.probe.as_ref()
}

/// Whether config policy admits `spend_provider` probes for this provider without
/// `--confirm-spend`: `policy.providers.<name>.allowed_budgets` lists it, or (for
/// codex) `policy.codex.allow_provider_spend` is true.
pub fn policy_admits_spend(config: &Config, provider: &str, kind: &str) -> bool {
    let listed = [provider, kind].iter().any(|name| {
        config
            .policy
            .providers
            .get(*name)
            .is_some_and(|p| p.allowed_budgets.contains(&ActionBudget::SpendProvider))
    });
    let codex = kind == "codex" || provider == "codex";
    listed
        || (codex
            && config
                .policy
                .codex
                .as_ref()
                .is_some_and(|c| c.allow_provider_spend))
}

/// Probe one route: read the credential, run the capability probe, classify,
/// record, log. `Err` only when the health store cannot be written.
pub fn run_probe(
    dirs: &Dirs,
    route: ProbeRoute<'_>,
    now: Timestamp,
) -> anyhow::Result<ProbeOutcome> {
    let key = route.key;
    let Some(probe) = probe_definition(route.definition, key) else {
        return Ok(ProbeOutcome::bare(
            OutcomeKind::NoProbe,
            format!(
                "{key}: the capability defines no probe; nothing to check (see `oauth-mux providers list`)"
            ),
        ));
    };
    let budget = probe.effective_budget();
    let sends_token = probe.transport == ProbeTransport::Http && probe.auth != ProbeAuth::None;
    // HTTP probes without auth need no credential; every other probe checks that
    // the account's credential is readable first.
    let credential = if probe.transport == ProbeTransport::Http && !sends_token {
        None
    } else {
        match read_credential(route, now) {
            Ok(c) => Some(c),
            Err(message) => {
                let class = Classification::Dead {
                    reason: DeadReason::CredentialUnavailable,
                };
                let recorded = evidence::record(
                    dirs,
                    &key.account_key(),
                    &class,
                    None,
                    EvidenceSource::CredentialValidation,
                    now,
                )?;
                let mut out = ProbeOutcome::bare(OutcomeKind::SecretUnavailable, message);
                out.classification = Some(class.clone());
                out.decision = Some(judge(&class, Origin::Probe).decision());
                out.liveness = Some(recorded.liveness);
                log_probe(dirs, key, budget, &out, now);
                return Ok(out);
            }
        }
    };
    // An expired token is refreshed first when the account admits it; otherwise an HTTP
    // probe fails closed (a command probe leaves the token to the CLI it runs).
    let mut token_refresh = None;
    let mut credential = credential;
    if let Some(cred) = &credential
        && cred.kind == secrets::TokenKind::Bearer
        && cred.is_expired(now)
    {
        match refresh_first(dirs, route) {
            Err(not) if sends_token => {
                crate::oauth::log_not_admitted(
                    dirs,
                    &key.account_key().to_string(),
                    RefreshTrigger::Probe,
                    &not.reason,
                );
                let out = ProbeOutcome::bare(
                    OutcomeKind::TokenExpired,
                    format!(
                        "{key}: the access token is expired and oauth-mux may not refresh it \
                         ({}); log in again (`oauth-mux repair-plan`)",
                        not.reason
                    ),
                );
                log_probe(dirs, key, budget, &out, now);
                return Ok(out);
            }
            Err(_) => {}
            Ok(report) => {
                let failed = match (report.outcome, report.failure) {
                    (o, _) if o.ok() => None,
                    (RefreshOutcome::Rejected, _) => Some(OutcomeKind::RefreshRejected),
                    (_, Some(FailureKind::Network | FailureKind::Provider)) => {
                        Some(OutcomeKind::NetworkError)
                    }
                    (_, Some(FailureKind::Store)) => Some(OutcomeKind::SecretUnavailable),
                    _ => Some(OutcomeKind::TokenExpired),
                };
                if let Some(kind) = failed {
                    let mut out = ProbeOutcome::bare(kind, report.message.clone());
                    out.token_refresh = Some(report);
                    log_probe(dirs, key, budget, &out, now);
                    return Ok(out);
                }
                credential = read_credential(route, now).ok();
                token_refresh = Some(report);
            }
        }
    }
    let observed = match probe.transport {
        ProbeTransport::Http => {
            http_observation(route, probe, credential.as_ref().map(|c| &c.access_token))
        }
        ProbeTransport::Command => command_observation(route, probe),
    };
    let observed = match observed {
        Ok(o) => o,
        Err(out) => {
            log_probe(dirs, key, budget, &out, now);
            return Ok(*out);
        }
    };
    let class = classify(route.definition, probe, &observed, now);
    let recorded = evidence::record(
        dirs,
        key,
        &class,
        Some(observed.status),
        observed.source,
        now,
    )?;
    let decision = judge(&class, Origin::Probe).decision();
    let out = ProbeOutcome {
        outcome: if decision == Decision::UseThis {
            OutcomeKind::Usable
        } else {
            OutcomeKind::NotUsable
        },
        probe_executed: true,
        status: Some(observed.status),
        classification: Some(class),
        decision: Some(decision),
        liveness: Some(recorded.liveness),
        evidence: Some(EvidenceSummary {
            source: observed.source,
            status: observed.status,
            hint_excerpt: excerpt(observed.hint.as_deref().unwrap_or(&observed.body)),
        }),
        runtime: None,
        message: None,
        token_refresh,
    };
    log_probe(dirs, key, budget, &out, now);
    Ok(out)
}

/// Refresh the route's account before probing, when its writeback admits it.
fn refresh_first(
    dirs: &Dirs,
    route: ProbeRoute<'_>,
) -> Result<crate::oauth::RefreshReport, crate::oauth::NotRefreshable> {
    let parts = crate::oauth::AccountParts {
        provider: &route.key.provider,
        provider_config: route.provider,
        account: &route.key.account,
        account_config: route.account,
        definition: route.definition,
    };
    let target = crate::oauth::target_of(&parts, &dirs.data_dir, &|n| std::env::var(n).ok())?;
    Ok(crate::oauth::refresh(
        dirs,
        &target,
        RefreshTrigger::Probe,
        None,
    ))
}

fn read_credential(route: ProbeRoute<'_>, now: Timestamp) -> Result<Credential, String> {
    let key = route.key;
    let field = format!("providers.{}.accounts.{}.secret", key.provider, key.account);
    let spec: SecretSpec = serde_json::from_value(route.account.secret.clone()).map_err(|_| {
        format!("{key}: {field} is not a valid secret block; run `oauth-mux config validate`")
    })?;
    let raw = secrets::read_secret(&spec, &field).map_err(|e| format!("{key}: {e}"))?;
    secrets::parse_credential(&raw, &route.definition.credential, now)
        .map_err(|e| format!("{key}: {e}"))
}

/// What a probe observed, in the classifier's terms.
struct Observation {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    hint: Option<String>,
    source: EvidenceSource,
    /// For successful HTTP bodies that the definition wants validated.
    body_problem: Option<String>,
}

fn http_observation(
    route: ProbeRoute<'_>,
    probe: &ProbeDefinition,
    token: Option<&secrets::Secret>,
) -> Result<Observation, Box<ProbeOutcome>> {
    let key = route.key;
    let env = |name: &str| std::env::var(name).ok();
    let mut request = http::prepare(probe, &env).map_err(|e| {
        Box::new(ProbeOutcome::bare(
            OutcomeKind::RequestInvalid,
            format!("{key}: probe not sent: {e}"),
        ))
    })?;
    // A harness provider's probe goes where its managed sessions go (a gateway, a mirror).
    if let Some(up) = &route.definition.upstream {
        let env_value = up
            .base_url_env
            .as_deref()
            .and_then(|name| env(name).map(|v| (name, v)));
        let sources = crate::harness::upstream::Sources {
            account: route.account.upstream.as_deref(),
            env: env_value.as_ref().map(|(n, v)| (*n, v.as_str())),
            provider: route.provider.upstream.as_deref(),
        };
        request.url =
            crate::harness::upstream::probe_url(&request.url, up, sources).map_err(|e| {
                Box::new(ProbeOutcome::bare(
                    OutcomeKind::RequestInvalid,
                    format!("{key}: probe not sent: {e:#}"),
                ))
            })?;
    }
    let token = if probe.auth == ProbeAuth::None {
        None
    } else {
        token
    };
    let response = http::send(probe, &request, token).map_err(|e| {
        let kind = match e {
            http::HttpProbeError::Network(_) => OutcomeKind::NetworkError,
            _ => OutcomeKind::RequestInvalid,
        };
        Box::new(ProbeOutcome::bare(
            kind,
            format!(
                "{key}: {} probe of capability {} failed: {e}",
                route.definition.title(),
                key.capability.as_deref().unwrap_or("-")
            ),
        ))
    })?;
    let hint = http::hint(probe, &response);
    let in_range = (probe.success_status_min..=probe.success_status_max).contains(&response.status);
    let body_problem = match probe.validate_body {
        Some(kind) if in_range => http::validate_body(kind, &response.body).err(),
        _ => None,
    };
    Ok(Observation {
        status: response.status,
        headers: response.headers,
        body: response.body,
        hint,
        source: EvidenceSource::HttpProbe,
        body_problem,
    })
}

fn command_observation(
    route: ProbeRoute<'_>,
    probe: &ProbeDefinition,
) -> Result<Observation, Box<ProbeOutcome>> {
    let key = route.key;
    let mut env = Vec::new();
    let dir_env = route.provider.config_dir_env.as_deref().or(route
        .definition
        .injection
        .config_dir_env
        .as_deref());
    if let (Some(name), Some(dir)) = (dir_env, route.account.config_dir.as_deref()) {
        env.push((
            name.to_owned(),
            crate::util::home::expand_tilde(dir)
                .to_string_lossy()
                .into_owned(),
        ));
    }
    env.push(("OMUX_ACTIVE_PROVIDER".into(), key.provider.clone()));
    env.push(("OMUX_ACTIVE_ACCOUNT".into(), key.account.clone()));
    env.push((
        "OMUX_ACTIVE_CAPABILITY".into(),
        key.capability.clone().unwrap_or_default(),
    ));
    env.push((
        "OMUX_ACTIVE_PROFILE".into(),
        route.profile.unwrap_or_default().to_owned(),
    ));
    let result = command::run(&command::CommandSpec {
        argv: &probe.command,
        env,
        timeout: Duration::from_millis(probe.timeout_ms.max(1)),
    })
    .map_err(|runtime| {
        let mut out = ProbeOutcome::bare(
            OutcomeKind::RuntimeProblem,
            format!(
                "{key}: the probe command could not start ({}); run `oauth-mux doctor runtime --provider {} --json`",
                runtime.label(),
                key.provider
            ),
        );
        out.runtime = Some(runtime);
        Box::new(out)
    })?;
    // A probe that never reached the provider (offline, a proxy refusing, a hung CLI) is no
    // evidence about the account: exit 204, nothing recorded.
    let unreachable = |why: String| {
        Box::new(ProbeOutcome::bare(
            OutcomeKind::NetworkError,
            format!(
                "{key}: {why}; nothing was recorded. Check the network (and HTTPS_PROXY), then run the probe again"
            ),
        ))
    };
    if result.timed_out {
        return Err(unreachable(format!(
            "the probe command did not finish within {} s",
            probe.timeout_ms / 1000
        )));
    }
    let mut status = result.status;
    let mut body = result.hint.clone();
    let mut hint = result.hint;
    let is_codex = route.definition.name == "codex" || route.provider.kind == "codex";
    if is_codex && let Some(verdict) = codex_jsonl::interpret(&result.stdout) {
        if let codex_jsonl::CodexVerdict::Unreachable { .. } = verdict {
            return Err(unreachable("codex could not reach the provider".to_owned()));
        }
        let ev = codex_jsonl::evidence(&verdict);
        status = ev.status.unwrap_or(status);
        if let Some(b) = ev.body {
            body = b;
        }
        if let Some(marker) = ev.hint_marker {
            hint.push('\n');
            hint.push_str(marker);
        }
    }
    Ok(Observation {
        status,
        headers: Vec::new(),
        body,
        hint: Some(hint),
        source: EvidenceSource::CommandProbe,
        body_problem: None,
    })
}

/// The one classifier, plus the probe's own success range and body validation.
fn classify(
    def: &ProviderDefinition,
    probe: &ProbeDefinition,
    ob: &Observation,
    now: Timestamp,
) -> Classification {
    let mut ev = ResponseEvidence::new(ob.status, &ob.headers, &ob.body);
    ev.hint = ob.hint.as_deref();
    let class = classify_response(def.classifier_rules(), &ev, now);
    let in_range = (probe.success_status_min..=probe.success_status_max).contains(&ob.status);
    match class {
        Classification::Success if !in_range => Classification::Failure,
        Classification::Success if ob.body_problem.is_some() => Classification::Degraded {
            reason: DegradedReason::SchemaInvalid,
        },
        other => other,
    }
}

/// The start of a provider's hint, with token-shaped fragments masked first (so that a
/// token cut by the excerpt's end is not left half-recognizable).
fn excerpt(text: &str) -> String {
    let masked = crate::secrets::redact::mask_opaque_runs(text);
    let trimmed = masked.trim();
    match trimmed.char_indices().nth(HINT_EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_owned(),
    }
}

/// Append the redacted `probe` event for one attempt (run or not).
pub fn log_probe(
    dirs: &Dirs,
    key: &RouteKey,
    budget: ActionBudget,
    out: &ProbeOutcome,
    now: Timestamp,
) {
    evidence::append_event(
        dirs,
        &Event::new(
            now,
            EventKind::Probe(ProbeEvent {
                route: key.to_string(),
                status: out.status,
                class: out.classification.as_ref().map(|c| c.label().to_owned()),
                budget: label_of(&budget),
                spends_provider_calls: budget == ActionBudget::SpendProvider,
                contacts_provider: budget.contacts_provider() && out.probe_executed,
                outcome: out.outcome.as_str().to_owned(),
                ok: out.usable(),
                message: out.message.clone(),
            }),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_excerpt_masks_token_fragments_even_where_it_is_cut() {
        let opaque = "Zq7RkVw3TnY8pL2mXc9BfH4sJd6GtA1e";
        let text =
            format!("{{\"error\":\"invalid api key {opaque}\",\"code\":\"invalid_api_key\"}}");
        let short = excerpt(&text);
        assert!(!short.contains(opaque), "{short}");
        assert!(short.contains("invalid_api_key"), "{short}");
        // A token the cut would have halved is masked whole first, not left in part.
        let long = format!("{} sk-ant-api03-{opaque}", "x ".repeat(108));
        assert!(long.len() > HINT_EXCERPT_CHARS && long.find("sk-ant").unwrap() < 230);
        let cut = excerpt(&long);
        assert!(!cut.contains("Zq7R") && cut.contains("[REDACTED]"), "{cut}");
    }
}
