//! The derived index: a sqlite file rebuilt from the log whenever it is missing, behind, or asked
//! for (`bcdb reindex`). It answers "which revision is current", "which objects have field = value"
//! and the same questions as of any past log size, without reading the whole log.
//!
//! ## Tables
//!
//! - `revisions(idx, hash, object, version, schema_url, author, op, superseded_at)`: one row per
//!   log entry. `superseded_at` is the log index of the object's next revision (NULL while current).
//! - `fields(idx, object, schema_url, field, value, superseded_at)`: one row per indexed field of a
//!   put revision, with the same `superseded_at` as its revision.
//! - `objects(object, owner, head)`: the newest revision of each object.
//! - `meta(applied)`: how many log entries the index reflects.
//!
//! ## Invariants
//!
//! - A revision at index `i` is the object's state for every log size `n` with
//!   `i < n <= superseded_at` (or any `n > i` while `superseded_at` is NULL). Queries "as of `n`"
//!   are exactly that filter, so they give the same answer before and after a rebuild.
//! - Entries are applied in batched sqlite transactions that also advance `applied`, so after a
//!   crash the index is an exact prefix of the log and catching up is replaying the rest.
//! - Nothing here is a source of truth: the log is. The file is opened with `synchronous=NORMAL`
//!   in WAL mode because losing its tail costs only a replay.

use std::path::Path;

use jsxschema::IndexValue;
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use crate::revision::{Hash, Op};

/// Index failures (sqlite errors, with what was being done).
#[derive(Debug, thiserror::Error)]
#[error("index: {0}")]
pub struct IndexError(String);

impl From<rusqlite::Error> for IndexError {
    fn from(e: rusqlite::Error) -> Self {
        IndexError(e.to_string())
    }
}

/// The newest revision of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Log index of the revision.
    pub idx: u64,
    /// Its hash.
    pub hash: Hash,
    /// Its version.
    pub version: u64,
    /// True when it is a tombstone.
    pub deleted: bool,
}

/// What the index records about one log entry.
pub struct Applied<'a> {
    /// Log index.
    pub idx: u64,
    /// Revision hash.
    pub hash: Hash,
    /// Object id.
    pub object: Hash,
    /// Version.
    pub version: u64,
    /// Schema url.
    pub schema_url: &'a str,
    /// Author key bytes.
    pub author: [u8; 32],
    /// Put or delete.
    pub op: Op,
    /// Indexed fields of the (validated) payload: name, value, unique.
    pub fields: Vec<(String, IndexValue, bool)>,
}

/// The sqlite index.
pub struct Index {
    conn: Connection,
    /// Set while building a fresh index in a side file: where it goes when complete.
    bulk_target: Option<std::path::PathBuf>,
    /// Entries applied in the open transaction (0: none open).
    uncommitted: u32,
    /// The `applied` count the open transaction will commit (written once, at commit).
    applied_in_transaction: u64,
}

/// Applied entries after which the open transaction is committed even without a [`Index::commit`].
const COMMIT_EVERY: u32 = 4096;

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS revisions(
    idx INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, object BLOB NOT NULL, version INTEGER NOT NULL,
    schema_url TEXT NOT NULL, author BLOB NOT NULL, op INTEGER NOT NULL, superseded_at INTEGER);
CREATE INDEX IF NOT EXISTS revisions_object ON revisions(object, version);
CREATE TABLE IF NOT EXISTS fields(
    idx INTEGER NOT NULL, object BLOB NOT NULL, schema_url TEXT NOT NULL, field TEXT NOT NULL, value,
    superseded_at INTEGER);
CREATE INDEX IF NOT EXISTS fields_lookup ON fields(schema_url, field, value);
CREATE INDEX IF NOT EXISTS fields_revision ON fields(idx);
CREATE TABLE IF NOT EXISTS objects(object BLOB PRIMARY KEY, owner BLOB NOT NULL, head INTEGER NOT NULL);
";

fn sql_value(v: &IndexValue) -> Box<dyn ToSql + '_> {
    match v {
        IndexValue::Int(i) => Box::new(*i),
        IndexValue::Float(f) => Box::new(*f),
        IndexValue::Text(s) => Box::new(s.as_str()),
        IndexValue::Bool(b) => Box::new(*b as i64),
    }
}

fn bulk_side_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rebuild");
    path.with_file_name(name)
}

fn hash_of(blob: Vec<u8>) -> Hash {
    blob.try_into().unwrap_or([0; 32])
}

impl Index {
    /// Opens or creates the index file.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::prepare(conn, None)
    }

    /// Starts building a fresh index for `path` in a side file (`<path>.rebuild`) without a
    /// journal: several times faster, and safe because the file only replaces `path` once
    /// [`Index::finish_bulk`] has written it completely. A crash leaves a side file that the next
    /// build discards.
    pub fn open_bulk(path: &Path) -> Result<Index, IndexError> {
        let side = bulk_side_file(path);
        let _ = std::fs::remove_file(&side);
        let conn = Connection::open(&side)?;
        conn.pragma_update(None, "journal_mode", "OFF")?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        Self::prepare(conn, Some(path.to_path_buf()))
    }

    fn prepare(conn: Connection, bulk_target: Option<std::path::PathBuf>) -> Result<Index, IndexError> {
        // The default 2 MiB page cache makes every insert into the hash-keyed indexes a disk read
        // once the index outgrows it; 128 MiB keeps a million revisions' b-trees in memory.
        conn.pragma_update(None, "cache_size", -131_072)?;
        conn.execute_batch(SCHEMA_SQL)?;
        Ok(Index { conn, bulk_target, uncommitted: 0, applied_in_transaction: 0 })
    }

    /// Ends a bulk build: commits, syncs the side file, moves it into place and reopens it as a
    /// normal index. Does nothing for a normal index.
    pub fn finish_bulk(&mut self) -> Result<(), IndexError> {
        let Some(target) = self.bulk_target.take() else { return Ok(()) };
        self.commit()?;
        let side = bulk_side_file(&target);
        let done = Connection::open_in_memory()?;
        drop(std::mem::replace(&mut self.conn, done));
        let io = |e: std::io::Error| IndexError(format!("finishing the rebuilt index {}: {e}", side.display()));
        std::fs::File::open(&side).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&side, &target).map_err(io)?;
        *self = Index::open(&target)?;
        Ok(())
    }

    /// Commits the entries applied since the last commit. Until then they are visible to this
    /// index's own queries but not durable: a crash loses them, and the next open replays them from
    /// the log. Batching commits is what makes appends and rebuilds fast.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        if self.uncommitted > 0 {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES ('applied', ?1)")?
                .execute([self.applied_in_transaction as i64])?;
            self.conn.execute_batch("COMMIT")?;
            self.uncommitted = 0;
        }
        Ok(())
    }

    /// How many log entries are reflected (committed or not).
    pub fn applied(&self) -> Result<u64, IndexError> {
        if self.uncommitted > 0 {
            return Ok(self.applied_in_transaction);
        }
        let n: Option<i64> =
            self.conn.query_row("SELECT value FROM meta WHERE key='applied'", [], |r| r.get(0)).optional()?;
        Ok(n.unwrap_or(0) as u64)
    }

    /// Records one log entry (which must be entry number `applied()`) in the open transaction; the
    /// commit writes the new `applied` count with it, so it always leaves an exact prefix of the log.
    pub fn apply(&mut self, a: &Applied) -> Result<(), IndexError> {
        if self.uncommitted == 0 {
            self.conn.execute_batch("BEGIN")?;
        }
        let result = self.apply_in_transaction(a);
        if result.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.uncommitted = 0;
            return result;
        }
        self.uncommitted += 1;
        self.applied_in_transaction = a.idx + 1;
        if self.uncommitted >= COMMIT_EVERY && self.bulk_target.is_none() {
            self.commit()?;
        }
        Ok(())
    }

    fn apply_in_transaction(&mut self, a: &Applied) -> Result<(), IndexError> {
        let tx = &self.conn;
        let idx = a.idx as i64;
        let prev: Option<i64> = tx
            .prepare_cached("SELECT head FROM objects WHERE object=?1")?
            .query_row([&a.object[..]], |r| r.get(0))
            .optional()?;
        if let Some(prev) = prev {
            tx.prepare_cached("UPDATE revisions SET superseded_at=?1 WHERE idx=?2")?.execute(params![idx, prev])?;
            tx.prepare_cached("UPDATE fields SET superseded_at=?1 WHERE idx=?2")?.execute(params![idx, prev])?;
            tx.prepare_cached("UPDATE objects SET head=?1 WHERE object=?2")?.execute(params![idx, &a.object[..]])?;
        } else {
            tx.prepare_cached("INSERT INTO objects(object, owner, head) VALUES (?1, ?2, ?3)")?.execute(params![
                &a.object[..],
                &a.author[..],
                idx
            ])?;
        }
        tx.prepare_cached(
            "INSERT INTO revisions(idx, hash, object, version, schema_url, author, op) VALUES (?1,?2,?3,?4,?5,?6,?7)",
        )?
        .execute(params![
            idx,
            &a.hash[..],
            &a.object[..],
            a.version as i64,
            a.schema_url,
            &a.author[..],
            (a.op == Op::Delete) as i64
        ])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO fields(idx, object, schema_url, field, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (field, value, _) in &a.fields {
                insert.execute(params![idx, &a.object[..], a.schema_url, field, sql_value(value)])?;
            }
        }
        Ok(())
    }

    /// The object's newest revision.
    pub fn head(&self, object: &Hash) -> Result<Option<Head>, IndexError> {
        self.state_at(object, None)
    }

    /// The object's owner (the author of its version 1).
    pub fn owner(&self, object: &Hash) -> Result<Option<[u8; 32]>, IndexError> {
        let owner: Option<Vec<u8>> =
            self.conn.query_row("SELECT owner FROM objects WHERE object=?1", [&object[..]], |r| r.get(0)).optional()?;
        Ok(owner.map(hash_of))
    }

    /// The object's revision that was current when the log had `at` entries (`None`: now).
    pub fn state_at(&self, object: &Hash, at: Option<u64>) -> Result<Option<Head>, IndexError> {
        let at = at.map(|n| n as i64).unwrap_or(i64::MAX);
        let row = self
            .conn
            .prepare_cached(
                "SELECT idx, hash, version, op FROM revisions WHERE object=?1 AND idx < ?2
                 AND (superseded_at IS NULL OR superseded_at >= ?2) LIMIT 1",
            )?
            .query_row(params![&object[..], at], |r| {
                Ok(Head {
                    idx: r.get::<_, i64>(0)? as u64,
                    hash: hash_of(r.get(1)?),
                    version: r.get::<_, i64>(2)? as u64,
                    deleted: r.get::<_, i64>(3)? != 0,
                })
            })
            .optional()?;
        Ok(row)
    }

    /// Log index of the revision with this hash.
    pub fn revision_index(&self, hash: &Hash) -> Result<Option<u64>, IndexError> {
        let idx: Option<i64> = self
            .conn
            .prepare_cached("SELECT idx FROM revisions WHERE hash=?1")?
            .query_row([&hash[..]], |r| r.get(0))
            .optional()?;
        Ok(idx.map(|i| i as u64))
    }

    /// Log indexes of the object's revisions, oldest first, among the first `at` entries.
    pub fn history(&self, object: &Hash, at: Option<u64>) -> Result<Vec<u64>, IndexError> {
        let at = at.map(|n| n as i64).unwrap_or(i64::MAX);
        let mut stmt =
            self.conn.prepare_cached("SELECT idx FROM revisions WHERE object=?1 AND idx < ?2 ORDER BY idx")?;
        let rows = stmt.query_map(params![&object[..], at], |r| r.get::<_, i64>(0))?;
        Ok(rows.map(|r| r.map(|i| i as u64)).collect::<Result<_, _>>()?)
    }

    /// Log indexes of the current (as of `at`) revisions of objects of `schema_url` whose indexed
    /// `field` equals `value`.
    pub fn find(
        &self,
        schema_url: &str,
        field: &str,
        value: &IndexValue,
        at: Option<u64>,
    ) -> Result<Vec<u64>, IndexError> {
        let at = at.map(|n| n as i64).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(
            "SELECT idx FROM fields WHERE schema_url=?1 AND field=?2 AND value=?3 AND idx < ?4
             AND (superseded_at IS NULL OR superseded_at >= ?4) ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![schema_url, field, sql_value(value), at], |r| r.get::<_, i64>(0))?;
        Ok(rows.map(|r| r.map(|i| i as u64)).collect::<Result<_, _>>()?)
    }

    /// The object (other than `except`) that currently holds a unique value, if any.
    pub fn unique_holder(
        &self,
        schema_url: &str,
        field: &str,
        value: &IndexValue,
        except: Option<&Hash>,
    ) -> Result<Option<Hash>, IndexError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT object FROM fields WHERE schema_url=?1 AND field=?2 AND value=?3 AND superseded_at IS NULL",
        )?;
        let rows = stmt.query_map(params![schema_url, field, sql_value(value)], |r| r.get::<_, Vec<u8>>(0))?;
        for row in rows {
            let object = hash_of(row?);
            if Some(&object) != except {
                return Ok(Some(object));
            }
        }
        Ok(None)
    }

    /// Every row of every table in a fixed order: two indexes built from the same log dump equal.
    pub fn dump(&mut self) -> Result<String, IndexError> {
        self.commit()?;
        let mut out = String::new();
        for (table, order) in
            [("revisions", "idx"), ("fields", "idx, field, object"), ("objects", "object"), ("meta", "key")]
        {
            let mut stmt = self.conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
            let columns = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                out.push_str(table);
                for i in 0..columns {
                    let v: rusqlite::types::Value = row.get(i)?;
                    out.push_str(&format!(" {v:?}"));
                }
                out.push('\n');
            }
        }
        Ok(out)
    }
}
