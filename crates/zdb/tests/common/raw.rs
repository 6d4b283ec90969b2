//! A raw RESP2 client over one plain socket, for the tests that need more
//! than the `redis` crate gives: it shows the exact type of every reply
//! (status, error, integer, bulk, array, and nil bulk versus nil array),
//! checks that every line and bulk payload is terminated by CRLF, can send
//! arbitrary (also malformed or partial) bytes, and survives a server being
//! killed: [`Resp::try_cmd`] returns an `Err` when the connection breaks
//! instead of panicking, so a writer can tell acknowledged operations from
//! the one cut short by `kill -9`.
//!
//! Shared by `crash.rs` and `robustness.rs`; other test binaries that
//! declare `mod common;` do not use it, hence the `allow` below.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Server;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Reads one reply line without its CRLF. `Err(UnexpectedEof)` when the
/// connection closed before a complete line (nothing read, or cut short by
/// a killed server); panics on a complete line not terminated by CRLF.
pub fn read_line(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    assert!(line.ends_with(b"\r\n"), "reply line not terminated by CRLF: {:?}", String::from_utf8_lossy(&line));
    line.truncate(line.len() - 2);
    Ok(line)
}

/// Reads one complete reply (recursively for arrays).
pub fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_first().expect("empty reply line");
    let text = String::from_utf8_lossy(rest).into_owned();
    Ok(match kind {
        b'+' => Reply::Status(text),
        b'-' => Reply::Error(text),
        b':' => Reply::Int(text.parse().expect("integer reply")),
        b'$' => {
            let n: i64 = text.parse().expect("bulk length");
            if n < 0 {
                Reply::Bulk(None)
            } else {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf)?;
                assert_eq!(&buf[n as usize..], b"\r\n", "bulk not followed by CRLF");
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
        }
        b'*' => {
            let n: i64 = text.parse().expect("array length");
            if n < 0 {
                Reply::Array(None)
            } else {
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_reply(r)?);
                }
                Reply::Array(Some(items))
            }
        }
        other => panic!("unexpected reply type byte {other:#x}"),
    })
}

/// Encodes one request as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A minimal client speaking raw RESP over one socket. Reads and writes
/// time out after 10 s, so a stalled server fails the test instead of
/// hanging it.
pub struct Resp {
    pub w: TcpStream,
    pub r: BufReader<TcpStream>,
}

impl Resp {
    /// Connects to a running test server.
    pub fn new(server: &Server) -> Resp {
        Resp::from_stream(server.raw())
    }

    /// Connects to `127.0.0.1:port` (for threads that outlive the `Server`
    /// value, e.g. writers running while it is killed).
    pub fn connect(port: u16) -> Resp {
        Resp::from_stream(TcpStream::connect(("127.0.0.1", port)).unwrap())
    }

    pub fn from_stream(s: TcpStream) -> Resp {
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let r = BufReader::with_capacity(64 * 1024, s.try_clone().unwrap());
        Resp { w: s, r }
    }

    /// Sends raw bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Reads the next reply; panics when the connection broke.
    pub fn reply(&mut self) -> Reply {
        read_reply(&mut self.r).expect("reading a reply")
    }

    /// One command; `Err` when the connection broke (server killed).
    pub fn try_cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        self.w.write_all(&encode(args))?;
        read_reply(&mut self.r)
    }

    /// One command; panics when the connection broke.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.try_cmd(args).expect("server connection")
    }

    /// One command that must answer `+OK`.
    pub fn ok(&mut self, args: &[&[u8]]) {
        assert_eq!(self.cmd(args), Reply::Status("OK".into()), "{:?}", String::from_utf8_lossy(args[0]));
    }

    /// `SET key value`, which must answer with the key.
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        assert_eq!(self.cmd(&[b"SET", key, value]), bulk(key), "SET {:?}", String::from_utf8_lossy(key));
    }

    pub fn get(&mut self, key: &[u8]) -> Reply {
        self.cmd(&[b"GET", key])
    }
}

/// A non-nil bulk reply holding `b`.
pub fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Some(b.to_vec()))
}

pub fn is_error(r: &Reply) -> bool {
    matches!(r, Reply::Error(_))
}

/// Deterministic pseudo-random bytes (xorshift), so payloads are not
/// all-equal and a shifted or truncated payload cannot compare equal.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
