//! `oauth-mux update [--check] [--json] [--yes] [--version V]`, and the check behind
//! `oauth-mux version --check`: gather the install facts, let `update::plan` decide, do the
//! fetching and swapping through `update`, print the report, exit with its code.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;

use crate::VERSION;
use crate::cli::UpdateArgs;
use crate::exit::{ExitCode, Failure, Quiet};
use crate::output;
use crate::update::download::Fetcher;
use crate::update::owner::Owner;
use crate::update::plan::{self, OwnerReport, ReleaseReport, Status, UpdateReport};
use crate::update::release::{ReleaseSource, Wanted};
use crate::update::signature::TrustedKey;
use crate::update::{self, CheckedRelease, Install, UpdateError};

/// How long a second `oauth-mux update` waits for a running one.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// What the command was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Check,
    Apply { yes: bool },
}

/// `oauth-mux update`.
pub fn run(args: &UpdateArgs) -> Result<()> {
    let wanted = match args.version.as_deref() {
        None => Wanted::Latest,
        Some(v) => Wanted::Exact(semver::Version::parse(v.trim_start_matches('v')).map_err(
            |e| {
                Failure::new(
                    ExitCode::Usage,
                    format!("--version {v}: not a version ({e}); write it like 0.3.1"),
                )
            },
        )?),
    };
    let mode = if args.check {
        Mode::Check
    } else {
        Mode::Apply { yes: args.yes }
    };
    let report = execute(mode, &wanted, args.json)?;
    output::emit(args.json, &report, plan::render_human)?;
    finish(report.exit_code())
}

/// The newest-release check of `oauth-mux version --check` (same as `update --check`).
pub fn check() -> Result<UpdateReport> {
    execute(Mode::Check, &Wanted::Latest, true)
}

/// End the process with `code` after the report was printed.
pub fn finish(code: ExitCode) -> Result<()> {
    if code == ExitCode::Ok {
        Ok(())
    } else {
        Err(Quiet(code).into())
    }
}

fn execute(mode: Mode, wanted: &Wanted, json: bool) -> Result<UpdateReport> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let install = update::inspect_install(&env)?;
    let current = semver::Version::parse(VERSION)?;
    let requested = match wanted {
        Wanted::Exact(v) => Some(v.to_string()),
        Wanted::Latest => None,
    };
    let owner = OwnerReport::new(&install.owner, requested.as_deref());
    let report = |status: Status, message: String| {
        let next = plan::next_commands(status, &owner, requested.as_deref());
        UpdateReport {
            status,
            current_version: VERSION.to_string(),
            available_version: None,
            requested_version: requested.clone(),
            downgrade: false,
            target: install.target.clone(),
            executable: install.exe.display().to_string(),
            owner: owner.clone(),
            release: None,
            message,
            error: None,
            confirmation_required: status == Status::ConfirmationRequired,
            requires: (status == Status::ConfirmationRequired).then_some("--yes"),
            next,
        }
    };

    // Replacing needs the install to be ours; saying so needs no network.
    if matches!(mode, Mode::Apply { .. }) {
        match &install.owner {
            Owner::SelfManaged => {}
            Owner::Manager(m, _) => {
                return Ok(report(
                    Status::Managed,
                    format!(
                        "{} owns this install, so `oauth-mux update` leaves it alone; upgrade \
                         it with: {}",
                        m.display(),
                        m.upgrade_command(requested.as_deref())
                    ),
                ));
            }
            Owner::Unknown => {
                return Ok(report(
                    Status::NotSelfManaged,
                    format!(
                        "no install receipt next to {}: it was not installed by install.sh, so \
                         `oauth-mux update` does not replace it",
                        install.exe.display()
                    ),
                ));
            }
        }
    }

    let source = ReleaseSource::choose(
        env("OMUX_RELEASE_BASE_URL").as_deref(),
        install
            .receipt
            .as_ref()
            .and_then(|r| r.base_url.as_deref().map(|b| (b, r.version.as_str()))),
    );
    let fetcher = Fetcher::new();
    let checked = match update::check_release(&fetcher, &source, wanted, &TrustedKey::compiled()) {
        Ok(c) => c,
        Err(e) => return refused_or_error(e, report(Status::Refused, String::new())),
    };
    let status = plan::compare(&current, &checked.version, wanted);
    let mut out = report(status, String::new());
    out.available_version = Some(checked.version.to_string());
    out.downgrade = checked.version < current;
    out.release = Some(release_report(&checked, None));
    out.message = match status {
        Status::UpToDate => format!("oauth-mux {VERSION} is up to date"),
        Status::Ahead => format!(
            "this build ({VERSION}) is newer than the newest release ({}); nothing to do",
            checked.version
        ),
        _ => format!(
            "update available: {VERSION} -> {}{}",
            checked.version,
            if out.downgrade { " (a downgrade)" } else { "" }
        ),
    };
    if mode == Mode::Check || status != Status::UpdateAvailable {
        return Ok(out);
    }

    if mode == (Mode::Apply { yes: false }) && !confirmed(&out, json)? {
        let mut pending = report(
            Status::ConfirmationRequired,
            format!(
                "replacing {VERSION} with {} needs confirmation; nothing changed",
                checked.version
            ),
        );
        pending.available_version = out.available_version;
        pending.downgrade = out.downgrade;
        pending.release = out.release;
        return Ok(pending);
    }
    apply(&install, &fetcher, &checked, out, json)
}

/// Ask on the terminal; without one (or with --json) the answer is no.
fn confirmed(report: &UpdateReport, json: bool) -> Result<bool> {
    if json || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    eprint!(
        "Replace oauth-mux {} with {} at {}? [y/N] ",
        report.current_version,
        report.available_version.as_deref().unwrap_or("?"),
        report.executable
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn apply(
    install: &Install,
    fetcher: &Fetcher,
    checked: &CheckedRelease,
    mut out: UpdateReport,
    json: bool,
) -> Result<UpdateReport> {
    update::swap::check_writable(&install.exe).map_err(anyhow::Error::msg)?;
    let dirs = crate::store::paths::Dirs::from_process_env()?;
    let lock_path = dirs.runtime_dir.join("update.lock");
    let _lock =
        crate::store::lock::ExclusiveLock::acquire(&lock_path, LOCK_WAIT).map_err(|_| {
            anyhow::anyhow!(
                "another `oauth-mux update` is running (it holds {}); wait for it to finish",
                lock_path.display()
            )
        })?;
    let show_progress = !json && std::io::stderr().is_terminal();
    let mut progress = |done: u64, total: Option<u64>| {
        if show_progress {
            let mb = |b: u64| b as f64 / 1_000_000.0;
            match total {
                Some(t) => eprint!("\rdownloading: {:.1} / {:.1} MB", mb(done), mb(t)),
                None => eprint!("\rdownloading: {:.1} MB", mb(done)),
            }
        }
    };
    let fetched = update::fetch_binary(fetcher, checked, &install.target, &mut progress);
    if show_progress {
        eprintln!();
    }
    let new = match fetched {
        Ok(n) => n,
        Err(e) => return refused_or_error(e, out),
    };
    match update::install(install, checked, &new, jiff::Timestamp::now()) {
        Ok(_receipt) => {
            out.status = Status::Updated;
            out.release = Some(release_report(checked, Some(&new)));
            out.next = Vec::new();
            out.message = format!(
                "updated oauth-mux {VERSION} -> {} at {} (archive SHA-256 checked, new binary \
                 tested, install receipt rewritten)",
                checked.version, out.executable
            );
            Ok(out)
        }
        Err(e) => refused_or_error(e, out),
    }
}

fn release_report(checked: &CheckedRelease, new: Option<&update::NewBinary>) -> ReleaseReport {
    ReleaseReport {
        url: checked.url.clone(),
        version: checked.version.to_string(),
        signed_by: checked.signed.signed_by.to_string(),
        rotated_from: checked.signed.rotated_from.map(|k| k.to_string()),
        trusted_comment: checked.signed.trusted_comment.clone(),
        archive: new.map(|n| n.archive.clone()),
        sha256: new.map(|n| n.sha256.clone()),
    }
}

/// A refusal becomes a report (exit 206); a network failure exit 204; anything else exit 1.
fn refused_or_error(e: UpdateError, mut report: UpdateReport) -> Result<UpdateReport> {
    match e {
        UpdateError::Refused(r) => {
            report.status = Status::Refused;
            report.error = Some(r.code());
            report.message = format!("update refused, nothing changed: {r}");
            report.next = plan::next_commands(
                Status::Refused,
                &report.owner,
                report.requested_version.as_deref(),
            );
            report.confirmation_required = false;
            report.requires = None;
            Ok(report)
        }
        UpdateError::Network(m) => Err(Failure::new(ExitCode::Network, m).into()),
        UpdateError::Failed(m) => Err(anyhow::anyhow!(m)),
    }
}
