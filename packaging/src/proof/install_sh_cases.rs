//! The install.sh lane, under dash and under bash: `curl | sh` installs a signed release;
//! it refuses, leaving nothing behind, a tampered tarball, a consistently tampered
//! SHA256SUMS, a signature by another key, a deleted signature, a release it cannot verify
//! (no minisign, no OpenSSL 3: the exact install commands are printed), no checksum tool, a
//! plain-http base URL and redirects to plain http (curl and wget); the loud opt-out
//! OMUX_INSECURE_SKIP_SIGNATURE=1 installs with a warning; a truncated script runs nothing; a
//! stray VERSION is ignored; `--help` works piped; the OpenSSL 3 path with wget; offline
//! --archive/--sums; Rosetta detection.

use super::Ctx;
use super::http::serve_logged;
use super::install_sh::{
    Case, expect_installed, expect_nothing_installed, expect_refused, flip_byte, run_case,
    tampered_copy, tampered_tree,
};
use super::util::{list_dir, require_tool, run_ok};
use crate::digest::render_sums;
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::process::Command;

const SKIP: &str = "OMUX_INSECURE_SKIP_SIGNATURE";

pub fn run(ctx: &Ctx) -> Result<()> {
    let host = ctx.host_target()?.clone();
    let archive = ctx
        .manifest
        .archive_for(&host.triple)
        .context("no host archive")?
        .name
        .clone();
    if !ctx.signed() {
        bail!(
            "the tree is unsigned: the signature cases need a signed tree (sign it with packaging/scripts/sign-release.sh)"
        );
    }
    let good = serve_logged(ctx.dir.clone())?.url;
    let bad_tarball = tampered_tree(ctx, "tarball", |d| flip_byte(&d.join(&archive)))?;
    let bad_sums = tampered_tree(ctx, "sums", |d| {
        // A consistent attacker: tampered archive and SHA256SUMS rewritten to match it.
        flip_byte(&d.join(&archive))?;
        let sums: Vec<(String, String)> = ctx
            .sums
            .iter()
            .map(|(n, h)| {
                if n == &archive {
                    Ok((n.clone(), crate::digest::sha256_file(&d.join(n))?))
                } else {
                    Ok((n.clone(), h.clone()))
                }
            })
            .collect::<Result<_>>()?;
        std::fs::write(d.join("SHA256SUMS"), render_sums(&sums))?;
        Ok(())
    })?;
    let minisign = require_tool("minisign", "apt-get install minisign")?;
    let bad_sig = tampered_tree(ctx, "signature", |d| {
        let keys = ctx.scratch_dir("other-key")?;
        run_ok(
            Command::new(&minisign)
                .args(["-G", "-W", "-p"])
                .arg(keys.join("k.pub"))
                .arg("-s")
                .arg(keys.join("k.key")),
        )?;
        std::fs::remove_file(d.join("SHA256SUMS.minisig"))?;
        run_ok(
            Command::new(&minisign)
                .args(["-S", "-s"])
                .arg(keys.join("k.key"))
                .arg("-m")
                .arg(d.join("SHA256SUMS"))
                .args(["-t", &ctx.manifest.signing.trusted_comment]),
        )?;
        Ok(())
    })?;
    let no_sig = tampered_tree(ctx, "nosig", |d| {
        Ok(std::fs::remove_file(d.join("SHA256SUMS.minisig"))?)
    })?;

    for shell_name in ["dash", "bash"] {
        let shell = require_tool(shell_name, &format!("apt-get install {shell_name}"))?;
        let case =
            |label: &str, url: &str| Case::piped(&shell, format!("{shell_name}-{label}"), url);
        let say = |what: &str| format!("{shell_name}: {what}");

        let o = run_case(ctx, &case("good", &good))?;
        expect_installed(ctx, &o, &say("curl | sh"), "verified", &good)?;
        for needle in ["signature: SHA256SUMS verified", "is not on your PATH"] {
            ensure!(
                o.stderr().contains(needle),
                "{shell_name}: no {needle:?}:\n{}",
                o.stderr()
            );
        }

        let o = run_case(ctx, &case("tarball", &bad_tarball))?;
        expect_refused(&o, &say("tampered tarball"), "SHA-256 mismatch")?;
        let o = run_case(ctx, &case("sums", &bad_sums))?;
        expect_refused(&o, &say("tampered SHA256SUMS"), "does not verify")?;
        let o = run_case(ctx, &case("badsig", &bad_sig))?;
        expect_refused(&o, &say("signature by another key"), "does not verify")?;
        let o = run_case(ctx, &case("badsig-skip", &bad_sig).env(SKIP, "1"))?;
        expect_refused(
            &o,
            &say("another key, even with the opt-out"),
            "does not verify",
        )?;
        let o = run_case(ctx, &case("nosig", &no_sig))?;
        expect_refused(
            &o,
            &say("deleted signature"),
            "SHA256SUMS.minisig is missing",
        )?;
        let o = run_case(ctx, &case("nosig-skip", &no_sig).env(SKIP, "1"))?;
        expect_installed(
            ctx,
            &o,
            &say("deleted signature + opt-out"),
            "skipped",
            &no_sig,
        )?;
        expect_loud_warning(&o, shell_name)?;

        let o = run_case(
            ctx,
            &case("noverifier", &good).without(&["minisign", "openssl"]),
        )?;
        expect_refused(
            &o,
            &say("no minisign, no OpenSSL 3"),
            "sudo apt-get install minisign",
        )?;
        for cmd in [
            "brew install minisign",
            "sudo dnf install minisign",
            "sudo apk add minisign",
            "winget install jedisct1.minisign",
        ] {
            ensure!(
                o.stderr().contains(cmd),
                "{shell_name}: no verifier: {cmd:?} not named:\n{}",
                o.stderr()
            );
        }
        let o = run_case(
            ctx,
            &case("noverifier-skip", &good)
                .without(&["minisign", "openssl"])
                .env(SKIP, "1"),
        )?;
        expect_installed(ctx, &o, &say("no verifier + opt-out"), "skipped", &good)?;
        expect_loud_warning(&o, shell_name)?;

        let o = run_case(
            ctx,
            &case("notool", &good).without(&["sha256sum", "shasum", "openssl"]),
        )?;
        expect_refused(&o, &say("no checksum tool"), "no SHA-256 tool")?;

        let o = run_case(ctx, &case("openssl", &good).without(&["minisign", "curl"]))?;
        expect_installed(
            ctx,
            &o,
            &say("OpenSSL 3 signature check + wget"),
            "verified",
            &good,
        )?;
        let o = run_case(
            ctx,
            &case("openssl-badsig", &bad_sig).without(&["minisign"]),
        )?;
        expect_refused(&o, &say("bad signature via OpenSSL 3"), "does not verify")?;

        let o = run_case(
            ctx,
            &case("plainhttp", &good).env("OMUX_RELEASE_BASE_URL", "http://example.invalid/v1"),
        )?;
        expect_refused(&o, &say("http:// base URL (not loopback)"), "https only")?;
        let redirect = format!("{good}/redirect-http");
        let o = run_case(
            ctx,
            &case("redirect-curl", &good).env("OMUX_RELEASE_BASE_URL", &redirect),
        )?;
        expect_refused(&o, &say("curl: redirect to plain http"), "download failed")?;
        let o = run_case(
            ctx,
            &case("redirect-wget", &good)
                .env("OMUX_RELEASE_BASE_URL", &redirect)
                .without(&["curl"]),
        )?;
        expect_refused(
            &o,
            &say("wget: redirect to plain http"),
            "refusing the redirect to http://example.invalid",
        )?;

        let o = run_case(
            ctx,
            &case("strayversion", &good)
                .env("VERSION", "9.9.9")
                .env("INSTALL_DIR", "/nonexistent"),
        )?;
        expect_installed(
            ctx,
            &o,
            &say("VERSION=9.9.9 and INSTALL_DIR in the environment"),
            "verified",
            &good,
        )?;
        ensure!(
            o.stderr().contains("ignoring VERSION=9.9.9")
                && o.stderr().contains("ignoring INSTALL_DIR"),
            "{shell_name}: stray variables not reported:\n{}",
            o.stderr()
        );

        help_piped(ctx, &shell, shell_name)?;
        truncated(ctx, &shell, shell_name)?;

        let o = run_case(
            ctx,
            &Case {
                shell: &shell,
                label: format!("{shell_name}-offline"),
                url: None,
                env: Vec::new(),
                path_without: &["curl", "wget"],
                args: vec![
                    "--archive".into(),
                    ctx.dir.join(&archive).display().to_string(),
                    "--sums".into(),
                    ctx.dir.join("SHA256SUMS").display().to_string(),
                ],
            },
        )?;
        let offline_base = format!("file:{}", ctx.dir.display());
        expect_installed(
            ctx,
            &o,
            &say("offline --archive/--sums"),
            "verified",
            &offline_base,
        )?;
        rosetta(ctx, &shell, shell_name)?;
    }
    Ok(())
}

fn expect_loud_warning(o: &super::install_sh::Outcome, shell_name: &str) -> Result<()> {
    let err = o.stderr();
    ensure!(
        err.contains("WARNING") && err.contains("WITHOUT a") && err.contains(SKIP),
        "{shell_name}: the opt-out installed without the loud warning:\n{err}"
    );
    Ok(())
}

/// `curl … | sh -s -- --help` prints the help, downloads nothing else, installs nothing.
fn help_piped(ctx: &Ctx, shell: &Path, shell_name: &str) -> Result<()> {
    let served = serve_logged(ctx.dir.clone())?;
    let o = run_case(
        ctx,
        &Case::piped(shell, format!("{shell_name}-help"), &served.url).args(&["--help"]),
    )?;
    ensure!(
        o.out.status.success(),
        "{shell_name}: --help piped failed:\n{}",
        o.stderr()
    );
    for needle in [
        "Usage:",
        "OMUX_VERSION",
        "OMUX_INSTALL_DIR",
        "OMUX_REPO",
        SKIP,
    ] {
        ensure!(
            o.stdout().contains(needle),
            "{shell_name}: --help lacks {needle}:\n{}",
            o.stdout()
        );
    }
    expect_nothing_installed(&o, &format!("{shell_name}: --help"))?;
    ensure!(
        served.requests() == ["/install.sh"],
        "{shell_name}: --help fetched {:?}",
        served.requests()
    );
    eprintln!(
        "  ok: {shell_name}: `curl … | sh -s -- --help` prints the help and fetches nothing else"
    );
    Ok(())
}

/// A script cut short anywhere (a third, two thirds, without its last line, inside the
/// last line) runs nothing: no download, nothing installed, no temp files.
fn truncated(ctx: &Ctx, shell: &Path, shell_name: &str) -> Result<()> {
    let script = std::fs::read(ctx.dir.join("install.sh"))?;
    ensure!(
        script.ends_with(b"\nmain \"$@\"\n"),
        "install.sh does not end with one `main \"$@\"` line"
    );
    let n = script.len();
    let last_line = "main \"$@\"\n".len();
    for (what, cut) in [
        ("a third", n / 3),
        ("two thirds", 2 * n / 3),
        ("without its last line", n - last_line),
        ("inside its last line", n - 3),
    ] {
        let label = format!("{shell_name}-cut-{cut}");
        let dir = tampered_copy(ctx, &label, |d| {
            Ok(std::fs::write(d.join("install.sh"), &script[..cut])?)
        })?;
        let served = serve_logged(dir)?;
        let o = run_case(ctx, &Case::piped(shell, &label, &served.url))?;
        expect_nothing_installed(&o, &format!("{shell_name}: script cut at {what}"))?;
        ensure!(
            served.requests() == ["/install.sh"],
            "{shell_name}: the script cut at {what} downloaded {:?}",
            served.requests()
        );
        ensure!(
            !o.stderr().contains("downloading"),
            "{shell_name}: the script cut at {what} ran:\n{}",
            o.stderr()
        );
    }
    eprintln!("  ok: {shell_name}: a truncated install.sh (4 cut points) runs nothing");
    Ok(())
}

/// Stub `uname`/`sysctl` as on macOS: a Rosetta shell must still pick the arm64 build.
fn rosetta(ctx: &Ctx, shell: &Path, shell_name: &str) -> Result<()> {
    for (translated, want) in [
        (true, "aarch64-apple-darwin"),
        (false, "x86_64-apple-darwin"),
    ] {
        let label = format!("{shell_name}-rosetta-{translated}");
        let stubs = ctx.scratch_dir(&format!("stubs-{label}"))?;
        std::fs::write(
            stubs.join("uname"),
            "#!/bin/sh\ncase \"$1\" in -s) echo Darwin ;; -m) echo x86_64 ;; esac\n",
        )?;
        if translated {
            std::fs::write(
                stubs.join("sysctl"),
                "#!/bin/sh\n[ \"$2\" = sysctl.proc_translated ] && echo 1 && exit 0\nexit 1\n",
            )?;
        }
        for f in list_dir(&stubs) {
            std::fs::set_permissions(
                stubs.join(f),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )?;
        }
        let real_path = std::env::var("PATH").unwrap_or_default();
        let out = Command::new(shell)
            .arg(ctx.dir.join("install.sh"))
            .arg("--dry-run")
            .env_clear()
            .env("HOME", ctx.scratch_dir(&label)?)
            .env("PATH", format!("{}:{real_path}", stubs.display()))
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success() && text.contains(&format!("target={want}")),
            "{label}: dry-run chose {text:?}, want {want}"
        );
    }
    eprintln!("  ok: {shell_name}: macOS detection picks arm64 under Rosetta, x86_64 otherwise");
    Ok(())
}
