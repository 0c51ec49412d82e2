//! npm packages: one root package (`oauth-mux`, a JS launcher) with exact-pinned optional
//! dependencies on one package per platform (`oauth-mux-<os>-<cpu>`, with `os`/`cpu`).

use crate::archive::{Entry, tar_gz};
use crate::digest::sha256_hex;
use crate::targets::Target;
use crate::templates::{DESCRIPTION, HOMEPAGE, LICENSE};
use anyhow::Result;
use serde_json::json;

/// Files every npm package carries besides its own.
pub struct Docs<'a> {
    /// LICENSE text.
    pub license: &'a [u8],
    /// README.md text.
    pub readme: &'a [u8],
}

fn pretty(v: &serde_json::Value) -> Result<Vec<u8>> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s.into_bytes())
}

/// The `.tgz` (npm pack layout, under `package/`) of one platform package.
pub fn platform_package(
    t: &Target,
    version: &str,
    binary: &[u8],
    docs: &Docs,
    mtime: u64,
) -> Result<(String, Vec<u8>)> {
    let manifest = json!({
        "name": t.npm_package(),
        "version": version,
        "description": format!("The oauth-mux binary for {} ({}). Install `oauth-mux`, not this.", t.triple, t.npm_os),
        "license": LICENSE,
        "homepage": HOMEPAGE,
        "repository": { "type": "git", "url": format!("git+{HOMEPAGE}.git") },
        "os": [t.npm_os],
        "cpu": [t.npm_cpu],
        "files": ["bin"],
        "preferUnplugged": true,
    });
    let entries = vec![
        Entry::file("package/package.json", pretty(&manifest)?),
        Entry::executable(format!("package/bin/{}", t.exe), binary.to_vec()),
        Entry::file("package/LICENSE", docs.license.to_vec()),
        Entry::file("package/README.md", docs.readme.to_vec()),
    ];
    Ok((
        format!("{}-{version}.tgz", t.npm_package()),
        tar_gz(&entries, mtime)?,
    ))
}

/// The `.tgz` of the root package; `binary_hashes` maps package name to the binary's sha256.
pub fn root_package(
    targets: &[(Target, String)],
    version: &str,
    launcher: &str,
    docs: &Docs,
    mtime: u64,
) -> Result<(String, Vec<u8>)> {
    let mut optional = serde_json::Map::new();
    let mut hashes = serde_json::Map::new();
    for (t, sha) in targets {
        optional.insert(t.npm_package(), json!(version));
        hashes.insert(format!("{}/bin/{}", t.npm_package(), t.exe), json!(sha));
    }
    let manifest = json!({
        "name": "oauth-mux",
        "version": version,
        "description": DESCRIPTION,
        "license": LICENSE,
        "homepage": HOMEPAGE,
        "repository": { "type": "git", "url": format!("git+{HOMEPAGE}.git") },
        "bin": { "oauth-mux": "bin/oauth-mux.js" },
        "files": ["bin", "README.md", "LICENSE"],
        "engines": { "node": ">=16" },
        "optionalDependencies": optional,
        "binaryHashes": hashes,
    });
    let entries = vec![
        Entry::file("package/package.json", pretty(&manifest)?),
        Entry::executable("package/bin/oauth-mux.js", launcher.as_bytes().to_vec()),
        Entry::file("package/LICENSE", docs.license.to_vec()),
        Entry::file("package/README.md", docs.readme.to_vec()),
    ];
    Ok((format!("oauth-mux-{version}.tgz"), tar_gz(&entries, mtime)?))
}

/// sha256 of a binary, as recorded in the root package's `binaryHashes`.
pub fn binary_hash(binary: &[u8]) -> String {
    sha256_hex(binary)
}
