//! MIRROR and MASTER, the original's replication pieces, kept for old
//! tools (db-mirror and friends).
//!
//! - `MIRROR` (admin): from then on the connection receives, for every
//!   command another client runs, `[:time, $namespace, :owner-id, args…]`.
//!   Unlike the original, owner ids are deterministic (the client's id, or
//!   what a MASTER connection supplies), AUTH is never mirrored (it carries
//!   a password), and a mirror that does not keep up is disconnected
//!   instead of growing the server's memory without bound.
//! - `MASTER` (admin): the last argument of every later request is the
//!   owner id, stripped before the command runs, so a replayed stream
//!   keeps its original owners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::{Action, Ctx};
use crate::resp::reply;

/// Frames a mirror may have queued before it is dropped as too slow.
const MIRROR_QUEUE: usize = 65_536;

/// The connected mirrors.
#[derive(Debug, Default)]
pub struct Mirrors {
    senders: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// How many there are, read on every command without locking.
    count: AtomicUsize,
}

impl Mirrors {
    /// Copies one command to every mirror.
    pub fn publish(&self, namespace: &str, owner: u64, args: &[Bytes]) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut frame = BytesMut::new();
        reply::array(&mut frame, args.len() + 3);
        reply::int(&mut frame, crate::unix_now() as i64);
        reply::bulk(&mut frame, namespace.as_bytes());
        reply::int(&mut frame, owner as i64);
        for a in args {
            reply::bulk(&mut frame, a);
        }
        let frame = frame.freeze();
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders.retain(|s| s.try_send(frame.clone()).is_ok());
        self.count.store(senders.len(), Ordering::Release);
    }

    fn add(&self) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(MIRROR_QUEUE);
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        senders.push(tx);
        self.count.store(senders.len(), Ordering::Release);
        rx
    }
}

/// MIRROR (admin): turns this connection into a mirror stream.
pub fn mirror(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    reply::status(c.out, "Starting mirroring");
    c.client.mirroring = true;
    Action::Mirror(c.shared.mirrors.add())
}

/// MASTER (admin): later requests carry their owner id as last argument.
pub fn master(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    c.client.master = true;
    reply::status(c.out, "Hello, master");
    Action::Continue
}
