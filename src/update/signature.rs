//! The release key compiled into the binary, and the checks that make a release's
//! `SHA256SUMS` trustworthy: its minisign signature, the signature's trusted comment
//! (`file:SHA256SUMS<TAB>version:V`), and — after a key rotation — the statement signed by
//! the previous key that vouches for the new one. Pure: bytes in, a verdict out.

use base64::Engine;
use minisign_verify::{PublicKey, Signature};

use super::refusal::Refusal;

/// The minisign public key file the release is signed with (`packaging/minisign.pub`).
const COMMITTED_KEY_FILE: &str = include_str!("../../packaging/minisign.pub");

/// The file a rotation statement vouches for, and the name of its signature.
pub const ROTATION_KEY_FILE: &str = "minisign.pub";
/// The rotation statement: `minisign.pub` signed by the previous release key.
pub const ROTATION_SIGNATURE_FILE: &str = "minisign.pub.minisig";
/// The signed checksum list and its signature.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The signature of [`SUMS_FILE`].
pub const SUMS_SIGNATURE_FILE: &str = "SHA256SUMS.minisig";

/// The key line (`RW…`) this binary trusts. Release builds take `packaging/minisign.pub`;
/// a build with `OMUX_RELEASE_PUBLIC_KEY=RW…` in its environment (throw-away test keys,
/// set by `packaging/scripts/build-target.sh` from `OMUX_MINISIGN_PUBLIC_KEY_FILE`) takes
/// that key instead.
pub fn compiled_key_line() -> &'static str {
    match option_env!("OMUX_RELEASE_PUBLIC_KEY") {
        Some(line) if !line.trim().is_empty() => line.trim(),
        _ => key_line_of_file(COMMITTED_KEY_FILE).unwrap_or(""),
    }
}

/// The key line of a minisign public key file (the first line that is not a comment).
pub fn key_line_of_file(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
}

/// A minisign key id, shown as minisign shows it (16 upper-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId([u8; 8]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // minisign prints the little-endian 64-bit number: the bytes in reverse order.
        for b in self.0.iter().rev() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

fn decode_b64(line: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()
}

/// A public key together with its id.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: PublicKey,
    id: KeyId,
    line: String,
}

impl TrustedKey {
    /// Parse a key line (`RW…`, 42 bytes once decoded: algorithm, key id, Ed25519 key).
    pub fn from_line(line: &str) -> Option<TrustedKey> {
        let bytes = decode_b64(line)?;
        if bytes.len() != 42 {
            return None;
        }
        let key = PublicKey::from_base64(line.trim()).ok()?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[2..10]);
        Some(TrustedKey {
            key,
            id: KeyId(id),
            line: line.trim().to_string(),
        })
    }

    /// The key this binary was built to trust.
    pub fn compiled() -> TrustedKey {
        TrustedKey::from_line(compiled_key_line())
            .expect("the compiled-in release key is a valid minisign public key")
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key line (`RW…`).
    pub fn line(&self) -> &str {
        &self.line
    }

    fn verify(&self, data: &[u8], sig: &Signature) -> Result<(), minisign_verify::Error> {
        self.key.verify(data, sig, false)
    }
}

/// The key id a `.minisig` file claims to be signed with.
pub fn signer_of(signature_text: &str) -> Result<KeyId, Refusal> {
    let line = signature_text
        .lines()
        .nth(1)
        .ok_or(Refusal::SignatureMalformed)?;
    let bytes = decode_b64(line).ok_or(Refusal::SignatureMalformed)?;
    if bytes.len() != 74 {
        return Err(Refusal::SignatureMalformed);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[2..10]);
    Ok(KeyId(id))
}

/// The fields of a trusted comment (`key:value` separated by tabs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedComment(String);

impl TrustedComment {
    /// The value of `key`, when the comment carries exactly one such field.
    pub fn field(&self, key: &str) -> Option<&str> {
        let mut found = self
            .0
            .split('\t')
            .filter_map(|f| f.split_once(':'))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The whole comment, as signed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A rotation statement fetched next to the release: the new key file and its signature.
pub struct RotationStatement<'a> {
    /// The text of `minisign.pub` (the new release key).
    pub key_file: &'a str,
    /// The text of `minisign.pub.minisig` (signed by the previous key).
    pub signature: &'a str,
}

/// `SHA256SUMS` whose signature checked out, with what the signature says.
#[derive(Debug, Clone)]
pub struct VerifiedSums {
    /// The version the trusted comment names.
    pub version: String,
    /// The whole trusted comment.
    pub trusted_comment: String,
    /// The key that signed `SHA256SUMS`.
    pub signed_by: KeyId,
    /// When the release is signed by a new key: the trusted key that vouched for it.
    pub rotated_from: Option<KeyId>,
}

fn check_signature(key: &TrustedKey, data: &[u8], sig: &Signature) -> Result<(), Refusal> {
    key.verify(data, sig).map_err(|e| match e {
        minisign_verify::Error::UnexpectedAlgorithm => Refusal::SignatureLegacy,
        _ => Refusal::SignatureInvalid,
    })
}

/// Check `SHA256SUMS` against its signature with the trusted key — or, when the release is
/// signed by another key, with the key a rotation statement signed by the trusted key names.
/// The trusted comment must name `file:SHA256SUMS` and a `version`.
pub fn verify_sums(
    trusted: &TrustedKey,
    sums: &[u8],
    signature_text: &str,
    rotation: Option<RotationStatement<'_>>,
) -> Result<VerifiedSums, Refusal> {
    let signature = Signature::decode(signature_text).map_err(|_| Refusal::SignatureMalformed)?;
    let signer = signer_of(signature_text)?;
    let (key, rotated_from) = if signer == trusted.id {
        (trusted.clone(), None)
    } else {
        let Some(statement) = rotation else {
            return Err(Refusal::SignatureWrongKey {
                signed_by: signer.to_string(),
                trusted: trusted.id.to_string(),
            });
        };
        (rotated_key(trusted, signer, &statement)?, Some(trusted.id))
    };
    check_signature(&key, sums, &signature)?;
    let comment = TrustedComment(signature.trusted_comment().to_string());
    if comment.field("file") != Some(SUMS_FILE) {
        return Err(Refusal::CommentWrongFile {
            comment: comment.0,
            expected: SUMS_FILE.into(),
        });
    }
    let version = comment
        .field("version")
        .ok_or_else(|| Refusal::CommentNoVersion {
            comment: comment.0.clone(),
        })?
        .to_string();
    Ok(VerifiedSums {
        version,
        trusted_comment: comment.0,
        signed_by: signer,
        rotated_from,
    })
}

/// The new key a rotation statement introduces, once the trusted key's signature over it,
/// its trusted comment and its key id (the one that signed `SHA256SUMS`) check out.
fn rotated_key(
    trusted: &TrustedKey,
    signer: KeyId,
    statement: &RotationStatement<'_>,
) -> Result<TrustedKey, Refusal> {
    let invalid = |why: &str| Refusal::RotationInvalid {
        signed_by: signer.to_string(),
        trusted: trusted.id.to_string(),
        why: why.to_string(),
    };
    let sig = Signature::decode(statement.signature)
        .map_err(|_| invalid("minisign.pub.minisig is not a minisign signature"))?;
    if signer_of(statement.signature)? != trusted.id {
        return Err(invalid(
            "minisign.pub.minisig is not signed by the key this binary trusts",
        ));
    }
    trusted
        .verify(statement.key_file.as_bytes(), &sig)
        .map_err(|_| invalid("minisign.pub.minisig does not verify"))?;
    let comment = TrustedComment(sig.trusted_comment().to_string());
    if comment.field("file") != Some(ROTATION_KEY_FILE) {
        return Err(invalid(
            "its trusted comment does not name file:minisign.pub",
        ));
    }
    let new_key = key_line_of_file(statement.key_file)
        .and_then(TrustedKey::from_line)
        .ok_or_else(|| invalid("minisign.pub holds no minisign public key"))?;
    if new_key.id != signer {
        return Err(invalid(&format!(
            "minisign.pub introduces key {}, but SHA256SUMS is signed by {signer}",
            new_key.id
        )));
    }
    Ok(new_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_key_is_a_valid_minisign_key() {
        let key = TrustedKey::compiled();
        assert_eq!(key.line(), compiled_key_line());
        assert_eq!(key.id().to_string().len(), 16);
    }

    #[test]
    fn key_ids_print_like_minisign() {
        // packaging/minisign.pub's comment line names the id minisign printed for it.
        let key = TrustedKey::from_line("RWT94FBxOEVV51tXKKZ4Mjf7FEZ1d31oSGVRQAg4ZANMjnvjM4lkm2uU")
            .unwrap();
        assert_eq!(key.id().to_string(), "E75545387150E0FD");
    }

    #[test]
    fn trusted_comment_fields_are_exact_and_unique() {
        let c = TrustedComment("file:SHA256SUMS\tversion:1.2.3".into());
        assert_eq!(c.field("file"), Some("SHA256SUMS"));
        assert_eq!(c.field("version"), Some("1.2.3"));
        assert_eq!(c.field("vers"), None);
        let twice = TrustedComment("version:1.2.3\tversion:9.9.9".into());
        assert_eq!(
            twice.field("version"),
            None,
            "an ambiguous comment names no version"
        );
    }

    #[test]
    fn garbage_is_a_malformed_signature_not_a_panic() {
        let key = TrustedKey::compiled();
        for sig in ["", "untrusted comment: x\n", "a\nnot base64\nc\nd\n"] {
            assert_eq!(
                verify_sums(&key, b"x", sig, None).unwrap_err(),
                Refusal::SignatureMalformed
            );
        }
        assert!(TrustedKey::from_line("RWnot-a-key").is_none());
    }
}
