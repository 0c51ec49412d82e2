//! Canary secrets. Every value carries [`MARKER`], so "no canary anywhere" is one search:
//! [`assert_absent`] on any text, `Output::assert_no_canaries` on a run,
//! `Sandbox::assert_no_canary_on_disk` on every file.

use oauth_mux::util::base64url;

/// The marker every canary carries, and nothing else in the suite does.
pub const MARKER: &str = "omuxcanary";

/// The access token of account `label`.
pub fn token(label: &str) -> String {
    format!("{MARKER}-token-{label}")
}

/// The refresh token of account `label`.
pub fn refresh_token(label: &str) -> String {
    format!("{MARKER}-refresh-{label}")
}

/// The raw account id (e.g. ChatGPT's `account_id`) of account `label`.
pub fn account_id(label: &str) -> String {
    format!("{MARKER}-account-id-{label}")
}

/// Any other secret (an API key, a file's or a command's content) named `what`.
pub fn secret(what: &str) -> String {
    format!("{MARKER}-secret-{what}")
}

/// A Claude OAuth access token (`sk-ant-oat01-…`) of account `label`.
pub fn claude_token(label: &str) -> String {
    format!("sk-ant-oat01-{}", token(label))
}

/// An unsigned JWT of account `label` that expires in 30 days; its signature part carries
/// the marker (letters and digits only, as a real signature's base64url would).
pub fn jwt(label: &str) -> String {
    jwt_expiring(label, jiff::Timestamp::now().as_second() + 30 * 86_400)
}

/// [`jwt`] expiring at `exp` (Unix seconds).
pub fn jwt_expiring(label: &str, exp: i64) -> String {
    let b64 = |json: &str| base64url::encode(json.as_bytes());
    let signature: String = format!("{MARKER}sig{label}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!(
        "{}.{}.{signature}",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(r#"{{"exp":{exp},"sub":"canary"}}"#))
    )
}

/// True when `text` holds a canary.
pub fn found_in(text: &str) -> bool {
    text.contains(MARKER)
}

/// Fail, naming `what` and showing it, when `text` holds a canary.
#[track_caller]
pub fn assert_absent(what: &str, text: &str) {
    assert!(!found_in(text), "a canary leaked into {what}:\n{text}");
}
