//! Noticing that the harness gave up on a request. A thread serving a harness connection
//! watches that connection while it waits on the provider (for the response head, inside a
//! silent stream, in a backoff or a rate-limit wait): when the harness has closed it, the
//! upstream request is aborted (its connection dropped, never pooled) and the thread ends,
//! which frees the connection's slot. An SSE pump thread reading for that connection
//! watches a flag the connection thread raises when it ends.
//!
//! The watch is thread-local, so the upstream transport ([`WatchConnector`], one layer in
//! the `ureq` connector chain) can consult it without any change to the request path's
//! signatures.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ureq::Error;
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// How often a waiting thread looks at the harness's connection.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// What the current thread watches.
#[derive(Clone)]
enum Watch {
    /// The harness's socket (the connection thread itself), plus the flag it raises.
    Socket { fd: SocketId, gone: Arc<AtomicBool> },
    /// The flag of the connection a pump thread reads for.
    Flag(Arc<AtomicBool>),
}

#[cfg(unix)]
type SocketId = std::os::fd::RawFd;
#[cfg(not(unix))]
type SocketId = ();

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Watches the harness connection on this thread until dropped; dropping also tells pump
/// threads of this connection that nobody reads them any more.
pub struct ConnectionWatch {
    gone: Arc<AtomicBool>,
}

/// Watch `socket` (the harness's connection) on the current thread.
pub fn watch_connection(socket: &TcpStream) -> ConnectionWatch {
    #[cfg(unix)]
    let fd = std::os::fd::AsRawFd::as_raw_fd(socket);
    #[cfg(not(unix))]
    let fd = {
        let _ = socket;
    };
    let gone = Arc::new(AtomicBool::new(false));
    WATCH.with(|w| {
        *w.borrow_mut() = Some(Watch::Socket {
            fd,
            gone: gone.clone(),
        })
    });
    ConnectionWatch { gone }
}

impl Drop for ConnectionWatch {
    fn drop(&mut self) {
        self.gone.store(true, Ordering::SeqCst);
        WATCH.with(|w| *w.borrow_mut() = None);
    }
}

/// For a thread started on behalf of the current one (an SSE pump): what it should watch.
pub fn inherit() -> Option<impl FnOnce() + Send + 'static> {
    let flag = WATCH.with(|w| match w.borrow().as_ref()? {
        Watch::Socket { gone, .. } => Some(gone.clone()),
        Watch::Flag(gone) => Some(gone.clone()),
    })?;
    Some(move || WATCH.with(|w| *w.borrow_mut() = Some(Watch::Flag(flag))))
}

/// True when the harness this thread works for has gone (closed its connection).
pub fn harness_gone() -> bool {
    WATCH.with(|w| match w.borrow().as_ref() {
        None => false,
        Some(Watch::Flag(gone)) => gone.load(Ordering::SeqCst),
        Some(Watch::Socket { fd, gone }) => {
            if gone.load(Ordering::SeqCst) {
                return true;
            }
            let closed = peer_closed(*fd);
            if closed {
                gone.store(true, Ordering::SeqCst);
            }
            closed
        }
    })
}

/// Sleep `duration`, waking early when the harness goes; false when it went.
pub fn sleep(duration: Duration) -> bool {
    let end = Instant::now() + duration;
    loop {
        if harness_gone() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(CHECK_EVERY));
    }
}

/// Whether the peer of a connected socket has closed it (end of file, a reset or a hang-up),
/// without consuming anything: bytes it sent (a pipelined request) mean it is still there.
#[cfg(unix)]
fn peer_closed(fd: SocketId) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let events = libc::POLLIN | libc::POLLRDHUP;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let events = libc::POLLIN;
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
        return false;
    }
    if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return true;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if pfd.revents & libc::POLLRDHUP != 0 {
        return true;
    }
    let mut byte = [0u8; 1];
    // SAFETY: peeking one byte into a live buffer, without blocking.
    let n = unsafe {
        libc::recv(
            fd,
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

#[cfg(not(unix))]
fn peer_closed(_fd: SocketId) -> bool {
    false
}

/// The error an upstream request ends with when the harness went away.
fn abandoned() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the harness closed its connection",
    ))
}

/// Wraps each upstream connection in a [`WatchedTransport`].
#[derive(Debug, Default)]
pub struct WatchConnector;

impl<In: Transport> Connector<In> for WatchConnector {
    type Out = WatchedTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        Ok(chained.map(|inner| WatchedTransport { inner }))
    }
}

/// An upstream connection that, while it waits for the provider, looks at the harness
/// every [`CHECK_EVERY`] and gives up when it has gone. Everything else passes through.
pub struct WatchedTransport<T> {
    inner: T,
}

impl<T: Transport> Transport for WatchedTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        if !WATCH.with(|w| w.borrow().is_some()) {
            return self.inner.await_input(timeout);
        }
        let whole = timeout.for_read();
        let started = Instant::now();
        loop {
            let left = whole.after.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout(whole.reason));
            }
            let slice = NextTimeout {
                after: UreqDuration::Exact(left.min(CHECK_EVERY)),
                ..whole
            };
            // The harness is looked at only when a slice passed without an answer: a
            // provider that answers at once costs no extra system call.
            match self.inner.await_input(slice) {
                Err(Error::Timeout(_)) if harness_gone() => return Err(abandoned()),
                Err(Error::Timeout(_)) if started.elapsed() < *whole.after => continue,
                Err(Error::Timeout(_)) => return Err(Error::Timeout(whole.reason)),
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: fmt::Debug> fmt::Debug for WatchedTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedTransport")
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_closed_harness_connection_is_noticed_and_a_pipelined_one_is_not() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let watch = watch_connection(&server);
        assert!(!harness_gone());
        client.write_all(b"GET /next HTTP/1.1\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!harness_gone(), "a pipelined request is not a hang-up");
        let pump_watch = inherit().unwrap();
        drop(client);
        let start = Instant::now();
        while !harness_gone() {
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !sleep(Duration::from_secs(60)),
            "a wait ends when the harness goes"
        );
        drop(watch);
        assert!(!harness_gone(), "the watch ends with its guard");
        let pump = std::thread::spawn(move || {
            pump_watch();
            harness_gone()
        });
        assert!(
            pump.join().unwrap(),
            "a pump learns that its connection ended"
        );
    }
}
