//! `--metrics ADDR`: Prometheus metrics over HTTP (`GET /metrics`), in the
//! text exposition format: commands by type, error replies, a latency
//! histogram, bytes in and out, clients, and keys and bytes per namespace.
//!
//! The counters are plain atomics bumped on the request path; the HTTP side
//! is a minimal HTTP/1.0 responder (one request per connection), which is
//! all a Prometheus scraper needs.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::commands::COMMANDS;
use crate::server::Shared;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 10] = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

/// Per-command counters and the latency histogram.
#[derive(Debug)]
pub struct CommandMetrics {
    calls: Vec<AtomicU64>,
    errors: Vec<AtomicU64>,
    /// Cumulative-at-render: one count per bucket plus +Inf.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
}

impl Default for CommandMetrics {
    fn default() -> Self {
        CommandMetrics {
            calls: COMMANDS.iter().map(|_| AtomicU64::new(0)).collect(),
            errors: COMMANDS.iter().map(|_| AtomicU64::new(0)).collect(),
            latency: Default::default(),
            latency_sum_ns: AtomicU64::new(0),
        }
    }
}

impl CommandMetrics {
    /// Records one run of command number `index` (its place in COMMANDS).
    pub fn record(&self, index: usize, elapsed: Duration, failed: bool) {
        self.calls[index].fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors[index].fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&b| secs <= b).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &shared)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let (status, body) = if line.starts_with(b"GET /metrics ") || line.starts_with(b"GET /metrics?") {
        ("200 OK", render(shared))
    } else {
        ("404 Not Found", "only /metrics is served here\n".to_string())
    };
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// The whole exposition text.
pub fn render(shared: &Shared) -> String {
    let s = &shared.stats;
    let m = &s.per_command;
    let mut t = String::new();
    let counter = |t: &mut String, name: &str, help: &str| {
        let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} counter");
    };
    counter(&mut t, "zdb_commands_total", "Commands run, by command.");
    for (i, c) in COMMANDS.iter().enumerate() {
        let n = m.calls[i].load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(t, "zdb_commands_total{{command=\"{}\"}} {n}", c.name);
        }
    }
    counter(&mut t, "zdb_command_errors_total", "Commands that replied with an error, by command.");
    for (i, c) in COMMANDS.iter().enumerate() {
        let n = m.errors[i].load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(t, "zdb_command_errors_total{{command=\"{}\"}} {n}", c.name);
        }
    }
    counter(&mut t, "zdb_unknown_commands_total", "Requests naming no known command.");
    let _ = writeln!(t, "zdb_unknown_commands_total {}", s.commands_failed.load(Ordering::Relaxed));
    counter(&mut t, "zdb_unauthorized_total", "Admin commands refused to non-admin clients.");
    let _ = writeln!(t, "zdb_unauthorized_total {}", s.commands_unauthorized.load(Ordering::Relaxed));
    counter(&mut t, "zdb_network_received_bytes_total", "Bytes read from clients.");
    let _ = writeln!(t, "zdb_network_received_bytes_total {}", s.network_rx.load(Ordering::Relaxed));
    counter(&mut t, "zdb_network_sent_bytes_total", "Bytes written to clients.");
    let _ = writeln!(t, "zdb_network_sent_bytes_total {}", s.network_tx.load(Ordering::Relaxed));
    counter(&mut t, "zdb_connections_total", "Client connections accepted.");
    let _ = writeln!(t, "zdb_connections_total {}", s.clients_lifetime.load(Ordering::Relaxed));
    let _ = writeln!(t, "# HELP zdb_connected_clients Clients connected now.\n# TYPE zdb_connected_clients gauge");
    let _ = writeln!(t, "zdb_connected_clients {}", s.clients_connected.load(Ordering::Relaxed));

    let _ = writeln!(
        t,
        "# HELP zdb_command_duration_seconds Time to run a command (not counting network).\n# TYPE zdb_command_duration_seconds histogram"
    );
    let mut cumulative = 0;
    for (i, bound) in BUCKETS.iter().enumerate() {
        cumulative += m.latency[i].load(Ordering::Relaxed);
        let _ = writeln!(t, "zdb_command_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += m.latency[BUCKETS.len()].load(Ordering::Relaxed);
    let _ = writeln!(t, "zdb_command_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(t, "zdb_command_duration_seconds_sum {}", m.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9);
    let _ = writeln!(t, "zdb_command_duration_seconds_count {cumulative}");

    let _ = writeln!(t, "# HELP zdb_replication_lag_bytes Data a replica has not acknowledged yet.\n# TYPE zdb_replication_lag_bytes gauge");
    for (id, lag) in shared.replication.lag(&shared.store) {
        let _ = writeln!(t, "zdb_replication_lag_bytes{{replica=\"{id}\"}} {lag}");
    }
    let _ = writeln!(t, "# HELP zdb_namespace_keys Live keys per namespace.\n# TYPE zdb_namespace_keys gauge");
    let namespaces: Vec<_> = shared
        .store
        .all()
        .into_iter()
        .map(|ns| {
            let st = ns.lock();
            (ns.name.clone(), st.entries, st.data_bytes)
        })
        .collect();
    for (name, keys, _) in &namespaces {
        let _ = writeln!(t, "zdb_namespace_keys{{namespace=\"{}\"}} {keys}", escape(name));
    }
    let _ = writeln!(
        t,
        "# HELP zdb_namespace_data_bytes Live payload bytes per namespace.\n# TYPE zdb_namespace_data_bytes gauge"
    );
    for (name, _, bytes) in &namespaces {
        let _ = writeln!(t, "zdb_namespace_data_bytes{{namespace=\"{}\"}} {bytes}", escape(name));
    }
    t
}

/// Label values escape backslash, quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
