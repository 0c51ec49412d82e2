//! `oauth-mux version`.

use serde::Serialize;

use crate::output;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
struct VersionReport {
    name: &'static str,
    version: &'static str,
    target: String,
}

pub fn run(json: bool) -> anyhow::Result<()> {
    let report = VersionReport {
        name: "oauth-mux",
        version: VERSION,
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    };
    output::emit(json, &report, |r| format!("oauth-mux {}", r.version))
}
