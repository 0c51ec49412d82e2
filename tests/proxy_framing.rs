//! Request framing at the harness side of the proxy, driven with raw bytes on real sockets.

mod kit;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kit::canary;
use kit::proxy_rig::*;
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::proxy::Harness;

const T: Duration = Duration::from_secs(5);

fn ok() -> Behaviour {
    Behaviour::SmallJson
}

#[test]
fn chunked_request_body_is_decoded_and_forwarded_with_its_bytes() {
    let rig = Rig::new(Harness::Claude, &[("one", ok())]);
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n5;ext=1\r\n{{\"a\":\r\nA\r\n1234567890\r\n1\r\n}}\r\n0\r\nx-trailer: t\r\n\r\n",
        rig.target("/v1/messages?beta=true")
    );
    let out = raw(rig.addr(), req.as_bytes(), T);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert_eq!(
        rig.fake.last_body(&canary::token("one")),
        b"{\"a\":1234567890}"
    );
    let h = rig.fake.last_headers(&canary::token("one"));
    assert!(
        !h.iter()
            .any(|(n, _)| n == "transfer-encoding" || n == "x-trailer"),
        "{h:?}"
    );
    assert!(h.contains(&("content-length".into(), "16".into())));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let rig = Rig::new(Harness::Codex, &[("one", ok())]);
    let models = rig.target("/backend-api/codex/models");
    let settings = rig.target("/backend-api/wham/settings/user");
    let usage = rig.target("/backend-api/wham/usage");
    let req = format!(
        "GET {models} HTTP/1.1\r\nHost: x\r\n\r\nGET {settings} HTTP/1.1\r\nHost: x\r\n\r\nGET {usage} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let out = raw(rig.addr(), req.as_bytes(), T);
    let a = out.find(r#"{"models":[]}"#).expect("models answer");
    let b = out.find("\r\n\r\n{}").expect("settings answer");
    let c = out.find("rate_limit").expect("usage answer");
    assert!(a < b && b < c, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3);
}

#[test]
fn keep_alive_serves_several_model_requests_on_one_connection() {
    let rig = Rig::new(Harness::Claude, &[("one", ok())]);
    let path = rig.target("/v1/messages");
    let mut s = TcpStream::connect(rig.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    for _ in 0..3 {
        s.write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
        )
        .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            text.starts_with("HTTP/1.1 200 OK") && text.contains("resp_small"),
            "{text}"
        );
    }
    assert_eq!(rig.calls("one"), 3);
}

#[test]
fn oversized_bodies_get_413_without_touching_an_account() {
    let rig = Rig::with(Harness::Claude, &[("one", ok())], |c| {
        c.limits.max_body_bytes = 1024
    });
    let path = rig.target("/v1/messages");
    let out = raw(
        rig.addr(),
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n").as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    assert!(out.contains("connection: close"));
    let chunk = "a".repeat(600);
    let out = raw(
        rig.addr(),
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n").as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    // A chunk size that would wrap the running total past u64::MAX is still too large
    // (and must not panic the connection thread or leave it buffering).
    for _ in 0..3 {
        let out = raw(
            rig.addr(),
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\n").as_bytes(),
            T,
        );
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    }
    // The default bound is 32 MiB.
    let rig32 = Rig::new(Harness::Claude, &[("one", ok())]);
    let path = rig32.target("/v1/messages");
    let out = raw(
        rig32.addr(),
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            32 * 1024 * 1024 + 1
        )
        .as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    assert_eq!(rig.fake.total_calls() + rig32.fake.total_calls(), 0);
}

#[test]
fn ambiguous_framing_is_refused_with_400() {
    let rig = Rig::new(Harness::Codex, &[("one", ok())]);
    let path = rig.target("/backend-api/codex/responses");
    for heads in [
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 2\r\nContent-Length: 3\r\n",
        "Content-Length: 2\r\nContent-Length: 2\r\n",
        "Content-Length: 2, 2\r\n",
        "Content-Length: abc\r\n",
    ] {
        let out = raw(
            rig.addr(),
            format!("POST {path} HTTP/1.1\r\nHost: x\r\n{heads}\r\n{{}}").as_bytes(),
            T,
        );
        assert!(out.starts_with("HTTP/1.1 400 "), "{heads:?} -> {out}");
    }
    let out = raw(
        rig.addr(),
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 501 "), "{out}");
    let out = raw(rig.addr(), b"POST /x HTTP/1.1\r\nHost x\r\n\r\n", T);
    assert!(
        out.starts_with("HTTP/1.1 400 ") || out.starts_with("HTTP/1.1 403 "),
        "{out}"
    );
    let out = raw(
        rig.addr(),
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            .as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert_eq!(rig.fake.total_calls(), 0);
}

#[test]
fn oversized_heads_get_431() {
    let rig = Rig::new(Harness::Codex, &[("one", ok())]);
    let path = rig.target("/backend-api/codex/models");
    let big = "a".repeat(70 * 1024);
    let out = raw(
        rig.addr(),
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
        T,
    );
    assert!(
        out.starts_with("HTTP/1.1 431 "),
        "{}",
        &out[..out.len().min(200)]
    );
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let out = raw(
        rig.addr(),
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
}

#[test]
fn slowloris_partial_head_times_out() {
    let rig = Rig::with(Harness::Codex, &[("one", ok())], |c| {
        c.limits.head_timeout = Duration::from_millis(300)
    });
    let path = rig.target("/backend-api/codex/models");
    let mut s = TcpStream::connect(rig.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Slow: ").as_bytes())
        .unwrap();
    // Dribble a byte now and then: the bound is on the whole head, not on each read.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
        let _ = s.write_all(b"a");
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let took = started.elapsed();
    assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(rig.fake.total_calls(), 0);
}

#[test]
fn client_disconnect_mid_stream_releases_the_upstream() {
    let rig = Rig::new(
        Harness::Codex,
        &[(
            "one",
            Behaviour::SlowStream {
                events: 200,
                interval_ms: 20,
            },
        )],
    );
    let path = rig.target("/backend-api/codex/responses");
    let mut s = TcpStream::connect(rig.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("part 3 ") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended early");
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(3);
    while rig.fake.released_streams() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rig.fake.released_streams(),
        1,
        "upstream stream still running after the harness left"
    );
    assert_eq!(rig.fake.completed_streams(), 0);
}

#[test]
fn expect_100_continue_is_honoured() {
    let rig = Rig::new(Harness::Claude, &[("one", ok())]);
    let path = rig.target("/v1/messages");
    let mut s = TcpStream::connect(rig.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"{}").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    let h = rig.fake.last_headers(&canary::token("one"));
    assert!(!h.iter().any(|(n, _)| n == "expect"));
}

#[test]
fn http10_client_gets_a_close_delimited_stream() {
    let rig = Rig::new(
        Harness::Codex,
        &[(
            "one",
            Behaviour::Succeed {
                text: "old client".into(),
            },
        )],
    );
    let path = rig.target("/backend-api/codex/responses");
    let out = raw(
        rig.addr(),
        format!("POST {path} HTTP/1.0\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
        T,
    );
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert!(!out.contains("transfer-encoding"));
    assert!(out.contains("old client") && out.contains("response.completed"));
}

#[test]
fn chunked_body_split_inside_its_crlfs_is_reassembled() {
    let rig = Rig::new(Harness::Claude, &[("one", ok())]);
    let path = rig.target("/v1/messages");
    let mut s = TcpStream::connect(rig.addr()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.set_nodelay(true).unwrap();
    let pieces: [&[u8]; 4] = [
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").as_bytes().to_vec().leak(),
        b"2\r\n{}\r",
        b"\n0\r",
        b"\n\r\n",
    ];
    for p in pieces {
        s.write_all(p).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert_eq!(rig.fake.last_body(&canary::token("one")), b"{}");
}
