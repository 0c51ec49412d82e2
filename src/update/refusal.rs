//! Why an update was refused: every check that can fail, with a stable code for `--json`
//! and a message that says what was wrong and what to do. A refusal changes nothing on disk
//! (exit 206).

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The release has no `SHA256SUMS.minisig`.
    SignatureMissing,
    /// `SHA256SUMS.minisig` is not a minisign signature.
    SignatureMalformed,
    /// Signed in minisign's legacy (not prehashed) mode, which releases never use.
    SignatureLegacy,
    /// The signature does not verify.
    SignatureInvalid,
    /// Signed by a key this binary does not trust, and no rotation statement vouches for it.
    SignatureWrongKey { signed_by: String, trusted: String },
    /// A rotation statement was offered but does not hold.
    RotationInvalid {
        signed_by: String,
        trusted: String,
        why: String,
    },
    /// The trusted comment names another file.
    CommentWrongFile { comment: String, expected: String },
    /// The trusted comment names no version.
    CommentNoVersion { comment: String },
    /// The signed version is not the one the release (or the user) asked for.
    CommentWrongVersion { signed: String, expected: String },
    /// `SHA256SUMS` lists a file not exactly once.
    ChecksumLine { file: String, count: usize },
    /// A downloaded file's SHA-256 differs from `SHA256SUMS`.
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    /// `dist-manifest.json` is unreadable or has no archive for this target.
    Manifest { why: String },
    /// The archive does not hold the binary, or cannot be unpacked.
    Archive { why: String },
    /// The new binary did not run, or printed another version.
    SmokeRun { why: String },
    /// A download was redirected to, or configured with, an insecure URL.
    InsecureUrl { url: String },
}

impl Refusal {
    /// A stable, machine-readable code (`--json` field `error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::SignatureMissing => "signature_missing",
            Self::SignatureMalformed => "signature_malformed",
            Self::SignatureLegacy => "signature_legacy",
            Self::SignatureInvalid => "signature_invalid",
            Self::SignatureWrongKey { .. } => "signature_wrong_key",
            Self::RotationInvalid { .. } => "key_rotation_invalid",
            Self::CommentWrongFile { .. } => "trusted_comment_wrong_file",
            Self::CommentNoVersion { .. } => "trusted_comment_no_version",
            Self::CommentWrongVersion { .. } => "trusted_comment_wrong_version",
            Self::ChecksumLine { .. } => "checksum_line",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::Manifest { .. } => "manifest_invalid",
            Self::Archive { .. } => "archive_invalid",
            Self::SmokeRun { .. } => "smoke_run_failed",
            Self::InsecureUrl { .. } => "insecure_url",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignatureMissing => f.write_str(
                "the release has no SHA256SUMS.minisig: an unsigned release is never installed",
            ),
            Self::SignatureMalformed => {
                f.write_str("SHA256SUMS.minisig is not a valid minisign signature")
            }
            Self::SignatureLegacy => f.write_str(
                "SHA256SUMS.minisig uses minisign's legacy mode; releases are signed prehashed",
            ),
            Self::SignatureInvalid => f.write_str(
                "SHA256SUMS.minisig does not verify: SHA256SUMS was changed after signing",
            ),
            Self::SignatureWrongKey { signed_by, trusted } => write!(
                f,
                "SHA256SUMS is signed by key {signed_by}, but this binary trusts only key \
                 {trusted} and the release carries no rotation statement from it"
            ),
            Self::RotationInvalid {
                signed_by,
                trusted,
                why,
            } => write!(
                f,
                "SHA256SUMS is signed by key {signed_by}; the rotation statement from the \
                 trusted key {trusted} does not hold: {why}"
            ),
            Self::CommentWrongFile { comment, expected } => write!(
                f,
                "the signature's trusted comment ({}) is for another file than {expected}",
                comment.replace('\t', " ")
            ),
            Self::CommentNoVersion { comment } => write!(
                f,
                "the signature's trusted comment ({}) names no version",
                comment.replace('\t', " ")
            ),
            Self::CommentWrongVersion { signed, expected } => write!(
                f,
                "the signature is for version {signed}, but the release is {expected}: \
                 a replayed or mixed-up release"
            ),
            Self::ChecksumLine { file, count } => write!(
                f,
                "SHA256SUMS lists {file} {count} times (exactly once is required)"
            ),
            Self::ChecksumMismatch {
                file,
                expected,
                actual,
            } => write!(
                f,
                "SHA-256 mismatch for {file}: SHA256SUMS says {expected}, the download is {actual}"
            ),
            Self::Manifest { why } => write!(f, "dist-manifest.json: {why}"),
            Self::Archive { why } => write!(f, "the release archive: {why}"),
            Self::SmokeRun { why } => write!(f, "the new binary failed its test run: {why}"),
            Self::InsecureUrl { url } => write!(
                f,
                "refusing {url}: releases are fetched over https (plain http only from \
                 127.0.0.1/localhost, for tests)"
            ),
        }
    }
}

impl std::error::Error for Refusal {}
