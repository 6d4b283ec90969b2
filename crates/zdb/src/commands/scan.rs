//! Walking commands: SCAN/SCANX, RSCAN, KSCAN, HISTORY.

use super::{read_refusal, Action, Ctx};
use crate::format::ScanCursor;
use crate::resp::reply;
use crate::storage::namespace::Keys;
use crate::storage::scan::{ScanItem, WalkError};
use crate::storage::NsState;

type Walk = fn(&mut NsState, Option<&[u8]>) -> Result<(ScanCursor, Vec<ScanItem>), WalkError>;

fn walk(c: &mut Ctx, how: Walk) -> Action {
    if c.args.len() > 2 {
        return c.error("Unexpected arguments");
    }
    let ns = c.client.ns.clone();
    let result = {
        let mut st = ns.lock();
        if let Some(refusal) = read_refusal(&st) {
            return c.error(refusal);
        }
        how(&mut st, c.args.get(1).map(|a| &a[..]))
    };
    match result {
        Ok((cursor, items)) => {
            reply::array(c.out, 2);
            reply::bulk(c.out, &cursor.encode());
            reply::array(c.out, items.len());
            for item in items {
                reply::array(c.out, 3);
                reply::bulk(c.out, &item.key);
                reply::int(c.out, item.length as i64);
                reply::int(c.out, item.timestamp as i64);
            }
        }
        Err(e) => reply::error(c.out, &e.to_string()),
    }
    Action::Continue
}

/// SCAN [cursor]: live keys in write order, a slice at a time.
pub fn scan(c: &mut Ctx) -> Action {
    walk(c, NsState::scan)
}

/// RSCAN [cursor]: the same, newest first.
pub fn rscan(c: &mut Ctx) -> Action {
    walk(c, NsState::rscan)
}

/// KSCAN prefix: user keys starting with `prefix` (user-key mode only).
pub fn kscan(c: &mut Ctx) -> Action {
    if !c.exact_args(2) {
        return Action::Continue;
    }
    let ns = c.client.ns.clone();
    let keys: Vec<Vec<u8>> = {
        let st = ns.lock();
        if let Some(refusal) = read_refusal(&st) {
            return c.error(refusal);
        }
        match &st.keys {
            Keys::User(map) => map.keys().filter(|k| k.starts_with(&c.args[1])).map(<[u8]>::to_vec).collect(),
            Keys::Seq(_) => return c.error("Index running mode doesn't support this feature"),
        }
    };
    if keys.is_empty() {
        return c.error("No keys match");
    }
    reply::array(c.out, 2);
    reply::bulk(c.out, b"0");
    reply::array(c.out, keys.len());
    for k in keys {
        reply::bulk(c.out, &k);
    }
    Action::Continue
}

/// HISTORY key [cursor]: `[previous-cursor or nil, "timestamp", payload]`.
pub fn history(c: &mut Ctx) -> Action {
    if c.args.len() != 2 && c.args.len() != 3 {
        return c.error("Invalid arguments");
    }
    let ns = c.client.ns.clone();
    let result = {
        let mut st = ns.lock();
        if let Some(refusal) = read_refusal(&st) {
            return c.error(refusal);
        }
        st.history(&c.args[1], c.args.get(2).map(|a| &a[..]))
    };
    match result {
        Ok(v) => {
            reply::array(c.out, 3);
            match v.parent {
                Some(p) => reply::bulk(c.out, &p.to_cursor()),
                None => reply::nil(c.out),
            }
            reply::bulk(c.out, v.timestamp.to_string().as_bytes());
            reply::bulk(c.out, &v.payload);
        }
        Err(e) => reply::error(c.out, &e.to_string()),
    }
    Action::Continue
}
