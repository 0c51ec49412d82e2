//! What a release binary is, read with the `object` crate: its machine, whether a Linux
//! binary is static, the minimum macOS version it declares and the libraries it links, and
//! the DLLs a Windows binary imports.

use anyhow::{Context, Result, bail};
use object::LittleEndian as LE;
use object::macho;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::read::macho::{LoadCommandVariant, MachOFile64};
use object::read::pe::PeFile64;
use object::{Architecture, Object};

fn arch_name(a: Architecture) -> String {
    match a {
        Architecture::X86_64 => "x86_64".into(),
        Architecture::Aarch64 => "aarch64".into(),
        other => format!("other({other:?})"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What an ELF file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfFacts {
    /// `x86_64` or `aarch64` (or `other(…)`).
    pub arch: String,
    /// True when there is no program interpreter (`PT_INTERP`): no dynamic loader needed.
    pub is_static: bool,
}

/// Read a 64-bit little-endian ELF file's machine and program headers.
pub fn elf_facts(b: &[u8]) -> Result<ElfFacts> {
    let elf = ElfFile64::<LE>::parse(b).context("not a 64-bit little-endian ELF file")?;
    let endian = elf.endian();
    let is_static = !elf
        .elf_program_headers()
        .iter()
        .any(|ph| ph.p_type(endian) == object::elf::PT_INTERP);
    Ok(ElfFacts {
        arch: arch_name(elf.architecture()),
        is_static,
    })
}

/// What a 64-bit Mach-O file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct MachOFacts {
    /// `x86_64` or `aarch64` (or `other(…)`).
    pub arch: String,
    /// Minimum OS version from `LC_BUILD_VERSION` (or `LC_VERSION_MIN_MACOSX`), e.g. `11.0.0`.
    pub min_os: Option<String>,
    /// Dynamic libraries it links (`LC_LOAD_DYLIB`, `LC_LOAD_WEAK_DYLIB`, …).
    pub dylibs: Vec<String>,
}

fn macos_version(v: macho::Version) -> String {
    format!("{}.{}.{}", v.major(), v.minor(), v.update())
}

/// Read a thin 64-bit little-endian Mach-O file's load commands.
pub fn macho_facts(b: &[u8]) -> Result<MachOFacts> {
    let file = MachOFile64::<LE>::parse(b).context("not a 64-bit little-endian Mach-O file")?;
    let endian = file.endian();
    let mut min_os = None;
    let mut version_min = None;
    let mut dylibs = Vec::new();
    let mut commands = file.macho_load_commands()?;
    while let Some(cmd) = commands.next()? {
        match cmd.variant()? {
            LoadCommandVariant::BuildVersion(v, _) => {
                min_os = Some(macos_version(v.minos.get(endian)))
            }
            LoadCommandVariant::VersionMin(v) if cmd.cmd() == macho::LC_VERSION_MIN_MACOSX => {
                version_min = Some(macos_version(v.version.get(endian)))
            }
            LoadCommandVariant::Dylib(d) => dylibs.push(text(cmd.string(endian, d.dylib.name)?)),
            _ => {}
        }
    }
    Ok(MachOFacts {
        arch: arch_name(file.architecture()),
        min_os: min_os.or(version_min),
        dylibs,
    })
}

/// What a PE32+ file says about itself.
#[derive(Debug, PartialEq, Eq)]
pub struct PeFacts {
    /// `x86_64` or `aarch64` (or `other(…)`).
    pub arch: String,
    /// DLL names from the import and delay-import directories, as written.
    pub imports: Vec<String>,
}

/// Read a PE32+ file's machine and import directories.
pub fn pe_facts(b: &[u8]) -> Result<PeFacts> {
    let pe = PeFile64::parse(b).context("not a PE32+ image")?;
    let mut imports = Vec::new();
    if let Some(table) = pe.import_table()? {
        let mut descriptors = table.descriptors()?;
        while let Some(d) = descriptors.next()? {
            imports.push(text(table.name(d.name.get(LE))?));
        }
    }
    if let Some(table) = pe.delay_load_import_table()? {
        let mut descriptors = table.descriptors()?;
        while let Some(d) = descriptors.next()? {
            imports.push(text(table.name(d.dll_name_rva.get(LE))?));
        }
    }
    if pe.architecture() == Architecture::Unknown {
        bail!("PE image for an unknown machine");
    }
    Ok(PeFacts {
        arch: arch_name(pe.architecture()),
        imports,
    })
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
        b[..7].copy_from_slice(b"\x7fELF\x02\x01\x01"); // 64-bit, little-endian, version 1
        b[16] = 2; // ET_EXEC
        b[18] = 62; // EM_X86_64
        b[20] = 1; // e_version
        b[52] = 64; // e_ehsize
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
