//! Local append-only segment files: the embedded default store.
//!
//! ## Format (version 1), byte by byte
//!
//! A directory of files named `seg-NNNNNNNNNNNNNNNNNNNN.log`, where `N…` is the log index (20
//! decimal digits) of the segment's first entry. Each file:
//!
//! ```text
//! header  8 bytes  "BCDBSEG1"
//!         8 bytes  u64 LE  index of the first entry in this segment (must match the name)
//! record  4 bytes  u32 LE  length L of what follows the length minus 4 (= entry length)
//!         4 bytes  u32 LE  CRC32C (Castagnoli, standard) of the entry
//!         L bytes          the entry (a `revision::Entry`'s canonical bytes)
//! record  ...
//! ```
//!
//! A new segment starts when the active one passes [`SEGMENT_TARGET`] bytes.
//!
//! ## Invariants
//!
//! - Bytes are only ever appended to the newest segment; older segments are never opened for writing.
//! - At open, every record is checked. An incomplete record at the very end of the newest segment is
//!   a write torn by a crash (it was never acknowledged: acknowledgement waits for fsync) and is cut
//!   off, the bytes kept aside in `torn-<index>.bin`. Any other damage (a bad checksum, a bad length,
//!   a bad header, a gap between segments) is corruption: open fails and says where.
//!   Opened read-only (`bcdb verify`), nothing is cut: an incomplete tail is reported instead. A
//!   damaged length in the newest segment's last records looks like a torn write and is cut (kept
//!   aside); the server's last signed checkpoint then refuses the shortened log if any client may
//!   have seen those entries.
//! - Before rotating, the old segment is synced, so [`LogStore::sync_file`] only ever has to sync the
//!   newest file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{LogStore, StoreError};

/// Magic bytes at the start of every segment file.
const MAGIC: &[u8; 8] = b"BCDBSEG1";
/// Header size: magic + first index.
const HEADER: u64 = 16;
/// Record header: length + CRC.
const RECORD_HEADER: usize = 8;
/// Size after which the active segment is closed and a new one started.
pub const SEGMENT_TARGET: u64 = 64 << 20;
/// Largest entry accepted: entries are revisions whose payload the server caps well below this.
pub const MAX_ENTRY: usize = 16 << 20;

/// Where an entry lives: which segment, and the offset of its record header.
#[derive(Clone, Copy)]
struct Location {
    segment: u32,
    offset: u64,
}

/// One segment file, open for reading (and for appending when it is the newest).
struct Segment {
    path: PathBuf,
    file: File,
    len: u64,
}

/// The segment-file store. See the module docs for the format.
pub struct SegmentStore {
    dir: PathBuf,
    segments: Vec<Segment>,
    locations: Vec<Location>,
    /// Opened to check, not to serve: nothing is cut, created or appended.
    read_only: bool,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

fn segment_name(first: u64) -> String {
    format!("seg-{first:020}.log")
}

impl SegmentStore {
    /// Opens (or creates) the store in `dir`, checking every record. See the module invariants for
    /// what happens to a torn tail.
    pub fn open(dir: &Path) -> Result<SegmentStore, StoreError> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        Self::load(dir, false)
    }

    /// Opens an existing store only to read and check it (`bcdb verify`): an incomplete record at
    /// the end is reported as an error instead of being cut, and appends are refused.
    pub fn open_read_only(dir: &Path) -> Result<SegmentStore, StoreError> {
        Self::load(dir, true)
    }

    fn load(dir: &Path, read_only: bool) -> Result<SegmentStore, StoreError> {
        let mut store = SegmentStore { dir: dir.to_path_buf(), segments: Vec::new(), locations: Vec::new(), read_only };
        let names = store.segment_files()?;
        let count = names.len();
        for (i, (first, path)) in names.into_iter().enumerate() {
            if first != store.locations.len() as u64 {
                return Err(StoreError::Corrupt {
                    index: store.locations.len() as u64,
                    detail: format!("{} starts at entry {first}; segments are missing or out of order", path.display()),
                });
            }
            store.load_segment(path, first, i + 1 == count)?;
        }
        if store.segments.is_empty() && !read_only {
            store.start_segment()?;
        }
        Ok(store)
    }

    /// Segment files in the directory, sorted by first index.
    fn segment_files(&self) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let mut found = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(io(format!("listing {}", self.dir.display())))? {
            let item = item.map_err(io(format!("listing {}", self.dir.display())))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(num) = name.strip_prefix("seg-").and_then(|n| n.strip_suffix(".log")) else { continue };
            if let Ok(first) = num.parse::<u64>() {
                found.push((first, item.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Reads a segment, records each entry's location, and cuts a torn tail of the newest one.
    fn load_segment(&mut self, path: PathBuf, first: u64, newest: bool) -> Result<(), StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(newest && !self.read_only)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))?;
        let mut bytes = Vec::new();
        (&file).read_to_end(&mut bytes).map_err(io(format!("reading {}", path.display())))?;
        let corrupt = |detail: String| StoreError::Corrupt { index: first, detail };
        if bytes.len() < HEADER as usize || &bytes[..8] != MAGIC {
            return Err(corrupt(format!("{} has no valid segment header", path.display())));
        }
        if u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) != first {
            return Err(corrupt(format!("{}: header index does not match its name", path.display())));
        }
        let segment = self.segments.len() as u32;
        let mut offset = HEADER as usize;
        while offset < bytes.len() {
            let index = self.locations.len() as u64;
            match check_record(&bytes[offset..]) {
                Ok(size) => {
                    check_crc(&bytes[offset..offset + size]).map_err(|detail| StoreError::Corrupt { index, detail })?;
                    self.locations.push(Location { segment, offset: offset as u64 });
                    offset += size;
                }
                Err(Incomplete) if newest && self.read_only => {
                    return Err(StoreError::Corrupt {
                        index,
                        detail: format!(
                            "{} ends with {} bytes that are not a complete record (a torn write, which the server cuts \
                             and keeps aside at its next start, or a damaged length)",
                            path.display(),
                            bytes.len() - offset
                        ),
                    })
                }
                Err(Incomplete) if newest => {
                    self.cut_torn_tail(&file, &bytes[offset..], offset as u64, index)?;
                    bytes.truncate(offset);
                }
                Err(Incomplete) => {
                    return Err(StoreError::Corrupt {
                        index,
                        detail: format!("{} ends inside a record but is not the newest segment", path.display()),
                    })
                }
            }
        }
        self.segments.push(Segment { path, file, len: bytes.len() as u64 });
        Ok(())
    }

    /// Moves the incomplete bytes at the end of the newest segment aside and truncates the file.
    fn cut_torn_tail(&self, file: &File, tail: &[u8], at: u64, index: u64) -> Result<(), StoreError> {
        let aside = self.dir.join(format!("torn-{index}.bin"));
        fs::write(&aside, tail).map_err(io(format!("saving torn tail to {}", aside.display())))?;
        file.set_len(at).map_err(io("cutting a torn tail"))?;
        file.sync_all().map_err(io("syncing after cutting a torn tail"))?;
        tracing::warn!(entry = index, bytes = tail.len(), kept = %aside.display(), "cut a torn write at the end of the log");
        Ok(())
    }

    /// Creates a new, empty newest segment starting at the current length.
    fn start_segment(&mut self) -> Result<(), StoreError> {
        if let Some(last) = self.segments.last() {
            last.file.sync_data().map_err(io(format!("syncing {}", last.path.display())))?;
        }
        let first = self.locations.len() as u64;
        let path = self.dir.join(segment_name(first));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(format!("creating {}", path.display())))?;
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&first.to_le_bytes());
        file.write_all(&header).map_err(io(format!("writing {}", path.display())))?;
        file.sync_all().map_err(io(format!("syncing {}", path.display())))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("syncing the log directory"))?;
        self.segments.push(Segment { path, file, len: HEADER });
        Ok(())
    }
}

/// A record that runs past the end of the bytes it was read from.
struct Incomplete;

/// The size of the complete record at the start of `bytes`.
fn check_record(bytes: &[u8]) -> Result<usize, Incomplete> {
    if bytes.len() < RECORD_HEADER {
        return Err(Incomplete);
    }
    let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    let size = RECORD_HEADER + len;
    // No entry is empty, so a zero length is a hole the file system left after a crash (zeros), and
    // an absurd length a torn header; both only count as torn at the very end of the newest segment.
    if len == 0 || len > MAX_ENTRY || bytes.len() < size {
        return Err(Incomplete);
    }
    Ok(size)
}

/// Checks the CRC of one complete record.
fn check_crc(record: &[u8]) -> Result<(), String> {
    let want = u32::from_le_bytes(record[4..8].try_into().expect("4 bytes"));
    let got = crc32c::crc32c(&record[RECORD_HEADER..]);
    if want != got {
        return Err(format!("checksum {got:08x} where {want:08x} was stored"));
    }
    Ok(())
}

impl LogStore for SegmentStore {
    fn append(&mut self, entry: &[u8]) -> Result<u64, StoreError> {
        if self.read_only {
            return Err(StoreError::Io {
                context: format!("appending to {}", self.dir.display()),
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "the store was opened read-only"),
            });
        }
        if entry.len() > MAX_ENTRY {
            return Err(StoreError::TooLarge { size: entry.len(), limit: MAX_ENTRY });
        }
        if self.segments.last().is_some_and(|s| s.len >= SEGMENT_TARGET) {
            self.start_segment()?;
        }
        let mut record = Vec::with_capacity(RECORD_HEADER + entry.len());
        record.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32c::crc32c(entry).to_le_bytes());
        record.extend_from_slice(entry);
        let segment = self.segments.len() as u32 - 1;
        let active = self.segments.last_mut().expect("a newest segment always exists");
        active.file.write_all_at(&record, active.len).map_err(io(format!("appending to {}", active.path.display())))?;
        self.locations.push(Location { segment, offset: active.len });
        active.len += record.len() as u64;
        Ok(self.locations.len() as u64 - 1)
    }

    fn read(&mut self, index: u64) -> Result<Vec<u8>, StoreError> {
        let len = self.len();
        let loc = *self.locations.get(index as usize).ok_or(StoreError::Missing { index, len })?;
        let segment = &self.segments[loc.segment as usize];
        let mut header = [0u8; RECORD_HEADER];
        segment
            .file
            .read_exact_at(&mut header, loc.offset)
            .map_err(io(format!("reading {}", segment.path.display())))?;
        let size = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        if size > MAX_ENTRY {
            return Err(StoreError::Corrupt { index, detail: format!("record length {size} is impossible") });
        }
        let mut framed = vec![0u8; size + 4];
        framed[..4].copy_from_slice(&header[4..]);
        segment
            .file
            .read_exact_at(&mut framed[4..], loc.offset + RECORD_HEADER as u64)
            .map_err(io(format!("reading {}", segment.path.display())))?;
        super::unframe(index, &framed)
    }

    fn len(&self) -> u64 {
        self.locations.len() as u64
    }

    fn sync_file(&self) -> Result<Option<File>, StoreError> {
        let Some(active) = self.segments.last() else { return Ok(None) };
        active.file.try_clone().map(Some).map_err(io("duplicating the segment handle"))
    }

    fn describe(&self) -> String {
        format!("segment files in {}", self.dir.display())
    }

    fn max_entry(&self) -> usize {
        MAX_ENTRY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry number {i}").into_bytes()).collect()
    }

    #[test]
    fn appends_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SegmentStore::open(dir.path()).unwrap();
        for (i, e) in entries(100).iter().enumerate() {
            assert_eq!(store.append(e).unwrap(), i as u64);
        }
        drop(store);
        let mut store = SegmentStore::open(dir.path()).unwrap();
        assert_eq!(store.len(), 100);
        for (i, e) in entries(100).iter().enumerate() {
            assert_eq!(&store.read(i as u64).unwrap(), e);
        }
        assert!(matches!(store.read(100), Err(StoreError::Missing { .. })));
    }

    #[test]
    fn torn_tail_is_cut_and_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SegmentStore::open(dir.path()).unwrap();
        for e in entries(3) {
            store.append(&e).unwrap();
        }
        let path = store.segments[0].path.clone();
        drop(store);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[40, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(file);
        let mut store = SegmentStore::open(dir.path()).unwrap();
        assert_eq!(store.len(), 3);
        assert!(dir.path().join("torn-3.bin").exists());
        assert_eq!(store.append(b"after").unwrap(), 3);
        drop(store);
        assert_eq!(SegmentStore::open(dir.path()).unwrap().read(3).unwrap(), b"after");
    }

    #[test]
    fn flipped_byte_is_corruption_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SegmentStore::open(dir.path()).unwrap();
        for e in entries(5) {
            store.append(&e).unwrap();
        }
        let path = store.segments[0].path.clone();
        drop(store);
        let mut bytes = fs::read(&path).unwrap();
        let at = HEADER as usize + RECORD_HEADER + 3;
        bytes[at] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let err = SegmentStore::open(dir.path()).err().expect("corruption must be reported");
        assert!(matches!(err, StoreError::Corrupt { index: 0, .. }), "{err}");
    }
}
