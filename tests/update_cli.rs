//! `oauth-mux update` and `version --check` as a user runs them, on a copy of the binary in a
//! scratch directory (the receipt lives next to the binary): who owns the install decides
//! whether anything is replaced, offline is exit 204, an insecure release URL is refused,
//! and `version` alone never touches the network. The signed-release paths (update,
//! refusals, rotation) are proven in-process (src/update/flow_tests.rs) and with the real
//! release binary by `just release-proof` (the update lane).

mod kit;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use kit::Output;
use kit::Sandbox;
use kit::sandbox::BIN;

/// A sandbox with these environment variables.
fn sandbox(env: &[(&str, &str)]) -> Sandbox {
    let mut sb = Sandbox::new();
    for (k, v) in env {
        sb.set_env(k, v);
    }
    sb
}

/// The binary linked into the sandbox (`<root>/install/oauth-mux`), with a receipt when given.
fn installed(env: &Sandbox, receipt_method: Option<&str>) -> PathBuf {
    let bin = env.root().join("install");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("oauth-mux");
    if std::fs::hard_link(BIN, &exe).is_err() {
        std::fs::copy(BIN, &exe).unwrap();
    }
    if let Some(method) = receipt_method {
        std::fs::write(
            bin.join("oauth-mux.receipt.json"),
            format!(
                r#"{{"schema": 1, "name": "oauth-mux", "version": "{}",
                    "target": "x86_64-unknown-linux-musl", "method": "{method}",
                    "base_url": "http://127.0.0.1:9/v{}"}}"#,
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_VERSION")
            ),
        )
        .unwrap();
    }
    exe
}

fn run(env: &Sandbox, exe: &Path, args: &[&str]) -> Output {
    env.program(exe).args(args).run()
}

/// A loopback listener nobody accepts on: a connection attempt stays in its backlog, so
/// `assert_untouched` sees it deterministically.
struct Listener(TcpListener);

impl Listener {
    fn new() -> (Listener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (Listener(listener), url)
    }

    #[track_caller]
    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("something connected to the release host: {other:?}"),
        }
    }
}

#[test]
fn without_a_receipt_update_replaces_nothing_and_names_install_sh() {
    let (listener, url) = Listener::new();
    let env = sandbox(&[("OMUX_RELEASE_BASE_URL", &url)]);
    let exe = installed(&env, None);
    let before = std::fs::read(&exe).unwrap();
    let r = run(&env, &exe, &["update", "--yes"]);
    r.code(207);
    assert!(r.stdout.contains("no install receipt"), "{}", r.all());
    assert!(r.stdout.contains("install.sh | sh"), "{}", r.all());
    let j = run(&env, &exe, &["update", "--json"]).code(207).json();
    assert_eq!(j["status"], "not_self_managed");
    assert_eq!(j["owner"]["kind"], "unknown");
    assert_eq!(std::fs::read(&exe).unwrap(), before);
    listener.assert_untouched();
}

#[test]
fn a_package_manager_install_is_never_replaced_and_its_command_is_printed() {
    let (listener, url) = Listener::new();
    for (method, source, command, kind) in [
        (Some("homebrew"), None, "brew upgrade oauth-mux", "homebrew"),
        (
            Some("deb"),
            None,
            "sudo apt-get install --only-upgrade oauth-mux",
            "deb",
        ),
        (
            Some("install.sh"),
            Some("npm"),
            "npm install -g oauth-mux@latest",
            "npm",
        ),
    ] {
        let mut env = sandbox(&[("OMUX_RELEASE_BASE_URL", &url)]);
        if let Some(s) = source {
            env.set_env("OMUX_INSTALL_SOURCE", s);
        }
        let exe = installed(&env, method);
        let before = std::fs::read(&exe).unwrap();
        let r = run(&env, &exe, &["update", "--yes"]);
        r.code(207);
        assert!(r.stdout.contains(command), "{method:?}: {}", r.all());
        assert!(r.stdout.contains("never replaces it"), "{}", r.all());
        let j = run(&env, &exe, &["update", "--yes", "--json"])
            .code(207)
            .json();
        assert_eq!(j["status"], "managed");
        assert_eq!(j["owner"]["kind"], kind);
        assert_eq!(j["owner"]["upgrade_command"], command);
        assert_eq!(j["next"][0], command);
        assert_eq!(
            std::fs::read(&exe).unwrap(),
            before,
            "{method:?}: binary changed"
        );
    }
    listener.assert_untouched();
    let env = sandbox(&[("OMUX_INSTALL_SOURCE", "npm")]);
    let exe = installed(&env, None);
    let r = run(&env, &exe, &["update", "--version", "0.2.0"]);
    let r = r.code(207).all();
    assert!(r.contains("npm install -g oauth-mux@0.2.0"), "{r}");
}

#[test]
fn offline_is_exit_204_with_a_clear_message_and_nothing_changes() {
    // Nothing listens on port 9 of loopback.
    let env = sandbox(&[("OMUX_RELEASE_BASE_URL", "http://127.0.0.1:9")]);
    let exe = installed(&env, Some("install.sh"));
    let before = std::fs::read(&exe).unwrap();
    for args in [
        &["update", "--check"][..],
        &["update", "--yes"],
        &["version", "--check"],
    ] {
        let r = run(&env, &exe, args);
        r.code(204);
        assert!(
            r.stderr
                .contains("cannot reach http://127.0.0.1:9/SHA256SUMS"),
            "{}",
            r.all()
        );
        assert!(r.stderr.contains("Nothing was changed"), "{}", r.all());
    }
    // With --json the error is JSON on stdout.
    let r = run(&env, &exe, &["update", "--check", "--json"]);
    let j = r.code(204).json();
    assert_eq!(j["error"]["code"], "network_error", "{r}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{r}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), before);
    // The receipt's base URL is used when the environment names none.
    let env = Sandbox::new();
    let exe = installed(&env, Some("install.sh"));
    let r = run(&env, &exe, &["update", "--check"]);
    r.code(204);
    let want = format!(
        "http://127.0.0.1:9/v{}/SHA256SUMS",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        !r.stderr.contains(&want),
        "--check asks for the latest, not the installed: {}",
        r.all()
    );
    assert!(
        r.stderr.contains("http://127.0.0.1:9/latest/SHA256SUMS"),
        "{}",
        r.all()
    );
}

#[test]
fn a_plain_http_release_host_is_refused_before_any_connection() {
    let env = sandbox(&[("OMUX_RELEASE_BASE_URL", "http://example.invalid/releases")]);
    let exe = installed(&env, Some("install.sh"));
    let j = run(&env, &exe, &["update", "--check", "--json"])
        .code(206)
        .json();
    assert_eq!(j["status"], "refused");
    assert_eq!(j["error"], "insecure_url");
    assert!(j["message"].as_str().unwrap().contains("https"), "{j}");
}

#[test]
fn version_without_check_never_touches_the_network() {
    let (listener, url) = Listener::new();
    let env = sandbox(&[("OMUX_RELEASE_BASE_URL", &url)]);
    let exe = installed(&env, Some("install.sh"));
    run(&env, &exe, &["version"]).ok();
    let j = run(&env, &exe, &["version", "--json"]).ok().json();
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["release_key_id"].as_str().unwrap().len(), 16);
    assert!(j.get("update").is_none());
    listener.assert_untouched();
    // The listener does see a connection when one is made (the assertion can fail):
    // `version --check` contacts the release host.
    let mut child = env
        .program(&exe)
        .args(["version", "--check"])
        .into_std()
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let connected = loop {
        if listener.0.accept().is_ok() {
            break true;
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        connected,
        "version --check did not contact the release host"
    );
}

#[test]
fn bad_input_is_a_usage_error_or_names_the_file_and_the_fix() {
    let env = Sandbox::new();
    let exe = installed(&env, None);
    let r = run(&env, &exe, &["update", "--version", "latest-please"]);
    r.code(2);
    assert!(
        r.stderr.contains("--version latest-please: not a version"),
        "{}",
        r.all()
    );
    std::fs::write(exe.with_file_name("oauth-mux.receipt.json"), "{ not json").unwrap();
    let r = run(&env, &exe, &["update", "--check"]);
    r.code(1);
    assert!(r.stderr.contains("oauth-mux.receipt.json"), "{}", r.all());
    assert!(
        r.stderr.contains("reinstall with install.sh"),
        "{}",
        r.all()
    );
    let help = run(&env, &exe, &["update", "--help"]);
    let help = &help.ok().stdout;
    for needle in [
        "--check",
        "--yes",
        "--version",
        "205",
        "206",
        "207",
        "OMUX_RELEASE_BASE_URL",
    ] {
        assert!(
            help.contains(needle),
            "update --help lacks {needle}:\n{help}"
        );
    }
}
