//! `--metrics ADDR`: a Prometheus scrape shows what the server did.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Dirs, Server};

fn scrape(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of one sample line, e.g. `zdb_commands_total{command="SET"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_count_commands_errors_bytes_and_keys() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--metrics", "127.0.0.1:0"]);
    let addr = server
        .announced
        .iter()
        .find_map(|l| l.strip_prefix("zdb metrics on http://")?.strip_suffix("/metrics"))
        .expect("the metrics address is printed")
        .to_string();
    let mut con = server.client();
    for i in 0..5 {
        let _: Vec<u8> = redis::cmd("SET").arg(format!("k{i}")).arg("0123456789").query(&mut con).unwrap();
    }
    let _: Option<Vec<u8>> = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    let err: redis::RedisResult<()> = redis::cmd("DEL").arg("absent").query(&mut con);
    assert!(err.is_err());
    let _: () = redis::cmd("NSNEW").arg("other").query(&mut con).unwrap();

    let text = scrape(&addr, "/metrics");
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
    assert_eq!(sample(&text, r#"zdb_commands_total{command="SET"}"#), Some(5.0));
    assert_eq!(sample(&text, r#"zdb_commands_total{command="GET"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"zdb_command_errors_total{command="DEL"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"zdb_namespace_keys{namespace="default"}"#), Some(5.0));
    assert_eq!(sample(&text, r#"zdb_namespace_data_bytes{namespace="default"}"#), Some(50.0));
    assert_eq!(sample(&text, r#"zdb_namespace_keys{namespace="other"}"#), Some(0.0));
    assert_eq!(sample(&text, "zdb_connected_clients"), Some(1.0));
    let count = sample(&text, "zdb_command_duration_seconds_count").unwrap();
    assert!(count >= 8.0, "every command lands in the histogram: {count}");
    assert_eq!(sample(&text, r#"zdb_command_duration_seconds_bucket{le="+Inf"}"#), Some(count));
    assert!(sample(&text, "zdb_network_received_bytes_total").unwrap() > 0.0);

    assert!(scrape(&addr, "/other").starts_with("HTTP/1.0 404"));
}
