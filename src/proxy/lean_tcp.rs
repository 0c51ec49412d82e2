//! The upstream TCP transport: `ureq`'s own, doing the same, with the check of a pooled
//! connection in one system call instead of three.
//!
//! An idle connection is checked before it is reused (`Transport::is_open`, see
//! `connections`): `ureq`'s TCP transport switches the socket to non-blocking, tries to read
//! a byte that must not be there, and switches it back. Here the same check is one `recv` with `MSG_PEEK |
//! MSG_DONTWAIT` (Unix): nothing waiting means open; a byte, an end of file or an error
//! means the connection must not be reused. Socket timeouts are set only when they change,
//! as `ureq` does.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

/// Opens plain TCP connections to the upstream (when no earlier connector in the chain, an
/// HTTP CONNECT proxy, made one).
#[derive(Debug, Default)]
pub struct LeanTcpConnector;

impl<In: Transport> Connector<In> for LeanTcpConnector {
    type Out = Either<In, LeanTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if chained.is_some() {
            return Ok(chained.map(Either::A));
        }
        let stream = connect_any(&details.addrs, details.timeout)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let stream = Arc::new(stream);
        let handle: Weak<dyn ShutdownHandle> = Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>;
        (details.register_shutdown)(handle)?;
        let config = details.config;
        Ok(Some(Either::B(LeanTcp {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Try each resolved address in turn, the connect timeout shared out among those left.
fn connect_any(addrs: &[SocketAddr], timeout: NextTimeout) -> Result<TcpStream, Error> {
    let started = std::time::Instant::now();
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let stream = match timeout.not_zero() {
            Some(total) => {
                let left = (*total).saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(Error::Timeout(timeout.reason));
                }
                let share = left / (addrs.len() - i) as u32;
                TcpStream::connect_timeout(addr, share.max(Duration::from_millis(10)))
            }
            None => TcpStream::connect(addr),
        };
        match stream {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::TimedOut => Error::Timeout(timeout.reason),
        Some(e) => Error::Io(e),
        None => Error::Io(io::ErrorKind::ConnectionRefused.into()),
    })
}

/// One upstream TCP connection.
pub struct LeanTcp {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// Which socket timeout.
#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl LeanTcp {
    /// Apply `timeout` (already narrowed to one read or write) to the socket, setting the
    /// option only when it differs from the one set last. macOS refuses a change once the
    /// peer has closed with data unread; the next read or write then says what happened.
    fn apply(&mut self, timeout: &NextTimeout, direction: Direction) -> Result<(), Error> {
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let want = timeout.not_zero().map(|d| *d);
        let (last, result) = match direction {
            Direction::Read if self.read_timeout != want => {
                (&mut self.read_timeout, self.stream.set_read_timeout(want))
            }
            Direction::Write if self.write_timeout != want => {
                (&mut self.write_timeout, self.stream.set_write_timeout(want))
            }
            _ => return Ok(()),
        };
        match result {
            Ok(()) => *last = want,
            Err(e) if cfg!(target_os = "macos") && e.kind() == io::ErrorKind::InvalidInput => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// What a timed-out read or write becomes.
fn io_error(e: io::Error, timeout: &NextTimeout) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(timeout.reason),
        _ => Error::Io(e),
    }
}

impl Transport for LeanTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        self.apply(&timeout, Direction::Write)?;
        let output = &self.buffers.output()[..amount];
        (&*self.stream)
            .write_all(output)
            .map_err(|e| io_error(e, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        self.apply(&timeout, Direction::Read)?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match (&*self.stream).read(input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e, &timeout)),
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        nothing_waiting(&self.stream)
    }
}

/// An idle connection is fit for reuse when nothing waits to be read on it: no stray byte,
/// no end of file, no error.
#[cfg(unix)]
fn nothing_waiting(stream: &TcpStream) -> bool {
    let fd = std::os::fd::AsRawFd::as_raw_fd(stream);
    matches!(peek_without_waiting(fd), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Peek at the next byte of a socket without waiting and without consuming it: `Ok(1)` a
/// byte waits, `Ok(0)` the peer closed, `WouldBlock` nothing yet.
#[cfg(unix)]
pub fn peek_without_waiting(fd: std::os::fd::RawFd) -> io::Result<usize> {
    let mut byte = [0u8; 1];
    // SAFETY: peeking at most one byte into a live buffer, without blocking.
    let n = unsafe {
        libc::recv(
            fd,
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(not(unix))]
fn nothing_waiting(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open = matches!(stream.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && open
}

impl std::fmt::Debug for LeanTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeanTcp")
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn an_idle_connection_is_open_until_a_byte_or_a_close_arrives() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(nothing_waiting(&client), "idle and quiet");
        server.write_all(b"x").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while nothing_waiting(&client) {
            assert!(
                std::time::Instant::now() < deadline,
                "the stray byte never showed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut quiet = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (closing, _) = listener.accept().unwrap();
        assert!(nothing_waiting(&quiet));
        drop(closing);
        while nothing_waiting(&quiet) {
            assert!(
                std::time::Instant::now() < deadline,
                "the close never showed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The probe consumed nothing: the end of file is still there to read.
        let mut buf = [0u8; 1];
        assert_eq!(quiet.read(&mut buf).unwrap(), 0);
    }
}
