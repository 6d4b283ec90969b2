//! `explorer serve --listen 127.0.0.1:8800 --data DIR`: see [`explorer::server`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The grid's explorer: phonebook, farms, nodes, contracts and node queues on a verifiable ledger.
#[derive(Parser)]
#[command(name = "explorer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the explorer's HTTP API until killed.
    Serve {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8800")]
        listen: SocketAddr,
        /// Directory for the ledger, its index and keys.
        #[arg(long, default_value = "./explorer-data")]
        data: PathBuf,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("EXPLORER_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve { listen, data } = Cli::parse().command;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(explorer::server::serve(listen, data)));
    if let Err(e) = result {
        eprintln!("explorer: {e:#}");
        std::process::exit(1);
    }
}
