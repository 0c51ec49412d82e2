//! `oauth-mux-packaging`: renders and proves the oauth-mux release tree.
//!
//! ```text
//! oauth-mux-packaging render --version V --bins DIR --out dist/V
//! oauth-mux-packaging proof  --version V --dir dist/V
//! oauth-mux-packaging targets            # the triples, one a line (for scripts)
//! oauth-mux-packaging inspect FILE       # machine, static/minos/imports of a binary
//! oauth-mux-packaging check-binary [--forbid DIR]... FILE...   # no build paths, intact signature
//! ```

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use oauth_mux_packaging::{
    binfmt, build_paths, macho_normalize, proof, render, targets, templates,
};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "oauth-mux-packaging",
    about = "Render and prove the oauth-mux release tree."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Render dist/<version>/ from a directory of built binaries (<bins>/<triple>/oauth-mux[.exe]).
    Render {
        /// Release version; must equal what `oauth-mux version` prints.
        #[arg(long)]
        version: String,
        /// Directory of built binaries, one subdirectory per triple.
        #[arg(long)]
        bins: PathBuf,
        /// Output directory (replaced as a whole).
        #[arg(long)]
        out: PathBuf,
        /// Repository root holding LICENSE, README.md and packaging/.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Release download URL; `{version}` is replaced.
        #[arg(long, env = "OMUX_RELEASE_URL_TEMPLATE", default_value = templates::DEFAULT_BASE_URL)]
        base_url: String,
        /// minisign public key embedded in install.sh (default: <repo>/packaging/minisign.pub).
        #[arg(long, env = "OMUX_MINISIGN_PUBLIC_KEY_FILE")]
        pubkey: Option<PathBuf>,
        /// A binary that runs on this machine, used for completions (default: from --bins).
        #[arg(long)]
        native_bin: Option<PathBuf>,
        /// mtime of every file (default: $SOURCE_DATE_EPOCH).
        #[arg(long, env = "SOURCE_DATE_EPOCH")]
        source_date_epoch: u64,
    },
    /// Prove every install lane of a rendered tree on this machine.
    Proof {
        /// Release version.
        #[arg(long)]
        version: String,
        /// The rendered tree (dist/<version>).
        #[arg(long)]
        dir: PathBuf,
        /// Lanes to run (default: all). Repeatable.
        #[arg(long = "lane")]
        lanes: Vec<String>,
    },
    /// Write a Mach-O binary with a content-derived UUID (what `render` does to macOS binaries).
    NormalizeMacho {
        /// The binary.
        input: PathBuf,
        /// Where to write the result.
        output: PathBuf,
    },
    /// Print the target triples from packaging/targets.json, one a line.
    Targets,
    /// Print what a binary declares (ELF: static/arch; Mach-O: minos, dylibs; PE: imports).
    Inspect {
        /// The binary.
        file: PathBuf,
    },
    /// Fail when a binary holds a path of this machine (checkout, $HOME, /tmp, cargo home,
    /// rustup, zig caches, /nix/store), or when a Mach-O binary's code signature no longer
    /// matches its bytes.
    CheckBinary {
        /// More directories that must not appear (e.g. another checkout).
        #[arg(long = "forbid")]
        forbid: Vec<PathBuf>,
        /// The binaries.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("oauth-mux-packaging: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Cmd::Render {
            version,
            bins,
            out,
            repo,
            base_url,
            pubkey,
            native_bin,
            source_date_epoch,
        } => {
            let pubkey = pubkey.unwrap_or_else(|| repo.join("packaging/minisign.pub"));
            let targets = targets::load_targets(&repo.join("packaging/targets.json"))?;
            render::render(&render::RenderInput {
                version,
                bins,
                out,
                repo,
                base_url_template: base_url,
                pubkey,
                native_bin,
                source_date_epoch,
                targets,
            })?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Proof {
            version,
            dir,
            lanes,
        } => {
            let report = proof::run(&proof::ProofInput {
                version,
                dir,
                lanes,
            })?;
            Ok(if report.failed == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }
        Cmd::NormalizeMacho { input, output } => {
            let bytes =
                std::fs::read(&input).with_context(|| format!("read {}", input.display()))?;
            std::fs::write(&output, macho_normalize::normalize(&bytes)?)?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Targets => {
            for t in targets::builtin_targets() {
                println!("{}", t.triple);
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::CheckBinary { forbid, files } => {
            let forbidden = build_paths::forbidden_paths(&forbid);
            for file in &files {
                build_paths::check_file(file, &forbidden)?;
                let bytes = std::fs::read(file)?;
                if binfmt::macho_facts(&bytes).is_ok() {
                    anyhow::ensure!(
                        macho_normalize::signature_matches(&bytes)?,
                        "{}: the ad-hoc code signature does not match the file (was it rewritten \
                         after linking, e.g. by a store-path scrubber?)",
                        file.display()
                    );
                }
                println!(
                    "check-binary: {}: no build paths ({} checked){}",
                    file.display(),
                    forbidden.len(),
                    if binfmt::macho_facts(&bytes).is_ok() {
                        ", code signature intact"
                    } else {
                        ""
                    }
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Cmd::Inspect { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let text = if let Ok(f) = binfmt::elf_facts(&bytes) {
                format!("ELF {} static={}", f.arch, f.is_static)
            } else if let Ok(f) = binfmt::macho_facts(&bytes) {
                format!(
                    "Mach-O {} minos={} dylibs={}",
                    f.arch,
                    f.min_os.unwrap_or_else(|| "none".into()),
                    f.dylibs.join(",")
                )
            } else {
                let f = binfmt::pe_facts(&bytes)?;
                format!("PE {} imports={}", f.arch, f.imports.join(","))
            };
            println!("{text}");
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
