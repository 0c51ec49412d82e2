//! A program on a fresh pseudo-terminal, as a user at a keyboard runs it: the program
//! leads the terminal's session (the terminal is its controlling terminal and stdin,
//! stdout and stderr), the test types on it and reads what it shows.
//!
//! ```ignore
//! let mut term = Terminal::start(sb.oauth_mux().args(["exec", "--provider", "toy", "--", "sh"]));
//! term.expect("$ ");
//! term.type_bytes(b"exit 3\n");
//! assert_eq!(term.wait().code(), Some(3));
//! ```
//!
//! The program is killed when the `Terminal` is dropped early (a failed test leaves
//! nothing running).

use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::canary;
use super::command::Cmd;

/// Generous bound for each step on a loaded machine (never a performance claim).
pub const STEP: Duration = Duration::from_secs(30);

/// A running program on its own terminal.
pub struct Terminal {
    child: Child,
    shown_as: String,
    master: File,
    output: mpsc::Receiver<Vec<u8>>,
    /// Everything the terminal showed since the last [`Terminal::forget`].
    seen: String,
    /// Everything the terminal ever showed (for the canary check).
    all: String,
    check_canaries: bool,
}

impl Terminal {
    /// Start `cmd` as the session leader of a fresh terminal. When `cmd` checks canaries
    /// (every `oauth-mux` run does), [`Terminal::wait`] fails on a canary the terminal showed.
    pub fn start(cmd: Cmd) -> Terminal {
        let check_canaries = cmd.checks_canaries();
        let shown_as = cmd.shown();
        let (master, slave) = pty();
        let mut command = cmd.into_std();
        command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; the terminal is the child's stdin.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{shown_as}` on a terminal: {e}"));
        // The child has its copies of the slave; dropping ours (with `command`) lets the
        // master read end when the last program on the terminal is gone.
        drop(command);
        let (tx, output) = mpsc::channel();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            shown_as,
            master,
            output,
            seen: String::new(),
            all: String::new(),
            check_canaries,
        }
    }

    /// The process id of the program that leads the terminal.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Type `bytes` on the keyboard (`b"\x03"` is Ctrl-C, `b"\x1a"` Ctrl-Z).
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("typing on the terminal of `{}`: {e}", self.shown_as));
    }

    /// Read the terminal until `needle` shows up (since the last [`Terminal::forget`]);
    /// fails after [`STEP`], showing the screen.
    #[track_caller]
    pub fn expect(&mut self, needle: &str) {
        let start = Instant::now();
        while !self.seen.contains(needle) {
            let left = STEP.saturating_sub(start.elapsed());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.show(&bytes),
                Err(_) => panic!(
                    "{needle:?} never appeared on the terminal of `{}`; it shows:\n{}",
                    self.shown_as, self.seen
                ),
            }
        }
    }

    /// Forget what the terminal showed so far: the next [`Terminal::expect`] looks only at
    /// what comes after.
    pub fn forget(&mut self) {
        self.drain();
        self.seen.clear();
    }

    /// What the terminal showed since the last [`Terminal::forget`].
    pub fn screen(&mut self) -> &str {
        self.drain();
        &self.seen
    }

    /// Wait (at most [`STEP`]) for the program to end.
    #[track_caller]
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() >= STEP {
                let screen = self.screen().to_owned();
                panic!(
                    "`{}` did not end; the terminal shows:\n{screen}",
                    self.shown_as
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // What it printed last may still be on its way through the terminal.
        std::thread::sleep(Duration::from_millis(50));
        self.drain();
        if self.check_canaries {
            canary::assert_absent(&format!("the terminal of `{}`", self.shown_as), &self.all);
        }
        status
    }

    fn drain(&mut self) {
        while let Ok(bytes) = self.output.try_recv() {
            self.show(&bytes);
        }
    }

    fn show(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        self.seen.push_str(&text);
        self.all.push_str(&text);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A new pseudo-terminal: (master, slave).
fn pty() -> (File, File) {
    // SAFETY: standard pty allocation; every return value is checked before use.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt failed");
        let master = File::from_raw_fd(master);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0, "grantpt");
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0, "unlockpt");
        let name = libc::ptsname(master.as_raw_fd());
        assert!(!name.is_null(), "ptsname");
        let name = CStr::from_ptr(name).to_owned();
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "opening the pty slave failed");
        (master, File::from_raw_fd(slave))
    }
}
