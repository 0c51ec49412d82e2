//! SHA-256 helpers and the `SHA256SUMS` file (GNU format: `<hex>  <name>`).

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

/// Render `SHA256SUMS`: one `<hex>  <name>` line per file, sorted by name.
pub fn render_sums(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(name, hex)| format!("{hex}  {name}\n"))
        .collect()
}

/// Parse `SHA256SUMS` into (name, hex) pairs; rejects malformed lines and duplicate names.
pub fn parse_sums(text: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((hex, name)) = line.split_once("  ") else {
            bail!("SHA256SUMS line {}: expected `<hex>  <name>`", n + 1);
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("SHA256SUMS line {}: not a SHA-256 hex digest", n + 1);
        }
        if out.iter().any(|(seen, _)| seen == name) {
            bail!("SHA256SUMS: {name} is listed twice");
        }
        out.push((name.to_string(), hex.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sums_round_trip_sorted() {
        let a = ("b.tar.gz".to_string(), "1".repeat(64));
        let b = ("a.zip".to_string(), "2".repeat(64));
        let text = render_sums(&[a.clone(), b.clone()]);
        assert!(text.starts_with(&format!("{}  a.zip\n", "2".repeat(64))));
        assert_eq!(parse_sums(&text).unwrap(), vec![b, a]);
    }

    #[test]
    fn duplicates_and_garbage_are_rejected() {
        let line = format!("{}  x\n", "a".repeat(64));
        assert!(parse_sums(&format!("{line}{line}")).is_err());
        assert!(parse_sums("zz  x\n").is_err());
        assert!(parse_sums("no-separator\n").is_err());
    }
}
