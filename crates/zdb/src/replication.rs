//! Master → replica replication.
//!
//! The data files are an ordered log and a position in them, (file id,
//! offset), says exactly how much of a namespace a server has. A replica
//! connects to its master and sends `REPLSYNC` with its position in every
//! namespace; the master answers `+REPLSYNC`, then streams, in order:
//!
//! ```text
//! NS     <name> <descriptor bytes> <user|seq>      a namespace exists / its properties changed
//! NSLIST <name>…                                    (once) namespaces the master has
//! NSDEL  <name>                                     namespace removed
//! FLUSH  <name>                                     namespace emptied (also: replica diverged)
//! DATA   <name> <generation> <file> <offset> <entry header+key> <payload>
//! ```
//!
//! The replica appends each data entry's bytes at the same position of its
//! own files and indexes it with the code recovery uses, so its files stay
//! byte-identical to the master's and its history is the master's. After
//! each batch it answers `REPLACK <name> <generation> <file> <offset>`;
//! a reconnect resumes from the replica's own position. With
//! `--sync-replicas N`, a write is acknowledged to its client only once N
//! replicas acked a position past it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};

use crate::config::Secret;
use crate::format::{Descriptor, Mode, DATA_HEADER_SIZE};
use crate::resp::{self, reply};
use crate::server::Shared;
use crate::storage::files::Kind;
use crate::storage::namespace::read_data_entry;
use crate::storage::{Namespace, NsEvent, DEFAULT_NAMESPACE};

/// How long a `--sync-replicas` write waits for its acknowledgements.
const SYNC_REPLICAS_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of data frames a master sends before looking at events again.
const BATCH: usize = 1 << 20;

/// A replica's acknowledged position in one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Acked {
    generation: u64,
    file: u32,
    offset: u64,
}

/// Replication state of this server.
#[derive(Debug)]
pub struct Replication {
    /// `--sync-replicas N`.
    pub sync_replicas: usize,
    /// Password this server uses to AUTH at its master.
    pub master_auth: Option<Secret>,
    /// The master to follow (`--replica-of`, `REPLICAOF`); None: we are a master.
    pub target: watch::Sender<Option<String>>,
    /// A replica's link to its master is up.
    pub link_up: AtomicBool,
    /// Per connected replica: its acknowledged positions.
    acks: Mutex<HashMap<u64, HashMap<String, Acked>>>,
    acked: Notify,
}

impl Replication {
    pub fn new(sync_replicas: usize, master_auth: Option<Secret>, replica_of: Option<String>) -> Replication {
        Replication {
            sync_replicas,
            master_auth,
            target: watch::channel(replica_of).0,
            link_up: AtomicBool::new(false),
            acks: Mutex::default(),
            acked: Notify::new(),
        }
    }

    pub fn is_replica(&self) -> bool {
        self.target.borrow().is_some()
    }

    pub fn connected_replicas(&self) -> usize {
        self.acks.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits until `--sync-replicas` replicas have `ns` up to the position.
    pub async fn wait_replicas(&self, ns: &str, generation: u64, file: u32, offset: u64) -> std::io::Result<()> {
        if self.sync_replicas == 0 {
            return Ok(());
        }
        let want = Acked { generation, file, offset };
        let enough = async {
            loop {
                let notified = self.acked.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let have = {
                    let acks = self.acks.lock().unwrap_or_else(|p| p.into_inner());
                    acks.values()
                        .filter_map(|per_ns| per_ns.get(ns))
                        .filter(|a| a.generation == want.generation && (a.file, a.offset) >= (want.file, want.offset))
                        .count()
                };
                if have >= self.sync_replicas {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(SYNC_REPLICAS_TIMEOUT, enough)
            .await
            .map_err(|_| std::io::Error::other("not enough replicas acknowledged the write"))
    }

    /// Per connected replica: bytes of data it has not acknowledged yet, over
    /// all namespaces (a whole older file counts as the current file's size).
    pub fn lag(&self, store: &crate::storage::Store) -> Vec<(u64, u64)> {
        let heads: Vec<(String, u64, u32, u64)> = store
            .all()
            .into_iter()
            .map(|ns| {
                let st = ns.lock();
                (ns.name.clone(), st.generation, st.files.current, st.files.data_len)
            })
            .collect();
        let acks = self.acks.lock().unwrap_or_else(|p| p.into_inner());
        acks.iter()
            .map(|(id, per_ns)| {
                let behind = heads
                    .iter()
                    .map(|(name, generation, file, len)| behind(per_ns.get(name), *generation, *file, *len))
                    .sum();
                (*id, behind)
            })
            .collect()
    }

    /// Per replica that acknowledged `ns` (whose log ends at `file`:`len`
    /// in `generation`): (replica id, its file, its offset, bytes behind).
    pub fn positions(&self, ns: &str, generation: u64, file: u32, len: u64) -> Vec<(u64, u32, u64, u64)> {
        let acks = self.acks.lock().unwrap_or_else(|p| p.into_inner());
        acks.iter()
            .filter_map(|(id, per_ns)| {
                let a = per_ns.get(ns)?;
                Some((*id, a.file, a.offset, behind(Some(a), generation, file, len)))
            })
            .collect()
    }

    fn ack(&self, replica: u64, ns: String, at: Acked) {
        self.acks.lock().unwrap_or_else(|p| p.into_inner()).entry(replica).or_default().insert(ns, at);
        self.acked.notify_waiters();
    }

    fn forget(&self, replica: u64) {
        self.acks.lock().unwrap_or_else(|p| p.into_inner()).remove(&replica);
    }
}

/// Bytes of a namespace's log (ending at `file`:`len` in `generation`) a
/// replica at `acked` still lacks; a whole older file counts as the
/// current file's length.
fn behind(acked: Option<&Acked>, generation: u64, file: u32, len: u64) -> u64 {
    match acked {
        Some(a) if a.generation == generation && a.file == file => len.saturating_sub(a.offset),
        _ if file == 0 && len <= DATA_HEADER_SIZE as u64 => 0,
        _ => len,
    }
}

fn frame(out: &mut BytesMut, parts: &[&[u8]]) {
    reply::array(out, parts.len());
    for p in parts {
        reply::bulk(out, p);
    }
}

fn mode_name(mode: Mode) -> &'static [u8] {
    match mode {
        Mode::User => b"user",
        Mode::Seq => b"seq",
    }
}

// ------------------------------------------------------------------ master

/// Where the stream stands in one namespace.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// None until checked against the namespace's files.
    generation: Option<u64>,
    file: u32,
    offset: u64,
}

impl Cursor {
    const START: Cursor = Cursor { generation: None, file: 0, offset: DATA_HEADER_SIZE as u64 };
}

/// Serves one replica (after its `REPLSYNC`) until it disconnects.
pub async fn serve_replica<S>(shared: Arc<Shared>, start: Vec<(String, u32, u64)>, stream: S) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let id = shared.new_client_id();
    let (reader, mut writer) = tokio::io::split(stream);
    let acks = tokio::spawn(read_acks(shared.clone(), id, reader));
    let result = stream_to(&shared, start, &mut writer).await;
    acks.abort();
    shared.replication.forget(id);
    result
}

async fn stream_to<W: AsyncWrite + Unpin>(
    shared: &Shared,
    start: Vec<(String, u32, u64)>,
    writer: &mut W,
) -> std::io::Result<()> {
    let mut cursors: HashMap<String, Cursor> =
        start.into_iter().map(|(n, file, offset)| (n, Cursor { generation: None, file, offset })).collect();
    let mut events = shared.store.events.subscribe();
    let mut out = BytesMut::new();
    reply::status(&mut out, "REPLSYNC");
    let names = shared.store.names();
    for ns in shared.store.all() {
        ns_frame(&ns, &mut out);
    }
    let name_refs: Vec<&[u8]> = std::iter::once(&b"NSLIST"[..]).chain(names.iter().map(|n| n.as_bytes())).collect();
    frame(&mut out, &name_refs);
    let mut stop = shared.shutdown_signal();
    loop {
        let appended = shared.store.opts.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        loop {
            match events.try_recv() {
                Ok(event) => on_event(shared, event, &mut cursors, &mut out),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                Err(_) => return Err(std::io::Error::other("replica too far behind on namespace events")),
            }
        }
        let mut sent = 0;
        for ns in shared.store.all() {
            let cursor = cursors.entry(ns.name.clone()).or_insert(Cursor::START);
            sent += stream_namespace(&ns, cursor, &mut out)?;
        }
        if !out.is_empty() {
            writer.write_all(&out).await?;
            out.clear();
        }
        if sent == 0 {
            tokio::select! {
                _ = &mut appended => {}
                event = events.recv() => match event {
                    Ok(event) => on_event(shared, event, &mut cursors, &mut out),
                    Err(_) => return Err(std::io::Error::other("namespace events lost")),
                },
                _ = stop.changed() => return Ok(()),
            }
        }
    }
}

fn ns_frame(ns: &Namespace, out: &mut BytesMut) {
    let st = ns.lock();
    frame(out, &[b"NS", ns.name.as_bytes(), &st.desc.encode(), mode_name(st.mode)]);
}

fn on_event(shared: &Shared, event: NsEvent, cursors: &mut HashMap<String, Cursor>, out: &mut BytesMut) {
    match event {
        NsEvent::Changed(name) => {
            if let Some(ns) = shared.store.get(&name) {
                ns_frame(&ns, out);
            }
        }
        NsEvent::Deleted(name) => {
            cursors.remove(&name);
            frame(out, &[b"NSDEL", name.as_bytes()]);
        }
        NsEvent::Flushed(name) => {
            let generation = shared.store.get(&name).map(|ns| ns.lock().generation);
            cursors.insert(name.clone(), Cursor { generation, ..Cursor::START });
            frame(out, &[b"FLUSH", name.as_bytes()]);
        }
    }
}

/// Appends DATA frames for `ns` from `cursor` on (at most about BATCH
/// bytes); returns how many bytes of entries it added.
fn stream_namespace(ns: &Namespace, cursor: &mut Cursor, out: &mut BytesMut) -> std::io::Result<usize> {
    let (file, end, generation) = {
        let mut st = ns.lock();
        st.flush()?;
        match cursor.generation {
            None => {
                cursor.generation = Some(st.generation);
                let ahead = cursor.file > st.files.current
                    || (cursor.file == st.files.current && cursor.offset > st.files.data_len);
                if ahead {
                    // The replica has writes we never made: start it over.
                    tracing::warn!(namespace = %ns.name, "replica is ahead of its master: resyncing it from scratch");
                    *cursor = Cursor { generation: Some(st.generation), ..Cursor::START };
                    frame(out, &[b"FLUSH", ns.name.as_bytes()]);
                }
            }
            Some(g) if g != st.generation => return Ok(0), // its FLUSH event is on the way
            Some(_) => {}
        }
        loop {
            if cursor.file >= st.files.current {
                break;
            }
            let len = st.files.get(Kind::Data, cursor.file)?.metadata()?.len();
            if cursor.offset < len {
                break;
            }
            cursor.file += 1;
            cursor.offset = DATA_HEADER_SIZE as u64;
        }
        let file = st.files.get(Kind::Data, cursor.file)?;
        let end = if cursor.file == st.files.current { st.files.data_len } else { file.metadata()?.len() };
        (file, end, st.generation)
    };
    let mut sent = 0;
    let (name, gen_text, file_text) = (ns.name.as_bytes(), generation.to_string(), cursor.file.to_string());
    while cursor.offset < end && sent < BATCH {
        let Some(entry) = read_data_entry(&file, cursor.offset, end)? else {
            return Err(std::io::Error::other(format!("unreadable data entry in {} at {}", ns.name, cursor.offset)));
        };
        let offset_text = cursor.offset.to_string();
        frame(
            out,
            &[
                b"DATA",
                name,
                gen_text.as_bytes(),
                file_text.as_bytes(),
                offset_text.as_bytes(),
                entry.head(),
                entry.payload(),
            ],
        );
        cursor.offset += entry.record.size();
        sent += entry.record.size() as usize;
    }
    Ok(sent)
}

/// Reads `REPLACK` frames from a replica into the registry.
async fn read_acks<R: AsyncRead + Unpin>(shared: Arc<Shared>, id: u64, mut reader: R) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        while let Ok(Some(args)) = resp::parse(&mut buf) {
            if let [cmd, ns, generation, file, offset] = &args[..] {
                if cmd.eq_ignore_ascii_case(b"REPLACK") {
                    let num = |b: &Bytes| resp::parse_int(b).and_then(|n| u64::try_from(n).ok());
                    if let (Some(generation), Some(file), Some(offset)) = (num(generation), num(file), num(offset)) {
                        let at = Acked { generation, file: file as u32, offset };
                        shared.replication.ack(id, String::from_utf8_lossy(ns).into_owned(), at);
                    }
                }
            }
        }
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

// ----------------------------------------------------------------- replica

/// Follows whatever master `Replication::target` names, reconnecting after
/// failures, until the target changes (REPLICAOF) or the server stops.
pub async fn supervise(shared: Arc<Shared>) {
    let mut target = shared.replication.target.subscribe();
    loop {
        let current = target.borrow_and_update().clone();
        match current {
            None => {
                if target.changed().await.is_err() {
                    return;
                }
            }
            Some(addr) => {
                tokio::select! {
                    _ = follow(&shared, &addr) => {}
                    changed = target.changed() => if changed.is_err() { return },
                }
                shared.replication.link_up.store(false, Ordering::Release);
            }
        }
    }
}

async fn follow(shared: &Shared, addr: &str) {
    loop {
        if let Err(e) = session(shared, addr).await {
            tracing::warn!("replication from {addr}: {e:#}; retrying");
        }
        shared.replication.link_up.store(false, Ordering::Release);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection to the master: handshake, then apply frames until it breaks.
async fn session(shared: &Shared, addr: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to master {addr}"))?;
    stream.set_nodelay(true)?;
    let mut out = BytesMut::new();
    if let Some(pw) = &shared.replication.master_auth {
        frame(&mut out, &[b"AUTH", pw.0.as_bytes()]);
    }
    let mut hello: Vec<Vec<u8>> = vec![b"REPLSYNC".to_vec()];
    for ns in shared.store.all() {
        let mut st = ns.lock();
        st.flush()?;
        hello.push(ns.name.as_bytes().to_vec());
        hello.push(st.files.current.to_string().into_bytes());
        hello.push(st.files.data_len.to_string().into_bytes());
    }
    frame(&mut out, &hello.iter().map(Vec::as_slice).collect::<Vec<_>>());
    stream.write_all(&out).await?;
    out.clear();

    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut awaiting_status = 1 + shared.replication.master_auth.is_some() as usize;
    let mut touched: Vec<Arc<Namespace>> = Vec::new();
    loop {
        // Status lines of the handshake.
        while awaiting_status > 0 {
            let Some(line_end) = input.windows(2).position(|w| w == b"\r\n") else { break };
            let line = input.split_to(line_end + 2);
            if line[0] != b'+' {
                bail!("master refused: {}", String::from_utf8_lossy(&line[..line.len() - 2]));
            }
            awaiting_status -= 1;
            if awaiting_status == 0 {
                shared.replication.link_up.store(true, Ordering::Release);
                tracing::info!("replicating from {addr}");
            }
        }
        if awaiting_status == 0 {
            while let Some(args) = resp::parse(&mut input).map_err(|e| anyhow::anyhow!("bad frame from master: {e}"))? {
                apply(shared, &args, &mut touched)?;
            }
            acknowledge(&mut touched, &mut out)?;
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
        }
        if input.capacity() - input.len() < 16 * 1024 {
            input.reserve(64 * 1024);
        }
        if stream.read_buf(&mut input).await? == 0 {
            bail!("master closed the connection");
        }
    }
}

/// Writes out what a batch appended and tells the master how far we are.
fn acknowledge(touched: &mut Vec<Arc<Namespace>>, out: &mut BytesMut) -> anyhow::Result<()> {
    for ns in touched.drain(..) {
        let mut st = ns.lock();
        if st.opts.sync {
            st.sync_active()?;
        } else {
            st.flush()?;
        }
        let (generation, file, offset) = (st.replica_generation, st.files.current, st.files.data_len);
        frame(
            out,
            &[
                b"REPLACK",
                ns.name.as_bytes(),
                generation.to_string().as_bytes(),
                file.to_string().as_bytes(),
                offset.to_string().as_bytes(),
            ],
        );
    }
    Ok(())
}

/// Applies one frame from the master.
fn apply(shared: &Shared, args: &[Bytes], touched: &mut Vec<Arc<Namespace>>) -> anyhow::Result<()> {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let num = |b: &Bytes| resp::parse_int(b).and_then(|n| u64::try_from(n).ok()).context("bad number in frame");
    let store = &shared.store;
    match (args[0].as_ref(), args.len()) {
        (b"NS", 4) => {
            let name = text(&args[1]);
            let desc = Descriptor::decode(&args[2]).map_err(|e| anyhow::anyhow!("bad descriptor: {e}"))?;
            let mode = if args[3].as_ref() == b"seq" { Mode::Seq } else { Mode::User };
            let ns = match store.get(&name) {
                Some(ns) => ns,
                None => store.create(&name)?,
            };
            let mut st = ns.lock();
            if st.mode != mode {
                if !st.is_fresh() {
                    bail!("namespace {name} is in another mode than on the master");
                }
                st.change_mode(mode)?;
            }
            if st.desc != desc && name != DEFAULT_NAMESPACE {
                st.desc = desc;
                store.save_descriptor(&st)?;
            }
        }
        (b"NSLIST", _) => {
            let keep: Vec<String> = args[1..].iter().map(text).collect();
            for name in store.names() {
                if name != DEFAULT_NAMESPACE && !keep.contains(&name) {
                    store.remove(&name)?;
                }
            }
        }
        (b"NSDEL", 2) => {
            let name = text(&args[1]);
            if store.get(&name).is_some() {
                store.remove(&name)?;
            }
        }
        (b"FLUSH", 2) => {
            if let Some(ns) = store.get(&text(&args[1])) {
                store.flush(&ns)?;
            }
        }
        (b"DATA", 7) => {
            let name = text(&args[1]);
            let ns = store.get(&name).with_context(|| format!("data for unknown namespace {name}"))?;
            let (generation, file, offset) = (num(&args[2])?, num(&args[3])? as u32, num(&args[4])?);
            let result = {
                let mut st = ns.lock();
                st.replica_generation = generation;
                st.apply_replicated(file, offset, &args[5], &args[6])
            };
            if let Err(e) = result {
                // Diverged (or damaged): start this namespace over.
                tracing::warn!(namespace = %name, "replication: {e}; resyncing the namespace");
                store.flush(&ns)?;
                bail!("namespace {name} diverged from its master");
            }
            if !touched.iter().any(|t| Arc::ptr_eq(t, &ns)) {
                touched.push(ns);
            }
        }
        _ => bail!("unknown frame {:?} from master", String::from_utf8_lossy(&args[0])),
    }
    Ok(())
}
