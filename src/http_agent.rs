//! The one HTTP agent for oauth-mux's own requests (capability probes, token refreshes; the
//! session proxy has its own upstream client): rustls, pooled, the proxy from
//! `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` with `NO_PROXY`, statuses returned as data rather
//! than raised, and no redirects (an answer must be the provider's own, and a redirect must
//! not carry a token or a refresh token elsewhere). Timeouts are set per request.

use std::sync::OnceLock;
use std::time::Duration;

/// The shared agent.
pub fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .max_redirects(0)
            .user_agent(concat!("oauth-mux/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into()
    })
}

/// Send `request` through the shared agent, giving up after `timeout` (connecting: at most
/// 10 s of it).
pub fn run<S: ureq::AsSendBody>(
    request: ureq::http::Request<S>,
    timeout: Duration,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let configured = agent()
        .configure_request(request)
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .timeout_global(Some(timeout))
        .build();
    agent().run(configured)
}
