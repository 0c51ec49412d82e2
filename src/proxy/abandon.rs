//! Noticing that the harness gave up on a request. A thread serving a harness connection
//! watches that connection while it waits on the provider (for the response head, inside a
//! silent stream, in a backoff or a rate-limit wait): when the harness has closed it, the
//! upstream request is aborted (its connection dropped, never pooled) and the thread ends,
//! which frees the connection's slot. The same thread reads the provider's stream (no
//! helper thread), so the held opening of an SSE stream is bounded in time here too
//! ([`hold_until`]).
//!
//! The watch is thread-local, so the upstream transport ([`WatchConnector`], one layer in
//! the `ureq` connector chain) can consult it without any change to the request path's
//! signatures.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ureq::Error;
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// How often a waiting thread looks at the harness's connection.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// What the current thread watches: the harness's socket, and whether it was seen gone.
struct Watch {
    fd: SocketId,
    gone: bool,
}

#[cfg(unix)]
type SocketId = std::os::fd::RawFd;
#[cfg(not(unix))]
type SocketId = ();

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
    static HOLD_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Watches the harness connection on this thread until dropped.
pub struct ConnectionWatch(());

/// Watch `socket` (the harness's connection) on the current thread.
pub fn watch_connection(socket: &TcpStream) -> ConnectionWatch {
    #[cfg(unix)]
    let fd = std::os::fd::AsRawFd::as_raw_fd(socket);
    #[cfg(not(unix))]
    let fd = {
        let _ = socket;
    };
    WATCH.with(|w| *w.borrow_mut() = Some(Watch { fd, gone: false }));
    ConnectionWatch(())
}

impl Drop for ConnectionWatch {
    fn drop(&mut self) {
        WATCH.with(|w| *w.borrow_mut() = None);
    }
}

/// True when the harness this thread works for has gone (closed its connection).
pub fn harness_gone() -> bool {
    WATCH.with(|w| match w.borrow_mut().as_mut() {
        None => false,
        Some(watch) => {
            if !watch.gone {
                watch.gone = peer_closed(watch.fd);
            }
            watch.gone
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
    matches!(super::lean_tcp::peek_without_waiting(fd), Ok(0))
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
/// every [`CHECK_EVERY`] and gives up when it has gone. A system call per request is saved
/// on the way (see `transmit_output`); everything else passes through.
pub struct WatchedTransport<T> {
    inner: T,
}

/// A send timeout rounded up to whole seconds. A caller that passes what is left of a budget
/// (`ureq`'s connection set-up does) passes a little less each time, and the TCP transport
/// sets the socket option whenever the value changes: a system call each time. Rounded, it
/// stays the same from one write to the next; a send may take at most a second longer than
/// configured.
fn whole_seconds(timeout: NextTimeout) -> NextTimeout {
    let after = match timeout.after {
        UreqDuration::Exact(d) if d.subsec_nanos() > 0 => {
            UreqDuration::Exact(Duration::from_secs(d.as_secs() + 1))
        }
        other => other,
    };
    NextTimeout { after, ..timeout }
}

impl<T: Transport> Transport for WatchedTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.inner.transmit_output(amount, whole_seconds(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.await_input_watched(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: Transport> WatchedTransport<T> {
    fn await_input_watched(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let hold = HOLD_UNTIL.with(Cell::get);
        if hold.is_none() && !WATCH.with(|w| w.borrow().is_some()) {
            return self.inner.await_input(timeout);
        }
        let whole = timeout.for_read();
        let started = Instant::now();
        loop {
            let left = whole.after.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::Timeout(whole.reason));
            }
            let mut slice_len = left.min(CHECK_EVERY);
            if let Some(until) = hold {
                let held_for = until.saturating_duration_since(Instant::now());
                if held_for.is_zero() {
                    return Err(Error::Io(io::Error::other(HoldTimeUp)));
                }
                slice_len = slice_len.min(held_for);
            }
            let slice = NextTimeout {
                after: UreqDuration::Exact(slice_len),
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
}

/// The error a read on the current thread ends with when the time set by [`hold_until`]
/// is up and nothing arrived. Nothing is lost: the response reads on afterwards.
#[derive(Debug)]
pub struct HoldTimeUp;

impl fmt::Display for HoldTimeUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the hold of the stream's opening is over")
    }
}

impl std::error::Error for HoldTimeUp {}

/// Whether `e` is [`HoldTimeUp`].
pub fn is_hold_time_up(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<HoldTimeUp>())
}

/// Until the guard is dropped, upstream reads on this thread wait no later than `until`
/// (then fail with [`HoldTimeUp`]): how the held opening of an SSE stream is bounded in
/// time on the connection's own thread, without a pump thread.
pub fn hold_until(until: Instant) -> HoldGuard {
    HOLD_UNTIL.with(|h| h.set(Some(until)));
    HoldGuard(())
}

/// Ends the bound set by [`hold_until`].
pub struct HoldGuard(());

impl Drop for HoldGuard {
    fn drop(&mut self) {
        HOLD_UNTIL.with(|h| h.set(None));
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
    }

    #[test]
    fn a_send_timeout_is_rounded_up_to_whole_seconds_so_it_stays_the_same() {
        let budget = |d: Duration| NextTimeout {
            after: UreqDuration::Exact(d),
            ..NextTimeout::default()
        };
        let exact = |t: NextTimeout| match t.after {
            UreqDuration::Exact(d) => d,
            UreqDuration::NotHappening => panic!("no timeout"),
        };
        let a = whole_seconds(budget(Duration::from_secs(60) - Duration::from_micros(7)));
        let b = whole_seconds(budget(Duration::from_secs(60) - Duration::from_micros(90)));
        assert_eq!(exact(a), Duration::from_secs(60));
        assert_eq!(exact(b), Duration::from_secs(60));
        assert_eq!(
            exact(whole_seconds(budget(Duration::from_secs(5)))),
            Duration::from_secs(5)
        );
        let never = NextTimeout::default();
        assert!(matches!(
            whole_seconds(never).after,
            UreqDuration::NotHappening
        ));
    }
}
