//! Semantic validation of a parsed config: references, route specs, secret blocks
//! and provider definitions. Every problem is collected; nothing stops early.

use std::collections::BTreeSet;

use super::builtin;
use super::problem::{Problem, join};
use super::provider_def::{ProbeAuth, ProbeDefinition, ProbeTransport, ProviderDefinition};
use super::schema::{CONFIG_VERSION, Config};
use crate::model::RouteKey;

/// Shells `env --shell` can render.
pub const SHELLS: [&str; 4] = ["bash", "zsh", "fish", "ksh"];

/// Validate a parsed config. `set_aside` lists paths the parser already reported,
/// so references to them are not reported twice.
pub fn validate(config: &Config, set_aside: &[String]) -> Vec<Problem> {
    let mut v = Validator {
        config,
        set_aside,
        problems: Vec::new(),
    };
    v.check_version();
    v.check_defaults();
    v.check_policy();
    for (name, def) in &config.provider_definitions {
        let path = join("provider_definitions", name);
        v.problems.extend(validate_definition(def, name, &path));
    }
    v.check_providers();
    v.check_profiles();
    v.problems
}

struct Validator<'a> {
    config: &'a Config,
    set_aside: &'a [String],
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn error(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.problems.push(Problem::error(path, message, hint));
    }

    fn was_set_aside(&self, path: &str) -> bool {
        self.set_aside
            .iter()
            .any(|p| p == path || path.starts_with(&format!("{p}.")))
    }

    fn check_version(&mut self) {
        if self.config.version != CONFIG_VERSION && self.config.version != 0 {
            self.error(
                "version",
                format!("unsupported config version {}", self.config.version),
                "this oauth-mux reads version 1 configs; set \"version\": 1",
            );
        }
    }

    fn check_defaults(&mut self) {
        let d = &self.config.defaults;
        if let Some(p) = &d.provider
            && !self.config.providers.contains_key(p)
        {
            self.error(
                "defaults.provider",
                format!("unknown provider {p:?}"),
                known("providers", self.config.providers.keys()),
            );
        }
        if let Some(p) = &d.profile
            && !self.config.profiles.contains_key(p)
        {
            self.error(
                "defaults.profile",
                format!("unknown profile {p:?}"),
                known("profiles", self.config.profiles.keys()),
            );
        }
        if let Some(s) = &d.strategy
            && !self.config.strategies.contains_key(s)
        {
            self.error(
                "defaults.strategy",
                format!("unknown strategy {s:?}"),
                known("strategies", self.config.strategies.keys()),
            );
        }
        if let Some(sh) = &d.shell
            && !SHELLS.contains(&sh.as_str())
        {
            self.error(
                "defaults.shell",
                format!("unknown shell {sh:?}"),
                format!("use one of {}", SHELLS.join(", ")),
            );
        }
    }

    fn check_policy(&mut self) {
        let budgets = &self.config.policy.daemon.allowed_budgets;
        if budgets.iter().any(|b| !b.valid_for_probe()) {
            self.error(
                "policy.daemon.allowed_budgets",
                "`interactive` and `mutating` are not background budgets",
                "use policy.daemon.allow_interactive / allow_mutating instead",
            );
        }
        for name in self.config.policy.providers.keys() {
            if !self.config.providers.contains_key(name) {
                self.error(
                    join("policy.providers", name),
                    format!("policy for unknown provider {name:?}"),
                    known("providers", self.config.providers.keys()),
                );
            }
        }
        if let Some(t) = self.config.policy.usage_switch_threshold_pct
            && !(1.0..=100.0).contains(&t)
        {
            self.error(
                "policy.usage_switch_threshold_pct",
                format!("{t} is out of range"),
                "use a percentage between 1 and 100 (default 95)",
            );
        }
    }

    fn check_providers(&mut self) {
        for (pname, provider) in &self.config.providers {
            let ppath = join("providers", pname);
            if let Some(problem) = name_problem(pname) {
                self.error(
                    &ppath,
                    format!("provider name {pname:?} {problem}"),
                    "use letters, digits, '-', '_' or '.'",
                );
            }
            if provider.kind.is_empty() {
                self.error(
                    join(&ppath, "kind"),
                    "missing provider kind",
                    format!(
                        "set kind to a built-in ({}) or a provider_definitions entry",
                        builtin::NAMES.join(", ")
                    ),
                );
            } else if self.definition_for(&provider.kind).is_none() {
                self.error(
                    join(&ppath, "kind"),
                    format!("unknown provider kind {:?}", provider.kind),
                    format!(
                        "use a built-in ({}) or add it under provider_definitions",
                        builtin::NAMES.join(", ")
                    ),
                );
            }
            if let Some(url) = &provider.upstream {
                self.check_url(&join(&ppath, "upstream"), url);
            }
            if let Some(url) = &provider.token_url {
                self.check_url(&join(&ppath, "token_url"), url);
            }
            for (aname, account) in &provider.accounts {
                let apath = join(&join(&ppath, "accounts"), aname);
                if let Some(problem) = name_problem(aname) {
                    self.error(
                        &apath,
                        format!("account name {aname:?} {problem}"),
                        "use letters, digits, '-', '_' or '.'",
                    );
                }
                self.problems.extend(super::secret_spec::validate_secret(
                    &account.secret,
                    &join(&apath, "secret"),
                ));
                if let Some(url) = &account.upstream {
                    self.check_url(&join(&apath, "upstream"), url);
                }
                if let Some(url) = &account.token_url {
                    self.check_url(&join(&apath, "token_url"), url);
                }
            }
        }
    }

    fn check_url(&mut self, path: &str, url: &str) {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            self.error(
                path,
                format!("{url:?} is not an http(s) URL"),
                "use a base URL such as https://api.example.com",
            );
        }
    }

    fn check_profiles(&mut self) {
        for (name, profile) in &self.config.profiles {
            let path = join("profiles", name);
            if profile.providers.is_empty() {
                self.error(
                    join(&path, "providers"),
                    "a profile needs at least one route",
                    "list routes like \"codex:max-1#codex-max\"",
                );
            }
            let mut capabilities = BTreeSet::new();
            for (i, spec) in profile.providers.iter().enumerate() {
                let spath = format!("{}[{i}]", join(&path, "providers"));
                match RouteKey::parse(spec) {
                    Err(e) => self.error(
                        &spath,
                        e.to_string(),
                        "write routes as provider:account or provider:account#capability",
                    ),
                    Ok(key) => {
                        if let Some(c) = &key.capability {
                            capabilities.insert(c.clone());
                        }
                        self.check_route_reference(&spath, &key);
                    }
                }
            }
            if let Some(s) = &profile.strategy
                && !self.config.strategies.contains_key(s)
            {
                self.error(
                    join(&path, "strategy"),
                    format!("unknown strategy {s:?}"),
                    known("strategies", self.config.strategies.keys()),
                );
            }
            for (i, cap) in profile.capability_degradation_chain.iter().enumerate() {
                if !capabilities.contains(cap) {
                    self.error(
                        format!("{}[{i}]", join(&path, "capability_degradation_chain")),
                        format!("capability {cap:?} is not used by any route of this profile"),
                        "add a route with that #capability to the profile, or remove it from the chain",
                    );
                }
            }
        }
    }

    fn check_route_reference(&mut self, path: &str, key: &RouteKey) {
        let ppath = join("providers", &key.provider);
        if self.was_set_aside(&ppath) {
            return;
        }
        let Some(provider) = self.config.providers.get(&key.provider) else {
            self.error(
                path,
                format!("unknown provider {:?}", key.provider),
                known("providers", self.config.providers.keys()),
            );
            return;
        };
        let apath = join(&join(&ppath, "accounts"), &key.account);
        if !provider.accounts.contains_key(&key.account) && !self.was_set_aside(&apath) {
            self.error(
                path,
                format!(
                    "provider {:?} has no account {:?}",
                    key.provider, key.account
                ),
                known("accounts", provider.accounts.keys()),
            );
        }
        if let (Some(cap), Some(def)) = (&key.capability, self.definition_for(&provider.kind))
            && def.capability(cap).is_none()
        {
            let names: Vec<&String> = def.capabilities.iter().map(|c| &c.name).collect();
            self.error(
                path,
                format!(
                    "provider kind {:?} has no capability {cap:?}",
                    provider.kind
                ),
                known("capabilities", names.into_iter()),
            );
        }
    }

    fn definition_for(&self, kind: &str) -> Option<ProviderDefinition> {
        self.config
            .provider_definitions
            .get(kind)
            .cloned()
            .or_else(|| builtin::definition(kind))
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!("no {what} are configured")
    } else {
        format!("known {what}: {}", names.join(", "))
    }
}

/// Provider and account names become route-key parts and file names.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.contains(':') || name.contains('#') {
        Some("contains ':' or '#', which separate route-key parts")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some("contains whitespace, '/' or control characters")
    } else {
        None
    }
}

/// Validate one provider definition (built-in or user) at `path`.
pub fn validate_definition(def: &ProviderDefinition, key: &str, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let err =
        |out: &mut Vec<Problem>, p: String, m: String, h: &str| out.push(Problem::error(p, m, h));
    if !def.name.is_empty() && def.name != key {
        err(
            &mut out,
            join(path, "name"),
            format!("name {:?} differs from its key {key:?}", def.name),
            "drop `name` or make it equal to the key",
        );
    }
    out.extend(super::refresh_rules::validate_refresh(def, path));
    let inj = &def.injection;
    if inj.credential_filename.is_empty()
        || inj.credential_filename.contains('/')
        || inj.credential_filename.contains("..")
    {
        err(
            &mut out,
            join(path, "injection.credential_filename"),
            "must be a plain file name".into(),
            "e.g. \"credentials.json\"",
        );
    }
    for (i, (env, field)) in inj.direct_env.iter().enumerate() {
        let p = format!("{}[{i}]", join(path, "injection.direct_env"));
        if !is_env_name(env) {
            err(
                &mut out,
                p.clone(),
                format!("{env:?} is not a valid environment variable name"),
                "use [A-Za-z_][A-Za-z0-9_]*",
            );
        }
        if field != "access_token" && field != "refresh_token" {
            err(
                &mut out,
                p,
                format!("field {field:?} cannot be injected"),
                "use \"access_token\" or \"refresh_token\"",
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (i, cap) in def.capabilities.iter().enumerate() {
        let cpath = format!("{}[{i}]", join(path, "capabilities"));
        if cap.name.is_empty() {
            err(
                &mut out,
                join(&cpath, "name"),
                "capability name is empty".into(),
                "name the capability, e.g. \"identity\"",
            );
        }
        for n in std::iter::once(&cap.name).chain(&cap.aliases) {
            if !n.is_empty() && !seen.insert(n.clone()) {
                err(
                    &mut out,
                    cpath.clone(),
                    format!("capability name or alias {n:?} is used twice"),
                    "names and aliases must be unique within a provider",
                );
            }
        }
        if let Some(probe) = &cap.probe {
            out.extend(validate_probe(probe, &join(&cpath, "probe")));
        }
    }
    let has_probe = def.capabilities.iter().any(|c| c.probe.is_some());
    if has_probe && def.failure_rules.is_empty() {
        out.push(Problem::warning(
            join(path, "failure_rules"),
            "probes are defined but no failure rules",
            "the status defaults still apply; add rules for provider-specific bodies (see docs/providers.md)",
        ));
    }
    for (i, rule) in def.failure_rules.iter().enumerate() {
        let rpath = format!("{}[{i}]", join(path, "failure_rules"));
        if !rule.has_matcher() {
            out.push(Problem::error(
                &rpath,
                "a failure rule needs at least one matcher",
                "add status, status_min/max, retry_after_gte/lt, hint_equals or hint_contains",
            ));
        }
        if rule.class.is_none() {
            out.push(Problem::error(
                join(&rpath, "class"),
                "a failure rule needs a class",
                "e.g. \"class\": {\"degraded\": \"tier_insufficient\"}",
            ));
        }
        if let (Some(a), Some(b)) = (rule.status_min, rule.status_max)
            && a > b
        {
            out.push(Problem::error(
                &rpath,
                format!("status_min {a} is above status_max {b}"),
                "swap them",
            ));
        }
        if let (Some(a), Some(b)) = (rule.retry_after_gte, rule.retry_after_lt)
            && a >= b
        {
            out.push(Problem::error(
                &rpath,
                format!("retry_after_gte {a} must be below retry_after_lt {b}"),
                "make the range non-empty",
            ));
        }
        for (field, hint) in [
            ("hint_equals", &rule.hint_equals),
            ("hint_contains", &rule.hint_contains),
        ] {
            if hint.as_deref().is_some_and(|h| h.trim().is_empty()) {
                out.push(Problem::error(
                    join(&rpath, field),
                    "an empty hint matches everything",
                    "remove it or give text to match",
                ));
            }
        }
    }
    if let Some(up) = &def.upstream {
        if up.harness != "codex" && up.harness != "claude" {
            out.push(Problem::error(
                join(path, "upstream.harness"),
                format!("unknown harness {:?}", up.harness),
                "use \"codex\" or \"claude\"",
            ));
        }
        if let Some(env) = &up.base_url_env
            && !is_env_name(env)
        {
            out.push(Problem::error(
                join(path, "upstream.base_url_env"),
                format!("{env:?} is not an environment variable name"),
                "use [A-Za-z_][A-Za-z0-9_]*",
            ));
        }
    }
    out
}

fn validate_probe(probe: &ProbeDefinition, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut err =
        |field: &str, m: String, h: &str| out.push(Problem::error(join(path, field), m, h));
    if probe.timeout_ms == 0 {
        err(
            "timeout_ms",
            "timeout must be positive".into(),
            "e.g. 30000",
        );
    }
    if probe.success_status_min > probe.success_status_max {
        err(
            "success_status_min",
            "success range is reversed".into(),
            "make success_status_min ≤ success_status_max",
        );
    }
    if !probe.effective_budget().valid_for_probe() {
        err(
            "budget",
            "a probe cannot be interactive or mutating".into(),
            "use free_local, free_command, cheap_provider or spend_provider",
        );
    }
    match probe.transport {
        ProbeTransport::Http => {
            if !["GET", "POST", "HEAD"].contains(&probe.method.as_str()) {
                err(
                    "method",
                    format!("method {:?} is not allowed", probe.method),
                    "use GET, POST or HEAD",
                );
            }
            match &probe.url {
                None => err(
                    "url",
                    "an HTTP probe needs a url".into(),
                    "e.g. \"https://api.example.com/me\"",
                ),
                Some(url) if url.trim().is_empty() => err(
                    "url",
                    "url is empty".into(),
                    "e.g. \"https://api.example.com/me\"",
                ),
                Some(url) => {
                    if let Some(m) = token_material(url) {
                        err(
                            "url",
                            format!("the URL carries token material ({m})"),
                            "credentials go in headers via `auth`, never in probe URLs",
                        );
                    }
                    if let Some(bad) = bad_placeholder(url) {
                        err(
                            "url",
                            format!("bad placeholder {bad:?}"),
                            "placeholders are {{NAME}} with NAME of letters, digits and '_'",
                        );
                    }
                }
            }
            if let Some(body) = &probe.body {
                if probe.method != "POST" {
                    err(
                        "body",
                        "a body needs method POST".into(),
                        "set \"method\": \"POST\"",
                    );
                }
                if body.trim().is_empty() {
                    err(
                        "body",
                        "body is empty".into(),
                        "remove it or give the request body",
                    );
                }
                if let Some(m) = token_material(body) {
                    err(
                        "body",
                        format!("the body carries token material ({m})"),
                        "credentials go in headers via `auth`, never in probe bodies",
                    );
                }
                if let Some(bad) = bad_placeholder(body) {
                    err(
                        "body",
                        format!("bad placeholder {bad:?}"),
                        "placeholders are {{NAME}} with NAME of letters, digits and '_'",
                    );
                }
            }
            if probe
                .content_type
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
            {
                err(
                    "content_type",
                    "content_type is empty".into(),
                    "e.g. \"application/json\"",
                );
            }
            for (name, value) in &probe.headers {
                if let Some(problem) = probe_header_problem(name, value, probe) {
                    err(
                        "headers",
                        format!("header {name:?}: {problem}"),
                        "headers carry fixed request headers such as \"anthropic-version\"; credentials come from `auth`",
                    );
                }
            }
            match (probe.auth, &probe.auth_header) {
                (ProbeAuth::TokenHeader, None) => err(
                    "auth_header",
                    "auth \"token_header\" needs auth_header".into(),
                    "e.g. \"X-Figma-Token\"",
                ),
                (ProbeAuth::TokenHeader, Some(h))
                    if h.eq_ignore_ascii_case("authorization")
                        || h.is_empty()
                        || h.chars()
                            .any(|c| c.is_control() || c == ':' || c.is_whitespace()) =>
                {
                    err(
                        "auth_header",
                        format!("{h:?} is not usable as a token header"),
                        "name a custom header; for Authorization use auth \"authorization_header\"",
                    )
                }
                (ProbeAuth::TokenHeader, Some(_)) => {}
                (_, Some(_)) => err(
                    "auth_header",
                    "auth_header is only used with auth \"token_header\"".into(),
                    "set \"auth\": \"token_header\" or remove auth_header",
                ),
                (_, None) => {}
            }
        }
        ProbeTransport::Command => {
            if probe.command.is_empty() || probe.command[0].trim().is_empty() {
                err(
                    "command",
                    "a command probe needs an argv".into(),
                    "e.g. [\"claude\", \"auth\", \"status\", \"--json\"]",
                );
            }
            for arg in &probe.command {
                if let Some(m) = token_material(arg) {
                    err(
                        "command",
                        format!("an argument carries token material ({m})"),
                        "commands read credentials from the account's config dir, never from argv",
                    );
                }
            }
        }
    }
    out
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a portable environment variable name.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a probe's extra header cannot be sent, if it cannot.
fn probe_header_problem(name: &str, value: &str, probe: &ProbeDefinition) -> Option<String> {
    const SET_ELSEWHERE: &[&str] = &[
        "authorization",
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
    ];
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token_char) {
        return Some("not a valid header name".into());
    }
    if SET_ELSEWHERE.iter().any(|h| name.eq_ignore_ascii_case(h))
        || probe
            .auth_header
            .as_deref()
            .is_some_and(|h| name.eq_ignore_ascii_case(h))
    {
        return Some("set by oauth-mux (auth, content_type or the connection)".into());
    }
    // Credential carriers: a definition is shared text, a credential comes from the
    // account's secret (name the header as `auth_header` to send it there).
    const CREDENTIAL_CARRIERS: &[&str] = &[
        "x-api-key",
        "api-key",
        "proxy-authorization",
        "cookie",
        "x-auth-token",
    ];
    if CREDENTIAL_CARRIERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
    {
        return Some(
            "carries credentials, which come from the account's secret (use auth_header)".into(),
        );
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Some("the value holds control characters".into());
    }
    if let Some(m) = token_material(value) {
        return Some(format!("the value carries token material ({m})"));
    }
    None
}

/// Token-shaped material that must never sit in a probe URL, body, header or argv.
fn token_material(text: &str) -> Option<&'static str> {
    const MARKERS: &[&str] = &[
        "access_token=",
        "refresh_token=",
        "id_token=",
        "client_secret=",
        "api_key=",
        "apikey=",
        "authorization=",
        "authorization:",
        "bearer ",
        "bearer%20",
        "\"access_token\"",
        "\"refresh_token\"",
        "{{access_token}}",
        "{{refresh_token}}",
        "{{api_key}}",
    ];
    let lower = text.to_ascii_lowercase();
    if let Some(m) = MARKERS.iter().find(|m| lower.contains(*m)) {
        return Some(m);
    }
    None
}

/// The first `{{...}}` placeholder that is not `{{[A-Za-z0-9_]+}}`, or an unclosed `{{`.
fn bad_placeholder(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Some(rest[start..].to_owned());
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some(format!("{{{{{name}}}}}"));
        }
        rest = &after[end + 2..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(bad_placeholder("https://x/{{FILE_KEY}}/meta"), None);
        assert_eq!(
            bad_placeholder("https://x/{{FILE KEY}}"),
            Some("{{FILE KEY}}".into())
        );
        assert!(bad_placeholder("https://x/{{OPEN").is_some());
    }

    #[test]
    fn token_material_is_caught() {
        assert!(token_material("https://x/?access_token=abc").is_some());
        assert!(token_material("https://x/?q=1&Authorization=abc").is_some());
        assert!(token_material("{\"refresh_token\": \"x\"}").is_some());
        assert!(token_material("https://api.example.com/me").is_none());
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("CODEX_HOME"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
    }
}
