//! `status-latest` summarizes an artifact of any size in bounded memory (issue 17, finding
//! 4): the artifact of a session that was flooded before refusals were summarized holds one
//! line per refused request.
#![cfg(target_os = "linux")]

mod kit;

use std::io::Write;

use kit::Sandbox;

/// Largest resident set `status-latest` may reach, whatever the artifact's size (the binary
/// alone needs a few MiB; a reader that holds every frame needs several times the file).
const MAX_RSS_BYTES: i64 = 48 * 1024 * 1024;

fn children_max_rss_bytes() -> i64 {
    // SAFETY: a zeroed rusage filled by the kernel.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    // Linux reports kilobytes.
    usage.ru_maxrss * 1024
}

#[test]
fn status_latest_reads_a_huge_artifact_in_bounded_memory() {
    let sb = Sandbox::new();
    let sessions = sb.state_dir().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    let path = sessions.join("claude-0000000000001-1.ndjson");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        file,
        r#"{{"v":1,"ts":"2026-11-22T05:00:00Z","kind":"session_started","harness":"claude","oauth_mux_version":"0.3.0","profile":"claude","account":"one","pool":["one"],"auth_kind":"oauth","child_config":"environment","side_traffic_disabled":false,"isolated_config":false}}"#
    )
    .unwrap();
    let refused = r#"{"v":1,"ts":"2026-11-22T05:00:01.123Z","kind":"refused","reason":"missing_session_secret"}"#;
    let lines = 1_000_000;
    for _ in 0..lines {
        writeln!(file, "{refused}").unwrap();
    }
    writeln!(
        file,
        r#"{{"v":1,"ts":"2026-11-22T05:10:00Z","kind":"session_ended","exit_code":0}}"#
    )
    .unwrap();
    drop(file);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 80 * 1024 * 1024, "the artifact is {size} bytes");

    let run = sb.run(&["claude", "status-latest", "--json"]);
    run.ok();
    let summary = run.json();
    assert_eq!(summary["refused_requests"], lines);
    assert_eq!(summary["exit_code"], 0);
    let rss = children_max_rss_bytes();
    eprintln!(
        "status-latest over a {} MiB artifact: peak RSS {} MiB",
        size / (1024 * 1024),
        rss / (1024 * 1024)
    );
    assert!(
        rss < MAX_RSS_BYTES,
        "status-latest reached {} MiB for a {} MiB artifact",
        rss / (1024 * 1024),
        size / (1024 * 1024)
    );
}
