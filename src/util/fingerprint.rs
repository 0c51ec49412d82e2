//! Short, one-way fingerprints of secret values: enough to tell two tokens apart in events
//! and comparisons, never enough to recover one.

use sha2::{Digest, Sha256};

/// The first 12 hex digits of the SHA-256 of `value`.
pub fn short_hash(value: &str) -> String {
    Sha256::digest(value.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn twelve_hex_digits_stable_and_distinct() {
        let a = super::short_hash("token-a");
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, super::short_hash("token-a"));
        assert_ne!(a, super::short_hash("token-b"));
    }
}
