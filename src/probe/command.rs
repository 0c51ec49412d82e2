//! Command probes: run the capability's argv against the account's config dir,
//! capture bounded output, and map the exit to an HTTP-like status for the one
//! classifier (0 → 200, non-zero → 400, signal → 500, timeout → 408).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::model::runtime::RuntimeReadiness;

/// The most of stdout (and, separately, stderr) a probe keeps (1 MiB).
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// How to run one command probe.
#[derive(Debug, Clone)]
pub struct CommandSpec<'a> {
    pub argv: &'a [String],
    /// Extra environment (config-dir env and `OMUX_ACTIVE_*`), on top of the inherited one.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// What a finished (or timed-out) probe command produced.
#[derive(Debug, Clone)]
pub struct CommandResult {
    /// 200, 400, 500 or 408 (see the module docs).
    pub status: u16,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr joined, prefixed by the timeout note when it timed out.
    pub hint: String,
}

/// Run a probe command. `Err` is a local runtime problem (missing binary, no
/// permission): it says nothing about the account and must not be recorded as liveness.
pub fn run(spec: &CommandSpec<'_>) -> Result<CommandResult, RuntimeReadiness> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(RuntimeReadiness::MissingBinary {
            binary: String::new(),
        });
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout kills the whole tree and the
        // output pipes close.
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => RuntimeReadiness::PermissionDenied {
            what: program.clone(),
        },
        _ => RuntimeReadiness::MissingBinary {
            binary: program.clone(),
        },
    })?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= spec.timeout => {
                timed_out = true;
                kill_tree(&mut child);
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let exit_code = status.and_then(|s| s.code());
    let http_status = if timed_out {
        408
    } else {
        match exit_code {
            Some(0) => 200,
            Some(_) => 400,
            None => 500,
        }
    };
    let mut hint = String::new();
    if timed_out {
        hint.push_str(&format!(
            "probe command timed out after {} ms",
            spec.timeout.as_millis()
        ));
    }
    for part in [&stdout, &stderr] {
        if !part.trim().is_empty() {
            if !hint.is_empty() {
                hint.push('\n');
            }
            hint.push_str(part.trim_end());
        }
    }
    Ok(CommandResult {
        status: http_status,
        exit_code,
        timed_out,
        stdout,
        stderr,
        hint,
    })
}

/// Read a pipe to its end on a thread, keeping the first [`MAX_OUTPUT_BYTES`]
/// and discarding the rest (so a chatty child never blocks on a full pipe).
fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let Some(mut pipe) = pipe else {
            return String::new();
        };
        let mut kept = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: signalling the process group we created for this child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> Result<CommandResult, RuntimeReadiness> {
        let argv = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
        run(&CommandSpec {
            argv: &argv,
            env: vec![("OMUX_T".into(), "v".into())],
            timeout: Duration::from_millis(timeout_ms),
        })
    }

    #[test]
    fn exit_codes_map_to_statuses() {
        assert_eq!(sh("echo ok", 5000).unwrap().status, 200);
        let r = sh("echo \"$OMUX_T\"; echo err >&2; exit 3", 5000).unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.exit_code, Some(3));
        assert_eq!(r.hint, "v\nerr");
        assert_eq!(sh("kill -9 $$", 5000).unwrap().status, 500);
    }

    #[test]
    fn timeout_kills_and_maps_to_408() {
        let r = sh("sleep 30 & sleep 30", 200).unwrap();
        assert_eq!(r.status, 408);
        assert!(r.timed_out);
        assert!(r.hint.starts_with("probe command timed out after 200 ms"));
    }

    #[test]
    fn missing_binary_is_a_runtime_problem() {
        let argv = vec!["/nonexistent/omux-probe-bin".to_owned()];
        let err = run(&CommandSpec {
            argv: &argv,
            env: vec![],
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert_eq!(err.label(), "missing_binary");
    }

    #[test]
    fn output_is_bounded() {
        let r = sh("head -c 3000000 /dev/zero | tr '\\0' a", 10_000).unwrap();
        assert_eq!(r.stdout.len(), MAX_OUTPUT_BYTES);
    }
}
