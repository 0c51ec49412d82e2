//! `proof`: install every lane of a rendered release tree for real on this machine, and check
//! what the binaries declare. Each lane reports what it checked; a failure names what is wrong
//! or which tool is missing. Ends with the line `N passed, N failed`.

mod binaries;
mod http;
mod install_sh;
mod install_sh_cases;
mod npm;
mod system_packages;
mod tree;
pub mod update;
mod util;

use crate::digest::parse_sums;
use crate::manifest::Manifest;
use crate::targets::{Target, builtin_targets};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// What to prove.
pub struct ProofInput {
    /// Release version.
    pub version: String,
    /// Rendered tree.
    pub dir: PathBuf,
    /// Lanes to run; empty = all.
    pub lanes: Vec<String>,
}

/// Outcome counts.
pub struct Report {
    /// Lanes that passed.
    pub passed: usize,
    /// Lanes that failed.
    pub failed: usize,
}

/// Shared facts for the lanes.
pub struct Ctx {
    /// Release version.
    pub version: String,
    /// Rendered tree.
    pub dir: PathBuf,
    /// The target list.
    pub targets: Vec<Target>,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// SHA256SUMS entries.
    pub sums: Vec<(String, String)>,
    /// Scratch directory for this proof run (removed at the end).
    pub scratch: PathBuf,
    /// Parts of lanes that could not run here, and why (reported, never silent).
    pub skipped: std::cell::RefCell<Vec<String>>,
}

impl Ctx {
    /// A fresh scratch subdirectory.
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let d = self.scratch.join(name);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
        Ok(d)
    }

    /// The target this machine runs natively (same OS and CPU).
    pub fn host_target(&self) -> Result<&Target> {
        crate::targets::host_target(&self.targets, std::env::consts::OS, std::env::consts::ARCH)
    }

    /// Record a part of `lane` that cannot run on this machine (printed now and in the summary).
    pub fn skip(&self, lane: &str, why: &str) {
        eprintln!("  skipped: {why}");
        self.skipped.borrow_mut().push(format!("{lane}: {why}"));
    }

    /// True when the tree carries a signature.
    pub fn signed(&self) -> bool {
        self.dir.join("SHA256SUMS.minisig").exists()
    }
}

type Lane = fn(&Ctx) -> Result<()>;

/// Every lane, in run order.
pub const LANES: [(&str, Lane); 8] = [
    ("tree", tree::run),
    ("binaries", binaries::run),
    ("install-sh", install_sh_cases::run),
    ("update", update::run),
    ("npm", npm::run),
    ("deb-rpm-apk", system_packages::run),
    ("homebrew", system_packages::run_formula),
    ("determinism-inputs", tree::run_no_local_paths),
];

/// Run the selected lanes and print a summary.
pub fn run(input: &ProofInput) -> Result<Report> {
    let dir = std::fs::canonicalize(&input.dir).with_context(|| {
        format!(
            "release tree {} not found (run `just release-local {}`)",
            input.dir.display(),
            input.version
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join("dist-manifest.json")).context("read dist-manifest.json")?,
    )
    .context("parse dist-manifest.json")?;
    let sums =
        parse_sums(&std::fs::read_to_string(dir.join("SHA256SUMS")).context("read SHA256SUMS")?)?;
    let scratch = std::env::temp_dir().join(format!("oauth-mux-proof-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let ctx = Ctx {
        version: input.version.clone(),
        dir,
        targets: builtin_targets(),
        manifest,
        sums,
        scratch,
        skipped: Default::default(),
    };
    for lane in &input.lanes {
        if !LANES.iter().any(|(name, _)| name == lane) {
            anyhow::bail!(
                "unknown lane {lane}; lanes: {}",
                LANES.map(|l| l.0).join(", ")
            );
        }
    }
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for (name, lane) in LANES {
        if !input.lanes.is_empty() && !input.lanes.iter().any(|l| l == name) {
            continue;
        }
        eprintln!("proof: == {name}");
        let started = std::time::Instant::now();
        match lane(&ctx) {
            Ok(()) => {
                passed += 1;
                eprintln!(
                    "proof: PASS {name} ({:.1}s)",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(err) => {
                failed += 1;
                eprintln!("proof: FAIL {name}: {err:#}");
                failures.push(format!("{name}: {err:#}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&ctx.scratch);
    if !failures.is_empty() {
        eprintln!("proof: failures:\n  {}", failures.join("\n  "));
    }
    let skipped = ctx.skipped.borrow();
    if skipped.is_empty() {
        println!("release-proof: {passed} passed, {failed} failed");
    } else {
        println!(
            "release-proof: {passed} passed, {failed} failed; skipped (needs root): {}",
            skipped.join("; ")
        );
    }
    Ok(Report { passed, failed })
}
