//! The server survives bad, slow, greedy and vanishing clients, and stays
//! usable for everybody else.
//!
//! Every socket read has a timeout (so a server that stalls fails the test
//! instead of hanging it), and every loop is bounded.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::raw::{bulk, encode, pattern, Reply, Resp};
use common::{raw_exchange, Dirs, Server};

// ------------------------------------------------------------------ helpers

/// Reads from `s` until EOF or error; returns everything read and whether
/// the peer closed the connection (EOF or reset) rather than timing out.
fn read_to_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (got, false)
            }
            Err(_) => return (got, true), // reset: closed too
        }
    }
}

/// Sends `request` on a fresh connection and expects exactly `reply`, then
/// the server closing the connection.
fn expect_error_and_close(server: &Server, request: &[u8], reply: &str) {
    let mut s = server.raw();
    s.write_all(request).unwrap();
    let (got, closed) = read_to_close(&mut s);
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{reply}\r\n"),
        "reply to {:?}",
        String::from_utf8_lossy(request)
    );
    assert!(closed, "connection left open after {:?}", String::from_utf8_lossy(request));
}

/// A brand-new client can still read and write.
fn fresh_client_works(server: &Server) {
    let mut c = Resp::new(server);
    assert_eq!(c.cmd(&[b"PING"]), Reply::Status("PONG".into()));
    static ROUND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let token = pattern(16, ROUND.fetch_add(1, Ordering::Relaxed) ^ 0x5eed);
    assert_eq!(c.cmd(&[b"SET", b"__alive__", &token]), bulk(b"__alive__"));
    assert_eq!(c.cmd(&[b"GET", b"__alive__"]), bulk(&token));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/pid/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

// ------------------------------------------------------- protocol errors

#[test]
fn inline_command_is_refused_and_closed() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    expect_error_and_close(&server, b"PING\r\n", "-Malformed request, array expected");
    // Whatever follows the bad request in the same write is not run.
    let mut s = server.raw();
    s.write_all(b"SET evil x\r\n").unwrap();
    s.write_all(&encode(&[b"SET", b"evil", b"x"])).unwrap();
    let (got, closed) = read_to_close(&mut s);
    assert_eq!(got, b"-Malformed request, array expected\r\n");
    assert!(closed);
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"EXISTS", b"evil"]), Reply::Int(0));
    fresh_client_works(&server);
}

#[test]
fn malformed_elements_are_refused_and_closed() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let cases: &[(&[u8], &str)] = &[
        // Not a bulk string.
        (b"*1\r\n:4\r\n", "-Malformed query string"),
        (b"*2\r\n$3\r\nGET\r\n+key\r\n", "-Malformed query string"),
        // Negative, non-numeric, absurd lengths.
        (b"*1\r\n$-1\r\n", "-Malformed query string"),
        (b"*1\r\n$-5\r\n", "-Malformed query string"),
        (b"*1\r\n$abc\r\n", "-Malformed query string"),
        (b"*1\r\n$4x\r\n", "-Malformed query string"),
        (b"*1\r\n$\r\n", "-Malformed query string"),
        (b"*1\r\n$99999999999999999999\r\n", "-Malformed query string"),
        (b"*abc\r\n", "-Malformed query string"),
        // A header line that never ends is garbage, not "need more bytes".
        (b"*1\r\n$1111111111111111111111111111111111111111111111", "-Malformed query string"),
        (b"*1111111111111111111111111111111111111111111111111", "-Malformed query string"),
        // CR without LF.
        (b"*1\r$4\r\nPING\r\n", "-Malformed query string"),
        // A bulk not followed by CRLF.
        (b"*1\r\n$4\r\nPINGxx", "-Malformed query string"),
        (b"*2\r\n$3\r\nGET\r\n$1\r\nkey\r\n", "-Malformed query string"),
        (b"*1\r\n$4\r\nPING\n\r", "-Malformed query string"),
    ];
    for (request, reply) in cases {
        expect_error_and_close(&server, request, reply);
        fresh_client_works(&server);
    }
}

#[test]
fn empty_array_keeps_the_connection_usable() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    // In one write with a following command.
    c.send(b"*0\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(c.reply(), Reply::Error("Missing arguments".into()));
    assert_eq!(c.reply(), Reply::Status("PONG".into()));
    // In separate writes, several times (the original repeated the error
    // forever because its parser did not advance).
    for _ in 0..3 {
        c.send(b"*0\r\n");
        assert_eq!(c.reply(), Reply::Error("Missing arguments".into()));
        assert_eq!(c.cmd(&[b"PING"]), Reply::Status("PONG".into()));
    }
    assert_eq!(c.cmd(&[b"SET", b"after-empty", b"v"]), bulk(b"after-empty"));
    assert_eq!(c.cmd(&[b"GET", b"after-empty"]), bulk(b"v"));
    // A null array (`*-1`) is empty too.
    c.send(b"*-1\r\n");
    assert_eq!(c.reply(), Reply::Error("Missing arguments".into()));
    assert_eq!(c.cmd(&[b"PING"]), Reply::Status("PONG".into()));
    fresh_client_works(&server);
}

#[test]
fn argument_count_limit() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    expect_error_and_close(&server, b"*1025\r\n", "-Too many arguments");
    expect_error_and_close(&server, b"*1000000\r\n$3\r\nGET\r\n", "-Too many arguments");
    fresh_client_works(&server);
    // 1024 arguments is the limit, not past it: MGET with 1023 keys works.
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"SET", b"k7", b"seven"]), bulk(b"k7"));
    let keys: Vec<Vec<u8>> = (0..1023).map(|i| format!("k{i}").into_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(|k| k.as_slice()));
    match c.cmd(&args) {
        Reply::Array(Some(items)) => {
            assert_eq!(items.len(), 1023);
            assert_eq!(items[7], bulk(b"seven"));
            assert_eq!(items.iter().filter(|i| **i == Reply::Bulk(None)).count(), 1022);
        }
        other => panic!("MGET of 1023 keys: {other:?}"),
    }
}

#[test]
fn oversized_payload_is_refused_without_waiting_for_it() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let rss_before = rss_kib(server.pid());
    // Only the header is sent: the reply must come without the payload.
    let over = 8 * 1024 * 1024 + 1;
    let header = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${over}\r\n");
    expect_error_and_close(&server, header.as_bytes(), "-Payload too big");
    // Absurd sizes: no allocation attempt, no wait.
    for n in ["4294967296", "8388609", "999999999999999999"] {
        expect_error_and_close(&server, format!("*2\r\n$3\r\nGET\r\n${n}\r\n").as_bytes(), "-Payload too big");
    }
    // Many at once: if each one allocated (and touched) the announced
    // size, the server's memory would grow by gigabytes.
    let mut streams = Vec::new();
    for _ in 0..50 {
        let mut s = server.raw();
        s.write_all(b"*2\r\n$3\r\nSET\r\n$4000000000\r\n").unwrap();
        streams.push(s);
    }
    for mut s in streams {
        let (got, closed) = read_to_close(&mut s);
        assert_eq!(got, b"-Payload too big\r\n");
        assert!(closed);
    }
    let rss_after = rss_kib(server.pid());
    assert!(rss_after < rss_before + 64 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
    // The key was never written.
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"EXISTS", b"big"]), Reply::Int(0));
    // Exactly 8 MiB is fine.
    let value = pattern(8 * 1024 * 1024, 8);
    assert_eq!(c.cmd(&[b"SET", b"max", &value]), bulk(b"max"));
    assert_eq!(c.cmd(&[b"GET", b"max"]), Reply::Bulk(Some(value)));
    fresh_client_works(&server);
}

// --------------------------------------------------- framing and buffering

#[test]
fn request_split_byte_by_byte() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    let value = b"va\r\nl\0ue*1\r\n$4\r\n";
    let mut script = encode(&[b"SET", b"byte\r\nkey", value]);
    script.extend(encode(&[b"GET", b"byte\r\nkey"]));
    script.extend(b"*0\r\n");
    script.extend(encode(&[b"PING"]));
    for (i, b) in script.iter().enumerate() {
        c.send(&[*b]);
        if i % 4 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(c.reply(), bulk(b"byte\r\nkey"));
    assert_eq!(c.reply(), bulk(value));
    assert_eq!(c.reply(), Reply::Error("Missing arguments".into()));
    assert_eq!(c.reply(), Reply::Status("PONG".into()));
}

#[test]
fn payloads_straddling_buffer_boundaries() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut sizes: Vec<usize> = vec![0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 262143, 262144, 262145, 1 << 20];
    for around in [8192usize, 16384, 32768] {
        sizes.extend(around - 40..around + 40);
    }
    // One request per write.
    let mut c = Resp::new(&server);
    for (i, &n) in sizes.iter().enumerate() {
        let key = format!("size-{n}");
        let value = pattern(n, i as u64);
        assert_eq!(c.cmd(&[b"SET", key.as_bytes(), &value]), bulk(key.as_bytes()), "SET of {n} bytes");
        assert_eq!(c.cmd(&[b"GET", key.as_bytes()]), Reply::Bulk(Some(value)), "GET of {n} bytes");
    }
    // All of them pipelined in one write (from another thread, so the
    // replies cannot deadlock against the requests).
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let key = format!("pipe-{n}");
        let value = pattern(n, 1000 + i as u64);
        requests.extend(encode(&[b"SET", key.as_bytes(), &value]));
        requests.extend(encode(&[b"GET", key.as_bytes()]));
        expected.push(bulk(key.as_bytes()));
        expected.push(Reply::Bulk(Some(value)));
    }
    let mut c = Resp::new(&server);
    let mut w = c.w.try_clone().unwrap();
    let writer = thread::spawn(move || w.write_all(&requests));
    for (i, want) in expected.iter().enumerate() {
        let got = c.reply();
        assert!(got == *want, "pipelined reply {i} differs (got {} bytes)", format!("{got:?}").len());
    }
    writer.join().unwrap().unwrap();
    // And the same values read by a fresh connection.
    let mut c = Resp::new(&server);
    for (i, &n) in sizes.iter().enumerate() {
        let key = format!("pipe-{n}");
        assert_eq!(c.cmd(&[b"LENGTH", key.as_bytes()]), Reply::Int(n as i64));
        assert_eq!(c.cmd(&[b"GET", key.as_bytes()]), Reply::Bulk(Some(pattern(n, 1000 + i as u64))));
    }
}

#[test]
fn ten_thousand_pipelined_requests_in_one_write() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    const N: usize = 10_000;
    let mut requests = Vec::new();
    let mut expected = Vec::with_capacity(N);
    for i in 0..N {
        match i % 4 {
            0 | 2 => {
                let key = format!("p{i}");
                requests.extend(encode(&[b"SET", key.as_bytes(), format!("value-{i}").as_bytes()]));
                expected.push(bulk(key.as_bytes()));
            }
            1 | 3 => {
                let key = format!("p{}", i - 1);
                requests.extend(encode(&[b"GET", key.as_bytes()]));
                expected.push(bulk(format!("value-{}", i - 1).as_bytes()));
            }
            _ => unreachable!(),
        }
        if i % 1000 == 999 {
            // An occasional non-trivial reply shape in between.
            requests.extend(encode(&[b"PING"]));
            expected.push(Reply::Status("PONG".into()));
        }
    }
    let mut c = Resp::new(&server);
    let mut w = c.w.try_clone().unwrap();
    let writer = thread::spawn(move || w.write_all(&requests));
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&c.reply(), want, "reply {i} out of order or wrong");
    }
    writer.join().unwrap().unwrap();
    assert_eq!(c.cmd(&[b"DBSIZE"]), Reply::Int((N / 2) as i64));
}

// ------------------------------------------------------ vanishing clients

#[test]
fn half_sent_request_then_disconnect() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let value = pattern(1 << 20, 3);
    let full = encode(&[b"SET", b"half", &value]);
    // Cut at several places: in the headers, in the key, in the payload,
    // just before the final CRLF.
    let cuts = [3, 10, 20, full.len() / 2, full.len() - 2, full.len() - 1];
    for (round, &cut) in cuts.iter().enumerate() {
        let mut s = server.raw();
        s.write_all(&full[..cut]).unwrap();
        if round % 2 == 0 {
            s.shutdown(Shutdown::Both).unwrap();
        }
        drop(s);
        fresh_client_works(&server);
    }
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"EXISTS", b"half"]), Reply::Int(0));
    assert_eq!(c.cmd(&[b"GET", b"half"]), Reply::Bulk(None));
    // Nothing of the half-sent value reached the disk either.
    assert_eq!(server.terminate(), Some(143));
    let data = std::fs::read(dirs.data.join("default/d0")).unwrap();
    assert!(data.len() < 64 * 1024, "data file holds {} bytes of a never-completed request", data.len());
    let server = Server::start(&dirs, &[]);
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"EXISTS", b"half"]), Reply::Int(0));
    fresh_client_works(&server);
}

#[test]
fn client_that_never_reads_does_not_block_others() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let value = pattern(1 << 20, 11);
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"SET", b"mega", &value]), bulk(b"mega"));

    // The greedy client asks for 1 MiB over and over and never reads.
    let greedy = server.raw();
    greedy.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let mut greedy = greedy.try_clone().unwrap();
        thread::spawn(move || {
            let get = encode(&[b"GET", b"mega"]);
            let batch: Vec<u8> = get.iter().copied().cycle().take(get.len() * 100).collect();
            // Bounded: at most 20 000 GETs (20 GB of replies).
            for _ in 0..200 {
                if stop.load(Ordering::Relaxed) || greedy.write_all(&batch).is_err() {
                    break;
                }
                sent.fetch_add(100, Ordering::Relaxed);
            }
        })
    };
    // Wait until the greedy client has surely filled the socket buffers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    // Others are served meanwhile, reads of the same big value included.
    for round in 0..50 {
        let mut other = Resp::new(&server);
        let key = format!("other-{round}");
        assert_eq!(other.cmd(&[b"SET", key.as_bytes(), b"x"]), bulk(key.as_bytes()));
        assert_eq!(other.cmd(&[b"GET", key.as_bytes()]), bulk(b"x"));
        if round % 10 == 0 {
            assert_eq!(other.cmd(&[b"GET", b"mega"]), Reply::Bulk(Some(value.clone())));
        }
    }
    assert_eq!(c.cmd(&[b"PING"]), Reply::Status("PONG".into()));
    // The server buffers a bounded amount for the greedy client.
    let rss = rss_kib(server.pid());
    assert!(rss < 512 * 1024, "server RSS {rss} KiB while a client does not read");
    stop.store(true, Ordering::Relaxed);
    let _ = greedy.shutdown(Shutdown::Both);
    drop(greedy);
    writer.join().unwrap();
    fresh_client_works(&server);
}

// ------------------------------------------------------------ concurrency

#[test]
fn four_hundred_simultaneous_connections() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    const CLIENTS: usize = 400;
    const ROUNDS: usize = 10;
    // All connected at the same time before anyone sends anything.
    let conns: Vec<Resp> = (0..CLIENTS).map(|_| Resp::new(&server)).collect();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(t, mut c)| {
            let barrier = barrier.clone();
            thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    barrier.wait();
                    for r in 0..ROUNDS {
                        let key = format!("c{t}-r{r}");
                        let value = pattern(100 + t, (t * ROUNDS + r) as u64);
                        assert_eq!(c.cmd(&[b"SET", key.as_bytes(), &value]), bulk(key.as_bytes()));
                        assert_eq!(c.cmd(&[b"GET", key.as_bytes()]), Reply::Bulk(Some(value)));
                    }
                    c
                })
                .unwrap()
        })
        .collect();
    let conns: Vec<Resp> = handles.into_iter().map(|h| h.join().expect("client thread")).collect();
    // Every connection is still open and answers.
    let mut conns = conns;
    for c in conns.iter_mut() {
        c.send(&encode(&[b"PING"]));
    }
    for c in conns.iter_mut() {
        assert_eq!(c.reply(), Reply::Status("PONG".into()));
    }
    assert_eq!(conns[0].cmd(&[b"DBSIZE"]), Reply::Int((CLIENTS * ROUNDS) as i64));
    drop(conns);
    fresh_client_works(&server);
}

#[test]
fn slow_reader_does_not_stall_others() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    // The largest value: more than loopback socket buffers hold, so the
    // server really has to wait for this reader.
    let value = pattern(8 << 20, 21);
    let mut c = Resp::new(&server);
    assert_eq!(c.cmd(&[b"SET", b"large", &value]), bulk(b"large"));

    let mut slow = server.raw();
    slow.write_all(&encode(&[b"GET", b"large"])).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (stop, got) = (stop.clone(), got.clone());
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            // Bounded: at most 20 000 bytes (about 20 s at one per ms).
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match slow.read(&mut byte) {
                    Ok(1) => {
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
                thread::sleep(Duration::from_millis(1));
            }
            slow
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(got.load(Ordering::Relaxed) > 0, "the slow reader never got its first byte");
    // Other clients are served while the slow reply is far from done.
    for round in 0..100 {
        let mut other = Resp::new(&server);
        let key = format!("fast-{round}");
        assert_eq!(other.cmd(&[b"SET", key.as_bytes(), b"y"]), bulk(key.as_bytes()));
        assert_eq!(other.cmd(&[b"GET", key.as_bytes()]), bulk(b"y"));
    }
    assert_eq!(c.cmd(&[b"GET", b"large"]), Reply::Bulk(Some(value.clone())));
    let read_so_far = got.load(Ordering::Relaxed);
    assert!(read_so_far < value.len(), "the slow reader finished first ({read_so_far} bytes): nothing proven");
    stop.store(true, Ordering::Relaxed);
    let slow = reader.join().unwrap();
    drop(slow);
    fresh_client_works(&server);
}

#[test]
fn garbage_floods_do_not_hurt_others() {
    // A mix of every kind of bad client at once, while a good one works.
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let bad: Vec<&[u8]> = vec![
        b"PING\r\n",
        b"*1\r\n:4\r\n",
        b"*1025\r\n",
        b"*1\r\n$8388609\r\n",
        b"*1\r\n$-3\r\n",
        b"*1\r\n$4\r\nPINGxx",
        b"\x00\x01\x02\x03\xff\xfe",
        b"*2\r\n$3\r\nGET\r\n$3\r\n",
    ];
    let mut good = Resp::new(&server);
    for round in 0..20 {
        let mut streams = Vec::new();
        for b in &bad {
            let mut s = server.raw();
            s.write_all(b).unwrap();
            streams.push(s);
        }
        let key = format!("good-{round}");
        assert_eq!(good.cmd(&[b"SET", key.as_bytes(), b"z"]), bulk(key.as_bytes()));
        assert_eq!(good.cmd(&[b"GET", key.as_bytes()]), bulk(b"z"));
        drop(streams);
    }
    // A bare raw_exchange still gets its PONG.
    let mut s = server.raw();
    assert_eq!(raw_exchange(&mut s, &encode(&[b"PING"]), 7), b"+PONG\r\n");
}
