//! Passing termination signals on to a child process while oauth-mux waits for it
//! (`exec`, `stay-afloat launch`, managed sessions). oauth-mux itself keeps running
//! until the child ends, so its cleanup (private credential dirs, overlays, the
//! session proxy's health writes) always runs.
//!
//! Install the forwarder before spawning the child, then [`SignalForwarder::attach`]
//! it: a signal that arrives before the child exists is kept and delivered on attach.
//! The child runs in its own process group and, when oauth-mux held the terminal, owns
//! it (see [`super`]): a Ctrl-C typed there reaches the child's group directly and never
//! oauth-mux, so every signal oauth-mux itself receives is passed on.

#[cfg(unix)]
pub use unix::SignalForwarder;

#[cfg(not(unix))]
pub use other::SignalForwarder;

#[cfg(unix)]
mod unix {
    use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

    /// The signals passed on to the child.
    const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    static CHILD: AtomicI32 = AtomicI32::new(0);
    static PENDING: AtomicU32 = AtomicU32::new(0);

    fn bit(sig: libc::c_int) -> u32 {
        1u32 << (sig as u32 & 31)
    }

    extern "C" fn on_signal(sig: libc::c_int) {
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe {
                libc::kill(pid, sig);
            }
        } else {
            PENDING.fetch_or(bit(sig), Ordering::SeqCst);
        }
    }

    /// Installed handlers; dropping restores the previous dispositions.
    pub struct SignalForwarder {
        previous: Vec<(libc::c_int, libc::sigaction)>,
    }

    impl SignalForwarder {
        /// Install the handlers (before spawning the child).
        pub fn install() -> std::io::Result<SignalForwarder> {
            CHILD.store(0, Ordering::SeqCst);
            PENDING.store(0, Ordering::SeqCst);
            let mut previous = Vec::new();
            for sig in FORWARDED {
                // SAFETY: a zeroed sigaction is a valid start; the handler only uses
                // async-signal-safe operations (atomics and kill).
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_signal as *const () as usize;
                    action.sa_flags = libc::SA_RESTART;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, &action, &mut old) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    previous.push((sig, old));
                }
            }
            Ok(SignalForwarder { previous })
        }

        /// Forward to `pid` from now on, delivering any signal that arrived before.
        pub fn attach(&self, pid: u32) {
            CHILD.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
            let pending = PENDING.swap(0, Ordering::SeqCst);
            for sig in FORWARDED.into_iter().filter(|s| pending & bit(*s) != 0) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid as libc::pid_t, sig);
                }
            }
        }
    }

    impl Drop for SignalForwarder {
        fn drop(&mut self) {
            CHILD.store(0, Ordering::SeqCst);
            for (sig, old) in &self.previous {
                // SAFETY: restoring a disposition returned by sigaction.
                unsafe {
                    libc::sigaction(*sig, old, std::ptr::null_mut());
                }
            }
        }
    }
}

/// Windows: a console Ctrl-C reaches every process attached to the console, the
/// child included, so there is nothing to forward.
#[cfg(not(unix))]
mod other {
    pub struct SignalForwarder;

    impl SignalForwarder {
        pub fn install() -> std::io::Result<SignalForwarder> {
            Ok(SignalForwarder)
        }

        pub fn attach(&self, _pid: u32) {}
    }
}
