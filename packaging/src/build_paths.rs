//! Does a release binary remember where it was built? The scan looks for the paths of the
//! build machine in the bytes: the checkout, `$HOME`, temp dirs, the cargo home and rustup,
//! the zig caches and the zig installation, `/nix/store`. Used by the proof's
//! determinism-inputs lane, `release-test`'s rebuilds and the Nix per-target checks
//! (`oauth-mux-packaging check-binary`).

use std::path::{Path, PathBuf};

/// The paths that must not appear in a release binary on this machine, plus `extra`.
/// Each ends with `/`, so `/root` does not match `/rootfs`.
pub fn forbidden_paths(extra: &[PathBuf]) -> Vec<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let home = env("HOME");
    let mut dirs: Vec<String> = Vec::new();
    let mut add = |p: Option<String>| {
        if let Some(p) = p {
            dirs.push(p);
        }
    };
    add(std::env::current_dir()
        .ok()
        .map(|d| d.display().to_string()));
    add(home.clone());
    add(Some("/tmp".into()));
    add(env("TMPDIR"));
    add(env("NIX_BUILD_TOP"));
    add(env("CARGO_HOME").or_else(|| home.as_ref().map(|h| format!("{h}/.cargo"))));
    add(env("RUSTUP_HOME").or_else(|| home.as_ref().map(|h| format!("{h}/.rustup"))));
    add(env("ZIG_GLOBAL_CACHE_DIR"));
    add(env("ZIG_LOCAL_CACHE_DIR"));
    add(env("XDG_CACHE_HOME").or_else(|| home.as_ref().map(|h| format!("{h}/.cache"))));
    add(Some(NIX_STORE.into()));
    // The zig installation (PyPI's ziglang sits in a venv; its lib/ holds the libc sources).
    for tool in ["zig", "python-zig", "cargo-zigbuild"] {
        add(tool_root(tool));
    }
    dirs.extend(extra.iter().map(|p| p.display().to_string()));
    let mut out: Vec<String> = dirs
        .into_iter()
        .map(|d| format!("{}/", d.trim_end_matches('/')))
        .filter(|d| d.len() > 2)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Two directories above a program on PATH (a venv or a store path), symlinks resolved.
fn tool_root(tool: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())?;
    let real = std::fs::canonicalize(found).ok()?;
    Some(real.parent()?.parent()?.display().to_string())
}

/// The Nix store prefix. A store path is this plus 32 base-32 characters and a dash; the bare
/// prefix may appear in a binary as text (oauth-mux recognises Nix installs by it).
const NIX_STORE: &str = "/nix/store/";

fn is_store_path_at(rest: &[u8]) -> bool {
    const NIX_BASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    rest.len() > 32 && rest[..32].iter().all(|c| NIX_BASE32.contains(c)) && rest[32] == b'-'
}

/// The forbidden paths that occur in `bytes` (for `/nix/store/`: a store path, not the bare
/// prefix).
pub fn found_in(bytes: &[u8], forbidden: &[String]) -> Vec<String> {
    forbidden
        .iter()
        .filter(|needle| {
            let n = needle.as_bytes();
            if needle.as_str() == NIX_STORE {
                return bytes
                    .windows(n.len())
                    .enumerate()
                    .any(|(at, w)| w == n && is_store_path_at(&bytes[at + n.len()..]));
            }
            bytes.windows(n.len()).any(|w| w == n)
        })
        .cloned()
        .collect()
}

/// Scan a file; the error names the file and every path found.
pub fn check_file(path: &Path, forbidden: &[String]) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)?;
    let found = found_in(&bytes, forbidden);
    anyhow::ensure!(
        found.is_empty(),
        "{} contains build-machine paths {found:?}; a --remap-path-prefix is missing \
         (packaging/scripts/build-target.sh)",
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_build_path_is_forbidden() {
        let f = forbidden_paths(&[PathBuf::from("/work/checkout-b")]);
        for want in ["/tmp/", "/nix/store/", "/work/checkout-b/"] {
            assert!(f.contains(&want.to_string()), "{want} not in {f:?}");
        }
        if let Ok(home) = std::env::var("HOME") {
            assert!(f.contains(&format!("{home}/")), "{f:?}");
            assert!(
                f.iter()
                    .any(|p| p.ends_with("/.cargo/") || p.contains("cargo"))
            );
        }
        assert!(f.iter().all(|p| p.ends_with('/')));
    }

    #[test]
    fn found_in_reports_exactly_the_paths_present() {
        let forbidden = vec!["/nix/store/".to_string(), "/home/ci/".to_string()];
        let bytes = b"panic at /nix/store/0c7lg8k3yqsd0pnmcp1w1a3v5k2x9z4f-vendor-cargo-deps/x/serde/src/lib.rs and /home/cicd";
        assert_eq!(found_in(bytes, &forbidden), ["/nix/store/"]);
        assert!(found_in(b"/deps/serde-1.0/src/lib.rs", &forbidden).is_empty());
        // The bare prefix is text (oauth-mux update recognises Nix installs by it), not a path.
        assert!(found_in(b"starts_with(\"/nix/store/\")", &forbidden).is_empty());
    }
}
