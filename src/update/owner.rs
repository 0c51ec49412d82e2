//! Who owns an installed binary: `oauth-mux update` itself (an install receipt written by
//! install.sh or a previous update), a package manager (which keeps its own records and
//! must do the upgrade), or nobody we know of. Pure: the facts are gathered by the caller.

use std::path::Path;

use serde::Serialize;

/// A package manager that can own the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    Homebrew,
    Npm,
    Nix,
    Deb,
    Rpm,
    Apk,
}

impl Manager {
    /// The name as it appears in receipts, `OMUX_INSTALL_SOURCE` and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Homebrew => "homebrew",
            Self::Npm => "npm",
            Self::Nix => "nix",
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Apk => "apk",
        }
    }

    /// What people call it.
    pub fn display(self) -> &'static str {
        match self {
            Self::Homebrew => "Homebrew",
            Self::Npm => "npm",
            Self::Nix => "Nix",
            Self::Deb => "dpkg/apt (.deb)",
            Self::Rpm => "rpm/dnf (.rpm)",
            Self::Apk => "apk (.apk)",
        }
    }

    /// The manager a name (receipt `method`, `OMUX_INSTALL_SOURCE`) stands for.
    pub fn from_name(name: &str) -> Option<Manager> {
        [
            Self::Homebrew,
            Self::Npm,
            Self::Nix,
            Self::Deb,
            Self::Rpm,
            Self::Apk,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The command that upgrades oauth-mux through this manager (to `version` when given).
    pub fn upgrade_command(self, version: Option<&str>) -> String {
        match (self, version) {
            (Self::Homebrew, _) => "brew upgrade oauth-mux".into(),
            (Self::Npm, Some(v)) => format!("npm install -g oauth-mux@{v}"),
            (Self::Npm, None) => "npm install -g oauth-mux@latest".into(),
            (Self::Nix, _) => "nix profile upgrade oauth-mux".into(),
            (Self::Deb, _) => "sudo apt-get install --only-upgrade oauth-mux".into(),
            (Self::Rpm, _) => "sudo dnf upgrade oauth-mux".into(),
            (Self::Apk, _) => "sudo apk upgrade oauth-mux".into(),
        }
    }

    /// A sentence for the cases the one command does not cover.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Self::Nix => Some(
                "if oauth-mux comes from a NixOS, nix-darwin or home-manager configuration, \
                 update that flake input (nix flake update) and rebuild instead",
            ),
            Self::Deb | Self::Rpm | Self::Apk => Some(
                "if the package was installed from a downloaded file rather than a repository, \
                 install the new release's package file the same way",
            ),
            _ => None,
        }
    }
}

/// How the owner was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// `OMUX_INSTALL_SOURCE` (set by the npm launcher).
    Environment,
    /// The binary's path (`/nix/store/`, a Homebrew Cellar, `node_modules`).
    Path,
    /// The package manager's database lists the binary.
    PackageDatabase,
    /// The install receipt next to the binary.
    Receipt,
}

/// Who may replace the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Installed by install.sh (or updated by `oauth-mux update`): the receipt is ours.
    SelfManaged,
    /// A package manager owns it; `update` prints its command and replaces nothing.
    Manager(Manager, Evidence),
    /// No receipt and no package manager: installed by hand or built from source.
    Unknown,
}

/// What the caller found out about the install.
#[derive(Debug, Clone)]
pub struct InstallFacts<'a> {
    /// The running binary, symlinks resolved.
    pub exe: &'a Path,
    /// `method` of the receipt next to the binary, when there is one.
    pub receipt_method: Option<&'a str>,
    /// `OMUX_INSTALL_SOURCE`.
    pub install_source: Option<&'a str>,
    /// A package database that lists the binary (dpkg, rpm, apk).
    pub package_database: Option<Manager>,
}

/// Receipt methods that mean "ours to replace".
pub const SELF_MANAGED_METHODS: [&str; 2] = ["install.sh", "update"];

/// Decide who owns the install. A package manager wins over a receipt: replacing a file its
/// database lists would leave the database lying.
pub fn owner_of(facts: &InstallFacts<'_>) -> Owner {
    if let Some(m) = facts.install_source.and_then(Manager::from_name) {
        return Owner::Manager(m, Evidence::Environment);
    }
    if let Some(m) = manager_of_path(facts.exe) {
        return Owner::Manager(m, Evidence::Path);
    }
    if let Some(m) = facts.package_database {
        return Owner::Manager(m, Evidence::PackageDatabase);
    }
    match facts.receipt_method {
        Some(method) if SELF_MANAGED_METHODS.contains(&method) => Owner::SelfManaged,
        Some(method) => match Manager::from_name(method) {
            Some(m) => Owner::Manager(m, Evidence::Receipt),
            None => Owner::Unknown,
        },
        None => Owner::Unknown,
    }
}

fn manager_of_path(exe: &Path) -> Option<Manager> {
    let path = exe.to_string_lossy().replace('\\', "/");
    if path.starts_with("/nix/store/") {
        Some(Manager::Nix)
    } else if path.contains("/Cellar/oauth-mux/")
        || path.starts_with("/opt/homebrew/")
        || path.starts_with("/home/linuxbrew/.linuxbrew/")
    {
        Some(Manager::Homebrew)
    } else if path.contains("/node_modules/") {
        Some(Manager::Npm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn owner(exe: &str, receipt: Option<&str>, env: Option<&str>, db: Option<Manager>) -> Owner {
        let exe = PathBuf::from(exe);
        owner_of(&InstallFacts {
            exe: &exe,
            receipt_method: receipt,
            install_source: env,
            package_database: db,
        })
    }

    #[test]
    fn a_receipt_from_install_sh_or_update_is_self_managed() {
        for method in SELF_MANAGED_METHODS {
            assert_eq!(
                owner("/home/u/.local/bin/oauth-mux", Some(method), None, None),
                Owner::SelfManaged
            );
        }
        assert_eq!(
            owner("/home/u/.local/bin/oauth-mux", None, None, None),
            Owner::Unknown
        );
        assert_eq!(
            owner("/home/u/.local/bin/oauth-mux", Some("scp"), None, None),
            Owner::Unknown
        );
    }

    #[test]
    fn package_managers_are_recognised_and_win_over_a_receipt() {
        let cases = [
            (
                "/opt/homebrew/Cellar/oauth-mux/0.3.0/bin/oauth-mux",
                None,
                None,
                None,
                Manager::Homebrew,
                Evidence::Path,
            ),
            (
                "/usr/local/Cellar/oauth-mux/0.3.0/bin/oauth-mux",
                Some("install.sh"),
                None,
                None,
                Manager::Homebrew,
                Evidence::Path,
            ),
            (
                "/home/linuxbrew/.linuxbrew/bin/oauth-mux",
                None,
                None,
                None,
                Manager::Homebrew,
                Evidence::Path,
            ),
            (
                "/nix/store/abc-oauth-mux-0.3.0/bin/oauth-mux",
                None,
                None,
                None,
                Manager::Nix,
                Evidence::Path,
            ),
            (
                "/usr/lib/node_modules/oauth-mux-linux-x64/bin/oauth-mux",
                None,
                None,
                None,
                Manager::Npm,
                Evidence::Path,
            ),
            (
                "/somewhere/oauth-mux",
                Some("install.sh"),
                Some("npm"),
                None,
                Manager::Npm,
                Evidence::Environment,
            ),
            (
                "/usr/bin/oauth-mux",
                Some("install.sh"),
                None,
                Some(Manager::Deb),
                Manager::Deb,
                Evidence::PackageDatabase,
            ),
            (
                "/home/u/.local/bin/oauth-mux",
                Some("homebrew"),
                None,
                None,
                Manager::Homebrew,
                Evidence::Receipt,
            ),
            (
                "/home/u/.local/bin/oauth-mux",
                Some("npm"),
                None,
                None,
                Manager::Npm,
                Evidence::Receipt,
            ),
            (
                "/home/u/.local/bin/oauth-mux",
                Some("deb"),
                None,
                None,
                Manager::Deb,
                Evidence::Receipt,
            ),
        ];
        for (exe, receipt, env, db, manager, evidence) in cases {
            assert_eq!(
                owner(exe, receipt, env, db),
                Owner::Manager(manager, evidence),
                "{exe} {receipt:?} {env:?} {db:?}"
            );
        }
    }

    #[test]
    fn every_manager_has_an_upgrade_command() {
        assert_eq!(
            Manager::Homebrew.upgrade_command(None),
            "brew upgrade oauth-mux"
        );
        assert_eq!(
            Manager::Npm.upgrade_command(Some("1.2.3")),
            "npm install -g oauth-mux@1.2.3"
        );
        assert_eq!(
            Manager::Npm.upgrade_command(None),
            "npm install -g oauth-mux@latest"
        );
        for m in [Manager::Nix, Manager::Deb, Manager::Rpm, Manager::Apk] {
            assert!(m.upgrade_command(None).contains("oauth-mux"), "{m:?}");
            assert!(m.note().is_some());
            assert_eq!(Manager::from_name(m.name()), Some(m));
        }
    }
}
