//! The bench's client: a minimal keep-alive HTTP/1.1 client, identical for every target, and
//! the two ways it measures (alternating blocks of requests, alternating slices of load).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procs;

pub const SMALL_BODY: &str =
    r#"{"model":"claude-sonnet-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;

/// One keep-alive connection.
pub struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

pub struct Timing {
    pub first_byte: Duration,
    pub total: Duration,
    pub status: u16,
}

/// Where one measured request goes and what it says.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub addr: SocketAddr,
    pub request: &'a [u8],
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            s,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.s.read(&mut chunk).expect("read");
        assert!(n > 0, "server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Send `bytes` and read the whole response.
    pub fn request(&mut self, bytes: &[u8]) -> Timing {
        let start = Instant::now();
        let (first_byte, status, head_len, length, chunked) = self.send_and_read_head(bytes);
        if let Some(len) = length {
            while self.buf.len() < head_len + len {
                self.fill();
            }
        } else if chunked {
            while !self.buf[head_len..].ends_with(b"0\r\n\r\n") {
                self.fill();
            }
        }
        Timing {
            first_byte,
            total: start.elapsed(),
            status,
        }
    }

    /// Send `bytes` and read until the response head is in (for streams left open).
    pub fn open(&mut self, bytes: &[u8]) -> u16 {
        self.send_and_read_head(bytes).1
    }

    fn send_and_read_head(&mut self, bytes: &[u8]) -> (Duration, u16, usize, Option<usize>, bool) {
        self.buf.clear();
        let start = Instant::now();
        self.s.write_all(bytes).unwrap();
        self.fill();
        let first_byte = start.elapsed();
        loop {
            let mut h = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut h);
            if let httparse::Status::Complete(n) = r.parse(&self.buf).unwrap() {
                let cl = r
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    });
                let chunked = r
                    .headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
                return (first_byte, r.code.unwrap(), n, cl, chunked);
            }
            self.fill();
        }
    }
}

/// A request as the bench sends it: `prefix` before the path (the session secret).
pub fn request_bytes(prefix: &str, path: &str, token: &str, accept_sse: bool) -> Vec<u8> {
    format!(
        "POST {prefix}{path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: {}\r\nContent-Length: {}\r\n\r\n{SMALL_BODY}",
        if accept_sse { "text/event-stream" } else { "application/json" },
        SMALL_BODY.len()
    )
    .into_bytes()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median and the 99th percentile of one target's requests, in ms.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dist {
    pub p50: f64,
    pub p99: f64,
}

/// `n` requests to each target, in blocks of 100 that take turns so drift (the load of other
/// jobs on the machine) hits every target alike. Each target has its own connection, warmed
/// with 100 requests first.
pub fn side_by_side(
    targets: &[Target<'_>],
    n: usize,
    pick: fn(&Timing) -> Duration,
    expect: u16,
) -> Vec<Dist> {
    let mut clients: Vec<Client> = targets.iter().map(|t| Client::connect(t.addr)).collect();
    for (client, target) in clients.iter_mut().zip(targets) {
        for _ in 0..100 {
            client.request(target.request);
        }
    }
    let mut samples: Vec<Vec<Duration>> = targets.iter().map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n / 100 {
        for ((client, target), times) in clients.iter_mut().zip(targets).zip(&mut samples) {
            for _ in 0..100 {
                let t = client.request(target.request);
                assert_eq!(t.status, expect, "status from {}", target.addr);
                times.push(pick(&t));
            }
        }
    }
    samples
        .iter_mut()
        .map(|v| {
            v.sort();
            Dist {
                p50: ms(percentile(v, 0.5)),
                p99: ms(percentile(v, 0.99)),
            }
        })
        .collect()
}

/// What one slice of load did: requests, seconds, CPU seconds of the processes watched.
#[derive(Clone, Copy, Default)]
pub struct Slice {
    pub requests: u64,
    pub seconds: f64,
    pub cpu: f64,
}

impl std::ops::AddAssign for Slice {
    fn add_assign(&mut self, o: Slice) {
        self.requests += o.requests;
        self.seconds += o.seconds;
        self.cpu += o.cpu;
    }
}

/// `conns` keep-alive clients sending `target`'s request back to back for `dur`, with the
/// CPU time of `cpu_of` counted over the slice and `sample` called every 100 ms.
pub fn load_slice(
    target: Target<'_>,
    conns: usize,
    dur: Duration,
    cpu_of: &[u32],
    sample: &mut dyn FnMut(),
) -> Slice {
    let cpu = || cpu_of.iter().map(|&p| procs::cpu_seconds(p)).sum::<f64>();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu();
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (stop, count, req) = (stop.clone(), count.clone(), target.request.to_vec());
            let addr = target.addr;
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(c.request(&req).status, 200);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let start = Instant::now();
    while start.elapsed() < dur {
        std::thread::sleep(Duration::from_millis(100));
        sample();
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    Slice {
        requests: count.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
        cpu: cpu() - cpu0,
    }
}
