//! `kill -9` at each step of a refresh: before the POST, after the response (the new tokens
//! are in the recovery file), in the middle of the write (the new store sits in its temp
//! file). Each time the store still parses, and the next run ends with a working token:
//! from the recovery file when the provider had already rotated the refresh token, by a
//! normal refresh when it had not. Nothing is left behind (no temp file, no recovery file,
//! no lock directory), and no token is spent twice.

mod kit;

use std::io::BufRead;
use std::time::Duration;

use kit::stores::{self, Cli, Place, Store};
use kit::{Sandbox, canary};
use oauth_mux::demo::fake_provider::{Behaviour, FakeProvider, TokenUse};
use serde_json::json;

/// Run `keepalive --once` paused at `step`, and kill it with SIGKILL once it says it paused.
fn kill_at(sb: &Sandbox, step: &str) {
    let mut running = sb
        .oauth_mux()
        .args(["keepalive", "--once"])
        .env(oauth_mux::oauth::PAUSE_ENV, step)
        .spawn();
    let stderr = running.child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            canary::assert_absent("keepalive's stderr", &line);
            if line.contains("paused at") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("keepalive never reached {step}"));
    assert!(line.contains(step), "{line}");
    running.signal(libc::SIGKILL);
    let _ = running.child.wait();
}

fn scenario(cli: Cli) -> (Sandbox, Store, FakeProvider) {
    let mut sb = Sandbox::new();
    let store = stores::plant(&sb, cli, "a1", Place::Owned, 600);
    let fake = FakeProvider::builder()
        .lineage(store.lineage(Behaviour::Succeed { text: "x".into() }))
        .start()
        .unwrap();
    sb.write_config(&stores::config(&[&store], json!({})));
    sb.set_env(cli.token_url_env(), fake.url(cli.token_path()));
    (sb, store, fake)
}

/// Kill a refresh at `step`, then check the store, run keepalive again, and check it ends
/// with the tokens the provider holds valid, leaving nothing behind.
fn killed_then_recovered(cli: Cli, step: &str, want_after_kill: &[TokenUse], want_result: &str) {
    let (sb, store, fake) = scenario(cli);
    kill_at(&sb, step);
    let after_kill: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&store.file).unwrap())
            .unwrap_or_else(|e| panic!("{step}: the store does not parse: {e}"));
    assert_eq!(
        store.current_refresh_token(),
        store.refresh_token,
        "{step}: the store was not touched yet"
    );
    assert!(after_kill.is_object());
    assert_eq!(fake.token_uses(), want_after_kill, "{step}");
    // What the kill left: the new tokens in a recovery file once they were received, the
    // new store in a temp file mid-write (both cleared by the next run, checked below).
    let left = leftovers(&sb, &store);
    let has = |what: &str| left.iter().any(|p| p.contains(what));
    assert_eq!(
        has("refresh-recovery/"),
        step != "before_post",
        "{step}: {left:?}"
    );
    assert_eq!(has(".tmp-"), step == "mid_write", "{step}: {left:?}");

    let out = sb.run(&["keepalive", "--once", "--json"]);
    out.ok();
    assert_eq!(
        out.json()["accounts"][0]["result"],
        want_result,
        "{step}: {out}"
    );
    // Exactly one grant overall, never a reuse: the store now holds the one valid token.
    assert_eq!(fake.token_uses(), [TokenUse::Granted], "{step}");
    assert_eq!(
        Some(store.current_refresh_token()),
        fake.current_refresh_token(&store.refresh_token),
        "{step}"
    );
    assert_ne!(store.current_access_token(), store.access_token, "{step}");
    // A third run has nothing to do: the token works.
    let again = sb.run(&["keepalive", "--once", "--json"]);
    again.ok();
    assert_eq!(again.json()["accounts"][0]["result"], "not_due", "{step}");
    // Nothing left behind: no temp or recovery file (they hold tokens), no lock directory.
    assert_eq!(leftovers(&sb, &store), Vec::<String>::new(), "{step}");
    sb.assert_no_canary_on_disk();
}

/// Temp files, recovery files and lock directories under the sandbox and beside the store.
fn leftovers(sb: &Sandbox, store: &Store) -> Vec<String> {
    let parent = store.dir.parent().unwrap();
    let entries = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let files = kit::files::files_under(sb.root()).into_iter().filter(|p| {
        let text = p.display().to_string();
        text.contains(".tmp-") || text.contains("refresh-recovery/")
    });
    let lock_dirs = entries(&store.dir)
        .into_iter()
        .chain(entries(parent))
        .filter(|p| p.is_dir() && p.display().to_string().ends_with(".lock"));
    files
        .chain(lock_dirs)
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn killed_before_the_post_the_next_run_refreshes() {
    killed_then_recovered(Cli::Codex, "before_post", &[], "refreshed");
}

#[test]
fn killed_after_the_response_the_next_run_writes_the_tokens_it_received() {
    killed_then_recovered(
        Cli::Codex,
        "after_response",
        &[TokenUse::Granted],
        "recovered",
    );
}

#[test]
fn killed_in_the_middle_of_the_write_the_next_run_completes_it() {
    killed_then_recovered(Cli::Codex, "mid_write", &[TokenUse::Granted], "recovered");
}

#[test]
fn killed_in_the_middle_of_a_claude_write_its_lock_directories_are_taken_over() {
    // Claude Code's lock directories outlive a killed holder; they count as abandoned once
    // untouched for 10 s (15 s for the write lock), as Claude Code itself treats them.
    killed_then_recovered(Cli::Claude, "mid_write", &[TokenUse::Granted], "recovered");
}
