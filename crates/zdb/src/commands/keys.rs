//! Single-key commands: SET/SETX, GET, MGET, DEL, EXISTS, CHECK, LENGTH,
//! KEYTIME, KEYCUR.

use std::fs::File;
use std::sync::Arc;

use super::{read_refusal, write_refusal, Action, Ctx};
use crate::format::Mode;
use crate::resp::{parse_int, reply};
use crate::storage::namespace::{read_payload, Payload};
use crate::storage::{Entry, ReadError, SetOutcome};

/// Longest user key.
pub const MAX_KEY: usize = 255;

/// SET key value [timestamp]: replies with the key (the new id in
/// sequential mode), or nil when the value is unchanged.
pub fn set(c: &mut Ctx) -> Action {
    if c.args.len() == 4 {
        if !c.require_admin() {
            return Action::Continue;
        }
    } else if c.args.len() != 3 {
        return c.error("Unexpected arguments");
    }
    let (key, value) = (&c.args[1], &c.args[2]);
    if key.len() > MAX_KEY {
        return c.error("Key too large");
    }
    let Some(timestamp) = timestamp_arg(c, 3) else { return c.error("Invalid timestamp") };
    let ns = c.client.ns.clone();
    let mut st = ns.lock();
    if let Some(refusal) = write_refusal(c.client, &st) {
        return c.error(refusal);
    }
    if st.mode == Mode::User && key.is_empty() {
        return c.error("Invalid argument, key needed");
    }
    match st.set(key, value, timestamp) {
        Ok(SetOutcome::Written(k)) => {
            c.client.wrote(&ns, &st);
            reply::bulk(c.out, &k)
        }
        Ok(SetOutcome::Unchanged) => reply::nil(c.out),
        Err(e) => reply::error(c.out, &e.to_string()),
    }
    Action::Continue
}

/// The optional admin timestamp argument at `i`: `Some(None)` when absent,
/// `None` when unparsable.
fn timestamp_arg(c: &Ctx, i: usize) -> Option<Option<u32>> {
    match c.args.get(i) {
        None => Some(None),
        Some(raw) => parse_int(raw).and_then(|n| u32::try_from(n).ok()).map(Some),
    }
}

/// DEL key [timestamp].
pub fn del(c: &mut Ctx) -> Action {
    if c.args.len() == 3 {
        if !c.require_admin() {
            return Action::Continue;
        }
    } else if !c.exact_args(2) {
        return Action::Continue;
    }
    if c.args[1].is_empty() {
        return c.error("Invalid argument");
    }
    if c.args[1].len() > MAX_KEY {
        return c.error("Invalid key");
    }
    let Some(timestamp) = timestamp_arg(c, 2) else { return c.error("Invalid timestamp") };
    let ns = c.client.ns.clone();
    let mut st = ns.lock();
    if let Some(refusal) = write_refusal(c.client, &st) {
        return c.error(refusal);
    }
    match st.del(&c.args[1], timestamp) {
        Ok(()) => {
            c.client.wrote(&ns, &st);
            reply::status(c.out, "OK")
        }
        Err(e) => reply::error(c.out, &e.to_string()),
    }
    Action::Continue
}

/// A live key found under the lock: its entry and the handle to read its
/// payload from (outside the lock).
type Found = (Entry, std::io::Result<Arc<File>>);

/// The live entry of the key argument, after the shared checks; `Err`
/// when a reply was already sent.
fn find(c: &mut Ctx) -> Result<Option<Found>, ()> {
    if !c.exact_args(2) {
        return Err(());
    }
    if c.args[1].len() > MAX_KEY {
        c.error("Invalid key");
        return Err(());
    }
    let ns = c.client.ns.clone();
    let mut st = ns.lock();
    if let Some(refusal) = read_refusal(&st) {
        c.error(refusal);
        return Err(());
    }
    Ok(st.lookup(&c.args[1]).map(|e| {
        let file = st.data_file(e.data_file);
        (e, file)
    }))
}

/// Reads and proves a payload, outside the namespace lock.
fn load(entry: &Entry, key: &[u8], file: std::io::Result<Arc<File>>) -> Result<Payload, ReadError> {
    let file = file?;
    read_payload(&file, entry, key)
}

/// GET key: the value, or nil. A payload that fails its checksum is an
/// error, never data.
pub fn get(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    match found {
        None => reply::nil(c.out),
        Some((entry, file)) => match load(&entry, &c.args[1], file) {
            Ok(value) => reply::bulk(c.out, &value),
            Err(e) => {
                tracing::error!("GET failed: {e}");
                reply::error(c.out, &e.to_string())
            }
        },
    }
    Action::Continue
}

/// MGET key [key…]: an array of values and nils.
pub fn mget(c: &mut Ctx) -> Action {
    if c.args.len() < 2 {
        return c.error("Invalid arguments");
    }
    let ns = c.client.ns.clone();
    let mut found = Vec::with_capacity(c.args.len() - 1);
    {
        let mut st = ns.lock();
        if let Some(refusal) = read_refusal(&st) {
            return c.error(refusal);
        }
        for key in &c.args[1..] {
            found.push(st.lookup(key).map(|e| {
                let file = st.data_file(e.data_file);
                (e, file)
            }));
        }
    }
    reply::array(c.out, found.len());
    for (key, item) in c.args[1..].iter().zip(found) {
        match item {
            None => reply::nil(c.out),
            Some((entry, file)) => match load(&entry, key, file) {
                Ok(value) => reply::bulk(c.out, &value),
                Err(e) => reply::error(c.out, &e.to_string()),
            },
        }
    }
    Action::Continue
}

/// EXISTS key: 1 or 0 (a deleted key does not exist).
pub fn exists(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    reply::int(c.out, found.is_some() as i64);
    Action::Continue
}

/// CHECK key: re-reads the payload: 1 intact, 0 checksum mismatch, -1
/// unreadable; nil for a missing key.
pub fn check(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    match found {
        None => reply::nil(c.out),
        Some((entry, file)) => {
            let code = match load(&entry, &c.args[1], file) {
                Ok(_) => 1,
                Err(ReadError::Checksum) => 0,
                Err(_) => -1,
            };
            reply::int(c.out, code);
        }
    }
    Action::Continue
}

/// LENGTH key: the payload length, or nil.
pub fn length(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    match found {
        Some((e, _)) => reply::int(c.out, e.length as i64),
        None => reply::nil(c.out),
    }
    Action::Continue
}

/// KEYTIME key: unix time of the last write, or nil.
pub fn keytime(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    match found {
        Some((e, _)) => reply::int(c.out, e.timestamp as i64),
        None => reply::nil(c.out),
    }
    Action::Continue
}

/// KEYCUR key: the 17-byte SCAN cursor positioned on this key.
pub fn keycur(c: &mut Ctx) -> Action {
    let Ok(found) = find(c) else { return Action::Continue };
    match found {
        Some((e, _)) => reply::bulk(c.out, &e.cursor(c.args[1].len()).encode()),
        None => reply::error(c.out, "Key not found"),
    }
    Action::Continue
}
