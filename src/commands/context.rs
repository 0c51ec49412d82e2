//! What most commands gather first: directories, the clock, the config, health.

use std::collections::BTreeMap;

use anyhow::Context as _;
use jiff::Timestamp;

use crate::config::{self, Config, Problem};
use crate::exit::{ExitCode, Failure};
use crate::model::RouteKey;
use crate::model::health::RouteHealth;
use crate::model::selection::HealthLookup;
use crate::store::health_file::HealthFile;
use crate::store::paths::Dirs;

/// Directories and the clock for one command run.
pub struct Context {
    pub dirs: Dirs,
    pub now: Timestamp,
}

/// A loaded, valid config and its warnings.
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

impl Context {
    pub fn from_env() -> anyhow::Result<Context> {
        let dirs = Dirs::from_process_env().map_err(Failure::from)?;
        Ok(Context {
            dirs,
            now: clock_now(),
        })
    }

    /// Load and validate the config. Missing → `Ok(None)`; invalid → exit 200
    /// with every problem listed.
    pub fn config_if_present(&self) -> anyhow::Result<Option<Loaded>> {
        let path = &self.dirs.config_file;
        let text = match config::load::read_config_text(path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(problem) => return Err(invalid(path, vec![problem]).into()),
        };
        let (cfg, problems) = config::check_text(&text);
        let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
            problems.into_iter().partition(Problem::is_error);
        match cfg {
            Some(config) if errors.is_empty() => Ok(Some(Loaded { config, warnings })),
            _ => Err(invalid(path, errors).into()),
        }
    }

    /// Load the config; a missing config is a config error (exit 200) that says how to make one.
    pub fn config(&self) -> anyhow::Result<Loaded> {
        self.config_if_present()?.ok_or_else(|| {
            Failure::new(
                ExitCode::Config,
                format!(
                    "no config at {}; run `oauth-mux init` (or `oauth-mux init --codex-max`), or point OMUX_CONFIG at one",
                    self.dirs.config_file.display()
                ),
            )
            .into()
        })
    }

    /// The recorded health, typed. A store that cannot be read is an error that
    /// names the file and the fix; the file is left untouched.
    pub fn health(&self) -> anyhow::Result<HealthView> {
        let file = HealthFile::load(&self.dirs.health_file()).map_err(Failure::from)?;
        Ok(HealthView::from_file(&file))
    }
}

fn invalid(path: &std::path::Path, errors: Vec<Problem>) -> Failure {
    let mut msg = format!(
        "config {} is invalid ({} problem{}):",
        path.display(),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for p in &errors {
        msg.push_str(&format!("\n  {p}"));
    }
    msg.push_str("\nrun `oauth-mux config validate` after fixing");
    Failure::new(ExitCode::Config, msg)
}

/// Typed view of the health store. Records that do not parse are kept aside
/// (their routes count as having no evidence) and listed as warnings.
#[derive(Debug, Default)]
pub struct HealthView {
    pub records: BTreeMap<String, RouteHealth>,
    pub unreadable: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl HealthView {
    pub fn from_file(file: &HealthFile) -> HealthView {
        let mut view = HealthView {
            warnings: file.warnings().to_vec(),
            ..Default::default()
        };
        for (key, value) in file.routes() {
            match RouteHealth::from_json(value) {
                Ok(r) => {
                    view.records.insert(key.clone(), r);
                }
                Err(e) => view.unreadable.push((key.clone(), e)),
            }
        }
        view
    }

    pub fn get(&self, key: &RouteKey) -> Option<&RouteHealth> {
        self.records.get(&key.to_string())
    }
}

impl HealthLookup for HealthView {
    fn health(&self, key: &RouteKey) -> Option<RouteHealth> {
        self.get(key).cloned()
    }
}

/// Attach a path-free context to I/O errors.
pub fn io_context<T>(r: std::io::Result<T>, what: &str) -> anyhow::Result<T> {
    r.with_context(|| what.to_owned())
}

/// The time commands judge by: now, or `OMUX_NOW` (an RFC 3339 instant) when it is set — for
/// tests and demos that need two commands to see the same moment. A value that does not
/// parse is ignored.
fn clock_now() -> Timestamp {
    std::env::var("OMUX_NOW")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(Timestamp::now)
}
