//! The watchdog: a forked copy of oauth-mux that holds the read end of a pipe whose only
//! write end oauth-mux keeps. oauth-mux stands it down with one byte when the child has
//! ended; end of file instead means oauth-mux died (even by `SIGKILL`), and the watchdog
//! ends the child's process group: `SIGTERM` and `SIGCONT`, then `SIGKILL` for whatever is
//! left after the grace period. It works the same on Linux and macOS.
//!
//! The forked process runs no Rust runtime code: only async-signal-safe system calls (a
//! fork of a threaded process may not allocate or take locks), and it closes every
//! descriptor it inherited (sockets, lock files, the terminal) but its pipe.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The pipe end the watchdog reads, moved to this descriptor number in the watchdog.
const WATCH_FD: RawFd = 3;
/// How often the watchdog looks whether the group has ended during the grace period.
const POLL_MS: u64 = 25;
/// Signals the watchdog ignores: it must survive its job being hung up, interrupted,
/// terminated or stopped, to do its work when oauth-mux is gone.
const IGNORED: [libc::c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// A running watchdog for one child's process group.
pub struct Watchdog {
    stand_down: OwnedFd,
    pid: libc::pid_t,
}

impl Watchdog {
    /// Fork the watchdog for the process group `pgid`.
    pub fn start(pgid: libc::pid_t, grace: Duration) -> io::Result<Watchdog> {
        if pgid <= 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let (read_end, write_end) = cloexec_pipe()?;
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: in the child branch only async-signal-safe calls follow (see `watch`).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: both descriptors are ours and open.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            return Err(err);
        }
        if pid == 0 {
            // SAFETY: the forked child; `watch` never returns.
            unsafe { watch(read_end, write_end, pgid, grace_ms) }
        }
        // SAFETY: the read end belongs to the watchdog now; the write end is ours alone.
        unsafe {
            libc::close(read_end);
            Ok(Watchdog {
                stand_down: OwnedFd::from_raw_fd(write_end),
                pid,
            })
        }
    }

    /// The child ended: tell the watchdog to leave the group alone, and reap it.
    pub fn stand_down(self) {
        let byte = [1u8];
        // SAFETY: writing one byte from a live buffer to our own descriptor.
        unsafe {
            libc::write(
                std::os::fd::AsRawFd::as_raw_fd(&self.stand_down),
                byte.as_ptr().cast(),
                1,
            );
        }
        drop(self.stand_down);
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
    }
}

fn cloexec_pipe() -> io::Result<(RawFd, RawFd)> {
    let mut fds = [0 as RawFd; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        // SAFETY: a valid two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: a valid two-element array, then flags on the descriptors just made.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            for fd in fds {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    Ok((fds[0], fds[1]))
}

/// The watchdog's whole life, in the forked process.
///
/// # Safety
/// Only to be called in a freshly forked child: it closes descriptors it does not own.
unsafe fn watch(read_end: RawFd, write_end: RawFd, pgid: libc::pid_t, grace_ms: u64) -> ! {
    // SAFETY (whole body): async-signal-safe system calls only, on plain integers and
    // stack buffers.
    unsafe {
        libc::close(write_end);
        for sig in IGNORED {
            libc::signal(sig, libc::SIG_IGN);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        let fd = if read_end == WATCH_FD {
            read_end
        } else if libc::dup2(read_end, WATCH_FD) == WATCH_FD {
            WATCH_FD
        } else {
            libc::_exit(1)
        };
        for other in 0..WATCH_FD {
            libc::close(other);
        }
        close_from(WATCH_FD + 1);
        let mut byte = [0u8; 1];
        let parent_died = loop {
            let n = libc::read(fd, byte.as_mut_ptr().cast(), 1);
            if n > 0 {
                break false;
            }
            if n == 0 {
                break true;
            }
            if *errno() != libc::EINTR {
                break false;
            }
        };
        if parent_died && group_exists(pgid) {
            libc::kill(-pgid, libc::SIGTERM);
            libc::kill(-pgid, libc::SIGCONT);
            let mut waited = 0;
            while waited < grace_ms && group_exists(pgid) {
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: (POLL_MS * 1_000_000) as libc::c_long,
                };
                libc::nanosleep(&pause, std::ptr::null_mut());
                waited += POLL_MS;
            }
            if group_exists(pgid) {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        libc::_exit(0)
    }
}

unsafe fn group_exists(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 checks for existence only.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Close every descriptor from `first` on.
unsafe fn close_from(first: RawFd) {
    // SAFETY: closing descriptors of this (forked) process only.
    unsafe {
        #[cfg(target_os = "linux")]
        {
            if libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                0,
            ) == 0
            {
                return;
            }
        }
        let mut limit: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(65_536) as RawFd
        } else {
            1024
        };
        for fd in first..max {
            libc::close(fd);
        }
    }
}

#[cfg(target_os = "linux")]
unsafe fn errno() -> *mut libc::c_int {
    // SAFETY: the thread's errno location.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
unsafe fn errno() -> *mut libc::c_int {
    // SAFETY: the thread's errno location.
    unsafe { libc::__error() }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd"
)))]
unsafe fn errno() -> *mut libc::c_int {
    // SAFETY: the thread's errno location.
    unsafe { libc::__errno() }
}
