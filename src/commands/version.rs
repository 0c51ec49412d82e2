//! `oauth-mux version [--json] [--check]`.

use serde::Serialize;

use crate::cli::VersionArgs;
use crate::update::plan::{UpdateReport, render_human};
use crate::{VERSION, output};

#[derive(Serialize)]
struct VersionReport {
    name: &'static str,
    version: &'static str,
    target: String,
    /// The release target this binary was built for.
    target_triple: &'static str,
    /// The minisign key id of the release key compiled in (what `update` trusts).
    release_key_id: String,
    /// With --check: the update check (as `update --check --json` prints it).
    #[serde(skip_serializing_if = "Option::is_none")]
    update: Option<UpdateReport>,
}

pub fn run(args: &VersionArgs) -> anyhow::Result<()> {
    let update = if args.check {
        Some(super::update::check()?)
    } else {
        None
    };
    let code = update.as_ref().map(UpdateReport::exit_code);
    let report = VersionReport {
        name: "oauth-mux",
        version: VERSION,
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        target_triple: crate::update::built_target(),
        release_key_id: crate::update::signature::TrustedKey::compiled()
            .id()
            .to_string(),
        update,
    };
    output::emit(args.json, &report, |r| match &r.update {
        Some(u) => render_human(u),
        None => format!("oauth-mux {}", r.version),
    })?;
    match code {
        Some(code) => super::update::finish(code),
        None => Ok(()),
    }
}
