//! Installer templates, rendered from the manifest: install.sh, the Homebrew formula, the npm
//! launcher and the handoff README. Placeholders are `@@NAME@@`; an unrendered one is an error.

use crate::manifest::{Kind, Manifest};
use crate::targets::Target;
use anyhow::{Result, bail};

const INSTALL_SH: &str = include_str!("../templates/install.sh");
const FORMULA: &str = include_str!("../templates/oauth-mux.rb");
const LAUNCHER: &str = include_str!("../templates/oauth-mux.js");

/// Project description shared by the formula, npm and system packages: the root Cargo.toml's
/// `[workspace.package]` (at most 80 characters, no trailing period, as `brew audit` wants).
pub const DESCRIPTION: &str = env!("CARGO_PKG_DESCRIPTION");
/// Project home page: the workspace's `repository`.
pub const HOMEPAGE: &str = env!("CARGO_PKG_REPOSITORY");
/// SPDX license of the project: the workspace's `license`.
pub const LICENSE: &str = env!("CARGO_PKG_LICENSE");
/// Default release URL; `{version}` is replaced by the version.
pub const DEFAULT_BASE_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/releases/download/v{version}"
);

fn fill(template: &str, pairs: &[(&str, &str)]) -> Result<String> {
    let mut out = template.to_string();
    for (key, value) in pairs {
        out = out.replace(&format!("@@{key}@@"), value);
    }
    if let Some(at) = out.find("@@") {
        let rest = &out[at..];
        bail!(
            "template has an unrendered placeholder near {:?}",
            &rest[..rest.len().min(40)]
        );
    }
    Ok(out)
}

/// Render install.sh. `base_url_template` contains `{version}`.
pub fn install_sh(m: &Manifest, targets: &[Target], base_url_template: &str) -> Result<String> {
    let mut cases = String::new();
    for t in targets {
        let Some(a) = m.archive_for(&t.triple) else {
            bail!("manifest has no archive for {}", t.triple)
        };
        cases.push_str(&format!(
            "    {os}-{arch}) triple={triple}; archive={name}; exe={exe}; embedded_sha={sha} ;;\n",
            os = t.os,
            arch = t.arch,
            triple = t.triple,
            name = a.name,
            exe = t.exe,
            sha = a.sha256
        ));
    }
    let script_base = base_url_template.replace("{version}", "$version");
    fill(
        INSTALL_SH,
        &[
            ("VERSION", &m.version),
            ("BASE_URL", &m.base_url),
            ("BASE_URL_TEMPLATE", &script_base),
            ("PUBKEY", &m.signing.public_key),
            ("KEY_ID", &m.signing.key_id),
            ("RECEIPT", &m.install_receipt),
            ("TARGET_CASES", cases.trim_end()),
        ],
    )
}

/// Render the Homebrew formula (macOS and Linux, arm and intel).
pub fn formula(m: &Manifest, targets: &[Target]) -> Result<String> {
    let mut blocks = String::new();
    for (os, brew_os) in [("macos", "on_macos"), ("linux", "on_linux")] {
        blocks.push_str(&format!("  {brew_os} do\n"));
        for (arch, brew_cpu) in [("aarch64", "on_arm"), ("x86_64", "on_intel")] {
            let Some(t) = targets.iter().find(|t| t.os == os && t.arch == arch) else {
                bail!("no target for {os} {arch} in packaging/targets.json (the formula needs it)");
            };
            let Some(a) = m.archive_for(&t.triple) else {
                bail!("manifest has no archive for {}", t.triple)
            };
            blocks.push_str(&format!(
                "    {brew_cpu} do\n      url \"{}\"\n      sha256 \"{}\"\n    end\n",
                a.url, a.sha256
            ));
        }
        blocks.push_str("  end\n\n");
    }
    fill(
        FORMULA,
        &[
            ("VERSION", &m.version),
            ("DESCRIPTION", DESCRIPTION),
            ("HOMEPAGE", HOMEPAGE),
            ("LICENSE", LICENSE),
            ("PLATFORM_BLOCKS", blocks.trim_end_matches('\n')),
        ],
    )
    .map(|s| s.replace("end\n  def install", "end\n\n  def install"))
}

/// Render the npm launcher (`bin/oauth-mux.js`).
pub fn launcher(m: &Manifest, targets: &[Target]) -> Result<String> {
    let mut map = serde_json::Map::new();
    for t in targets {
        map.insert(
            format!("{} {}", t.npm_os, t.npm_cpu),
            serde_json::json!({ "package": t.npm_package(), "exe": t.exe }),
        );
    }
    let platforms = serde_json::to_string_pretty(&map)?;
    let install_url = format!("{}/install.sh", m.base_url);
    fill(
        LAUNCHER,
        &[
            ("VERSION", &m.version),
            ("PLATFORMS", &platforms),
            ("INSTALL_URL", &install_url),
        ],
    )
}

/// Render `handoff/README.md`: what to upload where, in which order, with checksums.
pub fn handoff(m: &Manifest, sums: &[(String, String)]) -> String {
    let sha = |name: &str| {
        sums.iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h.as_str())
            .unwrap_or("(not in SHA256SUMS)")
    };
    let mut out = format!(
        "# oauth-mux {v}: release handoff\n\n\
         Generated by `oauth-mux-packaging render` from `dist-manifest.json` (SOURCE_DATE_EPOCH {e}).\n\
         Nothing here was published: every step below is for a human holding the credentials.\n\n\
         Signature: `SHA256SUMS.minisig`, made after rendering by the signing step \
         (`packaging/scripts/sign-release.sh`, which has only minisign and the key) with key \
         `{key}` ({key_id}) and the trusted comment `{comment}`. Publish nothing without it: \
         `just release-handoff {v}` checks it.\n\n\
         ## 1. Git tag and GitHub release `{tag}` (upload every file below, then publish)\n\n\
         Release URL base: {base}\n\n| file | kind | sha256 |\n|---|---|---|\n",
        v = m.version,
        e = m.source_date_epoch,
        tag = m.tag,
        base = m.base_url,
        key = m.signing.public_key,
        key_id = m.signing.key_id,
        comment = m.signing.trusted_comment.replace('\t', "\\t"),
    );
    for (name, hex) in sums {
        let kind = m
            .artifacts
            .iter()
            .find(|a| &a.name == name)
            .map(|a| format!("{:?}", a.kind))
            .unwrap_or_else(|| "manifest".into());
        out.push_str(&format!("| `{name}` | {kind} | `{hex}` |\n"));
    }
    out.push_str(&format!(
        "| `SHA256SUMS` | checksums | `{}` |\n",
        crate::digest::sha256_hex(crate::digest::render_sums(sums).as_bytes())
    ));
    out.push_str(
        "| `SHA256SUMS.minisig` | signature | (covers SHA256SUMS; added by the signing step) |\n",
    );
    out.push_str("| `minisign.pub`, `minisign.pub.minisig` | key rotation statement | (only after a key rotation; added by the signing step) |\n");
    out.push_str("\nCheck before uploading: `sha256sum -c SHA256SUMS` and `minisign -Vm SHA256SUMS -p packaging/minisign.pub`.\n");
    out.push_str("\n## 2. npm (platform packages first, the root package last)\n\n```sh\n");
    for a in m.of_kind(Kind::NpmPlatform) {
        out.push_str(&format!(
            "npm publish --access public {}   # sha256 {}\n",
            a.name,
            sha(&a.name)
        ));
    }
    for a in m.of_kind(Kind::NpmRoot) {
        out.push_str(&format!(
            "npm publish --access public {}   # sha256 {}\n",
            a.name,
            sha(&a.name)
        ));
    }
    out.push_str("```\n\n## 3. Homebrew tap\n\nCopy `oauth-mux.rb` to `Formula/oauth-mux.rb` in the tap repository and push; its URLs point at step 1's release.\n");
    out.push_str(&format!(
        "`oauth-mux.rb` sha256 `{}`.\n",
        sha("oauth-mux.rb")
    ));
    out.push_str("\n## 4. Linux package repositories\n\n| file | kind | sha256 |\n|---|---|---|\n");
    for kind in [Kind::Deb, Kind::Rpm, Kind::Apk] {
        for a in m.of_kind(kind) {
            out.push_str(&format!("| `{}` | {:?} | `{}` |\n", a.name, kind, a.sha256));
        }
    }
    out.push_str("\n## 5. Announce\n\n`curl -fsSL ");
    out.push_str(&m.base_url);
    out.push_str("/install.sh | sh` installs this release; `oauth-mux update` reads `dist-manifest.json` and `SHA256SUMS.minisig` from the same place.\n");
    out
}
