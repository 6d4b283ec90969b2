//! The `zdb` binary: parse flags, run the server. Everything else is in the library.

fn main() -> std::process::ExitCode {
    let config = zdb::config::Config::from_args();
    zdb::server::init_logging(config.verbose);
    match zdb::server::run_blocking(config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zdb: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
