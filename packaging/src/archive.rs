//! Deterministic archives: sorted entries, a fixed mtime (`SOURCE_DATE_EPOCH`), owner 0:0,
//! fixed modes and gzip without a timestamp. Used for the release archives and npm tarballs.

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use std::io::{Cursor, Write};

/// One file to put in an archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path inside the archive, `/`-separated, no leading slash.
    pub path: String,
    /// File contents.
    pub bytes: Vec<u8>,
    /// True for executables (mode 0755), false for data (0644).
    pub executable: bool,
}

impl Entry {
    /// A data file (mode 0644).
    pub fn file(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
            executable: false,
        }
    }

    /// An executable (mode 0755).
    pub fn executable(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
            executable: true,
        }
    }

    fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }
}

/// Every parent directory of the entries, sorted, each ending in `/`.
fn directories(entries: &[Entry]) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for e in entries {
        let mut path = e.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            dirs.insert(format!("{parent}/"));
            path = parent;
        }
    }
    dirs.into_iter().collect()
}

/// Directories (`None`) and files in one sorted order, so a directory comes before its
/// contents: the member order every archive format here uses.
fn members(entries: &[Entry]) -> Vec<(String, Option<&Entry>)> {
    let mut items: Vec<(String, Option<&Entry>)> = directories(entries)
        .into_iter()
        .map(|d| (d, None))
        .chain(entries.iter().map(|e| (e.path.clone(), Some(e))))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items
}

/// A deterministic `.tar.gz` of the entries.
pub fn tar_gz(entries: &[Entry], mtime: u64) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, entry) in members(entries) {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                header.set_cksum();
                tar.append_data(&mut header, &path, std::io::empty())
                    .with_context(|| format!("tar: add {path}"))?;
            }
            Some(e) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(e.mode());
                header.set_size(e.bytes.len() as u64);
                header.set_cksum();
                tar.append_data(&mut header, &path, e.bytes.as_slice())
                    .with_context(|| format!("tar: add {path}"))?;
            }
        }
    }
    let raw = tar.into_inner().context("tar: finish")?;
    gzip(&raw)
}

/// gzip with no file name and mtime 0, best compression: the same input gives the same bytes.
pub fn gzip(raw: &[u8]) -> Result<Vec<u8>> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    gz.write_all(raw).context("gzip")?;
    gz.finish().context("gzip: finish")
}

/// A deterministic `.zip` of the entries (deflate; DOS time from `mtime`, clamped to 1980).
pub fn zip(entries: &[Entry], mtime: u64) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let (y, mo, d, h, mi, s) = civil_time(mtime.max(315_532_800));
    let time =
        zip::DateTime::from_date_and_time(y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8)
            .map_err(|_| {
                anyhow::anyhow!("zip: SOURCE_DATE_EPOCH {mtime} is outside the DOS date range")
            })?;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(time);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, entry) in members(entries) {
        match entry {
            None => writer
                .add_directory(path.as_str(), options.unix_permissions(0o755))
                .with_context(|| format!("zip: add {path}"))?,
            Some(e) => {
                writer
                    .start_file(path.as_str(), options.unix_permissions(e.mode()))
                    .with_context(|| format!("zip: add {path}"))?;
                writer
                    .write_all(&e.bytes)
                    .with_context(|| format!("zip: write {path}"))?;
            }
        }
    }
    Ok(writer.finish().context("zip: finish")?.into_inner())
}

/// UTC civil time (year, month, day, hour, minute, second) of a Unix timestamp.
pub fn civil_time(epoch: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::file("pkg/README.md", "readme"),
            Entry::executable("pkg/oauth-mux", "binary"),
            Entry::file("pkg/completions/oauth-mux.bash", "complete"),
        ]
    }

    #[test]
    fn civil_time_known_dates() {
        assert_eq!(civil_time(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_time(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(civil_time(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn tar_gz_is_deterministic_sorted_and_owned_by_root() {
        let a = tar_gz(&sample(), 1_700_000_000).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        let b = tar_gz(&reversed, 1_700_000_000).unwrap();
        assert_eq!(a, b, "entry order must not matter");
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip mtime must be zero");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(a.as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        let mut archive = tar::Archive::new(raw.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(
                (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
                (0, 0, 1_700_000_000)
            );
            seen.push((e.path().unwrap().display().to_string(), h.mode().unwrap()));
        }
        assert_eq!(
            seen,
            [
                ("pkg/".to_string(), 0o755),
                ("pkg/README.md".to_string(), 0o644),
                ("pkg/completions/".to_string(), 0o755),
                ("pkg/completions/oauth-mux.bash".to_string(), 0o644),
                ("pkg/oauth-mux".to_string(), 0o755),
            ]
        );
        assert_ne!(
            a,
            tar_gz(&sample(), 1_700_000_001).unwrap(),
            "mtime must be recorded"
        );
    }

    #[test]
    fn zip_is_deterministic_and_keeps_modes() {
        let a = zip(&sample(), 1_700_000_000).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        assert_eq!(a, zip(&reversed, 1_700_000_000).unwrap());
        let mut archive = zip::ZipArchive::new(Cursor::new(a)).unwrap();
        let exe = archive.by_name("pkg/oauth-mux").unwrap();
        assert_eq!(exe.unix_mode().unwrap() & 0o777, 0o755);
        let t = exe.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2023, 11, 14));
    }
}
