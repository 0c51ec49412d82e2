//! `oauth-mux codex config-candidate` writes a Codex Max candidate config beside the active one
//! (when the active config holds at most one Codex account; never over an existing file), and
//! `oauth-mux codex config-merge --candidate PATH` merges its Codex provider and the
//! `codex-max`/`codex-mini` profiles into the active config, keeping everything else.

use serde::Serialize;

use super::{check_doc, harness_facts, read_doc, shown_path, write_doc};
use crate::cli::{CandidateArgs, MergeArgs};
use crate::commands::context::Context;
use crate::config::edit::{self, ConfigChange, EditRefusal};
use crate::exit::{ExitCode, Failure};
use crate::harness::status::HarnessKind;
use crate::model::event::ConfigEditEvent;
use crate::output;
use crate::store::config_file;

/// The candidate's default file name, beside the active config.
pub const CANDIDATE_FILE: &str = "codex-max.config.json";

#[derive(Serialize)]
struct CandidateReport {
    ok: bool,
    created: bool,
    /// `written`, `candidate_exists`, `codex_max_configured`, `several_codex_accounts`.
    reason: &'static str,
    candidate_config: String,
    codex_accounts: Vec<String>,
    mutates_active_config: bool,
    next_commands: Vec<String>,
}

/// The active config, which must exist.
fn active(ctx: &Context) -> anyhow::Result<super::ConfigDoc> {
    ctx.config()?;
    read_doc(&ctx.dirs.config_file)?.ok_or_else(|| {
        Failure::new(ExitCode::Config, "the config disappeared while reading it").into()
    })
}

pub fn candidate(args: &CandidateArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let doc = active(&ctx)?;
    let (_, def) = harness_facts(HarnessKind::Codex);
    let out_path = args
        .output
        .clone()
        .unwrap_or_else(|| ctx.dirs.config_dir.join(CANDIDATE_FILE));
    let shown = out_path.display().to_string();
    let merge = format!("oauth-mux codex config-merge --candidate {shown}");
    let try_it = format!("OMUX_CONFIG={shown} oauth-mux route explain --profile codex-max");
    let (reason, created, accounts) = if out_path.exists() {
        ("candidate_exists", false, Vec::new())
    } else {
        match edit::codex_candidate(&doc.value, def, &ctx.dirs.data_dir) {
            Ok(candidate) => {
                check_doc(&candidate)?;
                let provider = edit::harness_provider(&candidate, "codex").unwrap_or_default();
                let accounts = edit::account_names(&candidate, &provider);
                let mut text = serde_json::to_string_pretty(&candidate)?;
                text.push('\n');
                match config_file::create_new(&out_path, text.as_bytes()) {
                    Ok(()) => ("written", true, accounts),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        ("candidate_exists", false, Vec::new())
                    }
                    Err(e) => {
                        return Err(Failure::new(
                            ExitCode::Error,
                            format!("cannot write the candidate {shown}: {e}"),
                        )
                        .into());
                    }
                }
            }
            Err(EditRefusal::SeveralCodexAccounts { .. }) => {
                let config = check_doc(&doc.value)?;
                if edit::codex_max_configured(&config) {
                    ("codex_max_configured", false, Vec::new())
                } else {
                    ("several_codex_accounts", false, Vec::new())
                }
            }
            Err(e) => return Err(Failure::new(ExitCode::Config, e.to_string()).into()),
        }
    };
    let next_commands = match reason {
        "written" | "candidate_exists" => vec![try_it, merge],
        "codex_max_configured" => vec!["oauth-mux setup codex".into()],
        _ => vec!["oauth-mux enroll plan codex --account NAME".into()],
    };
    let report = CandidateReport {
        ok: true,
        created,
        reason,
        candidate_config: shown,
        codex_accounts: accounts,
        mutates_active_config: false,
        next_commands,
    };
    output::emit(args.json, &report, |r| {
        let head = match r.reason {
            "written" => format!(
                "wrote the Codex Max candidate {} (accounts {}); the active config is unchanged",
                r.candidate_config,
                r.codex_accounts.join(", ")
            ),
            "candidate_exists" => format!(
                "{} exists already; it was left as it is (never overwritten)",
                r.candidate_config
            ),
            "codex_max_configured" => {
                "the config has the Codex Max shape already; no candidate needed".into()
            }
            _ => "the config has several Codex accounts already; add more with `oauth-mux enroll`"
                .into(),
        };
        head + &output::next_block(&r.next_commands)
    })
}

#[derive(Serialize)]
struct MergeReport {
    ok: bool,
    merged: bool,
    /// `merged_codex_max_candidate` or `already_merged`.
    reason: &'static str,
    candidate_config: String,
    config_path: String,
    config_changes: Vec<ConfigChange>,
    backup_config: Option<String>,
    next_commands: Vec<String>,
}

pub fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let ctx = Context::from_env()?;
    let path = ctx.dirs.config_file.clone();
    let _lock = config_file::lock(&path).map_err(Failure::from)?;
    let doc = active(&ctx)?;
    let candidate = read_candidate(&args.candidate)?;
    let edit = edit::merge_codex(&doc.value, &candidate).map_err(|e| {
        Failure::new(
            ExitCode::Config,
            format!("{}: {e}", args.candidate.display()),
        )
    })?;
    check_doc(&edit.config)?;
    let merged = !edit.changes.is_empty();
    let backup = if merged {
        write_doc(
            &ctx,
            Some(&doc),
            &edit.config,
            ConfigEditEvent {
                action: "config_merge".into(),
                provider: edit::harness_provider(&candidate, "codex"),
                accounts: Vec::new(),
                changed: edit.changes.iter().map(|c| c.path.clone()).collect(),
                backup_kept: false,
            },
        )?
    } else {
        None
    };
    let report = MergeReport {
        ok: true,
        merged,
        reason: if merged {
            "merged_codex_max_candidate"
        } else {
            "already_merged"
        },
        candidate_config: args.candidate.display().to_string(),
        config_path: path.display().to_string(),
        config_changes: edit.changes,
        backup_config: backup.map(|b| b.display().to_string()),
        next_commands: vec!["oauth-mux setup codex".into(), "oauth-mux doctor".into()],
    };
    output::emit(args.json, &report, |r| {
        let mut out = if r.merged {
            format!(
                "merged the Codex provider and profiles of {} into {}\n",
                r.candidate_config, r.config_path
            )
        } else {
            "the config already holds the candidate's Codex provider and profiles; nothing changed\n"
                .into()
        };
        for c in &r.config_changes {
            out.push_str(&format!("  {}\n", c.render()));
        }
        if let Some(b) = &r.backup_config {
            out.push_str(&format!("previous config kept as {b}\n"));
        }
        out + &output::next_block(&r.next_commands)
    })
}

/// The candidate: a readable JSON object that is a valid config.
fn read_candidate(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let doc = read_doc(path)?.ok_or_else(|| {
        Failure::new(
            ExitCode::Config,
            format!(
                "no candidate at {}; write one with `oauth-mux codex config-candidate`",
                shown_path(path)
            ),
        )
    })?;
    check_doc(&doc.value).map_err(|e| {
        Failure::new(
            ExitCode::Config,
            format!("the candidate {} is invalid: {e:#}", path.display()),
        )
    })?;
    Ok(doc.value)
}
