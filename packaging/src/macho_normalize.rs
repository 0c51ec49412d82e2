//! Make Mach-O binaries independent of the build path. zig derives `LC_UUID` from the absolute
//! paths of the object files it links, so the same code built in two checkouts differs in the
//! UUID and, through it, in the first page hash of the ad-hoc code signature. `normalize` sets
//! the UUID from a hash of the file's own contents and recomputes the code signature's page
//! hashes (an ad-hoc signature has no certificate, so nothing else needs re-signing).

use anyhow::{Context, Result, bail, ensure};
use object::LittleEndian as LE;
use object::macho::LC_CODE_SIGNATURE;
use object::read::macho::{LoadCommandVariant, MachOFile64};
use sha2::{Digest, Sha256};

#[cfg(test)]
use object::macho::LC_UUID;
const CODE_DIRECTORY: u32 = 0xfade_0c02;
const SUPER_BLOB: u32 = 0xfade_0cc0;

fn be32(b: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_be_bytes(
        b.get(at..at + 4)
            .context("truncated code signature")?
            .try_into()?,
    ))
}

/// Where the UUID bytes start, and the code signature's (offset, size), when present.
type Layout = (Option<usize>, Option<(usize, usize)>);

/// Find the UUID and the code signature of a Mach-O file (load commands read by `object`).
fn locate(b: &[u8]) -> Result<Layout> {
    let file = MachOFile64::<LE>::parse(b).context("not a 64-bit little-endian Mach-O file")?;
    let endian = file.endian();
    let (mut uuid, mut sig) = (None, None);
    let mut commands = file.macho_load_commands()?;
    while let Some(cmd) = commands.next()? {
        match cmd.variant()? {
            // The command's offset is relative to the header at 0; the 16 bytes follow its
            // 8-byte cmd/cmdsize.
            LoadCommandVariant::Uuid(_) => uuid = Some(cmd.offset() as usize + 8),
            LoadCommandVariant::LinkeditData(d) if cmd.cmd() == LC_CODE_SIGNATURE => {
                sig = Some((
                    d.dataoff.get(endian) as usize,
                    d.datasize.get(endian) as usize,
                ))
            }
            _ => {}
        }
    }
    Ok((uuid, sig))
}

/// Code directories inside the signature: (offset of the blob in the file).
fn code_directories(b: &[u8], sig: (usize, usize)) -> Result<Vec<usize>> {
    let (off, _) = sig;
    ensure!(
        be32(b, off)? == SUPER_BLOB,
        "code signature is not a SuperBlob"
    );
    let count = be32(b, off + 8)? as usize;
    let mut out = Vec::new();
    for i in 0..count {
        let blob = off + be32(b, off + 12 + i * 8 + 4)? as usize;
        if be32(b, blob)? == CODE_DIRECTORY {
            out.push(blob);
        }
    }
    Ok(out)
}

/// Recompute (or, with `write = false`, check) every code page hash of one CodeDirectory.
fn page_hashes(b: &mut [u8], cd: usize, write: bool) -> Result<bool> {
    let hash_offset = be32(b, cd + 16)? as usize;
    let n_code = be32(b, cd + 28)? as usize;
    let code_limit = be32(b, cd + 32)? as usize;
    let hash_size = *b.get(cd + 36).context("truncated")? as usize;
    let hash_type = *b.get(cd + 37).context("truncated")?;
    let page = 1usize << *b.get(cd + 39).context("truncated")?;
    if hash_type != 2 || hash_size != 32 {
        bail!(
            "code signature uses hash type {hash_type} (size {hash_size}); only SHA-256 is handled"
        );
    }
    let mut all_match = true;
    for i in 0..n_code {
        let start = i * page;
        let end = (start + page).min(code_limit);
        let digest = Sha256::digest(&b[start..end]);
        let slot = cd + hash_offset + i * hash_size;
        let stored = b
            .get(slot..slot + hash_size)
            .context("truncated hash slot")?;
        if stored != digest.as_slice() {
            all_match = false;
            if write {
                b[slot..slot + hash_size].copy_from_slice(&digest);
            }
        }
    }
    Ok(all_match)
}

/// True when every code page hash of every CodeDirectory matches the file (or there is no
/// signature).
pub fn signature_matches(bytes: &[u8]) -> Result<bool> {
    let mut b = bytes.to_vec();
    let (_, sig) = locate(&b)?;
    let Some(sig) = sig else { return Ok(true) };
    for cd in code_directories(&b, sig)? {
        if !page_hashes(&mut b, cd, false)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Return the binary with a content-derived UUID and matching code-signature page hashes.
/// Refuses a binary whose signature did not match before (it would hide real damage).
pub fn normalize(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut b = bytes.to_vec();
    let (uuid, sig) = locate(&b)?;
    let Some(uuid) = uuid else { return Ok(b) };
    if !signature_matches(&b)? {
        bail!("the Mach-O code signature does not match the file before normalizing");
    }
    let end = sig.map(|(off, _)| off).unwrap_or(b.len());
    b[uuid..uuid + 16].fill(0);
    let digest = Sha256::digest(&b[..end]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0f) | 0x50; // RFC 4122 name-based UUID layout
    id[8] = (id[8] & 0x3f) | 0x80;
    b[uuid..uuid + 16].copy_from_slice(&id);
    if let Some(sig) = sig {
        for cd in code_directories(&b, sig)? {
            page_hashes(&mut b, cd, true)?;
        }
        ensure!(
            signature_matches(&b)?,
            "code signature still does not match after normalizing"
        );
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny signed Mach-O: header + LC_UUID + LC_CODE_SIGNATURE, one 4 KiB page of code,
    /// then a SuperBlob with one CodeDirectory holding that page's SHA-256.
    fn signed(uuid: [u8; 16]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        for (i, v) in [0xfeed_facf_u32, 0x0100_000c, 0, 2, 2, 24 + 16, 0, 0]
            .iter()
            .enumerate()
        {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[32..36].copy_from_slice(&LC_UUID.0.to_le_bytes());
        b[36..40].copy_from_slice(&24u32.to_le_bytes());
        b[40..56].copy_from_slice(&uuid);
        b[56..60].copy_from_slice(&LC_CODE_SIGNATURE.0.to_le_bytes());
        b[60..64].copy_from_slice(&16u32.to_le_bytes());
        b[64..68].copy_from_slice(&4096u32.to_le_bytes());
        b[100..200].fill(0xab); // "code"
        let cd_len = 44 + 32;
        let sig_len = 20 + cd_len;
        b[68..72].copy_from_slice(&(sig_len as u32).to_le_bytes());
        let mut sig = Vec::new();
        for v in [SUPER_BLOB, sig_len as u32, 1, 0, 20] {
            sig.extend(v.to_be_bytes());
        }
        for v in [CODE_DIRECTORY, cd_len as u32, 0x20400, 0, 44, 0, 0, 1, 4096] {
            sig.extend(v.to_be_bytes());
        }
        sig.extend([32u8, 2, 0, 12, 0, 0, 0, 0]);
        sig.extend(Sha256::digest(&b[..4096]));
        b.extend(sig);
        b
    }

    #[test]
    fn different_uuids_normalize_to_the_same_bytes_with_a_valid_signature() {
        let a = signed([1; 16]);
        let c = signed([2; 16]);
        assert!(signature_matches(&a).unwrap() && signature_matches(&c).unwrap());
        assert_ne!(a, c);
        let (na, nc) = (normalize(&a).unwrap(), normalize(&c).unwrap());
        assert_eq!(na, nc);
        assert!(signature_matches(&na).unwrap());
        assert_ne!(&na[40..56], &[0u8; 16]);
        assert_eq!(normalize(&na).unwrap(), na, "normalizing is idempotent");
    }

    #[test]
    fn a_broken_signature_is_refused() {
        let mut a = signed([1; 16]);
        a[150] ^= 1;
        assert!(!signature_matches(&a).unwrap());
        assert!(normalize(&a).is_err());
    }
}
