//! Render a whole tree from stand-in binaries (shell scripts that answer `version` and
//! `completions`), check it is byte-identical when rendered twice, and run the tree,
//! install-sh and homebrew proof lanes against it. Needs nfpm, minisign, dash, curl, ruby
//! (installed by .ci/deps/30-release.sh); fails naming the tool when one is missing.

use oauth_mux_packaging::proof::update::write_stand_in_bins;
use oauth_mux_packaging::proof::{ProofInput, run as proof};
use oauth_mux_packaging::render::{RenderInput, render};
use oauth_mux_packaging::targets::builtin_targets;
use oauth_mux_packaging::templates::DEFAULT_BASE_URL;
use std::path::Path;
use std::process::Command;

const VERSION: &str = "9.9.9-test.1";

fn stand_in_bins(dir: &Path) {
    write_stand_in_bins(dir, VERSION).unwrap();
}

fn input(bins: &Path, out: &Path, pubkey: &Path) -> RenderInput {
    RenderInput {
        version: VERSION.into(),
        bins: bins.to_path_buf(),
        out: out.to_path_buf(),
        repo: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
        base_url_template: DEFAULT_BASE_URL.into(),
        pubkey: pubkey.to_path_buf(),
        native_bin: Some(bins.join("x86_64-unknown-linux-musl/oauth-mux")),
        source_date_epoch: 1_700_000_000,
        targets: builtin_targets(),
    }
}

/// The signing step, as the release workflow runs it: sign-release.sh with the key file.
fn sign(tree: &Path, key: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sign-release.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg(tree)
        .env("OMUX_MINISIGN_SECRET_KEY_FILE", key)
        .env("OMUX_SIGN_TEST_KEY", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sign-release.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sign_release_refuses_a_foreign_key_and_a_tree_for_another_key() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    stand_in_bins(&bins);
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for name in ["a", "b"] {
        let status = Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(keys.join(format!("{name}.pub")))
            .arg("-s")
            .arg(keys.join(format!("{name}.key")))
            .status()
            .expect("minisign not found on PATH: run .ci/deps/30-release.sh");
        assert!(status.success());
    }
    let tree = tmp.path().join("tree").join(VERSION);
    render(&input(&bins, &tree, &keys.join("a.pub"))).expect("render (is nfpm on PATH?)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sign-release.sh");
    let run = |key: &str, test_key: bool| {
        let mut cmd = Command::new("sh");
        cmd.arg(&script)
            .arg(&tree)
            .env("OMUX_MINISIGN_SECRET_KEY_FILE", keys.join(key))
            .env_remove("OMUX_SIGN_TEST_KEY")
            .env_remove("OMUX_MINISIGN_SECRET_KEY");
        if test_key {
            cmd.env("OMUX_SIGN_TEST_KEY", "1");
        }
        cmd.output().unwrap()
    };
    // The tree embeds test key a, not the committed release key: refused without the flag.
    let out = run("a.key", false);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the committed packaging/minisign.pub")
    );
    // Key b does not belong to the key the tree embeds: refused, nothing left behind.
    let out = run("b.key", true);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not belong"));
    assert!(!tree.join("SHA256SUMS.minisig").exists());
    assert!(run("a.key", true).status.success());
    assert!(tree.join("SHA256SUMS.minisig").exists());
}

#[test]
fn rendered_tree_is_reproducible_and_installs_through_install_sh() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    stand_in_bins(&bins);
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let status = Command::new("minisign")
        .args(["-G", "-W", "-p"])
        .arg(keys.join("t.pub"))
        .arg("-s")
        .arg(keys.join("t.key"))
        .output()
        .expect("minisign not found on PATH: run .ci/deps/30-release.sh (apt-get install minisign)")
        .status;
    assert!(status.success());

    let one = tmp.path().join("one").join(VERSION);
    let two = tmp.path().join("two").join(VERSION);
    let manifest =
        render(&input(&bins, &one, &keys.join("t.pub"))).expect("render #1 (is nfpm on PATH?)");
    render(&input(&bins, &two, &keys.join("t.pub"))).expect("render #2");
    assert!(
        !one.join("SHA256SUMS.minisig").exists(),
        "render signs nothing: signing is its own step"
    );
    for tree in [&one, &two] {
        sign(tree, &keys.join("t.key"));
    }
    let sums = std::fs::read(one.join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums,
        std::fs::read(two.join("SHA256SUMS")).unwrap(),
        "two renders differ"
    );
    assert_eq!(
        std::fs::read(one.join("SHA256SUMS.minisig")).unwrap(),
        std::fs::read(two.join("SHA256SUMS.minisig")).unwrap()
    );
    assert_eq!(
        manifest.artifacts.len(),
        6 + 7 + 6 + 2,
        "archives, npm, deb/rpm/apk, formula, install.sh"
    );
    let text = String::from_utf8(sums).unwrap();
    for t in builtin_targets() {
        assert!(
            text.contains(&format!("  {}\n", t.archive_name())),
            "{} missing from SHA256SUMS",
            t.archive_name()
        );
    }

    let report = proof(&ProofInput {
        version: VERSION.into(),
        dir: one.clone(),
        lanes: vec!["tree".into(), "install-sh".into(), "homebrew".into()],
    })
    .unwrap();
    assert_eq!(
        (report.passed, report.failed),
        (3, 0),
        "proof lanes failed: see stderr"
    );

    // The formula check can fail: a desc brew audit refuses and no livecheck.
    let formula = std::fs::read_to_string(one.join("oauth-mux.rb")).unwrap();
    let desc = oauth_mux_packaging::templates::DESCRIPTION;
    let bad = formula
        .replace(&format!("desc \"{desc}\""), &format!("desc \"A {desc}.\""))
        .replace(
            "  livecheck do\n    url :homepage\n    strategy :github_latest\n  end\n",
            "",
        );
    assert_ne!(bad, formula);
    let bad_path = tmp.path().join("bad.rb");
    std::fs::write(&bad_path, bad).unwrap();
    let out = Command::new("ruby")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-formula.rb"))
        .arg(&bad_path)
        .arg(&one)
        .arg(&manifest.base_url)
        .arg(VERSION)
        .arg("MIT")
        .output()
        .expect("ruby not found on PATH: run .ci/deps/30-release.sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "check-formula.rb accepted a bad formula"
    );
    for want in [
        "ends with a period",
        "starts with an article",
        "no livecheck block",
    ] {
        assert!(
            err.contains(want),
            "check-formula.rb did not report {want:?}: {err}"
        );
    }
}
