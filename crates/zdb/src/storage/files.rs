//! The index and data files of one namespace: naming, creation, lazily
//! opened handles, and the bookkeeping of the active (newest) pair.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::format::{self, Mode};
use crate::hooks::Hooks;

/// Which of the two files of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Index,
    Data,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Index => "i",
            Kind::Data => "d",
        }
    }
}

/// Handles on a namespace's files. File id N of the index always pairs
/// with file id N of the data; only the highest pair (`current`) is written
/// to, older files are read-only except for in-place index flag updates.
#[derive(Debug)]
pub struct FileSet {
    pub index_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Id of the active pair.
    pub current: u32,
    /// Length of the active index file: where the next entry goes
    /// (buffered bytes included).
    pub index_len: u64,
    /// Length of the active data file: where the next entry goes
    /// (buffered bytes included).
    pub data_len: u64,
    /// Appends to the active pair not written yet: the tail of the file
    /// from `len - pending.len()`. Written by [`FileSet::flush`], which
    /// runs before any reply acknowledges them and before anything reads
    /// the files (see `NsState::flush`).
    index_pending: Vec<u8>,
    data_pending: Vec<u8>,
    /// In-place index updates (flags, sequential slots) of bytes already
    /// written, held until the buffered appends are written: a successor
    /// must be on disk before the flag that retires its predecessor.
    deferred: Vec<(u32, u64, Vec<u8>)>,
    index: Vec<Option<Arc<File>>>,
    data: Vec<Option<Arc<File>>>,
    /// `missing-data`: asked to restore an offloaded data file.
    hooks: Arc<Hooks>,
}

impl FileSet {
    pub fn new(index_dir: PathBuf, data_dir: PathBuf, hooks: Arc<Hooks>) -> FileSet {
        FileSet {
            index_dir,
            data_dir,
            current: 0,
            index_len: 0,
            data_len: 0,
            index: Vec::new(),
            data: Vec::new(),
            index_pending: Vec::new(),
            data_pending: Vec::new(),
            deferred: Vec::new(),
            hooks,
        }
    }

    pub fn path(&self, kind: Kind, id: u32) -> PathBuf {
        let dir = match kind {
            Kind::Index => &self.index_dir,
            Kind::Data => &self.data_dir,
        };
        dir.join(format!("{}{}", kind.prefix(), id))
    }

    /// Ids of the existing files of one kind, ascending.
    pub fn list(&self, kind: Kind) -> io::Result<Vec<u32>> {
        let dir = match kind {
            Kind::Index => &self.index_dir,
            Kind::Data => &self.data_dir,
        };
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(rest) = name.strip_prefix(kind.prefix()) {
                if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(id) = rest.parse::<u32>() {
                        ids.push(id);
                    }
                }
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn slot(&mut self, kind: Kind, id: u32) -> &mut Option<Arc<File>> {
        let table = match kind {
            Kind::Index => &mut self.index,
            Kind::Data => &mut self.data,
        };
        let i = id as usize;
        if table.len() <= i {
            table.resize(i + 1, None);
        }
        &mut table[i]
    }

    /// The open handle of an existing file (opened on first use).
    pub fn get(&mut self, kind: Kind, id: u32) -> io::Result<Arc<File>> {
        let path = self.path(kind, id);
        let slot = self.slot(kind, id);
        if let Some(f) = slot {
            return Ok(f.clone());
        }
        let open = || OpenOptions::new().read(true).write(true).open(&path);
        let f = match open() {
            // An offloaded data file: the missing-data hook may bring it
            // back (exit 0 means "restored, open it again").
            Err(e) if e.kind() == io::ErrorKind::NotFound && kind == Kind::Data && self.hooks.enabled() => {
                match self.hooks.run_blocking("missing-data", &[&path.display().to_string()]) {
                    Ok(true) => open()?,
                    _ => return Err(e),
                }
            }
            other => other?,
        };
        let f = Arc::new(f);
        *self.slot(kind, id) = Some(f.clone());
        Ok(f)
    }

    /// Creates (or empties) file `id` with its header and returns it.
    pub fn create(&mut self, kind: Kind, id: u32, mode: Mode) -> io::Result<Arc<File>> {
        let path = self.path(kind, id);
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        match kind {
            Kind::Index => f.write_all_at(&format::index_header(id, mode), 0)?,
            Kind::Data => f.write_all_at(&format::data_header(id), 0)?,
        }
        let f = Arc::new(f);
        *self.slot(kind, id) = Some(f.clone());
        Ok(f)
    }

    /// Buffers `bytes` at the end of the active file of `kind`; returns
    /// their offset.
    pub fn append(&mut self, kind: Kind, bytes: &[u8]) -> u64 {
        let (len, pending) = match kind {
            Kind::Index => (&mut self.index_len, &mut self.index_pending),
            Kind::Data => (&mut self.data_len, &mut self.data_pending),
        };
        let at = *len;
        pending.extend_from_slice(bytes);
        *len += bytes.len() as u64;
        at
    }

    /// Bytes buffered and not yet written.
    pub fn pending(&self) -> usize {
        self.index_pending.len() + self.data_pending.len() + self.deferred.len()
    }

    /// Drops buffered bytes from `at` on (an append that must not happen).
    pub fn unappend(&mut self, kind: Kind, at: u64) {
        let (len, pending) = match kind {
            Kind::Index => (&mut self.index_len, &mut self.index_pending),
            Kind::Data => (&mut self.data_len, &mut self.data_pending),
        };
        let start = *len - pending.len() as u64;
        if at >= start {
            pending.truncate((at - start) as usize);
            *len = at;
        }
    }

    /// Writes the buffered appends: data first, since index entries point
    /// into it, then the deferred in-place updates. On error the buffers are
    /// dropped and the files cut back to what was written before; the
    /// caller must not acknowledge anything.
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_appends()?;
        for (id, offset, bytes) in std::mem::take(&mut self.deferred) {
            self.get(Kind::Index, id)?.write_all_at(&bytes, offset)?;
        }
        Ok(())
    }

    fn flush_appends(&mut self) -> io::Result<()> {
        for kind in [Kind::Data, Kind::Index] {
            let (len, pending) = match kind {
                Kind::Index => (self.index_len, std::mem::take(&mut self.index_pending)),
                Kind::Data => (self.data_len, std::mem::take(&mut self.data_pending)),
            };
            if pending.is_empty() {
                continue;
            }
            let start = len - pending.len() as u64;
            let file = self.get(kind, self.current)?;
            if let Err(e) = file.write_all_at(&pending, start) {
                let _ = file.set_len(start);
                match kind {
                    Kind::Index => self.index_len = start,
                    Kind::Data => self.data_len = start,
                }
                if kind == Kind::Data {
                    self.index_len -= self.index_pending.len() as u64;
                    self.index_pending.clear();
                }
                self.deferred.clear();
                return Err(e);
            }
            // Keep a modest buffer for the next batch, give big ones back.
            let mut pending = pending;
            if pending.capacity() <= 1 << 20 {
                pending.clear();
                match kind {
                    Kind::Index => self.index_pending = pending,
                    Kind::Data => self.data_pending = pending,
                }
            }
        }
        Ok(())
    }

    /// Overwrites bytes of an index entry in place (flags, a sequential
    /// slot), in the buffer when they have not been written yet.
    pub fn write_index_at(&mut self, id: u32, offset: u64, bytes: &[u8]) -> io::Result<()> {
        if id == self.current {
            let start = self.index_len - self.index_pending.len() as u64;
            if offset >= start {
                let at = (offset - start) as usize;
                self.index_pending[at..at + bytes.len()].copy_from_slice(bytes);
                return Ok(());
            }
            if offset + bytes.len() as u64 > start {
                self.flush()?;
            }
        }
        if self.index_pending.is_empty() && self.data_pending.is_empty() {
            self.get(Kind::Index, id)?.write_all_at(bytes, offset)
        } else {
            self.deferred.push((id, offset, bytes.to_vec()));
            Ok(())
        }
    }

    /// Forgets every handle (before files are removed or reloaded).
    pub fn close_all(&mut self) {
        self.index.clear();
        self.data.clear();
    }

    /// Removes every index and data file of the namespace.
    pub fn remove_all(&mut self) -> io::Result<()> {
        self.close_all();
        for kind in [Kind::Index, Kind::Data] {
            for id in self.list(kind)? {
                fs::remove_file(self.path(kind, id))?;
            }
        }
        Ok(())
    }

    /// Renames a damaged index file aside so it is kept for inspection but
    /// no longer loaded.
    pub fn set_aside(&mut self, kind: Kind, id: u32) -> io::Result<()> {
        *self.slot(kind, id) = None;
        let from = self.path(kind, id);
        let mut to = from.clone().into_os_string();
        to.push(format!(".damaged-{}", crate::unix_now()));
        fs::rename(&from, Path::new(&to))
    }

    /// Handles of the active pair (index, data): what a durable write syncs.
    pub fn active(&mut self) -> io::Result<(Arc<File>, Arc<File>)> {
        let id = self.current;
        Ok((self.get(Kind::Index, id)?, self.get(Kind::Data, id)?))
    }
}
