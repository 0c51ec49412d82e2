//! minisign signing of `SHA256SUMS` through the `minisign` CLI. The secret key comes only from
//! the environment: `OMUX_MINISIGN_SECRET_KEY_FILE` (a path) or `OMUX_MINISIGN_SECRET_KEY` (the
//! key file's text), with `OMUX_MINISIGN_PASSWORD` for an encrypted key. It is never written
//! into the release tree, and the signature is checked against the public key before use.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Where the secret key is, if the environment supplies one.
pub enum KeySource {
    /// A path to a minisign secret key file.
    File(std::path::PathBuf),
    /// The text of a minisign secret key file.
    Inline(String),
}

/// Read the key source from the environment (none = the tree stays unsigned).
pub fn key_from_env() -> Option<KeySource> {
    if let Some(path) = std::env::var_os("OMUX_MINISIGN_SECRET_KEY_FILE").filter(|p| !p.is_empty())
    {
        return Some(KeySource::File(path.into()));
    }
    std::env::var("OMUX_MINISIGN_SECRET_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(KeySource::Inline)
}

/// Sign `file` into `file.minisig` with `trusted_comment`, then verify with `public_key_line`.
pub fn sign(
    file: &Path,
    key: &KeySource,
    trusted_comment: &str,
    public_key_line: &str,
    work: &Path,
) -> Result<()> {
    let key_path = match key {
        KeySource::File(p) => p.clone(),
        KeySource::Inline(text) => {
            let p = work.join("minisign.key");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode_0600()
                .open(&p)?;
            f.write_all(text.as_bytes())?;
            p
        }
    };
    let name = file
        .file_name()
        .context("signed file has no name")?
        .to_string_lossy();
    let sig = file.with_file_name(format!("{name}.minisig"));
    let mut child = Command::new("minisign")
        .arg("-S")
        .arg("-s")
        .arg(&key_path)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(&sig)
        .args([
            "-c",
            "signature from the oauth-mux release key",
            "-t",
            trusted_comment,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context(
            "minisign not found on PATH: apt-get install minisign (the signing key was supplied)",
        )?;
    let password = std::env::var("OMUX_MINISIGN_PASSWORD").unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{password}");
    }
    let out = child.wait_with_output()?;
    if matches!(key, KeySource::Inline(_)) {
        let _ = std::fs::remove_file(&key_path);
    }
    if !out.status.success() {
        bail!(
            "minisign -S failed (wrong key or password?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let check = Command::new("minisign")
        .args(["-V", "-q", "-P", public_key_line, "-m"])
        .arg(file)
        .arg("-x")
        .arg(&sig)
        .output()?;
    if !check.status.success() {
        bail!(
            "the signing key does not match the public key embedded in install.sh ({}); \
             sign with the release key or pass the matching --pubkey",
            public_key_line
        );
    }
    Ok(())
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
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
