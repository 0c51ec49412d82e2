//! The npm lane: publish the platform and root packages to verdaccio on loopback, then
//! `npm install -g oauth-mux` into a scratch prefix; the command works, its exit code and a
//! terminating signal pass through, and a missing platform package gets a clear message.

use super::Ctx;
use super::util::{output, require_tool, run_ok};
use crate::manifest::Kind;
use anyhow::{Context, Result, bail, ensure};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let npm = require_tool("npm", "apt-get install npm (Node.js)")?;
    let verdaccio = require_tool("verdaccio", "npm install --prefix .ci/.tools/npm verdaccio")?;
    let curl = require_tool("curl", "apt-get install curl")?;
    let root = ctx.scratch_dir("npm")?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    std::fs::write(
        root.join("config.yaml"),
        format!(
            "storage: {storage}\nauth:\n  htpasswd:\n    file: {htpasswd}\n    max_users: 100\nuplinks: {{}}\npackages:\n  '**':\n    access: $all\n    publish: $authenticated\n    unpublish: $authenticated\nlisten: 127.0.0.1:{port}\nlog: {{ type: stdout, format: pretty, level: warn }}\n",
            storage = root.join("storage").display(),
            htpasswd = root.join("htpasswd").display(),
        ),
    )?;
    let log = std::fs::File::create(root.join("verdaccio.log"))?;
    let _registry = Registry(
        Command::new(&verdaccio)
            .arg("--config")
            .arg(root.join("config.yaml"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start verdaccio")?,
    );
    let started = Instant::now();
    while output(Command::new(&curl).args(["-fsS", &format!("{url}/-/ping")]))?
        .status
        .code()
        != Some(0)
    {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "verdaccio did not answer on {url} within 60 s; log: {}",
                std::fs::read_to_string(root.join("verdaccio.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("  ok: verdaccio listening on {url}");
    // Create a user through the CouchDB-style endpoint and keep its token.
    let body = r#"{"name":"release-proof","password":"release-proof-pw","type":"user"}"#;
    let answer = run_ok(Command::new(&curl).args([
        "-fsS",
        "-X",
        "PUT",
        "-H",
        "content-type: application/json",
        "-d",
        body,
        &format!("{url}/-/user/org.couchdb.user:release-proof"),
    ]))?;
    let token = serde_json::from_str::<serde_json::Value>(&answer)?["token"]
        .as_str()
        .context("verdaccio returned no token")?
        .to_string();
    let npmrc = root.join("npmrc");
    std::fs::write(
        &npmrc,
        format!("registry={url}/\n//127.0.0.1:{port}/:_authToken={token}\n"),
    )?;
    let npm_cmd = || {
        let mut c = Command::new(&npm);
        c.arg("--userconfig")
            .arg(&npmrc)
            .arg("--cache")
            .arg(root.join("cache"))
            .args([
                "--registry",
                &format!("{url}/"),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]);
        c
    };
    let mut publish: Vec<&str> = ctx
        .manifest
        .of_kind(Kind::NpmPlatform)
        .map(|a| a.name.as_str())
        .collect();
    publish.extend(ctx.manifest.of_kind(Kind::NpmRoot).map(|a| a.name.as_str()));
    ensure!(
        publish.len() == ctx.targets.len() + 1,
        "expected {} npm packages, manifest has {}",
        ctx.targets.len() + 1,
        publish.len()
    );
    for name in &publish {
        run_ok(npm_cmd().arg("publish").arg(ctx.dir.join(name)))?;
    }
    eprintln!("  ok: published {} packages", publish.len());
    let prefix = root.join("prefix");
    run_ok(
        npm_cmd()
            .args(["install", "-g", "oauth-mux"])
            .arg("--prefix")
            .arg(&prefix),
    )?;
    let bin = prefix.join("bin/oauth-mux");
    let printed = run_ok(Command::new(&bin).arg("version"))?;
    ensure!(
        printed.trim() == format!("oauth-mux {}", ctx.version),
        "npm-installed oauth-mux prints {printed:?}"
    );
    eprintln!(
        "  ok: npm install -g oauth-mux; `oauth-mux version` = {}",
        printed.trim()
    );
    let host = ctx.host_target()?;
    let native = prefix.join(format!(
        "lib/node_modules/oauth-mux/node_modules/{}/bin/oauth-mux",
        host.npm_package()
    ));
    let native = if native.exists() {
        native
    } else {
        prefix.join(format!(
            "lib/node_modules/{}/bin/oauth-mux",
            host.npm_package()
        ))
    };
    let want = output(Command::new(&native).arg("no-such-command"))?
        .status
        .code();
    let got = output(Command::new(&bin).arg("no-such-command"))?
        .status
        .code();
    ensure!(
        want == Some(2) && got == want,
        "exit code not passed through: binary {want:?}, launcher {got:?}"
    );
    eprintln!(
        "  ok: exit code passes through (usage error -> {})",
        got.unwrap_or(-1)
    );
    // The binary knows npm owns it: `update` prints npm's command and replaces nothing.
    let before = std::fs::read(&native)?;
    let out = output(Command::new(&bin).args(["update", "--yes"]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.code() == Some(207) && text.contains("npm install -g oauth-mux@latest"),
        "update through npm: {} {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        std::fs::read(&native)? == before,
        "update through npm changed the binary"
    );
    eprintln!(
        "  ok: `oauth-mux update` through npm: not replaced (207), prints npm install -g oauth-mux@latest"
    );
    // A platform binary that is not the one the root package recorded is not run.
    let mut changed = before.clone();
    changed.extend_from_slice(b"\0");
    std::fs::write(&native, &changed)?;
    let out = output(Command::new(&bin).arg("version"));
    std::fs::write(&native, &before)?;
    let out = out?;
    let text = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(1)
            && text.contains("binaryHashes")
            && text.contains(&host.npm_package()),
        "a changed platform binary ran: {} {text}",
        out.status
    );
    eprintln!(
        "  ok: a platform binary that differs from binaryHashes is refused, naming the package"
    );
    // Signals: the launcher forwards SIGTERM and dies the same way as its child.
    let sleep = require_tool("sleep", "coreutils")?;
    let mut child = Command::new(&bin)
        .arg("30")
        .env("OMUX_BINARY_PATH", &sleep)
        .stdout(Stdio::null())
        .spawn()?;
    // Wait until node has spawned the binary (so its signal handlers are in place).
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let started = Instant::now();
    let grandchild = loop {
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            break pid.to_string();
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the launcher did not start the binary within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    unsafe_kill(child.id(), 15)?;
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    ensure!(
        status.signal() == Some(15) || status.code() == Some(143),
        "after SIGTERM the launcher ended with {status}"
    );
    let dead = || {
        std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    };
    let waited = Instant::now();
    while !dead() && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = dead();
    ensure!(
        gone,
        "the binary (pid {grandchild}) survived the launcher's SIGTERM"
    );
    eprintln!("  ok: SIGTERM is forwarded to the binary and reported ({status})");
    // No platform package: a clear message, exit 1.
    let pkg_dir = native
        .parent()
        .and_then(|p| p.parent())
        .context("platform package dir")?
        .to_path_buf();
    let aside = pkg_dir.with_extension("aside");
    std::fs::rename(&pkg_dir, &aside)?;
    let out = output(Command::new(&bin).arg("version"));
    std::fs::rename(&aside, &pkg_dir)?;
    let out = out?;
    let text = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(1)
            && text.contains("is not installed")
            && text.contains(&host.npm_package()),
        "missing platform package: {} {text}",
        out.status
    );
    eprintln!("  ok: a missing platform package is named with the reinstall command");
    Ok(())
}

fn unsafe_kill(pid: u32, signal: i32) -> Result<()> {
    run_ok(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string()),
    )
    .map(|_| ())
}
