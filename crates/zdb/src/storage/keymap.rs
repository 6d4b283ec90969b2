//! The in-memory table of user keys, built to be small: zdb holds every
//! key of every namespace in RAM, so bytes per key decide how many keys a
//! node can serve.
//!
//! Layout: a `hashbrown::HashTable<u32>` maps a key's hash to a slot
//! number (4 bytes + 1 control byte per bucket); slots live in fixed-size
//! chunks (no doubling of one huge vector) and hold the key (inline up to
//! 22 bytes, else boxed) and the 24-byte location of its live version.
//! Freed slots are reused. About 60 bytes per 16-byte key in all, against
//! ~130 for a `HashMap<Box<[u8]>, Entry>`.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use super::namespace::Entry;
use crate::format::IndexLoc;

/// Slots per chunk: 64 Ki slots of 48 bytes = 3 MiB.
const CHUNK: usize = 1 << 16;
/// Longest key stored inline in its slot.
const INLINE: usize = 22;

/// A key, inline when short.
#[derive(Clone, Debug)]
enum StoredKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl StoredKey {
    fn new(key: &[u8]) -> StoredKey {
        if key.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            StoredKey::Inline { len: key.len() as u8, bytes }
        } else {
            StoredKey::Heap(key.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            StoredKey::Inline { len, bytes } => &bytes[..*len as usize],
            StoredKey::Heap(b) => b,
        }
    }

    const EMPTY: StoredKey = StoredKey::Inline { len: 0, bytes: [0; INLINE] };
}

/// Where a user key's live version is (user mode: the data file is the
/// index file's pair, so it is not stored).
#[derive(Clone, Copy, Debug)]
struct Location {
    index_file: u32,
    index_offset: u32,
    data_offset: u32,
    length: u32,
    crc: u32,
    timestamp: u32,
}

impl Location {
    fn from_entry(e: &Entry) -> Location {
        debug_assert_eq!(e.data_file, e.index.file, "user keys live in the pair of their index file");
        Location {
            index_file: e.index.file,
            index_offset: e.index.offset,
            data_offset: e.data_offset,
            length: e.length,
            crc: e.crc,
            timestamp: e.timestamp,
        }
    }

    fn entry(&self) -> Entry {
        Entry {
            index: IndexLoc { file: self.index_file, offset: self.index_offset },
            data_file: self.index_file,
            data_offset: self.data_offset,
            length: self.length,
            crc: self.crc,
            timestamp: self.timestamp,
            deleted: false,
        }
    }
}

#[derive(Clone, Debug)]
struct Slot {
    key: StoredKey,
    loc: Location,
}

/// User key → live entry.
#[derive(Debug, Default)]
pub struct KeyMap {
    table: HashTable<u32>,
    chunks: Vec<Vec<Slot>>,
    free: Vec<u32>,
    hasher: DefaultHashBuilder,
}

impl KeyMap {
    pub fn new() -> KeyMap {
        KeyMap::default()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn slot(&self, i: u32) -> &Slot {
        slot_in(&self.chunks, i)
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot {
        &mut self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }

    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        let hash = self.hasher.hash_one(key);
        let i = *self.table.find(hash, |&i| self.slot(i).key.as_bytes() == key)?;
        Some(self.slot(i).loc.entry())
    }

    /// Sets the live entry of `key`, returning the one it replaces.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let loc = Location::from_entry(&entry);
        let hash = self.hasher.hash_one(key);
        let chunks = &self.chunks;
        if let Some(&i) = self.table.find(hash, |&i| slot_in(chunks, i).key.as_bytes() == key) {
            let slot = self.slot_mut(i);
            return Some(std::mem::replace(&mut slot.loc, loc).entry());
        }
        let i = self.alloc(Slot { key: StoredKey::new(key), loc });
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(slot_in(chunks, j).key.as_bytes()));
        None
    }

    /// Forgets `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.hasher.hash_one(key);
        let chunks = &self.chunks;
        let found = self.table.find_entry(hash, |&i| slot_in(chunks, i).key.as_bytes() == key).ok()?;
        let (i, _) = found.remove();
        let slot = self.slot_mut(i);
        let old = slot.loc.entry();
        slot.key = StoredKey::EMPTY;
        self.free.push(i);
        Some(old)
    }

    fn alloc(&mut self, slot: Slot) -> u32 {
        if let Some(i) = self.free.pop() {
            *self.slot_mut(i) = slot;
            return i;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let i = (self.chunks.len() - 1) * CHUNK + self.chunks.last().map_or(0, Vec::len);
        self.chunks.last_mut().expect("just ensured").push(slot);
        i as u32
    }

    /// Every live key (KSCAN).
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.table.iter().map(|&i| self.slot(i).key.as_bytes())
    }
}

fn slot_in(chunks: &[Vec<Slot>], i: u32) -> &Slot {
    &chunks[i as usize / CHUNK][i as usize % CHUNK]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> Entry {
        Entry {
            index: IndexLoc { file: n % 3, offset: n },
            data_file: n % 3,
            data_offset: n,
            length: n,
            crc: n,
            timestamp: n,
            deleted: false,
        }
    }

    #[test]
    fn behaves_like_a_map() {
        let mut map = KeyMap::new();
        let mut model = std::collections::HashMap::new();
        for n in 0..50_000u32 {
            let key = format!("key-{}", n % 7000).repeat(1 + (n % 5) as usize).into_bytes();
            if n % 4 == 3 {
                assert_eq!(map.remove(&key), model.remove(&key));
            } else {
                assert_eq!(map.insert(&key, entry(n)), model.insert(key.clone(), entry(n)));
            }
            assert_eq!(map.len(), model.len());
        }
        for (k, e) in &model {
            assert_eq!(map.get(k), Some(*e));
        }
        assert_eq!(map.keys().count(), model.len());
        assert_eq!(map.get(b"absent"), None);
    }
}
