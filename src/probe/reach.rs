//! Whether an upstream origin can be reached, without a request: a TCP connect (through the
//! environment's HTTP CONNECT proxy when one applies, as the session proxy would go) and, for
//! `https`, a verified TLS handshake. Nothing is sent after the handshake, so nothing is spent
//! and no provider sees a request. Used by `codex|claude preflight`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What a reachability check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reachability {
    /// `host:port` that was checked.
    pub target: String,
    /// `host:port` of the HTTP CONNECT proxy used, when one applies.
    pub via_proxy: Option<String>,
    pub tcp_connected: bool,
    /// `Some(true)` when a TLS handshake with a verified certificate completed; `None` for
    /// plain `http`.
    pub tls_verified: Option<bool>,
    pub reachable: bool,
    pub elapsed_ms: u64,
    /// Why it is not reachable.
    pub problem: Option<String>,
}

/// Check `origin` (`https://host[:port][/prefix]`), trusting `extra_ca` (PEM) beside the
/// built-in web roots.
pub fn check(origin: &str, extra_ca: Option<&Path>, timeout: Duration) -> Reachability {
    let started = Instant::now();
    let mut out = Reachability {
        target: String::new(),
        via_proxy: None,
        tcp_connected: false,
        tls_verified: None,
        reachable: false,
        elapsed_ms: 0,
        problem: None,
    };
    let result = attempt(origin, extra_ca, timeout, &mut out);
    out.elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => out.reachable = true,
        Err(why) => out.problem = Some(why),
    }
    out
}

fn attempt(
    origin: &str,
    extra_ca: Option<&Path>,
    timeout: Duration,
    out: &mut Reachability,
) -> Result<(), String> {
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| "the upstream has no scheme".to_owned())?;
    let authority = rest.split('/').next().unwrap_or_default();
    let tls = scheme == "https";
    let (host, port) = split_authority(authority, if tls { 443 } else { 80 })?;
    out.target = format!("{host}:{port}");
    let proxy = ureq::Proxy::try_from_env().filter(|p| {
        let loopback = crate::proxy::upstream::is_loopback_url(origin);
        let uri: Option<ureq::http::Uri> = origin.parse().ok();
        !loopback
            && uri.is_none_or(|u| !p.is_no_proxy(&u))
            && matches!(
                p.protocol(),
                ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
            )
    });
    let mut stream = match &proxy {
        Some(p) => {
            out.via_proxy = Some(format!("{}:{}", p.host(), p.port()));
            let mut s = connect(p.host(), p.port(), timeout)?;
            tunnel(&mut s, &host, port, p)?;
            s
        }
        None => connect(&host, port, timeout)?,
    };
    out.tcp_connected = true;
    if tls {
        out.tls_verified = Some(false);
        handshake(&mut stream, &host, extra_ca)?;
        out.tls_verified = Some(true);
    }
    Ok(())
}

/// `host[:port]` (IPv6 in brackets) with a default port.
fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad = || format!("cannot read host and port from {authority:?}");
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => default_port,
        };
        return Ok((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), port.parse().map_err(|_| bad())?)),
        None if authority.is_empty() => Err(bad()),
        None => Ok((authority.to_owned(), default_port)),
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {host}:{port}: {e}"),
        }
    }
    Err(last)
}

/// Ask an HTTP proxy for a tunnel to `host:port`.
fn tunnel(
    stream: &mut TcpStream,
    host: &str,
    port: u16,
    proxy: &ureq::Proxy,
) -> Result<(), String> {
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(user) = proxy.username() {
        use base64::Engine as _;
        let pair = format!("{user}:{}", proxy.password().unwrap_or_default());
        request.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("the proxy refused the tunnel: {e}"))?;
    let mut reader = BufReader::new(&mut *stream);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| format!("the proxy did not answer the tunnel request: {e}"))?;
    let code = status
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
            Err(e) => return Err(format!("reading the proxy's answer: {e}")),
        }
    }
    if code != "200" {
        return Err(format!(
            "the proxy answered the tunnel request to {host}:{port} with {}",
            if code.is_empty() { "nothing" } else { &code }
        ));
    }
    Ok(())
}

fn handshake(stream: &mut TcpStream, host: &str, extra_ca: Option<&Path>) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the extra CA file {}: {e}", path.display()))?;
        for item in ureq::tls::parse_pem(&pem).flatten() {
            if let ureq::tls::PemItem::Certificate(cert) = item {
                let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
                roots
                    .add(der)
                    .map_err(|e| format!("the extra CA file holds a bad certificate: {e}"))?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| format!("{host} is not a valid TLS server name"))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    while conn.is_handshaking() {
        conn.complete_io(stream)
            .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_with_default_ports() {
        assert_eq!(
            split_authority("chatgpt.com", 443).unwrap(),
            ("chatgpt.com".into(), 443)
        );
        assert_eq!(
            split_authority("127.0.0.1:8080", 80).unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(split_authority("[::1]:9", 80).unwrap(), ("::1".into(), 9));
        assert!(split_authority("", 80).is_err());
    }

    #[test]
    fn an_https_origin_is_reachable_only_with_a_verified_handshake() {
        let tls = crate::proxy::tls::session_tls().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = tls.config.clone();
        let server = std::thread::spawn(move || {
            // Two handshakes: one that verifies (with the CA), one that does not.
            for _ in 0..2 {
                let (mut tcp, _) = listener.accept().unwrap();
                let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        break;
                    }
                }
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &tls.ca_pem).unwrap();
        let origin = format!("https://127.0.0.1:{port}/prefix");
        let trusted = check(&origin, Some(&ca), Duration::from_secs(5));
        assert!(trusted.reachable, "{trusted:?}");
        assert_eq!(trusted.tls_verified, Some(true));
        let untrusted = check(&origin, None, Duration::from_secs(5));
        assert!(!untrusted.reachable, "{untrusted:?}");
        assert_eq!(untrusted.tls_verified, Some(false));
        assert!(untrusted.tcp_connected);
        assert!(
            untrusted.problem.unwrap().contains("TLS handshake"),
            "the problem names the handshake"
        );
        server.join().unwrap();
    }

    #[test]
    fn a_listening_loopback_origin_is_reachable_and_a_closed_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = check(
            &format!("http://127.0.0.1:{port}/x"),
            None,
            Duration::from_secs(2),
        );
        assert!(open.reachable && open.tcp_connected, "{open:?}");
        assert_eq!(open.tls_verified, None);
        drop(listener);
        let closed = check(
            &format!("http://127.0.0.1:{port}"),
            None,
            Duration::from_secs(2),
        );
        assert!(!closed.reachable, "{closed:?}");
        assert!(closed.problem.unwrap().contains("cannot connect"));
    }
}
