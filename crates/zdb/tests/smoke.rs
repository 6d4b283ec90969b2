mod common;

use common::{Dirs, Server};

#[test]
fn set_get_roundtrip_survives_restart() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &[]);
    let mut con = server.client();
    let key: Vec<u8> = redis::cmd("SET").arg("hello").arg("world").query(&mut con).unwrap();
    assert_eq!(key, b"hello");
    let v: Vec<u8> = redis::cmd("GET").arg("hello").query(&mut con).unwrap();
    assert_eq!(v, b"world");
    assert_eq!(server.terminate(), Some(143));
    let server = Server::start(&dirs, &[]);
    let mut con = server.client();
    let v: Vec<u8> = redis::cmd("GET").arg("hello").query(&mut con).unwrap();
    assert_eq!(v, b"world");
    assert_eq!(server.cli(&["PING"]).trim(), "PONG");
}

#[test]
fn unix_socket_and_tcp_together() {
    let dirs = Dirs::new();
    let socket = dirs.root().join("zdb.sock");
    let server = Server::start(&dirs, &["--socket", socket.to_str().unwrap(), "--dualnet"]);
    let out =
        std::process::Command::new("redis-cli").arg("-s").arg(&socket).args(["SET", "via", "unix"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via");
    assert_eq!(server.cli(&["GET", "via"]).trim(), "unix");
    assert_eq!(server.terminate(), Some(143));
    assert!(!socket.exists(), "the socket file is removed at shutdown");
}
