use super::*;

/// A connection that records every write and answers reads from a script.
#[derive(Debug)]
struct Recording {
    buffers: LazyBuffers,
    writes: Vec<Vec<u8>>,
    replies: Vec<Vec<u8>>,
}

impl Recording {
    fn new(replies: &[&[u8]]) -> Self {
        Self::with_output(replies, 64)
    }

    fn with_output(replies: &[&[u8]], output: usize) -> Self {
        Recording {
            buffers: LazyBuffers::new(64, output),
            writes: Vec::new(),
            replies: replies.iter().rev().map(|r| r.to_vec()).collect(),
        }
    }
}

impl Transport for Recording {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _: NextTimeout) -> Result<(), Error> {
        self.writes.push(self.buffers.output()[..amount].to_vec());
        Ok(())
    }

    fn await_input(&mut self, _: NextTimeout) -> Result<bool, Error> {
        let Some(reply) = self.replies.pop() else {
            return Ok(false);
        };
        let room = self.buffers.input_append_buf();
        room[..reply.len()].copy_from_slice(&reply);
        self.buffers.input_appended(reply.len());
        Ok(true)
    }

    fn is_open(&mut self) -> bool {
        true
    }
}

fn send(t: &mut CoalescingTransport<Recording>, bytes: &[u8]) {
    t.buffers().output()[..bytes.len()].copy_from_slice(bytes);
    t.transmit_output(bytes.len(), NextTimeout::default())
        .unwrap();
}

#[test]
fn head_and_body_leave_in_one_write_when_the_answer_is_awaited() {
    let mut t =
        CoalescingTransport::new(Recording::new(&[b"HTTP/1.1 200 OK\r\n"]), 1024, 32 * 1024);
    send(&mut t, b"POST /v1 HTTP/1.1\r\ncontent-length: 2\r\n\r\n");
    send(&mut t, b"{}");
    assert!(
        t.inner.writes.is_empty(),
        "nothing leaves before the answer is awaited"
    );
    assert!(t.await_input(NextTimeout::default()).unwrap());
    assert_eq!(
        t.inner.writes,
        vec![b"POST /v1 HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".to_vec()]
    );
    assert_eq!(t.buffers().input(), b"HTTP/1.1 200 OK\r\n");
}

#[test]
fn a_large_body_goes_out_in_large_writes() {
    let inner = Recording::with_output(&[], 64 * 1024);
    let mut t = CoalescingTransport::new(inner, 1024, 32 * 1024);
    let chunk = vec![b'x'; 10 * 1024];
    for _ in 0..10 {
        let room = t.buffers().output().len();
        assert!(room >= FLUSH_WHEN_ROOM_BELOW, "room {room}");
        send(&mut t, &chunk);
    }
    assert!(
        !t.await_input(NextTimeout::default()).unwrap(),
        "end of input"
    );
    let sizes: Vec<usize> = t.inner.writes.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 100 * 1024, "{sizes:?}");
    let (last, rest) = sizes.split_last().unwrap();
    assert!(rest.iter().all(|&n| n >= 24 * 1024), "{sizes:?}");
    assert!(*last <= 32 * 1024, "{sizes:?}");
}

#[test]
fn held_bytes_larger_than_the_connection_buffer_go_out_in_pieces() {
    let mut t = CoalescingTransport::new(Recording::new(&[b"ok"]), 1024, 1024);
    send(&mut t, &[b'y'; 200]);
    assert!(t.await_input(NextTimeout::default()).unwrap());
    let sizes: Vec<usize> = t.inner.writes.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![64, 64, 64, 8]);
}

#[test]
fn input_larger_than_the_buffer_is_handed_over_in_turns() {
    let mut t = CoalescingTransport::new(Recording::new(&[&[b'a'; 60]]), 16, 1024);
    let mut got = Vec::new();
    while t.await_input(NextTimeout::default()).unwrap() {
        got.extend_from_slice(t.buffers().input());
        let n = t.buffers().input().len();
        t.buffers().input_consume(n);
    }
    assert_eq!(got, vec![b'a'; 60]);
}

#[test]
fn held_bytes_leave_before_any_wait_even_with_input_already_buffered() {
    // Input left over from an earlier read: the default `maybe_await_input` would return at
    // once; the held request must still go out first.
    let mut t = CoalescingTransport::new(
        Recording::new(&[b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\n"]),
        1024,
        32 * 1024,
    );
    assert!(t.await_input(NextTimeout::default()).unwrap());
    // Part of it consumed, the rest still usable: `can_use_input` holds.
    t.buffers().input_consume(9);
    assert!(t.buffers().can_use_input());
    send(&mut t, b"{}");
    assert!(t.inner.writes.is_empty());
    assert!(t.maybe_await_input(NextTimeout::default()).unwrap());
    assert_eq!(t.inner.writes, vec![b"{}".to_vec()]);
}

#[test]
fn a_connection_with_held_bytes_is_never_reused() {
    let mut t = CoalescingTransport::new(Recording::new(&[b"HTTP/1.1 200 OK\r\n"]), 1024, 1024);
    assert!(t.is_open());
    send(&mut t, b"GET / HTTP/1.1\r\n\r\n");
    assert!(
        !t.is_open(),
        "held bytes belong to an exchange that never completed"
    );
    assert!(t.await_input(NextTimeout::default()).unwrap());
    assert!(t.is_open());
}
