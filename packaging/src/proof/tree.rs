//! The tree lane: SHA256SUMS covers every file and every line verifies; the manifest agrees;
//! the signature verifies with the embedded key; the handoff names every file.

use super::Ctx;
use super::util::{list_dir, require_tool, run_ok};
use crate::digest::sha256_file;
use anyhow::{Result, bail, ensure};
use std::process::Command;

pub fn run(ctx: &Ctx) -> Result<()> {
    let listed: Vec<&str> = ctx.sums.iter().map(|(n, _)| n.as_str()).collect();
    let mut files = list_dir(&ctx.dir);
    files.sort();
    for f in &files {
        // Not listed: the list itself, its signature, the handoff, and the key rotation
        // statement (signed by the previous key, added by the signing step).
        if matches!(
            f.as_str(),
            "SHA256SUMS"
                | "SHA256SUMS.minisig"
                | "handoff"
                | "minisign.pub"
                | "minisign.pub.minisig"
        ) {
            continue;
        }
        ensure!(
            listed.contains(&f.as_str()),
            "{f} is in the tree but not in SHA256SUMS"
        );
    }
    for (name, hex) in &ctx.sums {
        let path = ctx.dir.join(name);
        ensure!(
            path.exists(),
            "SHA256SUMS lists {name}, which is not in the tree"
        );
        ensure!(
            &sha256_file(&path)? == hex,
            "{name}: SHA-256 does not match SHA256SUMS"
        );
    }
    eprintln!(
        "  ok: {} SHA256SUMS lines verify and cover every file",
        ctx.sums.len()
    );
    let m = &ctx.manifest;
    ensure!(
        m.version == ctx.version,
        "dist-manifest.json is for {} not {}",
        m.version,
        ctx.version
    );
    for a in &m.artifacts {
        let hex = ctx.sums.iter().find(|(n, _)| n == &a.name).map(|(_, h)| h);
        ensure!(
            hex == Some(&a.sha256),
            "manifest sha256 of {} disagrees with SHA256SUMS",
            a.name
        );
        ensure!(
            std::fs::metadata(ctx.dir.join(&a.name))?.len() == a.size,
            "manifest size of {} is wrong",
            a.name
        );
        ensure!(
            a.url == format!("{}/{}", m.base_url, a.name),
            "manifest url of {} is wrong",
            a.name
        );
    }
    for t in &ctx.targets {
        ensure!(
            m.archive_for(&t.triple).is_some(),
            "manifest has no archive for {}",
            t.triple
        );
    }
    eprintln!(
        "  ok: dist-manifest.json lists {} artifacts matching SHA256SUMS",
        m.artifacts.len()
    );
    if ctx.signed() {
        let minisign = require_tool("minisign", "apt-get install minisign")?;
        let comment = run_ok(
            Command::new(minisign)
                .args(["-V", "-Q", "-P", &m.signing.public_key, "-m"])
                .arg(ctx.dir.join("SHA256SUMS"))
                .arg("-x")
                .arg(ctx.dir.join("SHA256SUMS.minisig")),
        )?;
        ensure!(
            comment.trim_end() == m.signing.trusted_comment,
            "trusted comment is {comment:?}, expected {:?}",
            m.signing.trusted_comment
        );
        let install = std::fs::read_to_string(ctx.dir.join("install.sh"))?;
        ensure!(
            install.contains(&format!("OMUX_PUBKEY='{}'", m.signing.public_key)),
            "install.sh does not embed the signing public key"
        );
        eprintln!("  ok: SHA256SUMS.minisig verifies with the key embedded in install.sh");
    } else {
        eprintln!("  note: tree is unsigned (no signing key in the environment)");
    }
    let handoff = std::fs::read_to_string(ctx.dir.join("handoff/README.md"))?;
    for (name, hex) in &ctx.sums {
        ensure!(
            handoff.contains(name.as_str()) && handoff.contains(hex.as_str()),
            "handoff/README.md does not list {name} with its sha256"
        );
    }
    eprintln!("  ok: handoff/README.md lists every file with its sha256");
    Ok(())
}

/// No binary in the tree holds a path of the build machine (remap-path-prefix worked), and
/// every Mach-O binary's code signature still matches it.
pub fn run_no_local_paths(ctx: &Ctx) -> Result<()> {
    let forbidden = crate::build_paths::forbidden_paths(&[]);
    for t in &ctx.targets {
        let a = ctx
            .manifest
            .archive_for(&t.triple)
            .expect("checked by the tree lane");
        let bytes = std::fs::read(ctx.dir.join(&a.name))?;
        let bin = super::binaries::member(&bytes, t, &t.exe)?;
        let found = crate::build_paths::found_in(&bin, &forbidden);
        if !found.is_empty() {
            bail!(
                "{}: the binary contains build-machine paths {found:?}; --remap-path-prefix missing?",
                t.triple
            );
        }
    }
    eprintln!(
        "  ok: no binary holds any of {} build-machine paths ({})",
        forbidden.len(),
        forbidden.join(", ")
    );
    Ok(())
}
