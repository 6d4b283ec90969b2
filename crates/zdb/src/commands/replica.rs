//! REPLSYNC (a replica asking for the stream) and REPLICAOF (changing
//! role). The replication protocol itself is in `crate::replication`.

use super::{Action, Ctx};
use crate::resp::{parse_int, reply};

/// REPLSYNC [namespace file offset]… (admin): the caller is a replica at
/// these positions; this connection becomes its replication stream.
pub fn replsync(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    if (c.args.len() - 1) % 3 != 0 {
        return c.error("Invalid arguments");
    }
    let mut positions = Vec::new();
    for triple in c.args[1..].chunks(3) {
        let name = String::from_utf8_lossy(&triple[0]).into_owned();
        let file = parse_int(&triple[1]).and_then(|n| u32::try_from(n).ok());
        let offset = parse_int(&triple[2]).and_then(|n| u64::try_from(n).ok());
        let (Some(file), Some(offset)) = (file, offset) else { return c.error("Invalid arguments") };
        positions.push((name, file, offset));
    }
    Action::Replicate(positions)
}

/// REPLICAOF host port | REPLICAOF NO ONE (admin).
pub fn replicaof(c: &mut Ctx) -> Action {
    if !c.require_admin() || !c.exact_args(3) {
        return Action::Continue;
    }
    let target = if c.args[1].eq_ignore_ascii_case(b"NO") && c.args[2].eq_ignore_ascii_case(b"ONE") {
        None
    } else {
        let host = String::from_utf8_lossy(&c.args[1]);
        let Some(port) = parse_int(&c.args[2]).and_then(|p| u16::try_from(p).ok()) else {
            return c.error("Invalid port");
        };
        Some(format!("{host}:{port}"))
    };
    c.shared.replication.target.send_replace(target);
    reply::status(c.out, "OK");
    Action::Continue
}
