//! The deb/rpm/apk lane (dpkg -i and -r of the amd64 .deb, rpm -i into a scratch root, the .apk
//! read for contents and arch) and the Homebrew lane (ruby -c plus a URL/sha256 check).

use super::Ctx;
use super::util::{require_tool, run_ok, tar_gz_member, tar_gz_members};
use crate::manifest::Kind;
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::process::Command;

fn host_binary(ctx: &Ctx, triple: &str) -> Result<Vec<u8>> {
    let t = ctx
        .targets
        .iter()
        .find(|t| t.triple == triple)
        .context("target")?;
    let a = ctx.manifest.archive_for(triple).context("archive")?;
    super::binaries::member(&std::fs::read(ctx.dir.join(&a.name))?, t, &t.exe)
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let host = ctx.host_target()?.clone();
    // .deb: metadata of both, then a real install and removal of the host one.
    let dpkg_deb = require_tool("dpkg-deb", "apt-get install dpkg")?;
    for a in ctx.manifest.of_kind(Kind::Deb) {
        let t = ctx
            .targets
            .iter()
            .find(|t| Some(&t.triple) == a.target.as_ref())
            .context("deb target")?;
        let arch = run_ok(
            Command::new(&dpkg_deb)
                .args(["-f"])
                .arg(ctx.dir.join(&a.name))
                .arg("Architecture"),
        )?;
        ensure!(
            Some(arch.trim()) == t.deb_arch.as_deref(),
            "{}: Architecture {}",
            a.name,
            arch.trim()
        );
        let listing = run_ok(Command::new(&dpkg_deb).arg("-c").arg(ctx.dir.join(&a.name)))?;
        for p in [
            "./usr/bin/oauth-mux",
            "./usr/share/doc/oauth-mux/copyright",
            "./usr/share/bash-completion/completions/oauth-mux",
        ] {
            ensure!(listing.contains(p), "{}: missing {p}", a.name);
        }
    }
    let deb = ctx
        .manifest
        .of_kind(Kind::Deb)
        .find(|a| a.target.as_deref() == Some(&host.triple))
        .context("no host .deb")?;
    let dpkg = require_tool("dpkg", "a Debian-based machine")?;
    match privileged() {
        Some(prefix) => deb_install(ctx, &dpkg, &ctx.dir.join(&deb.name), &prefix)?,
        None => ctx.skip(
            "deb-rpm-apk",
            "dpkg -i/-r of the .deb needs root: run the proof as root or with passwordless sudo",
        ),
    }

    // .rpm: metadata of both, install of the host one into a scratch root.
    let rpm = require_tool("rpm", "apt-get install rpm")?;
    for a in ctx.manifest.of_kind(Kind::Rpm) {
        let t = ctx
            .targets
            .iter()
            .find(|t| Some(&t.triple) == a.target.as_ref())
            .context("rpm target")?;
        let arch = run_ok(
            Command::new(&rpm)
                .args(["-qp", "--queryformat", "%{ARCH}"])
                .arg(ctx.dir.join(&a.name)),
        )?;
        ensure!(
            Some(arch.trim()) == t.rpm_arch.as_deref(),
            "{}: ARCH {}",
            a.name,
            arch.trim()
        );
    }
    let rpm_file = ctx
        .manifest
        .of_kind(Kind::Rpm)
        .find(|a| a.target.as_deref() == Some(&host.triple))
        .context("no host .rpm")?;
    let root = ctx.scratch_dir("rpmroot")?;
    run_ok(Command::new(&rpm).arg("--root").arg(&root).args([
        "--dbpath",
        "/var/lib/rpm",
        "--initdb",
    ]))?;
    run_ok(
        Command::new(&rpm)
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts"])
            .arg(ctx.dir.join(&rpm_file.name)),
    )?;
    let q = run_ok(Command::new(&rpm).arg("--root").arg(&root).args([
        "--dbpath",
        "/var/lib/rpm",
        "-q",
        "oauth-mux",
    ]))?;
    ensure!(q.contains(&ctx.version), "rpm -q says {q:?}");
    let printed = run_ok(Command::new(root.join("usr/bin/oauth-mux")).arg("version"))?;
    ensure!(
        printed.trim() == format!("oauth-mux {}", ctx.version),
        "rpm-installed oauth-mux prints {printed:?}"
    );
    eprintln!(
        "  ok: rpm -i --root {} -> {}; `oauth-mux version` = {}",
        root.display(),
        q.trim(),
        printed.trim()
    );

    // .apk: gzip streams of tar (control then data); arch and contents.
    for a in ctx.manifest.of_kind(Kind::Apk) {
        let t = ctx
            .targets
            .iter()
            .find(|t| Some(&t.triple) == a.target.as_ref())
            .context("apk target")?;
        let bytes = std::fs::read(ctx.dir.join(&a.name))?;
        let info = String::from_utf8(tar_gz_member(&bytes, ".PKGINFO")?)?;
        let want = format!("arch = {}", t.apk_arch.as_deref().unwrap_or("?"));
        ensure!(
            info.lines().any(|l| l.trim() == want),
            "{}: .PKGINFO lacks {want:?}",
            a.name
        );
        ensure!(
            info.lines()
                .any(|l| l.trim() == format!("pkgver = {}-r1", ctx.version)),
            "{}: .PKGINFO pkgver is not {}-r1",
            a.name,
            ctx.version
        );
        let members = tar_gz_members(&bytes)?;
        let bin = members
            .iter()
            .find(|(n, _)| n == "usr/bin/oauth-mux")
            .with_context(|| format!("{}: no usr/bin/oauth-mux", a.name))?;
        ensure!(
            bin.1 & 0o777 == 0o755,
            "{}: usr/bin/oauth-mux mode {:o}",
            a.name,
            bin.1
        );
        ensure!(
            tar_gz_member(&bytes, "usr/bin/oauth-mux")? == host_binary(ctx, &t.triple)?,
            "{}: binary differs from the archive's",
            a.name
        );
        eprintln!(
            "  ok: {}: {want}, usr/bin/oauth-mux 0755 identical to the archive's binary",
            a.name
        );
    }
    Ok(())
}

/// How to run a command as root here: directly (root), through `sudo -n` (passwordless
/// sudo, as on CI runners), or not at all.
fn privileged() -> Option<Vec<String>> {
    let uid = run_ok(Command::new("id").arg("-u")).ok()?;
    if uid.trim() == "0" {
        return Some(Vec::new());
    }
    let sudo_works = Command::new("sudo")
        .args(["-n", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    sudo_works.then(|| vec!["sudo".to_string(), "-n".to_string()])
}

fn as_root(prefix: &[String], program: &Path) -> Command {
    match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// `dpkg -i` the .deb, run the installed binary (`version`, and `update`, which must leave a
/// dpkg-owned binary alone), `dpkg -r` it.
fn deb_install(ctx: &Ctx, dpkg: &Path, deb: &Path, root: &[String]) -> Result<()> {
    if Path::new("/usr/bin/oauth-mux").exists()
        && run_ok(Command::new(dpkg).args(["-s", "oauth-mux"])).is_err()
    {
        bail!(
            "/usr/bin/oauth-mux exists and is not from the oauth-mux package; refusing to overwrite it"
        );
    }
    run_ok(as_root(root, dpkg).arg("-i").arg(deb)).context("dpkg -i")?;
    let printed = run_ok(Command::new("/usr/bin/oauth-mux").arg("version"));
    let update = Command::new("/usr/bin/oauth-mux")
        .args(["update", "--yes"])
        .env_remove("OMUX_RELEASE_BASE_URL")
        .output();
    let removed = run_ok(as_root(root, dpkg).args(["-r", "oauth-mux"]));
    let printed = printed?;
    let update = update?;
    removed?;
    ensure!(
        printed.trim() == format!("oauth-mux {}", ctx.version),
        "deb-installed oauth-mux prints {printed:?}"
    );
    let text = String::from_utf8_lossy(&update.stdout);
    ensure!(
        update.status.code() == Some(207)
            && text.contains("sudo apt-get install --only-upgrade oauth-mux")
            && text.contains("package database"),
        "`oauth-mux update` on the dpkg-installed binary: {} {text}",
        update.status
    );
    ensure!(
        !Path::new("/usr/bin/oauth-mux").exists(),
        "dpkg -r left /usr/bin/oauth-mux behind"
    );
    eprintln!(
        "  ok: {}dpkg -i {} -> `oauth-mux version` = {}; `oauth-mux update` recognises dpkg (207, apt-get command); dpkg -r removed it",
        if root.is_empty() { "" } else { "sudo " },
        deb.display(),
        printed.trim()
    );
    Ok(())
}

pub fn run_formula(ctx: &Ctx) -> Result<()> {
    let ruby = require_tool("ruby", "apt-get install ruby")?;
    let formula = ctx.dir.join("oauth-mux.rb");
    let syntax = run_ok(Command::new(&ruby).arg("-c").arg(&formula))?;
    ensure!(syntax.contains("Syntax OK"), "ruby -c: {syntax}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-formula.rb");
    let out = run_ok(
        Command::new(&ruby)
            .arg(&script)
            .arg(&formula)
            .arg(&ctx.dir)
            .arg(&ctx.manifest.base_url)
            .arg(&ctx.version)
            .arg(crate::templates::LICENSE),
    )?;
    eprintln!("  ok: ruby -c: Syntax OK; {}", out.trim());
    Ok(())
}
