//! The upstream side: sends the harness's request to the provider and hands back the answer
//! untouched (no status errors, no redirects, no decompression, no added headers).
//!
//! Connections come from `ureq`'s connector chain (a CONNECT proxy, TCP, TLS, plus the
//! proxy's own layers), are kept idle per connection thread (see `connections`), and carry
//! exchanges the proxy writes and reads itself (see `exchange`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ureq::config::Config;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant as UreqInstant};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector, Transport,
};
use ureq::{Agent, Timeout};

use super::abandon::WatchConnector;
use super::coalesce::CoalescingConnector;
use super::connections::{Connection, Connections};
use super::exchange::{self, Body, Head, Url, Waits};
use super::fields::Fields;
use super::headers::UpstreamHeader;
use super::lean_tcp::LeanTcpConnector;
use super::resolver::RememberingResolver;

/// Upstream transport settings.
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    pub connect_timeout: Duration,
    /// Time allowed until the response head arrives.
    pub response_timeout: Duration,
    /// Longest silence allowed inside a streaming body.
    pub read_idle_timeout: Duration,
    /// An extra PEM CA bundle trusted in addition to the system roots.
    pub extra_ca_file: Option<PathBuf>,
    /// Idle upstream connections kept in the session's stock for the next harness
    /// connection (see `connections`).
    pub idle_connections: usize,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(600),
            read_idle_timeout: Duration::from_secs(300),
            extra_ca_file: None,
            idle_connections: 32,
        }
    }
}

/// System CA bundle locations (the same list most TLS stacks probe).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
    "/opt/homebrew/etc/openssl@3/cert.pem",
];

fn read_pem_certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading CA file {} (check the path)", path.display()))?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        !certs.is_empty(),
        "CA file {} holds no PEM certificate",
        path.display()
    );
    Ok(certs)
}

/// Root certificates: Mozilla's webpki roots by default; with an extra CA file, that file
/// plus the system bundle (or `SSL_CERT_FILE`).
fn root_certs(extra: Option<&Path>) -> Result<RootCerts> {
    let Some(extra) = extra else {
        return Ok(RootCerts::WebPki);
    };
    let mut certs = read_pem_certs(extra)?;
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if let Some(bundle) = system {
        certs.extend(read_pem_certs(&bundle).unwrap_or_default());
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// The whole connector chain, as `ureq`'s transport API runs it.
type Chain = dyn Fn(&ConnectionDetails) -> Result<Box<dyn Transport>, ureq::Error> + Send + Sync;

/// The upstream client of a proxy session.
pub struct Upstream {
    connections: Arc<Connections>,
    /// Opens a connection: ureq's default chain (CONNECT proxy, TCP, rustls) with writes
    /// held until the answer is awaited (see `coalesce`), the TCP transport's check of an
    /// idle connection in one system call (see `lean_tcp`), and waits that watch the
    /// harness (see `abandon`).
    chain: Arc<Chain>,
    /// The transport settings, with the environment's CONNECT proxy.
    config: Config,
    /// The same without a proxy, for loopback upstreams, which always go direct.
    direct: Config,
    resolver: RememberingResolver,
    connect_timeout: Duration,
    waits: Waits,
    /// The environment's proxy when it is a SOCKS one, which this build cannot speak:
    /// remote requests it would carry fail with a clear error instead of going direct.
    socks_in_env: Option<ureq::Proxy>,
    /// Whether connections go through an HTTP CONNECT proxy.
    via_proxy: bool,
}

/// The answer to a request: its head, and its body still on the connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Fields,
    pub body: Body,
}

/// A connection's output buffer: a request up to this size leaves in one write.
pub const OUTPUT_BUFFER: usize = 32 * 1024;

/// The largest request head sent upstream (request line and fields, before the lines the
/// client adds itself, `host` and `content-length`): larger heads are refused with a clear
/// answer rather than sent to a provider that would refuse them less clearly.
pub const MAX_UPSTREAM_HEAD: usize = OUTPUT_BUFFER - 1024;

/// The size of the head `send` writes for these parts (request line and header fields).
pub fn head_len(method: &str, path: &str, headers: &[UpstreamHeader<'_>]) -> usize {
    let line = method.len() + 1 + path.len() + " HTTP/1.1\r\n".len();
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum();
    line + fields + 2
}

/// Why a remote request is refused when the environment names a SOCKS proxy.
pub const SOCKS_UNSUPPORTED: &str = "the upstream proxy from the environment (ALL_PROXY, else \
HTTPS_PROXY, else HTTP_PROXY) is a SOCKS proxy, which oauth-mux cannot use; point that variable \
at an HTTP CONNECT proxy (http://host:port), unset it, or list the provider's host in NO_PROXY";

impl Upstream {
    /// Build the client. `HTTPS_PROXY`/`ALL_PROXY`/`HTTP_PROXY` and `NO_PROXY` are honoured;
    /// loopback upstreams always go direct.
    pub fn new(options: &UpstreamOptions) -> Result<Self> {
        Self::with_proxy(options, ureq::Proxy::try_from_env())
    }

    /// Build the client around `proxy` (an HTTP CONNECT proxy; a SOCKS one refuses remote
    /// requests).
    fn with_proxy(options: &UpstreamOptions, proxy: Option<ureq::Proxy>) -> Result<Self> {
        let (proxy, socks_in_env) = match proxy {
            Some(p)
                if !matches!(
                    p.protocol(),
                    ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
                ) =>
            {
                (None, Some(p))
            }
            other => (other, None),
        };
        let via_proxy = proxy.is_some();
        let tls = TlsConfig::builder()
            .root_certs(root_certs(options.extra_ca_file.as_deref())?)
            .build();
        let builder = || {
            Agent::config_builder()
                .tls_config(tls.clone())
                .timeout_connect(Some(options.connect_timeout))
                .input_buffer_size(32 * 1024)
                .output_buffer_size(OUTPUT_BUFFER)
        };
        let config = builder().proxy(proxy).build();
        let direct = builder().proxy(None).build();
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(LeanTcpConnector)
                .chain(WatchConnector)
                .chain(CoalescingConnector)
                .chain(RustlsConnector::default());
        let chain: Arc<Chain> = Arc::new(move |details: &ConnectionDetails| {
            connector
                .connect(details, None)?
                .map(Transport::boxed)
                .ok_or(ureq::Error::ConnectionFailed)
        });
        Ok(Upstream {
            connections: Arc::new(Connections::new(options.idle_connections)),
            chain,
            config,
            direct,
            resolver: RememberingResolver::new(),
            connect_timeout: options.connect_timeout,
            waits: Waits {
                send: Duration::from_secs(120),
                response: options.response_timeout,
                read_idle: options.read_idle_timeout,
            },
            socks_in_env,
            via_proxy,
        })
    }

    /// Open a connection for `url` through the chain.
    fn open(&self, url: &Url<'_>, loopback: bool) -> Result<Connection, ureq::Error> {
        let uri: ureq::http::Uri = url
            .origin
            .parse()
            .map_err(|_| ureq::Error::BadUri(format!("not a valid origin: {}", url.origin)))?;
        let config = if loopback { &self.direct } else { &self.config };
        let connect = NextTimeout {
            after: self.connect_timeout.into(),
            reason: Timeout::Connect,
            per_read: None,
            per_write: None,
        };
        let proxied = config.proxy().is_some_and(|p| !p.is_no_proxy(&uri));
        let addrs = if proxied {
            self.resolver.empty()
        } else {
            // Without a timeout of its own, `ureq`'s resolver looks the name up on this
            // thread (with one, on a thread of its own per lookup), as it did before.
            let inline = NextTimeout {
                after: UreqDuration::NotHappening,
                reason: Timeout::Resolve,
                ..connect
            };
            self.resolver.resolve(&uri, config, inline)?
        };
        let details = ConnectionDetails {
            uri: &uri,
            addrs,
            config,
            request_level: false,
            resolver: &self.resolver,
            now: UreqInstant::now(),
            timeout: connect,
            current_time: Arc::new(UreqInstant::now),
            run_connector: self.chain.clone(),
            register_shutdown: Arc::new(|_| Ok(())),
        };
        let connection = (self.chain)(&details)?;
        if url.https && !connection.is_tls() {
            return Err(ureq::Error::TlsRequired);
        }
        Ok(connection)
    }

    /// Send one request. 4xx/5xx come back as answers; only transport failures are errors.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[UpstreamHeader<'_>],
        body: &[u8],
    ) -> Result<Answer, ureq::Error> {
        let parts = exchange::split_url(url)?;
        // Whether the upstream is loopback matters only when a proxy is in the picture (the
        // common case has none: no URL is looked at twice per request).
        let loopback = (self.via_proxy || self.socks_in_env.is_some()) && is_loopback_url(url);
        if let Some(socks) = &self.socks_in_env
            && !loopback
        {
            let uri: ureq::http::Uri = parts.origin.parse().map_err(|_| {
                ureq::Error::BadUri(format!("not a valid origin: {}", parts.origin))
            })?;
            if !socks.is_no_proxy(&uri) {
                return Err(ureq::Error::ConnectProxyFailed(SOCKS_UNSUPPORTED.into()));
            }
        }
        let head_request = method.eq_ignore_ascii_case("HEAD");
        let exchange = |connection: &mut Connection| {
            exchange::write_request(
                &mut **connection,
                method,
                &parts,
                headers,
                body,
                &self.waits,
            )?;
            exchange::read_head(&mut **connection, head_request, &self.waits)
        };
        let fresh = |parts: &Url<'_>| -> Result<(Connection, Head, String), ureq::Error> {
            let mut connection = self.open(parts, loopback)?;
            let head = exchange(&mut connection)?;
            Ok((connection, head, parts.origin.to_string()))
        };
        let (connection, head, origin) = match self.connections.take(parts.origin) {
            Some((mut idle, origin)) => match exchange(&mut idle) {
                Ok(head) => (idle, head, origin),
                Err(e) if exchange::failed_before_answering(&e) => fresh(&parts)?,
                Err(e) => return Err(e),
            },
            None => fresh(&parts)?,
        };
        let body = Body::new(
            connection,
            &head,
            &self.waits,
            self.connections.clone(),
            origin,
        );
        Ok(Answer {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

/// True for `http(s)://127.x`, `[::1]` and `localhost` URLs.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socks_proxy_is_refused_for_remote_requests_not_bypassed() {
        let socks = ureq::Proxy::builder(ureq::ProxyProtocol::Socks5)
            .host("127.0.0.1")
            .port(1080)
            .username("user")
            .password("secret-pass")
            .no_proxy("gateway.corp.invalid")
            .build()
            .unwrap();
        let upstream = Upstream::with_proxy(&UpstreamOptions::default(), Some(socks)).unwrap();
        // A host NO_PROXY lists goes direct (here: it does not resolve) rather than refused.
        assert!(!matches!(
            upstream.send("GET", "https://gateway.corp.invalid/v1/models", &[], b""),
            Err(ureq::Error::ConnectProxyFailed(_))
        ));
        match upstream.send("GET", "https://provider.invalid/v1/models", &[], b"") {
            Err(ureq::Error::ConnectProxyFailed(why)) => {
                assert_eq!(why, SOCKS_UNSUPPORTED);
                assert!(!why.contains("secret-pass"));
            }
            other => panic!("expected the SOCKS refusal, got {other:?}"),
        }
        // Loopback upstreams go direct: here, a refused connection rather than the refusal.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/models", closed.local_addr().unwrap());
        drop(closed);
        assert!(!matches!(
            upstream.send("GET", &url, &[], b""),
            Err(ureq::Error::ConnectProxyFailed(_))
        ));
    }

    /// Read one request head (no body) from `stream`.
    fn read_request(stream: &mut std::net::TcpStream) -> bool {
        use std::io::Read;
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    /// Read a request from `stream` and answer `200` with `body`, keeping the connection.
    fn serve(stream: &mut std::net::TcpStream, body: &str) {
        use std::io::Write;
        assert!(read_request(stream));
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
    }

    /// A loopback provider and the URL of its model list.
    fn provider() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/models", listener.local_addr().unwrap());
        (listener, url)
    }

    /// The body of a `200` answer to a GET of `url`.
    fn fetch(upstream: &Upstream, url: &str) -> String {
        use std::io::Read;
        let mut answer = upstream.send("GET", url, &[], b"").unwrap();
        assert_eq!(answer.status, 200);
        let mut body = String::new();
        answer.body.read_to_string(&mut body).unwrap();
        body
    }

    /// A provider that closes an idle connection just as the next request goes out on it
    /// (its idle timeout and the request crossing): the request goes again on a new
    /// connection, and the harness never hears of it.
    #[test]
    fn a_request_on_a_connection_closed_as_it_went_out_goes_again_on_a_new_one() {
        let (listener, url) = provider();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            serve(&mut first, "one");
            // The second request arrives on the kept connection: closed unanswered.
            assert!(read_request(&mut first));
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            serve(&mut second, "two");
        });
        let upstream = Upstream::new(&UpstreamOptions::default()).unwrap();
        assert_eq!(fetch(&upstream, &url), "one");
        assert_eq!(fetch(&upstream, &url), "two");
        server.join().unwrap();
    }

    /// A provider that queues an answer nobody asked for on an idle connection (a `408`
    /// before it closes it): the connection is not reused, so the next request's answer is
    /// its own.
    #[test]
    fn an_idle_connection_with_bytes_waiting_is_not_reused() {
        use std::io::Write;
        let (listener, url) = provider();
        let (stray_sent, stray_seen) = std::sync::mpsc::channel();
        let (first_read, first_seen) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            serve(&mut first, "one");
            // Once the answer was read and its connection went idle.
            first_seen.recv().unwrap();
            first
                .write_all(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            stray_sent.send(()).unwrap();
            let (mut second, _) = listener.accept().unwrap();
            serve(&mut second, "two");
            drop(first);
        });
        let upstream = Upstream::new(&UpstreamOptions::default()).unwrap();
        assert_eq!(fetch(&upstream, &url), "one");
        first_read.send(()).unwrap();
        stray_seen.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(fetch(&upstream, &url), "two");
        server.join().unwrap();
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:8080/v1"));
        assert!(is_loopback_url("http://localhost:1/x"));
        assert!(is_loopback_url("http://[::1]:9/"));
        assert!(!is_loopback_url("https://chatgpt.com/backend-api"));
        assert!(!is_loopback_url("https://127.example.com.evil/"));
    }
}
