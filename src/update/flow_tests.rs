//! The whole update flow in-process against releases signed with throw-away minisign keys
//! and served from a loopback HTTP server: check, download, install, and every refusal.
//! Needs `minisign` (installed by .ci/deps/30-release.sh).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::owner::Owner;
use super::plan::{Status, compare};
use super::refusal::Refusal;
use super::release::{ReleaseSource, Wanted};
use super::signature::TrustedKey;
use super::*;

const TARGET: &str = "x86_64-unknown-linux-musl";

fn minisign() -> Command {
    let probe = Command::new("minisign").arg("-v").output();
    assert!(
        probe.is_ok(),
        "minisign not found on PATH: run .ci/deps/30-release.sh (apt-get install minisign)"
    );
    Command::new("minisign")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away key pair: (public key file, secret key file).
fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (p, s) = (
        dir.join(format!("{name}.pub")),
        dir.join(format!("{name}.key")),
    );
    run(minisign()
        .args(["-G", "-W", "-p"])
        .arg(&p)
        .arg("-s")
        .arg(&s));
    (p, s)
}

fn trusted(pub_file: &Path) -> TrustedKey {
    let text = std::fs::read_to_string(pub_file).unwrap();
    TrustedKey::from_line(signature::key_line_of_file(&text).unwrap()).unwrap()
}

fn sign(key: &Path, file: &Path, comment: &str, legacy: bool) {
    let sig = PathBuf::from(format!("{}.minisig", file.display()));
    let _ = std::fs::remove_file(&sig);
    let mut cmd = minisign();
    cmd.arg("-S")
        .arg("-s")
        .arg(key)
        .arg("-m")
        .arg(file)
        .args(["-t", comment]);
    if legacy {
        cmd.arg("-l");
    }
    run(&mut cmd);
}

fn stand_in(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\n[ \"$1\" = version ] && echo 'oauth-mux {version}' && exit 0\nexit 3\n")
        .into_bytes()
}

fn tar_gz(member: &str, bytes: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder.append_data(&mut header, member, bytes).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Write a signed release of `version` into `dir`.
fn release(dir: &Path, version: &str, key: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let archive = format!("oauth-mux-{TARGET}.tar.gz");
    let bytes = tar_gz(&format!("oauth-mux-{TARGET}/oauth-mux"), &stand_in(version));
    std::fs::write(dir.join(&archive), &bytes).unwrap();
    let manifest = serde_json::json!({
        "schema_version": 1, "name": "oauth-mux", "version": version,
        "artifacts": [{"name": archive, "kind": "archive", "target": TARGET,
                       "size": bytes.len(), "sha256": sha256_hex(&bytes), "url": "u"}]
    });
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(dir.join("dist-manifest.json"), &manifest).unwrap();
    write_sums(dir);
    sign(
        key,
        &dir.join("SHA256SUMS"),
        &format!("file:SHA256SUMS\tversion:{version}"),
        false,
    );
}

fn write_sums(dir: &Path) {
    let mut lines = String::new();
    for name in [
        format!("oauth-mux-{TARGET}.tar.gz"),
        "dist-manifest.json".into(),
    ] {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        lines.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
    }
    std::fs::write(dir.join("SHA256SUMS"), lines).unwrap();
}

/// Serve `root` on loopback for the rest of the test process.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut stream = stream;
            match std::fs::read(root.join(path.trim_start_matches('/'))) {
                Ok(body) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                }
                Err(_) => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    url
}

struct Bed {
    dir: tempfile::TempDir,
    key: TrustedKey,
    secret: PathBuf,
}

impl Bed {
    fn new() -> Bed {
        let dir = tempfile::tempdir().unwrap();
        let (p, secret) = keypair(dir.path(), "release");
        Bed {
            key: trusted(&p),
            secret,
            dir,
        }
    }

    /// A signed release of `version`, changed by `tamper`, served on its own port.
    fn serve(&self, name: &str, version: &str, tamper: impl FnOnce(&Path)) -> ReleaseSource {
        let root = self.dir.path().join(name);
        release(&root, version, &self.secret);
        tamper(&root);
        ReleaseSource::Directory(serve(root))
    }

    fn check(
        &self,
        source: &ReleaseSource,
        wanted: &Wanted,
    ) -> Result<CheckedRelease, UpdateError> {
        check_release(&Fetcher::new(), source, wanted, &self.key)
    }

    /// An installed binary of `version` with an install.sh receipt.
    fn installed(&self, version: &str) -> Install {
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("oauth-mux");
        std::fs::write(&exe, stand_in(version)).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        Install {
            exe,
            receipt: None,
            owner: Owner::SelfManaged,
            target: TARGET.into(),
        }
    }
}

fn refusal(result: Result<CheckedRelease, UpdateError>) -> Refusal {
    match result {
        Err(UpdateError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn v(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap()
}

#[test]
fn a_signed_newer_release_is_checked_downloaded_and_installed() {
    let bed = Bed::new();
    let source = bed.serve("good", "1.1.0", |_| {});
    let checked = bed.check(&source, &Wanted::Latest).unwrap();
    assert_eq!(checked.version, v("1.1.0"));
    assert_eq!(checked.signed.signed_by, bed.key.id());
    assert_eq!(checked.signed.rotated_from, None);
    assert_eq!(
        compare(&v("1.0.0"), &checked.version, &Wanted::Latest),
        Status::UpdateAvailable
    );

    let install_ = bed.installed("1.0.0");
    let new = fetch_binary(&Fetcher::new(), &checked, TARGET, &mut |_, _| {}).unwrap();
    let receipt = install(&install_, &checked, &new, jiff::Timestamp::UNIX_EPOCH).unwrap();
    assert_eq!(std::fs::read(&install_.exe).unwrap(), stand_in("1.1.0"));
    let on_disk = receipt::read(&receipt::path_for(&install_.exe))
        .unwrap()
        .unwrap();
    assert_eq!(on_disk, receipt);
    assert_eq!(
        (on_disk.version.as_str(), on_disk.method.as_str()),
        ("1.1.0", "update")
    );
    assert_eq!(on_disk.key_id, Some(bed.key.id().to_string()));
    assert_eq!(on_disk.sha256, Some(new.sha256.clone()));
    let mut left: Vec<_> = std::fs::read_dir(install_.exe.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["oauth-mux", receipt::FILE_NAME]);
}

#[test]
fn a_missing_or_foreign_signature_is_refused() {
    let bed = Bed::new();
    let unsigned = bed.serve("unsigned", "1.1.0", |d| {
        std::fs::remove_file(d.join("SHA256SUMS.minisig")).unwrap()
    });
    assert_eq!(
        refusal(bed.check(&unsigned, &Wanted::Latest)),
        Refusal::SignatureMissing
    );

    let (_, other) = keypair(bed.dir.path(), "other");
    let foreign = bed.serve("foreign", "1.1.0", |d| {
        sign(
            &other,
            &d.join("SHA256SUMS"),
            "file:SHA256SUMS\tversion:1.1.0",
            false,
        )
    });
    assert!(matches!(
        refusal(bed.check(&foreign, &Wanted::Latest)),
        Refusal::SignatureWrongKey { .. }
    ));

    let legacy = bed.serve("legacy", "1.1.0", |d| {
        sign(
            &bed.secret,
            &d.join("SHA256SUMS"),
            "file:SHA256SUMS\tversion:1.1.0",
            true,
        )
    });
    assert_eq!(
        refusal(bed.check(&legacy, &Wanted::Latest)),
        Refusal::SignatureLegacy
    );
}

#[test]
fn changed_sums_and_wrong_trusted_comments_are_refused() {
    let bed = Bed::new();
    let changed = bed.serve("changed", "1.1.0", |d| {
        let sums = std::fs::read_to_string(d.join("SHA256SUMS")).unwrap();
        std::fs::write(d.join("SHA256SUMS"), sums.replacen('a', "b", 1)).unwrap();
    });
    assert_eq!(
        refusal(bed.check(&changed, &Wanted::Latest)),
        Refusal::SignatureInvalid
    );

    let old_comment = bed.serve("replayed", "1.1.0", |d| {
        sign(
            &bed.secret,
            &d.join("SHA256SUMS"),
            "file:SHA256SUMS\tversion:1.0.5",
            false,
        )
    });
    assert_eq!(
        refusal(bed.check(&old_comment, &Wanted::Latest)),
        Refusal::CommentWrongVersion {
            signed: "1.0.5".into(),
            expected: "1.1.0".into()
        }
    );

    let other_file = bed.serve("otherfile", "1.1.0", |d| {
        sign(
            &bed.secret,
            &d.join("SHA256SUMS"),
            "file:install.sh\tversion:1.1.0",
            false,
        )
    });
    assert!(matches!(
        refusal(bed.check(&other_file, &Wanted::Latest)),
        Refusal::CommentWrongFile { .. }
    ));

    let good = bed.serve("exact", "1.1.0", |_| {});
    assert!(matches!(
        refusal(bed.check(&good, &Wanted::Exact(v("1.2.0")))),
        Refusal::CommentWrongVersion { .. }
    ));
}

#[test]
fn a_tampered_manifest_or_archive_is_refused_and_nothing_changes() {
    let bed = Bed::new();
    let manifest = bed.serve("manifest", "1.1.0", |d| {
        let text = std::fs::read_to_string(d.join("dist-manifest.json")).unwrap();
        std::fs::write(d.join("dist-manifest.json"), text.replace("1.1.0", "1.1.1")).unwrap();
    });
    assert!(matches!(
        refusal(bed.check(&manifest, &Wanted::Latest)),
        Refusal::ChecksumMismatch { ref file, .. } if file == "dist-manifest.json"
    ));

    let archive = bed.serve("archive", "1.1.0", |d| {
        let name = d.join(format!("oauth-mux-{TARGET}.tar.gz"));
        let mut bytes = std::fs::read(&name).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&name, bytes).unwrap();
    });
    let checked = bed.check(&archive, &Wanted::Latest).unwrap();
    let installed = bed.installed("1.0.0");
    let err = fetch_binary(&Fetcher::new(), &checked, TARGET, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(err, UpdateError::Refused(Refusal::ChecksumMismatch { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(&installed.exe).unwrap(), stand_in("1.0.0"));
}

#[test]
fn a_new_binary_that_prints_another_version_is_not_installed() {
    let bed = Bed::new();
    // The archive's binary claims 6.6.6 while the release says 1.1.0.
    let source = bed.serve("liar", "1.1.0", |d| {
        let name = format!("oauth-mux-{TARGET}.tar.gz");
        let bytes = tar_gz(&format!("oauth-mux-{TARGET}/oauth-mux"), &stand_in("6.6.6"));
        std::fs::write(d.join(&name), &bytes).unwrap();
        let text = std::fs::read_to_string(d.join("dist-manifest.json")).unwrap();
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        let old = m["artifacts"][0]["sha256"].as_str().unwrap().to_string();
        std::fs::write(
            d.join("dist-manifest.json"),
            text.replace(&old, &sha256_hex(&bytes)),
        )
        .unwrap();
        write_sums(d);
        sign(
            &bed.secret,
            &d.join("SHA256SUMS"),
            "file:SHA256SUMS\tversion:1.1.0",
            false,
        );
    });
    let checked = bed.check(&source, &Wanted::Latest).unwrap();
    let installed = bed.installed("1.0.0");
    let new = fetch_binary(&Fetcher::new(), &checked, TARGET, &mut |_, _| {}).unwrap();
    let err = install(&installed, &checked, &new, jiff::Timestamp::UNIX_EPOCH).unwrap_err();
    assert!(
        matches!(err, UpdateError::Refused(Refusal::SmokeRun { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(&installed.exe).unwrap(), stand_in("1.0.0"));
    assert!(!receipt::path_for(&installed.exe).exists());
}

#[test]
fn a_rotation_statement_from_the_trusted_key_admits_the_new_key() {
    let bed = Bed::new();
    let (new_pub, new_secret) = keypair(bed.dir.path(), "next");
    let statement = |signer: &Path| {
        let signer = signer.to_path_buf();
        let new_pub = new_pub.clone();
        let new_secret = new_secret.clone();
        move |d: &Path| {
            std::fs::copy(&new_pub, d.join("minisign.pub")).unwrap();
            sign(
                &signer,
                &d.join("minisign.pub"),
                "file:minisign.pub\tkey-rotation",
                false,
            );
            sign(
                &new_secret,
                &d.join("SHA256SUMS"),
                "file:SHA256SUMS\tversion:1.1.0",
                false,
            );
        }
    };
    let rotated = bed.serve("rotated", "1.1.0", statement(&bed.secret));
    let checked = bed.check(&rotated, &Wanted::Latest).unwrap();
    assert_eq!(checked.signed.signed_by, trusted(&new_pub).id());
    assert_eq!(checked.signed.rotated_from, Some(bed.key.id()));

    let (_, stranger) = keypair(bed.dir.path(), "stranger");
    let forged = bed.serve("forged", "1.1.0", statement(&stranger));
    assert!(matches!(
        refusal(bed.check(&forged, &Wanted::Latest)),
        Refusal::RotationInvalid { .. }
    ));

    let no_statement = bed.serve("nostatement", "1.1.0", |d| {
        sign(
            &new_secret,
            &d.join("SHA256SUMS"),
            "file:SHA256SUMS\tversion:1.1.0",
            false,
        )
    });
    assert!(matches!(
        refusal(bed.check(&no_statement, &Wanted::Latest)),
        Refusal::SignatureWrongKey { .. }
    ));
}

#[test]
fn an_unreachable_host_is_a_network_error_and_a_missing_release_is_named() {
    let bed = Bed::new();
    let down = ReleaseSource::Directory("http://127.0.0.1:9".into());
    assert!(matches!(
        bed.check(&down, &Wanted::Latest),
        Err(UpdateError::Network(_))
    ));
    let empty = ReleaseSource::Template(format!(
        "{}/v{{version}}",
        serve(bed.dir.path().join("nothing"))
    ));
    match bed.check(&empty, &Wanted::Exact(v("2.0.0"))) {
        Err(UpdateError::Failed(m)) => assert!(m.contains("no release 2.0.0"), "{m}"),
        other => panic!("{other:?}"),
    }
}
