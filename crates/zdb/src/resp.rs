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
            // Make room once for the whole announced payload, so a big
            // value is not re-allocated at every read.
            buf.reserve(end + 2 - buf.len());
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
}
