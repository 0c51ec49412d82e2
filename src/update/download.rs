//! Fetching release files: https (plain http only from loopback, `file://` for local
//! mirrors), redirects followed by hand so every hop meets the same rule, a size limit per
//! file, the proxy from the environment, no overall deadline but a stall timeout.

use std::io::Read;
use std::time::Duration;

use super::release::url_allowed;

/// How often a redirect may be followed.
const MAX_REDIRECTS: usize = 5;

/// Why a file could not be fetched.
#[derive(Debug)]
pub enum FetchError {
    /// Could not connect, timed out, or the connection broke (exit 204).
    Network { url: String, why: String },
    /// The server has no such file (404/410).
    NotFound { url: String },
    /// Another HTTP error status.
    Status { url: String, status: u16 },
    /// The URL, or a redirect, is not https (or loopback http).
    Insecure { url: String },
    /// The file is larger than it can be.
    TooLarge { url: String, limit: u64 },
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network { url, why } => write!(f, "cannot reach {url} ({why})"),
            Self::NotFound { url } => write!(f, "{url} does not exist (HTTP 404)"),
            Self::Status { url, status } => write!(f, "{url} answered HTTP {status}"),
            Self::Insecure { url } => write!(
                f,
                "refusing {url}: releases are fetched over https (plain http only from \
                 127.0.0.1/localhost, for tests)"
            ),
            Self::TooLarge { url, limit } => {
                write!(f, "{url} is larger than {limit} bytes; refusing it")
            }
        }
    }
}

impl std::error::Error for FetchError {}

/// An open download: the final URL (after redirects), the body, its announced length.
type Opened = (String, Box<dyn Read>, Option<u64>);

/// Fetches release files with one pooled agent.
pub struct Fetcher {
    agent: ureq::Agent,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    /// An agent that treats statuses as data, follows no redirect itself and takes the proxy
    /// from `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`.
    pub fn new() -> Fetcher {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(concat!(
                "oauth-mux/",
                env!("CARGO_PKG_VERSION"),
                " (update)"
            ))
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(30)))
            .build()
            .into();
        Fetcher { agent }
    }

    /// The whole file at `url`, at most `limit` bytes.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        self.get_with_progress(url, limit, &mut |_, _| {})
    }

    /// Like [`Fetcher::get`], calling `progress(done, total)` as the bytes arrive.
    pub fn get_with_progress(
        &self,
        url: &str,
        limit: u64,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.copy(url, limit, &mut out, progress)?;
        Ok(out)
    }

    fn copy(
        &self,
        url: &str,
        limit: u64,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<(), FetchError> {
        let (final_url, mut reader, total) = self.open(url)?;
        if total.is_some_and(|t| t > limit) {
            return Err(FetchError::TooLarge {
                url: final_url,
                limit,
            });
        }
        let broken = |e: std::io::Error| FetchError::Network {
            url: final_url.clone(),
            why: format!("the download broke off: {}", e.kind()),
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut done = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(broken)?;
            if n == 0 {
                break;
            }
            done += n as u64;
            if done > limit {
                return Err(FetchError::TooLarge {
                    url: final_url,
                    limit,
                });
            }
            out.write_all(&buf[..n]).map_err(broken)?;
            progress(done, total);
        }
        if total.is_some_and(|t| t != done) {
            return Err(FetchError::Network {
                url: final_url,
                why: format!("got {done} of {} bytes", total.unwrap_or(0)),
            });
        }
        Ok(())
    }

    /// Open `url`, following redirects; returns the final URL, the body and its length.
    fn open(&self, url: &str) -> Result<Opened, FetchError> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            if !url_allowed(&url) {
                return Err(FetchError::Insecure { url });
            }
            if let Some(path) = url.strip_prefix("file://") {
                let file = std::fs::File::open(path).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => FetchError::NotFound { url: url.clone() },
                    _ => FetchError::Network {
                        url: url.clone(),
                        why: e.to_string(),
                    },
                })?;
                let len = file.metadata().ok().map(|m| m.len());
                return Ok((url, Box::new(file), len));
            }
            let response = self
                .agent
                .get(&url)
                .call()
                .map_err(|e| FetchError::Network {
                    url: url.clone(),
                    why: describe(&e),
                })?;
            let status = response.status().as_u16();
            match status {
                200 => {
                    let len = response
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    let reader = response.into_body().into_reader();
                    return Ok((url, Box::new(reader), len));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .ok_or_else(|| FetchError::Status {
                            url: url.clone(),
                            status,
                        })?;
                    url = resolve_location(&url, location);
                }
                404 | 410 => return Err(FetchError::NotFound { url }),
                500..=599 => {
                    return Err(FetchError::Network {
                        why: format!("the server answered HTTP {status}"),
                        url,
                    });
                }
                _ => return Err(FetchError::Status { url, status }),
            }
        }
        Err(FetchError::Network {
            url,
            why: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

/// A transport error in a few words (an I/O error with its message: DNS failures and
/// unreachable networks arrive as I/O errors whose kind alone says little).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => format!("connection error: {io}"),
        other => crate::probe::http::describe_error(other),
    }
}

/// The URL a `Location` header points at, relative to the URL that answered.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(net) = location.strip_prefix("//") {
        format!("{scheme}://{net}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        let dir = path.rsplit_once('/').map_or(path, |(d, _)| d);
        format!("{scheme}://{dir}/{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A loopback server answering each request with the next canned response.
    fn serve(responses: Vec<String>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (stream, response) in listener.incoming().zip(responses) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let _ = stream.write_all(response.as_bytes());
            }
        });
        url
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn redirect(to: &str) -> String {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    #[test]
    fn follows_loopback_redirects_and_reads_the_body() {
        let url = serve(vec![redirect("/elsewhere/SHA256SUMS"), ok("hello")]);
        let got = Fetcher::new()
            .get(&format!("{url}/SHA256SUMS"), 100)
            .unwrap();
        assert_eq!(got, b"hello");
    }

    #[test]
    fn a_redirect_to_plain_http_elsewhere_is_refused() {
        let url = serve(vec![redirect("http://example.com/SHA256SUMS")]);
        let err = Fetcher::new().get(&format!("{url}/x"), 100).unwrap_err();
        assert!(
            matches!(err, FetchError::Insecure { ref url } if url == "http://example.com/SHA256SUMS"),
            "{err}"
        );
        let err = Fetcher::new().get("http://example.com/x", 100).unwrap_err();
        assert!(matches!(err, FetchError::Insecure { .. }), "{err}");
    }

    #[test]
    fn statuses_size_limits_and_unreachable_servers() {
        let url = serve(vec![
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            ok("0123456789"),
            "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        ]);
        let f = Fetcher::new();
        assert!(matches!(
            f.get(&format!("{url}/a"), 100),
            Err(FetchError::NotFound { .. })
        ));
        assert!(matches!(
            f.get(&format!("{url}/b"), 5),
            Err(FetchError::TooLarge { limit: 5, .. })
        ));
        assert!(matches!(
            f.get(&format!("{url}/c"), 5),
            Err(FetchError::Network { .. })
        ));
        // Nothing listens on port 9 of loopback: connection refused is a network error.
        assert!(matches!(
            f.get("http://127.0.0.1:9/x", 5),
            Err(FetchError::Network { .. })
        ));
    }

    #[test]
    fn local_mirrors_are_read_from_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SHA256SUMS"), "sums").unwrap();
        let base = format!("file://{}", dir.path().display());
        assert_eq!(
            Fetcher::new()
                .get(&format!("{base}/SHA256SUMS"), 10)
                .unwrap(),
            b"sums"
        );
        assert!(matches!(
            Fetcher::new().get(&format!("{base}/missing"), 10),
            Err(FetchError::NotFound { .. })
        ));
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        let base = "https://github.com/o/r/releases/download/v1/SHA256SUMS";
        assert_eq!(
            resolve_location(base, "https://objects.example/x"),
            "https://objects.example/x"
        );
        assert_eq!(
            resolve_location(base, "//cdn.example/x"),
            "https://cdn.example/x"
        );
        assert_eq!(
            resolve_location(base, "/latest"),
            "https://github.com/latest"
        );
        assert_eq!(
            resolve_location(base, "SHA256SUMS.minisig"),
            "https://github.com/o/r/releases/download/v1/SHA256SUMS.minisig"
        );
    }
}
