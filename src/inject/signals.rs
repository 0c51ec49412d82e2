//! Passing SIGINT, SIGTERM and SIGHUP on to a child while oauth-mux waits for it.
//!
//! The handlers only set a bit in an atomic (async-signal-safe); the waiting loop
//! reads the bits and sends each signal to the child with `kill`. oauth-mux
//! itself never exits before the child does, so the guard that removes the
//! private credential dir always runs.

#[cfg(not(unix))]
pub use other::*;
#[cfg(unix)]
pub use unix::*;

#[cfg(unix)]
mod unix {
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The signals forwarded to the child.
    pub const FORWARDED: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    static PENDING: AtomicU32 = AtomicU32::new(0);

    fn bit(sig: libc::c_int) -> u32 {
        1u32 << (sig as u32 & 31)
    }

    extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
        // A terminal's Ctrl-C / hangup is delivered by the kernel to the whole
        // foreground process group, the child included: do not deliver it twice.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            const SI_KERNEL: libc::c_int = 0x80;
            // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
            if !info.is_null() && unsafe { (*info).si_code } == SI_KERNEL {
                return;
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = info;
        PENDING.fetch_or(bit(sig), Ordering::SeqCst);
    }

    /// Installed handlers; dropping restores the previous dispositions.
    pub struct ForwardingHandlers {
        previous: Vec<(libc::c_int, libc::sigaction)>,
    }

    impl ForwardingHandlers {
        /// Install the forwarding handlers for [`FORWARDED`].
        pub fn install() -> std::io::Result<ForwardingHandlers> {
            PENDING.store(0, Ordering::SeqCst);
            let mut previous = Vec::new();
            for sig in FORWARDED {
                // SAFETY: a zeroed sigaction is a valid starting value; the handler is
                // async-signal-safe (one atomic operation).
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_signal as *const () as usize;
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, &action, &mut old) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    previous.push((sig, old));
                }
            }
            Ok(ForwardingHandlers { previous })
        }

        /// Signals received since the last call, in [`FORWARDED`] order.
        pub fn take_pending(&self) -> Vec<libc::c_int> {
            let bits = PENDING.swap(0, Ordering::SeqCst);
            FORWARDED
                .iter()
                .copied()
                .filter(|s| bits & bit(*s) != 0)
                .collect()
        }
    }

    impl Drop for ForwardingHandlers {
        fn drop(&mut self) {
            for (sig, old) in &self.previous {
                // SAFETY: restoring a disposition returned by sigaction.
                unsafe {
                    libc::sigaction(*sig, old, std::ptr::null_mut());
                }
            }
        }
    }

    /// Send `sig` to process `pid`.
    pub fn send(pid: u32, sig: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// Windows: a console Ctrl-C reaches every process attached to the console, the
/// child included, so there is nothing to forward.
#[cfg(not(unix))]
mod other {
    /// No signals are forwarded.
    pub const FORWARDED: [i32; 0] = [];

    /// Nothing to install.
    pub struct ForwardingHandlers;

    impl ForwardingHandlers {
        pub fn install() -> std::io::Result<ForwardingHandlers> {
            Ok(ForwardingHandlers)
        }

        pub fn take_pending(&self) -> Vec<i32> {
            Vec::new()
        }
    }

    /// Nothing to send.
    pub fn send(_pid: u32, _sig: i32) {}
}
