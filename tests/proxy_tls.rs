//! The TLS side of the session proxy: same routes and secret, a per-session CA.

mod kit;

use std::io::Read;

use kit::canary;
use kit::proxy_rig::*;
use oauth_mux::demo::fake_provider::Behaviour;
use oauth_mux::proxy::Harness;

fn tls_client(ca_pem: &str) -> ureq::Agent {
    let certs: Vec<_> = ureq::tls::parse_pem(ca_pem.as_bytes())
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(certs.len(), 1, "one CA certificate");
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .new_agent()
}

#[test]
fn tls_side_serves_the_same_routes_behind_the_session_ca() {
    let rig = Rig::with(
        Harness::Codex,
        &[
            (
                "one",
                Behaviour::QuotaExhausted {
                    resets_in_seconds: 60,
                },
            ),
            (
                "two",
                Behaviour::Succeed {
                    text: "over tls".into(),
                },
            ),
        ],
        |c| c.tls_side_listener = true,
    );
    let handle = rig.proxy.as_ref().unwrap();
    let base = handle.tls_base_url().expect("tls side");
    assert!(base.starts_with("https://127.0.0.1:"));
    let ca = handle.ca_pem().unwrap();
    assert!(ca.contains("BEGIN CERTIFICATE") && !ca.contains("PRIVATE KEY"));
    let agent = tls_client(&ca);

    let check = agent
        .get(format!("{base}/backend-api/wham/accounts/check"))
        .call()
        .unwrap();
    assert_eq!(check.status().as_u16(), 200);

    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/backend-api/codex/responses"))
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .unwrap();
    let resp = agent.run(req).unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut body = String::new();
    resp.into_body()
        .into_reader()
        .read_to_string(&mut body)
        .unwrap();
    assert!(
        body.contains("over tls") && !body.contains("usage_limit_reached"),
        "{body}"
    );

    // No secret: 403 over TLS too, and the plain side still works.
    let origin = base.rsplit_once('/').unwrap().0;
    let denied = agent
        .get(format!("{origin}/backend-api/codex/models"))
        .call()
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    assert!(codex_turn(&rig).body.contains("over tls"));

    // A client that does not trust the session CA cannot talk to it.
    let stranger = ureq::Agent::config_builder()
        .proxy(None)
        .build()
        .new_agent();
    assert!(
        stranger
            .get(format!("{base}/backend-api/codex/models"))
            .call()
            .is_err()
    );
    assert_eq!(rig.calls("one"), 1);
}

/// A session whose upstream is HTTPS: the upstream here is a second proxy's TLS side (with its
/// own per-session CA) in front of the fake provider.
fn https_upstream() -> Rig {
    Rig::with(
        Harness::Claude,
        &[(
            "one",
            Behaviour::Succeed {
                text: "through an https upstream".into(),
            },
        )],
        |c| c.tls_side_listener = true,
    )
}

#[test]
fn an_https_upstream_is_verified_against_the_extra_ca_file() {
    let upstream = https_upstream();
    let handle = upstream.proxy.as_ref().unwrap();
    let upstream_base = handle.tls_base_url().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("session-ca.pem");
    std::fs::write(&ca_file, handle.ca_pem().unwrap()).unwrap();

    let trusting = Rig::with(
        Harness::Claude,
        &[("one", Behaviour::WindowlessRateLimit)],
        |c| {
            c.upstream = upstream_base.clone();
            c.upstream_options.extra_ca_file = Some(ca_file.clone());
        },
    );
    let seen = claude_turn(&trusting);
    assert_eq!(seen.status, 200, "{seen:?}");
    assert!(seen.body.contains("through an https upstream"), "{seen:?}");
    // A large body crosses TLS in several held-then-flushed writes, byte for byte.
    let big = format!(
        r#"{{"model":"claude-sonnet-5","stream":true,"messages":[],"pad":"{}"}}"#,
        "p".repeat(300 * 1024)
    );
    let seen = send(
        "POST",
        &format!("{}/v1/messages", trusting.base()),
        &[("content-type", "application/json")],
        big.as_bytes(),
    );
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(
        upstream.fake.last_body(&canary::token("one")),
        big.as_bytes()
    );
    assert_eq!(
        trusting.fake.total_calls(),
        0,
        "the local fake is not the upstream"
    );

    // Without the CA file the certificate is not trusted: no request reaches the upstream.
    let calls = upstream.fake.total_calls();
    let sceptical = Rig::with(
        Harness::Claude,
        &[("one", Behaviour::WindowlessRateLimit)],
        |c| {
            c.upstream = upstream_base.clone();
        },
    );
    let seen = claude_turn(&sceptical);
    assert_eq!(seen.status, 502, "{seen:?}");
    assert!(seen.body.contains("upstream unreachable"), "{seen:?}");
    assert_eq!(upstream.fake.total_calls(), calls);
}
