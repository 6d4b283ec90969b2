//! Fuzzes the RESP request parser, `zdb::resp::parse`, the way the server's
//! connection loop drives it: bytes arrive in chunks, and after each chunk
//! the loop takes requests off the buffer until it needs more bytes or hits
//! an error that closes the connection.
//!
//! Input layout: if the first byte is below 0x10 it is a count `n`, the next
//! `n` bytes are chunk lengths, and the rest is the byte stream (cut after
//! those lengths; whatever is left is the last chunk). Otherwise the whole
//! input is the stream, in one chunk. (A stream that starts with a byte below
//! 0x10 is just `NotAnArray`, so nothing is lost.) Seed files are therefore
//! plain RESP.
//!
//! Invariants (twin of `resp::tests::parser_invariants_hold_on_random_input`):
//! - `parse` never panics;
//! - `Ok(None)` consumes nothing and leaves the buffer's bytes untouched;
//!   errors consume nothing, except `Empty`, which consumes exactly its
//!   `*N\r\n` line (N <= 0); a fatal error is returned again on a retry;
//! - a request has 1..=MAX_ARGS arguments, each at most MAX_ARG_SIZE, in
//!   total at most MAX_REQUEST_SIZE, and its consumed frame parses alone to
//!   the same request with nothing left over;
//! - re-encoding the outcomes (requests as RESP arrays of bulk strings,
//!   `Empty` as `*0`) and parsing that gives the same outcomes;
//! - fed all at once, byte by byte, or in the fuzzer's chunks, the parser
//!   gives the same outcomes and leaves the same bytes buffered.

#![no_main]

use bytes::{BufMut, Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use zdb::resp::{self, reply, ProtocolError, MAX_ARGS, MAX_ARG_SIZE, MAX_REQUEST_SIZE};

type Outcome = Result<Vec<Bytes>, ProtocolError>;

/// What one connection made of its input: the outcomes in order, and the
/// bytes still buffered at the end, unless a fatal error closed it (then how
/// much was read past the bad byte depends on the chunking).
#[derive(Debug, PartialEq)]
struct Run {
    outcomes: Vec<Outcome>,
    left: Option<Vec<u8>>,
}

/// Drives `parse` over `chunks` like the connection loop, checking every
/// call. `deep`: compare the whole buffer after every call (quadratic, so
/// not for the byte-by-byte run, which compares lengths on `Ok(None)`).
fn drive<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, size: usize, deep: bool) -> Run {
    // Sized up front: growing them would be most of the run time under ASan.
    let mut buf = BytesMut::with_capacity(size);
    // What `buf` must hold: mirror[start..].
    let mut mirror: Vec<u8> = Vec::with_capacity(size);
    let mut start = 0;
    let mut outcomes = Vec::new();
    let mut closed = false;
    'feed: for chunk in chunks {
        buf.put_slice(chunk);
        mirror.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            let result = resp::parse(&mut buf);
            assert!(buf.len() <= before, "parse grew the buffer");
            let consumed = before - buf.len();
            let frame = &mirror[start..start + consumed];
            match &result {
                Ok(None) => assert_eq!(consumed, 0, "Ok(None) consumed bytes"),
                Ok(Some(args)) => check_request(args, frame),
                Err(ProtocolError::Empty) => check_empty(frame),
                Err(e) => assert_eq!(consumed, 0, "{e:?} consumed bytes"),
            }
            start += consumed;
            if deep || !matches!(result, Ok(None)) {
                assert_eq!(&buf[..], &mirror[start..], "parse altered the buffered bytes");
            }
            match result {
                Ok(None) => break,
                Ok(Some(args)) => outcomes.push(Ok(args)),
                Err(e) if e.is_recoverable() => outcomes.push(Err(e)),
                Err(e) => {
                    // Nothing was consumed, so a retry must say the same.
                    assert_eq!(resp::parse(&mut buf), Err(e.clone()), "fatal error is not stable");
                    assert_eq!(&buf[..], &mirror[start..]);
                    outcomes.push(Err(e));
                    closed = true;
                    break 'feed;
                }
            }
        }
    }
    Run { outcomes, left: (!closed).then(|| mirror[start..].to_vec()) }
}

fn check_request(args: &[Bytes], frame: &[u8]) {
    assert!((1..=MAX_ARGS).contains(&args.len()), "{} arguments", args.len());
    assert!(args.iter().all(|a| a.len() <= MAX_ARG_SIZE), "argument too big");
    assert!(args.iter().map(|a| a.len()).sum::<usize>() <= MAX_REQUEST_SIZE, "request too big");
    // The consumed frame is one complete request by itself.
    let mut alone = BytesMut::from(frame);
    assert_eq!(resp::parse(&mut alone), Ok(Some(args.to_vec())), "frame does not re-parse alone");
    assert!(alone.is_empty(), "frame re-parse left bytes");
}

fn check_empty(frame: &[u8]) {
    assert!(frame.len() >= 4 && frame[0] == b'*' && frame.ends_with(b"\r\n"), "Empty consumed {frame:?}");
    let n = resp::parse_int(&frame[1..frame.len() - 2]);
    assert!(matches!(n, Some(n) if n <= 0), "Empty consumed {frame:?}");
}

/// Canonical RESP for the outcomes up to the first fatal error.
fn encode(outcomes: &[Outcome]) -> (BytesMut, usize) {
    let mut out = BytesMut::new();
    let mut n = 0;
    for o in outcomes {
        match o {
            Ok(args) => {
                reply::array(&mut out, args.len());
                for a in args {
                    reply::bulk(&mut out, a);
                }
            }
            Err(ProtocolError::Empty) => out.put_slice(b"*0\r\n"),
            Err(_) => break,
        }
        n += 1;
    }
    (out, n)
}

fn check(data: &[u8]) {
    let (cuts, stream): (&[u8], &[u8]) = match data.first() {
        Some(&n) if n < 0x10 => {
            let n = (n as usize).min(data.len() - 1);
            (&data[1..1 + n], &data[1 + n..])
        }
        _ => (&[], data),
    };

    let whole = drive([stream], stream.len(), true);

    let bytewise = drive(stream.chunks(1), stream.len(), false);
    assert_eq!(whole, bytewise, "byte-by-byte feeding differs from all at once");

    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut rest = stream;
    for &len in cuts {
        let (head, tail) = rest.split_at((len as usize).min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    let chunked = drive(chunks, stream.len(), true);
    assert_eq!(whole, chunked, "chunked feeding differs from all at once");

    let (encoded, n) = encode(&whole.outcomes);
    let again = drive([&encoded[..]], encoded.len(), true);
    assert_eq!(again.outcomes, whole.outcomes[..n], "re-encoded requests parse differently");
    assert_eq!(again.left.as_deref(), Some(&[][..]), "re-encoded requests left bytes");
}

fuzz_target!(|data: &[u8]| check(data));
