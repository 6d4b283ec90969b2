//! The `bcdb` command line: `serve` runs a server; every other command is a verifying client of
//! one (see [`crate::client`]), signing with the twin identity that `tf id new` created.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use identity::{Identity, PublicKey};
use serde_json::{json, Value};

use crate::client::{Client, Submitted, Verified};
use crate::revision::{Acl, Entry, Grant, Hash, Multisig, Op, Revision, Rights, SCHEMA_URL};
use crate::store::zdb::ZdbTarget;

/// The blockchain database: signed, immutable revisions in a verifiable Merkle log.
#[derive(Parser)]
#[command(name = "bcdb", version, about)]
pub struct Cli {
    /// The server to talk to.
    #[arg(long, global = true, env = "BCDB_SERVER", default_value = "http://127.0.0.1:8900")]
    pub server: String,
    /// Identity file to sign with (default: $TF_IDENTITY or ~/.config/tf/identity.json).
    #[arg(long, global = true)]
    pub identity: Option<PathBuf>,
    /// File keeping the last checkpoint this client verified (default: ~/.config/bcdb/trusted/<server>.json).
    #[arg(long, global = true)]
    pub trust: Option<PathBuf>,
    /// Accept only checkpoints signed by this server key (otherwise the first one seen is pinned).
    #[arg(long, global = true)]
    pub server_key: Option<PublicKey>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Register or show schemas.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Write a new object, or a new version of one (--id).
    Put(PutArgs),
    /// Delete an object (its history stays).
    Delete {
        /// The object id.
        id: String,
    },
    /// Co-sign a revision waiting for its multisig quorum.
    Sign {
        /// The revision hash printed by `put`.
        hash: String,
    },
    /// Show a pending revision.
    Pending {
        /// The revision hash.
        hash: String,
    },
    /// Show an object's current revision (or as of a past log size).
    Get {
        /// The object id.
        id: String,
        /// The log size to read the state at.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Show every revision of an object.
    History {
        /// The object id.
        id: String,
        /// The log size to read the history at.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Find current objects by an indexed field.
    Find {
        /// The schema url.
        schema: String,
        /// FIELD=VALUE.
        query: String,
        /// The log size to search at.
        #[arg(long)]
        at: Option<u64>,
    },
    /// Show an object's inclusion proof and the checkpoint it verifies against.
    Proof {
        /// The object id.
        id: String,
    },
    /// Verify a log: offline with --data (every entry, signature, chain and the signed checkpoint),
    /// otherwise the server's whole tree against this client's trusted checkpoint.
    Verify(StoreArgs),
    /// Rebuild the derived index from the log (offline; the server must be stopped).
    Reindex(StoreArgs),
}

/// Where a server keeps things.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Data directory (index, server key, checkpoints; the log too unless --zdb).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Keep the log in a sequential namespace on this zdb (HOST:PORT) instead of segment files.
    #[arg(long, requires = "namespace")]
    pub zdb: Option<String>,
    /// The zdb namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// The namespace password.
    #[arg(long, env = "BCDB_ZDB_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// zdb's admin password, to create the namespace when it does not exist.
    #[arg(long, env = "BCDB_ZDB_ADMIN", hide_env_values = true)]
    pub zdb_admin: Option<String>,
}

impl StoreArgs {
    fn zdb_target(&self) -> Option<ZdbTarget> {
        Some(ZdbTarget {
            addr: self.zdb.clone()?,
            namespace: self.namespace.clone().unwrap_or_default(),
            password: self.password.clone(),
            admin: self.zdb_admin.clone(),
        })
    }
}

/// `bcdb serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8900")]
    pub listen: SocketAddr,
    /// Where the store lives.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `bcdb schema ...`.
#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Register a schema (or a new version of one you registered before).
    Add {
        /// The schema text file (jsxschema).
        file: PathBuf,
    },
    /// Show the current text of a schema.
    Get {
        /// The schema url.
        url: String,
    },
}

/// `bcdb put`.
#[derive(Args)]
pub struct PutArgs {
    /// The schema url of the payload.
    #[arg(long)]
    pub schema: String,
    /// Write a new version of this object instead of creating one.
    #[arg(long)]
    pub id: Option<String>,
    /// Anyone may read it (default: only the owner and read grants).
    #[arg(long)]
    pub public: bool,
    /// Give a twin rights: KEY:rwd (any of r, w, d). Repeatable.
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// A multisig signer (repeatable); use with --quorum.
    #[arg(long = "signer")]
    pub signers: Vec<PublicKey>,
    /// Distinct signers needed for every revision of this object.
    #[arg(long)]
    pub quorum: Option<u32>,
    /// The JSON payload: inline, @FILE, or - for stdin.
    pub data: String,
}

/// Runs a client command (everything but `serve`).
pub fn run(cli: Cli) -> Result<()> {
    let out = Output { json: cli.json };
    match &cli.command {
        Command::Verify(args) if args.data.is_some() => return verify_offline(args, &out),
        Command::Reindex(args) => return reindex(args, &out),
        _ => {}
    }
    let client = client(&cli)?;
    match cli.command {
        Command::Serve(_) | Command::Reindex(_) => unreachable!("handled by the caller"),
        Command::Schema(SchemaCommand::Add { file }) => schema_add(&client, &file, &out),
        Command::Schema(SchemaCommand::Get { url }) => {
            let v = client.schema(&url)?;
            out.entry(&v)
        }
        Command::Put(args) => put(&client, args, &out),
        Command::Delete { id } => delete(&client, &parse_id(&id)?, &out),
        Command::Sign { hash } => {
            let submitted = client.cosign(&parse_id(&hash)?)?;
            out.submitted(&submitted)
        }
        Command::Pending { hash } => {
            let (entry, status) = client.pending(&parse_id(&hash)?)?;
            out.value(&json!({"hash": hex::encode(status.hash), "have": status.have, "need": status.need, "revision": revision_json(&entry)}))
        }
        Command::Get { id, at } => out.entry(&client.get_object(&parse_id(&id)?, at)?),
        Command::History { id, at } => {
            let list = client.history(&parse_id(&id)?, at)?;
            out.entries(&list)
        }
        Command::Find { schema, query, at } => {
            let (field, value) = query.split_once('=').ok_or_else(|| anyhow!("write the query as FIELD=VALUE"))?;
            out.entries(&client.find(&schema, field, value, at)?)
        }
        Command::Proof { id } => proof(&client, &parse_id(&id)?, &out),
        Command::Verify(_) => {
            let cp = client.audit()?;
            out.line_or(
                &json!({"size": cp.size, "root": hex::encode(cp.root), "server_key": cp.origin.to_string(), "ok": true}),
                &format!("ok: {} entries hash to the checkpoint root {}, consistent with what this client trusted before", cp.size, hex::encode(cp.root)),
            )
        }
    }
}

fn client(cli: &Cli) -> Result<Client> {
    let path = cli.identity.clone().or_else(Identity::default_path);
    let identity = match path {
        Some(p) if p.exists() => Some(Identity::load(&p).with_context(|| format!("loading identity {}", p.display()))?),
        _ => None,
    };
    let trust = cli.trust.clone().unwrap_or_else(|| crate::client::default_trust_path(&cli.server));
    Ok(Client::new(&cli.server, identity, trust, cli.server_key))
}

fn me(client: &Client) -> Result<&Identity> {
    client
        .identity()
        .ok_or_else(|| anyhow!("writing needs an identity; create one with `tf id new` or pass --identity FILE"))
}

fn parse_id(text: &str) -> Result<Hash> {
    crate::parse_hash(text).map_err(|e| anyhow!(e))
}

fn schema_add(client: &Client, file: &std::path::Path, out: &Output) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let schema = jsxschema::Schema::parse(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let author = me(client)?;
    let existing = client.schema(&schema.url).ok();
    let rev = Revision {
        object: existing.as_ref().map(|v| v.entry.revision.object_id()),
        version: existing.as_ref().map_or(1, |v| v.entry.revision.version + 1),
        prev: existing.as_ref().map(|v| v.entry.revision.hash()),
        schema_url: SCHEMA_URL.into(),
        schema_hash: crate::ledger::sha256(text.as_bytes()),
        author: author.public_key(),
        timestamp_ms: crate::now_ms(),
        op: Op::Put,
        payload: text.into_bytes(),
        acl: Acl { public: true, grants: Vec::new() },
        multisig: None,
    };
    out.submitted(&client.submit(&Entry::signed_by(rev, author))?)
}

fn put(client: &Client, args: PutArgs, out: &Output) -> Result<()> {
    let author = me(client)?;
    let raw = match args.data.strip_prefix('@') {
        Some(path) => crate::client::read_input(std::path::Path::new(path))?,
        None if args.data == "-" => crate::client::read_input(std::path::Path::new("-"))?,
        None => args.data.clone().into_bytes(),
    };
    let value: Value = serde_json::from_slice(&raw).context("the payload is not valid JSON")?;
    let schema_text = client.schema(&args.schema)?.entry.revision.payload;
    let head = args.id.as_deref().map(|id| client.get_object(&parse_id(id)?, None)).transpose()?;
    let mut grants = Vec::new();
    for g in &args.grants {
        let (key, rights) = g.split_once(':').ok_or_else(|| anyhow!("write a grant as KEY:rwd"))?;
        grants.push(Grant {
            key: key.parse().map_err(|_| anyhow!("`{key}` is not a public key"))?,
            rights: Rights::parse(rights).map_err(|e| anyhow!(e))?,
        });
    }
    let multisig = match (&args.quorum, args.signers.is_empty()) {
        (Some(q), _) => Some(Multisig { signers: args.signers.clone(), quorum: *q }),
        (None, false) => bail!("--signer needs --quorum N"),
        (None, true) => None,
    };
    let changes_access = args.public || !grants.is_empty() || multisig.is_some();
    let (acl, multisig) = match (&head, changes_access) {
        (Some(h), false) => (h.entry.revision.acl.clone(), h.entry.revision.multisig.clone()),
        _ => (Acl { public: args.public, grants }, multisig),
    };
    let rev = Revision {
        object: head.as_ref().map(|h| h.entry.revision.object_id()),
        version: head.as_ref().map_or(1, |h| h.entry.revision.version + 1),
        prev: head.as_ref().map(|h| h.entry.revision.hash()),
        schema_url: args.schema,
        schema_hash: crate::ledger::sha256(&schema_text),
        author: author.public_key(),
        timestamp_ms: crate::now_ms(),
        op: Op::Put,
        payload: serde_json::to_vec(&value)?,
        acl,
        multisig,
    };
    out.submitted(&client.submit(&Entry::signed_by(rev, author))?)
}

fn delete(client: &Client, id: &Hash, out: &Output) -> Result<()> {
    let author = me(client)?;
    let head = client.get_object(id, None)?.entry.revision;
    let rev = Revision {
        object: Some(*id),
        version: head.version + 1,
        prev: Some(head.hash()),
        op: Op::Delete,
        payload: Vec::new(),
        author: author.public_key(),
        timestamp_ms: crate::now_ms(),
        ..head
    };
    out.submitted(&client.submit(&Entry::signed_by(rev, author))?)
}

fn proof(client: &Client, id: &Hash, out: &Output) -> Result<()> {
    let v = client.get_object(id, None)?;
    let cp = client.trusted()?.ok_or_else(|| anyhow!("no trusted checkpoint"))?;
    let leaf = merkle::leaf_hash(&v.entry.to_bytes());
    let value = json!({
        "object": hex::encode(id), "index": v.index, "size": v.size, "leaf_hash": hex::encode(leaf),
        "root": hex::encode(cp.root), "server_key": cp.origin.to_string(), "checkpoint_signature": cp.signature.to_string(),
        "verified": true,
    });
    out.line_or(
        &value,
        &format!(
        "object {} is entry {} of {}\nleaf hash {}\nroot      {} (signed by server key {})\ninclusion proof verified",
        hex::encode(id), v.index, v.size, hex::encode(leaf), hex::encode(cp.root), cp.origin
    ),
    )
}

fn verify_offline(args: &StoreArgs, out: &Output) -> Result<()> {
    let data = args.data.clone().expect("checked by the caller");
    let mut store = crate::server::open_store(&data, args.zdb_target(), true)?;
    let report = crate::verify::verify_store(store.as_mut(), &data);
    let text = if report.problems.is_empty() {
        format!(
            "ok: {} entries, {} objects, root {}; signatures, chains and the signed checkpoint check out",
            report.entries, report.objects, report.root
        )
    } else {
        format!("{} problem(s) in {}:\n  {}", report.problems.len(), store.describe(), report.problems.join("\n  "))
    };
    out.line_or(&serde_json::to_value(&report)?, &text)?;
    if !report.problems.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

fn reindex(args: &StoreArgs, out: &Output) -> Result<()> {
    let data = args.data.clone().ok_or_else(|| anyhow!("reindex needs --data DIR"))?;
    let lock = crate::ledger::DirLock::acquire(&data)?;
    let store = crate::server::open_store(&data, args.zdb_target(), false)?;
    let started = std::time::Instant::now();
    let ledger = crate::ledger::Ledger::open_locked(&data, store, lock, true)?;
    let secs = started.elapsed().as_secs_f64();
    out.line_or(
        &json!({"entries": ledger.len(), "seconds": secs}),
        &format!("rebuilt the index of {} entries in {secs:.2} s", ledger.len()),
    )
}

/// Text or JSON output.
struct Output {
    json: bool,
}

impl Output {
    fn value(&self, v: &Value) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(v)?);
        Ok(())
    }

    fn line_or(&self, v: &Value, text: &str) -> Result<()> {
        if self.json {
            return self.value(v);
        }
        println!("{text}");
        Ok(())
    }

    fn submitted(&self, s: &Submitted) -> Result<()> {
        match s {
            Submitted::Accepted(r) => self.line_or(
                &json!({"status": "accepted", "object": hex::encode(r.object), "version": r.version, "hash": hex::encode(r.hash), "index": r.index}),
                &format!("object {}\nversion {} (revision {}, log entry {})", hex::encode(r.object), r.version, hex::encode(r.hash), r.index),
            ),
            Submitted::Pending(p) => self.line_or(
                &json!({"status": "pending", "hash": hex::encode(p.hash), "have": p.have, "need": p.need}),
                &format!("pending: revision {} has {} of {} required signatures; co-signers run `bcdb sign {}`", hex::encode(p.hash), p.have, p.need, hex::encode(p.hash)),
            ),
        }
    }

    fn entry(&self, v: &Verified) -> Result<()> {
        let mut value = revision_json(&v.entry);
        value["index"] = json!(v.index);
        value["proved_in_size"] = json!(v.size);
        if self.json {
            return self.value(&value);
        }
        let r = &v.entry.revision;
        println!("object   {}\nversion  {}  ({})\nrevision {}\nschema   {}\nauthor   {}\nlog      entry {} (proved against a checkpoint of {} entries)",
            hex::encode(r.object_id()), r.version, if r.op == Op::Delete { "deleted" } else { "put" }, hex::encode(r.hash()), r.schema_url, r.author, v.index, v.size);
        println!("{}", payload_text(&v.entry));
        Ok(())
    }

    fn entries(&self, list: &[Verified]) -> Result<()> {
        if self.json {
            let values: Vec<Value> = list
                .iter()
                .map(|v| {
                    let mut value = revision_json(&v.entry);
                    value["index"] = json!(v.index);
                    value
                })
                .collect();
            return self.value(&Value::Array(values));
        }
        for v in list {
            let r = &v.entry.revision;
            println!(
                "{} v{} entry {} {}",
                hex::encode(r.object_id()),
                r.version,
                v.index,
                payload_text(&v.entry).replace('\n', " ")
            );
        }
        Ok(())
    }
}

fn payload_text(e: &Entry) -> String {
    match serde_json::from_slice::<Value>(&e.revision.payload) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&e.revision.payload).into_owned(),
    }
}

/// A revision as JSON for `--json` output.
pub fn revision_json(e: &Entry) -> Value {
    let r = &e.revision;
    let payload = serde_json::from_slice::<Value>(&r.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.payload).into_owned()));
    json!({
        "object": hex::encode(r.object_id()),
        "version": r.version,
        "hash": hex::encode(r.hash()),
        "prev": r.prev.map(hex::encode),
        "schema_url": r.schema_url,
        "schema_hash": hex::encode(r.schema_hash),
        "author": r.author.to_string(),
        "timestamp_ms": r.timestamp_ms,
        "op": r.op,
        "payload": payload,
        "acl": r.acl,
        "multisig": r.multisig,
        "signers": e.signatures.iter().map(|s| s.key.to_string()).collect::<Vec<_>>(),
    })
}
