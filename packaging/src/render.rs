//! `render`: a directory of built binaries in, the complete release tree out.
//!
//! Order matters because later files embed the checksums of earlier ones: archives and npm
//! packages, then .deb/.rpm/.apk, then the formula and install.sh (rendered from the
//! manifest), then `dist-manifest.json`, `SHA256SUMS` and the handoff README. The tree is
//! rendered unsigned: `packaging/scripts/sign-release.sh` signs it in a step of its own.

use crate::archive::{Entry, tar_gz, zip};
use crate::digest::{render_sums, sha256_hex};
use crate::manifest::{Artifact, Kind, Manifest, RECEIPT_FILE, Signing, trusted_comment};
use crate::targets::Target;
use crate::{nfpm, npm, release_key, templates};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything `render` needs.
pub struct RenderInput {
    /// Release version (must equal what the binary prints).
    pub version: String,
    /// Directory holding `<triple>/oauth-mux[.exe]` for every target.
    pub bins: PathBuf,
    /// Output directory, e.g. `dist/<version>`; replaced as a whole.
    pub out: PathBuf,
    /// Repository root (LICENSE, README.md, packaging/minisign.pub).
    pub repo: PathBuf,
    /// Release URL with `{version}`.
    pub base_url_template: String,
    /// minisign public key file.
    pub pubkey: PathBuf,
    /// Binary of this machine's target, run to generate completions and check the version.
    pub native_bin: Option<PathBuf>,
    /// Timestamp for every mtime.
    pub source_date_epoch: u64,
    /// The ordered target list.
    pub targets: Vec<Target>,
}

/// Completion scripts: (shell, file name in the archive).
pub const COMPLETIONS: [(&str, &str); 5] = [
    ("bash", "oauth-mux.bash"),
    ("zsh", "_oauth-mux"),
    ("fish", "oauth-mux.fish"),
    ("powershell", "_oauth-mux.ps1"),
    ("elvish", "oauth-mux.elv"),
];

fn progress(step: usize, total: usize, what: &str) {
    eprintln!("render: [{step}/{total}] {what}");
}

fn run_native(bin: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .with_context(|| format!("run {} {}", bin.display(), args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} {} failed: {}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("write {}", path.display()))
}

/// Describe a file already written to `dir` as a manifest artifact.
fn artifact(
    dir: &Path,
    name: &str,
    kind: Kind,
    target: Option<&str>,
    base_url: &str,
) -> Result<Artifact> {
    let bytes = std::fs::read(dir.join(name))
        .with_context(|| format!("read {}", dir.join(name).display()))?;
    Ok(Artifact {
        name: name.to_string(),
        kind,
        target: target.map(str::to_string),
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        url: format!("{base_url}/{name}"),
    })
}

/// Render the whole tree. Returns the manifest.
pub fn render(input: &RenderInput) -> Result<Manifest> {
    const STEPS: usize = 7;
    let v = &input.version;
    let epoch = input.source_date_epoch;
    let base_url = input.base_url_template.replace("{version}", v);

    progress(1, STEPS, "checking the built binaries");
    let mut binaries = Vec::new();
    let mut missing = Vec::new();
    for t in &input.targets {
        let path = input.bins.join(&t.triple).join(&t.exe);
        match std::fs::read(&path) {
            // zig's Mach-O UUID depends on the build path; make it content-derived.
            // (Anything that is not Mach-O is left for the proof's binaries lane to reject.)
            Ok(bytes) if t.os == "macos" && bytes.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) => {
                binaries.push(
                    crate::macho_normalize::normalize(&bytes)
                        .with_context(|| format!("normalize {}", path.display()))?,
                )
            }
            Ok(bytes) => binaries.push(bytes),
            Err(_) => {
                missing.push(format!(
                    "{} (build it: packaging/scripts/build-target.sh {} {})",
                    path.display(),
                    t.triple,
                    input.bins.display()
                ));
                binaries.push(Vec::new());
            }
        }
    }
    if !missing.is_empty() {
        bail!("missing binaries:\n  {}", missing.join("\n  "));
    }
    let native = match &input.native_bin {
        Some(p) => p.clone(),
        None => {
            let host = crate::targets::host_target(
                &input.targets,
                std::env::consts::OS,
                std::env::consts::ARCH,
            )
            .context("pass --native-bin (a binary that runs here generates the completions)")?;
            let path = input.bins.join(&host.triple).join(&host.exe);
            if !path.exists() {
                bail!(
                    "no binary for this machine at {}; build it, or pass --native-bin (used to generate completions)",
                    path.display()
                );
            }
            path
        }
    };
    let printed = String::from_utf8_lossy(&run_native(&native, &["version"])?)
        .trim()
        .to_string();
    if printed != format!("oauth-mux {v}") {
        bail!(
            "{} prints {printed:?}, but the release version is {v}: set the version in Cargo.toml or pass --version {}",
            native.display(),
            printed.trim_start_matches("oauth-mux ")
        );
    }
    let mut completions = Vec::new();
    for (shell, file) in COMPLETIONS {
        completions.push((file, run_native(&native, &["completions", shell])?));
    }

    let read_repo = |name: &str| {
        std::fs::read(input.repo.join(name))
            .with_context(|| format!("read {}", input.repo.join(name).display()))
    };
    let license = read_repo("LICENSE")?;
    let readme = read_repo("README.md")?;
    let pub_text = std::fs::read_to_string(&input.pubkey)
        .with_context(|| format!("read minisign public key {}", input.pubkey.display()))?;
    let public_key = release_key::public_key_line(&pub_text)?;

    // Render into a sibling temp dir, then swap it in: a failed render leaves no half tree.
    let parent = input
        .out
        .parent()
        .context("--out needs a parent directory")?;
    std::fs::create_dir_all(parent)?;
    let dir_name = input
        .out
        .file_name()
        .context("--out needs a name")?
        .to_string_lossy()
        .to_string();
    let tmp = parent.join(format!(".{dir_name}.rendering"));
    let work = parent.join(format!(".{dir_name}.work"));
    for d in [&tmp, &work] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
        std::fs::create_dir_all(d)?;
    }
    let mut manifest = Manifest {
        schema_version: 1,
        name: "oauth-mux".into(),
        version: v.clone(),
        tag: format!("v{v}"),
        source_date_epoch: epoch,
        base_url: base_url.clone(),
        install_receipt: RECEIPT_FILE.into(),
        signing: Signing {
            scheme: "minisign".into(),
            key_id: release_key::key_id(&public_key)?,
            public_key: public_key.clone(),
            file: "SHA256SUMS.minisig".into(),
            trusted_comment: trusted_comment(v),
        },
        artifacts: Vec::new(),
    };

    progress(2, STEPS, "archives (tar.gz / zip)");
    for (t, bin) in input.targets.iter().zip(&binaries) {
        let top = t.archive_dir();
        let mut entries = vec![
            Entry::executable(format!("{top}/{}", t.exe), bin.clone()),
            Entry::file(format!("{top}/LICENSE"), license.clone()),
            Entry::file(format!("{top}/README.md"), readme.clone()),
        ];
        for (file, text) in &completions {
            entries.push(Entry::file(
                format!("{top}/completions/{file}"),
                text.clone(),
            ));
        }
        let bytes = if t.archive == "zip" {
            zip(&entries, epoch)?
        } else {
            tar_gz(&entries, epoch)?
        };
        write(&tmp, &t.archive_name(), &bytes)?;
        manifest.artifacts.push(artifact(
            &tmp,
            &t.archive_name(),
            Kind::Archive,
            Some(&t.triple),
            &base_url,
        )?);
    }

    progress(3, STEPS, "npm packages");
    let docs = npm::Docs {
        license: &license,
        readme: &readme,
    };
    let mut hashed = Vec::new();
    for (t, bin) in input.targets.iter().zip(&binaries) {
        let (name, bytes) = npm::platform_package(t, v, bin, &docs, epoch)?;
        write(&tmp, &name, &bytes)?;
        manifest.artifacts.push(artifact(
            &tmp,
            &name,
            Kind::NpmPlatform,
            Some(&t.triple),
            &base_url,
        )?);
        hashed.push((t.clone(), npm::binary_hash(bin)));
    }
    let launcher = templates::launcher(&manifest, &input.targets)?;
    let (name, bytes) = npm::root_package(&hashed, v, &launcher, &docs, epoch)?;
    write(&tmp, &name, &bytes)?;
    manifest
        .artifacts
        .push(artifact(&tmp, &name, Kind::NpmRoot, None, &base_url)?);

    progress(4, STEPS, "deb / rpm / apk (nfpm)");
    for (t, bin) in input.targets.iter().zip(&binaries) {
        if !t.has_linux_packages() {
            continue;
        }
        let stage = work.join(&t.triple);
        std::fs::create_dir_all(&stage)?;
        let staged = nfpm::Staged {
            binary: stage.join("oauth-mux"),
            license: stage.join("LICENSE"),
            bash: stage.join("oauth-mux.bash"),
            zsh: stage.join("_oauth-mux"),
            fish: stage.join("oauth-mux.fish"),
        };
        std::fs::write(&staged.binary, bin)?;
        std::fs::write(&staged.license, &license)?;
        for (file, text) in &completions {
            std::fs::write(stage.join(file), text)?;
        }
        for name in nfpm::build(t, v, &staged, &work, &tmp, epoch)? {
            let kind = if name.ends_with(".deb") {
                Kind::Deb
            } else if name.ends_with(".rpm") {
                Kind::Rpm
            } else {
                Kind::Apk
            };
            manifest
                .artifacts
                .push(artifact(&tmp, &name, kind, Some(&t.triple), &base_url)?);
        }
    }

    progress(5, STEPS, "Homebrew formula and install.sh");
    let formula = templates::formula(&manifest, &input.targets)?;
    write(&tmp, "oauth-mux.rb", formula.as_bytes())?;
    let install = templates::install_sh(&manifest, &input.targets, &input.base_url_template)?;
    write(&tmp, "install.sh", install.as_bytes())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            tmp.join("install.sh"),
            std::fs::Permissions::from_mode(0o755),
        )?;
    }
    manifest.artifacts.push(artifact(
        &tmp,
        "oauth-mux.rb",
        Kind::HomebrewFormula,
        None,
        &base_url,
    )?);
    manifest.artifacts.push(artifact(
        &tmp,
        "install.sh",
        Kind::InstallerSh,
        None,
        &base_url,
    )?);

    progress(6, STEPS, "dist-manifest.json and SHA256SUMS");
    let mut json = serde_json::to_string_pretty(&manifest)?;
    json.push('\n');
    std::fs::write(tmp.join("dist-manifest.json"), &json)?;
    let mut sums: Vec<(String, String)> = manifest
        .artifacts
        .iter()
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    sums.push(("dist-manifest.json".into(), sha256_hex(json.as_bytes())));
    sums.sort();
    std::fs::write(tmp.join("SHA256SUMS"), render_sums(&sums))?;

    progress(7, STEPS, "handoff/README.md");
    std::fs::create_dir_all(tmp.join("handoff"))?;
    std::fs::write(
        tmp.join("handoff/README.md"),
        templates::handoff(&manifest, &sums),
    )?;

    std::fs::remove_dir_all(&work)?;
    if input.out.exists() {
        std::fs::remove_dir_all(&input.out)
            .with_context(|| format!("remove the old {}", input.out.display()))?;
    }
    std::fs::rename(&tmp, &input.out)?;
    eprintln!(
        "render: {} files in {} (unsigned: sign it with packaging/scripts/sign-release.sh)",
        sums.len() + 1,
        input.out.display()
    );
    Ok(manifest)
}
