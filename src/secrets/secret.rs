//! [`Secret`]: credential bytes that cannot be printed by accident.

use std::fmt;

use zeroize::Zeroize;

use super::redact;

/// Owns secret text. `Debug` prints `Secret([redacted])`, there is no `Display`, and
/// the bytes are overwritten with zeros on drop. Creating one registers its value
/// with the redaction layer, so it is scrubbed from every output from then on.
///
/// Zeroing is best effort: copies the OS or a child process made (pipe buffers, the
/// environment) are outside our reach, and callers who `expose()` and copy the text
/// own that copy. The redaction registry also keeps the value for the life of the
/// process: that copy is what lets output written later still be scrubbed.
pub struct Secret(String);

impl Secret {
    /// Take ownership of `value` and register it for redaction (trimmed, plus the
    /// credential-named fields when it is a JSON object; see
    /// [`redact::register_secret_text`]).
    pub fn new(value: String) -> Self {
        redact::register_secret_text(&value);
        Secret(value)
    }

    /// The secret text. Never format it into output; pass it where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes (safe to report).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Not constant time; secrets are compared only to detect a changed credential.
        self.0 == other.0
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value_and_new_registers_it() {
        let s = Secret::new("unit-secret-canary-5678\n".to_string());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        assert!(redact::is_registered("unit-secret-canary-5678"));
        assert_eq!(s.expose(), "unit-secret-canary-5678\n");
    }
}
