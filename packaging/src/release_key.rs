//! The release key as the tree records it: the public key line of a minisign `.pub` file and
//! its key id. Signing is not done here: `packaging/scripts/sign-release.sh` signs a rendered
//! tree in a step of its own (docs/release.md, "Signing custody").

use anyhow::{Context, Result, bail};

/// The key id of a key line, as minisign prints it (16 upper-case hex digits of the
/// little-endian number in bytes 2..10).
pub fn key_id(public_key_line: &str) -> Result<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(public_key_line.trim())
        .context("minisign public key line is not base64")?;
    if bytes.len() != 42 {
        bail!(
            "minisign public key line decodes to {} bytes, not 42",
            bytes.len()
        );
    }
    Ok(bytes[2..10]
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect())
}

/// Read the base64 key line (`RW…`) from a minisign public key file.
pub fn public_key_line(pub_file_text: &str) -> Result<String> {
    let line = pub_file_text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .context("minisign public key file has no key line")?;
    if !line.starts_with("RW") || line.len() != 56 {
        bail!("minisign public key line must be 56 base64 characters starting with RW");
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_key_has_the_id_minisign_printed_for_it() {
        let text = include_str!("../minisign.pub");
        let line = public_key_line(text).unwrap();
        let id = key_id(&line).unwrap();
        assert!(
            text.lines().next().unwrap().ends_with(&id),
            "{id} vs {text}"
        );
        assert!(key_id("RWnope").is_err());
    }
}
