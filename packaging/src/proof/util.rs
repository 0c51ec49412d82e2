//! Small helpers shared by the proof lanes.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Find a program on PATH, or fail naming what provides it.
pub fn require_tool(name: &str, provided_by: &str) -> Result<PathBuf> {
    which(name).with_context(|| {
        format!("`{name}` not found on PATH: {provided_by} (run .ci/deps/30-release.sh)")
    })
}

/// Find a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Run a command, returning its output; fails only if it could not start.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("start {:?}", cmd.get_program()))
}

/// Run a command and require exit 0; returns stdout.
pub fn run_ok(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} exited with {}: {}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Copy a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Names of the entries of a directory (empty if it does not exist).
pub fn list_dir(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Read one file out of a .tar.gz held in memory.
pub fn tar_gz_member(bytes: &[u8], path: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
    archive.set_ignore_zeros(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == path {
            let mut out = Vec::new();
            entry.read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    bail!("{path} is not in the archive")
}

/// Every member of a .tar.gz (multi-member gzip allowed) with its mode.
pub fn tar_gz_members(bytes: &[u8]) -> Result<Vec<(String, u32)>> {
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(bytes));
    archive.set_ignore_zeros(true);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        out.push((
            entry.path()?.to_string_lossy().into_owned(),
            entry.header().mode()?,
        ));
    }
    Ok(out)
}
