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
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::private_fs;
pub use crate::model::session::{Artifact, FRAME_VERSION, Frame, HarnessKind, Record};

/// Appends frames to one session's artifact, a whole line per `write`, which a regular file
/// takes whole (only a full disk or a signal could cut it short; the reader skips a line
/// that does not parse).
///
/// A routine frame (a proxy turn whose answer reached the harness with a 2xx status, or a
/// usage reading: most of a session's lines) is not written on the request path: it waits in memory until the next
/// other frame, the writer's flusher ([`FLUSH_INTERVAL`] after the first waiting line),
/// [`StatusWriter::sync`] or the writer's end, so a busy session pays one `write` per
/// interval instead of one per request (docs/performance.md). Every other frame is written
/// at once, after the turns waiting before it, so the file keeps the order frames came in.
/// A crash of oauth-mux itself can lose at most the last interval's routine frames.
pub struct StatusWriter {
    shared: Arc<Shared>,
    name: String,
}

/// How long a routine turn may wait in memory before it reaches the file.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Routine turns waiting beyond this many bytes are written at once.
const MAX_PENDING_BYTES: usize = 64 * 1024;

struct Shared {
    file: File,
    /// [`FLUSH_INTERVAL`] (tests stretch it to see what waits).
    interval: Duration,
    pending: Mutex<Pending>,
    /// Wakes the flusher when a routine turn starts waiting, or the writer ends.
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    flusher_started: bool,
    ended: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write what is waiting (under the lock, so nothing overtakes it).
    fn write_pending(&self, pending: &mut Pending) -> anyhow::Result<()> {
        if pending.lines.is_empty() {
            return Ok(());
        }
        let result = (&self.file).write_all(&pending.lines);
        pending.lines.clear();
        result.context("could not append to the session status artifact")
    }

    /// The flusher: waits for a routine turn, gives the others of the interval time to
    /// join it, writes them in one go.
    fn flush_loop(&self) {
        let mut pending = self.lock();
        loop {
            while pending.lines.is_empty() && !pending.ended {
                pending = self.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
            if pending.ended {
                return;
            }
            drop(pending);
            std::thread::sleep(self.interval);
            pending = self.lock();
            let _ = self.write_pending(&mut pending);
        }
    }
}

/// One artifact line: the frame stamped with the current time, as [`Record`] serializes
/// (`{"v":…,"ts":"…",` then the frame's own members). The stamp is written first and the
/// frame's object joined to it, rather than serializing a `Record` whose flattened frame
/// goes through serde's map machinery: this runs on every proxied request.
fn line_of<F: Serialize>(frame: &F) -> anyhow::Result<Vec<u8>> {
    let ts = jiff::Timestamp::now().round(jiff::Unit::Millisecond)?;
    let mut line = Vec::with_capacity(256);
    write!(line, "{{\"v\":{FRAME_VERSION},\"ts\":\"")?;
    write_stamp(&mut line, ts)?;
    line.push(b'"');
    let frame_at = line.len();
    serde_json::to_writer(&mut line, frame)?;
    match line.get(frame_at..frame_at + 2) {
        Some(b"{}") => {
            line.truncate(frame_at);
            line.push(b'}');
        }
        Some([b'{', _]) => line[frame_at] = b',',
        _ => anyhow::bail!("a frame must serialize as a JSON object"),
    }
    line.push(b'\n');
    Ok(line)
}

/// `ts` exactly as jiff displays it (RFC 3339 UTC, a fraction only as long as it needs to
/// be), with the date and time of day formatted once per second per thread: most lines of a
/// busy session fall in a second whose text is already made.
fn write_stamp(out: &mut Vec<u8>, ts: jiff::Timestamp) -> std::io::Result<()> {
    thread_local! {
        static SECOND: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let (second, nanos) = (ts.as_second(), ts.subsec_nanosecond());
    if second < 0 || nanos % 1_000_000 != 0 {
        return write!(out, "{ts}");
    }
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            *text = jiff::Timestamp::from_second(second)
                .unwrap_or(ts)
                .to_string();
            *cached = second;
        }
        // The whole second's text ends with its `Z`; the fraction goes before it.
        out.extend_from_slice(text.trim_end_matches('Z').as_bytes());
    });
    // Not negative: the second is not before 1970.
    let millis = (nanos / 1_000_000) as u32;
    if millis != 0 {
        let digit = |d: u32| b'0' + (d % 10) as u8;
        let fraction = [b'.', digit(millis / 100), digit(millis / 10), digit(millis)];
        let len = fraction
            .iter()
            .rposition(|&b| b != b'0')
            .map_or(1, |i| i + 1);
        out.extend_from_slice(&fraction[..len]);
    }
    out.push(b'Z');
    Ok(())
}

impl StatusWriter {
    /// Create `<dir>/<harness>-<unix_ms>-<pid>.ndjson` (0600; `dir` created 0700).
    pub fn create(dir: &Path, harness: HarnessKind) -> anyhow::Result<StatusWriter> {
        Self::create_flushing_every(dir, harness, FLUSH_INTERVAL)
    }

    fn create_flushing_every(
        dir: &Path,
        harness: HarnessKind,
        interval: Duration,
    ) -> anyhow::Result<StatusWriter> {
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
        let shared = Arc::new(Shared {
            file,
            interval,
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        Ok(StatusWriter { shared, name })
    }

    /// The artifact's file name (no directory: paths are never reported).
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// Append one frame, stamped with the current time: a routine frame waits for the
    /// flusher, any other frame is written at once. Errors are returned, never panicked.
    pub fn write(&self, frame: Frame) -> anyhow::Result<()> {
        if is_routine(&frame) {
            self.append_routine(&frame)
        } else {
            self.append(&frame)
        }
    }

    /// Append anything that serializes as a [`Frame`] does, written at once (after the
    /// routine turns waiting before it).
    pub fn append<F: Serialize>(&self, frame: &F) -> anyhow::Result<()> {
        let line = line_of(frame)?;
        let mut pending = self.shared.lock();
        if pending.lines.is_empty() {
            drop(pending);
            // Nothing waiting, so nothing to keep in order with: no lock held on the write.
            return (&self.shared.file)
                .write_all(&line)
                .context("could not append to the session status artifact");
        }
        pending.lines.extend_from_slice(&line);
        self.shared.write_pending(&mut pending)
    }

    /// Append a routine turn: kept in memory until the flusher writes it.
    fn append_routine<F: Serialize>(&self, frame: &F) -> anyhow::Result<()> {
        let line = line_of(frame)?;
        let mut pending = self.shared.lock();
        let was_empty = pending.lines.is_empty();
        pending.lines.extend_from_slice(&line);
        if pending.lines.len() > MAX_PENDING_BYTES {
            return self.shared.write_pending(&mut pending);
        }
        if !pending.flusher_started {
            pending.flusher_started = true;
            let shared = self.shared.clone();
            let started = std::thread::Builder::new()
                .name("omux-artifact".into())
                .spawn(move || shared.flush_loop());
            if started.is_err() {
                // No flusher: write now, as before there was one.
                pending.flusher_started = false;
                return self.shared.write_pending(&mut pending);
            }
        } else if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Write what is waiting and make everything written so far durable.
    pub fn sync(&self) -> anyhow::Result<()> {
        self.shared.write_pending(&mut self.shared.lock())?;
        self.shared
            .file
            .sync_all()
            .context("could not sync the session status artifact")
    }
}

impl Drop for StatusWriter {
    fn drop(&mut self) {
        let mut pending = self.shared.lock();
        let _ = self.shared.write_pending(&mut pending);
        pending.ended = true;
        drop(pending);
        self.shared.wake.notify_one();
    }
}

/// A turn whose answer reached the harness with a 2xx status, and a usage reading (real
/// providers send one with nearly every answer): the bulk of a session's lines, and none a
/// reader needs the moment it happens.
fn is_routine(frame: &Frame) -> bool {
    matches!(
        frame,
        Frame::ProxyTurn {
            status: 200..=299,
            delivered_to_harness: true,
            ..
        } | Frame::QuotaObserved { .. }
    )
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

    /// A line is what serializing its [`Record`] gives, byte for byte, for every kind of
    /// frame (and for anything else that serializes as an object, the empty one included).
    #[test]
    fn a_line_is_its_record_serialized() {
        for frame in crate::model::session::tests::one_of_each() {
            let line = line_of(&frame).unwrap();
            let text = std::str::from_utf8(&line).unwrap();
            let parsed: Record = serde_json::from_str(text).unwrap();
            assert_eq!(parsed.frame, frame);
            assert!(
                parsed.ts.ends_with('Z') && parsed.ts.len() >= 20,
                "{}",
                parsed.ts
            );
            let mut expected = serde_json::to_vec(&parsed).unwrap();
            expected.push(b'\n');
            assert_eq!(text, String::from_utf8(expected).unwrap());
        }
        #[derive(Serialize)]
        struct Empty {}
        let empty = line_of(&Empty {}).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(value.as_object().map(|o| o.len()), Some(2), "{value}");
        assert!(line_of(&"not an object").is_err());
    }

    /// The stamp is jiff's own text, whatever the fraction, across second boundaries.
    #[test]
    fn a_stamp_reads_as_jiff_writes_it() {
        let base = jiff::Timestamp::from_second(1_796_000_000).unwrap();
        for second in [0i64, 0, 1, 59, 60, 86_399, 86_400, 0] {
            for millis in [0i64, 1, 9, 10, 90, 99, 100, 120, 123, 500, 999] {
                let ts = base + jiff::SignedDuration::from_millis(second * 1000 + millis);
                let mut out = Vec::new();
                write_stamp(&mut out, ts).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), ts.to_string());
            }
        }
        let odd = base + jiff::SignedDuration::from_nanos(1_500);
        let mut out = Vec::new();
        write_stamp(&mut out, odd).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), odd.to_string());
    }

    /// Only delivered 2xx turns and usage readings wait for the flusher.
    #[test]
    fn routine_frames_are_delivered_turns_and_usage_readings() {
        for frame in crate::model::session::tests::one_of_each() {
            let expected = matches!(
                &frame,
                Frame::QuotaObserved { .. }
                    | Frame::ProxyTurn {
                        status: 200..=299,
                        delivered_to_harness: true,
                        ..
                    }
            );
            assert_eq!(is_routine(&frame), expected, "{frame:?}");
        }
        assert!(!is_routine(&turn(200, false)) && !is_routine(&turn(429, true)));
    }

    fn turn(status: u16, delivered: bool) -> Frame {
        Frame::ProxyTurn {
            account: "a".into(),
            method: "POST".into(),
            path_kind: "messages".into(),
            status,
            classification: "ok".into(),
            delivered_to_harness: delivered,
        }
    }

    fn kinds(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{}:{}", v["kind"].as_str().unwrap(), v["status"])
            })
            .collect()
    }

    /// Wait (up to 100 flush intervals: room for a slow machine) until the artifact holds
    /// `n` lines.
    fn wait_for_lines(path: &Path, n: usize) {
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 100;
        while kinds(path).len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the flusher never wrote line {n}"
            );
            std::thread::sleep(FLUSH_INTERVAL / 4);
        }
    }

    /// A writer whose flusher would wait an hour: whatever reaches its file, the frames
    /// themselves put there.
    fn idle_flusher_writer(dir: &Path) -> StatusWriter {
        StatusWriter::create_flushing_every(dir, HarnessKind::Codex, Duration::from_secs(3600))
            .unwrap()
    }

    #[test]
    fn routine_turns_wait_and_other_frames_are_written_at_once_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let writer = idle_flusher_writer(dir.path());
        let path = dir.path().join(writer.file_name());
        writer.write(turn(200, true)).unwrap();
        writer.write(turn(201, true)).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "",
            "routine turns are not written on the request path"
        );
        // A frame that is not routine is written at once, after the turns waiting before it.
        writer.write(turn(429, false)).unwrap();
        assert_eq!(
            kinds(&path),
            ["proxy_turn:200", "proxy_turn:201", "proxy_turn:429"]
        );
        // A 5xx shown to the harness is not routine either.
        writer.write(turn(500, true)).unwrap();
        assert_eq!(kinds(&path).len(), 4);
    }

    #[test]
    fn the_flusher_writes_a_waiting_turn_within_its_interval() {
        let dir = tempfile::tempdir().unwrap();
        let writer = StatusWriter::create(dir.path(), HarnessKind::Claude).unwrap();
        let path = dir.path().join(writer.file_name());
        writer.write(turn(202, true)).unwrap();
        wait_for_lines(&path, 1);
        assert_eq!(kinds(&path), ["proxy_turn:202"]);
        // And again after it went back to waiting.
        writer.write(turn(203, true)).unwrap();
        wait_for_lines(&path, 2);
        assert_eq!(kinds(&path)[1], "proxy_turn:203");
    }

    #[test]
    fn sync_and_the_writers_end_write_what_waits() {
        let dir = tempfile::tempdir().unwrap();
        let writer = idle_flusher_writer(dir.path());
        let path = dir.path().join(writer.file_name());
        writer.write(turn(200, true)).unwrap();
        writer.sync().unwrap();
        assert_eq!(kinds(&path), ["proxy_turn:200"]);
        writer.write(turn(204, true)).unwrap();
        drop(writer);
        assert_eq!(kinds(&path), ["proxy_turn:200", "proxy_turn:204"]);
    }

    #[test]
    fn a_burst_of_routine_turns_is_written_once_it_outgrows_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let writer = idle_flusher_writer(dir.path());
        let path = dir.path().join(writer.file_name());
        // Lines differ by a few bytes (the timestamp's fraction drops trailing zeros), so
        // twice as many as one line's length says fills the buffer past its limit for sure.
        let line = line_of(&turn(200, true)).unwrap().len();
        for _ in 0..2 * (MAX_PENDING_BYTES / line + 1) {
            writer.write(turn(200, true)).unwrap();
        }
        assert!(
            fs::metadata(&path).unwrap().len() as usize > MAX_PENDING_BYTES,
            "written without waiting for the flusher"
        );
        drop(writer);
    }

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
