//! Just enough ELF, Mach-O and PE parsing to prove what a release binary is: its machine,
//! whether a Linux binary is static, the minimum macOS version it declares, and the DLLs a
//! Windows binary imports.

use anyhow::{Context, Result, bail};

fn u16le(b: &[u8], at: usize) -> Result<u16> {
    let s = b.get(at..at + 2).context("truncated file")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32le(b: &[u8], at: usize) -> Result<u32> {
    let s = b.get(at..at + 4).context("truncated file")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64le(b: &[u8], at: usize) -> Result<u64> {
    let s = b.get(at..at + 8).context("truncated file")?;
    Ok(u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

fn c_string(b: &[u8], at: usize) -> Result<String> {
    let rest = b.get(at..).context("string offset past end of file")?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .context("unterminated string")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// What an ELF file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfFacts {
    /// `x86_64` or `aarch64` (or `other(N)`).
    pub arch: String,
    /// True when there is no program interpreter (`PT_INTERP`): no dynamic loader needed.
    pub is_static: bool,
}

/// Parse a 64-bit little-endian ELF header and program headers.
pub fn elf_facts(b: &[u8]) -> Result<ElfFacts> {
    if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        bail!("not a 64-bit little-endian ELF file");
    }
    let arch = match u16le(b, 18)? {
        62 => "x86_64".to_string(),
        183 => "aarch64".to_string(),
        n => format!("other({n})"),
    };
    let phoff = u64le(b, 32)? as usize;
    let phentsize = u16le(b, 54)? as usize;
    let phnum = u16le(b, 56)? as usize;
    let mut is_static = true;
    for i in 0..phnum {
        if u32le(b, phoff + i * phentsize)? == 3 {
            is_static = false;
        }
    }
    Ok(ElfFacts { arch, is_static })
}

/// What a 64-bit Mach-O file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct MachOFacts {
    /// `x86_64` or `aarch64` (or `other(N)`).
    pub arch: String,
    /// Minimum OS version from `LC_BUILD_VERSION` (or `LC_VERSION_MIN_MACOSX`), e.g. `11.0.0`.
    pub min_os: Option<String>,
    /// Dynamic libraries it links (`LC_LOAD_DYLIB`, `LC_LOAD_WEAK_DYLIB`).
    pub dylibs: Vec<String>,
}

fn macos_version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// Parse a thin 64-bit little-endian Mach-O file's load commands.
pub fn macho_facts(b: &[u8]) -> Result<MachOFacts> {
    if u32le(b, 0)? != 0xfeed_facf {
        bail!("not a 64-bit little-endian Mach-O file");
    }
    let arch = match u32le(b, 4)? {
        0x0100_0007 => "x86_64".to_string(),
        0x0100_000c => "aarch64".to_string(),
        n => format!("other({n:#x})"),
    };
    let ncmds = u32le(b, 16)? as usize;
    let mut at = 32;
    let mut min_os = None;
    let mut dylibs = Vec::new();
    for _ in 0..ncmds {
        let cmd = u32le(b, at)?;
        let size = u32le(b, at + 4)? as usize;
        match cmd {
            0x32 => min_os = Some(macos_version(u32le(b, at + 12)?)),
            0x24 if min_os.is_none() => min_os = Some(macos_version(u32le(b, at + 8)?)),
            0xc | 0x8000_0018 => dylibs.push(c_string(b, at + u32le(b, at + 8)? as usize)?),
            _ => {}
        }
        if size < 8 {
            bail!("Mach-O load command with size {size}");
        }
        at += size;
    }
    Ok(MachOFacts {
        arch,
        min_os,
        dylibs,
    })
}

/// What a PE32+ file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct PeFacts {
    /// `x86_64` or `aarch64` (or `other(N)`).
    pub arch: String,
    /// DLL names from the import and delay-import directories, as written.
    pub imports: Vec<String>,
}

/// Parse a PE32+ file's COFF header and import directories.
pub fn pe_facts(b: &[u8]) -> Result<PeFacts> {
    if b.get(..2) != Some(b"MZ") {
        bail!("not a PE file (no MZ header)");
    }
    let pe = u32le(b, 0x3c)? as usize;
    if b.get(pe..pe + 4) != Some(b"PE\0\0") {
        bail!("not a PE file (no PE signature)");
    }
    let arch = match u16le(b, pe + 4)? {
        0x8664 => "x86_64".to_string(),
        0xaa64 => "aarch64".to_string(),
        n => format!("other({n:#x})"),
    };
    let nsections = u16le(b, pe + 6)? as usize;
    let opt = pe + 24;
    let opt_size = u16le(b, pe + 20)? as usize;
    if u16le(b, opt)? != 0x20b {
        bail!("not a PE32+ image");
    }
    let ndirs = u32le(b, opt + 108)? as usize;
    let sections = opt + opt_size;
    let rva_to_offset = |rva: u32| -> Result<usize> {
        for i in 0..nsections {
            let s = sections + i * 40;
            let vaddr = u32le(b, s + 12)?;
            let vsize = u32le(b, s + 8)?.max(u32le(b, s + 16)?);
            if rva >= vaddr && rva < vaddr + vsize {
                return Ok((rva - vaddr + u32le(b, s + 20)?) as usize);
            }
        }
        bail!("PE: RVA {rva:#x} is in no section")
    };
    let mut imports = Vec::new();
    // Directory 1: imports (20-byte descriptors, name RVA at +12).
    // Directory 13: delay imports (32-byte descriptors, name RVA at +4).
    for (dir, desc_size, name_at) in [(1usize, 20usize, 12usize), (13, 32, 4)] {
        if dir >= ndirs {
            continue;
        }
        let rva = u32le(b, opt + 112 + dir * 8)?;
        if rva == 0 {
            continue;
        }
        let mut at = rva_to_offset(rva)?;
        loop {
            let name_rva = u32le(b, at + name_at)?;
            if name_rva == 0 {
                break;
            }
            imports.push(c_string(b, rva_to_offset(name_rva)?)?);
            at += desc_size;
        }
    }
    Ok(PeFacts { arch, imports })
}

/// True for DLLs that every Windows 10+ system has.
pub fn is_system_dll(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const SYSTEM: &[&str] = &[
        "kernel32.dll",
        "ntdll.dll",
        "ws2_32.dll",
        "bcrypt.dll",
        "bcryptprimitives.dll",
        "advapi32.dll",
        "userenv.dll",
        "ucrtbase.dll",
        "msvcrt.dll",
        "user32.dll",
        "shell32.dll",
        "ole32.dll",
        "oleaut32.dll",
        "secur32.dll",
        "crypt32.dll",
        "ncrypt.dll",
        "iphlpapi.dll",
        "dbghelp.dll",
        "shlwapi.dll",
        "psapi.dll",
        "mswsock.dll",
        "netapi32.dll",
        "rpcrt4.dll",
        "synchronization.dll",
        "kernelbase.dll",
        "powrprof.dll",
        "winmm.dll",
    ];
    SYSTEM.contains(&n.as_str()) || (n.starts_with("api-ms-win-") && n.ends_with(".dll"))
}

/// True for the libraries every macOS system has.
pub fn is_system_dylib(name: &str) -> bool {
    name.starts_with("/usr/lib/") || name.starts_with("/System/Library/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn macho(cmds: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (cmd, payload) in cmds {
            body.extend(cmd.to_le_bytes());
            body.extend(((payload.len() + 8) as u32).to_le_bytes());
            body.extend(payload);
        }
        let mut b = Vec::new();
        for v in [
            0xfeed_facf_u32,
            0x0100_000c,
            0,
            2,
            cmds.len() as u32,
            body.len() as u32,
            0,
            0,
        ] {
            b.extend(v.to_le_bytes());
        }
        b.extend(body);
        b
    }

    #[test]
    fn macho_build_version_and_dylibs() {
        let mut build = Vec::new();
        for v in [1u32, 0x000b_0000, 0x000f_0000, 0] {
            build.extend(v.to_le_bytes());
        }
        let mut dylib = Vec::new();
        for v in [24u32, 0, 0, 0] {
            dylib.extend(v.to_le_bytes());
        }
        dylib.extend(b"/usr/lib/libSystem.B.dylib\0\0\0\0\0\0");
        let facts = macho_facts(&macho(&[(0x32, build), (0xc, dylib)])).unwrap();
        assert_eq!(facts.arch, "aarch64");
        assert_eq!(facts.min_os.as_deref(), Some("11.0.0"));
        assert_eq!(facts.dylibs, ["/usr/lib/libSystem.B.dylib"]);
        assert!(facts.dylibs.iter().all(|d| is_system_dylib(d)));
    }

    #[test]
    fn macho_without_build_version_has_no_min_os() {
        assert_eq!(macho_facts(&macho(&[])).unwrap().min_os, None);
        assert!(macho_facts(b"\x7fELF....").is_err());
    }

    #[test]
    fn elf_interp_means_dynamic() {
        let mut b = vec![0u8; 64 + 56 * 2];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[18] = 62;
        b[32] = 64; // phoff
        b[54] = 56; // phentsize
        b[56] = 2; // phnum
        b[64] = 1; // PT_LOAD
        assert_eq!(
            elf_facts(&b).unwrap(),
            ElfFacts {
                arch: "x86_64".into(),
                is_static: true
            }
        );
        b[64 + 56] = 3; // PT_INTERP
        assert!(!elf_facts(&b).unwrap().is_static);
    }

    #[test]
    fn pe_imports_from_a_minimal_image() {
        // Headers at 0..0x200; one section mapping RVA 0x1000 to file offset 0x200.
        let mut b = vec![0u8; 0x400];
        b[..2].copy_from_slice(b"MZ");
        b[0x3c] = 0x80;
        let pe = 0x80;
        b[pe..pe + 4].copy_from_slice(b"PE\0\0");
        b[pe + 4..pe + 6].copy_from_slice(&0x8664u16.to_le_bytes());
        b[pe + 6] = 1; // one section
        b[pe + 20..pe + 22].copy_from_slice(&240u16.to_le_bytes());
        let opt = pe + 24;
        b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        b[opt + 108] = 16; // data directories
        b[opt + 112 + 8..opt + 112 + 12].copy_from_slice(&0x1000u32.to_le_bytes()); // import dir
        let sec = opt + 240;
        b[sec + 8..sec + 12].copy_from_slice(&0x200u32.to_le_bytes());
        b[sec + 12..sec + 16].copy_from_slice(&0x1000u32.to_le_bytes());
        b[sec + 16..sec + 20].copy_from_slice(&0x200u32.to_le_bytes());
        b[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
        // Two descriptors then a zero one; names at RVA 0x1100 and 0x1110.
        b[0x200 + 12..0x200 + 16].copy_from_slice(&0x1100u32.to_le_bytes());
        b[0x214 + 12..0x214 + 16].copy_from_slice(&0x1110u32.to_le_bytes());
        b[0x300..0x30c].copy_from_slice(b"KERNEL32.dll");
        b[0x310..0x31f].copy_from_slice(b"libgcc_s_1.dll\0");
        let facts = pe_facts(&b).unwrap();
        assert_eq!(facts.arch, "x86_64");
        assert_eq!(facts.imports, ["KERNEL32.dll", "libgcc_s_1.dll"]);
        assert!(is_system_dll(&facts.imports[0]));
        assert!(!is_system_dll(&facts.imports[1]));
        assert!(is_system_dll("api-ms-win-crt-runtime-l1-1-0.dll"));
    }
}
