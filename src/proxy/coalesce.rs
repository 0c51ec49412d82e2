//! One write per small upstream request. The proxy writes a request whole into its
//! connection's buffer (see `exchange`), but TLS hands it to the connection record by record:
//! several TCP segments, so the provider's reader may wake several times and both ends pay
//! more trips through the network stack (when `ureq` still wrote a request's head and body
//! apart, forcing the same split on the bench's direct client cost it and the fake provider
//! about 14 µs of CPU per request). This transport sits on the connection under TLS and
//! holds outgoing bytes until the response is awaited or its buffer runs low, so a small
//! request leaves in one write. The price is a second buffer pair per pooled connection
//! (about 1 MiB of RSS at 16 busy connections) and a copy each way; on a plain connection,
//! where it changes nothing, it stays so both kinds take the same path (leaving it out there
//! measured no difference: 20.7–21.8 against 20.9–21.8 µs of proxy CPU per request).
//!
//! Built on `ureq`'s `unversioned` transport API (pinned by `Cargo.lock`).

use std::fmt;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};
use ureq::{Error, ProxyProtocol};

/// Held bytes are written once less than this much room is left (or a quarter of a smaller
/// buffer), so large bodies still go out in large writes.
const FLUSH_WHEN_ROOM_BELOW: usize = 8 * 1024;

/// Wraps whatever connection the chain opened so far (TCP, or a CONNECT tunnel).
#[derive(Debug, Default)]
pub struct CoalescingConnector;

impl<In: Transport> Connector<In> for CoalescingConnector {
    type Out = Either<In, CoalescingTransport<In>>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        let config = details.config;
        // Through a CONNECT proxy the tunnel was opened by a run of the whole chain (this
        // connector included, with the proxy taken out of the config), so its bytes are
        // held already; a second layer would only add buffers and copies.
        let through_connect_tunnel = config.proxy().is_some_and(|proxy| {
            matches!(proxy.protocol(), ProxyProtocol::Http | ProxyProtocol::Https)
                && !proxy.is_no_proxy(details.uri)
        });
        if through_connect_tunnel {
            return Ok(chained.map(Either::A));
        }
        Ok(chained.map(|inner| {
            Either::B(CoalescingTransport::new(
                inner,
                config.input_buffer_size(),
                config.output_buffer_size(),
            ))
        }))
    }
}

/// A transport that holds writes until the peer's answer is awaited.
pub struct CoalescingTransport<T> {
    inner: T,
    buffers: HeldOutput,
    /// The timeout of the latest held write, applied when the held bytes go out.
    write_timeout: Option<NextTimeout>,
}

impl<T: Transport> CoalescingTransport<T> {
    pub fn new(inner: T, input_size: usize, output_size: usize) -> Self {
        CoalescingTransport {
            inner,
            buffers: HeldOutput {
                buffers: LazyBuffers::new(input_size, output_size),
                held: 0,
            },
            write_timeout: None,
        }
    }

    /// Write every held byte to the connection.
    fn flush(&mut self) -> Result<(), Error> {
        let held = std::mem::take(&mut self.buffers.held);
        let timeout = self.write_timeout.take().unwrap_or_default();
        let mut sent = 0;
        while sent < held {
            let room = self.inner.buffers().output();
            let n = room.len().min(held - sent);
            room[..n].copy_from_slice(&self.buffers.buffers.output()[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        Ok(())
    }

    /// Move what the connection has read into this transport's input; returns the count.
    fn take_input(&mut self) -> usize {
        let source = self.inner.buffers();
        let target = self.buffers.buffers.input_append_buf();
        let n = source.input().len().min(target.len());
        target[..n].copy_from_slice(&source.input()[..n]);
        source.input_consume(n);
        self.buffers.buffers.input_appended(n);
        n
    }
}

impl<T: Transport> Transport for CoalescingTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.buffers.held += amount;
        self.write_timeout = Some(timeout);
        if self.buffers.room() < FLUSH_WHEN_ROOM_BELOW.min(self.buffers.capacity() / 4) {
            self.flush()?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        if self.buffers.held > 0 {
            self.flush()?;
        }
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        Ok(self.take_input() > 0)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        // Whoever waits for the peer must first send what the peer is to answer; the
        // default returns early on buffered input, which would leave held bytes behind.
        if self.buffers.held > 0 {
            self.flush()?;
        }
        if self.buffers.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        // Bytes still held belong to an exchange that never completed: not reusable.
        self.buffers.held == 0 && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: fmt::Debug> fmt::Debug for CoalescingTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoalescingTransport")
            .field("inner", &self.inner)
            .field("held", &self.buffers.held)
            .finish()
    }
}

/// `LazyBuffers` whose output starts after the bytes already held.
#[derive(Debug)]
struct HeldOutput {
    buffers: LazyBuffers,
    held: usize,
}

impl HeldOutput {
    fn capacity(&mut self) -> usize {
        self.buffers.output().len()
    }

    fn room(&mut self) -> usize {
        self.capacity() - self.held
    }
}

impl Buffers for HeldOutput {
    fn output(&mut self) -> &mut [u8] {
        let held = self.held;
        &mut self.buffers.output()[held..]
    }

    fn input(&self) -> &[u8] {
        self.buffers.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.buffers.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.buffers.input_appended(amount)
    }

    fn input_consume(&mut self, amount: usize) {
        self.buffers.input_consume(amount)
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let held = self.held;
        let (tmp, output) = self.buffers.tmp_and_output();
        (tmp, &mut output[held..])
    }

    fn can_use_input(&self) -> bool {
        self.buffers.can_use_input()
    }
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;
