//! The bench's figures, judged against the targets of issue 18 (nginx's figures as the
//! yardstick) and written as the "Proxy" section of docs/performance.md.

use jiff::Timestamp;

use crate::client::{Dist, Slice};

/// One measure for each party of the run; `nginx` is `None` when nginx is not installed.
#[derive(Clone, Copy, Debug)]
pub struct Side<T> {
    pub direct: T,
    pub omux: T,
    pub nginx: Option<T>,
}

/// Requests per second with 16 connections, and CPU per request of whoever serves them.
#[derive(Debug)]
pub struct Throughput {
    pub rps: Side<f64>,
    /// Direct: the bench process (clients + fake provider); proxies: the proxy's processes.
    pub cpu_us: Side<f64>,
    /// The thread-per-connection floor (floor.rs): requests per second, CPU per request.
    pub floor_rps: f64,
    pub floor_cpu_us: f64,
}

impl Throughput {
    pub fn from_slices(
        direct: Slice,
        omux: Slice,
        nginx: Option<Slice>,
        floor: Slice,
    ) -> Throughput {
        let rps = |s: Slice| s.requests as f64 / s.seconds;
        let cpu = |s: Slice| s.cpu / s.requests.max(1) as f64 * 1e6;
        Throughput {
            rps: Side {
                direct: rps(direct),
                omux: rps(omux),
                nginx: nginx.map(rps),
            },
            cpu_us: Side {
                direct: cpu(direct),
                omux: cpu(omux),
                nginx: nginx.map(cpu),
            },
            floor_rps: rps(floor),
            floor_cpu_us: cpu(floor),
        }
    }
}

pub struct Figures {
    pub n: usize,
    pub secs: u64,
    pub load_before: String,
    pub load_after: String,
    /// Why there is no nginx row, when there is none.
    pub nginx_note: Option<String>,
    pub small: Side<Dist>,
    pub sse_ttfb: Side<Dist>,
    /// The direct 429 of the spent account (the first half of a failover).
    pub quota: Dist,
    /// The whole failover; `direct` is the second account's success alone.
    pub failover: Side<Dist>,
    pub throughput: Throughput,
    pub idle_rss_kib: u64,
    pub nginx_idle_rss_kib: Option<u64>,
    pub load_peak_rss_kib: u64,
    pub load_hwm_kib: u64,
    pub stream_count: usize,
    pub streams_rss_kib: u64,
    pub nginx_streams_rss_kib: Option<u64>,
    /// direct p50, proxied p50, direct p99, proxied p99 (ms), all on one CPU.
    pub one_core: [f64; 4],
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A table row for a latency: totals, added over direct for both proxies, oauth-mux's
/// added cost as a multiple of nginx's, and the target against nginx's added cost.
fn latency_row(
    out: &mut String,
    measure: &str,
    (direct, direct_text): (f64, &str),
    omux: f64,
    nginx: Option<f64>,
    target: Option<(&str, f64)>,
) {
    let added = omux - direct;
    let (nginx_total, nginx_added, ratio, judged) = match nginx {
        Some(g) => {
            let g_added = g - direct;
            let judged = target.map_or("—".to_string(), |(text, slack)| {
                format!("{text} ({})", verdict(added <= g_added + slack))
            });
            // A ratio means something only when both added something.
            let ratio = if g_added > 0.0 && added > 0.0 {
                format!("{:.1}×", added / g_added)
            } else {
                "—".into()
            };
            (
                format!("{g:.3} ms"),
                format!("{g_added:+.3} ms"),
                ratio,
                judged,
            )
        }
        None => (
            "—".into(),
            "—".into(),
            "—".into(),
            target.map_or("—".into(), |(t, _)| format!("{t} (not judged: no nginx)")),
        ),
    };
    out.push_str(&format!(
        "| {measure} | {direct_text} | {nginx_total} | {omux:.3} ms | {nginx_added} | {added:+.3} ms | {ratio} | {judged} |\n"
    ));
}

pub fn section(f: &Figures) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "DEBUG build (not representative: run `just bench-proxy`)"
    } else {
        "release profile (the shipped one: LTO, opt-level z, 3 for the HTTP path)"
    };
    let now = Timestamp::now();
    let mut s = format!(
        "## Proxy\n\n\
Measured by `just bench-proxy` (benches/proxy/) on {now:.0}, {cores} cores, {profile}; load average\n\
(1 / 5 / 15 min) {before} before the run and {after} after it: the machine is shared with other jobs,\n\
so every figure is noisy and p99 figures of a few ms on *every* side are scheduler stalls.\n\n\
Three parties, measured side by side in one run against the same loopback fake provider\n\
(src/demo/fake_provider.rs, in the bench process): **direct** to the fake; **nginx** (Debian's\n\
nginx-light, `.ci/deps/70-nginx.sh`) as a plain reverse proxy on loopback with its own temporary config\n\
(keep-alive upstream connections, the account's token set by `proxy_set_header`, unbuffered\n\
responses; failover: a 429 intercepted and the request sent again with the second token); and the\n\
**oauth-mux** session proxy in a child process over the durable pool as a managed session has it\n\
(the model's election and classifier, health writes into a temporary state dir), appending the\n\
session's status artifact; for failover, election that ignores health, so every failover pays\n\
the whole failover again.\n\
Client: a minimal keep-alive HTTP/1.1 client, the same for all three; the parties take turns in\n\
blocks of 100 requests ({n} small requests each); throughput takes turns in one-second slices of\n\
16-connection load ({secs} each).\n\n",
        before = f.load_before,
        after = f.load_after,
        n = f.n,
        secs = f.secs,
    );
    if let Some(note) = &f.nginx_note {
        s.push_str(&format!(
            "**No nginx reference row in this run:** {note}. The targets against nginx are not judged.\n\n"
        ));
    }
    s.push_str(
        "| measure | direct | nginx | oauth-mux | nginx added | oauth-mux added | oauth-mux ÷ nginx (added) | target |\n\
|---|---|---|---|---|---|---|---|\n",
    );
    let plain = |d: Dist| [format!("{:.3} ms", d.p50), format!("{:.3} ms", d.p99)];
    let (q, ok) = (f.quota, f.failover.direct);
    let failover_direct = Dist {
        p50: q.p50 + ok.p50,
        p99: q.p99 + ok.p99,
    };
    let scenarios = [
        (
            "small request",
            f.small,
            f.small.direct,
            plain(f.small.direct),
            ("≤ nginx + 0.02 ms", 0.02),
        ),
        (
            "SSE time to first byte (burst)",
            f.sse_ttfb,
            f.sse_ttfb.direct,
            plain(f.sse_ttfb.direct),
            ("≤ nginx + 0.1 ms", 0.1),
        ),
        (
            "first-hit failover (429, then success on account 2)",
            f.failover,
            failover_direct,
            [
                format!("429 {:.3} + success {:.3} ms", q.p50, ok.p50),
                format!("429 {:.3} + success {:.3} ms", q.p99, ok.p99),
            ],
            ("≤ nginx", 0.0),
        ),
    ];
    for (name, side, direct, [text50, text99], target) in scenarios {
        latency_row(
            &mut s,
            &format!("{name}, p50"),
            (direct.p50, &text50),
            side.omux.p50,
            side.nginx.map(|d| d.p50),
            Some(target),
        );
        latency_row(
            &mut s,
            &format!("{name}, p99"),
            (direct.p99, &text99),
            side.omux.p99,
            side.nginx.map(|d| d.p99),
            None,
        );
    }
    let tp = &f.throughput;
    let share = |rps: f64| 100.0 * rps / tp.rps.direct;
    let omux_share = share(tp.rps.omux);
    let (nginx_tp, tp_ratio, tp_target) = match tp.rps.nginx {
        Some(g) => (
            format!("{g:.0} req/s ({:.0}% of direct)", share(g)),
            format!("{:.2}× nginx's throughput", tp.rps.omux / g),
            format!("≥ nginx's share ({})", verdict(omux_share >= share(g))),
        ),
        None => (
            "—".into(),
            "—".into(),
            "≥ nginx's share (not judged)".into(),
        ),
    };
    s.push_str(&format!(
        "| throughput, 16 connections, small requests | {:.0} req/s | {nginx_tp} | {:.0} req/s ({omux_share:.0}% of direct) | — | — | {tp_ratio} | {tp_target} |\n",
        tp.rps.direct, tp.rps.omux
    ));
    let opt_us =
        |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} µs (nginx processes)"));
    let cpu_ratio = tp.cpu_us.nginx.map_or("—".into(), |g| {
        format!("{:.1}× nginx's CPU", tp.cpu_us.omux / g)
    });
    s.push_str(&format!(
        "| CPU per small request (under the 16-connection load) | {:.1} µs (clients + fake) | {} | {:.1} µs (proxy process) | — | — | {cpu_ratio} | — |\n",
        tp.cpu_us.direct,
        opt_us(tp.cpu_us.nginx),
        tp.cpu_us.omux
    ));
    let opt_mib = |v: Option<u64>| v.map_or("—".into(), |v| format!("{:.1} MiB", mib(v)));
    s.push_str(&format!(
        "| RSS idle | — | {} (master + workers) | {:.1} MiB | — | — | — | ≤ 10 MiB ({}) |\n",
        opt_mib(f.nginx_idle_rss_kib),
        mib(f.idle_rss_kib),
        verdict(mib(f.idle_rss_kib) <= 10.0)
    ));
    s.push_str(&format!(
        "| RSS with {} streams held open | — | {} | {:.1} MiB | — | — | — | ≤ 32 MiB ({}) |\n",
        f.stream_count,
        opt_mib(f.nginx_streams_rss_kib),
        mib(f.streams_rss_kib),
        verdict(mib(f.streams_rss_kib) <= 32.0)
    ));
    s.push_str(&format!(
        "| RSS under 16-connection load (peak sampled / high-water mark) | — | — | {:.1} / {:.1} MiB | — | — | — | — |\n\n",
        mib(f.load_peak_rss_kib),
        mib(f.load_hwm_kib)
    ));
    s.push_str(&format!(
        "**Floor** (benches/proxy/floor.rs: a thread per connection copying bytes, in the same\n\
throughput slices): {:.0} req/s with 16 connections ({:.0}% of direct), {:.1} µs of CPU per request.\n\n",
        tp.floor_rps,
        share(tp.floor_rps),
        tp.floor_cpu_us
    ));
    let [od50, op50, od99, op99] = f.one_core;
    s.push_str(&format!(
        "All on one core (client, fake and oauth-mux pinned to one CPU, so no wake-up crosses cores):\n\
small request p50 direct {od50:.3} ms, through oauth-mux {op50:.3} ms (+{:.3} ms); p99 {od99:.3} / {op99:.3} ms.\n\n\
\"Added\" is a party's time minus direct's; for failover, minus the direct 429 and the direct success\n\
together. SSE time to first byte through oauth-mux includes the deliberate hold of status and headers\n\
until the first content event (SPEC §8), which lets a quota error inside a 200 stream fail over; nginx\n\
has no such hold. The floor is the least a proxy built as SPEC §1.7 asks (blocking I/O, a\n\
thread per connection) costs on this machine: no secret check, credential, failover, artifact or\n\
TLS, one buffer per connection; what oauth-mux costs above it is its own code. Where the time goes\n\
and the history of these figures: the sections below.\n",
        op50 - od50
    ));
    s
}

/// Replace the "## Proxy" section of docs/performance.md (up to the next `## ` heading or
/// marker comment), or append it.
pub fn write_section(section: &str) {
    let path = std::env::var("OMUX_BENCH_OUT").unwrap_or_else(|_| "docs/performance.md".into());
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Performance\n".into());
    let mut out = String::new();
    let mut skipping = false;
    let mut replaced = false;
    for line in existing.lines() {
        if line.starts_with("## ") || line.starts_with("<!--") {
            skipping = line.trim() == "## Proxy";
            if skipping {
                out.push_str(section);
                out.push('\n');
                replaced = true;
                continue;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(section);
    }
    if let Some(dir) = std::path::Path::new(&path).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, out).unwrap();
    println!("wrote {path}");
}
