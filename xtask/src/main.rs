//! Project chores, run as `cargo xtask <task>`:
//!
//! - `cargo xtask test`: installs what the tests need on a fresh Debian
//!   machine (redis-cli), then runs the whole test suite.
//! - `cargo xtask bench zdb [--quick]`: runs redis-benchmark against a
//!   release `zdb` and against Debian's redis-server side by side, and prints
//!   the figures and their ratios.

mod bench;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("deps") => ensure_packages(&["redis-tools", "redis-server"]),
        _ => {
            eprintln!("usage: cargo xtask test [cargo test args…] | bench zdb [--quick] | deps");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the test suite after making sure its external tools are there.
fn test(extra: &[String]) -> anyhow::Result<()> {
    ensure_packages(&["redis-tools"])?;
    let status = Command::new(cargo())
        .args(["test", "--workspace", "--all-targets"])
        .args(extra)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs the Debian packages whose binaries are missing (we run as root
/// on CI and developer machines; elsewhere we say what to install).
pub fn ensure_packages(packages: &[&str]) -> anyhow::Result<()> {
    let binary = |p: &str| {
        match p {
            "redis-tools" => "redis-cli",
            "redis-server" => "redis-server",
            other => other,
        }
        .to_string()
    };
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !on_path(&binary(p))).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !root {
        bail!("missing {}: install them with `sudo apt-get install {}`", missing.join(", "), missing.join(" "));
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").status().context("running apt-get")
    };
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    if !apt(&args)?.success() {
        apt(&["update", "-q"])?;
        if !apt(&args)?.success() {
            bail!("could not install {}", missing.join(" "));
        }
    }
    Ok(())
}

pub fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
        .unwrap_or(false)
}
