//! The pure decisions of `oauth-mux update` and `version --check`: whether the release found
//! is an update, what the report says, what to run next, and the exit code. No I/O.

use serde::Serialize;

use super::owner::{Evidence, Manager, Owner};
use super::refusal::Refusal;
use super::release::Wanted;
use crate::exit::ExitCode;

/// How the running version relates to the release that was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing newer (or the requested version is the one running).
    UpToDate,
    /// The running build is newer than the newest release.
    Ahead,
    /// A newer release (or the requested other version) can be installed.
    UpdateAvailable,
    /// The binary was replaced.
    Updated,
    /// A package manager owns the binary; nothing was replaced.
    Managed,
    /// No receipt: the binary was not installed by install.sh; nothing was replaced.
    NotSelfManaged,
    /// A check failed; nothing was replaced.
    Refused,
    /// The user must confirm (`--yes`); nothing was replaced.
    ConfirmationRequired,
}

/// Compare the running version with the release's (its signed version).
pub fn compare(current: &semver::Version, release: &semver::Version, wanted: &Wanted) -> Status {
    match wanted {
        Wanted::Exact(v) if v == current => Status::UpToDate,
        Wanted::Exact(_) => Status::UpdateAvailable,
        Wanted::Latest if release > current => Status::UpdateAvailable,
        Wanted::Latest if release == current => Status::UpToDate,
        Wanted::Latest => Status::Ahead,
    }
}

/// The signed version must be the one asked for: the manifest's, and `--version`'s.
pub fn check_signed_version(
    signed: &str,
    manifest_version: &str,
    wanted: &Wanted,
) -> Result<semver::Version, Refusal> {
    let mismatch = |expected: &str| Refusal::CommentWrongVersion {
        signed: signed.to_string(),
        expected: expected.to_string(),
    };
    if signed != manifest_version {
        return Err(mismatch(manifest_version));
    }
    let version = semver::Version::parse(signed).map_err(|_| mismatch(manifest_version))?;
    if let Wanted::Exact(v) = wanted
        && &version != v
    {
        return Err(mismatch(&v.to_string()));
    }
    Ok(version)
}

/// Who owns the install, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerReport {
    /// `oauth-mux` (self-managed), a manager name, or `unknown`.
    pub kind: &'static str,
    /// How it was recognised (`receipt`, `path`, `environment`, `package_database`).
    pub evidence: Option<Evidence>,
    /// The command that upgrades it, when `oauth-mux update` does not.
    pub upgrade_command: Option<String>,
    /// More about that command, when it does not cover every case.
    pub note: Option<&'static str>,
}

impl OwnerReport {
    /// Describe an owner; `version` makes the manager command install that version.
    pub fn new(owner: &Owner, version: Option<&str>) -> OwnerReport {
        match owner {
            Owner::SelfManaged => OwnerReport {
                kind: "oauth-mux",
                evidence: Some(Evidence::Receipt),
                upgrade_command: None,
                note: None,
            },
            Owner::Manager(m, evidence) => OwnerReport {
                kind: m.name(),
                evidence: Some(*evidence),
                upgrade_command: Some(m.upgrade_command(version)),
                note: m.note(),
            },
            Owner::Unknown => OwnerReport {
                kind: "unknown",
                evidence: None,
                upgrade_command: Some(reinstall_command()),
                note: Some(
                    "no install receipt next to the binary: it was not installed by install.sh \
                     (or the receipt was removed); reinstall with install.sh to let \
                     `oauth-mux update` manage it, or update it the way you installed it",
                ),
            },
        }
    }
}

/// The install.sh one-liner for the project's releases.
pub fn reinstall_command() -> String {
    format!(
        "curl -fsSL {}/releases/latest/download/install.sh | sh",
        env!("CARGO_PKG_REPOSITORY")
    )
}

/// What was checked about the release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    /// The release directory the files came from.
    pub url: String,
    /// Its version (from the signed trusted comment).
    pub version: String,
    /// The key id that signed `SHA256SUMS`.
    pub signed_by: String,
    /// When signed by a new key: the trusted key that vouched for it.
    pub rotated_from: Option<String>,
    /// The signed trusted comment.
    pub trusted_comment: String,
    /// The archive for this target, when it was looked up.
    pub archive: Option<String>,
    /// Its SHA-256 from `SHA256SUMS`.
    pub sha256: Option<String>,
}

/// The report of `update` / `version --check`, human and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub status: Status,
    /// The running version.
    pub current_version: String,
    /// The release's version, when one was checked.
    pub available_version: Option<String>,
    /// `--version`, when given.
    pub requested_version: Option<String>,
    /// True when the update installs an older version than the running one.
    pub downgrade: bool,
    /// The release target of this install.
    pub target: String,
    /// The installed binary.
    pub executable: String,
    pub owner: OwnerReport,
    pub release: Option<ReleaseReport>,
    /// One sentence saying what happened.
    pub message: String,
    /// The stable code of the refusal, when refused.
    pub error: Option<&'static str>,
    pub confirmation_required: bool,
    /// The flag that confirms, when confirmation is required.
    pub requires: Option<&'static str>,
    /// The commands to run next.
    pub next: Vec<String>,
}

impl UpdateReport {
    /// The exit code this outcome maps to (docs/exit-codes.md).
    pub fn exit_code(&self) -> ExitCode {
        match self.status {
            Status::UpToDate | Status::Ahead | Status::Updated => ExitCode::Ok,
            Status::UpdateAvailable => ExitCode::UpdateAvailable,
            Status::Managed | Status::NotSelfManaged => ExitCode::NotSelfManaged,
            Status::Refused => ExitCode::UpdateRefused,
            Status::ConfirmationRequired => ExitCode::Error,
        }
    }
}

/// The commands to run next for an outcome.
pub fn next_commands(status: Status, owner: &OwnerReport, requested: Option<&str>) -> Vec<String> {
    let update = match requested {
        Some(v) => format!("oauth-mux update --version {v}"),
        None => "oauth-mux update".to_string(),
    };
    match (status, owner.kind) {
        (Status::UpdateAvailable, "oauth-mux") => vec![update],
        (Status::ConfirmationRequired, _) => vec![format!("{update} --yes")],
        (Status::UpdateAvailable | Status::Managed | Status::NotSelfManaged, _) => {
            owner.upgrade_command.iter().cloned().collect()
        }
        (Status::Refused, _) => vec!["oauth-mux update --check".to_string()],
        _ => Vec::new(),
    }
}

/// The human rendering of a report.
pub fn render_human(r: &UpdateReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "oauth-mux {} ({}) at {}\n",
        r.current_version, r.target, r.executable
    ));
    match r.owner.kind {
        "oauth-mux" => out.push_str("installed by install.sh: `oauth-mux update` replaces it\n"),
        "unknown" => {}
        kind => out.push_str(&format!(
            "installed by {} (found by its {}): `oauth-mux update` never replaces it\n",
            Manager::from_name(kind).map_or("a package manager", Manager::display),
            r.owner
                .evidence
                .map(evidence_name)
                .unwrap_or("install records"),
        )),
    }
    if let Some(rel) = &r.release {
        out.push_str(&format!(
            "release {} at {}: SHA256SUMS signed by key {}{}\n",
            rel.version,
            rel.url,
            rel.signed_by,
            rel.rotated_from
                .as_ref()
                .map(|old| format!(" (a new release key; key {old} vouched for it)"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&r.message);
    out.push('\n');
    let explains = matches!(
        r.status,
        Status::Managed | Status::NotSelfManaged | Status::UpdateAvailable
    );
    if let Some(note) = r.owner.note.filter(|_| explains) {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(&crate::output::next_block(&r.next));
    out
}

fn evidence_name(e: Evidence) -> &'static str {
    match e {
        Evidence::Environment => "environment (OMUX_INSTALL_SOURCE)",
        Evidence::Path => "install path",
        Evidence::PackageDatabase => "package database",
        Evidence::Receipt => "install receipt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    #[test]
    fn latest_is_an_update_only_when_newer_in_semver_order() {
        let latest = Wanted::Latest;
        assert_eq!(
            compare(&v("0.3.0"), &v("0.3.1"), &latest),
            Status::UpdateAvailable
        );
        assert_eq!(
            compare(&v("0.3.0"), &v("0.10.0"), &latest),
            Status::UpdateAvailable
        );
        assert_eq!(compare(&v("0.3.0"), &v("0.3.0"), &latest), Status::UpToDate);
        assert_eq!(compare(&v("0.4.0"), &v("0.3.9"), &latest), Status::Ahead);
        assert_eq!(
            compare(&v("1.0.0-rc.1"), &v("1.0.0"), &latest),
            Status::UpdateAvailable
        );
        assert_eq!(
            compare(&v("1.0.0"), &v("1.0.0-rc.1"), &latest),
            Status::Ahead
        );
    }

    #[test]
    fn an_explicit_version_is_installed_even_when_older() {
        let want = Wanted::Exact(v("0.2.0"));
        assert_eq!(
            compare(&v("0.3.0"), &v("0.2.0"), &want),
            Status::UpdateAvailable
        );
        let same = Wanted::Exact(v("0.3.0"));
        assert_eq!(compare(&v("0.3.0"), &v("0.3.0"), &same), Status::UpToDate);
    }

    #[test]
    fn the_signed_version_must_match_the_manifest_and_the_request() {
        assert_eq!(
            check_signed_version("1.2.3", "1.2.3", &Wanted::Latest).unwrap(),
            v("1.2.3")
        );
        assert_eq!(
            check_signed_version("1.2.2", "1.2.3", &Wanted::Latest).unwrap_err(),
            Refusal::CommentWrongVersion {
                signed: "1.2.2".into(),
                expected: "1.2.3".into()
            }
        );
        assert!(matches!(
            check_signed_version("1.2.3", "1.2.3", &Wanted::Exact(v("1.2.4"))),
            Err(Refusal::CommentWrongVersion { .. })
        ));
        assert!(check_signed_version("latest", "latest", &Wanted::Latest).is_err());
    }

    #[test]
    fn exit_codes_follow_docs_exit_codes_md() {
        let owner = OwnerReport::new(&Owner::SelfManaged, None);
        let report = |status| UpdateReport {
            status,
            current_version: "0.3.0".into(),
            available_version: None,
            requested_version: None,
            downgrade: false,
            target: "x86_64-unknown-linux-musl".into(),
            executable: "/x/oauth-mux".into(),
            owner: owner.clone(),
            release: None,
            message: String::new(),
            error: None,
            confirmation_required: false,
            requires: None,
            next: Vec::new(),
        };
        for (status, code) in [
            (Status::UpToDate, 0),
            (Status::Ahead, 0),
            (Status::Updated, 0),
            (Status::UpdateAvailable, 205),
            (Status::Refused, 206),
            (Status::Managed, 207),
            (Status::NotSelfManaged, 207),
            (Status::ConfirmationRequired, 1),
        ] {
            assert_eq!(report(status).exit_code().code(), code, "{status:?}");
        }
    }

    #[test]
    fn next_commands_name_the_right_tool() {
        let ours = OwnerReport::new(&Owner::SelfManaged, None);
        assert_eq!(
            next_commands(Status::UpdateAvailable, &ours, None),
            ["oauth-mux update"]
        );
        assert_eq!(
            next_commands(Status::ConfirmationRequired, &ours, Some("1.2.3")),
            ["oauth-mux update --version 1.2.3 --yes"]
        );
        let brew = OwnerReport::new(&Owner::Manager(Manager::Homebrew, Evidence::Path), None);
        assert_eq!(
            next_commands(Status::Managed, &brew, None),
            ["brew upgrade oauth-mux"]
        );
        assert_eq!(
            next_commands(Status::UpdateAvailable, &brew, None),
            ["brew upgrade oauth-mux"]
        );
        let unknown = OwnerReport::new(&Owner::Unknown, None);
        assert!(
            next_commands(Status::NotSelfManaged, &unknown, None)[0].contains("install.sh | sh")
        );
        assert!(next_commands(Status::UpToDate, &ours, None).is_empty());
    }

    #[test]
    fn the_human_report_says_who_owns_the_install_and_what_to_run() {
        let owner = OwnerReport::new(&Owner::Manager(Manager::Npm, Evidence::Environment), None);
        let r = UpdateReport {
            status: Status::Managed,
            current_version: "0.3.0".into(),
            available_version: None,
            requested_version: None,
            downgrade: false,
            target: "x86_64-unknown-linux-musl".into(),
            executable: "/p/oauth-mux".into(),
            next: next_commands(Status::Managed, &owner, None),
            owner,
            release: None,
            message: "npm owns this install; upgrade it with npm".into(),
            error: None,
            confirmation_required: false,
            requires: None,
        };
        let text = render_human(&r);
        assert!(
            text.contains("installed by npm (found by its environment"),
            "{text}"
        );
        assert!(
            text.contains("Next:\n  npm install -g oauth-mux@latest"),
            "{text}"
        );
    }
}
