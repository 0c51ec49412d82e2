//! The optional TLS side of the session proxy. Codex's interactive TUI with ChatGPT auth
//! insists on an `https://` `chatgpt_base_url`; the session then gets a second listener on
//! 127.0.0.1 serving the same routes behind TLS, with a certificate from a per-session CA
//! generated in memory. Only the CA certificate (public) leaves the process, for the child's
//! `CODEX_CA_CERTIFICATE`; no private key is ever written anywhere.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};

/// A per-session server identity: the rustls config and the CA certificate to trust.
pub struct SessionTls {
    pub config: Arc<ServerConfig>,
    /// The CA certificate (PEM) the child must trust.
    pub ca_pem: String,
}

/// Generate a CA and a `127.0.0.1`/`localhost` server certificate signed by it.
pub fn session_tls() -> Result<SessionTls> {
    let ca_key = KeyPair::generate().context("generating the session CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "oauth-mux session CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    let leaf_key = KeyPair::generate().context("generating the session server key")?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()])?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "oauth-mux session proxy");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("building the session TLS server config")?;
    Ok(SessionTls {
        config: Arc::new(config),
        ca_pem: ca.pem(),
    })
}

/// Complete the server side of the TLS handshake on `sock` by `deadline`: a client that
/// dribbles its ClientHello (or sends none) is cut off then, whatever each read brings.
pub fn handshake(
    conn: &mut ServerConnection,
    sock: &mut TcpStream,
    deadline: Instant,
) -> io::Result<()> {
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        sock.set_read_timeout(Some(left))?;
        sock.set_write_timeout(Some(left))?;
        if conn.wants_write() {
            conn.write_tls(sock)?;
            continue;
        }
        if conn.read_tls(sock)? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        if let Err(err) = conn.process_new_packets() {
            // Tell the client why (an alert), then give up.
            let _ = conn.write_tls(sock);
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
    }
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    sock.set_write_timeout(None)
}
