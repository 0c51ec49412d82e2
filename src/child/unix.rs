//! The Unix side of running a child: its own process group, the terminal handed over and
//! taken back, the Linux parent-death signal, the watchdog, and a wait that passes a
//! terminal stop (Ctrl-Z) on to oauth-mux's own job the way a shell expects.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use super::TERMINATION_GRACE;
use super::watchdog::Watchdog;

/// The controlling terminal, when oauth-mux's process group is its foreground group
/// (only then is it oauth-mux's to hand over).
pub struct Terminal {
    tty: File,
}

impl Terminal {
    fn held() -> Option<Terminal> {
        let tty = File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        // SAFETY: plain queries of this process and an open descriptor.
        let (foreground, own) = unsafe { (libc::tcgetpgrp(tty.as_raw_fd()), libc::getpgrp()) };
        (foreground == own).then_some(Terminal { tty })
    }

    fn fd(&self) -> RawFd {
        self.tty.as_raw_fd()
    }

    /// Make `pgid` the terminal's foreground group. Called from the background, so
    /// `SIGTTOU` is blocked on this thread meanwhile (else it would stop oauth-mux).
    fn give_to(&self, pgid: libc::pid_t) {
        with_sigttou_blocked(|| {
            // SAFETY: tcsetpgrp on an open descriptor; failure leaves the terminal as is.
            unsafe { libc::tcsetpgrp(self.fd(), pgid) };
        });
    }

    /// Make oauth-mux's own group the foreground group again.
    fn take_back(&self) {
        // SAFETY: getpgrp cannot fail.
        self.give_to(unsafe { libc::getpgrp() });
    }
}

fn with_sigttou_blocked(f: impl FnOnce()) {
    // SAFETY: a sigset built with sigemptyset/sigaddset, and the previous mask restored.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut previous);
        f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
    }
}

/// What [`prepare`] set up for the child, for [`Supervision::start`].
pub struct Prepared {
    terminal: Option<Terminal>,
}

/// Arrange, in the child between `fork` and `exec`: its own process group, the terminal
/// when oauth-mux held it, and (Linux) `SIGTERM` when oauth-mux dies.
pub fn prepare(command: &mut Command) -> Prepared {
    let terminal = Terminal::held();
    let tty = terminal.as_ref().map(Terminal::fd);
    // SAFETY: getpid cannot fail.
    #[cfg(target_os = "linux")]
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child and calls only async-signal-safe
    // functions (setpgid, sigprocmask, tcsetpgrp, getpid, prctl, getppid); it allocates
    // nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(fd) = tty {
                let mut block: libc::sigset_t = std::mem::zeroed();
                let mut previous: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut block);
                libc::sigaddset(&mut block, libc::SIGTTOU);
                libc::sigprocmask(libc::SIG_BLOCK, &block, &mut previous);
                libc::tcsetpgrp(fd, libc::getpid());
                libc::sigprocmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // oauth-mux died before the signal was armed: do not start at all.
                if libc::getppid() != parent {
                    return Err(io::Error::from(io::ErrorKind::BrokenPipe));
                }
            }
            Ok(())
        });
    }
    Prepared { terminal }
}

/// A started child's supervision: the watchdog and the terminal it was given.
pub struct Supervision {
    pgid: libc::pid_t,
    terminal: Option<Terminal>,
    watchdog: Option<Watchdog>,
}

impl Supervision {
    pub fn start(child: &Child, prepared: Prepared) -> Supervision {
        let pgid = libc::pid_t::try_from(child.id()).unwrap_or(0);
        if let Some(terminal) = &prepared.terminal {
            // The child took the terminal itself before exec; repeating it here (as shells
            // do) removes any doubt about the order.
            terminal.give_to(pgid);
        }
        // Without a watchdog the Linux parent-death signal still ends the child itself.
        let watchdog = Watchdog::start(pgid, TERMINATION_GRACE).ok();
        Supervision {
            pgid,
            terminal: prepared.terminal,
            watchdog,
        }
    }

    /// Wait for the child to end. While it holds the terminal, a stop (Ctrl-Z) stops
    /// oauth-mux's own job too, so the shell sees its job stopped; when continued, the
    /// child gets the terminal back and `SIGCONT`.
    pub fn wait(self, child: Child) -> io::Result<ExitStatus> {
        let pid = self.pgid;
        let status = loop {
            let mut status: libc::c_int = 0;
            let flags = if self.terminal.is_some() {
                libc::WUNTRACED
            } else {
                0
            };
            // SAFETY: waitpid on our own child with a valid status pointer.
            let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.finish();
                return Err(err);
            }
            if libc::WIFSTOPPED(status) {
                if let Some(terminal) = &self.terminal {
                    terminal.take_back();
                    // SAFETY: signals to our own process group and the child's group.
                    unsafe {
                        libc::kill(0, libc::SIGTSTP);
                    }
                    terminal.give_to(pid);
                    unsafe {
                        libc::kill(-pid, libc::SIGCONT);
                    }
                }
                continue;
            }
            break status;
        };
        // The child was reaped here, not through `Child::wait`.
        drop(child);
        self.finish();
        Ok(ExitStatus::from_raw(status))
    }

    fn finish(self) {
        if let Some(terminal) = &self.terminal {
            terminal.take_back();
        }
        if let Some(watchdog) = self.watchdog {
            watchdog.stand_down();
        }
    }
}

/// Whether `pid`'s process group, or `pid` itself, still has a process.
pub fn group_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    let exists = |target: libc::pid_t| {
        // SAFETY: signal 0 only checks for existence and permission.
        let rc = unsafe { libc::kill(target, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    };
    exists(-pid) || exists(pid)
}
