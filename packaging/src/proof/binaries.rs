//! The binaries lane: each archive holds the expected files; Linux binaries are static and
//! run (natively, aarch64 under qemu-aarch64-static); macOS binaries declare minos 11.0 and
//! link only system libraries; Windows binaries import only system DLLs; size budget.

use super::Ctx;
use super::util::{require_tool, tar_gz_member, tar_gz_members};
use crate::binfmt::{elf_facts, is_system_dll, is_system_dylib, macho_facts, pe_facts};
use crate::render::COMPLETIONS;
use crate::targets::Target;
use anyhow::{Context, Result, bail, ensure};
use std::io::Read;
use std::process::Command;

/// Size budget per stripped binary.
pub const MAX_BINARY_BYTES: u64 = 6 * 1024 * 1024;

/// Read one member (relative to the archive's top directory) of a target's archive.
pub fn member(archive: &[u8], t: &Target, name: &str) -> Result<Vec<u8>> {
    let path = format!("{}/{name}", t.archive_dir());
    if t.archive == "zip" {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(archive))?;
        let mut f = z
            .by_name(&path)
            .with_context(|| format!("{path} is not in the zip"))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)?;
        Ok(out)
    } else {
        tar_gz_member(archive, &path)
    }
}

fn members(archive: &[u8], t: &Target) -> Result<Vec<(String, u32)>> {
    if t.archive == "zip" {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(archive))?;
        let mut out = Vec::new();
        for i in 0..z.len() {
            let f = z.by_index(i)?;
            out.push((f.name()?.to_string(), f.unix_mode().unwrap_or(0)));
        }
        Ok(out)
    } else {
        tar_gz_members(archive)
    }
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let mut sizes = Vec::new();
    for t in &ctx.targets {
        let a = ctx.manifest.archive_for(&t.triple).context("no archive")?;
        let bytes = std::fs::read(ctx.dir.join(&a.name))?;
        let top = t.archive_dir();
        let names = members(&bytes, t)?;
        let mut want = vec![
            format!("{top}/{}", t.exe),
            format!("{top}/LICENSE"),
            format!("{top}/README.md"),
        ];
        want.extend(
            COMPLETIONS
                .iter()
                .map(|(_, f)| format!("{top}/completions/{f}")),
        );
        for w in &want {
            ensure!(names.iter().any(|(n, _)| n == w), "{}: missing {w}", a.name);
        }
        let mode = names
            .iter()
            .find(|(n, _)| n == &want[0])
            .map(|m| m.1 & 0o777);
        ensure!(
            mode == Some(0o755),
            "{}: binary mode is {mode:?}, want 0o755",
            a.name
        );
        let bin = member(&bytes, t, &t.exe)?;
        let size = bin.len() as u64;
        ensure!(
            size <= MAX_BINARY_BYTES,
            "{}: binary is {size} bytes, over the 6 MiB budget",
            t.triple
        );
        sizes.push(format!("{} {:.2} MiB", t.triple, size as f64 / 1048576.0));
        match t.os.as_str() {
            "linux" => {
                let f = elf_facts(&bin)?;
                ensure!(f.arch == t.arch, "{}: ELF machine is {}", t.triple, f.arch);
                ensure!(
                    f.is_static,
                    "{}: binary has a program interpreter (not static)",
                    t.triple
                );
                let path = ctx
                    .scratch_dir(&format!("bin-{}", t.triple))?
                    .join("oauth-mux");
                std::fs::write(&path, &bin)?;
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )?;
                let mut cmd = if t.arch == std::env::consts::ARCH {
                    Command::new(&path)
                } else if t.arch == "aarch64" {
                    let mut c = Command::new(require_tool(
                        "qemu-aarch64-static",
                        "apt-get install qemu-user-static",
                    )?);
                    c.arg(&path);
                    c
                } else {
                    bail!("no way to run {} here", t.triple)
                };
                let out = cmd.arg("version").output()?;
                let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
                ensure!(
                    printed == format!("oauth-mux {}", ctx.version),
                    "{}: `version` printed {printed:?} ({})",
                    t.triple,
                    out.status
                );
                eprintln!("  ok: {} static ELF runs `version` -> {printed}", t.triple);
            }
            "macos" => {
                let f = macho_facts(&bin)?;
                ensure!(f.arch == t.arch, "{}: Mach-O cpu is {}", t.triple, f.arch);
                ensure!(
                    f.min_os.as_deref() == Some("11.0.0"),
                    "{}: minimum macOS is {:?}, want 11.0 (MACOSX_DEPLOYMENT_TARGET)",
                    t.triple,
                    f.min_os
                );
                ensure!(
                    crate::macho_normalize::signature_matches(&bin)?,
                    "{}: ad-hoc code signature page hashes do not match the file",
                    t.triple
                );
                let foreign: Vec<_> = f.dylibs.iter().filter(|d| !is_system_dylib(d)).collect();
                ensure!(
                    foreign.is_empty(),
                    "{}: links non-system libraries {foreign:?}",
                    t.triple
                );
                eprintln!(
                    "  ok: {} Mach-O minos 11.0, links {}",
                    t.triple,
                    f.dylibs.join(", ")
                );
            }
            "windows" => {
                let f = pe_facts(&bin)?;
                ensure!(f.arch == t.arch, "{}: PE machine is {}", t.triple, f.arch);
                let foreign: Vec<_> = f.imports.iter().filter(|d| !is_system_dll(d)).collect();
                ensure!(
                    foreign.is_empty(),
                    "{}: imports non-system DLLs {foreign:?}",
                    t.triple
                );
                ensure!(
                    !f.imports.is_empty(),
                    "{}: no imports found (parser problem?)",
                    t.triple
                );
                eprintln!(
                    "  ok: {} PE imports only system DLLs ({})",
                    t.triple,
                    f.imports.join(", ")
                );
            }
            other => bail!("unknown os {other}"),
        }
    }
    eprintln!("  sizes: {}", sizes.join("; "));
    Ok(())
}
