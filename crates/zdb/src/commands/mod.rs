//! Command dispatch: the table of commands, the per-client state, and the
//! checks every command shares (argument counts, admin rights, namespace
//! locks). Replies and error texts are the original's (see
//! `shared/reference/0db.md`, section 3).
//!
//! Command names match case-insensitively and exactly; the original's
//! prefix matching (`S` meaning SET) is a quirk no client relies on.

mod auth;
mod keys;
pub mod mirror;
mod namespaces;
mod replica;
mod scan;
mod system;
mod wait;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::resp::reply;
use crate::server::Shared;
use crate::storage::{Namespace, NsState, DEFAULT_NAMESPACE};
pub use wait::Wait;

/// What the connection does after a command.
#[derive(Debug)]
pub enum Action {
    Continue,
    /// Send what is pending, then close.
    Close,
    /// Send what is pending, then block until the event or the timeout.
    Wait(Wait),
    /// Send what is pending, then serve a replica from these positions.
    Replicate(Vec<(String, u32, u64)>),
    /// Send what is pending, then stream mirrored commands (MIRROR).
    Mirror(tokio::sync::mpsc::Receiver<Bytes>),
}

/// Per-connection state.
#[derive(Debug)]
pub struct Client {
    pub ns: Arc<Namespace>,
    /// False when the namespace was selected without its password (public
    /// read-only access), or for the default namespace under `--protect`.
    pub writable: bool,
    pub admin: bool,
    /// The AUTH SECURE CHALLENGE nonce; consumed by its first use.
    pub nonce: Option<String>,
    /// Namespaces written by the current batch: their buffered writes go
    /// out (and with `--sync`, reach the disk, up to this write number)
    /// before the batch's replies do.
    pub pending_writes: Vec<(Arc<Namespace>, u64)>,
    /// Owner id of this client's commands in MIRROR streams.
    pub id: u64,
    /// MASTER: each request's last argument is its owner id.
    pub master: bool,
    /// This connection is a MIRROR stream (its own commands are not mirrored).
    pub mirroring: bool,
}

impl Client {
    pub fn new(shared: &Shared) -> Client {
        Client {
            ns: shared.store.default_ns(),
            writable: !shared.protect,
            admin: shared.admin.is_none(),
            nonce: None,
            pending_writes: Vec::new(),
            id: shared.new_client_id(),
            master: false,
            mirroring: false,
        }
    }

    /// Holds this batch's replies until the writes made in `ns` are
    /// written (and with `--sync`, durable up to `st.write_seq`).
    pub fn wrote(&mut self, ns: &Arc<Namespace>, st: &NsState) {
        match self.pending_writes.iter_mut().find(|(n, _)| Arc::ptr_eq(n, ns)) {
            Some((_, seq)) => *seq = (*seq).max(st.write_seq),
            None => self.pending_writes.push((ns.clone(), st.write_seq)),
        }
    }

    /// Writes out the batch's buffered writes, and with `--sync` waits
    /// until they are on disk. An error means they must not be acknowledged.
    pub async fn make_durable(&mut self, replication: &crate::replication::Replication) -> std::io::Result<()> {
        for (ns, seq) in std::mem::take(&mut self.pending_writes) {
            let (sync, generation, file, offset) = {
                let mut st = ns.lock();
                st.flush()?;
                (st.opts.sync, st.generation, st.files.current, st.files.data_len)
            };
            if sync {
                ns.wait_durable(seq).await?;
            }
            replication.wait_replicas(&ns.name, generation, file, offset).await?;
        }
        Ok(())
    }
}

/// Everything a command handler works with.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    pub args: &'a [Bytes],
    pub out: &'a mut BytesMut,
}

/// A command: its canonical name (WAIT replies with it), its handler, and
/// whether it changes data (a replica refuses those: its data comes from
/// its master only).
pub struct Command {
    pub name: &'static str,
    pub run: fn(&mut Ctx) -> Action,
    pub writes: bool,
}

/// Every command, in the original's table order.
pub static COMMANDS: &[Command] = &[
    Command { name: "*", run: |c| c.error("This is not a valid command"), writes: false },
    Command { name: "WAIT", run: wait::wait, writes: false },
    Command { name: "MIRROR", run: mirror::mirror, writes: false },
    Command { name: "MASTER", run: mirror::master, writes: false },
    Command { name: "REPLSYNC", run: replica::replsync, writes: false },
    Command { name: "REPLICAOF", run: replica::replicaof, writes: false },
    Command { name: "PING", run: system::ping, writes: false },
    Command { name: "TIME", run: system::time, writes: false },
    Command { name: "AUTH", run: auth::auth, writes: false },
    Command { name: "HOOKS", run: system::hooks, writes: false },
    Command { name: "INDEX", run: system::index, writes: false },
    Command { name: "DATA", run: system::data, writes: false },
    Command { name: "SET", run: keys::set, writes: true },
    Command { name: "SETX", run: keys::set, writes: true },
    Command { name: "GET", run: keys::get, writes: false },
    Command { name: "MGET", run: keys::mget, writes: false },
    Command { name: "DEL", run: keys::del, writes: true },
    Command { name: "EXISTS", run: keys::exists, writes: false },
    Command { name: "CHECK", run: keys::check, writes: false },
    Command { name: "LENGTH", run: keys::length, writes: false },
    Command { name: "KEYTIME", run: keys::keytime, writes: false },
    Command { name: "SCAN", run: scan::scan, writes: false },
    Command { name: "SCANX", run: scan::scan, writes: false },
    Command { name: "RSCAN", run: scan::rscan, writes: false },
    Command { name: "KSCAN", run: scan::kscan, writes: false },
    Command { name: "HISTORY", run: scan::history, writes: false },
    Command { name: "KEYCUR", run: keys::keycur, writes: false },
    Command { name: "INFO", run: system::info, writes: false },
    Command { name: "STOP", run: system::stop, writes: false },
    Command { name: "DBSIZE", run: namespaces::dbsize, writes: false },
    Command { name: "NSNEW", run: namespaces::nsnew, writes: true },
    Command { name: "NSDEL", run: namespaces::nsdel, writes: true },
    Command { name: "NSLIST", run: namespaces::nslist, writes: false },
    Command { name: "NSSET", run: namespaces::nsset, writes: true },
    Command { name: "NSINFO", run: namespaces::nsinfo, writes: false },
    Command { name: "SELECT", run: namespaces::select, writes: false },
    Command { name: "RELOAD", run: namespaces::reload, writes: false },
    Command { name: "FLUSH", run: namespaces::flush, writes: true },
    Command { name: "NSJUMP", run: namespaces::nsjump, writes: true },
];

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<usize> {
    COMMANDS.iter().position(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Runs one request and appends its reply to `out`.
pub fn execute(shared: &Shared, client: &mut Client, args: &[Bytes], out: &mut BytesMut) -> Action {
    if client.ns.is_gone() {
        reply::error(out, "Your active namespace is not available anymore (probably removed).");
        return Action::Close;
    }
    // A MASTER connection's requests end with the owner id they replay.
    let (args, owner) = match (client.master, args.split_last()) {
        (true, Some((last, rest))) if !rest.is_empty() => {
            (rest, crate::resp::parse_int(last).and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        }
        _ => (args, client.id),
    };
    let name = if args[0].is_empty() { &b"*"[..] } else { &args[0][..] };
    let Some(index) = lookup(name) else {
        shared.stats.commands_failed.fetch_add(1, Ordering::Relaxed);
        reply::error(out, "Command not supported");
        return Action::Continue;
    };
    let cmd = &COMMANDS[index];
    if cmd.writes && shared.replication.is_replica() {
        reply::error(out, "Replica is read-only (REPLICAOF NO ONE promotes it)");
        return Action::Continue;
    }
    shared.stats.commands.fetch_add(1, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let reply_at = out.len();
    let action = (cmd.run)(&mut Ctx { shared, client, args, out });
    let failed = out.get(reply_at) == Some(&b'-');
    shared.stats.per_command.record(index, started.elapsed(), failed);
    if !matches!(action, Action::Wait(_)) {
        client.ns.notify(cmd.name);
    }
    if owner != 0 && !client.mirroring && cmd.name != "AUTH" {
        shared.mirrors.publish(&client.ns.name, owner, args);
    }
    action
}

impl Ctx<'_> {
    /// Replies with an error and goes on.
    pub fn error(&mut self, text: &str) -> Action {
        reply::error(self.out, text);
        Action::Continue
    }

    /// Admin-only commands: false (and the reply sent) for other clients.
    pub fn require_admin(&mut self) -> bool {
        if !self.client.admin {
            self.shared.stats.commands_unauthorized.fetch_add(1, Ordering::Relaxed);
            reply::error(self.out, "Permission denied");
        }
        self.client.admin
    }

    /// Exactly `n` arguments (command included), none empty.
    pub fn exact_args(&mut self, n: usize) -> bool {
        if self.args.len() != n {
            reply::error(self.out, "Unexpected arguments");
            return false;
        }
        if self.args.iter().any(|a| a.is_empty()) {
            reply::error(self.out, "Invalid argument");
            return false;
        }
        true
    }

    /// A namespace-name argument: at most 128 bytes.
    pub fn ns_name(&mut self, i: usize) -> Option<String> {
        let raw = &self.args[i];
        if raw.len() > 128 {
            reply::error(self.out, "Namespace too long");
            return None;
        }
        Some(String::from_utf8_lossy(raw).into_owned())
    }

    /// The password that protects `ns` for this server (`--protect` gives
    /// the default namespace the admin password, in memory only).
    pub fn effective_password(&self, ns: &Namespace, st: &NsState) -> Option<String> {
        if ns.name == DEFAULT_NAMESPACE && self.shared.protect {
            return self.shared.admin.as_ref().map(|s| s.0.clone());
        }
        st.desc.password.clone()
    }
}

/// Refusals tied to the namespace state; `None` when the access is fine.
pub fn read_refusal(st: &NsState) -> Option<&'static str> {
    st.frozen.then_some("Namespace is temporarily frozen (read-write disabled)")
}

/// Refusals for a write by `client` in `st`.
pub fn write_refusal(client: &Client, st: &NsState) -> Option<&'static str> {
    if !client.writable {
        return Some("Namespace is in read-only mode");
    }
    if st.frozen {
        return Some("Namespace is temporarily frozen (read-write disabled)");
    }
    st.locked.then_some("Namespace is temporarily locked (read-only)")
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    std::hint::black_box(diff) == 0
}
