//! One client connection: read requests, run them in order, write the
//! replies of a whole pipelined batch at once.
//!
//! Memory per connection stays bounded: a request is at most
//! [`resp::MAX_REQUEST_SIZE`], and replies are flushed (waiting for the
//! client to read) once they pass [`FLUSH_AT`] bytes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::commands::{self, Action, Client};
use crate::resp::{self, reply};
use crate::server::Shared;

/// Replies are written out when this many bytes are pending.
const FLUSH_AT: usize = 64 * 1024;
/// Buffers grown past this by a big value are given back afterwards.
const KEEP_CAPACITY: usize = 256 * 1024;

/// Serves one client until it disconnects, breaks the protocol, or the
/// server stops. I/O errors just end the connection.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(shared: Arc<Shared>, stream: S) {
    shared.stats.clients_lifetime.fetch_add(1, Ordering::Relaxed);
    shared.stats.clients_connected.fetch_add(1, Ordering::Relaxed);
    let mut client = Client::new(&shared);
    let _ = run(&shared, &mut client, stream).await;
    shared.stats.clients_connected.fetch_sub(1, Ordering::Relaxed);
}

async fn run<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    shared: &Arc<Shared>,
    client: &mut Client,
    mut stream: S,
) -> std::io::Result<()> {
    // Small to start with: thousands of idle clients must stay cheap.
    let mut input = BytesMut::with_capacity(4 * 1024);
    let mut out = BytesMut::new();
    let mut stop = shared.shutdown_signal();
    loop {
        // Run every complete request already buffered.
        loop {
            match resp::parse(&mut input) {
                Ok(Some(args)) => match commands::execute(shared, client, &args, &mut out) {
                    Action::Continue => {
                        if out.len() >= FLUSH_AT {
                            flush(shared, client, &mut stream, &mut out).await?;
                        }
                    }
                    Action::Close => {
                        flush(shared, client, &mut stream, &mut out).await?;
                        return Ok(());
                    }
                    Action::Wait(wait) => {
                        flush(shared, client, &mut stream, &mut out).await?;
                        wait.run(&mut out).await;
                    }
                    Action::Replicate(positions) => {
                        flush(shared, client, &mut stream, &mut out).await?;
                        return crate::replication::serve_replica(shared.clone(), positions, stream).await;
                    }
                    Action::Mirror(frames) => {
                        flush(shared, client, &mut stream, &mut out).await?;
                        return stream_mirror(shared, frames, stream).await;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    reply::error(&mut out, &e.to_string());
                    if !e.is_recoverable() {
                        flush(shared, client, &mut stream, &mut out).await?;
                        return Ok(());
                    }
                }
            }
        }
        flush(shared, client, &mut stream, &mut out).await?;
        if input.capacity() > KEEP_CAPACITY && input.is_empty() {
            input = BytesMut::with_capacity(4 * 1024);
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(16 * 1024);
        }
        let n = tokio::select! {
            n = stream.read_buf(&mut input) => n?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        shared.stats.network_rx.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Sends the pending replies, once the writes they acknowledge are durable
/// (`--sync`). If they cannot be made durable, nothing is sent and the
/// connection ends: the client sees no acknowledgement.
/// MIRROR mode: forwards every mirrored command until the client leaves,
/// falls too far behind (its queue is dropped), or the server stops.
/// Whatever the client sends meanwhile is read and ignored.
async fn stream_mirror<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    mut frames: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    stream: S,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut stop = shared.shutdown_signal();
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(frame) => {
                    writer.write_all(&frame).await?;
                    shared.stats.network_tx.fetch_add(frame.len() as u64, Ordering::Relaxed);
                }
                None => return Ok(()),
            },
            n = reader.read(&mut sink) => if n? == 0 { return Ok(()) },
            _ = stop.changed() => return Ok(()),
        }
    }
}

async fn flush<S: AsyncWrite + Unpin>(
    shared: &Shared,
    client: &mut Client,
    stream: &mut S,
    out: &mut BytesMut,
) -> std::io::Result<()> {
    client.make_durable(&shared.replication).await?;
    if out.is_empty() {
        return Ok(());
    }
    stream.write_all(out).await?;
    shared.stats.network_tx.fetch_add(out.len() as u64, Ordering::Relaxed);
    out.clear();
    if out.capacity() > KEEP_CAPACITY {
        *out = BytesMut::new();
    }
    Ok(())
}
