//! Reads that walk the files rather than the key table: SCAN and RSCAN
//! (index order), KEYCUR, HISTORY (parent chains) and DATA RAW.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use super::files::Kind;
use super::namespace::{read_data_entry, read_payload, DataEntry, Entry, NsState, Payload, ReadError};
use crate::format::{
    IndexLoc, IndexRecord, Mode, ScanCursor, DATA_HEADER_SIZE, FLAG_DELETED, INDEX_ENTRY_FIXED, INDEX_HEADER_SIZE,
};

/// How long one SCAN call may walk, as in the original.
const SCAN_SLICE: Duration = Duration::from_millis(2);
/// And at most this many entries, so one reply stays small.
const SCAN_MAX_ENTRIES: usize = 4096;

/// One live key as SCAN reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanItem {
    pub key: Vec<u8>,
    pub length: u32,
    pub timestamp: u32,
}

/// Errors of the file-walking reads; `Display` is the reply text.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("No more data")]
    NoMoreData,
    #[error("Invalid key format")]
    BadCursor,
    #[error("Key not found")]
    KeyNotFound,
    #[error("No more history")]
    NoMoreHistory,
    #[error("Invalid arguments")]
    BadHistoryCursor,
    #[error("Invalid arguments (invalid key)")]
    OtherKey,
    #[error("Invalid arguments (index query)")]
    BadLocation,
    #[error("EOF")]
    Eof,
    #[error("Invalid Request")]
    InvalidRequest,
    #[error("{0}")]
    Read(#[from] ReadError),
}

impl From<io::Error> for WalkError {
    fn from(e: io::Error) -> Self {
        WalkError::Read(ReadError::Io(e))
    }
}

/// A version of a key, as HISTORY returns it.
#[derive(Debug)]
pub struct Version {
    /// Where the previous version's index entry is, if there is one.
    pub parent: Option<IndexLoc>,
    pub timestamp: u32,
    pub payload: Payload,
}

impl NsState {
    /// Length of index file `id` as far as readers may look.
    fn index_file_len(&mut self, id: u32) -> io::Result<u64> {
        if id == self.files.current {
            Ok(self.files.index_len)
        } else {
            self.files.get(Kind::Index, id)?.metadata().map(|m| m.len())
        }
    }

    /// Reads the index entry at `loc` (and its key), checking it lies
    /// inside the file.
    pub fn read_index_entry(&mut self, loc: IndexLoc) -> Result<(IndexRecord, Vec<u8>), WalkError> {
        self.flush()?; // buffered appends first: these read the files
        if loc.file > self.files.current || loc.offset < INDEX_HEADER_SIZE {
            return Err(WalkError::BadLocation);
        }
        let len = self.index_file_len(loc.file).map_err(|_| WalkError::BadLocation)?;
        let file = self.files.get(Kind::Index, loc.file).map_err(|_| WalkError::BadLocation)?;
        read_entry_at(&file, loc.offset as u64, len).ok_or(WalkError::BadLocation)
    }

    /// Checks a client cursor and returns the position right after it.
    fn after_cursor(&mut self, raw: &[u8]) -> Result<(u32, u64), WalkError> {
        let c = ScanCursor::decode(raw).ok_or(WalkError::BadCursor)?;
        let (rec, _) = self.read_index_entry(c.loc).map_err(|_| WalkError::BadCursor)?;
        if rec.key_len != c.key_len || rec.length != c.length || rec.crc != c.crc {
            return Err(WalkError::BadCursor);
        }
        Ok((c.loc.file, c.loc.offset as u64 + rec.size() as u64))
    }

    /// SCAN: live entries in index order after `cursor` (from the start
    /// without one). Returns the cursor of the last entry and the entries.
    pub fn scan(&mut self, cursor: Option<&[u8]>) -> Result<(ScanCursor, Vec<ScanItem>), WalkError> {
        self.flush()?; // buffered appends first: these read the files
        let (mut file_id, mut offset) = match cursor {
            Some(raw) => self.after_cursor(raw)?,
            None => (0, INDEX_HEADER_SIZE as u64),
        };
        let started = Instant::now();
        let mut items = Vec::new();
        let mut last = None;
        while file_id <= self.files.current {
            let len = match self.index_file_len(file_id) {
                Ok(len) => len,
                Err(_) => {
                    file_id += 1;
                    offset = INDEX_HEADER_SIZE as u64;
                    continue;
                }
            };
            let file = self.files.get(Kind::Index, file_id)?;
            let mut reader = EntryReader::new(&file, offset, len);
            while let Some((at, rec, key)) = reader.next()? {
                if rec.flags & FLAG_DELETED != 0 {
                    continue;
                }
                last = Some(ScanCursor {
                    key_len: rec.key_len,
                    loc: IndexLoc { file: file_id, offset: at as u32 },
                    length: rec.length,
                    crc: rec.crc,
                });
                items.push(ScanItem { key, length: rec.length, timestamp: rec.timestamp });
                if items.len() >= SCAN_MAX_ENTRIES || started.elapsed() >= SCAN_SLICE {
                    return Ok((last.expect("just set"), items));
                }
            }
            file_id += 1;
            offset = INDEX_HEADER_SIZE as u64;
        }
        last.map(|c| (c, items)).ok_or(WalkError::NoMoreData)
    }

    /// RSCAN: like SCAN, walking from the newest entry backwards.
    pub fn rscan(&mut self, cursor: Option<&[u8]>) -> Result<(ScanCursor, Vec<ScanItem>), WalkError> {
        self.flush()?; // buffered appends first: these read the files
        let (mut file_id, mut before) = match cursor {
            Some(raw) => {
                let c = ScanCursor::decode(raw).ok_or(WalkError::BadCursor)?;
                self.after_cursor(raw)?;
                (c.loc.file as i64, c.loc.offset as u64)
            }
            None => (self.files.current as i64, self.files.index_len),
        };
        let started = Instant::now();
        let mut items = Vec::new();
        let mut last = None;
        while file_id >= 0 {
            let id = file_id as u32;
            let Ok(len) = self.index_file_len(id) else {
                file_id -= 1;
                before = u64::MAX;
                continue;
            };
            let file = self.files.get(Kind::Index, id)?;
            // Variable-size entries can only be parsed forwards: collect the
            // file's entries before the cursor, then walk them back.
            let mut entries = Vec::new();
            let mut reader = EntryReader::new(&file, INDEX_HEADER_SIZE as u64, len.min(before));
            while let Some(e) = reader.next()? {
                if e.1.flags & FLAG_DELETED == 0 {
                    entries.push(e);
                }
            }
            for (at, rec, key) in entries.into_iter().rev() {
                last = Some(ScanCursor {
                    key_len: rec.key_len,
                    loc: IndexLoc { file: id, offset: at as u32 },
                    length: rec.length,
                    crc: rec.crc,
                });
                items.push(ScanItem { key, length: rec.length, timestamp: rec.timestamp });
                if items.len() >= SCAN_MAX_ENTRIES || started.elapsed() >= SCAN_SLICE {
                    return Ok((last.expect("just set"), items));
                }
            }
            file_id -= 1;
            before = u64::MAX;
        }
        last.map(|c| (c, items)).ok_or(WalkError::NoMoreData)
    }

    /// HISTORY: the current version of `key` (no cursor), or the version
    /// whose index entry the cursor names.
    pub fn history(&mut self, key: &[u8], cursor: Option<&[u8]>) -> Result<Version, WalkError> {
        self.flush()?; // buffered appends first: these read the files
        let live = self.lookup(key).ok_or(WalkError::KeyNotFound)?;
        let loc = match cursor {
            None => live.index,
            Some(raw) => {
                let loc = IndexLoc::from_cursor(raw).ok_or(WalkError::BadHistoryCursor)?;
                if loc.is_none() {
                    return Err(WalkError::NoMoreHistory);
                }
                loc
            }
        };
        let (rec, entry_key) = self.read_index_entry(loc)?;
        // A live key's bytes are what its entries carry (in sequential mode
        // the 8-byte id is the key itself).
        if entry_key != key {
            return Err(WalkError::OtherKey);
        }
        // User mode: the data file is always the index file's pair (the
        // original's on-disk data_id is wrong for first versions).
        let data_file = match self.mode {
            Mode::User => loc.file,
            Mode::Seq => rec.data_id,
        };
        let entry = Entry {
            index: loc,
            data_file,
            data_offset: rec.data_offset,
            length: rec.length,
            crc: rec.crc,
            timestamp: rec.timestamp,
            deleted: false,
        };
        let file = self.files.get(Kind::Data, data_file).map_err(ReadError::Io)?;
        let payload = read_payload(&file, &entry, key)?;
        let parent = IndexLoc { file: rec.parent_id, offset: rec.parent_offset };
        Ok(Version { parent: (!parent.is_none()).then_some(parent), timestamp: rec.timestamp, payload })
    }

    /// DATA RAW: the data entry at `offset` of data file `file_id`,
    /// tombstones included (so deletes can be replicated).
    pub fn data_raw(&mut self, file_id: u32, offset: u64) -> Result<DataEntry, WalkError> {
        self.flush()?; // buffered appends first: these read the files
        if file_id > self.files.current {
            return Err(WalkError::InvalidRequest);
        }
        let file = self.files.get(Kind::Data, file_id).map_err(|_| WalkError::InvalidRequest)?;
        let len = if file_id == self.files.current { self.files.data_len } else { file.metadata()?.len() };
        if offset >= len {
            return Err(WalkError::Eof);
        }
        // An offset that is not an entry boundary decodes as garbage: unknown
        // flags, a "tombstone" with a payload, a failing CRC. That is the
        // original's "Invalid Request" for a bad offset (and a corrupt entry
        // is refused the same way: its bytes are never handed out).
        match read_data_entry(&file, offset, len)? {
            Some(entry) if offset >= DATA_HEADER_SIZE as u64 && entry.proves_itself() => Ok(entry),
            _ => Err(WalkError::InvalidRequest),
        }
    }
}

/// Reads the index entry at `offset` if it lies entirely before `len`.
fn read_entry_at(file: &File, offset: u64, len: u64) -> Option<(IndexRecord, Vec<u8>)> {
    if offset + INDEX_ENTRY_FIXED as u64 > len {
        return None;
    }
    let mut raw = [0u8; INDEX_ENTRY_FIXED];
    file.read_exact_at(&mut raw, offset).ok()?;
    let rec = IndexRecord::decode(&raw);
    if offset + rec.size() as u64 > len || rec.key_len == 0 {
        return None;
    }
    let mut key = vec![0u8; rec.key_len as usize];
    file.read_exact_at(&mut key, offset + INDEX_ENTRY_FIXED as u64).ok()?;
    Some((rec, key))
}

/// Walks index entries forward through a window of the file.
struct EntryReader<'a> {
    file: &'a File,
    /// File offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    pos: usize,
    end: u64,
}

impl<'a> EntryReader<'a> {
    const WINDOW: usize = 64 * 1024;

    fn new(file: &'a File, start: u64, end: u64) -> Self {
        EntryReader { file, base: start, buf: Vec::new(), pos: 0, end }
    }

    /// The next entry as (offset, record, key), or None at the end (or at
    /// bytes that are not an entry).
    fn next(&mut self) -> io::Result<Option<(u64, IndexRecord, Vec<u8>)>> {
        let at = self.base + self.pos as u64;
        if at + INDEX_ENTRY_FIXED as u64 > self.end {
            return Ok(None);
        }
        if self.pos + INDEX_ENTRY_FIXED + 255 > self.buf.len() && self.base + (self.buf.len() as u64) < self.end {
            self.refill(at)?;
        }
        let avail = &self.buf[self.pos..];
        if avail.len() < INDEX_ENTRY_FIXED {
            return Ok(None);
        }
        let rec = IndexRecord::decode(avail);
        let size = rec.size() as usize;
        if rec.key_len == 0 || avail.len() < size || at + size as u64 > self.end {
            return Ok(None);
        }
        let key = avail[INDEX_ENTRY_FIXED..size].to_vec();
        self.pos += size;
        Ok(Some((at, rec, key)))
    }

    fn refill(&mut self, at: u64) -> io::Result<()> {
        let want = ((self.end - at) as usize).min(Self::WINDOW);
        self.buf.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            let n = self.file.read_at(&mut self.buf[filled..], at + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.buf.truncate(filled);
        self.base = at;
        self.pos = 0;
        Ok(())
    }
}
