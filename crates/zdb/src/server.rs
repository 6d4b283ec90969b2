//! The server process: opens the store, listens, runs one task per client,
//! and shuts down cleanly (files synced) on SIGINT, SIGTERM or STOP.

use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::config::{Config, Secret};
use crate::connection;
use crate::format::Mode;
use crate::hooks::Hooks;
use crate::storage::{Store, StoreOptions};

/// Counters reported by INFO.
#[derive(Debug, Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub commands_failed: AtomicU64,
    pub commands_unauthorized: AtomicU64,
    pub clients_lifetime: AtomicU64,
    pub network_rx: AtomicU64,
    pub network_tx: AtomicU64,
    pub clients_connected: AtomicU64,
    pub per_command: crate::metrics::CommandMetrics,
}

/// Everything the connections share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub admin: Option<Secret>,
    pub protect: bool,
    pub forced_mode: Option<Mode>,
    pub stats: Stats,
    pub boot_time: u64,
    pub started: Instant,
    pub instance_id: u32,
    pub hooks: Arc<Hooks>,
    /// Master and replica roles, replica acknowledgements.
    pub replication: crate::replication::Replication,
    /// MIRROR connections.
    pub mirrors: crate::commands::mirror::Mirrors,
    next_client_id: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// A new client id (never 0: the original does not mirror owner 0).
    pub fn new_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks the server to stop (STOP command).
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Resolves once a shutdown was requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// Logs go to stderr; `--verbose` (or RUST_LOG) shows debug lines.
pub fn init_logging(verbose: bool) {
    let default = if verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Runs the server on a fresh tokio runtime until it stops.
pub fn run_blocking(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = match config.threads {
        // One event loop, like the original and redis: no cross-thread
        // wake-ups on the request path.
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n.max(1)).enable_all().build()?,
    };
    runtime.block_on(run(config))
}

/// Opens the store, serves clients, and returns the exit code: 0 after
/// STOP, 128 + signal number after SIGINT/SIGTERM, as the original.
pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    config.validate()?;
    // Bind first: the hooks' instance id carries the real port (--port 0),
    // and clients that connect early just wait in the backlog until ready.
    let want_tcp = config.socket.is_none() || config.dualnet;
    let tcp = match want_tcp {
        true => Some(
            TcpListener::bind((config.listen.as_str(), config.port))
                .await
                .with_context(|| format!("cannot listen on {}:{}", config.listen, config.port))?,
        ),
        false => None,
    };
    let unix = match &config.socket {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            Some(UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?)
        }
        None => None,
    };
    let instance = match (&tcp, &config.socket) {
        (Some(l), _) => format!("tcp://{}", l.local_addr()?),
        (None, Some(path)) => format!("unix://{}", path.display()),
        (None, None) => unreachable!("TCP is used unless a socket is given"),
    };
    let hooks = Arc::new(Hooks::new(config.hook.clone(), instance));
    let (index, data) = (config.index.display().to_string(), config.data.display().to_string());
    if !hooks.run_blocking("namespaces-init", &[&index, &data])? {
        anyhow::bail!("the namespaces-init hook failed");
    }
    let opts = StoreOptions {
        datasize: config.datasize,
        sync: config.sync,
        synctime: config.synctime,
        forced_mode: config.mode.map(Mode::from),
        hooks: hooks.clone(),
        appended: Default::default(),
    };
    let store = Store::open(&config.index, &config.data, opts)?;
    {
        let default = store.default_ns();
        let mut st = default.lock();
        if let Some(maxsize) = config.maxsize {
            st.desc.maxsize = maxsize; // in memory only, as the original
        }
    }
    // Before anything is announced: a SIGTERM that arrives once a client
    // could know we are up must get the clean shutdown, not the default
    // action (exit without syncing).
    let signals = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        store,
        admin: config.admin.clone(),
        protect: config.protect,
        forced_mode: config.mode.map(Mode::from),
        stats: Stats::default(),
        boot_time: crate::unix_now(),
        started: Instant::now(),
        instance_id: random_u32(),
        hooks,
        mirrors: Default::default(),
        replication: crate::replication::Replication::new(
            config.sync_replicas,
            config.master_auth.clone(),
            config.replica_of.clone(),
        ),
        next_client_id: AtomicU64::new(1),
        shutdown,
    });

    if !shared.hooks.run_blocking("ready", &[])? {
        anyhow::bail!("the ready hook exited non-zero: not serving");
    }
    if let Some(addr) = &config.metrics {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot serve metrics on {addr}"))?;
        let bound = listener.local_addr()?;
        println!("zdb metrics on http://{bound}/metrics");
        tokio::spawn(crate::metrics::serve(listener, shared.clone()));
    }
    if let Some(listener) = tcp {
        announce(&format!("{}", listener.local_addr()?));
        tokio::spawn(accept_tcp(listener, shared.clone()));
    }
    if let (Some(listener), Some(path)) = (unix, &config.socket) {
        announce(&format!("unix://{}", path.display()));
        tokio::spawn(accept_unix(listener, shared.clone()));
    }
    tokio::spawn(crate::replication::supervise(shared.clone()));
    if config.rotate > 0 {
        tokio::spawn(rotate_periodically(shared.clone(), config.rotate));
    }

    let code = wait_for_shutdown(&shared, signals).await?;
    tracing::info!("shutting down: syncing every namespace");
    shared.store.sync_all();
    let _ = shared.hooks.run_blocking("close", &[]);
    if let Some(path) = &config.socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(code)
}

/// Prints the address we listen on, on stdout, so scripts and tests that
/// pass `--port 0` learn the port.
fn announce(addr: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "zdb listening on {addr}");
    let _ = out.flush();
    tracing::info!("listening on {addr}");
}

async fn wait_for_shutdown(
    shared: &Shared,
    (mut term, mut int): (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
) -> anyhow::Result<ExitCode> {
    let mut stop = shared.shutdown_signal();
    Ok(tokio::select! {
        _ = term.recv() => ExitCode::from(128 + libc::SIGTERM as u8),
        _ = int.recv() => ExitCode::from(128 + libc::SIGINT as u8),
        _ = stop.wait_for(|s| *s) => ExitCode::SUCCESS,
    })
}

async fn accept_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Replies are coalesced per batch; Nagle would only add latency.
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection::serve(shared.clone(), stream));
            }
            Err(e) => accept_failed(e).await,
        }
    }
}

async fn accept_unix(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection::serve(shared.clone(), stream));
            }
            Err(e) => accept_failed(e).await,
        }
    }
}

/// Out of file descriptors and the like: keep serving the clients we have.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// `--rotate`: jump every namespace that was written to, every `secs`.
async fn rotate_periodically(shared: Arc<Shared>, secs: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(secs));
    tick.tick().await;
    loop {
        tick.tick().await;
        for ns in shared.store.all() {
            let mut st = ns.lock();
            if st.written_since_jump {
                if let Err(e) = st.jump() {
                    tracing::error!(namespace = %ns.name, "rotation failed: {e}");
                }
            }
        }
    }
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}
