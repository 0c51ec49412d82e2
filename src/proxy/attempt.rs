//! How one upstream attempt can fail, sorted by what the proxy does about it: the harness
//! went away (nothing more to do), the request is one the upstream client cannot send
//! (answered locally, never retried, nothing recorded against the account), or a transport
//! failure (the only kind retried in place, and only when it is worth it).

use super::abandon;
use super::headers::UpstreamHeader;
use super::refusals::RefusalReason;
use super::upstream::{self, SOCKS_UNSUPPORTED};

/// Why an attempt brought back no response.
#[derive(Debug)]
pub enum Failure {
    /// The harness closed its connection while the proxy waited.
    HarnessGone,
    /// The request cannot be sent as it is: the account is not at fault.
    Request(RequestProblem),
    /// The provider could not be reached, or the exchange broke off.
    Transport(ureq::Error),
}

/// A request the upstream client cannot send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestProblem {
    /// Its head would not fit the client's buffer → 431.
    HeadTooLarge,
    /// Its target or a header cannot be expressed → 400.
    Unexpressible,
}

impl RequestProblem {
    pub fn status(self) -> u16 {
        match self {
            RequestProblem::HeadTooLarge => 431,
            RequestProblem::Unexpressible => 400,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            RequestProblem::HeadTooLarge => "request head too large to forward",
            RequestProblem::Unexpressible => {
                "the request target or a header cannot be forwarded as it is"
            }
        }
    }

    pub fn reason(self) -> RefusalReason {
        match self {
            RequestProblem::HeadTooLarge => RefusalReason::HeadTooLarge,
            RequestProblem::Unexpressible => RefusalReason::BadRequestTarget,
        }
    }
}

/// Refuse before sending a head the upstream client could not write.
pub fn check_head(method: &str, path: &str, headers: &[UpstreamHeader<'_>]) -> Result<(), Failure> {
    if upstream::head_len(method, path, headers) > upstream::MAX_UPSTREAM_HEAD {
        return Err(Failure::Request(RequestProblem::HeadTooLarge));
    }
    Ok(())
}

impl From<ureq::Error> for Failure {
    fn from(err: ureq::Error) -> Failure {
        if abandon::harness_gone() {
            return Failure::HarnessGone;
        }
        match err {
            ureq::Error::Http(_) | ureq::Error::BadUri(_) => {
                Failure::Request(RequestProblem::Unexpressible)
            }
            other => Failure::Transport(other),
        }
    }
}

/// Whether a transport failure is worth asking the same account again: a refused or reset
/// connection (a pooled connection the provider closed, a restart) usually is. A timeout is
/// not: it already cost the harness the whole wait, and the provider may still be working on
/// the first copy.
pub fn worth_retrying(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Timeout(_) | ureq::Error::ConnectProxyFailed(_) => false,
        ureq::Error::Io(e) => e.kind() != std::io::ErrorKind::TimedOut,
        _ => true,
    }
}

/// A short, secret-free name for a transport failure (for the harness's 502).
pub fn transport_error_kind(err: &ureq::Error) -> &'static str {
    match err {
        ureq::Error::Timeout(_) => "timeout",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::Io(_) => "i/o error",
        ureq::Error::Tls(_) => "tls error",
        ureq::Error::ConnectProxyFailed(why) if why == SOCKS_UNSUPPORTED => SOCKS_UNSUPPORTED,
        ureq::Error::ConnectProxyFailed(_) => {
            "the upstream proxy (ALL_PROXY, else HTTPS_PROXY, else HTTP_PROXY) refused the tunnel"
        }
        _ => "transport error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_problems_are_not_transport_failures() {
        let bad_uri = ureq::Error::BadUri("x".into());
        assert!(matches!(
            Failure::from(bad_uri),
            Failure::Request(RequestProblem::Unexpressible)
        ));
        assert!(matches!(
            Failure::from(ureq::Error::ConnectionFailed),
            Failure::Transport(_)
        ));
        let huge: Vec<UpstreamHeader<'_>> = vec![("x-big", vec![b'a'; 40 * 1024].into())];
        assert!(matches!(
            check_head("POST", "/v1/messages", &huge),
            Err(Failure::Request(RequestProblem::HeadTooLarge))
        ));
        assert!(check_head("POST", "/v1/messages", &[]).is_ok());
    }
}
