//! The install.sh lane: `curl -fsSL …/install.sh | sh` from a loopback HTTP server under dash
//! and bash, plus the refusals (tampered tarball, tampered SHA256SUMS, bad signature with
//! OMUX_REQUIRE_SIGNATURE=1, no checksum tool), each leaving nothing behind; the OpenSSL 3
//! signature path and wget (no minisign, no curl); offline --archive/--sums; Rosetta detection.

use super::Ctx;
use super::http::serve;
use super::util::{copy_tree, list_dir, require_tool, run_ok, which};
use crate::digest::{render_sums, sha256_hex};
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tools a restricted PATH gets (install.sh's needs, minus whatever a case removes).
const BASE_TOOLS: &[&str] = &[
    "sh", "cat", "cp", "mv", "rm", "mkdir", "mktemp", "rmdir", "chmod", "tar", "gzip", "uname",
    "sed", "awk", "grep", "tr", "cut", "wc", "dd", "od", "date", "basename", "dirname", "head",
    "env", "getconf", "ldd", "unzip", "sleep",
];

struct Case<'a> {
    shell: &'a Path,
    label: String,
    url: Option<String>,
    require_signature: bool,
    path_without: &'a [&'a str],
    args: Vec<String>,
}

struct Outcome {
    out: Output,
    install_dir: PathBuf,
    tmp: PathBuf,
}

fn restricted_path(ctx: &Ctx, label: &str, without: &[&str]) -> Result<String> {
    let dir = ctx.scratch_dir(&format!("path-{label}"))?;
    let extra = ["curl", "wget", "openssl", "minisign", "sha256sum", "shasum"];
    for name in BASE_TOOLS.iter().chain(extra.iter()) {
        if without.contains(name) {
            continue;
        }
        if let Some(real) = which(name) {
            std::os::unix::fs::symlink(real, dir.join(name))?;
        }
    }
    Ok(dir.display().to_string())
}

fn run_case(ctx: &Ctx, case: &Case) -> Result<Outcome> {
    let root = ctx.scratch_dir(&format!("case-{}", case.label))?;
    let home = root.join("home");
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&tmp)?;
    let install_dir = root.join("home/.local/bin");
    let path = restricted_path(ctx, &case.label, case.path_without)?;
    let mut cmd = match &case.url {
        Some(url) => {
            let curl = require_tool("curl", "apt-get install curl")?;
            let bash = require_tool("bash", "apt-get install bash")?;
            let mut c = Command::new(bash);
            c.arg("-c").arg(format!(
                "set -o pipefail; '{}' -fsSL '{url}/install.sh' | '{}' -s -- {}",
                curl.display(),
                case.shell.display(),
                case.args.join(" ")
            ));
            c
        }
        None => {
            let mut c = Command::new(case.shell);
            c.arg(ctx.dir.join("install.sh")).args(&case.args);
            c
        }
    };
    cmd.env_clear()
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env("PATH", path)
        .env(
            "OMUX_REQUIRE_SIGNATURE",
            if case.require_signature { "1" } else { "0" },
        );
    // Never the real release host: online cases use the loopback server, offline ones a
    // base URL that cannot be fetched.
    cmd.env(
        "OMUX_RELEASE_BASE_URL",
        case.url
            .as_deref()
            .unwrap_or("http://127.0.0.1:9/offline-must-not-download"),
    );
    let out = cmd.output().context("run install.sh")?;
    Ok(Outcome {
        out,
        install_dir,
        tmp,
    })
}

fn stderr(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.out.stderr).into_owned()
}

fn expect_installed(ctx: &Ctx, o: &Outcome, label: &str) -> Result<()> {
    ensure!(
        o.out.status.success(),
        "{label}: install.sh failed ({}):\n{}",
        o.out.status,
        stderr(o)
    );
    let bin = o.install_dir.join("oauth-mux");
    let printed = run_ok(Command::new(&bin).arg("version"))?;
    ensure!(
        printed.trim() == format!("oauth-mux {}", ctx.version),
        "{label}: installed binary prints {printed:?}"
    );
    let receipt: serde_json::Value = serde_json::from_slice(
        &std::fs::read(o.install_dir.join("oauth-mux.receipt.json"))
            .context("no install receipt")?,
    )?;
    let host = ctx.host_target()?;
    let archive = ctx
        .manifest
        .archive_for(&host.triple)
        .context("no host archive")?;
    ensure!(
        receipt["version"] == ctx.version.as_str(),
        "{label}: receipt version {}",
        receipt["version"]
    );
    ensure!(
        receipt["method"] == "install.sh",
        "{label}: receipt method {}",
        receipt["method"]
    );
    ensure!(
        receipt["target"] == host.triple.as_str(),
        "{label}: receipt target {}",
        receipt["target"]
    );
    ensure!(
        receipt["sha256"] == archive.sha256.as_str(),
        "{label}: receipt sha256 {}",
        receipt["sha256"]
    );
    ensure!(
        receipt["binary_sha256"] == sha256_hex(&std::fs::read(&bin)?).as_str(),
        "{label}: receipt binary_sha256"
    );
    ensure!(
        receipt["installed_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{label}: receipt installed_at"
    );
    ensure!(
        receipt["source"].as_str().is_some_and(|s| !s.is_empty()),
        "{label}: receipt source"
    );
    let mut left = list_dir(&o.install_dir);
    left.sort();
    ensure!(
        left == ["oauth-mux", "oauth-mux.receipt.json"],
        "{label}: install dir holds {left:?}"
    );
    ensure!(
        list_dir(&o.tmp).is_empty(),
        "{label}: temporary files left in TMPDIR: {:?}",
        list_dir(&o.tmp)
    );
    eprintln!(
        "  ok: {label}: installed, `oauth-mux version` = oauth-mux {}, receipt written",
        ctx.version
    );
    Ok(())
}

fn expect_refused(o: &Outcome, label: &str, message: &str) -> Result<()> {
    ensure!(
        !o.out.status.success(),
        "{label}: install.sh succeeded but must refuse:\n{}",
        stderr(o)
    );
    ensure!(
        stderr(o).contains(message),
        "{label}: refusal message lacks {message:?}:\n{}",
        stderr(o)
    );
    let left = list_dir(&o.install_dir);
    ensure!(
        left.is_empty(),
        "{label}: refused but left {left:?} in the install dir"
    );
    ensure!(
        list_dir(&o.tmp).is_empty(),
        "{label}: refused but left temporary files {:?}",
        list_dir(&o.tmp)
    );
    eprintln!("  ok: {label}: refused ({message}), nothing installed");
    Ok(())
}

/// A copy of the tree served on its own port, after `tamper` changed it.
fn tampered_tree(
    ctx: &Ctx,
    name: &str,
    tamper: impl FnOnce(&Path) -> Result<()>,
) -> Result<String> {
    let dir = ctx.scratch_dir(&format!("tree-{name}"))?;
    copy_tree(&ctx.dir, &dir)?;
    tamper(&dir)?;
    serve(dir)
}

fn flip_byte(path: &Path) -> Result<()> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes)?;
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let host = ctx.host_target()?.clone();
    let archive = ctx
        .manifest
        .archive_for(&host.triple)
        .context("no host archive")?
        .name
        .clone();
    let signed = ctx.signed();
    if !signed {
        bail!(
            "the tree is unsigned: the signature cases need a signed tree (set OMUX_MINISIGN_SECRET_KEY_FILE when rendering)"
        );
    }
    let good = serve(ctx.dir.clone())?;
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
        let case = |label: &str, url: &str, require: bool, without: &'static [&'static str]| Case {
            shell: &shell,
            label: format!("{shell_name}-{label}"),
            url: Some(url.to_string()),
            require_signature: require,
            path_without: without,
            args: Vec::new(),
        };
        let o = run_case(ctx, &case("good", &good, true, &[]))?;
        expect_installed(ctx, &o, &format!("{shell_name}: curl | {shell_name}"))?;
        ensure!(
            stderr(&o).contains("signature: SHA256SUMS verified"),
            "{shell_name}: signature was not verified:\n{}",
            stderr(&o)
        );
        ensure!(
            stderr(&o).contains("is not on your PATH"),
            "{shell_name}: no PATH hint:\n{}",
            stderr(&o)
        );

        let o = run_case(ctx, &case("tarball", &bad_tarball, false, &[]))?;
        expect_refused(
            &o,
            &format!("{shell_name}: tampered tarball"),
            "SHA-256 mismatch",
        )?;
        let o = run_case(ctx, &case("sums", &bad_sums, false, &[]))?;
        expect_refused(
            &o,
            &format!("{shell_name}: tampered SHA256SUMS"),
            "does not verify",
        )?;
        let o = run_case(ctx, &case("badsig", &bad_sig, true, &[]))?;
        expect_refused(
            &o,
            &format!("{shell_name}: bad signature + OMUX_REQUIRE_SIGNATURE=1"),
            "does not verify",
        )?;
        let o = run_case(ctx, &case("nosig", &no_sig, true, &[]))?;
        expect_refused(
            &o,
            &format!("{shell_name}: no signature + OMUX_REQUIRE_SIGNATURE=1"),
            "no SHA256SUMS.minisig",
        )?;
        let o = run_case(
            ctx,
            &case(
                "notool",
                &good,
                false,
                &["sha256sum", "shasum", "openssl", "minisign"],
            ),
        )?;
        expect_refused(
            &o,
            &format!("{shell_name}: no checksum tool"),
            "no SHA-256 tool",
        )?;
        let o = run_case(ctx, &case("openssl", &good, true, &["minisign", "curl"]))?;
        expect_installed(
            ctx,
            &o,
            &format!("{shell_name}: OpenSSL 3 signature check + wget download"),
        )?;
        ensure!(
            stderr(&o).contains("signature: SHA256SUMS verified"),
            "{shell_name}: OpenSSL path did not verify"
        );
        let o = run_case(ctx, &case("openssl-badsig", &bad_sig, false, &["minisign"]))?;
        expect_refused(
            &o,
            &format!("{shell_name}: bad signature via OpenSSL 3"),
            "does not verify",
        )?;
        let o = run_case(
            ctx,
            &Case {
                shell: &shell,
                label: format!("{shell_name}-offline"),
                url: None,
                require_signature: true,
                path_without: &["curl", "wget"],
                args: vec![
                    "--archive".into(),
                    ctx.dir.join(&archive).display().to_string(),
                    "--sums".into(),
                    ctx.dir.join("SHA256SUMS").display().to_string(),
                ],
            },
        )?;
        expect_installed(ctx, &o, &format!("{shell_name}: offline --archive/--sums"))?;
        rosetta(ctx, &shell, shell_name)?;
    }
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
        let path = format!(
            "{}:{}",
            stubs.display(),
            restricted_path(ctx, &label, &["uname"])?
        );
        let out = Command::new(shell)
            .arg(ctx.dir.join("install.sh"))
            .arg("--dry-run")
            .env_clear()
            .env("HOME", ctx.scratch_dir(&label)?)
            .env("PATH", path)
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
