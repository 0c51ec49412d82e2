//! The one redaction layer (SPEC §1.4). Every write to stdout, stderr, the event log,
//! status artifacts and error messages goes through [`scrub`] or [`scrub_json`].
//!
//! Two mechanisms, applied in this order:
//!
//! 1. **Known values.** Every [`Secret`](super::Secret) and every token parsed from
//!    one is [`register`]ed here; `scrub` replaces each occurrence with `[REDACTED]`,
//!    longest value first (so a token that contains another registered value is
//!    removed whole).
//! 2. **Token shapes.** Material that looks like a credential is masked even if it
//!    was never registered (it may come from a provider response, a child process or
//!    a file oauth-mux did not read through a backend). The shapes are in
//!    [`TOKEN_PREFIXES`], plus JWTs and `Bearer` headers; see [`mask_token_shapes`].
//!
//! The registry is process-wide (a `Mutex`'d list) on purpose: a secret read by one
//! command path must be hidden from every other output path of the same process,
//! including panics and errors formatted far from where the secret was read, and
//! threading a handle through every writer would invite one that forgets it.
//!
//! Values shorter than [`MIN_REGISTERED_LEN`] bytes are not registered: replacing
//! every `abc` or `true` in the output would mangle it, and a credential that short
//! offers no protection worth the noise.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Registered values shorter than this (in bytes, after trimming) are ignored.
pub const MIN_REGISTERED_LEN: usize = 8;

/// Prefixes of well-known credential formats and the minimum number of token
/// characters (`[A-Za-z0-9_-]`) that must follow for the run to count as a token;
/// the run must also hold a digit (real tokens are random, so practically always do),
/// which keeps prose such as `sk-learn-classifier` intact. A prefix only matches at a
/// word start (not preceded by a token character), so `task-force` or `start_time`
/// are left alone.
///
/// - `sk-ant-`: Anthropic API keys and OAuth tokens (`sk-ant-api03-…`, `sk-ant-oat01-…`).
/// - `sk-`: OpenAI API keys (`sk-…`, `sk-proj-…`).
/// - `rt_`: OpenAI/Codex refresh tokens.
/// - `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`: GitHub tokens.
/// - `glpat-`: GitLab personal access tokens.
/// - `lin_api_`, `lin_oauth_`: Linear API keys and OAuth tokens.
/// - `figd_`: Figma personal access tokens.
/// - `AGE-SECRET-KEY-`: age identities.
pub const TOKEN_PREFIXES: &[(&str, usize)] = &[
    ("sk-ant-", 8),
    ("sk-", 16),
    ("rt_", 16),
    ("ghp_", 16),
    ("gho_", 16),
    ("ghu_", 16),
    ("ghs_", 16),
    ("ghr_", 16),
    ("github_pat_", 16),
    ("glpat-", 16),
    ("lin_api_", 16),
    ("lin_oauth_", 16),
    ("figd_", 16),
    ("AGE-SECRET-KEY-", 16),
];

/// Minimum length of the credential after `Bearer ` for it to be masked; shorter runs
/// (`Bearer token`, `Bearer <x>` in help text) are prose, not credentials. A run of
/// letters only is masked from [`BEARER_WORD_LEN`] on, so `Bearer authentication`
/// stays readable while `Bearer abcdefghijklmnopqrstuvwxyz` does not.
const MIN_BEARER_LEN: usize = 8;
const BEARER_WORD_LEN: usize = 20;

static REGISTRY: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<String>> {
    // A panic while holding the lock cannot leave the list inconsistent (every
    // mutation is a single push/sort), so a poisoned lock is still usable.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Remember `value` (trimmed) so [`scrub`] replaces it everywhere from now on.
/// Values shorter than [`MIN_REGISTERED_LEN`] are ignored (see module docs).
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < MIN_REGISTERED_LEN {
        return;
    }
    let mut values = registry();
    if values.iter().any(|v| v == value) {
        return;
    }
    values.push(value.to_string());
    // Longest first, so a value containing another is replaced whole.
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// Key-name fragments (lowercase) whose string values inside a JSON secret are
/// registered on their own, so a credential file's tokens are scrubbed even before
/// (or without) `parse_credential` picking them out.
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "token",
    "secret",
    "key",
    "password",
    "credential",
    "account_id",
    "session",
    "cookie",
];

/// Register a secret's text: the whole (trimmed) value and, when it is a JSON object,
/// every string under a key named like a credential (see [`SENSITIVE_KEY_PARTS`]).
pub fn register_secret_text(value: &str) {
    register(value);
    if !value.trim_start().starts_with('{') {
        return;
    }
    fn walk(node: &serde_json::Value, sensitive: bool) {
        match node {
            serde_json::Value::String(s) if sensitive => register(s),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, sensitive)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let k = k.to_ascii_lowercase();
                    walk(
                        v,
                        sensitive || SENSITIVE_KEY_PARTS.iter().any(|p| k.contains(p)),
                    );
                }
            }
            _ => {}
        }
    }
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(value) {
        walk(&doc, false);
    }
}

/// Forget every registered value. Only for processes that parse untrusted credentials by
/// the million and print none of them (the fuzz harness), where the registry would grow
/// without end; never on a path that writes output.
pub fn clear_registered() {
    registry().clear();
}

/// Whether `value` (trimmed) is currently registered. For tests and diagnostics.
pub fn is_registered(value: &str) -> bool {
    registry().iter().any(|v| v == value.trim())
}

/// `text` with every registered value and every token-shaped run replaced by
/// `[REDACTED]` (`Bearer` keeps its scheme word: `Bearer [REDACTED]`).
pub fn scrub(text: &str) -> String {
    scrub_cow(text).into_owned()
}

/// [`scrub`] without a copy when nothing needs replacing (the common case on
/// every output path).
pub fn scrub_cow(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for value in registry().iter() {
        if out.contains(value.as_str()) {
            out = Cow::Owned(out.replace(value.as_str(), REDACTED));
        }
    }
    match mask_token_shapes_cow(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// Scrub serialized JSON text: registered values are replaced both as they are
/// and in their JSON-escaped form, so the result equals serializing a
/// [`scrub_json`]-ed value, without building one.
pub fn scrub_json_text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for value in registry().iter() {
        for form in [Cow::Borrowed(value.as_str()), json_escaped(value)] {
            if out.contains(form.as_ref()) {
                out = Cow::Owned(out.replace(form.as_ref(), REDACTED));
            }
        }
    }
    match mask_token_shapes_cow(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// `value` as it appears inside a JSON string (without the quotes).
fn json_escaped(value: &str) -> Cow<'_, str> {
    if !value
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Cow::Borrowed(value);
    }
    let quoted = serde_json::to_string(value).unwrap_or_default();
    Cow::Owned(quoted.trim_matches('"').to_owned())
}

/// Scrub every string (and object key) inside `value`, in place.
pub fn scrub_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = scrub_cow(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_json),
        Value::Object(map) => {
            let needs_key_rewrite = map.keys().any(|k| matches!(scrub_cow(k), Cow::Owned(_)));
            if needs_key_rewrite {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(scrub(&k), v);
                }
            }
            map.values_mut().for_each(scrub_json);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn token_run(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| is_token_byte(**b)).count()
}

/// Length of a JWT (`eyJ<b64url>.<b64url>.<b64url>?`) starting at `bytes[0]`, if any.
fn jwt_len(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(b"eyJ") {
        return None;
    }
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    let header = bytes.iter().take_while(|b| b64(b)).count();
    let rest = &bytes[header..];
    if header < 10 || rest.first() != Some(&b'.') {
        return None;
    }
    let payload = rest[1..].iter().take_while(|b| b64(b)).count();
    let rest = &rest[1 + payload..];
    if payload < 2 || rest.first() != Some(&b'.') {
        return None;
    }
    // The signature may be empty (`alg: none`), but the dot is part of the token.
    let signature = rest[1..].iter().take_while(|b| b64(b)).count();
    Some(header + 1 + payload + 1 + signature)
}

/// Length of the credential after a case-insensitive `Bearer ` at `bytes[0]`, and
/// the offset where it starts.
fn bearer_len(bytes: &[u8]) -> Option<(usize, usize)> {
    const WORD: &[u8] = b"bearer";
    if bytes.len() <= WORD.len() || !bytes[..WORD.len()].eq_ignore_ascii_case(WORD) {
        return None;
    }
    let spaces = bytes[WORD.len()..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    if spaces == 0 {
        return None;
    }
    let start = WORD.len() + spaces;
    let cred = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b);
    let len = bytes[start..].iter().take_while(|b| cred(b)).count();
    let cred = &bytes[start..start + len];
    let wordlike = cred.iter().all(u8::is_ascii_alphabetic);
    let masked = len >= BEARER_WORD_LEN || (len >= MIN_BEARER_LEN && !wordlike);
    masked.then_some((start, len))
}

/// Mask credential-shaped runs in `text` that no one registered: JWTs, `Bearer`
/// credentials, and tokens with a prefix from [`TOKEN_PREFIXES`]. Matches start only
/// at a word boundary. Idempotent: `[REDACTED]` contains no match.
pub fn mask_token_shapes(text: &str) -> String {
    mask_token_shapes_cow(text).into_owned()
}

/// Bytes a token shape can start with: `e` (JWT), `b`/`B` (Bearer), and the first
/// byte of each prefix.
fn first_byte_table() -> &'static [bool; 256] {
    static TABLE: std::sync::OnceLock<[bool; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [false; 256];
        t[usize::from(b'e')] = true;
        t[usize::from(b'b')] = true;
        t[usize::from(b'B')] = true;
        for (prefix, _) in TOKEN_PREFIXES {
            t[usize::from(prefix.as_bytes()[0])] = true;
        }
        t
    })
}

/// The match (start of the masked part, its length, bytes kept before it) of a
/// token shape beginning at `rest[0]`.
fn shape_at(rest: &[u8]) -> Option<(usize, usize)> {
    // Cheap first-byte filter: every shape starts with `e` (JWT), `b`/`B`
    // (Bearer) or the first byte of a prefix.
    if !first_byte_table()[usize::from(rest[0])] {
        return None;
    }
    if let Some(len) = jwt_len(rest) {
        return Some((0, len));
    }
    if let Some((start, len)) = bearer_len(rest) {
        return Some((start, len));
    }
    TOKEN_PREFIXES.iter().find_map(|(prefix, min)| {
        let p = prefix.as_bytes();
        let body = rest.strip_prefix(p).map(token_run)?;
        let has_digit = rest[p.len()..p.len() + body].iter().any(u8::is_ascii_digit);
        (body >= *min && has_digit).then_some((0, p.len() + body))
    })
}

/// [`mask_token_shapes`] without a copy when nothing matches.
pub fn mask_token_shapes_cow(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Every shape starts with a token byte at a word boundary, so the scan
        // looks only at the first byte of each run and skips the rest of it.
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let at_boundary = i == 0 || !is_token_byte(bytes[i - 1]);
        if at_boundary && let Some((start, len)) = shape_at(&bytes[i..]) {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            buf.extend_from_slice(&bytes[copied..i + start]);
            buf.extend_from_slice(REDACTED.as_bytes());
            i += start + len;
            copied = i;
            continue;
        }
        i += token_run(&bytes[i..]).max(1);
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.extend_from_slice(&bytes[copied..]);
            // Matches begin and end on ASCII bytes, so UTF-8 boundaries are preserved.
            Cow::Owned(
                String::from_utf8(buf)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            )
        }
    }
}

/// Runs of this many token characters (`[A-Za-z0-9_-]`) holding both letters and digits
/// are masked by [`mask_opaque_runs`].
pub const OPAQUE_RUN_LEN: usize = 24;

/// [`mask_token_shapes`], and also any long opaque run of letters and digits (an API key
/// or session id of a format no prefix knows). For text quoted from a provider that is
/// shown as an excerpt (a probe's hint): request ids and hashes are masked too, which an
/// excerpt can spare.
pub fn mask_opaque_runs(text: &str) -> String {
    let shaped = mask_token_shapes_cow(text);
    let bytes = shaped.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = token_run(&bytes[i..]);
        if run == 0 {
            let ch = shaped[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let part = &shaped[i..i + run];
        let opaque = run >= OPAQUE_RUN_LEN
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic());
        out.push_str(if opaque { REDACTED } else { part });
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_runs_are_masked_and_words_stay() {
        let text = "invalid key Zq7RkVw3TnY8pL2mXc9BfH4sJd6GtA1e for org_rate_limit_exceeded; Bearer abcdefgh12345678";
        let masked = mask_opaque_runs(text);
        assert!(
            !masked.contains("Zq7RkVw3TnY8pL2mXc9BfH4sJd6GtA1e"),
            "{masked}"
        );
        assert!(masked.contains("org_rate_limit_exceeded"), "{masked}");
        assert!(!masked.contains("abcdefgh12345678"), "{masked}");
        assert_eq!(mask_opaque_runs("caf\u{e9} ok 42"), "caf\u{e9} ok 42");
    }

    #[test]
    fn json_text_scrub_matches_value_scrub_even_for_escaped_secrets() {
        register("unit-json-text-\"quoted\\slash\ncanary");
        register("unit-json-text-plain-canary");
        let value = serde_json::json!({
            "a": "x unit-json-text-\"quoted\\slash\ncanary y",
            "unit-json-text-plain-canary": ["z unit-json-text-plain-canary", 1, null],
            "jwt": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let mut scrubbed = value.clone();
        scrub_json(&mut scrubbed);
        assert_eq!(
            scrub_json_text(&text),
            serde_json::to_string_pretty(&scrubbed).unwrap()
        );
        assert!(!scrub_json_text(&text).contains("canary"));
    }

    #[test]
    fn registered_values_are_replaced_longest_first() {
        register("unit-canary-abcdefgh");
        register("unit-canary-abcdefgh-longer-value");
        let out = scrub("a unit-canary-abcdefgh-longer-value b unit-canary-abcdefgh c");
        assert_eq!(out, "a [REDACTED] b [REDACTED] c");
    }

    #[test]
    fn json_secrets_register_values_under_credential_keys() {
        register_secret_text(
            r#"{"tokens":{"access_token":"unit-json-access-1","meta":"unit-json-plain-1"},"label":"unit-json-label-1"}"#,
        );
        assert!(is_registered("unit-json-access-1"));
        assert!(is_registered("unit-json-plain-1"), "nested under `tokens`");
        assert!(!is_registered("unit-json-label-1"));
    }

    #[test]
    fn short_values_are_not_registered() {
        register("true");
        register("  1234567 ");
        assert!(!is_registered("true"));
        assert!(!is_registered("1234567"));
        assert_eq!(scrub("true 1234567"), "true 1234567");
    }

    #[test]
    fn jwts_are_masked_by_shape() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl";
        assert_eq!(scrub(&format!("token={jwt};")), "token=[REDACTED];");
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
        assert_eq!(scrub(unsigned), "[REDACTED]");
        // Not a JWT: only one segment.
        assert_eq!(scrub("eyJhbGciOiJub25lIn0"), "eyJhbGciOiJub25lIn0");
    }

    #[test]
    fn bearer_credentials_are_masked_but_prose_is_kept() {
        assert_eq!(
            scrub("Authorization: Bearer abc.def-ghi_jkl/mno=="),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            scrub("authorization: bearer  0123456789"),
            "authorization: bearer  [REDACTED]"
        );
        assert_eq!(scrub("send a Bearer token"), "send a Bearer token");
        assert_eq!(scrub("Bearer authentication"), "Bearer authentication");
        assert_eq!(
            scrub("Bearer abcdefghijklmnopqrstuvwxyz"),
            "Bearer [REDACTED]"
        );
    }

    #[test]
    fn prefixed_tokens_are_masked_at_word_starts_only() {
        for token in [
            "sk-proj-AAAAbbbbCCCCdddd1234",
            "sk-ant-oat01-AAAAbbbbCCCC",
            "ghp_AAAAbbbbCCCCdddd1234",
            "gho_AAAAbbbbCCCCdddd1234",
            "github_pat_11AAAAbbbbCCCCdddd1234",
            "rt_AAAAbbbbCCCCdddd1234.x",
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQ",
        ] {
            let out = scrub(&format!("x {token} y"));
            assert!(!out.contains(&token[..token.len() - 4]), "{token} -> {out}");
            assert!(out.starts_with("x [REDACTED]"), "{token} -> {out}");
        }
        for prose in [
            "task-force-is-very-large-today",
            "start_time_is_not_a_token",
            "sk-short",
        ] {
            assert_eq!(scrub(prose), prose);
        }
    }

    #[test]
    fn scrub_is_idempotent_and_keeps_unicode() {
        let once = scrub("héllo ghp_AAAAbbbbCCCCdddd1234 wörld");
        assert_eq!(once, "héllo [REDACTED] wörld");
        assert_eq!(scrub(&once), once);
    }

    #[test]
    fn scrub_json_reaches_nested_strings_and_keys() {
        register("unit-json-canary-1234");
        let mut v = serde_json::json!({
            "a": ["x unit-json-canary-1234 y", 3, {"b": "Bearer zzzzzzzzzzzz9"}],
            "unit-json-canary-1234": true,
        });
        scrub_json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("unit-json-canary-1234"));
        assert!(!text.contains("zzzzzzzzzzzz"));
        assert_eq!(v["a"][0], "x [REDACTED] y");
        assert_eq!(v["[REDACTED]"], true);
    }
}
