//! `tf`: the grid's command-line tool. So far it manages the user's identity ([`id`]) and checks
//! hand-written contract files ([`contract`], `tf contract check FILE`, what `tf deploy` will
//! send).
//!
//! Exit status: 0 on success, 1 when a signature does not verify or a contract file has
//! problems, 2 on any other error (including command-line usage errors, as clap reports them).

pub mod contract;
pub mod id;
pub mod time;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use identity::Identity;

/// The command line, parsed.
#[derive(Debug, Parser)]
#[command(name = "tf", version, about = "Command-line tool for the ThreeFold grid")]
#[command(
    after_help = "Exit status: 0 success, 1 a signature does not verify or a contract file has problems, 2 error."
)]
pub struct Cli {
    /// Identity file [default: $TF_IDENTITY, else $XDG_CONFIG_HOME/tf/identity.json, else
    /// ~/.config/tf/identity.json]
    #[arg(long, global = true, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Print JSON instead of text, for scripts
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, import, show and use your identity (your ed25519 key)
    Id {
        #[command(subcommand)]
        command: id::IdCommand,
    },
    /// Work with contract files (`tf contract check FILE`); `tf deploy` will use the same checks
    #[command(hide = true)]
    Contract {
        #[command(subcommand)]
        command: contract::ContractCommand,
    },
}

/// What every command needs from the global options.
#[derive(Debug)]
pub struct Globals {
    identity: Option<PathBuf>,
    json: bool,
}

impl Globals {
    /// The identity file to use: `--identity`, else the default location.
    fn identity_path(&self) -> Result<PathBuf> {
        self.identity
            .clone()
            .or_else(Identity::default_path)
            .context("cannot tell where the identity file is: set HOME or TF_IDENTITY, or pass --identity FILE")
    }

    /// Prints `value` as pretty JSON (for `--json`).
    fn print_json(&self, value: &serde_json::Value) {
        use std::io::Write;
        // A reader that stops early (`| head`) closes the pipe: that is not an error worth a panic.
        let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
        let _ = writeln!(std::io::stdout(), "{text}");
    }
}

/// Runs a parsed command line and returns the exit status to use.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Globals { identity: cli.identity, json: cli.json };
    match cli.command {
        Command::Id { command } => id::run(&ctx, command),
        Command::Contract { command } => contract::run(&ctx, command),
    }
}

/// The whole program: parse, run, report errors on stderr with exit status 2.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `path` with the home directory shown as `~`, for messages.
fn tilde(path: &Path) -> String {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    match home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => Path::new("~").join(rest).display().to_string(),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn tilde_only_replaces_a_home_prefix() {
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute() && h != Path::new("/"));
        if let Some(home) = home {
            assert_eq!(tilde(&home.join("a/b")), "~/a/b");
        }
        assert_eq!(tilde(Path::new("relative/x")), "relative/x");
    }
}
