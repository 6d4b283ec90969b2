//! The on-disk format, byte for byte compatible with 0-db v2 (`data_version`
//! 3, `index_version` 4), so data directories move between the original and
//! this server in both directions. All integers are little-endian and structs
//! are packed.
//!
//! Per namespace `<ns>`:
//!
//! ```text
//! <index>/<ns>/zdb-namespace   descriptor (properties)
//! <index>/<ns>/i0, i1, …       index files
//! <data>/<ns>/d0, d1, …        data files; index file N always pairs with data file N
//! ```
//!
//! **Index file** = header (29 B) + entries.
//!
//! ```text
//! header  0  magic "IDX0"        entry  0  key_len u8
//!         4  version u32 = 4            1  data_offset u32   (offset of the data entry)
//!         8  created u64 = 0            5  length u32        (payload length)
//!        16  opened u64 = 0             9  previous u32      (offset of the previous index entry;
//!        24  file_id u32                                       >= own offset: in the previous file)
//!        28  mode u8 (0 user, 1 seq)   13  flags u8          (1 deleted or superseded)
//!                                      14  data_id u32       (data file; user mode: see below)
//!                                      18  timestamp u32
//!                                      22  crc u32           (CRC32C of the payload)
//!                                      26  parent_id u32     (index file of the previous version)
//!                                      30  parent_offset u32 (0/0: no previous version)
//!                                      34  key
//! ```
//!
//! In user mode the data file of an entry is always the index file it sits in
//! (the original writes `data_id = 0` for new keys, and its HISTORY reads the
//! wrong file because of it; we write the true id and never trust it in user
//! mode). In sequential mode every slot is 42 bytes (8-byte key: the id) and
//! `data_id` names the data file.
//!
//! **Data file** = header (28 B) + entries.
//!
//! ```text
//! header  0  magic "DAT0"        entry  0  key_len u8
//!         4  version u32 = 3            1  length u32        (payload length)
//!         8  created u64 = 0            5  previous u32      (offset of the previous data entry,
//!        16  opened u64 = 0                                    carried across files)
//!        24  file_id u32                9  crc u32           (CRC32C of the payload, 0 for tombstones)
//!                                      13  flags u8          (1 tombstone, 2 truncated)
//!                                      14  timestamp u32
//!                                      18  key, then payload
//! ```
//!
//! **Descriptor** `zdb-namespace`: version u32 = 1, name_len u8, password_len
//! u8, maxsize u64, flags u8 (1 public, 2 worm, 4 extended: always set), then
//! the name and the password bytes.
//!
//! Neither index entries nor headers carry a checksum of their own; the
//! data entry's CRC is what proves a payload. Every read checks the data
//! entry against its index entry and the payload against the CRC.

use crate::crc::crc32c;

pub const INDEX_MAGIC: &[u8; 4] = b"IDX0";
pub const INDEX_VERSION: u32 = 4;
pub const INDEX_HEADER_SIZE: u32 = 29;
pub const INDEX_ENTRY_FIXED: usize = 34;

pub const DATA_MAGIC: &[u8; 4] = b"DAT0";
pub const DATA_VERSION: u32 = 3;
pub const DATA_HEADER_SIZE: u32 = 28;
pub const DATA_ENTRY_FIXED: usize = 18;

/// Size of one sequential-mode index slot (fixed part + 8-byte id).
pub const SEQ_SLOT_SIZE: u32 = INDEX_ENTRY_FIXED as u32 + 8;
/// Offset of the flags byte inside an index entry, for in-place updates.
pub const INDEX_FLAGS_AT: u64 = 13;

/// Entry flag: deleted (data tombstone) or superseded (index entry).
pub const FLAG_DELETED: u8 = 1;

pub const DESCRIPTOR_VERSION: u32 = 1;
pub const DESCRIPTOR_FILE: &str = "zdb-namespace";
const DESC_PUBLIC: u8 = 1;
const DESC_WORM: u8 = 2;
const DESC_EXTENDED: u8 = 4;

/// Why bytes on disk could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("file too short for a header")]
    ShortHeader,
    #[error("bad magic {0:?}")]
    BadMagic([u8; 4]),
    #[error("unsupported version {0}")]
    BadVersion(u32),
    #[error("bad namespace descriptor")]
    BadDescriptor,
}

/// How keys are chosen in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Clients choose binary keys of 1 to 255 bytes.
    User,
    /// The server allocates 8-byte little-endian ids.
    Seq,
}

impl Mode {
    fn byte(self) -> u8 {
        match self {
            Mode::User => 0,
            Mode::Seq => 1,
        }
    }

    /// The name NSINFO prints.
    pub fn info_name(self) -> &'static str {
        match self {
            Mode::User => "userkey",
            Mode::Seq => "sequential",
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Encodes an index file header.
pub fn index_header(file_id: u32, mode: Mode) -> [u8; INDEX_HEADER_SIZE as usize] {
    let mut h = [0u8; INDEX_HEADER_SIZE as usize];
    h[..4].copy_from_slice(INDEX_MAGIC);
    h[4..8].copy_from_slice(&INDEX_VERSION.to_le_bytes());
    h[24..28].copy_from_slice(&file_id.to_le_bytes());
    h[28] = mode.byte();
    h
}

/// Decodes an index header, returning the mode it records.
pub fn parse_index_header(b: &[u8]) -> Result<Mode, FormatError> {
    if b.len() < INDEX_HEADER_SIZE as usize {
        return Err(FormatError::ShortHeader);
    }
    if &b[..4] != INDEX_MAGIC {
        return Err(FormatError::BadMagic(b[..4].try_into().unwrap()));
    }
    let version = u32_at(b, 4);
    if version != INDEX_VERSION {
        return Err(FormatError::BadVersion(version));
    }
    Ok(if b[28] == 1 { Mode::Seq } else { Mode::User })
}

/// Encodes a data file header.
pub fn data_header(file_id: u32) -> [u8; DATA_HEADER_SIZE as usize] {
    let mut h = [0u8; DATA_HEADER_SIZE as usize];
    h[..4].copy_from_slice(DATA_MAGIC);
    h[4..8].copy_from_slice(&DATA_VERSION.to_le_bytes());
    h[24..28].copy_from_slice(&file_id.to_le_bytes());
    h
}

/// Checks a data file header.
pub fn parse_data_header(b: &[u8]) -> Result<(), FormatError> {
    if b.len() < DATA_HEADER_SIZE as usize {
        return Err(FormatError::ShortHeader);
    }
    if &b[..4] != DATA_MAGIC {
        return Err(FormatError::BadMagic(b[..4].try_into().unwrap()));
    }
    let version = u32_at(b, 4);
    if version != DATA_VERSION {
        return Err(FormatError::BadVersion(version));
    }
    Ok(())
}

/// The fixed part of an index entry (everything but the key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexRecord {
    pub key_len: u8,
    pub data_offset: u32,
    pub length: u32,
    pub previous: u32,
    pub flags: u8,
    pub data_id: u32,
    pub timestamp: u32,
    pub crc: u32,
    pub parent_id: u32,
    pub parent_offset: u32,
}

impl IndexRecord {
    /// Appends the entry (fixed part then key) to `out`.
    pub fn encode(&self, key: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(key.len(), self.key_len as usize);
        out.push(self.key_len);
        out.extend_from_slice(&self.data_offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.previous.to_le_bytes());
        out.push(self.flags);
        out.extend_from_slice(&self.data_id.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&self.parent_id.to_le_bytes());
        out.extend_from_slice(&self.parent_offset.to_le_bytes());
        out.extend_from_slice(key);
    }

    /// Decodes the fixed part; `b` must hold at least 34 bytes.
    pub fn decode(b: &[u8]) -> IndexRecord {
        IndexRecord {
            key_len: b[0],
            data_offset: u32_at(b, 1),
            length: u32_at(b, 5),
            previous: u32_at(b, 9),
            flags: b[13],
            data_id: u32_at(b, 14),
            timestamp: u32_at(b, 18),
            crc: u32_at(b, 22),
            parent_id: u32_at(b, 26),
            parent_offset: u32_at(b, 30),
        }
    }

    /// Size of the whole entry on disk.
    pub fn size(&self) -> u32 {
        INDEX_ENTRY_FIXED as u32 + self.key_len as u32
    }
}

/// The fixed part of a data entry (everything but key and payload).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataRecord {
    pub key_len: u8,
    pub length: u32,
    pub previous: u32,
    pub crc: u32,
    pub flags: u8,
    pub timestamp: u32,
}

impl DataRecord {
    /// Appends the entry (fixed part, key, payload) to `out`.
    pub fn encode(&self, key: &[u8], payload: &[u8], out: &mut Vec<u8>) {
        out.push(self.key_len);
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.previous.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.push(self.flags);
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(payload);
    }

    /// Decodes the fixed part; `b` must hold at least 18 bytes.
    pub fn decode(b: &[u8]) -> DataRecord {
        DataRecord {
            key_len: b[0],
            length: u32_at(b, 1),
            previous: u32_at(b, 5),
            crc: u32_at(b, 9),
            flags: b[13],
            timestamp: u32_at(b, 14),
        }
    }

    /// Size of the whole entry on disk.
    pub fn size(&self) -> u64 {
        DATA_ENTRY_FIXED as u64 + self.key_len as u64 + self.length as u64
    }

    /// Whether `payload` is what this record promises.
    pub fn proves(&self, payload: &[u8]) -> bool {
        payload.len() as u64 == self.length as u64 && crc32c(payload) == self.crc
    }
}

/// The persisted properties of a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub name: String,
    pub password: Option<String>,
    pub maxsize: u64,
    pub public: bool,
    pub worm: bool,
}

impl Descriptor {
    /// A fresh namespace: public, no password, no quota.
    pub fn new(name: &str) -> Descriptor {
        Descriptor { name: name.to_string(), password: None, maxsize: 0, public: true, worm: false }
    }

    pub fn encode(&self) -> Vec<u8> {
        let password = self.password.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(15 + self.name.len() + password.len());
        out.extend_from_slice(&DESCRIPTOR_VERSION.to_le_bytes());
        out.push(self.name.len() as u8);
        out.push(password.len() as u8);
        out.extend_from_slice(&self.maxsize.to_le_bytes());
        let mut flags = DESC_EXTENDED;
        if self.public {
            flags |= DESC_PUBLIC;
        }
        if self.worm {
            flags |= DESC_WORM;
        }
        out.push(flags);
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(password.as_bytes());
        out
    }

    pub fn decode(b: &[u8]) -> Result<Descriptor, FormatError> {
        if b.len() < 15 || u32_at(b, 0) != DESCRIPTOR_VERSION {
            return Err(FormatError::BadDescriptor);
        }
        let (name_len, pass_len) = (b[4] as usize, b[5] as usize);
        if b.len() < 15 + name_len + pass_len {
            return Err(FormatError::BadDescriptor);
        }
        let maxsize = u64::from_le_bytes(b[6..14].try_into().unwrap());
        let flags = b[14];
        let name = String::from_utf8_lossy(&b[15..15 + name_len]).into_owned();
        let password = &b[15 + name_len..15 + name_len + pass_len];
        Ok(Descriptor {
            name,
            password: (!password.is_empty()).then(|| String::from_utf8_lossy(password).into_owned()),
            maxsize,
            public: flags & DESC_PUBLIC != 0,
            worm: flags & DESC_WORM != 0,
        })
    }
}

/// Where an index entry lives: file id and byte offset. HISTORY hands this
/// to clients as an 8-byte cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexLoc {
    pub file: u32,
    pub offset: u32,
}

impl IndexLoc {
    pub const NONE: IndexLoc = IndexLoc { file: 0, offset: 0 };

    pub fn is_none(&self) -> bool {
        *self == IndexLoc::NONE
    }

    pub fn to_cursor(self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c[..4].copy_from_slice(&self.file.to_le_bytes());
        c[4..].copy_from_slice(&self.offset.to_le_bytes());
        c
    }

    pub fn from_cursor(b: &[u8]) -> Option<IndexLoc> {
        (b.len() == 8).then(|| IndexLoc { file: u32_at(b, 0), offset: u32_at(b, 4) })
    }
}

/// The 17-byte SCAN/KEYCUR cursor: it names an index entry and carries
/// enough of it (key length, payload length, crc) to check that it still
/// points at what the client saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanCursor {
    pub key_len: u8,
    pub loc: IndexLoc,
    pub length: u32,
    pub crc: u32,
}

impl ScanCursor {
    pub const SIZE: usize = 17;

    pub fn encode(&self) -> [u8; 17] {
        let mut c = [0u8; 17];
        c[0] = self.key_len;
        c[1..5].copy_from_slice(&self.loc.file.to_le_bytes());
        c[5..9].copy_from_slice(&self.length.to_le_bytes());
        c[9..13].copy_from_slice(&self.loc.offset.to_le_bytes());
        c[13..17].copy_from_slice(&self.crc.to_le_bytes());
        c
    }

    pub fn decode(b: &[u8]) -> Option<ScanCursor> {
        (b.len() == Self::SIZE).then(|| ScanCursor {
            key_len: b[0],
            loc: IndexLoc { file: u32_at(b, 1), offset: u32_at(b, 9) },
            length: u32_at(b, 5),
            crc: u32_at(b, 13),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_roundtrip_matches_original_bytes() {
        // Bytes of the fixture's `secret` descriptor, written by 0-db v2.0.7.
        let original = b"\x01\x00\x00\x00\x06\x07\x00\x00\x10\x00\x00\x00\x00\x00\x04secrethunter2";
        let d = Descriptor::decode(original).unwrap();
        assert_eq!(d.name, "secret");
        assert_eq!(d.password.as_deref(), Some("hunter2"));
        assert_eq!(d.maxsize, 1 << 20);
        assert!(!d.public && !d.worm);
        assert_eq!(d.encode(), original.to_vec());
    }

    #[test]
    fn index_record_roundtrip() {
        let r = IndexRecord {
            key_len: 3,
            data_offset: 28,
            length: 5,
            previous: 29,
            flags: 1,
            data_id: 2,
            timestamp: 7,
            crc: 9,
            parent_id: 1,
            parent_offset: 40,
        };
        let mut out = Vec::new();
        r.encode(b"abc", &mut out);
        assert_eq!(out.len(), 37);
        assert_eq!(IndexRecord::decode(&out), r);
        assert_eq!(out[INDEX_FLAGS_AT as usize], 1);
    }

    #[test]
    fn cursors_roundtrip() {
        let c = ScanCursor { key_len: 8, loc: IndexLoc { file: 0, offset: 29 }, length: 29, crc: 0xd2a709b6 };
        // KEYCUR of seqns id 0 in the fixture.
        assert_eq!(
            c.encode().to_vec(),
            b"\x08\x00\x00\x00\x00\x1d\x00\x00\x00\x1d\x00\x00\x00\xb6\x09\xa7\xd2".to_vec()
        );
        assert_eq!(ScanCursor::decode(&c.encode()), Some(c));
    }
}
