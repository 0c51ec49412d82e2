//! The managed-session status artifact: one NDJSON file per session in
//! `<state>/sessions/`, a frame per line. Frames name accounts by their config label only;
//! no token, raw account id, session id or path is ever written (SPEC §8).
//!
//! The writer appends whole lines to a 0600 file in a 0700 directory; the reader skips a
//! torn last line, so a crash leaves a readable artifact. The frame types live in the core
//! ([`crate::model::session`]), and so does the verdict on them
//! ([`crate::model::session_verdict`]).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::private_fs;
pub use crate::model::session::{Artifact, FRAME_VERSION, Frame, HarnessKind, Record};

/// Appends frames to one session's artifact. Shared between the proxy threads and the
/// launcher without a lock (none on the proxy's request path): the file is opened for
/// appending and each line is built first and handed to the kernel in one `write`, which a
/// regular file takes whole (only a full disk or a signal could cut it short; the reader
/// skips a line that does not parse).
pub struct StatusWriter {
    file: File,
    name: String,
}

impl StatusWriter {
    /// Create `<dir>/<harness>-<unix_ms>-<pid>.ndjson` (0600; `dir` created 0700).
    pub fn create(dir: &Path, harness: HarnessKind) -> anyhow::Result<StatusWriter> {
        private_fs::ensure_private_dir(dir)
            .context("could not prepare the session artifact directory; set OMUX_STATE_DIR to a writable place")?;
        let ms = jiff::Timestamp::now().as_millisecond();
        let name = format!(
            "{}-{:013}-{}.ndjson",
            harness.name(),
            ms,
            std::process::id()
        );
        let file = private_fs::create_private_file(&dir.join(&name)).with_context(|| {
                format!("could not create the session status artifact {name} in the state dir (sessions/); check its permissions")
            })?;
        Ok(StatusWriter { file, name })
    }

    /// The artifact's file name (no directory: paths are never reported).
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// Append one frame, stamped with the current time. Errors are returned, never panicked.
    pub fn write(&self, frame: Frame) -> anyhow::Result<()> {
        self.append(&frame)
    }

    /// Append anything that serializes as a [`Frame`] does (the proxy's own frames, written
    /// without a conversion on the request path), stamped with the current time.
    pub fn append<F: Serialize>(&self, frame: &F) -> anyhow::Result<()> {
        #[derive(Serialize)]
        struct Line<'a, F> {
            v: u32,
            ts: String,
            #[serde(flatten)]
            frame: &'a F,
        }
        let record = Line {
            v: FRAME_VERSION,
            ts: jiff::Timestamp::now()
                .round(jiff::Unit::Millisecond)?
                .to_string(),
            frame,
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        (&self.file)
            .write_all(&line)
            .context("could not append to the session status artifact")?;
        Ok(())
    }

    /// Make everything written so far durable.
    pub fn sync(&self) -> anyhow::Result<()> {
        self.file
            .sync_all()
            .context("could not sync the session status artifact")
    }
}

/// The longest artifact line read; a longer one (no frame comes near it) is skipped
/// without ever being held whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Read an artifact, skipping lines that do not parse. Holds every frame: for a summary of
/// an artifact of any size, use [`summarize_file`].
pub fn read_artifact(path: &Path) -> anyhow::Result<Artifact> {
    let mut artifact = Artifact {
        name: file_label(path),
        ..Artifact::default()
    };
    for_each_record(path, |record| match record {
        Some(record) => artifact.records.push(record),
        None => artifact.skipped_lines += 1,
    })?;
    Ok(artifact)
}

/// Summarize an artifact while reading it, in bounded memory (one line at a time, each
/// at most [`MAX_LINE_BYTES`]), however large the file has grown.
pub fn summarize_file(
    path: &Path,
    harness: HarnessKind,
) -> anyhow::Result<crate::model::session_verdict::Summary> {
    let mut summarizer = crate::model::session_verdict::Summarizer::new(harness, &file_label(path));
    for_each_record(path, |record| match record {
        Some(record) => summarizer.feed(&record),
        None => summarizer.skipped(1),
    })?;
    Ok(summarizer.finish())
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Each line of an artifact, parsed (`None` for a line that does not parse or is longer
/// than [`MAX_LINE_BYTES`]); blank lines are passed over.
fn for_each_record(path: &Path, mut each: impl FnMut(Option<Record>)) -> anyhow::Result<()> {
    let name = file_label(path);
    let file =
        File::open(path).with_context(|| format!("could not open session artifact {name}"))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line: Vec<u8> = Vec::new();
    let mut oversized = false;
    let mut finish_line = |line: &mut Vec<u8>, oversized: &mut bool| {
        if *oversized {
            each(None);
        } else if !line.iter().all(u8::is_ascii_whitespace) {
            each(serde_json::from_slice::<Record>(line).ok());
        }
        line.clear();
        *oversized = false;
    };
    loop {
        let buf = reader
            .fill_buf()
            .context("could not read a session artifact")?;
        if buf.is_empty() {
            if !line.is_empty() || oversized {
                finish_line(&mut line, &mut oversized);
            }
            return Ok(());
        }
        let (part, used, ends) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !oversized && line.len() + part.len() <= MAX_LINE_BYTES {
            line.extend_from_slice(part);
        } else {
            oversized = true;
            line.clear();
        }
        reader.consume(used);
        if ends {
            finish_line(&mut line, &mut oversized);
        }
    }
}

/// The newest artifact of `harness` in `dir` (by the time in its name), if any.
pub fn latest_artifact(dir: &Path, harness: HarnessKind) -> anyhow::Result<Option<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).context("could not list the session artifact directory");
        }
    };
    let prefix = format!("{}-", harness.name());
    let mut best: Option<(String, PathBuf)> = None;
    for entry in entries {
        let entry = entry.context("could not list the session artifact directory")?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with(".ndjson") {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| name > *b) {
            best = Some((name, entry.path()));
        }
    }
    Ok(best.map(|(_, path)| path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn writer_creates_private_file_and_reader_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("state/sessions");
        let writer = StatusWriter::create(&sessions, HarnessKind::Codex).unwrap();
        writer
            .write(Frame::Refused {
                reason: "missing_session_secret".into(),
            })
            .unwrap();
        writer
            .write(Frame::SessionEnded {
                exit_code: 0,
                signal: None,
            })
            .unwrap();
        let path = sessions.join(writer.file_name());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&sessions).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let artifact = read_artifact(&path).unwrap();
        assert_eq!(artifact.records.len(), 2);
        assert_eq!(artifact.skipped_lines, 0);
        assert!(matches!(
            artifact.records[1].frame,
            Frame::SessionEnded { exit_code: 0, .. }
        ));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"v\":1,\"ts\":\""), "{text}");
        assert!(text.contains("\"kind\":\"refused\""), "{text}");
    }

    #[test]
    fn lines_written_by_many_threads_at_once_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let writer = StatusWriter::create(dir.path(), HarnessKind::Claude).unwrap();
        let (threads, each) = (8, 250);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let writer = &writer;
                scope.spawn(move || {
                    for i in 0..each {
                        writer
                            .write(Frame::Handoff {
                                from: Some(format!("thread-{t}")),
                                to: format!("turn-{i}-{}", "x".repeat(200)),
                                reason: "quota_exhausted".into(),
                            })
                            .unwrap();
                    }
                });
            }
        });
        let artifact = read_artifact(&dir.path().join(writer.file_name())).unwrap();
        assert_eq!(artifact.skipped_lines, 0);
        assert_eq!(artifact.records.len(), threads * each);
    }

    #[test]
    fn reader_skips_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codex-0000000000001-1.ndjson");
        fs::write(
            &path,
            "{\"v\":1,\"ts\":\"2026-11-22T05:00:00Z\",\"kind\":\"session_ended\",\"exit_code\":3}\n{\"v\":1,\"ts\":",
        )
        .unwrap();
        let artifact = read_artifact(&path).unwrap();
        assert_eq!(artifact.records.len(), 1);
        assert_eq!(artifact.skipped_lines, 1);
    }

    #[test]
    fn a_summary_streams_the_file_and_skips_an_oversized_line_without_holding_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claude-0000000000001-1.ndjson");
        let mut text = String::from(
            "{\"v\":1,\"ts\":\"2026-11-22T05:00:00Z\",\"kind\":\"refused\",\"reason\":\"missing_session_secret\"}\n",
        );
        text.push_str(&"x".repeat(3 * MAX_LINE_BYTES));
        text.push('\n');
        text.push_str(
            "{\"v\":1,\"ts\":\"2026-11-22T05:00:01Z\",\"kind\":\"requests_refused\",\"counts\":{\"missing_session_secret\":41}}\n",
        );
        text.push_str(
            "{\"v\":1,\"ts\":\"2026-11-22T05:00:02Z\",\"kind\":\"session_ended\",\"exit_code\":0}",
        );
        fs::write(&path, text).unwrap();
        let summary = summarize_file(&path, HarnessKind::Claude).unwrap();
        assert_eq!(summary.refused_requests, 42);
        assert_eq!(summary.skipped_lines, 1);
        assert_eq!(summary.frames, 3);
        assert_eq!(summary.exit_code, Some(0));
        assert_eq!(
            summary,
            crate::model::session_verdict::summarize(
                HarnessKind::Claude,
                &read_artifact(&path).unwrap()
            )
        );
    }

    #[test]
    fn latest_picks_newest_of_the_right_harness() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "codex-0000000000005-1.ndjson",
            "codex-0000000000009-1.ndjson",
            "claude-0000000000099-1.ndjson",
            "codex-0000000000010-1.txt",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let latest = latest_artifact(dir.path(), HarnessKind::Codex)
            .unwrap()
            .unwrap();
        assert!(latest.ends_with("codex-0000000000009-1.ndjson"));
        assert!(
            latest_artifact(&dir.path().join("absent"), HarnessKind::Claude)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn proxy_shaped_json_deserializes_into_frames() {
        let turn = serde_json::json!({"kind":"proxy_turn","account":"max-1","method":"POST",
            "path_kind":"responses","status":429,"classification":"quota_exhausted",
            "delivered_to_harness":false});
        let frame: Frame = serde_json::from_value(turn).unwrap();
        assert!(matches!(frame, Frame::ProxyTurn { status: 429, .. }));
        let quota = serde_json::json!({"kind":"quota_observed","account":"max-2",
            "windows":[{"window":"primary","used_percent":91.5,"resets_in_seconds":60,"window_minutes":300}]});
        let frame: Frame = serde_json::from_value(quota).unwrap();
        assert!(matches!(frame, Frame::QuotaObserved { .. }));
    }
}
