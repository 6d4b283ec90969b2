//! `bcdb`: see `bcdb --help`. The logic lives in the library (`cli`, `server`, `client`).

use clap::Parser;

fn main() {
    let cli = bcdb::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BCDB_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        bcdb::cli::Command::Serve(args) => serve(args),
        _ => bcdb::cli::run(cli),
    };
    if let Err(e) = result {
        eprintln!("bcdb: {e:#}");
        std::process::exit(1);
    }
}

fn serve(args: bcdb::cli::ServeArgs) -> anyhow::Result<()> {
    let data = args.store.data.clone().ok_or_else(|| anyhow::anyhow!("serve needs --data DIR"))?;
    let zdb = args.store.zdb.clone().map(|addr| bcdb::store::zdb::ZdbTarget {
        addr,
        namespace: args.store.namespace.clone().unwrap_or_default(),
        password: args.store.password.clone(),
        admin: args.store.zdb_admin.clone(),
    });
    let config = bcdb::server::ServeConfig { listen: args.listen, data, zdb };
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bcdb::server::serve(config))
}
