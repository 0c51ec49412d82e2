//! `oauth-mux demo` end to end: the real binary in a sandbox, no network.

mod kit;

use kit::Sandbox;

#[test]
fn demo_hands_the_spent_quota_to_the_second_account_and_leaves_nothing_behind() {
    let mut sb = Sandbox::new();
    // Any attempt to leave the machine is refused and recorded.
    sb.refuse_off_box_traffic();
    let out = sb.run(&["demo"]);
    out.ok();
    let stdout = &out.stdout;
    assert!(
        stdout.contains("work      429 quota_exhausted  held back"),
        "{stdout}"
    );
    assert!(
        stdout.contains("handoff   work -> personal (quota_exhausted)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("client got     200 with 9 SSE events: \"Hello from account personal"),
        "{stdout}"
    );
    assert!(
        stdout.contains("$ oauth-mux route explain --profile demo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("selected: demo:personal#codex-max"),
        "{stdout}"
    );
    assert!(stdout.contains("quota_exhausted until"), "{stdout}");
    // The demo's own accounts carry these placeholder credentials.
    for secretish in ["demo-token-", "demo-account-"] {
        assert!(!out.all().contains(secretish), "{secretish} leaked:\n{out}");
    }
    assert_eq!(sb.off_box_attempts(), Vec::<String>::new());
    // Nothing written anywhere: HOME, the XDG dirs, TMPDIR.
    let left: Vec<_> = sb.files_as_text().into_iter().map(|(p, _)| p).collect();
    assert!(left.is_empty(), "demo left files behind: {left:?}");
}
