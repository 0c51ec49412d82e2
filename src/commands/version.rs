//! `oauth-mux version`.

use crate::cli::VersionArgs;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(args: &VersionArgs) -> anyhow::Result<()> {
    if args.json {
        let out = serde_json::json!({ "name": "oauth-mux", "version": VERSION });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("oauth-mux {VERSION}");
    }
    Ok(())
}
