//! The update lane: the real release binary, installed by install.sh from the tree, updates
//! itself from a newer release rendered and signed here (its binaries are stand-ins that
//! print the newer version) and served on loopback: `update --check` and `version --check`
//! see it (exit 205), `update` without `--yes` asks, `update --yes` replaces the binary and
//! the receipt. Each refusal — deleted signature, signature by another key, tampered
//! archive, a trusted comment for another version, an unreachable server — leaves the
//! installed binary and its receipt untouched, with the documented exit code. A key
//! rotation statement from the trusted key is accepted. A receipt saying Homebrew, npm or
//! deb gets that manager's command and no replacement.

use super::Ctx;
use super::http::serve_logged;
use super::install_sh::{Case, expect_installed, flip_byte, run_case};
use super::util::{list_dir, require_tool, run_ok};
use crate::digest::sha256_hex;
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Write stand-in binaries for every target: shell scripts answering `version` with
/// `oauth-mux <version>` and `completions SHELL` with a comment.
pub fn write_stand_in_bins(dir: &Path, version: &str) -> Result<()> {
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  version) echo 'oauth-mux {version}' ;;\n  completions) echo \"# oauth-mux completions for $2\" ;;\n  *) echo 'usage' >&2; exit 2 ;;\nesac\n"
    );
    for t in crate::targets::builtin_targets() {
        let d = dir.join(&t.triple);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(&t.exe), &script)?;
        std::fs::set_permissions(
            d.join(&t.exe),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
    }
    Ok(())
}

/// `X.Y.Z` → `X.Y.(Z+1)` (a pre-release suffix is dropped).
fn next_patch(version: &str) -> Result<String> {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().context("version is not X.Y.Z"))
        .collect::<Result<_>>()?;
    ensure!(parts.len() == 3, "version {version} is not X.Y.Z");
    Ok(format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1))
}

struct Lane<'a> {
    ctx: &'a Ctx,
    bash: PathBuf,
    good: String,
    secret: PathBuf,
}

/// One installed copy: the binary, its receipt, the environment to run it in.
struct Installed {
    bin: PathBuf,
    receipt: PathBuf,
    runtime: PathBuf,
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Installed {
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Ran> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.runtime.join("home"))
            .env("OMUX_RUNTIME_DIR", &self.runtime)
            .env("OMUX_STATE_DIR", self.runtime.join("state"))
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().context("run the installed oauth-mux")?;
        Ok(Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn json(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> Result<serde_json::Value> {
        let r = self.run(args, env)?;
        ensure!(
            r.code == Some(code),
            "`oauth-mux {}` exited {:?}, want {code}:\n{}{}",
            args.join(" "),
            r.code,
            r.stdout,
            r.stderr
        );
        serde_json::from_str(&r.stdout).with_context(|| {
            format!(
                "`oauth-mux {}` printed no JSON: {}",
                args.join(" "),
                r.stdout
            )
        })
    }

    /// The binary and receipt bytes, to prove a refusal changed nothing.
    fn snapshot(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        Ok((std::fs::read(&self.bin)?, std::fs::read(&self.receipt)?))
    }
}

impl Lane<'_> {
    /// A fresh install.sh install of the tree's release.
    fn install(&self, label: &str) -> Result<Installed> {
        let o = run_case(
            self.ctx,
            &Case::piped(&self.bash, format!("update-{label}"), &self.good),
        )?;
        expect_installed(
            self.ctx,
            &o,
            &format!("update lane: install for {label}"),
            "verified",
            &self.good,
        )?;
        let runtime = o
            .install_dir
            .parent()
            .context("install dir")?
            .join("omux-runtime");
        std::fs::create_dir_all(runtime.join("home"))?;
        Ok(Installed {
            bin: o.install_dir.join("oauth-mux"),
            receipt: o.install_dir.join("oauth-mux.receipt.json"),
            runtime,
        })
    }

    fn sign(&self, file: &Path, key: &Path, comment: &str) -> Result<()> {
        let sig = PathBuf::from(format!("{}.minisig", file.display()));
        let _ = std::fs::remove_file(&sig);
        run_ok(
            Command::new(require_tool("minisign", "apt-get install minisign")?)
                .arg("-S")
                .arg("-s")
                .arg(key)
                .arg("-m")
                .arg(file)
                .args(["-t", comment]),
        )?;
        Ok(())
    }

    /// A refused update: exit `code` (206 with the JSON `error` named, or 204), binary and
    /// receipt unchanged.
    fn expect_refused(&self, label: &str, url: &str, code: i32, error: Option<&str>) -> Result<()> {
        let inst = self.install(label)?;
        let before = inst.snapshot()?;
        let env = [("OMUX_RELEASE_BASE_URL", url)];
        let r = inst.run(&["update", "--yes", "--json"], &env)?;
        ensure!(
            r.code == Some(code),
            "update lane: {label}: exit {:?}, want {code}:\n{}{}",
            r.code,
            r.stdout,
            r.stderr
        );
        if let Some(error) = error {
            let j: serde_json::Value = serde_json::from_str(&r.stdout)?;
            ensure!(
                j["status"] == "refused" && j["error"] == error,
                "update lane: {label}: {j}"
            );
        } else {
            // Not a refusal but an error: with --json, the JSON error on stdout.
            let j: serde_json::Value = serde_json::from_str(&r.stdout).with_context(|| {
                format!(
                    "update lane: {label}: no JSON error: {}{}",
                    r.stdout, r.stderr
                )
            })?;
            ensure!(
                j["error"]["code"] == "network_error"
                    && j["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("cannot reach")),
                "update lane: {label}: {j}"
            );
        }
        ensure!(
            inst.snapshot()? == before,
            "update lane: {label}: the binary or receipt changed"
        );
        let left = list_dir(inst.bin.parent().context("dir")?);
        ensure!(left.len() == 2, "update lane: {label}: left {left:?}");
        eprintln!("  ok: update refused: {label} (exit {code}), binary and receipt untouched");
        Ok(())
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    ensure!(
        ctx.signed(),
        "the tree is unsigned: sign it first (packaging/scripts/sign-release.sh)"
    );
    let secret = std::env::var_os("OMUX_MINISIGN_SECRET_KEY_FILE")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .context(
            "the update lane signs newer test releases: set OMUX_MINISIGN_SECRET_KEY_FILE to \
             the secret half of the key this tree is signed with (just release-test does)",
        )?;
    let bash = require_tool("bash", "apt-get install bash")?;
    let lane = Lane {
        ctx,
        bash,
        good: serve_logged(ctx.dir.clone())?.url,
        secret: secret.clone(),
    };

    // The binary must trust the key the tree is signed with.
    let first = lane.install("key")?;
    let v = first.json(&["version", "--json"], &[], 0)?;
    ensure!(
        v["release_key_id"] == ctx.manifest.signing.key_id.as_str(),
        "the binaries trust key {}, the tree is signed with {}: build them with \
         OMUX_MINISIGN_PUBLIC_KEY_FILE set to the tree's public key (just release-test does)",
        v["release_key_id"],
        ctx.manifest.signing.key_id
    );

    // A newer release, rendered from stand-in binaries and signed with the same key.
    let newer_version = next_patch(&ctx.version)?;
    let newer = render_newer(ctx, &newer_version, &secret)?;
    let newer_url = serve_logged(newer.clone())?.url;
    let env = [("OMUX_RELEASE_BASE_URL", newer_url.as_str())];

    let j = first.json(&["update", "--check", "--json"], &env, 205)?;
    ensure!(
        j["status"] == "update_available" && j["available_version"] == newer_version.as_str(),
        "update --check: {j}"
    );
    let j = first.json(&["update", "--check", "--json"], &[], 0)?;
    ensure!(
        j["status"] == "up_to_date",
        "update --check (receipt base URL): {j}"
    );
    let r = first.run(&["version", "--check"], &env)?;
    ensure!(
        r.code == Some(205)
            && r.stdout.contains(&format!(
                "update available: {} -> {newer_version}",
                ctx.version
            )),
        "version --check: {:?} {}{}",
        r.code,
        r.stdout,
        r.stderr
    );
    eprintln!(
        "  ok: update --check / version --check: {newer_version} available (exit 205); against the installed release: up to date (exit 0)"
    );

    let before = first.snapshot()?;
    let j = first.json(&["update", "--json"], &env, 1)?;
    ensure!(
        j["status"] == "confirmation_required" && j["requires"] == "--yes",
        "update without --yes: {j}"
    );
    ensure!(
        first.snapshot()? == before,
        "update without --yes changed the install"
    );
    eprintln!("  ok: update without --yes (no terminal): confirmation required, nothing changed");

    let j = first.json(&["update", "--yes", "--json"], &env, 0)?;
    ensure!(j["status"] == "updated", "update --yes: {j}");
    let printed = run_ok(Command::new(&first.bin).arg("version"))?;
    ensure!(
        printed.trim() == format!("oauth-mux {newer_version}"),
        "after update: {printed}"
    );
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(&first.receipt)?)?;
    let host = ctx.host_target()?;
    let archive = format!("oauth-mux-{}.{}", host.triple, host.archive);
    let want = [
        ("version", newer_version.clone()),
        ("method", "update".to_string()),
        ("target", host.triple.clone()),
        ("archive", archive.clone()),
        ("sha256", crate::digest::sha256_file(&newer.join(&archive))?),
        ("binary_sha256", sha256_hex(&std::fs::read(&first.bin)?)),
        ("key_id", ctx.manifest.signing.key_id.clone()),
        ("base_url", newer_url.clone()),
        ("signature", "verified".to_string()),
    ];
    for (field, value) in want {
        ensure!(
            receipt[field] == value.as_str(),
            "receipt after update: {field} = {}, want {value}",
            receipt[field]
        );
    }
    let mut left = list_dir(first.bin.parent().context("dir")?);
    left.sort();
    ensure!(
        left == ["oauth-mux", "oauth-mux.receipt.json"],
        "after update the install dir holds {left:?}"
    );
    eprintln!(
        "  ok: update --yes: {} -> {newer_version}, receipt rewritten, no leftovers",
        ctx.version
    );

    refusals(&lane, &newer)?;
    rotation(&lane, &newer, &newer_version)?;
    managed(&lane, &newer_url)?;
    Ok(())
}

fn render_newer(ctx: &Ctx, version: &str, secret: &Path) -> Result<PathBuf> {
    let scratch = ctx.scratch_dir("update-newer")?;
    let bins = scratch.join("bins");
    write_stand_in_bins(&bins, version)?;
    let pubkey = scratch.join("release.pub");
    std::fs::write(
        &pubkey,
        format!(
            "untrusted comment: the tree's key\n{}\n",
            ctx.manifest.signing.public_key
        ),
    )?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("repo")?
        .to_path_buf();
    let out = scratch.join("tree").join(version);
    let host = ctx.host_target()?;
    crate::render::render(&crate::render::RenderInput {
        version: version.to_string(),
        native_bin: Some(bins.join(&host.triple).join(&host.exe)),
        bins,
        out: out.clone(),
        repo: repo.clone(),
        base_url_template: crate::templates::DEFAULT_BASE_URL.into(),
        pubkey,
        source_date_epoch: ctx.manifest.source_date_epoch,
        targets: ctx.targets.clone(),
    })?;
    run_ok(
        Command::new("sh")
            .arg(repo.join("packaging/scripts/sign-release.sh"))
            .arg(&out)
            .env("OMUX_MINISIGN_SECRET_KEY_FILE", secret)
            .env("OMUX_SIGN_TEST_KEY", "1")
            .env_remove("OMUX_MINISIGN_SECRET_KEY"),
    )?;
    Ok(out)
}

fn refusals(lane: &Lane, newer: &Path) -> Result<()> {
    let ctx = lane.ctx;
    let tree = |name: &str, tamper: &dyn Fn(&Path) -> Result<()>| -> Result<String> {
        let dir = ctx.scratch_dir(&format!("update-tree-{name}"))?;
        super::util::copy_tree(newer, &dir)?;
        tamper(&dir)?;
        Ok(serve_logged(dir)?.url)
    };
    let unsigned = tree("nosig", &|d| {
        Ok(std::fs::remove_file(d.join("SHA256SUMS.minisig"))?)
    })?;
    lane.expect_refused(
        "deleted signature",
        &unsigned,
        206,
        Some("signature_missing"),
    )?;

    let keys = ctx.scratch_dir("update-other-key")?;
    run_ok(
        Command::new(require_tool("minisign", "apt-get install minisign")?)
            .args(["-G", "-W", "-p"])
            .arg(keys.join("o.pub"))
            .arg("-s")
            .arg(keys.join("o.key")),
    )?;
    let comment = std::fs::read_to_string(newer.join("SHA256SUMS.minisig"))?
        .lines()
        .nth(2)
        .and_then(|l| l.strip_prefix("trusted comment: "))
        .context("no trusted comment")?
        .to_string();
    let foreign = tree("foreign", &|d| {
        lane.sign(&d.join("SHA256SUMS"), &keys.join("o.key"), &comment)
    })?;
    lane.expect_refused(
        "signature by another key",
        &foreign,
        206,
        Some("signature_wrong_key"),
    )?;

    let host = ctx.host_target()?;
    let archive = format!("oauth-mux-{}.{}", host.triple, host.archive);
    let tampered = tree("archive", &|d| flip_byte(&d.join(&archive)))?;
    lane.expect_refused(
        "tampered archive",
        &tampered,
        206,
        Some("checksum_mismatch"),
    )?;

    let replayed = tree("replayed", &|d| {
        lane.sign(
            &d.join("SHA256SUMS"),
            &lane.secret,
            &format!("file:SHA256SUMS\tversion:{}", ctx.version),
        )
    })?;
    lane.expect_refused(
        "trusted comment names another version",
        &replayed,
        206,
        Some("trusted_comment_wrong_version"),
    )?;
    lane.expect_refused("unreachable server", "http://127.0.0.1:9", 204, None)?;
    Ok(())
}

/// A release signed by a new key, with `minisign.pub` signed by the key the binary trusts.
fn rotation(lane: &Lane, newer: &Path, newer_version: &str) -> Result<()> {
    let ctx = lane.ctx;
    let keys = ctx.scratch_dir("update-next-key")?;
    run_ok(
        Command::new(require_tool("minisign", "apt-get install minisign")?)
            .args(["-G", "-W", "-p"])
            .arg(keys.join("next.pub"))
            .arg("-s")
            .arg(keys.join("next.key")),
    )?;
    let dir = ctx.scratch_dir("update-rotated")?;
    super::util::copy_tree(newer, &dir)?;
    std::fs::copy(keys.join("next.pub"), dir.join("minisign.pub"))?;
    lane.sign(
        &dir.join("minisign.pub"),
        &lane.secret,
        "file:minisign.pub\tkey-rotation",
    )?;
    lane.sign(
        &dir.join("SHA256SUMS"),
        &keys.join("next.key"),
        &format!("file:SHA256SUMS\tversion:{newer_version}"),
    )?;
    let url = serve_logged(dir)?.url;
    let inst = lane.install("rotation")?;
    let j = inst.json(
        &["update", "--yes", "--json"],
        &[("OMUX_RELEASE_BASE_URL", &url)],
        0,
    )?;
    ensure!(
        j["status"] == "updated"
            && j["release"]["rotated_from"] == ctx.manifest.signing.key_id.as_str(),
        "rotation: {j}"
    );
    eprintln!(
        "  ok: a release signed by a new key, vouched for by the trusted key {}: updated",
        ctx.manifest.signing.key_id
    );
    Ok(())
}

/// Receipts that name a package manager: its command, no replacement, no download.
fn managed(lane: &Lane, newer_url: &str) -> Result<()> {
    for (method, command) in [
        ("homebrew", "brew upgrade oauth-mux"),
        ("npm", "npm install -g oauth-mux@latest"),
        ("deb", "sudo apt-get install --only-upgrade oauth-mux"),
    ] {
        let inst = lane.install(&format!("managed-{method}"))?;
        let mut receipt: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&inst.receipt)?)?;
        receipt["method"] = method.into();
        std::fs::write(&inst.receipt, serde_json::to_vec_pretty(&receipt)?)?;
        let before = inst.snapshot()?;
        let r = inst.run(
            &["update", "--yes"],
            &[("OMUX_RELEASE_BASE_URL", newer_url)],
        )?;
        ensure!(
            r.code == Some(207) && r.stdout.contains(command),
            "receipt method {method}: exit {:?}:\n{}{}",
            r.code,
            r.stdout,
            r.stderr
        );
        ensure!(
            inst.snapshot()? == before,
            "receipt method {method}: the install changed"
        );
        eprintln!("  ok: receipt says {method}: not replaced (exit 207), prints `{command}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_patch;

    #[test]
    fn the_newer_version_is_the_next_patch() {
        assert_eq!(next_patch("0.3.0").unwrap(), "0.3.1");
        assert_eq!(next_patch("9.9.9-test.1").unwrap(), "9.9.10");
        assert!(next_patch("1.2").is_err());
    }
}
