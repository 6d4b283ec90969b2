//! The log in a sequential-mode namespace on the project's own `zdb`.
//!
//! ## Layout
//!
//! Entry `i` of the log is the value under zdb's sequential key `i` (8 bytes, little-endian, as
//! zdb v2 assigns them). The value is the frame of [`super::frame`]: CRC32C (u32 LE) of the entry,
//! then the entry. zdb checks its own CRC too; ours also catches a value rewritten through zdb.
//!
//! The namespace is created in `seq` mode when it does not exist (that needs zdb's admin
//! password; otherwise an operator creates it). Writes are `SET "" value`: zdb appends and
//! returns the next id, which must equal the log's length, or some other writer shares the
//! namespace, which is refused. Durability is zdb's (`--sync` on the zdb makes every SET durable).

use std::fs::File;

use redis::{Connection, Value};

use super::{LogStore, StoreError};

/// zdb's largest value (8 MiB) minus the frame.
const MAX_ENTRY: usize = (8 << 20) - 4;

/// Where and how to reach the namespace.
#[derive(Clone, Debug)]
pub struct ZdbTarget {
    /// `host:port` of the zdb.
    pub addr: String,
    /// The namespace holding the log.
    pub namespace: String,
    /// The namespace's password, when it has one. Never printed.
    pub password: Option<String>,
    /// zdb's admin password, used only to create a missing namespace.
    pub admin: Option<String>,
}

/// The zdb-backed store.
pub struct ZdbStore {
    target: ZdbTarget,
    conn: Connection,
    len: u64,
}

impl ZdbStore {
    /// Connects, creates the namespace if needed, selects it, and learns the log length.
    pub fn open(target: ZdbTarget) -> Result<ZdbStore, StoreError> {
        let err = |message: String| StoreError::Zdb { addr: target.addr.clone(), message };
        let client = redis::Client::open(format!("redis://{}/", target.addr)).map_err(|e| err(e.to_string()))?;
        let mut conn = client.get_connection().map_err(|e| err(format!("cannot connect: {e}")))?;
        if let Some(admin) = &target.admin {
            redis::cmd("AUTH")
                .arg(admin)
                .query::<()>(&mut conn)
                .map_err(|e| err(format!("admin AUTH refused: {e}")))?;
        }
        let exists = redis::cmd("NSINFO").arg(&target.namespace).query::<String>(&mut conn).is_ok();
        if !exists {
            create_namespace(&mut conn, &target).map_err(err)?;
        }
        let mut select = redis::cmd("SELECT");
        select.arg(&target.namespace);
        if let Some(pw) = &target.password {
            select.arg(pw);
        }
        select.query::<()>(&mut conn).map_err(|e| err(format!("SELECT {} refused: {e}", target.namespace)))?;
        let info: String = redis::cmd("NSINFO")
            .arg(&target.namespace)
            .query(&mut conn)
            .map_err(|e| err(format!("NSINFO failed: {e}")))?;
        if field(&info, "mode") != Some("sequential") {
            return Err(err(format!("namespace {} is not in sequential mode", target.namespace)));
        }
        let len = next_id(&mut conn).map_err(err)?;
        Ok(ZdbStore { target, conn, len })
    }

    fn error(&self, message: String) -> StoreError {
        StoreError::Zdb { addr: self.target.addr.clone(), message }
    }
}

/// Creates the namespace in sequential mode with the target's password.
fn create_namespace(conn: &mut Connection, target: &ZdbTarget) -> Result<(), String> {
    let ns = &target.namespace;
    redis::cmd("NSNEW").arg(ns).query::<()>(conn).map_err(|e| {
        format!("namespace {ns} does not exist and could not be created ({e}); create it in sequential mode or pass the admin password")
    })?;
    redis::cmd("NSSET").arg(ns).arg("mode").arg("seq").query::<()>(conn).map_err(|e| format!("NSSET mode: {e}"))?;
    if let Some(pw) = &target.password {
        redis::cmd("NSSET")
            .arg(ns)
            .arg("password")
            .arg(pw)
            .query::<()>(conn)
            .map_err(|e| format!("NSSET password: {e}"))?;
    }
    Ok(())
}

/// A `key: value` line of an INFO-style reply.
fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": ").map(str::trim))
}

/// The id the next SET will get: the key after the last one (`KEYCUR`-free: walk from the end
/// with RSCAN), or 0 for an empty namespace.
fn next_id(conn: &mut Connection) -> Result<u64, String> {
    let reply: Value = match redis::cmd("RSCAN").query(conn) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("more data") => return Ok(0),
        Err(e) => return Err(format!("RSCAN failed: {e}")),
    };
    // RSCAN replies [cursor, [[key, size, timestamp], ...]].
    let key = match reply {
        Value::Array(parts) => match parts.get(1) {
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Array(item)) => match item.first() {
                    Some(Value::BulkString(k)) => k.clone(),
                    _ => return Err("unexpected RSCAN reply".into()),
                },
                _ => return Err("unexpected RSCAN reply".into()),
            },
            _ => return Err("unexpected RSCAN reply".into()),
        },
        _ => return Err("unexpected RSCAN reply".into()),
    };
    let id = key_to_id(&key).ok_or("RSCAN returned a key that is not a sequential id")?;
    Ok(id + 1)
}

/// zdb v2's sequential keys are 8 bytes, little-endian (`sequential_key_size 8` in INFO).
fn key_to_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(key.try_into().ok()?))
}

impl LogStore for ZdbStore {
    fn append(&mut self, entry: &[u8]) -> Result<u64, StoreError> {
        if entry.len() > MAX_ENTRY {
            return Err(StoreError::TooLarge { size: entry.len(), limit: MAX_ENTRY });
        }
        let reply: Value = redis::cmd("SET")
            .arg(&b""[..])
            .arg(super::frame(entry))
            .query(&mut self.conn)
            .map_err(|e| self.error(format!("SET failed: {e}")))?;
        let id = match &reply {
            Value::BulkString(key) => key_to_id(key),
            _ => None,
        }
        .ok_or_else(|| self.error(format!("SET returned {reply:?} instead of a sequential key")))?;
        if id != self.len {
            return Err(self.error(format!(
                "zdb assigned id {id} where the log expected {}: another writer uses namespace {}",
                self.len, self.target.namespace
            )));
        }
        self.len += 1;
        Ok(id)
    }

    fn read(&mut self, index: u64) -> Result<Vec<u8>, StoreError> {
        if index >= self.len {
            return Err(StoreError::Missing { index, len: self.len });
        }
        let key = index.to_le_bytes();
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key[..])
            .query(&mut self.conn)
            .map_err(|e| StoreError::Corrupt { index, detail: format!("zdb refused to return it: {e}") })?;
        let framed = value.ok_or(StoreError::Corrupt { index, detail: "zdb no longer has it".into() })?;
        super::unframe(index, &framed)
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn sync_file(&self) -> Result<Option<File>, StoreError> {
        Ok(None)
    }

    fn describe(&self) -> String {
        format!("zdb namespace {} at {}", self.target.namespace, self.target.addr)
    }

    fn max_entry(&self) -> usize {
        MAX_ENTRY
    }
}
