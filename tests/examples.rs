//! Every example config under `examples/` is valid: through the library
//! (`config::check_text`: no errors, no warnings) and through the built binary
//! (`oauth-mux config validate --json` exits 0 and reports `ok`).

mod kit;

use std::path::{Path, PathBuf};

use kit::Sandbox;
use oauth_mux::config::check_text;

/// The examples `examples/README.md` documents; each must exist.
const EXPECTED: &[&str] = &[
    "codex-max",
    "claude",
    "github",
    "linear",
    "linear-api-key",
    "vercel",
    "figma",
    "figma-pat",
    "figma-plan",
    "flakehub",
    "mcp-http",
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_documented_examples_exist() {
    let files = example_files();
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).unwrap();
    for name in EXPECTED {
        let file = format!("{name}.config.json");
        assert!(
            files.iter().any(|p| p.ends_with(&file)),
            "examples/{file} is missing"
        );
        assert!(
            readme.contains(&file),
            "examples/README.md does not explain {file}"
        );
    }
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "an example was added or removed: update EXPECTED and examples/README.md"
    );
}

#[test]
fn every_example_passes_the_library_check_cleanly() {
    let files = example_files();
    assert!(!files.is_empty(), "no examples found");
    let mut bad = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let (config, problems) = check_text(&text);
        assert!(config.is_some(), "{}: did not parse", path.display());
        for p in problems {
            bad.push(format!("{}: {p}", path.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_example_passes_config_validate_in_the_binary() {
    let sb = Sandbox::new();
    for path in example_files() {
        let out = sb
            .oauth_mux()
            .args(["config", "validate", "--json"])
            .env("OMUX_CONFIG", &path)
            .run();
        assert_eq!(out.code, 0, "{}: {out}", path.display());
        let report = out.json();
        assert_eq!(report["ok"], true, "{}: {report:#}", path.display());
        assert_eq!(report["configured"], true, "{}: {report:#}", path.display());
        assert_eq!(
            report["errors"].as_array().map(Vec::len),
            Some(0),
            "{}: {report:#}",
            path.display()
        );
        assert_eq!(
            report["warnings"].as_array().map(Vec::len),
            Some(0),
            "{}: {report:#}",
            path.display()
        );
    }
}
