//! The stdin backend, through a child process: this test re-runs its own test binary
//! (filtered to itself) with a canary piped to stdin. The child reads the secret
//! twice (stdin is read once per process and cached) and reports what it saw.

mod kit;

use kit::{canary, worker};
use oauth_mux::secrets::{SecretBackend, SecretSpec, read_secret, redact};

#[test]
fn stdin_backend_reads_once_and_caches() {
    if worker::args().is_some() {
        // Child role: stdin is the pipe the parent wrote to.
        let spec = SecretSpec::new(SecretBackend::Stdin);
        let first = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap();
        let second = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(redact::is_registered(first.expose()));
        // Report without printing the secret itself.
        let ok = first.expose().trim() == canary::secret("stdin");
        println!("CHILD-RESULT same={} matches={ok}", first == second);
        assert!(ok);
        return;
    }

    let out = worker::command("stdin_backend_reads_once_and_caches", &[])
        .stdin(format!("{}\n", canary::secret("stdin")))
        .run();
    out.ok();
    assert!(
        out.stdout.contains("CHILD-RESULT same=true matches=true"),
        "{out}"
    );
    out.assert_no_canaries();
}

#[test]
fn stdin_backend_empty_input_is_a_clear_error() {
    if worker::args().is_some() {
        // Child role: stdin is /dev/null.
        let spec = SecretSpec::new(SecretBackend::Stdin);
        let err = read_secret(&spec, "providers.x.accounts.piped.secret").unwrap_err();
        println!("CHILD-ERROR {err}");
        return;
    }
    let out = worker::command("stdin_backend_empty_input_is_a_clear_error", &[]).run();
    out.ok();
    let want = "CHILD-ERROR standard input for providers.x.accounts.piped.secret was empty; pipe the credential in";
    assert!(out.stdout.contains(want), "{out}");
}
