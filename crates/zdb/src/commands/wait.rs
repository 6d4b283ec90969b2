//! WAIT command|* [timeout-ms]: blocks the connection until another client
//! in the same namespace runs that command; replies `+<COMMAND>`.

use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::broadcast::error::RecvError;

use super::{lookup, Action, Ctx};
use crate::resp::reply;
use crate::storage::Watch;

const DEFAULT_TIMEOUT_MS: u64 = 5000;
const MIN_TIMEOUT_MS: u64 = 100;
const MAX_TIMEOUT_MS: u64 = 30 * 60 * 1000;

/// A pending WAIT, run by the connection once earlier replies are sent.
#[derive(Debug)]
pub struct Wait {
    watch: Watch,
    /// None: any command (`WAIT *`).
    command: Option<&'static str>,
    timeout: Duration,
}

impl Wait {
    /// Waits for the event and appends the reply (`+NAME` or `-Timeout`).
    pub async fn run(mut self, out: &mut BytesMut) {
        let wanted = self.command;
        let event = async {
            loop {
                match self.watch.rx.recv().await {
                    Ok(name) if wanted.is_none_or(|w| w == name) => return Some(name),
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        };
        match tokio::time::timeout(self.timeout, event).await {
            Ok(Some(name)) => reply::status(out, name),
            _ => reply::error(out, "Timeout"),
        }
    }
}

pub fn wait(c: &mut Ctx) -> Action {
    if c.args.len() != 2 && c.args.len() != 3 {
        return c.error("Invalid arguments");
    }
    let Some(cmd) = lookup(&c.args[1]).map(|i| &super::COMMANDS[i]) else {
        return c.error("Unknown command to watch");
    };
    let timeout = match c.args.get(2) {
        None => DEFAULT_TIMEOUT_MS,
        Some(raw) => match std::str::from_utf8(raw).ok().and_then(|s| s.parse::<u64>().ok()) {
            Some(ms) if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) => ms,
            _ => return c.error("Invalid timeout"),
        },
    };
    Action::Wait(Wait {
        watch: c.client.ns.watch(),
        command: (cmd.name != "*").then_some(cmd.name),
        timeout: Duration::from_millis(timeout),
    })
}
