//! The fuzz harness's properties (`fuzz/oracles.rs`) over every input kept in its corpus
//! (`fuzz/corpus/<target>/`) and every input that once failed (`fuzz/regressions/<target>/`),
//! on the stable toolchain, on every test run. Finding new inputs is `just fuzz`'s job
//! (libFuzzer, nightly, a time budget); keeping what was found checked is this test's.

#[path = "../fuzz/oracles.rs"]
mod oracles;

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_kept_fuzz_input_still_holds_its_properties() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (target, check) in oracles::TARGETS {
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(
            corpus.len() >= 5,
            "fuzz/corpus/{target} holds {} inputs; it must keep its seeds",
            corpus.len()
        );
        let regressions = inputs(&root.join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} breaks a property (rerun: cargo +nightly fuzz run {target} {})",
                file.display(),
                file.display()
            );
            total += 1;
        }
    }
    eprintln!("{total} kept fuzz inputs checked");
}
