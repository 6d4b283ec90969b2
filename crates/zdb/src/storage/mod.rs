//! The storage engine: namespaces of always-append index and data files.
//!
//! [`Store`] owns the data and index roots and the set of namespaces;
//! [`Namespace`] wraps one namespace's state behind a mutex. The network
//! side never touches files directly: it asks a namespace.

pub mod files;
pub mod keymap;
pub mod namespace;
pub mod recovery;
pub mod scan;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use anyhow::{bail, Context};
use tokio::sync::broadcast;

use crate::format::{Descriptor, Mode, DESCRIPTOR_FILE};
use files::FileSet;
pub use namespace::{Entry, NsState, ReadError, SetOutcome, StoreOptions, WriteError};

/// A namespace-level change, as replication streams forward it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsEvent {
    /// Created, or its properties changed.
    Changed(String),
    Deleted(String),
    /// Emptied by FLUSH.
    Flushed(String),
}

/// The namespace every server has, which cannot be removed.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One namespace, shared by every client that selected it.
#[derive(Debug)]
pub struct Namespace {
    pub name: String,
    state: Mutex<NsState>,
    /// Set when NSDEL removed it: clients still holding it must leave.
    gone: AtomicBool,
    /// Names of the commands run in this namespace, for WAIT.
    events: broadcast::Sender<&'static str>,
    /// Clients in WAIT here; commands skip the broadcast when there are none.
    waiters: AtomicUsize,
    /// `--sync` group commit: how far writes are durable.
    durable: Mutex<Durable>,
    /// Woken when a group commit ends.
    synced: tokio::sync::Notify,
}

/// Group commit state: one client at a time runs the fdatasync (the
/// leader); the others wait for it and find their writes covered.
#[derive(Debug, Default)]
struct Durable {
    /// Every write numbered up to this is on disk.
    seq: u64,
    /// A leader is syncing right now.
    syncing: bool,
}

/// A WAIT subscription; dropping it unregisters the waiter.
#[derive(Debug)]
pub struct Watch {
    ns: Arc<Namespace>,
    pub rx: broadcast::Receiver<&'static str>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.ns.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Namespace {
    fn new(state: NsState) -> Namespace {
        let (events, _) = broadcast::channel(64);
        Namespace {
            name: state.desc.name.clone(),
            state: Mutex::new(state),
            gone: AtomicBool::new(false),
            events,
            waiters: AtomicUsize::new(0),
            durable: Mutex::new(Durable::default()),
            synced: tokio::sync::Notify::new(),
        }
    }

    /// Locks the namespace state. A panic while holding the lock cannot
    /// leave the files inconsistent (every write is append-then-publish),
    /// so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, NsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    /// Tells WAITing clients that `command` ran here.
    pub fn notify(&self, command: &'static str) {
        if self.waiters.load(Ordering::Acquire) > 0 {
            let _ = self.events.send(command);
        }
    }

    /// Returns once write number `seq` (see `NsState::write_seq`) is on
    /// disk. The first caller to find no sync running becomes the leader
    /// and fdatasyncs every file written so far, covering all writes up to
    /// that point; the others wait and re-check. An error means the writes
    /// may not be durable: they must not be acknowledged.
    pub async fn wait_durable(&self, seq: u64) -> io::Result<()> {
        loop {
            let notified = self.synced.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lead = {
                let mut d = self.durable.lock().unwrap_or_else(|p| p.into_inner());
                if d.seq >= seq {
                    return Ok(());
                }
                let lead = !d.syncing;
                d.syncing = true;
                lead
            };
            if lead {
                let result = self.group_commit().await;
                self.synced.notify_waiters();
                result?;
                continue;
            }
            notified.await;
        }
    }

    async fn group_commit(&self) -> io::Result<()> {
        let taken = self.lock().take_unsynced();
        let (files, target) = match taken {
            Ok(taken) => taken,
            Err(e) => {
                self.durable.lock().unwrap_or_else(|p| p.into_inner()).syncing = false;
                return Err(e);
            }
        };
        let synced = tokio::task::spawn_blocking(move || {
            let result = files.iter().try_for_each(|f| f.sync_data());
            (files, result)
        })
        .await;
        let outcome = match synced {
            Ok((_, Ok(()))) => Ok(()),
            Ok((files, Err(e))) => {
                tracing::error!(namespace = %self.name, "fdatasync failed: {e}");
                self.lock().return_unsynced(files);
                Err(e)
            }
            Err(e) => Err(io::Error::other(e)),
        };
        let mut d = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        d.syncing = false;
        if outcome.is_ok() {
            d.seq = d.seq.max(target);
        }
        outcome
    }

    /// Starts watching the commands run here (WAIT).
    pub fn watch(self: &Arc<Self>) -> Watch {
        self.waiters.fetch_add(1, Ordering::AcqRel);
        Watch { ns: self.clone(), rx: self.events.subscribe() }
    }
}

/// All namespaces of one server, and the directories they live in.
#[derive(Debug)]
pub struct Store {
    pub index_root: PathBuf,
    pub data_root: PathBuf,
    pub opts: Arc<StoreOptions>,
    namespaces: RwLock<BTreeMap<String, Arc<Namespace>>>,
    /// Namespace-level changes, in order, for replication streams.
    pub events: broadcast::Sender<NsEvent>,
    /// Held for the life of the store: one server per directory pair.
    _locks: (File, File),
}

impl Store {
    /// Opens every namespace under the two roots (creating `default`).
    pub fn open(index_root: &Path, data_root: &Path, opts: StoreOptions) -> anyhow::Result<Store> {
        if index_root == data_root {
            bail!("--index and --data must be different directories");
        }
        for dir in [index_root, data_root] {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let locks = (lock_dir(index_root)?, lock_dir(data_root)?);
        let store = Store {
            index_root: index_root.to_path_buf(),
            data_root: data_root.to_path_buf(),
            opts: Arc::new(opts),
            namespaces: RwLock::new(BTreeMap::new()),
            events: broadcast::channel(1024).0,
            _locks: locks,
        };
        let mut names = vec![DEFAULT_NAMESPACE.to_string()];
        for entry in fs::read_dir(index_root)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                if let Some(name) = entry.file_name().to_str() {
                    if name != DEFAULT_NAMESPACE && valid_name(name) {
                        names.push(name.to_string());
                    }
                }
            }
        }
        for name in names {
            let ns = store.load(&name).with_context(|| format!("cannot open namespace '{name}'"))?;
            store.write_map().insert(name, Arc::new(Namespace::new(ns)));
        }
        Ok(store)
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Namespace>>> {
        self.namespaces.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_map(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Namespace>>> {
        self.namespaces.write().unwrap_or_else(|p| p.into_inner())
    }

    fn dirs(&self, name: &str) -> (PathBuf, PathBuf) {
        (self.index_root.join(name), self.data_root.join(name))
    }

    /// Reads a namespace from disk (descriptor, index, data).
    fn load(&self, name: &str) -> anyhow::Result<NsState> {
        let (index_dir, data_dir) = self.dirs(name);
        fs::create_dir_all(&index_dir)?;
        fs::create_dir_all(&data_dir)?;
        let desc_path = index_dir.join(DESCRIPTOR_FILE);
        let desc = match fs::read(&desc_path) {
            Ok(bytes) => Descriptor::decode(&bytes).with_context(|| format!("{} is damaged", desc_path.display()))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let desc = Descriptor::new(name);
                write_descriptor(&index_dir, &desc)?;
                desc
            }
            Err(e) => return Err(e.into()),
        };
        let files = FileSet::new(index_dir, data_dir, self.opts.hooks.clone());
        recovery::open(desc, files, self.opts.clone(), Mode::User)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Namespace>> {
        self.read_map().get(name).cloned()
    }

    pub fn default_ns(&self) -> Arc<Namespace> {
        self.get(DEFAULT_NAMESPACE).expect("the default namespace always exists")
    }

    /// Names, `default` first.
    pub fn names(&self) -> Vec<String> {
        let map = self.read_map();
        let mut names = vec![DEFAULT_NAMESPACE.to_string()];
        names.extend(map.keys().filter(|n| n.as_str() != DEFAULT_NAMESPACE).cloned());
        names
    }

    pub fn all(&self) -> Vec<Arc<Namespace>> {
        self.read_map().values().cloned().collect()
    }

    /// NSNEW: creates an empty namespace. The caller validated the name.
    pub fn create(&self, name: &str) -> anyhow::Result<Arc<Namespace>> {
        let mut map = self.write_map();
        if map.contains_key(name) {
            bail!("exists");
        }
        let (index_dir, data_dir) = self.dirs(name);
        // Leftovers of a namespace removed while files were open elsewhere
        // must not resurface.
        let _ = fs::remove_dir_all(&index_dir);
        let _ = fs::remove_dir_all(&data_dir);
        let state = self.load(name)?;
        let ns = Arc::new(Namespace::new(state));
        map.insert(name.to_string(), ns.clone());
        let _ = self.events.send(NsEvent::Changed(name.to_string()));
        Ok(ns)
    }

    /// NSDEL: forgets the namespace and removes its files.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let ns = self.write_map().remove(name).context("not found")?;
        ns.gone.store(true, Ordering::Release);
        let mut st = ns.lock();
        st.files.close_all();
        let (index_dir, data_dir) = self.dirs(name);
        fs::remove_dir_all(index_dir)?;
        fs::remove_dir_all(data_dir)?;
        let _ = self.events.send(NsEvent::Deleted(name.to_string()));
        Ok(())
    }

    /// RELOAD: re-reads a namespace from disk, in place.
    pub fn reload(&self, ns: &Namespace) -> anyhow::Result<()> {
        let mut st = ns.lock();
        let (locked, frozen) = (st.locked, st.frozen);
        let _ = st.flush();
        st.files.close_all();
        *st = self.load(&ns.name)?;
        st.locked = locked;
        st.frozen = frozen;
        Ok(())
    }

    /// FLUSH: removes every key, file and history of a namespace.
    pub fn flush(&self, ns: &Namespace) -> anyhow::Result<()> {
        let mut st = ns.lock();
        let mode = st.mode;
        st.files.remove_all()?;
        let (desc, locked, frozen) = (st.desc.clone(), st.locked, st.frozen);
        let files = FileSet::new(st.files.index_dir.clone(), st.files.data_dir.clone(), self.opts.hooks.clone());
        *st = recovery::open(desc, files, self.opts.clone(), mode)?;
        st.locked = locked;
        st.frozen = frozen;
        let _ = self.events.send(NsEvent::Flushed(ns.name.clone()));
        Ok(())
    }

    /// Persists a namespace's properties (after NSSET).
    pub fn save_descriptor(&self, st: &NsState) -> io::Result<()> {
        write_descriptor(&st.files.index_dir, &st.desc)?;
        let _ = self.events.send(NsEvent::Changed(st.desc.name.clone()));
        Ok(())
    }

    /// Makes everything written so far durable (shutdown).
    pub fn sync_all(&self) {
        for ns in self.all() {
            if let Err(e) = ns.lock().sync_active() {
                tracing::error!(namespace = %ns.name, "fdatasync failed: {e}");
            }
        }
    }
}

/// A namespace name that is safe as a directory name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// Replaces the descriptor atomically (write a temporary file, rename).
fn write_descriptor(index_dir: &Path, desc: &Descriptor) -> io::Result<()> {
    let tmp = index_dir.join(format!("{DESCRIPTOR_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(&desc.encode())?;
    f.sync_all()?;
    fs::rename(&tmp, index_dir.join(DESCRIPTOR_FILE))?;
    File::open(index_dir)?.sync_all()
}

/// Takes the directory's `.lockfile` so that a second server fails fast.
fn lock_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(".lockfile");
    let f = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a valid, owned file descriptor.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        bail!("an instance of zdb is already using {} (lock held on {})", dir.display(), path.display());
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{IndexRecord, INDEX_ENTRY_FIXED, INDEX_HEADER_SIZE};

    fn store(dir: &Path) -> Store {
        let opts = StoreOptions {
            datasize: 256 << 20,
            sync: false,
            synctime: 0,
            forced_mode: None,
            hooks: Arc::new(crate::hooks::Hooks::default()),
            appended: Default::default(),
        };
        Store::open(&dir.join("index"), &dir.join("data"), opts).unwrap()
    }

    /// Flags byte of the first index entry of default/i0, as on disk.
    fn first_entry_flags(dir: &Path) -> u8 {
        let bytes = fs::read(dir.join("index/default/i0")).unwrap();
        let at = INDEX_HEADER_SIZE as usize;
        IndexRecord::decode(&bytes[at..at + INDEX_ENTRY_FIXED]).flags
    }

    #[test]
    fn a_superseded_entry_is_flagged_only_after_its_successor_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store(tmp.path());
        let ns = store.default_ns();
        let mut st = ns.lock();
        st.set(b"k", b"v1", None).unwrap();
        st.flush().unwrap();
        st.set(b"k", b"v2", None).unwrap();
        // The new version is still buffered: the old one must stay live on
        // disk, or a crash now would leave neither.
        assert_eq!(first_entry_flags(tmp.path()), 0);
        let index_len = fs::metadata(tmp.path().join("index/default/i0")).unwrap().len();
        assert_eq!(index_len, INDEX_HEADER_SIZE as u64 + INDEX_ENTRY_FIXED as u64 + 1);
        st.flush().unwrap();
        assert_eq!(first_entry_flags(tmp.path()), crate::format::FLAG_DELETED);
        drop(st);
        drop(store);
        let store = self::tests::store(tmp.path());
        let ns = store.default_ns();
        let mut st = ns.lock();
        let entry = st.lookup(b"k").unwrap();
        let file = st.data_file(entry.data_file).unwrap();
        assert_eq!(&*namespace::read_payload(&file, &entry, b"k").unwrap(), b"v2");
    }
}
