//! The upstream side: `ureq` agents (one per connection thread, see `agents`) that send the
//! harness's request to the provider and hand back the response untouched (no status errors,
//! no redirects, no decompression, no added headers).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ureq::Agent;
use ureq::http;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};

use super::abandon::WatchConnector;
use super::agents::{Agents, SharedConnector};
use super::coalesce::CoalescingConnector;
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
    /// Idle upstream agents (each with its idle connections) kept for the next harness
    /// connection (see `agents`).
    pub idle_agents: usize,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(600),
            read_idle_timeout: Duration::from_secs(300),
            extra_ca_file: None,
            idle_agents: 32,
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

/// Idle upstream connections one agent keeps, in all and per host: a connection thread
/// sends one request at a time (a failover's retry goes out after the refused answer was
/// read whole, so it reuses the same connection), mostly to one host. So a host sees at
/// most one idle connection per agent: per harness connection, plus `idle_agents` in the
/// stock.
const IDLE_PER_AGENT: usize = 2;
const IDLE_PER_AGENT_HOST: usize = 1;

/// The upstream client of a proxy session.
pub struct Upstream {
    agents: Agents,
    /// The environment's proxy when it is a SOCKS one, which this build cannot speak:
    /// remote requests it would carry fail with a clear error instead of going direct.
    socks_in_env: Option<ureq::Proxy>,
    /// Whether the agents go through an HTTP CONNECT proxy (loopback requests then take a
    /// request-level configuration without it; with none, they need no configuration of
    /// their own, which would be a copy of the agent's per request).
    via_proxy: bool,
}

/// The upstream client's output buffer. A request head is written through it in one piece
/// (the coalescing layer holds it whole), so a head must fit.
pub const OUTPUT_BUFFER: usize = 32 * 1024;

/// The largest request head sent upstream: the output buffer less room for the lines the
/// client adds itself (`host`, `content-length`).
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
    /// Build the agent. `HTTPS_PROXY`/`ALL_PROXY`/`HTTP_PROXY` and `NO_PROXY` are honoured;
    /// loopback upstreams always go direct.
    pub fn new(options: &UpstreamOptions) -> Result<Self> {
        Self::with_proxy(options, ureq::Proxy::try_from_env())
    }

    /// Build the agent around `proxy` (an HTTP CONNECT proxy; a SOCKS one refuses remote
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
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent("")
            .accept("")
            .accept_encoding("")
            .allow_non_standard_methods(true)
            .proxy(proxy)
            .tls_config(tls)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_send_request(Some(Duration::from_secs(60)))
            .timeout_send_body(Some(Duration::from_secs(120)))
            .timeout_recv_response(Some(options.response_timeout))
            .timeout_recv_body(None)
            .timeout_per_read(Some(options.read_idle_timeout))
            .max_idle_connections(IDLE_PER_AGENT)
            .max_idle_connections_per_host(IDLE_PER_AGENT_HOST)
            .max_idle_age(Duration::from_secs(90))
            .input_buffer_size(32 * 1024)
            .output_buffer_size(OUTPUT_BUFFER)
            .build();
        // ureq's default chain (CONNECT proxy, TCP, rustls) with writes held until the
        // response is awaited: one write per small request (see `coalesce`); the TCP
        // transport checks a pooled connection in one system call (see `lean_tcp`).
        // Waits for the provider also watch the harness (see `abandon`).
        let connector = Arc::new(
            ().chain(ConnectProxyConnector::default())
                .chain(LeanTcpConnector)
                .chain(WatchConnector)
                .chain(CoalescingConnector)
                .chain(RustlsConnector::default()),
        );
        let agents = Agents::new(options.idle_agents, move || {
            let connector = SharedConnector(connector.clone());
            Agent::with_parts(config.clone(), connector, RememberingResolver::new())
        });
        Ok(Upstream {
            agents,
            socks_in_env,
            via_proxy,
        })
    }

    /// Send one request. 4xx/5xx come back as responses; only transport failures are errors.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[UpstreamHeader<'_>],
        body: &[u8],
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, value.as_ref());
        }
        let request = builder.body(body).map_err(ureq::Error::from)?;
        // Whether the upstream is loopback matters only when a proxy is in the picture (the
        // common case has none: no URL is looked at twice per request).
        let loopback = (self.via_proxy || self.socks_in_env.is_some()) && is_loopback_url(url);
        if let Some(socks) = &self.socks_in_env
            && !loopback
            && !socks.is_no_proxy(request.uri())
        {
            return Err(ureq::Error::ConnectProxyFailed(SOCKS_UNSUPPORTED.into()));
        }
        self.agents.with_agent(|agent| {
            if loopback && self.via_proxy {
                agent.run(agent.configure_request(request).proxy(None).build())
            } else {
                agent.run(request)
            }
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

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:8080/v1"));
        assert!(is_loopback_url("http://localhost:1/x"));
        assert!(is_loopback_url("http://[::1]:9/"));
        assert!(!is_loopback_url("https://chatgpt.com/backend-api"));
        assert!(!is_loopback_url("https://127.example.com.evil/"));
    }
}
