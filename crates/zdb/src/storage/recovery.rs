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
use super::namespace::{seq_id, Entry, Keys, NsState, StoreOptions};
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
    let mode = stored_mode(&files, &index_ids).or(opts.forced_mode).unwrap_or(new_mode);
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

    let mut loader = Loader { st, max_data: None, last_index: None, repairs: Vec::new() };
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

struct Loader {
    st: NsState,
    /// The furthest data entry the kept index references.
    max_data: Option<DataPos>,
    /// The last index entry seen, for the `previous` chain.
    last_index: Option<IndexLoc>,
    /// Live entries found superseded by a later one: flagged on disk at the end.
    repairs: Vec<IndexLoc>,
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
            if self.data_proves(self.data_file_of(&rec, id), &rec, &key) {
                break;
            }
            cut = Some(off);
            offsets.pop();
        }
        Ok(cut)
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
            Keys::User(map) => match map.get_mut(key) {
                Some(slot) => Some(std::mem::replace(slot, entry)),
                None => {
                    map.insert(key.into(), entry);
                    None
                }
            },
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
        let start = self.max_data.unwrap_or(DataPos { file: 0, end: DATA_HEADER_SIZE as u64, start: 0 });
        if let Some(last) = self.last_index {
            self.st.last_index_offset = last.offset;
        }
        self.st.last_data_offset = start.start;
        let mut buf = Vec::new();
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
            let cut = self.replay_data_file(f, &file, from, len, &mut buf)?;
            if let Some(at) = cut {
                if f == data_max {
                    tracing::warn!(namespace = %self.st.desc.name, file = f, offset = at, "cutting a torn data tail");
                    file.set_len(at)?;
                } else {
                    tracing::error!(namespace = %self.st.desc.name, file = f, offset = at, "unreadable data entry: rest of this file skipped");
                }
            }
        }
        Ok(())
    }

    /// Makes index file `f` the one replayed entries are appended to.
    fn activate_index(&mut self, f: u32) -> io::Result<()> {
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
    fn replay_data_file(
        &mut self,
        f: u32,
        file: &File,
        from: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> anyhow::Result<Option<u64>> {
        let mut off = from;
        while off < len {
            let mut raw = [0u8; DATA_ENTRY_FIXED];
            if off + DATA_ENTRY_FIXED as u64 > len {
                return Ok(Some(off));
            }
            file.read_exact_at(&mut raw, off)?;
            let rec = DataRecord::decode(&raw);
            if off + rec.size() > len || !plausible_data(&rec, self.st.mode) {
                return Ok(Some(off));
            }
            buf.resize(rec.key_len as usize + rec.length as usize, 0);
            file.read_exact_at(buf, off + DATA_ENTRY_FIXED as u64)?;
            let (key, payload) = buf.split_at(rec.key_len as usize);
            let tombstone = rec.flags & FLAG_DELETED != 0;
            if !tombstone && crc32c(payload) != rec.crc {
                if off + rec.size() == len {
                    return Ok(Some(off)); // a torn last write
                }
                tracing::error!(namespace = %self.st.desc.name, file = f, offset = off, "data entry fails its checksum: not indexed");
                off += rec.size();
                continue;
            }
            self.replay_entry(off as u32, &rec, key)?;
            self.st.last_data_offset = off as u32;
            self.st.files.data_len = off + rec.size();
            off += rec.size();
        }
        Ok(None)
    }

    /// Applies one data entry as the live write path would have.
    fn replay_entry(&mut self, off: u32, rec: &DataRecord, key: &[u8]) -> io::Result<()> {
        let current = self.st.lookup(key);
        if rec.flags & FLAG_DELETED != 0 {
            if let Some(old) = current {
                self.st.index_delete(key, &old)?;
            }
            return Ok(());
        }
        match self.st.mode {
            Mode::User => self.st.index_user_put(key, off, *rec, current).map(|_| ()),
            Mode::Seq => {
                let id = seq_id(key).expect("plausible_data checked the length");
                if current.is_some() || id >= self.st.next_id() {
                    self.st.index_seq_put(id, self.st.files.current, off, *rec)?;
                }
                Ok(())
            }
        }
    }

    /// Settles the active file pair and applies pending repairs.
    fn finish(mut self, current: u32) -> anyhow::Result<NsState> {
        let st = &mut self.st;
        let index = match st.files.get(Kind::Index, current) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => st.files.create(Kind::Index, current, st.mode)?,
            Err(e) => return Err(e.into()),
        };
        let data = match st.files.get(Kind::Data, current) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(namespace = %st.desc.name, file = current, "active data file missing: recreated empty");
                st.files.create(Kind::Data, current, st.mode)?
            }
            Err(e) => return Err(e.into()),
        };
        st.files.current = current;
        st.files.index_len = index.metadata()?.len();
        st.files.data_len = data.metadata()?.len();
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
