//! Running install.sh the way users do (`curl -fsSL …/install.sh | sh` from a loopback HTTP
//! server, or `sh install.sh --archive … --sums …`) in a scratch HOME with a restricted PATH,
//! and checking the outcome: installed (binary runs, receipt right, nothing left over) or
//! refused (the message, nothing installed, no temp files). The cases are in
//! `install_sh_cases.rs`; the update lane installs its starting point through here too.

use super::Ctx;
use super::http::serve;
use super::util::{copy_tree, list_dir, require_tool, run_ok, which};
use crate::digest::sha256_hex;
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tools a restricted PATH gets (install.sh's needs, minus whatever a case removes).
const BASE_TOOLS: &[&str] = &[
    "sh", "cat", "cp", "mv", "rm", "mkdir", "mktemp", "rmdir", "chmod", "tar", "gzip", "uname",
    "sed", "awk", "grep", "tr", "cut", "wc", "dd", "od", "date", "basename", "dirname", "head",
    "tail", "env", "getconf", "ldd", "unzip", "sleep",
];
/// Tools a case may take away.
const OPTIONAL_TOOLS: &[&str] = &["curl", "wget", "openssl", "minisign", "sha256sum", "shasum"];

/// One run of install.sh.
pub struct Case<'a> {
    pub shell: &'a Path,
    pub label: String,
    /// Base URL of the server holding `install.sh` (`curl | sh`); `None` runs the tree's
    /// install.sh as a file (offline flags).
    pub url: Option<String>,
    /// Extra environment (`OMUX_…`, or a stray `VERSION`).
    pub env: Vec<(String, String)>,
    /// Tools removed from PATH.
    pub path_without: &'a [&'a str],
    pub args: Vec<String>,
}

impl<'a> Case<'a> {
    /// `curl -fsSL URL/install.sh | SHELL -s --` with the release files at `url`.
    pub fn piped(shell: &'a Path, label: impl Into<String>, url: &str) -> Case<'a> {
        Case {
            shell,
            label: label.into(),
            url: Some(url.to_string()),
            env: vec![("OMUX_RELEASE_BASE_URL".into(), url.to_string())],
            path_without: &[],
            args: Vec::new(),
        }
    }

    /// Add an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Case<'a> {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Take tools off PATH.
    pub fn without(mut self, tools: &'a [&'a str]) -> Case<'a> {
        self.path_without = tools;
        self
    }

    /// Pass arguments to install.sh.
    pub fn args(mut self, args: &[&str]) -> Case<'a> {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }
}

/// What a run left behind.
pub struct Outcome {
    pub out: Output,
    pub install_dir: PathBuf,
    pub tmp: PathBuf,
}

impl Outcome {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
}

fn restricted_path(ctx: &Ctx, label: &str, without: &[&str]) -> Result<String> {
    let dir = ctx.scratch_dir(&format!("path-{label}"))?;
    for name in BASE_TOOLS.iter().chain(OPTIONAL_TOOLS) {
        if without.contains(name) {
            continue;
        }
        if let Some(real) = which(name) {
            std::os::unix::fs::symlink(real, dir.join(name))?;
        }
    }
    Ok(dir.display().to_string())
}

/// Run one case in a fresh scratch HOME and TMPDIR.
pub fn run_case(ctx: &Ctx, case: &Case) -> Result<Outcome> {
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
        .env("PATH", path);
    // Never the real release host: without a base URL of its own, a case gets one that
    // cannot be fetched.
    cmd.env(
        "OMUX_RELEASE_BASE_URL",
        "http://127.0.0.1:9/offline-must-not-download",
    );
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let out = cmd.output().context("run install.sh")?;
    Ok(Outcome {
        out,
        install_dir,
        tmp,
    })
}

/// The binary is installed, runs, and the receipt describes it; nothing else is left.
/// `signature` is what the receipt must say (`verified` or `skipped`); `base_url` the
/// directory it must name.
pub fn expect_installed(
    ctx: &Ctx,
    o: &Outcome,
    label: &str,
    signature: &str,
    base_url: &str,
) -> Result<()> {
    ensure!(
        o.out.status.success(),
        "{label}: install.sh failed ({}):\n{}",
        o.out.status,
        o.stderr()
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
    let want = [
        ("version", ctx.version.clone()),
        ("method", "install.sh".into()),
        ("target", host.triple.clone()),
        ("sha256", archive.sha256.clone()),
        ("binary_sha256", sha256_hex(&std::fs::read(&bin)?)),
        ("signature", signature.into()),
        ("key_id", ctx.manifest.signing.key_id.clone()),
        ("base_url", base_url.into()),
        ("install_dir", o.install_dir.display().to_string()),
    ];
    for (field, value) in want {
        ensure!(
            receipt[field] == value.as_str(),
            "{label}: receipt {field} is {}, want {value:?}",
            receipt[field]
        );
    }
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
        "  ok: {label}: installed, `oauth-mux version` = oauth-mux {}, receipt right (signature {signature})",
        ctx.version
    );
    Ok(())
}

/// install.sh failed with `message`, installed nothing and left no temp files.
pub fn expect_refused(o: &Outcome, label: &str, message: &str) -> Result<()> {
    ensure!(
        !o.out.status.success(),
        "{label}: install.sh succeeded but must refuse:\n{}",
        o.stderr()
    );
    expect_nothing_installed(o, label)?;
    ensure!(
        o.stderr().contains(message),
        "{label}: refusal message lacks {message:?}:\n{}",
        o.stderr()
    );
    eprintln!("  ok: {label}: refused ({message}), nothing installed");
    Ok(())
}

/// Nothing in the install dir, nothing in TMPDIR.
pub fn expect_nothing_installed(o: &Outcome, label: &str) -> Result<()> {
    let left = list_dir(&o.install_dir);
    ensure!(left.is_empty(), "{label}: left {left:?} in the install dir");
    ensure!(
        list_dir(&o.tmp).is_empty(),
        "{label}: left temporary files {:?}",
        list_dir(&o.tmp)
    );
    Ok(())
}

/// A copy of the tree, changed by `tamper`.
pub fn tampered_copy(
    ctx: &Ctx,
    name: &str,
    tamper: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let dir = ctx.scratch_dir(&format!("tree-{name}"))?;
    copy_tree(&ctx.dir, &dir)?;
    tamper(&dir)?;
    Ok(dir)
}

/// A copy of the tree served on its own port, after `tamper` changed it.
pub fn tampered_tree(
    ctx: &Ctx,
    name: &str,
    tamper: impl FnOnce(&Path) -> Result<()>,
) -> Result<String> {
    serve(tampered_copy(ctx, name, tamper)?)
}

/// Flip one byte in the middle of a file.
pub fn flip_byte(path: &Path) -> Result<()> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes)?;
    Ok(())
}
