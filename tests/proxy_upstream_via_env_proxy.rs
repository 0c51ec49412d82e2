//! The session proxy's upstream traffic honours `HTTPS_PROXY`/`HTTP_PROXY` (corporate
//! gateways): a non-loopback upstream is reached through the configured proxy. One test per
//! file, because it sets the process environment.

mod kit;

use kit::proxy_rig::*;
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider};
use oauth_mux::proxy::Harness;

#[test]
fn a_remote_upstream_is_reached_through_the_environment_proxy() {
    // A forward proxy that tunnels on CONNECT and answers every request with a small JSON 200.
    let corporate = FakeProvider::answering(Behaviour::json(
        200,
        r#"{"type":"message","content":[{"type":"text","text":"via the corporate proxy"}]}"#,
    ))
    .unwrap();
    // SAFETY: this test file holds one test; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("HTTPS_PROXY", corporate.origin());
        std::env::set_var("HTTP_PROXY", corporate.origin());
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let rig = Rig::with(
        Harness::Claude,
        &[("one", Behaviour::WindowlessRateLimit)],
        |c| c.upstream = "http://api.upstream.invalid".into(),
    );
    let seen_by_harness = claude_turn(&rig);
    assert_eq!(seen_by_harness.status, 200, "{seen_by_harness:?}");
    assert!(seen_by_harness.body.contains("via the corporate proxy"));
    let lines: Vec<String> = corporate
        .requests()
        .iter()
        .map(|r| r.request_line())
        .collect();
    assert_eq!(
        lines,
        vec![
            "CONNECT api.upstream.invalid:80".to_string(),
            "POST /v1/messages?beta=true".to_string(),
        ],
        "the request went through a tunnel opened by the proxy"
    );
    assert_eq!(rig.fake.total_calls(), 0);
}
