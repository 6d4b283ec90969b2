//! `tf id`: the user's identity.
//!
//! The identity file is written once with mode 0600 and holds the 24 words (format in
//! `identity::file`). The words are printed only by `tf id new`, once; `import` reads them
//! from stdin so they never land in shell history.
//!
//! `tf id sign FILE` signs, in the `tfgrid/file/v1` domain, the 32-byte SHA-256 of the file's
//! content (not the content itself), so a file of any size is read once, in chunks, and a
//! signature can be checked against a published SHA-256. `verify` recomputes that hash.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Subcommand;
use identity::{Domain, Error, Identity, KeyScheme, PublicKey, Signature};
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{tilde, Globals};

fn scheme_parser() -> impl TypedValueParser<Value = KeyScheme> {
    PossibleValuesParser::new(["tfv2", "substrate"]).map(|s| s.parse::<KeyScheme>().expect("listed values parse"))
}

/// The `tf id` subcommands.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Create a new identity and print its 24 secret words once
    New {
        /// How the words become the key: tfv2 (3Bot, grid v2) or substrate (tfchain ed25519)
        #[arg(long, default_value = "tfv2", value_parser = scheme_parser())]
        scheme: KeyScheme,
        /// Replace an existing identity (its key is lost unless its words are written down)
        #[arg(long)]
        force: bool,
    },
    /// Import an identity from its 24 words, read from stdin
    Import {
        /// How the words become the key: tfv2 (3Bot, grid v2) or substrate (tfchain ed25519)
        #[arg(long, default_value = "tfv2", value_parser = scheme_parser())]
        scheme: KeyScheme,
        /// Replace an existing identity (its key is lost unless its words are written down)
        #[arg(long)]
        force: bool,
    },
    /// Show the public key, scheme and file of the identity (never the words)
    Show,
    /// Sign a file: prints the hex signature over the SHA-256 of its content
    Sign {
        /// The file to sign
        file: PathBuf,
    },
    /// Check a signature made by `tf id sign`; exit status 1 if it does not match
    Verify {
        /// The signed file
        file: PathBuf,
        /// The signature, 128 hex characters
        #[arg(long, value_name = "HEX")]
        signature: Signature,
        /// The signer's public key, 64 hex characters [default: your own]
        #[arg(long, value_name = "PUBHEX")]
        key: Option<PublicKey>,
    },
}

/// Runs one `tf id` subcommand.
pub fn run(ctx: &Globals, command: IdCommand) -> Result<ExitCode> {
    match command {
        IdCommand::New { scheme, force } => new(ctx, scheme, force),
        IdCommand::Import { scheme, force } => import(ctx, scheme, force),
        IdCommand::Show => show(ctx),
        IdCommand::Sign { file } => sign(ctx, &file),
        IdCommand::Verify { file, signature, key } => verify(ctx, &file, &signature, key),
    }
}

fn new(ctx: &Globals, scheme: KeyScheme, force: bool) -> Result<ExitCode> {
    let path = ctx.identity_path()?;
    let id = Identity::generate(scheme);
    save(&id, &path, force)?;
    let words = Zeroizing::new(id.mnemonic().expect("a generated identity has words"));
    if ctx.json {
        ctx.print_json(&json!({
            "public_key": id.public_key(), "scheme": scheme, "path": path, "mnemonic": *words,
        }));
    } else {
        println!("Your 24 secret words, shown only this once. Write them down and keep them offline:");
        println!("they are the only way to recover this identity.\n\n    {}\n", *words);
        print_summary(&id, &path);
    }
    Ok(ExitCode::SUCCESS)
}

fn import(ctx: &Globals, scheme: KeyScheme, force: bool) -> Result<ExitCode> {
    let path = ctx.identity_path()?;
    let words = read_words()?;
    let id = Identity::from_mnemonic(&words, scheme).context("cannot import the words")?;
    save(&id, &path, force)?;
    show_identity(ctx, &id, &path);
    Ok(ExitCode::SUCCESS)
}

fn show(ctx: &Globals) -> Result<ExitCode> {
    let path = ctx.identity_path()?;
    let id = load(&path)?;
    show_identity(ctx, &id, &path);
    Ok(ExitCode::SUCCESS)
}

fn sign(ctx: &Globals, file: &Path) -> Result<ExitCode> {
    let id = load(&ctx.identity_path()?)?;
    let digest = sha256_file(file)?;
    let signature = id.sign(Domain::File, &digest);
    if ctx.json {
        ctx.print_json(&json!({
            "public_key": id.public_key(), "signature": signature, "sha256": hex(&digest),
        }));
    } else {
        println!("{signature}");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(ctx: &Globals, file: &Path, signature: &Signature, key: Option<PublicKey>) -> Result<ExitCode> {
    let key = match key {
        Some(key) => key,
        None => load(&ctx.identity_path()?)?.public_key(),
    };
    let digest = sha256_file(file)?;
    let valid = match key.verify(Domain::File, &digest, signature) {
        Ok(()) => true,
        Err(Error::BadSignature) => false,
        Err(e) => return Err(e.into()),
    };
    if ctx.json {
        ctx.print_json(&json!({"valid": valid, "public_key": key, "sha256": hex(&digest)}));
    } else if valid {
        println!("valid");
    } else {
        println!(
            "signature does not match: {} was not signed with this signature by {key}, or it changed since",
            file.display()
        );
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn show_identity(ctx: &Globals, id: &Identity, path: &Path) {
    if ctx.json {
        ctx.print_json(&json!({"public_key": id.public_key(), "scheme": id.scheme(), "path": path}));
    } else {
        print_summary(id, path);
    }
}

fn print_summary(id: &Identity, path: &Path) {
    println!("public key: {}", id.public_key());
    println!("scheme:     {}", id.scheme());
    println!("file:       {}", tilde(path));
}

/// Saves, turning "already exists" into advice.
fn save(id: &Identity, path: &Path, force: bool) -> Result<()> {
    let saved = if force { id.save_overwrite(path) } else { id.save(path) };
    saved.map_err(|e| match e {
        Error::AlreadyExists(_) => anyhow!(
            "an identity already exists at {}; pass --force to replace it \
             (its key is lost unless its words are written down)",
            tilde(path)
        ),
        e => anyhow!(e).context("cannot save the identity"),
    })
}

/// Loads the identity, with advice when there is none, and a warning if others can read it.
pub(crate) fn load(path: &Path) -> Result<Identity> {
    let id = Identity::load(path).map_err(|e| match e {
        Error::NotFound(_) => {
            anyhow!("no identity at {}; create one with `tf id new` (or `tf id import`)", tilde(path))
        }
        e @ (Error::BadFile { .. } | Error::Io { .. }) => e.into(),
        e => anyhow!(e).context(format!("cannot load the identity at {}", tilde(path))),
    })?;
    warn_if_exposed(path);
    Ok(id)
}

#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        let shown = tilde(path);
        eprintln!("warning: {shown} can be read by other users; fix it with: chmod 600 {shown}");
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

/// The words from stdin: one line from a terminal (with a prompt), else all of it.
fn read_words() -> Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let mut words = Zeroizing::new(String::new());
    if stdin.is_terminal() {
        eprint!("Type or paste your 24 words, then press Enter: ");
        stdin.read_line(&mut words)
    } else {
        stdin.lock().read_to_string(&mut words)
    }
    .context("cannot read the words from stdin")?;
    Ok(words)
}

/// SHA-256 of a file's content, read in chunks so that any size works.
fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
