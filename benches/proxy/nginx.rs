//! The reference row: nginx as a plain reverse proxy on loopback, in front of the same fake
//! provider, with its own temporary config (the package's service and config are not used).
//! `.ci/deps/70-nginx.sh` installs Debian's nginx-light.
//!
//! What it does per request is the least a proxy can do and still stand where oauth-mux
//! stands: keep-alive connections to the upstream, the account's credential set on the way
//! (`proxy_set_header Authorization`, as oauth-mux injects it), responses streamed unbuffered.
//! Its failover is the closest nginx has to oauth-mux's: a 429 from the first account is
//! intercepted and the request (body kept) is sent again with the second account's token.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the bench looks for nginx: `OMUX_BENCH_NGINX`, else `nginx` on PATH, else the Debian path.
fn nginx_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("OMUX_BENCH_NGINX") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nginx");
        debian.is_file().then_some(debian)
    })
}

/// The paths nginx answers, each standing for one of the bench's scenarios.
pub const SMALL_PREFIX: &str = "/small";
pub const SSE_PREFIX: &str = "/sse";
pub const FAILOVER_PREFIX: &str = "/failover";
pub const STREAM_PREFIX: &str = "/stream";

/// A running nginx (master and workers), stopped and its directory removed when dropped.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// Headers every location sets again (a location's own `proxy_set_header` replaces all the
/// inherited ones): keep the upstream connection alive, and the fake's host name.
const KEEP_ALIVE: &str = r#"proxy_set_header Connection ""; proxy_set_header Host bench;"#;

fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr, workers: usize) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process on;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream fake {{
        server {upstream};
        keepalive 64;
        keepalive_requests 100000000;
    }}
    keepalive_requests 100000000;
    proxy_http_version 1.1;
    proxy_buffering off;
    server {{
        listen {listen};
        location {SMALL_PREFIX}/ {{
            proxy_pass http://fake/;
            proxy_set_header Authorization "Bearer bench-small";
            {KEEP_ALIVE}
        }}
        location {SSE_PREFIX}/ {{
            proxy_pass http://fake/;
            proxy_set_header Authorization "Bearer bench-sse";
            {KEEP_ALIVE}
        }}
        location {FAILOVER_PREFIX}/ {{
            proxy_pass http://fake/;
            proxy_set_header Authorization "Bearer bench-quota";
            {KEEP_ALIVE}
            proxy_intercept_errors on;
            error_page 429 = @second_account;
        }}
        location {STREAM_PREFIX}/ {{
            proxy_pass http://fake/;
            proxy_set_header Authorization "Bearer bench-stream";
            {KEEP_ALIVE}
        }}
        location @second_account {{
            rewrite ^{FAILOVER_PREFIX}(/.*)$ $1 break;
            proxy_pass http://fake;
            proxy_set_header Authorization "Bearer bench-sse";
            {KEEP_ALIVE}
        }}
    }}
}}
"#
    )
}

impl Nginx {
    /// Start nginx in front of `upstream`, or say why not (`Err` holds the note for the
    /// report: nginx missing, or it failed to start).
    pub fn start(upstream: SocketAddr) -> Result<Nginx, String> {
        let Some(bin) = nginx_binary() else {
            return Err(
                "nginx is not installed (`bash .ci/deps/70-nginx.sh` installs \
                        nginx-light; or set OMUX_BENCH_NGINX to its path)"
                    .into(),
            );
        };
        let dir = std::env::temp_dir().join(format!(
            "omux-bench-nginx-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("nginx temp dir: {e}"))?;
        // A free loopback port: bind one, let it go, hand it to nginx.
        let listen = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port for nginx: {e}"))?;
        // As many workers as cores, nginx's own advice (`auto`), written out so the report
        // can say it.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(&dir, listen, upstream, workers))
            .map_err(|e| format!("nginx config: {e}"))?;
        let child = Command::new(&bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut nginx = Nginx {
            child,
            addr: listen,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(listen).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {}", log.trim()));
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// The master and its workers (CPU time and RSS are theirs together).
    pub fn pids(&self) -> Vec<u32> {
        let mut all = vec![self.child.id()];
        all.extend(crate::procs::children(self.child.id()));
        all
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop (SIGTERM is its fast one; either is fine here).
        // SAFETY: kill has no memory preconditions; the pid is our own child's.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
        // What nginx complained about (a 502 in the run, say) is worth seeing.
        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        for line in log.lines().filter(|l| !l.contains("[notice]")).take(10) {
            eprintln!("nginx error.log: {line}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
