//! The Redis protocol (RESP2) as 0-db speaks it: requests are arrays of
//! bulk strings; replies are status, error, integer, bulk, nil and arrays.
//! Error texts carry no `ERR` prefix.
//!
//! The parser never blocks on bad input: a request that cannot be parsed
//! gets an error, and the connection is either left clean (`*0`) or closed.
//! It never allocates more than the size limits below, whatever a client
//! claims in a length header.

use bytes::{BufMut, Bytes, BytesMut};

/// Most arguments in one request (command name included).
pub const MAX_ARGS: usize = 1024;
/// Largest single argument: 8 MiB, the original's limit (exactly 8 MiB works).
pub const MAX_ARG_SIZE: usize = 8 * 1024 * 1024;
/// Largest whole request: one maximal value plus room for key and the rest.
pub const MAX_REQUEST_SIZE: usize = MAX_ARG_SIZE + 1024 * 1024;
/// A header line (`*N` or `$N`) longer than this is garbage.
const MAX_HEADER_LINE: usize = 32;

/// A request that cannot be served. `Display` is the reply text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Malformed request, array expected")]
    NotAnArray,
    #[error("Malformed query string")]
    Malformed,
    #[error("Missing arguments")]
    Empty,
    #[error("Too many arguments")]
    TooManyArgs,
    #[error("Payload too big")]
    TooBig,
}

impl ProtocolError {
    /// Whether the connection can go on after the error reply. Only an
    /// empty array leaves the stream at a known request boundary.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, ProtocolError::Empty)
    }
}

/// Tries to take one complete request off the front of `buf`.
///
/// `Ok(None)`: more bytes are needed (`buf` is untouched, but may have been
/// given room for the announced payload). On error nothing is consumed,
/// except for `Empty`, whose `*0\r\n` is.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return Err(ProtocolError::NotAnArray);
    }
    let Some((count, mut pos)) = header_line(buf, 0)? else { return Ok(None) };
    if count <= 0 {
        buf.advance_to(pos);
        return Err(ProtocolError::Empty);
    }
    let count = count as usize;
    if count > MAX_ARGS {
        return Err(ProtocolError::TooManyArgs);
    }
    let mut spans = Vec::with_capacity(count);
    let mut total = 0usize;
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError::Malformed);
        }
        let Some((len, data_at)) = header_line(buf, pos)? else { return Ok(None) };
        if len < 0 {
            return Err(ProtocolError::Malformed);
        }
        let len = len as usize;
        if len > MAX_ARG_SIZE {
            return Err(ProtocolError::TooBig);
        }
        total += len;
        if total > MAX_REQUEST_SIZE {
            return Err(ProtocolError::TooBig);
        }
        let end = data_at + len;
        if end + 2 > buf.len() {
            // Grow towards the announced payload a megabyte at a time: big
            // values are not re-allocated at every read, and a client that
            // announces 8 MiB and sends nothing does not get 8 MiB.
            buf.reserve((end + 2 - buf.len()).min(1 << 20));
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::Malformed);
        }
        spans.push((data_at, end));
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Ok(Some(spans.into_iter().map(|(a, b)| frame.slice(a..b)).collect()))
}

/// Parses the `*N\r\n` or `$N\r\n` line at `at`: returns N and the offset
/// after the line, `None` if the line is not complete yet.
fn header_line(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    let window = &buf[at + 1..buf.len().min(at + 1 + MAX_HEADER_LINE)];
    let Some(cr) = memchr::memchr(b'\r', window) else {
        if window.len() >= MAX_HEADER_LINE {
            return Err(ProtocolError::Malformed);
        }
        return Ok(None);
    };
    let digits = &window[..cr];
    let line_end = at + 1 + cr;
    if line_end + 1 >= buf.len() {
        return Ok(None);
    }
    if buf[line_end + 1] != b'\n' {
        return Err(ProtocolError::Malformed);
    }
    let n = parse_int(digits).ok_or(ProtocolError::Malformed)?;
    Ok(Some((n, line_end + 2)))
}

/// A strict decimal integer (optional leading '-').
pub fn parse_int(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0i64, |acc, d| acc * 10 + (d - b'0') as i64);
    Some(if neg { -n } else { n })
}

trait AdvanceTo {
    fn advance_to(&mut self, pos: usize);
}

impl AdvanceTo for BytesMut {
    fn advance_to(&mut self, pos: usize) {
        let _ = self.split_to(pos);
    }
}

/// Reply encoders. Replies are appended to a per-connection buffer and
/// written out once per batch of pipelined requests.
pub mod reply {
    use super::*;

    pub fn status(out: &mut BytesMut, s: &str) {
        out.put_u8(b'+');
        out.put_slice(s.as_bytes());
        out.put_slice(b"\r\n");
    }

    pub fn error(out: &mut BytesMut, s: &str) {
        out.put_u8(b'-');
        out.put_slice(s.as_bytes());
        out.put_slice(b"\r\n");
    }

    pub fn int(out: &mut BytesMut, n: i64) {
        out.put_u8(b':');
        out.put_slice(itoa(n).as_bytes());
        out.put_slice(b"\r\n");
    }

    pub fn bulk(out: &mut BytesMut, b: &[u8]) {
        out.reserve(b.len() + 16);
        out.put_u8(b'$');
        out.put_slice(itoa(b.len() as i64).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(b);
        out.put_slice(b"\r\n");
    }

    pub fn nil(out: &mut BytesMut) {
        out.put_slice(b"$-1\r\n");
    }

    pub fn array(out: &mut BytesMut, len: usize) {
        out.put_u8(b'*');
        out.put_slice(itoa(len as i64).as_bytes());
        out.put_slice(b"\r\n");
    }

    fn itoa(n: i64) -> String {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Result<Vec<Bytes>, ProtocolError>>, usize) {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match parse(&mut buf) {
                Ok(Some(req)) => out.push(Ok(req)),
                Ok(None) => break,
                Err(e) => {
                    let stop = !e.is_recoverable();
                    out.push(Err(e));
                    if stop {
                        break;
                    }
                }
            }
        }
        (out, buf.len())
    }

    #[test]
    fn pipelined_requests_split_cleanly() {
        let (reqs, left) = parse_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGE");
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[1].as_ref().unwrap()[2].len(), 0);
        assert!(left > 0, "the partial third request stays buffered");
    }

    #[test]
    fn bad_input_gets_the_original_errors() {
        assert_eq!(parse_all(b"PING\r\n").0, vec![Err(ProtocolError::NotAnArray)]);
        assert_eq!(parse_all(b"*1\r\n:4\r\n").0, vec![Err(ProtocolError::Malformed)]);
        assert_eq!(parse_all(b"*1025\r\n").0, vec![Err(ProtocolError::TooManyArgs)]);
        assert_eq!(parse_all(b"*1\r\n$8388609\r\n").0, vec![Err(ProtocolError::TooBig)]);
        assert_eq!(parse_all(b"*1\r\n$-5\r\n").0, vec![Err(ProtocolError::Malformed)]);
        assert_eq!(parse_all(b"*1\r\n$99999999999999999999\r\n").0, vec![Err(ProtocolError::Malformed)]);
        assert_eq!(parse_all(b"*1\r\n$4\r\nPINGxx").0, vec![Err(ProtocolError::Malformed)]);
    }

    #[test]
    fn empty_array_is_recoverable() {
        let (reqs, _) = parse_all(b"*0\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(reqs[0], Err(ProtocolError::Empty));
        assert_eq!(reqs[1].as_ref().unwrap()[0].as_ref(), b"PING");
    }

    #[test]
    fn byte_at_a_time_arrival() {
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        let mut buf = BytesMut::new();
        for (i, b) in input.iter().enumerate() {
            buf.put_u8(*b);
            let r = parse(&mut buf).unwrap();
            assert_eq!(r.is_some(), i == input.len() - 1);
        }
    }

    // Property test: the invariants of the fuzz target
    // (fuzz/fuzz_targets/parse_request.rs, keep the two in step) over a few
    // thousand pseudo-random and mutated valid inputs, so that plain
    // `cargo test` checks them too.

    /// xorshift64: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn one_in(&mut self, n: usize) -> bool {
            self.below(n) == 0
        }

        /// A byte, mostly from the protocol's own alphabet.
        fn byte(&mut self) -> u8 {
            const ALPHABET: &[u8] = b"*$\r\n\r\n-0123456789:+ PINGSETk\0\xff";
            if self.one_in(4) {
                self.next() as u8
            } else {
                ALPHABET[self.below(ALPHABET.len())]
            }
        }
    }

    /// A well-formed pipeline, its last request sometimes incomplete.
    fn valid_pipeline(rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..1 + rng.below(4) {
            if rng.one_in(8) {
                out.extend_from_slice(if rng.one_in(2) { b"*0\r\n" } else { b"*-1\r\n" });
                continue;
            }
            let args = 1 + rng.below(4);
            out.extend_from_slice(format!("*{args}\r\n").as_bytes());
            for _ in 0..args {
                let len = rng.below(12);
                let zeros = if rng.one_in(10) { "0" } else { "" };
                out.extend_from_slice(format!("${zeros}{len}\r\n").as_bytes());
                for _ in 0..len {
                    let b = rng.byte();
                    out.push(b);
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        match rng.below(16) {
            0 => out.extend_from_slice(b"*2\r\n$3\r\nSET\r\n$8388608\r\nvalue"),
            1 => out.extend_from_slice(b"*1\r\n$8388609\r\n"),
            2 => out.extend_from_slice(b"*1025\r\n"),
            _ => {}
        }
        out
    }

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(input.len() + 1);
            match rng.below(6) {
                0 if at < input.len() => input[at] ^= 1 << rng.below(8),
                1 if at < input.len() => input[at] = rng.byte(),
                2 if at < input.len() => {
                    input.remove(at);
                }
                3 => input.truncate(at),
                4 => {
                    let end = (at + rng.below(16)).min(input.len());
                    let copy = input[at..end].to_vec();
                    let to = rng.below(input.len() + 1);
                    input.splice(to..to, copy);
                }
                _ => {
                    let b = rng.byte();
                    input.insert(at, b);
                }
            }
        }
    }

    type Outcome = Result<Vec<Bytes>, ProtocolError>;

    /// Outcomes in order; the bytes left buffered unless a fatal error
    /// closed the connection.
    #[derive(Debug, PartialEq)]
    struct Run {
        outcomes: Vec<Outcome>,
        left: Option<Vec<u8>>,
    }

    /// Drives `parse` over `chunks` like the connection loop, checking each
    /// call against `mirror`, what the buffer must hold.
    fn drive<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Run {
        let mut buf = BytesMut::new();
        let mut mirror: Vec<u8> = Vec::new();
        let mut start = 0;
        let mut outcomes = Vec::new();
        for chunk in chunks {
            buf.put_slice(chunk);
            mirror.extend_from_slice(chunk);
            loop {
                let before = buf.len();
                let result = parse(&mut buf);
                assert!(buf.len() <= before);
                let consumed = before - buf.len();
                let frame = &mirror[start..start + consumed];
                match &result {
                    Ok(None) => assert_eq!(consumed, 0, "Ok(None) consumed bytes"),
                    Ok(Some(args)) => {
                        assert!((1..=MAX_ARGS).contains(&args.len()));
                        assert!(args.iter().all(|a| a.len() <= MAX_ARG_SIZE));
                        assert!(args.iter().map(|a| a.len()).sum::<usize>() <= MAX_REQUEST_SIZE);
                        let mut alone = BytesMut::from(frame);
                        assert_eq!(parse(&mut alone), Ok(Some(args.clone())), "frame {frame:?}");
                        assert!(alone.is_empty());
                    }
                    Err(ProtocolError::Empty) => {
                        assert!(frame.len() >= 4 && frame[0] == b'*' && frame.ends_with(b"\r\n"), "{frame:?}");
                        assert!(matches!(parse_int(&frame[1..frame.len() - 2]), Some(n) if n <= 0), "{frame:?}");
                    }
                    Err(e) => assert_eq!(consumed, 0, "{e:?} consumed bytes"),
                }
                start += consumed;
                assert_eq!(&buf[..], &mirror[start..], "parse altered the buffered bytes");
                match result {
                    Ok(None) => break,
                    Ok(Some(args)) => outcomes.push(Ok(args)),
                    Err(e) if e.is_recoverable() => outcomes.push(Err(e)),
                    Err(e) => {
                        assert_eq!(parse(&mut buf), Err(e.clone()), "fatal error is not stable");
                        outcomes.push(Err(e));
                        return Run { outcomes, left: None };
                    }
                }
            }
        }
        Run { outcomes, left: Some(mirror[start..].to_vec()) }
    }

    fn check_invariants(stream: &[u8], cuts: &[usize]) {
        let whole = drive([stream]);
        assert_eq!(drive(stream.chunks(1)), whole, "byte by byte, input {stream:?}");

        let mut chunks = Vec::new();
        let mut rest = stream;
        for &len in cuts {
            let (head, tail) = rest.split_at(len.min(rest.len()));
            chunks.push(head);
            rest = tail;
        }
        chunks.push(rest);
        assert_eq!(drive(chunks), whole, "cut at {cuts:?}, input {stream:?}");

        // Canonical re-encoding (`Empty` as `*0`) parses to the same outcomes.
        let mut encoded = BytesMut::new();
        let mut n = 0;
        for o in &whole.outcomes {
            match o {
                Ok(args) => {
                    reply::array(&mut encoded, args.len());
                    args.iter().for_each(|a| reply::bulk(&mut encoded, a));
                }
                Err(ProtocolError::Empty) => encoded.put_slice(b"*0\r\n"),
                Err(_) => break,
            }
            n += 1;
        }
        let again = drive([&encoded[..]]);
        assert_eq!(again.outcomes, whole.outcomes[..n], "re-encoded, input {stream:?}");
        assert_eq!(again.left, Some(Vec::new()));
    }

    #[test]
    fn parser_invariants_hold_on_random_input() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Requests, then each error kind, in the order of `ProtocolError`.
        let mut seen = [0usize; 6];
        for i in 0..4000 {
            let input = match i % 4 {
                0 => (0..rng.below(48)).map(|_| rng.byte()).collect(),
                1 => valid_pipeline(&mut rng),
                _ => {
                    let mut v = valid_pipeline(&mut rng);
                    mutate(&mut rng, &mut v);
                    v
                }
            };
            let cuts: Vec<usize> = (0..rng.below(5)).map(|_| rng.below(24)).collect();
            check_invariants(&input, &cuts);
            for o in drive([&input[..]]).outcomes {
                seen[match o {
                    Ok(_) => 0,
                    Err(ProtocolError::NotAnArray) => 1,
                    Err(ProtocolError::Malformed) => 2,
                    Err(ProtocolError::Empty) => 3,
                    Err(ProtocolError::TooManyArgs) => 4,
                    Err(ProtocolError::TooBig) => 5,
                }] += 1;
            }
        }
        // The generator does reach every outcome, requests most of all.
        assert!(seen[0] > 3000 && seen.iter().all(|&n| n >= 20), "outcomes seen: {seen:?}");
    }
}
