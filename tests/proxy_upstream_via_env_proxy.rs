//! The session proxy's upstream traffic honours `HTTPS_PROXY`/`HTTP_PROXY` (corporate
//! gateways): a non-loopback upstream is reached through the configured proxy. One test per
//! file, because it sets the process environment.

mod proxy_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::proxy::Harness;
use proxy_support::*;

/// A forward proxy that records each request line and answers every request with a small
/// JSON 200 (tunnelling first when asked to CONNECT).
fn forward_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                log.lock().unwrap().push(line.trim_end().to_string());
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                if line.starts_with("CONNECT ") {
                    out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    continue;
                }
                let answer = br#"{"type":"message","content":[{"type":"text","text":"via the corporate proxy"}]}"#;
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    answer.len()
                )
                .unwrap();
                out.write_all(answer).unwrap();
            }
        }
    });
    (url, seen)
}

#[test]
fn a_remote_upstream_is_reached_through_the_environment_proxy() {
    let (proxy_url, seen) = forward_proxy();
    // SAFETY: this test file holds one test; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("HTTPS_PROXY", &proxy_url);
        std::env::set_var("HTTP_PROXY", &proxy_url);
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let rig = Rig::with(
        Harness::Claude,
        &[("one", Behaviour::WindowlessRateLimit)],
        |c| c.upstream = "http://api.upstream.invalid".into(),
    );
    let seen_by_harness = claude_turn(&rig);
    assert_eq!(seen_by_harness.status, 200, "{seen_by_harness:?}");
    assert!(seen_by_harness.body.contains("via the corporate proxy"));
    let lines = seen.lock().unwrap().clone();
    assert_eq!(
        lines,
        vec![
            "CONNECT api.upstream.invalid:80 HTTP/1.1".to_string(),
            "POST /v1/messages?beta=true HTTP/1.1".to_string(),
        ],
        "the request went through a tunnel opened by the proxy"
    );
    assert_eq!(rig.fake.total_calls(), 0);
}
