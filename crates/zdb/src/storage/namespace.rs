//! One namespace: its key table in memory and the append-only write paths.
//!
//! Invariants kept here (and re-established by `recovery` at start-up):
//! - Data is appended before the index entry that points at it, and an old
//!   index entry is flagged superseded only after its successor is appended;
//!   so a crash at any point leaves either the old or the new version, and
//!   the data files alone are enough to rebuild the index.
//! - Every payload handed to a client is checked against its data entry
//!   (key, length) and its CRC first (see [`read_payload`]).
//! - With `sync`, every write gets a sequence number and leaves its files
//!   in `unsynced`; the connection holds the reply until
//!   [`super::Namespace::wait_durable`] has fdatasynced past that number.
//!   Concurrent writers share one fdatasync (group commit), and nothing is
//!   acknowledged before it is on disk.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::files::{FileSet, Kind};
use super::keymap::KeyMap;
use crate::crc::crc32c;
use crate::format::{
    DataRecord, Descriptor, IndexLoc, IndexRecord, Mode, DATA_ENTRY_FIXED, FLAG_DELETED, INDEX_ENTRY_FIXED,
    INDEX_FLAGS_AT, INDEX_HEADER_SIZE,
};

/// Options that every namespace of a server shares.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Data file size that triggers a rotation to the next file pair.
    pub datasize: u64,
    /// fdatasync every write before acknowledging it.
    pub sync: bool,
    /// fdatasync on a write when this many seconds passed since the last one.
    pub synctime: u64,
    /// The runtime mode forced by `--mode`, if any.
    pub forced_mode: Option<Mode>,
    /// `--hook`: jump-index, jump-data and missing-data run from here.
    pub hooks: Arc<crate::hooks::Hooks>,
    /// Woken whenever appends reach the files (replication streams wait on it).
    pub appended: Arc<tokio::sync::Notify>,
}

/// Source of [`NsState::generation`].
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Largest accepted payload, as in the original: exactly 8 MiB works.
pub const MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// Where a live key's current version is, in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: IndexLoc,
    pub data_file: u32,
    pub data_offset: u32,
    pub length: u32,
    pub crc: u32,
    pub timestamp: u32,
    /// Sequential mode only: the id is deleted or is a history copy.
    pub deleted: bool,
}

/// The key table: user keys hash to their entry; sequential ids index a
/// vector of slots (one per id ever allocated, like the index file).
#[derive(Debug)]
pub enum Keys {
    User(KeyMap),
    Seq(Vec<Entry>),
}

/// Why a write was refused. `Display` is the exact text the original sends.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("No space left on this namespace")]
    NoSpace,
    #[error("Namespace is protected by worm mode")]
    Worm,
    #[error("Cannot delete a key when namespace is in worm mode")]
    WormDelete,
    #[error("Key not found")]
    KeyNotFound,
    #[error("Invalid key, only update authorized")]
    OnlyUpdate,
    #[error("Cannot write data right now")]
    Data,
    #[error("Cannot write index right now")]
    Index,
}

/// Why a payload could not be returned. Never wrong data.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("Internal Error")]
    Io(#[from] io::Error),
    #[error("Internal Error (data does not match the index)")]
    Mismatch,
    #[error("Internal Error (data checksum mismatch)")]
    Checksum,
}

/// The result of a SET that was allowed.
#[derive(Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Written; the key to reply with (the id in sequential mode).
    Written(Vec<u8>),
    /// Byte-identical to the current value: nothing written.
    Unchanged,
}

/// Mutable state of a namespace, behind the namespace's lock.
#[derive(Debug)]
pub struct NsState {
    pub desc: Descriptor,
    /// Runtime only: read-only for everyone.
    pub locked: bool,
    /// Runtime only: no reads or writes.
    pub frozen: bool,
    pub mode: Mode,
    pub opts: Arc<StoreOptions>,
    pub files: FileSet,
    pub keys: Keys,
    /// Live keys.
    pub entries: u64,
    /// Sum of live payload lengths (what `maxsize` limits).
    pub data_bytes: u64,
    /// Accounting the original prints: 64 + key length per live key.
    pub index_bytes: u64,
    /// Offset of the last index entry appended (chained into `previous`).
    pub last_index_offset: u32,
    /// Offset of the last data entry appended (chained into `previous`).
    pub last_data_offset: u32,
    /// Index files modified in place since the last `INDEX DIRTY RESET`.
    pub dirty: BTreeSet<u32>,
    /// Whether anything was written since the last rotation.
    pub written_since_jump: bool,
    /// Unix time of the last fdatasync, for `--synctime`.
    pub last_sync: u64,
    /// `--sync`: number of the last write; replies wait until it is durable.
    pub write_seq: u64,
    /// `--sync`: files written since the last group commit took them.
    unsynced: Vec<Arc<File>>,
    /// A buffered write could not be written: refuse writes until RELOAD.
    pub poisoned: bool,
    /// Changes whenever the files are replaced (FLUSH, a namespace of the
    /// same name created again), so positions in the old files are stale.
    pub generation: u64,
    /// On a replica: the master's generation of this namespace, echoed in acks.
    pub replica_generation: u64,
    scratch: Vec<u8>,
}

/// Index accounting per live key, as printed by NSINFO (`index_size_bytes`).
const INDEX_ACCOUNTING: u64 = 64;

impl NsState {
    /// A namespace with no files loaded yet; `recovery::open` fills it.
    pub fn empty(desc: Descriptor, mode: Mode, opts: Arc<StoreOptions>, files: FileSet) -> NsState {
        let keys = match mode {
            Mode::User => Keys::User(KeyMap::new()),
            Mode::Seq => Keys::Seq(Vec::new()),
        };
        NsState {
            desc,
            locked: false,
            frozen: false,
            mode,
            opts,
            files,
            keys,
            entries: 0,
            data_bytes: 0,
            index_bytes: 0,
            last_index_offset: 0,
            last_data_offset: 0,
            dirty: BTreeSet::new(),
            written_since_jump: false,
            last_sync: crate::unix_now(),
            write_seq: 0,
            unsynced: Vec::new(),
            poisoned: false,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            replica_generation: 0,
            scratch: Vec::new(),
        }
    }

    /// Next sequential id (the number of slots ever allocated).
    pub fn next_id(&self) -> u64 {
        match &self.keys {
            Keys::Seq(slots) => slots.len() as u64,
            Keys::User(_) => 0,
        }
    }

    /// The live entry for `key`, if any.
    pub fn lookup(&self, key: &[u8]) -> Option<Entry> {
        match &self.keys {
            Keys::User(map) => map.get(key),
            Keys::Seq(slots) => {
                let id = seq_id(key)?;
                slots.get(usize::try_from(id).ok()?).copied().filter(|e| !e.deleted)
            }
        }
    }

    /// The handle to read a payload from (buffered writes go out first).
    pub fn data_file(&mut self, file: u32) -> io::Result<Arc<File>> {
        self.flush()?;
        self.files.get(Kind::Data, file)
    }

    /// Whether nothing was ever written (allows a mode change).
    pub fn is_fresh(&self) -> bool {
        self.files.current == 0
            && self.files.index_len <= INDEX_HEADER_SIZE as u64
            && self.files.data_len <= crate::format::DATA_HEADER_SIZE as u64
    }

    /// NSSET mode: only while nothing was ever written.
    pub fn change_mode(&mut self, mode: Mode) -> io::Result<()> {
        let index = self.files.get(Kind::Index, 0)?;
        index.write_all_at(&crate::format::index_header(0, mode), 0)?;
        index.sync_data()?;
        self.mode = mode;
        self.keys = match mode {
            Mode::User => Keys::User(KeyMap::new()),
            Mode::Seq => Keys::Seq(Vec::new()),
        };
        Ok(())
    }

    // ---------------------------------------------------------------- SET

    /// SET: stores `value` under `key` (empty key in sequential mode: a new
    /// id). `timestamp` overrides the stored time (admin replication).
    pub fn set(&mut self, key: &[u8], value: &[u8], timestamp: Option<u32>) -> Result<SetOutcome, WriteError> {
        let crc = crc32c(value);
        let current = match self.mode {
            Mode::User => self.lookup(key),
            Mode::Seq if key.is_empty() => None,
            Mode::Seq => self.lookup(key),
        };
        // Quota first, as the original does (even before key validation).
        let replaced = current.map_or(0, |e| e.length as u64);
        if self.desc.maxsize > 0
            && self.data_bytes + value.len() as u64 - replaced.min(self.data_bytes) > self.desc.maxsize
        {
            return Err(WriteError::NoSpace);
        }
        if self.mode == Mode::Seq && !key.is_empty() && current.is_none() {
            return Err(WriteError::OnlyUpdate);
        }
        if let Some(old) = current {
            if self.desc.worm {
                return Err(WriteError::Worm);
            }
            if old.length as usize == value.len() && old.crc == crc && self.payload_equals(&old, key, value) {
                return Ok(SetOutcome::Unchanged);
            }
        }
        let timestamp = timestamp.unwrap_or_else(|| crate::unix_now() as u32);
        self.rotate_if_full(value.len() as u64)?;
        match self.mode {
            Mode::User => self.set_user(key, value, crc, timestamp, current),
            Mode::Seq => self.set_seq(key, value, crc, timestamp, current),
        }
    }

    fn payload_equals(&mut self, old: &Entry, key: &[u8], value: &[u8]) -> bool {
        let Ok(file) = self.data_file(old.data_file) else { return false };
        matches!(read_payload(&file, old, key), Ok(current) if *current == *value)
    }

    fn set_user(
        &mut self,
        key: &[u8],
        value: &[u8],
        crc: u32,
        ts: u32,
        old: Option<Entry>,
    ) -> Result<SetOutcome, WriteError> {
        let rec = DataRecord {
            key_len: key.len() as u8,
            length: value.len() as u32,
            previous: 0,
            crc,
            flags: 0,
            timestamp: ts,
        };
        let data_offset = self.append_data(rec, key, value)?;
        let entry = self.index_user_put(key, data_offset, rec, old).map_err(|_| {
            self.undo_data_append(data_offset);
            WriteError::Index
        })?;
        self.sync_if_needed();
        let _ = entry;
        Ok(SetOutcome::Written(key.to_vec()))
    }

    fn set_seq(
        &mut self,
        key: &[u8],
        value: &[u8],
        crc: u32,
        ts: u32,
        old: Option<Entry>,
    ) -> Result<SetOutcome, WriteError> {
        let id = match old {
            Some(_) => seq_id(key).expect("looked up"),
            None => self.next_id(),
        };
        let id_bytes = id.to_le_bytes();
        let rec = DataRecord { key_len: 8, length: value.len() as u32, previous: 0, crc, flags: 0, timestamp: ts };
        let data_offset = self.append_data(rec, &id_bytes, value)?;
        self.index_seq_put(id, self.files.current, data_offset, rec).map_err(|_| {
            self.undo_data_append(data_offset);
            WriteError::Index
        })?;
        self.sync_if_needed();
        Ok(SetOutcome::Written(id_bytes.to_vec()))
    }

    // ---------------------------------------------------------------- DEL

    /// DEL: appends a tombstone and flags the live index entry deleted.
    pub fn del(&mut self, key: &[u8], timestamp: Option<u32>) -> Result<(), WriteError> {
        let Some(old) = self.lookup(key) else { return Err(WriteError::KeyNotFound) };
        if self.desc.worm {
            return Err(WriteError::WormDelete);
        }
        let ts = timestamp.unwrap_or_else(|| crate::unix_now() as u32);
        self.rotate_if_full(0)?;
        let rec =
            DataRecord { key_len: key.len() as u8, length: 0, previous: 0, crc: 0, flags: FLAG_DELETED, timestamp: ts };
        // The key found a live entry, so its bytes are the stored key (in
        // sequential mode, the 8-byte id).
        let at = self.append_data(rec, key, &[])?;
        if self.index_delete(key, &old).is_err() {
            self.undo_data_append(at);
            return Err(WriteError::Index);
        }
        self.sync_if_needed();
        Ok(())
    }

    // ------------------------------------------------- index maintenance
    // These are shared by the live write paths and by recovery, which
    // replays data entries through them to rebuild a lost index.

    /// User mode: appends the index entry for a new version of `key` whose
    /// data entry is at `data_offset` of the active file, then flags the
    /// previous version superseded.
    pub(crate) fn index_user_put(
        &mut self,
        key: &[u8],
        data_offset: u32,
        rec: DataRecord,
        old: Option<Entry>,
    ) -> io::Result<Entry> {
        let parent = old.map_or(IndexLoc::NONE, |e| e.index);
        let irec = IndexRecord {
            key_len: key.len() as u8,
            data_offset,
            length: rec.length,
            previous: self.last_index_offset,
            flags: 0,
            data_id: self.files.current,
            timestamp: rec.timestamp,
            crc: rec.crc,
            parent_id: parent.file,
            parent_offset: parent.offset,
        };
        let loc = self.append_index(&irec, key)?;
        if let Some(old) = old {
            self.flag_index(old.index)?;
        }
        let entry = Entry {
            index: loc,
            data_file: self.files.current,
            data_offset,
            length: rec.length,
            crc: rec.crc,
            timestamp: rec.timestamp,
            deleted: false,
        };
        self.account_remove(old.as_ref(), key.len());
        self.account_add(&entry, key.len());
        if let Keys::User(map) = &mut self.keys {
            map.insert(key, entry);
        }
        Ok(entry)
    }

    /// Sequential mode: `id == next_id` appends a new slot; an existing id
    /// first appends a copy of its current slot (flagged deleted, it keeps
    /// the history and uses up one id), then rewrites the slot in place.
    pub(crate) fn index_seq_put(
        &mut self,
        id: u64,
        data_file: u32,
        data_offset: u32,
        rec: DataRecord,
    ) -> io::Result<()> {
        let mut irec = IndexRecord {
            key_len: 8,
            data_offset,
            length: rec.length,
            previous: self.last_index_offset,
            flags: 0,
            data_id: data_file,
            timestamp: rec.timestamp,
            crc: rec.crc,
            parent_id: 0,
            parent_offset: 0,
        };
        let id_bytes = id.to_le_bytes();
        let next = self.next_id();
        if id >= next {
            // Ids lost with a damaged index are re-created as deleted slots,
            // so that later ids keep their numbers.
            for missing in next..id {
                let hole =
                    IndexRecord { flags: FLAG_DELETED, length: 0, crc: 0, previous: self.last_index_offset, ..irec };
                let loc = self.append_index(&hole, &missing.to_le_bytes())?;
                self.seq_slots().push(Entry {
                    index: loc,
                    data_file,
                    data_offset,
                    length: 0,
                    crc: 0,
                    timestamp: rec.timestamp,
                    deleted: true,
                });
            }
            irec.previous = self.last_index_offset;
            let loc = self.append_index(&irec, &id_bytes)?;
            let entry = Entry {
                index: loc,
                data_file,
                data_offset,
                length: rec.length,
                crc: rec.crc,
                timestamp: rec.timestamp,
                deleted: false,
            };
            self.account_add(&entry, 8);
            self.seq_slots().push(entry);
            return Ok(());
        }
        let old = self.seq_slots()[id as usize];
        // The copy: the old slot as it is on disk, flagged, appended.
        self.flush()?;
        let index_file = self.files.get(Kind::Index, old.index.file)?;
        let mut raw = [0u8; INDEX_ENTRY_FIXED];
        index_file.read_exact_at(&mut raw, old.index.offset as u64)?;
        let old_rec = IndexRecord::decode(&raw);
        let copy = IndexRecord { previous: self.last_index_offset, flags: FLAG_DELETED, ..old_rec };
        let copy_loc = self.append_index(&copy, &id_bytes)?;
        self.seq_slots().push(Entry { index: copy_loc, deleted: true, ..old });
        // The slot itself now describes the new version.
        irec.previous = old_rec.previous;
        irec.parent_id = copy_loc.file;
        irec.parent_offset = copy_loc.offset;
        self.scratch.clear();
        irec.encode(&id_bytes, &mut self.scratch);
        let slot_bytes = std::mem::take(&mut self.scratch);
        self.files.write_index_at(old.index.file, old.index.offset as u64, &slot_bytes)?;
        self.scratch = slot_bytes;
        self.dirty.insert(old.index.file);
        self.needs_sync(old.index.file)?;
        let entry = Entry {
            index: old.index,
            data_file,
            data_offset,
            length: rec.length,
            crc: rec.crc,
            timestamp: rec.timestamp,
            deleted: old.deleted,
        };
        if old.deleted {
            // Recovery replaying an update of an id whose deletion came later.
            self.seq_slots()[id as usize] = entry;
            return Ok(());
        }
        self.account_remove(Some(&old), 8);
        self.account_add(&entry, 8);
        self.seq_slots()[id as usize] = entry;
        Ok(())
    }

    /// Indexes a data entry already in the active data file at `off`, as
    /// the write that produced it did: recovery replays lost index entries
    /// and replicas apply the master's entries through here.
    pub(crate) fn index_data_entry(&mut self, off: u32, rec: &DataRecord, key: &[u8]) -> io::Result<()> {
        let current = self.lookup(key);
        if rec.flags & FLAG_DELETED != 0 {
            if let Some(old) = current {
                self.index_delete(key, &old)?;
            }
            return Ok(());
        }
        match self.mode {
            Mode::User => self.index_user_put(key, off, *rec, current).map(|_| ()),
            Mode::Seq => {
                let Some(id) = seq_id(key) else { return Ok(()) };
                if current.is_some() || id >= self.next_id() {
                    self.index_seq_put(id, self.files.current, off, *rec)?;
                }
                Ok(())
            }
        }
    }

    /// On a replica: appends the master's data entry (header and key, then
    /// payload) at the same position it has on the master, byte for byte,
    /// and indexes it. Refuses entries that are not where this namespace's
    /// files end, or that do not prove themselves.
    pub fn apply_replicated(&mut self, file: u32, offset: u64, head: &[u8], payload: &[u8]) -> Result<(), String> {
        if self.poisoned {
            return Err("namespace poisoned by a failed write".into());
        }
        while self.files.current < file {
            self.jump().map_err(|e| format!("rotation failed: {e}"))?;
        }
        if file != self.files.current || offset != self.files.data_len {
            return Err(format!(
                "entry at {file}:{offset}, but our files end at {}:{}",
                self.files.current, self.files.data_len
            ));
        }
        if head.len() < DATA_ENTRY_FIXED {
            return Err("short entry header".into());
        }
        let rec = DataRecord::decode(head);
        let key = &head[DATA_ENTRY_FIXED..];
        let key_ok = match self.mode {
            Mode::User => !key.is_empty(),
            Mode::Seq => key.len() == 8,
        };
        let tombstone = rec.flags & FLAG_DELETED != 0;
        if rec.key_len as usize != key.len() || rec.length as usize != payload.len() || !key_ok {
            return Err("malformed entry".into());
        }
        if !tombstone && crc32c(payload) != rec.crc {
            return Err("entry fails its checksum".into());
        }
        let at = self.files.append(Kind::Data, head);
        self.files.append(Kind::Data, payload);
        self.last_data_offset = at as u32;
        self.written_since_jump = true;
        self.index_data_entry(at as u32, &rec, key).map_err(|e| format!("index write failed: {e}"))
    }

    /// Flags the live entry of `key` deleted on disk and drops it.
    pub(crate) fn index_delete(&mut self, key: &[u8], old: &Entry) -> io::Result<()> {
        self.flag_index(old.index)?;
        self.account_remove(Some(old), key.len());
        match &mut self.keys {
            Keys::User(map) => {
                map.remove(key);
            }
            Keys::Seq(slots) => {
                if let Some(id) = seq_id(key) {
                    slots[id as usize].deleted = true;
                }
            }
        }
        Ok(())
    }

    fn seq_slots(&mut self) -> &mut Vec<Entry> {
        match &mut self.keys {
            Keys::Seq(slots) => slots,
            Keys::User(_) => unreachable!("sequential operation on a user-key namespace"),
        }
    }

    pub(crate) fn account_add(&mut self, e: &Entry, key_len: usize) {
        self.entries += 1;
        self.data_bytes += e.length as u64;
        self.index_bytes += INDEX_ACCOUNTING + key_len as u64;
    }

    pub(crate) fn account_remove(&mut self, e: Option<&Entry>, key_len: usize) {
        if let Some(e) = e {
            self.entries = self.entries.saturating_sub(1);
            self.data_bytes = self.data_bytes.saturating_sub(e.length as u64);
            self.index_bytes = self.index_bytes.saturating_sub(INDEX_ACCOUNTING + key_len as u64);
        }
    }

    // ------------------------------------------------------ file appends

    /// Appends a data entry to the active data file; returns its offset.
    /// Small entries are buffered until the end of the client's batch
    /// ([`NsState::flush`]); big payloads are written at once, uncopied.
    fn append_data(&mut self, mut rec: DataRecord, key: &[u8], payload: &[u8]) -> Result<u32, WriteError> {
        if self.poisoned {
            return Err(WriteError::Data);
        }
        rec.previous = self.last_data_offset;
        self.scratch.clear();
        let at = if payload.len() <= 64 * 1024 {
            rec.encode(key, payload, &mut self.scratch);
            self.files.append(Kind::Data, &self.scratch)
        } else {
            self.flush().map_err(|_| WriteError::Data)?;
            let file = self.files.get(Kind::Data, self.files.current).map_err(|_| WriteError::Data)?;
            let at = self.files.data_len;
            rec.encode(key, &[], &mut self.scratch);
            let result = file
                .write_all_at(&self.scratch, at)
                .and_then(|_| file.write_all_at(payload, at + self.scratch.len() as u64));
            if let Err(e) = result {
                tracing::error!(namespace = %self.desc.name, "data write failed: {e}");
                let _ = file.set_len(at);
                return Err(WriteError::Data);
            }
            self.files.data_len = at + rec.size();
            at
        };
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = Vec::new();
        }
        self.last_data_offset = at as u32;
        self.written_since_jump = true;
        Ok(at as u32)
    }

    /// Takes back the data entry just appended at `at` (its index write failed).
    fn undo_data_append(&mut self, at: u32) {
        let before = self.files.data_len;
        self.files.unappend(Kind::Data, at as u64);
        if self.files.data_len == before {
            // It was written directly (a big payload): cut the file.
            if let Ok(file) = self.files.get(Kind::Data, self.files.current) {
                let _ = file.set_len(at as u64);
                self.files.data_len = at as u64;
            }
        }
    }

    /// Appends an index entry to the active index file (buffered).
    pub(crate) fn append_index(&mut self, rec: &IndexRecord, key: &[u8]) -> io::Result<IndexLoc> {
        self.scratch.clear();
        rec.encode(key, &mut self.scratch);
        let at = self.files.append(Kind::Index, &self.scratch);
        self.last_index_offset = at as u32;
        self.written_since_jump = true;
        if self.files.pending() > 256 * 1024 {
            self.flush()?;
        }
        Ok(IndexLoc { file: self.files.current, offset: at as u32 })
    }

    /// Writes the buffered appends (end of a client's batch, before any
    /// read of the files). A failure poisons the namespace: what was
    /// buffered is lost, so nothing more is acknowledged until RELOAD.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other("namespace writes failed earlier: RELOAD it"));
        }
        if self.files.pending() == 0 {
            return Ok(());
        }
        self.files.flush().inspect_err(|e| {
            tracing::error!(namespace = %self.desc.name, "write failed, namespace poisoned until RELOAD: {e}");
            self.poisoned = true;
        })?;
        self.opts.appended.notify_waiters();
        Ok(())
    }

    /// Sets the deleted flag of the index entry at `loc`, in place.
    pub(crate) fn flag_index(&mut self, loc: IndexLoc) -> io::Result<()> {
        self.files.write_index_at(loc.file, loc.offset as u64 + INDEX_FLAGS_AT, &[FLAG_DELETED])?;
        self.dirty.insert(loc.file);
        self.needs_sync(loc.file)
    }

    /// With `--sync`, an older index file written in place joins the next
    /// group commit.
    fn needs_sync(&mut self, index_file: u32) -> io::Result<()> {
        if self.opts.sync && index_file != self.files.current {
            let f = self.files.get(Kind::Index, index_file)?;
            if !self.unsynced.iter().any(|u| Arc::ptr_eq(u, &f)) {
                self.unsynced.push(f);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------- rotation

    fn rotate_if_full(&mut self, incoming: u64) -> Result<(), WriteError> {
        if self.files.data_len + incoming > self.opts.datasize
            && self.files.data_len > crate::format::DATA_HEADER_SIZE as u64
        {
            self.jump().map_err(|_| WriteError::Data)?;
        }
        Ok(())
    }

    /// Moves to the next index/data file pair (NSJUMP, rotation).
    pub fn jump(&mut self) -> io::Result<()> {
        self.flush()?;
        let (index, data) = self.files.active()?;
        index.sync_data()?;
        data.sync_data()?;
        let next = self.files.current + 1;
        self.files.create(Kind::Index, next, self.mode)?;
        self.files.create(Kind::Data, next, self.mode)?;
        let previous = self.files.current;
        self.files.current = next;
        self.files.index_len = INDEX_HEADER_SIZE as u64;
        self.files.data_len = crate::format::DATA_HEADER_SIZE as u64;
        self.written_since_jump = false;
        self.run_jump_hooks(previous, next);
        Ok(())
    }

    /// The original's rotation hooks: `jump-index old new "dirty ids"`
    /// (waited for; exit 0 means the dirty files were saved, so the list is
    /// reset) and `jump-data old new` (in the background: the old data file
    /// is now immutable and can be offloaded).
    fn run_jump_hooks(&mut self, previous: u32, next: u32) {
        let path = |kind, id| self.files.path(kind, id).display().to_string();
        let (old_index, new_index) = (path(Kind::Index, previous), path(Kind::Index, next));
        let (old_data, new_data) = (path(Kind::Data, previous), path(Kind::Data, next));
        let dirty = self.dirty.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        let hooks = self.opts.hooks.clone();
        match hooks.run_blocking("jump-index", &[&old_index, &new_index, &dirty]) {
            Ok(true) if hooks.enabled() => self.dirty.clear(),
            Ok(_) => {}
            Err(e) => tracing::warn!(namespace = %self.desc.name, "jump-index hook failed: {e}"),
        }
        hooks.spawn("jump-data", &[&old_data, &new_data]);
    }

    /// After a write: with `--sync`, numbers it and remembers its files for
    /// the next group commit; with `--synctime`, syncs when that much time
    /// has passed.
    fn sync_if_needed(&mut self) {
        if self.opts.sync {
            self.write_seq += 1;
            if let Ok((index, data)) = self.files.active() {
                for f in [data, index] {
                    if !self.unsynced.iter().any(|u| Arc::ptr_eq(u, &f)) {
                        self.unsynced.push(f);
                    }
                }
            }
            return;
        }
        let now = crate::unix_now();
        if self.opts.synctime > 0 && now.saturating_sub(self.last_sync) >= self.opts.synctime {
            if let Err(e) = self.sync_active() {
                tracing::error!(namespace = %self.desc.name, "fdatasync failed: {e}");
            }
            self.last_sync = now;
        }
    }

    /// For a group commit: the files to sync and the write number that
    /// will be durable once they are.
    pub fn take_unsynced(&mut self) -> io::Result<(Vec<Arc<File>>, u64)> {
        self.flush()?;
        Ok((std::mem::take(&mut self.unsynced), self.write_seq))
    }

    /// Puts files back after a failed fdatasync, so the next try covers them.
    pub fn return_unsynced(&mut self, files: Vec<Arc<File>>) {
        for f in files {
            if !self.unsynced.iter().any(|u| Arc::ptr_eq(u, &f)) {
                self.unsynced.push(f);
            }
        }
    }

    /// fdatasync of the active pair (data first: the index points into it).
    pub fn sync_active(&mut self) -> io::Result<()> {
        self.flush()?;
        let (index, data) = self.files.active()?;
        data.sync_data()?;
        index.sync_data()
    }
}

/// A data entry read whole from its file (DATA RAW, replication, replay).
#[derive(Debug)]
pub struct DataEntry {
    pub record: DataRecord,
    /// The entry as stored: fixed part, key, payload.
    bytes: Vec<u8>,
}

impl DataEntry {
    /// Fixed part and key: what precedes the payload.
    pub fn head(&self) -> &[u8] {
        &self.bytes[..DATA_ENTRY_FIXED + self.record.key_len as usize]
    }

    pub fn key(&self) -> &[u8] {
        &self.head()[DATA_ENTRY_FIXED..]
    }

    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.head().len()..]
    }

    /// A tombstone carries nothing; anything else must match its CRC.
    pub fn proves_itself(&self) -> bool {
        if self.record.flags & FLAG_DELETED != 0 {
            self.record.length == 0 && self.record.crc == 0
        } else {
            crc32c(self.payload()) == self.record.crc
        }
    }
}

/// Reads the data entry at `offset`, if one that could be real lies wholly
/// before `end` (a key, at most [`MAX_PAYLOAD`] of payload, known flags).
/// Its checksum is not checked: see [`DataEntry::proves_itself`].
pub fn read_data_entry(file: &File, offset: u64, end: u64) -> io::Result<Option<DataEntry>> {
    if offset + DATA_ENTRY_FIXED as u64 > end {
        return Ok(None);
    }
    let mut fixed = [0u8; DATA_ENTRY_FIXED];
    file.read_exact_at(&mut fixed, offset)?;
    let record = DataRecord::decode(&fixed);
    if record.key_len == 0
        || record.flags & !3 != 0
        || record.length as usize > MAX_PAYLOAD
        || offset + record.size() > end
    {
        return Ok(None);
    }
    let mut bytes = vec![0u8; record.size() as usize];
    bytes[..DATA_ENTRY_FIXED].copy_from_slice(&fixed);
    file.read_exact_at(&mut bytes[DATA_ENTRY_FIXED..], offset + DATA_ENTRY_FIXED as u64)?;
    Ok(Some(DataEntry { record, bytes }))
}

impl Entry {
    /// The 17-byte SCAN cursor naming this entry (KEYCUR).
    pub fn cursor(&self, key_len: usize) -> crate::format::ScanCursor {
        crate::format::ScanCursor { key_len: key_len as u8, loc: self.index, length: self.length, crc: self.crc }
    }
}

/// Decodes an 8-byte little-endian sequential id.
pub fn seq_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(key.try_into().ok()?))
}

/// Reads `entry`'s payload from `file` and proves it: the data entry must be
/// the one the index describes (key, length, CRC) and the payload must match
/// the CRC. `key` is what the data entry must carry (the 8-byte id in
/// sequential mode).
pub fn read_payload(file: &File, entry: &Entry, key: &[u8]) -> Result<Payload, ReadError> {
    let fixed = DATA_ENTRY_FIXED + key.len();
    let mut buf = vec![0u8; fixed + entry.length as usize];
    file.read_exact_at(&mut buf, entry.data_offset as u64)?;
    let rec = DataRecord::decode(&buf);
    if rec.key_len as usize != key.len()
        || rec.length != entry.length
        || rec.crc != entry.crc
        || &buf[DATA_ENTRY_FIXED..fixed] != key
    {
        return Err(ReadError::Mismatch);
    }
    if crc32c(&buf[fixed..]) != rec.crc {
        return Err(ReadError::Checksum);
    }
    Ok(Payload { buf, start: fixed })
}

/// A proven payload. It keeps the data entry it was read with (one read,
/// no copy to strip the header) and derefs to the payload bytes.
#[derive(Debug)]
pub struct Payload {
    buf: Vec<u8>,
    start: usize,
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}
