//! The floor row: the least a proxy built the way SPEC §1.7 asks (blocking I/O, a thread per
//! connection) can cost on this machine. A thread per harness connection owns one upstream
//! connection and copies each request to it and each answer back, reading only as far as the
//! `Content-Length` framing needs: no secret check, no credential, no failover, no artifact,
//! no TLS, one buffer per connection. Whatever oauth-mux costs above this row is its own code;
//! what this row costs above nginx is the thread-per-connection model itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;

use crate::procs;

/// Child mode: `proxy --floor UPSTREAM` forwards until stdin closes.
pub fn child(args: &[String]) {
    let upstream: SocketAddr = args[0].parse().expect("upstream address");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = forward(conn, upstream);
            });
        }
    });
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn forward(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut up = TcpStream::connect(upstream)?;
    up.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let Some(n) = read_message(&mut client, &mut buf)? else {
            return Ok(());
        };
        up.write_all(&buf[..n])?;
        let Some(m) = read_message(&mut up, &mut buf)? else {
            return Ok(());
        };
        client.write_all(&buf[..m])?;
    }
}

/// Read one whole message framed by `Content-Length` (none: head only) into `buf`; its
/// length, or None when the peer closed first.
fn read_message(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    let mut len = 0;
    loop {
        let n = s.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(None);
        }
        len += n;
        if let Some(head) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            let head_len = head + 4;
            let body = content_length(&buf[..head]);
            if len >= head_len + body {
                return Ok(Some(len));
            }
        }
    }
}

fn content_length(head: &[u8]) -> usize {
    let text = String::from_utf8_lossy(head);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A floor child, stopped (stdin closed, waited for) when dropped.
pub struct Floor {
    child: Child,
    pub addr: SocketAddr,
}

impl Floor {
    pub fn spawn(upstream: SocketAddr) -> Floor {
        let (child, line) = procs::spawn_self(&["--floor".into(), upstream.to_string().into()]);
        Floor {
            addr: line.parse().expect("floor address"),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        procs::stop(&mut self.child);
    }
}
