//! `oauth-mux dashboard [--port N] [--open]`: a read-only page of `status` in the browser.
//!
//! Served on 127.0.0.1 only, on the proxy's blocking HTTP stack (a thread per connection,
//! a bound on connections, a short head deadline), behind a random token in the URL:
//! anything without it gets 403. One page, drawn by the server as HTML with inline SVG
//! plots and a stylesheet of its own; no script, nothing from another origin (a strict
//! Content-Security-Policy says so to the browser), and it reloads itself. `/data` is the
//! same report `status --json` prints; no secret, raw account id or path is in either.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;

use super::context::Context;
use super::status::{self, StatusReport};
use crate::cli::DashboardArgs;
use crate::output;
use crate::proxy::framing::{ClientConn, Limits};
use crate::proxy::replies::LocalReply;
use crate::proxy::response::write_local;
use crate::proxy::server::strip_secret;

mod page;

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 16;
/// Seconds between the page's own reloads.
pub const RELOAD_SECONDS: u32 = 10;

/// The browser may load only this page's own stylesheet; no script, no other origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `oauth-mux dashboard`.
pub fn run(args: &DashboardArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", args.port)).with_context(|| {
        format!(
            "could not listen on 127.0.0.1:{}; choose another --port (0 picks a free one)",
            args.port
        )
    })?;
    let addr = listener.local_addr()?;
    let token: Arc<str> = crate::proxy::new_secret()?.into();
    let url = page_url(addr, &token);
    // The URL carries the token: it goes to the user's terminal and browser, nowhere else.
    println_url(&url);
    if args.open {
        open_in_browser(&url);
    }
    serve(listener, token)
}

/// `http://127.0.0.1:PORT/<token>/`.
pub fn page_url(addr: SocketAddr, token: &str) -> String {
    format!("http://{addr}/{token}/")
}

fn println_url(url: &str) {
    output::write_stdout(
        format!("oauth-mux dashboard: {url}\n(read-only, this machine only; Ctrl-C stops it)\n")
            .as_bytes(),
    );
}

/// Hand the URL to the system's browser opener; say so when there is none.
fn open_in_browser(url: &str) {
    let opener: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    let spawned = std::process::Command::new(opener[0])
        .args(&opener[1..])
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        output::warn(&format!(
            "oauth-mux: could not start {}; open the URL above yourself",
            opener[0]
        ));
    }
}

/// Serve until the process is stopped.
pub fn serve(listener: TcpListener, token: Arc<str>) -> anyhow::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (slot, token) = (active.clone(), token.clone());
        let spawned = std::thread::Builder::new()
            .name("omux-dashboard".into())
            .spawn(move || {
                serve_one(stream, &token);
                slot.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// One request, one answer, then the connection closes.
fn serve_one(stream: TcpStream, token: &str) {
    let limits = Limits {
        head_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        max_head_bytes: 16 * 1024,
        ..Limits::default()
    };
    let mut conn = ClientConn::new(stream);
    let Ok(head) = conn.read_head(&limits) else {
        return;
    };
    let reply = answer(head.method(), head.target(), token);
    let _ = write_local(&mut conn.stream, &reply, false);
}

/// The answer to `method target`.
pub fn answer(method: &str, target: &str, token: &str) -> LocalReply {
    let Some(path) = strip_secret(target, token) else {
        return text(
            403,
            "forbidden: this dashboard needs the URL oauth-mux printed\n",
        );
    };
    if method != "GET" && method != "HEAD" {
        return text(405, "read-only: GET only\n");
    }
    let path = path.split('?').next().unwrap_or(path);
    match path {
        "/" => match report() {
            Ok(r) => html(page::render(&r)),
            Err(e) => text(500, &format!("could not read the local state: {e:#}\n")),
        },
        "/data" => match report().and_then(|r| Ok(serde_json::to_string_pretty(&r)?)) {
            Ok(json) => LocalReply {
                status: 200,
                headers: common_headers("application/json"),
                body: crate::secrets::redact::scrub_json_text(&json)
                    .into_owned()
                    .into_bytes(),
            },
            Err(e) => text(500, &format!("could not read the local state: {e:#}\n")),
        },
        "/style.css" => LocalReply {
            status: 200,
            headers: common_headers("text/css; charset=utf-8"),
            body: page::STYLE.as_bytes().to_vec(),
        },
        _ => text(404, "not found\n"),
    }
}

/// The status report at this moment (the same function `status --json` uses).
fn report() -> anyhow::Result<StatusReport> {
    let ctx = Context::from_env()?;
    let loaded = ctx.config()?;
    status::gather(&ctx, &loaded, None)
}

fn common_headers(content_type: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("content-type".into(), content_type.as_bytes().to_vec()),
        (
            "content-security-policy".into(),
            CONTENT_SECURITY_POLICY.as_bytes().to_vec(),
        ),
        ("cache-control".into(), b"no-store".to_vec()),
        ("referrer-policy".into(), b"no-referrer".to_vec()),
        ("x-content-type-options".into(), b"nosniff".to_vec()),
    ]
}

fn html(body: String) -> LocalReply {
    LocalReply {
        status: 200,
        headers: common_headers("text/html; charset=utf-8"),
        body: output::redact_text(&body).into_bytes(),
    }
}

fn text(status: u16, body: &str) -> LocalReply {
    LocalReply {
        status,
        headers: common_headers("text/plain; charset=utf-8"),
        body: body.as_bytes().to_vec(),
    }
}
