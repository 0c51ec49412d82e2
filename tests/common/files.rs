//! Reading back what a test's scratch directories hold, for canary searches. The test support
//! modules include it with `#[path = "../common/files.rs"] mod files;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every regular file under `root`, depth first; symbolic links are not followed (a temp
/// user's harness dir may link to places the test does not own).
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => stack.push(path),
                Ok(meta) if meta.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

/// Every regular file under each of `roots`, with its content as (lossy) text.
pub fn texts_under(roots: &[PathBuf]) -> Vec<(PathBuf, String)> {
    roots
        .iter()
        .flat_map(|root| files_under(root))
        .map(|path| {
            let text =
                String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            (path, text)
        })
        .collect()
}

/// Fail, naming the file, when any of `needles` occurs in any of `texts`.
#[track_caller]
pub fn assert_absent(needles: &[&str], texts: &[(PathBuf, String)]) {
    for (path, text) in texts {
        for needle in needles {
            assert!(
                !text.contains(needle),
                "{needle:?} leaked into {}:\n{text}",
                path.display()
            );
        }
    }
}
