//! A child of oauth-mux runs in its own process group (so it can be ended with its whole
//! group when oauth-mux dies): when oauth-mux held the terminal, the child must get it, so
//! that it can read from it (instead of being stopped by SIGTTIN) and a Ctrl-C typed there
//! reaches it. Run under a pseudo-terminal whose session oauth-mux leads. Linux only.
#![cfg(target_os = "linux")]

mod inject_support;

use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use inject_support::Machine;

/// Generous bound for each step on a loaded machine (never a performance claim).
const STEP: Duration = Duration::from_secs(30);

/// A new pseudo-terminal: (master, slave).
fn pty() -> (File, File) {
    // SAFETY: standard pty allocation; every return value is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt failed");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let name = CStr::from_ptr(libc::ptsname(master)).to_owned();
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "opening the pty slave failed");
        (File::from_raw_fd(master), File::from_raw_fd(slave))
    }
}

/// oauth-mux under test; killed when the test ends early, so nothing is left running.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Run `cmd` as the session leader of a fresh terminal; the terminal's output arrives on
/// the returned channel.
fn on_terminal(mut cmd: std::process::Command) -> (Running, File, mpsc::Receiver<Vec<u8>>) {
    let (master, slave) = pty();
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; the pty is the child's stdin.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("start the command on the terminal");
    let (tx, rx) = mpsc::channel();
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (Running(child), master, rx)
}

/// `oauth-mux exec` running `script`, leading a fresh terminal's session.
fn exec_on_terminal(m: &Machine, script: &str) -> (Running, File, mpsc::Receiver<Vec<u8>>) {
    on_terminal(m.cmd(&["exec", "--provider", "toy", "--", "sh", "-c", script]))
}

/// An interactive bash with job control on a fresh terminal, in the machine's environment.
fn shell_on_terminal(m: &Machine) -> (Running, File, mpsc::Receiver<Vec<u8>>) {
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["--norc", "--noprofile", "-i"])
        .env_clear()
        .envs(&m.env)
        .env("PS1", "omux-test$ ")
        .env("TERM", "dumb");
    on_terminal(cmd)
}

/// Read the terminal until `needle` shows up.
fn expect(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut String, needle: &str) {
    let start = Instant::now();
    while !seen.contains(needle) {
        let left = STEP.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Err(_) => panic!("{needle:?} never appeared on the terminal; it shows:\n{seen}"),
        }
    }
}

fn wait(running: &mut Running) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < STEP, "oauth-mux did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_child_gets_the_terminal_and_reads_from_it() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let (mut child, mut master, rx) =
        exec_on_terminal(&m, "echo ready; read line; echo \"got:$line\"; exit 7");
    let mut seen = String::new();
    expect(&rx, &mut seen, "ready");
    master.write_all(b"hello from the keyboard\n").unwrap();
    expect(&rx, &mut seen, "got:hello from the keyboard");
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(7), "terminal:\n{seen}");
}

#[test]
fn a_ctrl_c_typed_on_the_terminal_reaches_the_child() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let (mut child, mut master, rx) = exec_on_terminal(
        &m,
        "trap 'echo interrupted; exit 42' INT; echo ready; while :; do sleep 0.05; done",
    );
    let mut seen = String::new();
    expect(&rx, &mut seen, "ready");
    master.write_all(&[0x03]).unwrap();
    expect(&rx, &mut seen, "interrupted");
    let status = wait(&mut child);
    assert_eq!(status.code(), Some(42), "terminal:\n{seen}");
}

#[test]
fn ctrl_z_stops_the_child_with_oauth_mux_and_fg_resumes_both() {
    let m = Machine::new();
    m.live("toy:a1#cheap");
    let (mut shell, mut master, rx) = shell_on_terminal(&m);
    let mut seen = String::new();
    expect(&rx, &mut seen, "omux-test$ ");
    let bin = env!("CARGO_BIN_EXE_oauth-mux");
    let line = format!(
        "{bin} exec --provider toy -- sh -c 'echo ready-$((40+2)); read x; echo \"got:$x\"; exit 3'\n"
    );
    master.write_all(line.as_bytes()).unwrap();
    expect(&rx, &mut seen, "ready-42");
    // Ctrl-Z: the child stops, oauth-mux's job stops with it, the shell has the terminal.
    master.write_all(&[0x1a]).unwrap();
    expect(&rx, &mut seen, "Stopped");
    seen.clear();
    master.write_all(b"fg\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"resumed\n").unwrap();
    expect(&rx, &mut seen, "got:resumed");
    // `fg` waits for the job again: its status is oauth-mux's, the child's exit code.
    expect(&rx, &mut seen, "omux-test$ ");
    master.write_all(b"echo \"status:$?\"\n").unwrap();
    expect(&rx, &mut seen, "status:3");
    master.write_all(b"exit\n").unwrap();
    wait(&mut shell);
}
