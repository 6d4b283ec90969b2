//! Opening a namespace from disk, and repairing it on the way.
//!
//! The data files are the source of truth; the index is a derived table
//! that makes lookups cheap. Start-up therefore runs in four steps:
//!
//! 1. **Load the index**, file by file, streaming. The first entry that
//!    cannot be real (bad header, truncated entry, impossible field) marks
//!    the index as damaged from there on: in user-key mode the file is cut at
//!    that point and later index files are set aside (renamed
//!    `iN.damaged-<time>`); in sequential mode, whose slots are rewritten in
//!    place, the whole index is set aside.
//! 2. **Check the tail**: the newest index entries must point at complete
//!    data entries with a matching CRC (a power cut without `--sync` can
//!    leave index bytes whose data never reached the disk); those that do
//!    not are cut.
//! 3. **Replay the data tail**: every data entry after the last one the
//!    index knows (writes whose index entry was lost, deletes whose in-place
//!    flag was lost, or everything when the index was lost) goes through the
//!    same index code as a live write, so the rebuilt index is what the
//!    writes would have produced.
//! 4. **Cut a torn data tail**: an incomplete or CRC-failing entry at the end
//!    of the newest data file was never acknowledged; it is truncated so the
//!    next write lands on a clean boundary.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::files::{FileSet, Kind};
use super::namespace::{read_data_entry, seq_id, Entry, Keys, NsState, StoreOptions};
use crate::crc::crc32c;
use crate::format::{
    self, DataRecord, Descriptor, IndexLoc, IndexRecord, Mode, DATA_ENTRY_FIXED, DATA_HEADER_SIZE, FLAG_DELETED,
    INDEX_ENTRY_FIXED, INDEX_HEADER_SIZE,
};

/// A data entry the index references: replay starts after the furthest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DataPos {
    file: u32,
    /// Offset just after the entry.
    end: u64,
    /// Offset of the entry itself (for the `previous` chain).
    start: u32,
}

/// Opens (or creates) the namespace whose files live in `files`.
pub fn open(desc: Descriptor, files: FileSet, opts: Arc<StoreOptions>, new_mode: Mode) -> anyhow::Result<NsState> {
    let index_ids = files.list(Kind::Index)?;
    let data_ids = files.list(Kind::Data)?;
    let mode = stored_mode(&files, &index_ids)
        .or(opts.forced_mode)
        .or_else(|| guess_mode_from_data(&files, &data_ids, &desc.name))
        .unwrap_or(new_mode);
    if let Some(forced) = opts.forced_mode {
        if forced != mode {
            bail!(
                "namespace '{}': index created in another mode than running mode ({} on disk, {} requested)",
                desc.name,
                mode.info_name(),
                forced.info_name()
            );
        }
    }
    let mut st = NsState::empty(desc, mode, opts, files);
    if index_ids.is_empty() && data_ids.is_empty() {
        st.files.create(Kind::Index, 0, mode)?;
        st.files.create(Kind::Data, 0, mode)?;
        st.files.index_len = INDEX_HEADER_SIZE as u64;
        st.files.data_len = DATA_HEADER_SIZE as u64;
        return Ok(st);
    }
    let index_max = index_ids.last().copied();
    let data_max = data_ids.last().copied().unwrap_or(0);
    let name = st.desc.name.clone();

    let mut loader = Loader { st, max_data: None, last_index: None, repairs: Vec::new(), restore: Vec::new() };
    let kept = loader.load_index(index_max).with_context(|| format!("namespace '{name}': loading the index"))?;
    loader.replay_data(data_max).with_context(|| format!("namespace '{name}': replaying the data files"))?;
    loader.finish(data_max.max(kept.unwrap_or(0)))
}

/// The mode recorded in the first readable index header.
fn stored_mode(files: &FileSet, ids: &[u32]) -> Option<Mode> {
    ids.iter().find_map(|&id| {
        let mut h = [0u8; INDEX_HEADER_SIZE as usize];
        let f = File::open(files.path(Kind::Index, id)).ok()?;
        f.read_exact_at(&mut h, 0).ok()?;
        format::parse_index_header(&h).ok()
    })
}

/// With no readable index header (the index was lost) and no `--mode`, the
/// mode is recorded nowhere else: sequential data is recognised by its ids.
/// Every key is an 8-byte id, and ids are handed out in order: a stored
/// value either carries the next id (a new one) or an earlier id (an update,
/// which uses up one id for the history copy); a tombstone names an earlier
/// id. Anything else (and an empty namespace) is left to the default.
fn guess_mode_from_data(files: &FileSet, data_ids: &[u32], name: &str) -> Option<Mode> {
    let mut next = 0u64;
    for &id in data_ids {
        let Ok(file) = File::open(files.path(Kind::Data, id)) else { continue };
        let len = file.metadata().ok()?.len();
        let mut off = DATA_HEADER_SIZE as u64;
        let mut raw = [0u8; DATA_ENTRY_FIXED + 8];
        while off + raw.len() as u64 <= len {
            file.read_exact_at(&mut raw, off).ok()?;
            let rec = DataRecord::decode(&raw);
            if rec.key_len != 8 || !plausible_data(&rec, Mode::Seq) {
                return None;
            }
            let key = seq_id(&raw[DATA_ENTRY_FIXED..]).expect("8 bytes");
            let tombstone = rec.flags & FLAG_DELETED != 0;
            match (tombstone, key.cmp(&next)) {
                (true, std::cmp::Ordering::Less) => {}
                (false, std::cmp::Ordering::Less | std::cmp::Ordering::Equal) => next += 1,
                _ => return None,
            }
            off += rec.size();
        }
    }
    if next == 0 {
        return None;
    }
    tracing::warn!(namespace = %name, "no index header left: the data holds sequential ids, rebuilding in sequential mode");
    Some(Mode::Seq)
}

struct Loader {
    st: NsState,
    /// The furthest data entry the kept index references.
    max_data: Option<DataPos>,
    /// The last index entry seen, for the `previous` chain.
    last_index: Option<IndexLoc>,
    /// Live entries found superseded by a later one: flagged on disk at the end.
    repairs: Vec<IndexLoc>,
    /// Versions superseded by a cut (torn) tail entry: live again.
    restore: Vec<IndexLoc>,
}

/// How reading one index file ended.
enum Parsed {
    /// Every byte was a well-formed entry.
    Clean,
    /// Bytes from this offset on are not a well-formed entry.
    Broken(u64),
}

impl Loader {
    /// Steps 1 and 2. Returns the id of the last index file kept.
    fn load_index(&mut self, index_max: Option<u32>) -> anyhow::Result<Option<u32>> {
        let Some(index_max) = index_max else { return Ok(None) };
        for id in 0..=index_max {
            let file = match self.st.files.get(Kind::Index, id) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return self.damaged(id, 0, index_max),
                Err(e) => return Err(e.into()),
            };
            let cut = if id == index_max { self.tail_cut(id, &file)? } else { None };
            let parsed = scan_index(&file, self.st.mode, |off, rec, key| {
                if cut.is_none_or(|c| off < c) {
                    self.apply_index(IndexLoc { file: id, offset: off as u32 }, rec, key);
                }
                Ok(())
            })?;
            match (cut, parsed) {
                (Some(at), _) => {
                    // The newest file: dropping its torn tail is all it takes.
                    tracing::warn!(namespace = %self.st.desc.name, file = id, offset = at, "cutting a torn index tail");
                    self.truncate_index(id, at)?;
                    self.restore_parents(id, at)?;
                }
                (None, Parsed::Broken(at)) => return self.damaged(id, at, index_max),
                (None, Parsed::Clean) => {}
            }
        }
        Ok(Some(index_max))
    }

    /// The index is unusable from file `id` offset `at` on.
    fn damaged(&mut self, id: u32, at: u64, index_max: u32) -> anyhow::Result<Option<u32>> {
        tracing::warn!(namespace = %self.st.desc.name, file = id, offset = at, "index damaged: rebuilding it from the data files");
        let existing = self.st.files.list(Kind::Index)?;
        if self.st.mode == Mode::Seq {
            // Slots are rewritten in place, so a prefix cannot be trusted
            // alone: rebuild every slot from the data.
            for old in existing {
                self.st.files.set_aside(Kind::Index, old)?;
            }
            self.st.keys = Keys::Seq(Vec::new());
            (self.st.entries, self.st.data_bytes, self.st.index_bytes) = (0, 0, 0);
            self.max_data = None;
            self.last_index = None;
            self.repairs.clear();
            return Ok(None);
        }
        for later in existing.into_iter().filter(|&f| f > id && f <= index_max) {
            self.st.files.set_aside(Kind::Index, later)?;
        }
        if existing_contains(&self.st.files, id) && at >= INDEX_HEADER_SIZE as u64 {
            self.truncate_index(id, at)?;
        } else {
            if existing_contains(&self.st.files, id) {
                self.st.files.set_aside(Kind::Index, id)?;
            }
            self.st.files.create(Kind::Index, id, self.st.mode)?;
        }
        Ok(Some(id))
    }

    fn truncate_index(&mut self, id: u32, at: u64) -> io::Result<()> {
        if at < INDEX_HEADER_SIZE as u64 {
            self.st.files.create(Kind::Index, id, self.st.mode)?;
        } else {
            self.st.files.get(Kind::Index, id)?.set_len(at)?;
        }
        Ok(())
    }

    /// For the newest index file: where its valid prefix ends (torn entry,
    /// garbage, or entries whose data never reached the disk).
    fn tail_cut(&mut self, id: u32, file: &File) -> anyhow::Result<Option<u64>> {
        let mut offsets = Vec::new();
        let parsed = scan_index(file, self.st.mode, |off, _, _| {
            offsets.push(off);
            Ok(())
        })?;
        let mut cut = match parsed {
            Parsed::Clean => None,
            Parsed::Broken(at) => Some(at),
        };
        while let Some(&off) = offsets.last() {
            let mut raw = [0u8; INDEX_ENTRY_FIXED];
            file.read_exact_at(&mut raw, off)?;
            let rec = IndexRecord::decode(&raw);
            let mut key = vec![0u8; rec.key_len as usize];
            file.read_exact_at(&mut key, off + INDEX_ENTRY_FIXED as u64)?;
            let data_file = self.data_file_of(&rec, id);
            if !self.st.files.path(Kind::Data, data_file).exists() {
                // A missing data file is not a torn write: keep the entries,
                // so their keys read as errors instead of silently vanishing.
                break;
            }
            if self.data_proves(data_file, &rec, &key) {
                break;
            }
            cut = Some(off);
            offsets.pop();
            let parent = IndexLoc { file: rec.parent_id, offset: rec.parent_offset };
            if self.st.mode == Mode::User && !parent.is_none() {
                self.restore.push(parent);
            }
        }
        Ok(cut)
    }

    /// User mode: an update whose index entry was cut (its data never made
    /// it) had already flagged the version it superseded; that version is
    /// the key's current one again, as if the update never happened.
    fn restore_parents(&mut self, cut_file: u32, cut_at: u64) -> anyhow::Result<()> {
        for loc in std::mem::take(&mut self.restore) {
            if loc.file > cut_file || (loc.file == cut_file && loc.offset as u64 >= cut_at) {
                continue; // itself cut
            }
            let Ok(file) = self.st.files.get(Kind::Index, loc.file) else { continue };
            let mut raw = [0u8; INDEX_ENTRY_FIXED];
            if loc.offset < INDEX_HEADER_SIZE || file.read_exact_at(&mut raw, loc.offset as u64).is_err() {
                continue;
            }
            let mut rec = IndexRecord::decode(&raw);
            let mut key = vec![0u8; rec.key_len as usize];
            if !plausible_index(&rec, self.st.mode)
                || rec.flags & FLAG_DELETED == 0
                || file.read_exact_at(&mut key, loc.offset as u64 + INDEX_ENTRY_FIXED as u64).is_err()
                || self.st.lookup(&key).is_some()
            {
                continue;
            }
            tracing::warn!(namespace = %self.st.desc.name, file = loc.file, offset = loc.offset, "restoring the version a torn update had superseded");
            file.write_all_at(&[0], loc.offset as u64 + format::INDEX_FLAGS_AT)?;
            rec.flags = 0;
            let last = self.last_index;
            self.apply_index(loc, &rec, &key);
            self.last_index = last;
        }
        Ok(())
    }

    fn data_file_of(&self, rec: &IndexRecord, index_file: u32) -> u32 {
        match self.st.mode {
            Mode::User => index_file,
            Mode::Seq => rec.data_id,
        }
    }

    /// Whether the data entry `rec` points at is complete and proves its payload.
    fn data_proves(&mut self, data_file: u32, rec: &IndexRecord, key: &[u8]) -> bool {
        let Ok(file) = self.st.files.get(Kind::Data, data_file) else { return false };
        let entry = Entry {
            index: IndexLoc::NONE,
            data_file,
            data_offset: rec.data_offset,
            length: rec.length,
            crc: rec.crc,
            timestamp: rec.timestamp,
            deleted: false,
        };
        super::namespace::read_payload(&file, &entry, key).is_ok()
    }

    /// Puts one index entry read from disk into the key table.
    fn apply_index(&mut self, loc: IndexLoc, rec: &IndexRecord, key: &[u8]) {
        let data_file = self.data_file_of(rec, loc.file);
        let end = rec.data_offset as u64 + (DATA_ENTRY_FIXED + key.len()) as u64 + rec.length as u64;
        let pos = DataPos { file: data_file, end, start: rec.data_offset };
        if self.max_data.is_none_or(|m| pos > m) {
            self.max_data = Some(pos);
        }
        self.last_index = Some(loc);
        let deleted = rec.flags & FLAG_DELETED != 0;
        let entry = Entry {
            index: loc,
            data_file,
            data_offset: rec.data_offset,
            length: rec.length,
            crc: rec.crc,
            timestamp: rec.timestamp,
            deleted,
        };
        let st = &mut self.st;
        let previous = match &mut st.keys {
            Keys::User(map) if deleted => map.remove(key),
            Keys::User(map) => map.insert(key, entry),
            Keys::Seq(slots) => {
                slots.push(entry);
                None
            }
        };
        if let Some(previous) = previous {
            // A live entry followed by a newer version of the same key: the
            // crash hit between the append and the in-place flag.
            st.account_remove(Some(&previous), key.len());
            self.repairs.push(previous.index);
        }
        if !deleted {
            st.account_add(&entry, key.len());
        }
    }

    /// Step 3 and 4: replays every data entry after the last indexed one.
    fn replay_data(&mut self, data_max: u32) -> anyhow::Result<()> {
        let mut start = self.max_data.unwrap_or(DataPos { file: 0, end: DATA_HEADER_SIZE as u64, start: 0 });
        if let Some(last) = self.last_index {
            self.st.last_index_offset = last.offset;
        }
        self.st.last_data_offset = start.start;
        if start.file == data_max && self.max_data.is_some() {
            if let Some(previous) = self.cut_torn_referenced(&start)? {
                start.end = start.start as u64;
                self.st.last_data_offset = previous;
            }
        }
        for f in start.file..=data_max {
            let from = if f == start.file { start.end } else { DATA_HEADER_SIZE as u64 };
            let file = match self.st.files.get(Kind::Data, f) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            self.activate_index(f)?;
            let len = file.metadata()?.len();
            let mut header = [0u8; DATA_HEADER_SIZE as usize];
            if len < DATA_HEADER_SIZE as u64
                || file.read_exact_at(&mut header, 0).is_err()
                || format::parse_data_header(&header).is_err()
            {
                if f == data_max {
                    tracing::warn!(namespace = %self.st.desc.name, file = f, "data file header torn: recreating it");
                    self.st.files.create(Kind::Data, f, self.st.mode)?;
                } else {
                    tracing::error!(namespace = %self.st.desc.name, file = f, "data file has a bad header: skipped");
                }
                continue;
            }
            let cut = self.replay_data_file(f, &file, from, len)?;
            self.st.flush()?;
            if let Some(at) = cut {
                if f == data_max {
                    tracing::warn!(namespace = %self.st.desc.name, file = f, offset = at, "cutting a torn data tail");
                    file.set_len(at)?;
                    self.restore_seq_slots(f, at)?;
                } else {
                    tracing::error!(namespace = %self.st.desc.name, file = f, offset = at, "unreadable data entry: rest of this file skipped");
                }
            }
        }
        Ok(())
    }

    /// Sequential mode rewrites slots in place, so the furthest data entry
    /// the index references need not be at the index tail `tail_cut`
    /// checked. When that entry is the torn last write of the newest data
    /// file (incomplete, or failing its checksum at the very end), it is cut
    /// and the slots pointing at it get their previous version back.
    /// Returns the `previous` offset of the cut entry when it cut.
    fn cut_torn_referenced(&mut self, at: &DataPos) -> anyhow::Result<Option<u32>> {
        let file = match self.st.files.get(Kind::Data, at.file) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        let start = at.start as u64;
        if start < DATA_HEADER_SIZE as u64 || start >= len || at.end < len {
            return Ok(None);
        }
        let mut raw = [0u8; DATA_ENTRY_FIXED];
        let header = (start + DATA_ENTRY_FIXED as u64 <= len && file.read_exact_at(&mut raw, start).is_ok())
            .then(|| DataRecord::decode(&raw));
        if at.end == len {
            // Complete: torn only if its payload fails its own checksum.
            let Some(rec) = header else { return Ok(None) };
            if rec.flags & FLAG_DELETED != 0 || start + rec.size() != len {
                return Ok(None);
            }
            let mut payload = vec![0u8; rec.length as usize];
            file.read_exact_at(&mut payload, start + DATA_ENTRY_FIXED as u64 + rec.key_len as u64)?;
            if crc32c(&payload) == rec.crc {
                return Ok(None);
            }
        }
        tracing::warn!(namespace = %self.st.desc.name, file = at.file, offset = start, "cutting a torn data tail the index points at");
        file.set_len(start)?;
        self.restore_seq_slots(at.file, start)?;
        Ok(Some(header.map_or(0, |rec| rec.previous)))
    }

    /// Sequential mode: an update rewrites its id's slot in place, so a slot
    /// anywhere in the index can point into a data tail that was just cut.
    /// Such a slot gets back the version its history copy (its parent)
    /// preserved; a slot with no earlier version (a new id) is deleted.
    fn restore_seq_slots(&mut self, data_file: u32, cut_at: u64) -> anyhow::Result<()> {
        let Keys::Seq(slots) = &self.st.keys else { return Ok(()) };
        let torn: Vec<(usize, Entry)> = slots
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted && e.data_file == data_file && e.data_offset as u64 >= cut_at)
            .map(|(i, e)| (i, *e))
            .collect();
        for (id, entry) in torn {
            let index = self.st.files.get(Kind::Index, entry.index.file)?;
            let mut raw = [0u8; INDEX_ENTRY_FIXED];
            index.read_exact_at(&mut raw, entry.index.offset as u64)?;
            let slot = IndexRecord::decode(&raw);
            let parent = IndexLoc { file: slot.parent_id, offset: slot.parent_offset };
            let copy = (!parent.is_none())
                .then(|| {
                    let file = self.st.files.get(Kind::Index, parent.file).ok()?;
                    file.read_exact_at(&mut raw, parent.offset as u64).ok()?;
                    Some(IndexRecord::decode(&raw))
                })
                .flatten()
                .filter(|copy| {
                    plausible_index(copy, Mode::Seq)
                        && (copy.data_id, copy.data_offset as u64) < (data_file, cut_at)
                        && self.data_proves(copy.data_id, copy, &(id as u64).to_le_bytes())
                });
            let (restored, deleted) = match copy {
                Some(copy) => (IndexRecord { previous: slot.previous, flags: slot.flags, ..copy }, false),
                None => (IndexRecord { flags: slot.flags | FLAG_DELETED, ..slot }, true),
            };
            tracing::warn!(namespace = %self.st.desc.name, id, "id updated by a torn write: restoring its previous version");
            let mut buf = Vec::with_capacity(restored.size() as usize);
            restored.encode(&(id as u64).to_le_bytes(), &mut buf);
            index.write_all_at(&buf, entry.index.offset as u64)?;
            let now = Entry {
                index: entry.index,
                data_file: restored.data_id,
                data_offset: restored.data_offset,
                length: restored.length,
                crc: restored.crc,
                timestamp: restored.timestamp,
                deleted,
            };
            self.st.account_remove(Some(&entry), 8);
            if !deleted {
                self.st.account_add(&now, 8);
            }
            if let Keys::Seq(slots) = &mut self.st.keys {
                slots[id] = now;
            }
        }
        Ok(())
    }

    /// Makes index file `f` the one replayed entries are appended to.
    fn activate_index(&mut self, f: u32) -> io::Result<()> {
        self.st.flush()?;
        let index = match self.st.files.get(Kind::Index, f) {
            Ok(index) => index,
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.st.files.create(Kind::Index, f, self.st.mode)?,
            Err(e) => return Err(e),
        };
        self.st.files.current = f;
        self.st.files.index_len = index.metadata()?.len();
        Ok(())
    }

    /// Replays the entries of data file `f` from `from`; returns where the
    /// readable part ends if it ends before the file does.
    fn replay_data_file(&mut self, f: u32, file: &File, from: u64, len: u64) -> anyhow::Result<Option<u64>> {
        let mut off = from;
        while off < len {
            let Some(entry) = read_data_entry(file, off, len)? else { return Ok(Some(off)) };
            if !plausible_data(&entry.record, self.st.mode) {
                return Ok(Some(off));
            }
            let size = entry.record.size();
            if !entry.proves_itself() {
                if off + size == len {
                    return Ok(Some(off)); // a torn last write
                }
                tracing::error!(namespace = %self.st.desc.name, file = f, offset = off, "data entry fails its checksum: not indexed");
                off += size;
                continue;
            }
            self.replay_entry(off as u32, &entry.record, entry.key())?;
            self.st.last_data_offset = off as u32;
            self.st.files.data_len = off + size;
            off += size;
        }
        Ok(None)
    }

    /// Applies one data entry as the live write path would have.
    fn replay_entry(&mut self, off: u32, rec: &DataRecord, key: &[u8]) -> io::Result<()> {
        self.st.index_data_entry(off, rec, key)
    }

    /// Settles the active file pair and applies pending repairs.
    fn finish(mut self, current: u32) -> anyhow::Result<NsState> {
        let st = &mut self.st;
        st.flush()?;
        let index = match st.files.get(Kind::Index, current) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => st.files.create(Kind::Index, current, st.mode)?,
            Err(e) => return Err(e.into()),
        };
        let mut lost = false;
        let data = match st.files.get(Kind::Data, current) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(namespace = %st.desc.name, file = current, "active data file missing: recreated empty");
                lost = true;
                st.files.create(Kind::Data, current, st.mode)?
            }
            Err(e) => return Err(e.into()),
        };
        st.files.current = current;
        st.files.index_len = index.metadata()?.len();
        st.files.data_len = data.metadata()?.len();
        if lost && st.files.index_len > INDEX_HEADER_SIZE as u64 {
            // The index entries of this pair point into the lost file: new
            // writes go to a fresh pair, never where those entries point.
            st.jump()?;
        }
        for loc in std::mem::take(&mut self.repairs) {
            if let Err(e) = st.flag_index(loc) {
                tracing::warn!(namespace = %st.desc.name, "could not flag a superseded entry: {e}");
            }
        }
        st.dirty.clear();
        st.written_since_jump = false;
        Ok(self.st)
    }
}

fn existing_contains(files: &FileSet, id: u32) -> bool {
    files.path(Kind::Index, id).exists()
}

/// Streams the entries of an index file to `f`, checking each one is
/// plausible. Returns where the well-formed part ends.
fn scan_index(
    file: &File,
    mode: Mode,
    mut f: impl FnMut(u64, &IndexRecord, &[u8]) -> io::Result<()>,
) -> io::Result<Parsed> {
    let len = file.metadata()?.len();
    let mut header = [0u8; INDEX_HEADER_SIZE as usize];
    if len < INDEX_HEADER_SIZE as u64
        || file.read_exact_at(&mut header, 0).is_err()
        || format::parse_index_header(&header).is_err()
    {
        return Ok(Parsed::Broken(0));
    }
    let mut reader = BufReader::with_capacity(1 << 20, FileReader { file, pos: INDEX_HEADER_SIZE as u64 });
    let mut off = INDEX_HEADER_SIZE as u64;
    let mut raw = [0u8; INDEX_ENTRY_FIXED];
    let mut key = [0u8; 255];
    while off < len {
        if off + INDEX_ENTRY_FIXED as u64 > len {
            return Ok(Parsed::Broken(off));
        }
        reader.read_exact(&mut raw)?;
        let rec = IndexRecord::decode(&raw);
        let size = rec.size() as u64;
        if off + size > len || !plausible_index(&rec, mode) {
            return Ok(Parsed::Broken(off));
        }
        let key = &mut key[..rec.key_len as usize];
        reader.read_exact(key)?;
        f(off, &rec, key)?;
        off += size;
    }
    Ok(Parsed::Clean)
}

/// Cheap sanity checks that catch garbage and desynchronised parsing.
fn plausible_index(rec: &IndexRecord, mode: Mode) -> bool {
    let key_ok = match mode {
        Mode::User => rec.key_len >= 1,
        Mode::Seq => rec.key_len == 8,
    };
    key_ok
        && rec.flags & !3 == 0
        && rec.data_offset >= DATA_HEADER_SIZE
        && rec.length as usize <= super::namespace::MAX_PAYLOAD
}

fn plausible_data(rec: &DataRecord, mode: Mode) -> bool {
    let key_ok = match mode {
        Mode::User => rec.key_len >= 1,
        Mode::Seq => rec.key_len == 8,
    };
    let tombstone_ok = rec.flags & FLAG_DELETED == 0 || (rec.length == 0 && rec.crc == 0);
    key_ok && rec.flags & !3 == 0 && tombstone_ok && rec.length as usize <= super::namespace::MAX_PAYLOAD
}

/// `Read` over a `File` by position, so no shared cursor is involved.
struct FileReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
