//! The one list of release targets (`packaging/targets.json`), shared with Nix and every template.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;

/// One release target as written in `packaging/targets.json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Target {
    /// Rust target triple, e.g. `x86_64-unknown-linux-musl`.
    pub triple: String,
    /// `linux`, `macos` or `windows` (the name install.sh and the formula use).
    pub os: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// `tar.gz` or `zip`.
    pub archive: String,
    /// File name of the binary inside the archive (`oauth-mux` or `oauth-mux.exe`).
    pub exe: String,
    /// npm `os` value (`process.platform`).
    pub npm_os: String,
    /// npm `cpu` value (`process.arch`).
    pub npm_cpu: String,
    /// Debian architecture (also nfpm's arch input), when a .deb is built for this target.
    pub deb_arch: Option<String>,
    /// RPM architecture, when an .rpm is built.
    pub rpm_arch: Option<String>,
    /// Alpine architecture, when an .apk is built.
    pub apk_arch: Option<String>,
}

#[derive(Deserialize)]
struct TargetFile {
    targets: Vec<Target>,
}

impl Target {
    /// The release archive's file name: `oauth-mux-<triple>.<archive>`.
    pub fn archive_name(&self) -> String {
        format!("oauth-mux-{}.{}", self.triple, self.archive)
    }

    /// The top-level directory inside the archive.
    pub fn archive_dir(&self) -> String {
        format!("oauth-mux-{}", self.triple)
    }

    /// The npm platform package name, e.g. `oauth-mux-linux-x64`.
    pub fn npm_package(&self) -> String {
        format!("oauth-mux-{}-{}", self.npm_os, self.npm_cpu)
    }

    /// True for targets that get .deb/.rpm/.apk packages.
    pub fn has_linux_packages(&self) -> bool {
        self.deb_arch.is_some() && self.rpm_arch.is_some() && self.apk_arch.is_some()
    }
}

/// Parse the target list from JSON text and check it for duplicates and bad values.
pub fn parse_targets(text: &str) -> Result<Vec<Target>> {
    let file: TargetFile =
        serde_json::from_str(text).context("packaging/targets.json: invalid JSON")?;
    let mut seen = std::collections::BTreeSet::new();
    for t in &file.targets {
        if !seen.insert(&t.triple) {
            bail!(
                "packaging/targets.json: triple {} is listed twice",
                t.triple
            );
        }
        if t.archive != "tar.gz" && t.archive != "zip" {
            bail!(
                "packaging/targets.json: {}: archive must be tar.gz or zip, not {}",
                t.triple,
                t.archive
            );
        }
        if !matches!(t.os.as_str(), "linux" | "macos" | "windows") {
            bail!(
                "packaging/targets.json: {}: os must be linux, macos or windows",
                t.triple
            );
        }
        if !matches!(t.arch.as_str(), "x86_64" | "aarch64") {
            bail!(
                "packaging/targets.json: {}: arch must be x86_64 or aarch64",
                t.triple
            );
        }
    }
    if file.targets.is_empty() {
        bail!("packaging/targets.json: no targets");
    }
    Ok(file.targets)
}

/// Read `packaging/targets.json` from the given path.
pub fn load_targets(path: &Path) -> Result<Vec<Target>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    parse_targets(&text)
}

/// The target of `os`/`arch` (`std::env::consts` names: same OS and same CPU) in the list.
pub fn host_target<'a>(targets: &'a [Target], os: &str, arch: &str) -> Result<&'a Target> {
    targets
        .iter()
        .find(|t| t.os == os && t.arch == arch)
        .with_context(|| format!("no release target runs on this machine ({os} {arch})"))
}

/// The committed target list, compiled in so the tool works from any directory.
pub fn builtin_targets() -> Vec<Target> {
    parse_targets(include_str!("../targets.json")).expect("packaging/targets.json is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_list_names_the_six_spec_targets() {
        let triples: Vec<String> = builtin_targets().into_iter().map(|t| t.triple).collect();
        assert_eq!(
            triples,
            [
                "x86_64-unknown-linux-musl",
                "aarch64-unknown-linux-musl",
                "x86_64-apple-darwin",
                "aarch64-apple-darwin",
                "x86_64-pc-windows-gnu",
                "aarch64-pc-windows-gnullvm"
            ]
        );
    }

    #[test]
    fn linux_targets_and_only_they_have_system_packages() {
        for t in builtin_targets() {
            assert_eq!(t.has_linux_packages(), t.os == "linux", "{}", t.triple);
            assert_eq!(t.archive == "zip", t.os == "windows", "{}", t.triple);
            assert_eq!(t.exe.ends_with(".exe"), t.os == "windows", "{}", t.triple);
        }
    }

    #[test]
    fn rust_toolchain_toml_carries_exactly_the_release_targets() {
        let text = include_str!("../../rust-toolchain.toml");
        let list = text
            .split_once("targets = [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(list, _)| list)
            .expect("rust-toolchain.toml has a targets list");
        let listed: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
        let want: Vec<String> = builtin_targets().into_iter().map(|t| t.triple).collect();
        assert_eq!(
            listed, want,
            "rust-toolchain.toml targets != packaging/targets.json"
        );
        assert!(
            text.lines().any(|l| {
                l.trim_start().starts_with("channel = \"")
                    && l.trim_end().ends_with('"')
                    && l.matches('.').count() == 2
            }),
            "rust-toolchain.toml must pin an exact version (channel = \"1.x.y\"), not a channel name"
        );
    }

    #[test]
    fn the_host_target_matches_os_and_cpu() {
        let t = builtin_targets();
        let triple = |os, arch| host_target(&t, os, arch).map(|t| t.triple.as_str());
        assert_eq!(
            triple("linux", "x86_64").unwrap(),
            "x86_64-unknown-linux-musl"
        );
        assert_eq!(triple("macos", "aarch64").unwrap(), "aarch64-apple-darwin");
        assert_eq!(triple("macos", "x86_64").unwrap(), "x86_64-apple-darwin");
        assert_eq!(
            triple("windows", "x86_64").unwrap(),
            "x86_64-pc-windows-gnu"
        );
        assert!(triple("freebsd", "x86_64").is_err());
    }

    #[test]
    fn duplicates_are_rejected() {
        let one = r#"{"triple":"x86_64-unknown-linux-musl","os":"linux","arch":"x86_64","archive":"tar.gz","exe":"oauth-mux","npm_os":"linux","npm_cpu":"x64","deb_arch":null,"rpm_arch":null,"apk_arch":null}"#;
        let err = parse_targets(&format!(r#"{{"targets":[{one},{one}]}}"#)).unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
    }
}
