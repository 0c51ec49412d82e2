//! The oauth-mux release tool: renders the release tree (archives, checksums, signature,
//! installers, npm/deb/rpm/apk packages, manifest, handoff) from a directory of built
//! binaries, and proves every install lane on this machine.

pub mod archive;
pub mod binfmt;
pub mod build_paths;
pub mod digest;
pub mod macho_normalize;
pub mod manifest;
pub mod nfpm;
pub mod npm;
pub mod proof;
pub mod release_key;
pub mod render;
pub mod targets;
pub mod templates;
