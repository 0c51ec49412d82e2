//! Taking the binary out of a release archive: `oauth-mux-<target>/<exe>` from a `.tar.gz`
//! (or a `.zip` for Windows). Only that one regular file is read; nothing is unpacked to disk.

use std::io::Read;

use super::refusal::Refusal;

/// The largest binary the updater accepts (the release budget is 6 MiB).
pub const MAX_BINARY_BYTES: u64 = 64 * 1024 * 1024;

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::Archive { why: why.into() }
}

/// The bytes of `member` (e.g. `oauth-mux-x86_64-unknown-linux-musl/oauth-mux`) in the
/// archive `bytes`, whose file `name` says its format.
pub fn extract_member(name: &str, bytes: &[u8], member: &str) -> Result<Vec<u8>, Refusal> {
    if name.ends_with(".zip") {
        from_zip(std::io::Cursor::new(bytes), member)
    } else if name.ends_with(".tar.gz") {
        from_tar_gz(bytes, member)
    } else {
        Err(invalid(format!("{name} is neither .tar.gz nor .zip")))
    }
}

fn read_limited(mut reader: impl Read, member: &str) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    (&mut reader)
        .take(MAX_BINARY_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| invalid(format!("cannot read {member}: {e}")))?;
    if out.len() as u64 > MAX_BINARY_BYTES {
        return Err(invalid(format!(
            "{member} is larger than {MAX_BINARY_BYTES} bytes"
        )));
    }
    Ok(out)
}

fn from_tar_gz(file: &[u8], member: &str) -> Result<Vec<u8>, Refusal> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a tar.gz: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| invalid(format!("corrupt tar.gz: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(format!("corrupt tar.gz: {e}")))?
            .to_string_lossy()
            .into_owned();
        if path == member {
            if !entry.header().entry_type().is_file() {
                return Err(invalid(format!("{member} is not a regular file")));
            }
            return read_limited(entry, member);
        }
    }
    Err(invalid(format!("it holds no {member}")))
}

fn from_zip(file: std::io::Cursor<&[u8]>, member: &str) -> Result<Vec<u8>, Refusal> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| invalid(format!("not a zip: {e}")))?;
    let entry = archive
        .by_name(member)
        .map_err(|_| invalid(format!("it holds no {member}")))?;
    if !entry.is_file() {
        return Err(invalid(format!("{member} is not a regular file")));
    }
    read_limited(entry, member)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TGZ: &str = "oauth-mux-x86_64-unknown-linux-musl.tar.gz";

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn the_binary_comes_out_of_a_tar_gz() {
        let bytes = tar_gz(&[("t/LICENSE", b"MIT"), ("t/oauth-mux", b"\x7fELF binary")]);
        assert_eq!(
            extract_member(TGZ, &bytes, "t/oauth-mux").unwrap(),
            b"\x7fELF binary"
        );
        assert!(matches!(
            extract_member(TGZ, &bytes, "t/missing"),
            Err(Refusal::Archive { .. })
        ));
    }

    #[test]
    fn the_binary_comes_out_of_a_zip() {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("t/oauth-mux.exe", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"MZ binary").unwrap();
        let bytes = z.finish().unwrap().into_inner();
        assert_eq!(
            extract_member(
                "oauth-mux-x86_64-pc-windows-gnu.zip",
                &bytes,
                "t/oauth-mux.exe"
            )
            .unwrap(),
            b"MZ binary"
        );
    }

    #[test]
    fn a_corrupt_archive_is_refused_not_a_panic() {
        assert!(matches!(
            extract_member(TGZ, b"not gzip at all", "t/oauth-mux"),
            Err(Refusal::Archive { .. })
        ));
        assert!(extract_member("x.rar", b"", "t/oauth-mux").is_err());
    }
}
