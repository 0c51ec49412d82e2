//! `just bench-proxy`: what the session proxy costs, measured side by side in one run against
//! the loopback fake provider directly and against nginx as a plain reverse proxy in front of
//! the same fake (the reference row). Writes the "Proxy" section of docs/performance.md (or
//! the path in `OMUX_BENCH_OUT`).
//!
//! Child modes of the same binary: `--child` runs one oauth-mux proxy (proxy_child.rs),
//! `--floor` the thread-per-connection floor (floor.rs), `--one-core-latency` the
//! small-request comparison pinned to one CPU, `--profile-load` one party under load for
//! `perf`/`strace`.

mod client;
mod floor;
mod nginx;
mod procs;
mod proxy_child;
mod report;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use client::{Client, Dist, Slice, Target, load_slice, request_bytes, side_by_side};
use nginx::Nginx;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use proxy_child::ProxyChild;
use report::{Figures, Side, Throughput};

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_n() -> usize {
    env_number("OMUX_BENCH_N", 5000)
}

/// Pin this process (and so every thread and child it starts from now on) to one CPU.
fn pin_to_one_cpu() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only
    // read and write that set, for the calling process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity"
        );
    }
}

fn addr_of(fake: &FakeProvider) -> SocketAddr {
    fake.origin().trim_start_matches("http://").parse().unwrap()
}

/// Child mode `--one-core-latency`: the small-request comparison with the client, the fake
/// provider and the proxy all on one CPU, so no request waits for a wake-up on the other
/// core. Prints `direct_p50 proxied_p50 direct_p99 proxied_p99` in ms.
fn one_core_latency() {
    pin_to_one_cpu();
    let fake = FakeProvider::start(vec![("bench-small".into(), Behaviour::SmallJson)]).unwrap();
    let proxy = ProxyChild::spawn(&fake.origin(), &[("small", "bench-small")]);
    let direct = request_bytes("", "/v1/messages", "bench-small", false);
    let proxied = request_bytes(&proxy.prefix, "/v1/messages", "placeholder", false);
    let d = side_by_side(
        &[
            Target {
                addr: addr_of(&fake),
                request: &direct,
            },
            Target {
                addr: proxy.addr,
                request: &proxied,
            },
        ],
        bench_n(),
        |t| t.total,
        200,
    );
    println!("{} {} {} {}", d[0].p50, d[1].p50, d[0].p99, d[1].p99);
}

/// Run [`one_core_latency`] in a child process: (direct p50, proxied p50, direct p99, proxied p99).
fn measure_one_core_latency() -> [f64; 4] {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--one-core-latency")
        .stderr(Stdio::inherit())
        .output()
        .expect("run the one-core latency child");
    assert!(out.status.success(), "one-core latency child failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().expect("one-core latency figure"))
        .collect();
    [v[0], v[1], v[2], v[3]]
}

/// Child mode `--profile-load SECONDS [named|floor|usage|failover|plain [CONNECTIONS]]`: for
/// `perf`/`strace`
/// (docs/performance.md): start the fake and one oauth-mux proxy (with `named`, one that
/// reaches the fake by the name `localhost`, as it reaches a provider by its host name; with
/// `floor`, the thread-per-connection floor instead; with `usage`, a fake whose answers carry
/// usage headers, as real providers' do; with `failover`, the failover scenario's proxy, whose
/// every request meets a spent account's 429 and goes on to a second account's stream), print
/// its pid, wait 2 s (attach then),
/// put load of small requests on it from CONNECTIONS connections (16 unless given; `plain`
/// is the default variant) for SECONDS, and print the request count
/// and its CPU per request.
fn profile_load(args: &[String]) {
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let variant = args.get(1).map(String::as_str);
    let connections: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let answer = match variant {
        Some("usage") => Behaviour::SmallJsonWithUsage { used_percent: 40.0 },
        _ => Behaviour::SmallJson,
    };
    let fake = FakeProvider::start(vec![
        ("bench-small".into(), answer),
        (
            "bench-quota".into(),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            "bench-sse".into(),
            Behaviour::Succeed {
                text: "benchmark".into(),
            },
        ),
    ])
    .unwrap();
    let origin = match variant {
        Some("named") => fake.origin().replace("127.0.0.1", "localhost"),
        _ => fake.origin(),
    };
    let (pid, addr, request, _keep) = if variant == Some("floor") {
        let floor = floor::Floor::spawn(addr_of(&fake));
        let request = request_bytes("", "/v1/messages", "bench-small", false);
        (floor.pid(), floor.addr, request, Measured::Floor(floor))
    } else if variant == Some("failover") {
        let proxy = ProxyChild::spawn_forgetful(
            &origin,
            &[("spent", "bench-quota"), ("fresh", "bench-sse")],
        );
        let request = request_bytes(&proxy.prefix, "/v1/messages", "placeholder", true);
        (proxy.pid(), proxy.addr, request, Measured::Proxy(proxy))
    } else {
        let proxy = ProxyChild::spawn(&origin, &[("small", "bench-small")]);
        let request = request_bytes(&proxy.prefix, "/v1/messages", "placeholder", false);
        (proxy.pid(), proxy.addr, request, Measured::Proxy(proxy))
    };
    println!("pid {pid}");
    std::thread::sleep(Duration::from_secs(2));
    let target = Target {
        addr,
        request: &request,
    };
    let done = load_slice(
        target,
        connections,
        Duration::from_secs(secs),
        &[pid],
        &mut || {},
    );
    println!(
        "{} requests in {:.1} s; CPU {:.1} us per request",
        done.requests,
        done.seconds,
        done.cpu / done.requests as f64 * 1e6
    );
}

/// The child process [`profile_load`] measures, kept alive until it ends.
enum Measured {
    Floor(#[allow(dead_code)] floor::Floor),
    Proxy(#[allow(dead_code)] ProxyChild),
}

/// Resident memory of these processes together, in KiB.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| procs::status_kib(p, "VmRSS:")).sum()
}

/// RSS of `pids` with `count` streams held open through `target` (each answered head first,
/// its body still coming).
fn streams_rss_kib(target: Target<'_>, count: usize, pids: &[u32]) -> u64 {
    let clients: Vec<Client> = (0..count)
        .map(|_| {
            let mut c = Client::connect(target.addr);
            assert_eq!(c.open(target.request), 200, "stream from {}", target.addr);
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let rss = rss_kib(pids);
    drop(clients);
    rss
}

/// A measured party: where its requests go and what they say per scenario.
struct Party<'a> {
    small: Target<'a>,
    sse: Target<'a>,
    failover: Target<'a>,
    stream: Target<'a>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => return proxy_child::child(&args[1..]),
        Some("--one-core-latency") => return one_core_latency(),
        Some("--profile-load") => return profile_load(&args[1..]),
        Some("--floor") => return floor::child(&args[1..]),
        _ if args.iter().any(|a| a == "--list") => return, // `cargo bench -- --list`
        _ => {}
    }
    let n = bench_n();
    let secs: u64 = env_number("OMUX_BENCH_SECS", 5);
    let load_before = procs::load_average();
    let fake = FakeProvider::start(vec![
        ("bench-small".into(), Behaviour::SmallJson),
        (
            "bench-sse".into(),
            Behaviour::Succeed {
                text: "benchmark".into(),
            },
        ),
        (
            "bench-quota".into(),
            Behaviour::QuotaExhausted {
                resets_in_seconds: 3600,
            },
        ),
        (
            "bench-stream".into(),
            Behaviour::SlowStream {
                events: 100,
                interval_ms: 100,
            },
        ),
    ])
    .unwrap();
    let fake_addr = addr_of(&fake);
    let origin = fake.origin();

    let nginx = Nginx::start(fake_addr);
    if let Err(note) = &nginx {
        eprintln!("bench-proxy: NO NGINX REFERENCE ROW: {note}");
    }
    let nginx = nginx.as_ref();
    let small = ProxyChild::spawn(&origin, &[("small", "bench-small")]);
    let sse = ProxyChild::spawn(&origin, &[("sse", "bench-sse")]);
    let fo =
        ProxyChild::spawn_forgetful(&origin, &[("spent", "bench-quota"), ("fresh", "bench-sse")]);
    let streams = ProxyChild::spawn(&origin, &[("stream", "bench-stream")]);
    let floor = floor::Floor::spawn(fake_addr);
    std::thread::sleep(Duration::from_millis(200));
    let idle_rss = procs::status_kib(small.pid(), "VmRSS:");
    let nginx_idle_rss = nginx.map(|g| rss_kib(&g.pids())).ok();
    println!("proxy idle RSS: {idle_rss} KiB; nginx (all processes): {nginx_idle_rss:?} KiB");

    let req =
        |prefix: &str, token: &str, sse: bool| request_bytes(prefix, "/v1/messages", token, sse);
    let direct_small = req("", "bench-small", false);
    let direct_sse = req("", "bench-sse", true);
    let direct_429 = req("", "bench-quota", true);
    let omux_small = req(&small.prefix, "placeholder", false);
    let omux_sse = req(&sse.prefix, "placeholder", true);
    let omux_fo = req(&fo.prefix, "placeholder", true);
    let omux_stream = req(&streams.prefix, "placeholder", true);
    let nginx_small = req(nginx::SMALL_PREFIX, "placeholder", false);
    let nginx_sse = req(nginx::SSE_PREFIX, "placeholder", true);
    let nginx_fo = req(nginx::FAILOVER_PREFIX, "placeholder", true);
    let nginx_stream = req(nginx::STREAM_PREFIX, "placeholder", true);

    let omux = Party {
        small: Target {
            addr: small.addr,
            request: &omux_small,
        },
        sse: Target {
            addr: sse.addr,
            request: &omux_sse,
        },
        failover: Target {
            addr: fo.addr,
            request: &omux_fo,
        },
        stream: Target {
            addr: streams.addr,
            request: &omux_stream,
        },
    };
    let reference = nginx.ok().map(|g| Party {
        small: Target {
            addr: g.addr,
            request: &nginx_small,
        },
        sse: Target {
            addr: g.addr,
            request: &nginx_sse,
        },
        failover: Target {
            addr: g.addr,
            request: &nginx_fo,
        },
        stream: Target {
            addr: g.addr,
            request: &nginx_stream,
        },
    });
    let direct = |request| Target {
        addr: fake_addr,
        request,
    };

    // Each scenario: direct, oauth-mux, then nginx when present, in one alternating run.
    let scenario = |pick_target: for<'a> fn(&'a Party<'a>) -> Target<'a>,
                    direct_target: Target<'_>,
                    count: usize,
                    pick: fn(&client::Timing) -> Duration,
                    expect: u16|
     -> Side<Dist> {
        let mut targets = vec![direct_target, pick_target(&omux)];
        targets.extend(reference.as_ref().map(pick_target));
        let d = side_by_side(&targets, count, pick, expect);
        Side {
            direct: d[0],
            omux: d[1],
            nginx: d.get(2).copied(),
        }
    };
    let small_lat = scenario(|p| p.small, direct(&direct_small), n, |t| t.total, 200);
    println!("small: {small_lat:?}");
    let sse_ttfb = scenario(|p| p.sse, direct(&direct_sse), n / 2, |t| t.first_byte, 200);
    println!("sse ttfb: {sse_ttfb:?}");
    let quota = side_by_side(&[direct(&direct_429)], n / 2, |t| t.total, 429)[0];
    let failover = scenario(|p| p.failover, direct(&direct_sse), n / 2, |t| t.total, 200);
    println!("failover: {failover:?}; direct 429 {quota:?}");

    // Throughput: alternating one-second slices of direct, oauth-mux, nginx and floor load.
    let me = std::process::id();
    let nginx_pids = nginx.map(|g| g.pids()).unwrap_or_default();
    let (mut td, mut to, mut tn) = (Slice::default(), Slice::default(), Slice::default());
    let mut tf = Slice::default();
    let floor_target = Target {
        addr: floor.addr,
        request: &direct_small,
    };
    let mut peak = 0u64;
    let slice = Duration::from_secs(1);
    for _ in 0..secs.max(1) {
        td += load_slice(direct(&direct_small), 16, slice, &[me], &mut || {});
        to += load_slice(omux.small, 16, slice, &[small.pid()], &mut || {
            peak = peak.max(procs::status_kib(small.pid(), "VmRSS:"));
        });
        if let Some(r) = &reference {
            tn += load_slice(r.small, 16, slice, &nginx_pids, &mut || {});
        }
        tf += load_slice(floor_target, 16, slice, &[floor.pid()], &mut || {});
    }
    let hwm = procs::status_kib(small.pid(), "VmHWM:");
    let throughput = Throughput::from_slices(td, to, reference.as_ref().map(|_| tn), tf);
    println!("throughput: {throughput:?}; RSS peak {peak} KiB, HWM {hwm} KiB");

    let stream_count = 64;
    let omux_streams_rss = streams_rss_kib(omux.stream, stream_count, &[streams.pid()]);
    let nginx_streams_rss = reference
        .as_ref()
        .map(|r| streams_rss_kib(r.stream, stream_count, &nginx_pids));
    println!("{stream_count} streams: RSS {omux_streams_rss} KiB; nginx {nginx_streams_rss:?} KiB");

    let one_core = measure_one_core_latency();
    println!("one core: {one_core:?}");
    let figures = Figures {
        n,
        secs,
        load_before,
        load_after: procs::load_average(),
        nginx_note: nginx.err().cloned(),
        small: small_lat,
        sse_ttfb,
        quota,
        failover,
        throughput,
        idle_rss_kib: idle_rss,
        nginx_idle_rss_kib: nginx_idle_rss,
        load_peak_rss_kib: peak,
        load_hwm_kib: hwm,
        stream_count,
        streams_rss_kib: omux_streams_rss,
        nginx_streams_rss_kib: nginx_streams_rss,
        one_core,
    };
    report::write_section(&report::section(&figures));
}
