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
