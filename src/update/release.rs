//! What a release directory holds and where it is: `SHA256SUMS` lines, the part of
//! `dist-manifest.json` the updater reads, and the URL of the directory to fetch from.
//! Pure.

use serde::Deserialize;

use super::refusal::Refusal;

/// The release host when neither the environment nor the receipt says otherwise.
pub const DEFAULT_TEMPLATE: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/releases/download/v{version}"
);
/// The manifest every release carries (listed, and so signed, in `SHA256SUMS`).
pub const MANIFEST_FILE: &str = "dist-manifest.json";

/// The SHA-256 `SHA256SUMS` gives `file`, which must be listed exactly once (exact name).
pub fn checksum_for(sums: &str, file: &str) -> Result<String, Refusal> {
    let hits: Vec<&str> = sums
        .lines()
        .filter_map(|line| {
            let (hex, name) = line.split_once("  ").or_else(|| line.split_once(" *"))?;
            (name == file && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .then_some(hex)
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.to_ascii_lowercase()),
        _ => Err(Refusal::ChecksumLine {
            file: file.to_string(),
            count: hits.len(),
        }),
    }
}

/// One artifact of `dist-manifest.json` (the fields the updater uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Artifact {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub target: Option<String>,
    pub sha256: String,
}

/// The part of `dist-manifest.json` the updater uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseManifest {
    pub name: String,
    pub version: String,
    pub artifacts: Vec<Artifact>,
}

impl ReleaseManifest {
    /// Parse the manifest; it must be oauth-mux's.
    pub fn parse(bytes: &[u8]) -> Result<ReleaseManifest, Refusal> {
        let m: ReleaseManifest = serde_json::from_slice(bytes).map_err(|e| Refusal::Manifest {
            why: format!("not valid JSON ({e})"),
        })?;
        if m.name != "oauth-mux" {
            return Err(Refusal::Manifest {
                why: format!("it describes {:?}, not oauth-mux", m.name),
            });
        }
        Ok(m)
    }

    /// The archive for a target triple.
    pub fn archive_for(&self, target: &str) -> Result<&Artifact, Refusal> {
        self.artifacts
            .iter()
            .find(|a| a.kind == "archive" && a.target.as_deref() == Some(target))
            .ok_or_else(|| Refusal::Manifest {
                why: format!("release {} has no archive for {target}", self.version),
            })
    }
}

/// Which release the user wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The newest release.
    Latest,
    /// `--version V`.
    Exact(semver::Version),
}

/// Where releases are fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSource {
    /// A URL with `{version}` (e.g. the GitHub release download URL): one directory per release.
    Template(String),
    /// One fixed directory (a mirror of a single release, a test server).
    Directory(String),
}

impl ReleaseSource {
    /// The source, in order of precedence: `OMUX_RELEASE_BASE_URL`, the base URL the install
    /// receipt recorded (made a template again when its last segment is the installed
    /// version), the project's GitHub releases.
    pub fn choose(env_override: Option<&str>, receipt: Option<(&str, &str)>) -> ReleaseSource {
        if let Some(url) = env_override.map(str::trim).filter(|u| !u.is_empty()) {
            return ReleaseSource::from_url(url.trim_end_matches('/'));
        }
        if let Some((base, version)) = receipt {
            let base = base.trim_end_matches('/');
            return match template_from_base(base, version) {
                Some(t) => ReleaseSource::Template(t),
                None => ReleaseSource::from_url(base),
            };
        }
        ReleaseSource::Template(DEFAULT_TEMPLATE.to_string())
    }

    fn from_url(url: &str) -> ReleaseSource {
        if url.contains("{version}") {
            ReleaseSource::Template(url.to_string())
        } else {
            ReleaseSource::Directory(url.to_string())
        }
    }

    /// The directory URL to fetch `wanted` from.
    pub fn directory(&self, wanted: &Wanted) -> String {
        match (self, wanted) {
            (ReleaseSource::Directory(d), _) => d.clone(),
            (ReleaseSource::Template(t), Wanted::Exact(v)) => {
                t.replace("{version}", &v.to_string())
            }
            (ReleaseSource::Template(t), Wanted::Latest) => latest_directory(t),
        }
    }
}

/// The "newest release" directory of a template: GitHub's `…/releases/latest/download` for
/// `…/releases/download/v{version}`; elsewhere the path segment holding `{version}` becomes
/// `latest` (a mirror keeps its newest release under `latest/`).
fn latest_directory(template: &str) -> String {
    if let Some(prefix) = template.strip_suffix("/releases/download/v{version}") {
        return format!("{prefix}/releases/latest/download");
    }
    template
        .split('/')
        .map(|seg| {
            if seg.contains("{version}") {
                "latest"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `…/v1.2.3` (or `…/1.2.3`) with the installed version 1.2.3 → `…/v{version}`.
fn template_from_base(base: &str, version: &str) -> Option<String> {
    let (dir, last) = base.rsplit_once('/')?;
    let prefix = last.strip_suffix(version)?;
    (prefix.is_empty() || prefix == "v").then(|| format!("{dir}/{prefix}{{version}}"))
}

/// Whether a download URL may be fetched: https anywhere, plain http only from a loopback
/// host (the tests' servers), `file://` for local mirrors.
pub fn url_allowed(url: &str) -> bool {
    if url.starts_with("https://") || url.starts_with("file://") {
        return true;
    }
    url.starts_with("http://") && crate::proxy::upstream::is_loopback_url(url)
}

/// The download URL of a file in a release directory.
pub fn file_url(directory: &str, file: &str) -> String {
    format!("{}/{file}", directory.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMS: &str = "\
1111111111111111111111111111111111111111111111111111111111111111  oauth-mux-x86_64-unknown-linux-musl.tar.gz
2222222222222222222222222222222222222222222222222222222222222222  oauth-mux-x86_64-unknown-linux-musl.tar.gz.sbom
3333333333333333333333333333333333333333333333333333333333333333 *dist-manifest.json
";

    #[test]
    fn checksums_match_the_exact_file_name_once() {
        assert_eq!(
            checksum_for(SUMS, "oauth-mux-x86_64-unknown-linux-musl.tar.gz").unwrap(),
            "1".repeat(64)
        );
        assert_eq!(
            checksum_for(SUMS, "dist-manifest.json").unwrap(),
            "3".repeat(64)
        );
        assert_eq!(
            checksum_for(SUMS, "oauth-mux").unwrap_err(),
            Refusal::ChecksumLine {
                file: "oauth-mux".into(),
                count: 0
            }
        );
        let twice = format!("{SUMS}{}  dist-manifest.json\n", "4".repeat(64));
        assert!(matches!(
            checksum_for(&twice, "dist-manifest.json"),
            Err(Refusal::ChecksumLine { count: 2, .. })
        ));
    }

    #[test]
    fn the_source_prefers_the_environment_then_the_receipt_then_github() {
        assert_eq!(
            ReleaseSource::choose(
                Some("http://127.0.0.1:8080/"),
                Some(("https://x/v1.0.0", "1.0.0"))
            ),
            ReleaseSource::Directory("http://127.0.0.1:8080".into())
        );
        assert_eq!(
            ReleaseSource::choose(
                None,
                Some(("https://mirror.example/oauth-mux/v1.0.0/", "1.0.0"))
            ),
            ReleaseSource::Template("https://mirror.example/oauth-mux/v{version}".into())
        );
        assert_eq!(
            ReleaseSource::choose(None, Some(("http://127.0.0.1:9/tree", "1.0.0"))),
            ReleaseSource::Directory("http://127.0.0.1:9/tree".into())
        );
        assert_eq!(
            ReleaseSource::choose(Some("  "), None),
            ReleaseSource::Template(DEFAULT_TEMPLATE.into())
        );
    }

    #[test]
    fn directories_for_latest_and_exact_versions() {
        let v = Wanted::Exact(semver::Version::new(1, 2, 3));
        let gh = ReleaseSource::Template(DEFAULT_TEMPLATE.into());
        assert_eq!(
            gh.directory(&Wanted::Latest),
            "https://github.com/oauth-mux/oauth-mux/releases/latest/download"
        );
        assert_eq!(
            gh.directory(&v),
            "https://github.com/oauth-mux/oauth-mux/releases/download/v1.2.3"
        );
        let mirror = ReleaseSource::Template("https://m.example/omux/{version}/files".into());
        assert_eq!(
            mirror.directory(&Wanted::Latest),
            "https://m.example/omux/latest/files"
        );
        assert_eq!(mirror.directory(&v), "https://m.example/omux/1.2.3/files");
        let fixed = ReleaseSource::Directory("file:///srv/omux".into());
        assert_eq!(fixed.directory(&v), "file:///srv/omux");
        assert_eq!(
            file_url("https://h/d/", "SHA256SUMS"),
            "https://h/d/SHA256SUMS"
        );
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "https://github.com/x",
            "http://127.0.0.1:8080/x",
            "http://127.1.2.3/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "file:///srv/mirror",
        ] {
            assert!(url_allowed(ok), "{ok}");
        }
        for bad in [
            "http://example.com/x",
            "http://127.0.0.1.evil.example/x",
            "http://evil.example@127.0.0.1.nip.io/x",
            "http://10.0.0.1/x",
            "ftp://127.0.0.1/x",
            "HTTP://127.0.0.1/x",
        ] {
            assert!(!url_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn the_manifest_names_the_archive_of_a_target() {
        let m = ReleaseManifest::parse(
            br#"{"schema_version":1,"name":"oauth-mux","version":"1.2.3","artifacts":[
              {"name":"oauth-mux-x86_64-unknown-linux-musl.tar.gz","kind":"archive","target":"x86_64-unknown-linux-musl","size":1,"sha256":"ab","url":"u"},
              {"name":"oauth-mux_1.2.3_amd64.deb","kind":"deb","target":"x86_64-unknown-linux-musl","size":1,"sha256":"cd","url":"u"}]}"#,
        )
        .unwrap();
        assert_eq!(
            m.archive_for("x86_64-unknown-linux-musl").unwrap().name,
            "oauth-mux-x86_64-unknown-linux-musl.tar.gz"
        );
        assert!(matches!(
            m.archive_for("aarch64-apple-darwin"),
            Err(Refusal::Manifest { .. })
        ));
        assert!(
            ReleaseManifest::parse(br#"{"name":"other","version":"1","artifacts":[]}"#).is_err()
        );
    }
}
