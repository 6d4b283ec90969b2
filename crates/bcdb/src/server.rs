//! `bcdb serve`: the HTTP API (see [`crate::api`]) over one ledger.
//!
//! - Signature checks of submitted entries run before the ledger's lock is taken, on any core.
//! - Group commit: an append is acknowledged only after its bytes are synced. One syncer thread
//!   fsyncs the log whenever appends are waiting, so one fsync covers every append that landed
//!   while the previous one ran, and request handlers never block on the disk ([`Syncer`]).
//! - Entries short of their multisig quorum wait in `DIR/pending/` (not in the log) until enough
//!   co-signatures arrive through `POST /v1/pending/{hash}/signatures`.

// Handlers return early with a ready `Response` as their error; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use identity::PublicKey;
use serde::Deserialize;

use crate::api::{ApiError, BatchItem, ConsistencyProof, Leaves, PendingStatus, Proved, ProvedList, MAX_LEAVES};
use crate::auth::{NonceCache, SignedHeaders};
use crate::ledger::{Found, Ledger, LedgerError, Prepared, Receipt, MAX_PAYLOAD};
use crate::revision::{Entry, Hash, Signed};
use crate::store::segments::SegmentStore;
use crate::store::zdb::{ZdbStore, ZdbTarget};
use crate::store::LogStore;

/// Everything `bcdb serve` needs.
pub struct ServeConfig {
    /// Address to listen on (127.0.0.1 unless configured otherwise; port 0 picks one).
    pub listen: SocketAddr,
    /// Directory for the index, the server key, checkpoints, pending entries and (by default) the log.
    pub data: PathBuf,
    /// Keep the log in this zdb namespace instead of local segment files.
    pub zdb: Option<ZdbTarget>,
}

/// Opens the configured store; `read_only` to check it without changing anything (segment files).
pub fn open_store(data: &Path, zdb: Option<ZdbTarget>, read_only: bool) -> anyhow::Result<Box<dyn LogStore>> {
    Ok(match zdb {
        Some(target) => Box::new(ZdbStore::open(target)?),
        None if read_only => Box::new(SegmentStore::open_read_only(&data.join("log"))?),
        None => Box::new(SegmentStore::open(&data.join("log"))?),
    })
}

/// What a service built on bcdb adds to it (the grid explorer is one): rules every submitted
/// entry must pass before the ledger's own, and a view it keeps of what the ledger accepts.
///
/// Both run under the ledger's lock, so `check` sees every earlier entry and no two entries race
/// past a rule such as "a name is taken once"; keep them short.
pub trait Hooks: Send + Sync + 'static {
    /// Refuses an entry the service does not allow; `Ok` leaves the decision to the ledger.
    fn check(&self, ledger: &mut Ledger, entry: &Entry) -> Result<(), LedgerError>;
    /// Sees each entry the ledger holds, in log order: at open for every entry already there,
    /// then for each one appended.
    fn accepted(&self, index: u64, entry: &Entry);
}

/// Shared server state.
pub struct App {
    ledger: Mutex<Ledger>,
    syncer: Syncer,
    nonces: Mutex<NonceCache>,
    pending: Mutex<HashMap<Hash, Entry>>,
    pending_dir: PathBuf,
    hooks: Option<Arc<dyn Hooks>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    /// Opens the ledger and the pending entries.
    pub fn open(config: &ServeConfig) -> anyhow::Result<App> {
        Self::open_with_hooks(config, None)
    }

    /// [`App::open`] for a service that adds [`Hooks`]; they see every entry already in the log
    /// before this returns.
    pub fn open_with_hooks(config: &ServeConfig, hooks: Option<Arc<dyn Hooks>>) -> anyhow::Result<App> {
        let lock = crate::ledger::DirLock::acquire(&config.data)?;
        let store = open_store(&config.data, config.zdb.clone(), false)?;
        let mut ledger = Ledger::open_locked(&config.data, store, lock, false)?;
        if let Some(hooks) = &hooks {
            for index in 0..ledger.len() {
                hooks.accepted(index, &ledger.read(index)?.entry);
            }
        }
        let pending_dir = config.data.join("pending");
        fs::create_dir_all(&pending_dir)?;
        let mut pending = HashMap::new();
        for item in fs::read_dir(&pending_dir)? {
            let path = item?.path();
            if let Ok(entry) =
                fs::read(&path).map_err(|e| e.to_string()).and_then(|b| Entry::decode(&b).map_err(|e| e.to_string()))
            {
                pending.insert(entry.revision.hash(), entry);
            }
        }
        let syncer = Syncer::new(ledger.len());
        Ok(App {
            ledger: Mutex::new(ledger),
            syncer,
            nonces: Mutex::default(),
            pending: Mutex::new(pending),
            pending_dir,
            hooks,
        })
    }

    /// The ledger, locked: for a service's own read routes. Hold it briefly.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    /// How many entries are known to be on disk (or why syncing stopped): a service that hands
    /// out entries as they arrive waits on this, so it never shows what a crash could take back.
    pub fn durable(&self) -> tokio::sync::watch::Receiver<Result<u64, String>> {
        self.syncer.durable.subscribe()
    }

    /// Runs the hooks' check, appends, and shows the hooks the entry as stored.
    fn append(&self, ledger: &mut Ledger, prepared: Prepared) -> Result<Receipt, LedgerError> {
        let Some(hooks) = &self.hooks else { return ledger.append(prepared) };
        hooks.check(ledger, &prepared.entry)?;
        let receipt = ledger.append(prepared)?;
        hooks.accepted(receipt.index, &ledger.read(receipt.index)?.entry);
        Ok(receipt)
    }

    /// The server's checkpoint key.
    pub fn server_key(&self) -> PublicKey {
        lock(&self.ledger).server_key()
    }

    /// Appends a prepared entry, or parks it as pending when its quorum is not met yet. Answers
    /// only once the entry is durable.
    async fn submit(self: &Arc<Self>, prepared: Prepared) -> Response {
        let result = self.append(&mut lock(&self.ledger), prepared);
        let outcome = self.settle(result);
        if let Outcome::Accepted(receipt) = &outcome {
            if let Err(e) = self.syncer.wait_durable(receipt.index + 1).await {
                return error_response(io_failure("syncing the log", std::io::Error::other(e)));
            }
        }
        match outcome {
            Outcome::Accepted(receipt) => (StatusCode::CREATED, Json(receipt)).into_response(),
            Outcome::Pending(status) => (StatusCode::ACCEPTED, Json(status)).into_response(),
            Outcome::Refused(e) => error_response(e),
        }
    }

    /// Turns an append's result into its outcome, outside the ledger's lock: an accepted entry
    /// leaves the pending area, an entry short of its quorum enters it.
    fn settle(&self, result: Result<Receipt, LedgerError>) -> Outcome {
        match result {
            Ok(receipt) => {
                if lock(&self.pending).remove(&receipt.hash).is_some() {
                    let _ = fs::remove_file(self.pending_path(&receipt.hash));
                }
                Outcome::Accepted(receipt)
            }
            Err(LedgerError::QuorumNotMet { have, need, hash, entry }) => {
                let bytes = entry.to_bytes();
                match fs::write(self.pending_path(&hash), &bytes) {
                    Ok(()) => {
                        lock(&self.pending).insert(hash, *entry);
                        Outcome::Pending(PendingStatus { hash, have, need, entry: hex::encode(bytes) })
                    }
                    Err(e) => Outcome::Refused(io_failure("saving a pending entry", e)),
                }
            }
            Err(e) => Outcome::Refused(e),
        }
    }

    /// Starts the syncer thread for this app; call once, before serving.
    pub fn start_syncer(self: &Arc<Self>) {
        let app = Arc::clone(self);
        std::thread::Builder::new()
            .name("bcdb-sync".into())
            .spawn(move || app.syncer.run(&app.ledger))
            .expect("spawning the syncer thread");
    }

    fn pending_path(&self, hash: &Hash) -> PathBuf {
        self.pending_dir.join(format!("{}.bin", hex::encode(hash)))
    }

    /// Who signed this request: `None` without signature headers; an error for a bad signature.
    fn reader(
        &self,
        headers: &HeaderMap,
        method: &Method,
        uri: &Uri,
        body: &[u8],
    ) -> Result<Option<PublicKey>, Response> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(key) = get(crate::auth::KEY) else { return Ok(None) };
        let signed = SignedHeaders {
            key,
            time: get(crate::auth::TIME).unwrap_or(""),
            nonce: get(crate::auth::NONCE).unwrap_or(""),
            signature: get(crate::auth::SIGNATURE).unwrap_or(""),
        };
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        lock(&self.nonces)
            .check(&signed, method.as_str(), path, body, crate::now_ms())
            .map(Some)
            .map_err(|e| (StatusCode::UNAUTHORIZED, Json(ApiError { error: e })).into_response())
    }
}

/// Group commit: handlers announce how many entries they need durable and await the answer; one
/// thread syncs for all of them.
pub struct Syncer {
    /// Highest entry count some handler is waiting for.
    wanted: Mutex<u64>,
    wake: std::sync::Condvar,
    /// Entry count known durable, or the error that stopped syncing.
    durable: tokio::sync::watch::Sender<Result<u64, String>>,
}

impl Syncer {
    fn new(durable: u64) -> Syncer {
        Syncer {
            wanted: Mutex::new(durable),
            wake: std::sync::Condvar::new(),
            durable: tokio::sync::watch::Sender::new(Ok(durable)),
        }
    }

    /// Waits until the first `upto` entries are on disk.
    async fn wait_durable(&self, upto: u64) -> Result<(), String> {
        let mut rx = self.durable.subscribe();
        {
            let mut wanted = lock(&self.wanted);
            if *wanted < upto {
                *wanted = upto;
                self.wake.notify_one();
            }
        }
        let state = rx.wait_for(|d| d.as_ref().map_or(true, |&n| n >= upto)).await.map_err(|e| e.to_string())?;
        state.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The syncer thread: sleeps until someone waits, then fsyncs the log up to everything
    /// appended so far. A failed fsync stops acknowledging forever (the data's
    /// fate is unknown), which is the only honest answer.
    fn run(&self, ledger: &Mutex<Ledger>) {
        let mut synced = self.durable.borrow().clone().unwrap_or(0);
        loop {
            {
                let mut wanted = lock(&self.wanted);
                while *wanted <= synced {
                    wanted = self.wake.wait(wanted).unwrap_or_else(|p| p.into_inner());
                }
            }
            let step = (|| -> Result<u64, LedgerError> {
                // The index is not committed here: holding the ledger lock for a sqlite commit on
                // every sync would stall every handler. It commits in large batches by itself
                // (and a crash only means replaying that batch from the log).
                let (file, len) = {
                    let ledger = lock(ledger);
                    (ledger.store().sync_file()?, ledger.len())
                };
                if let Some(file) = file {
                    file.sync_data().map_err(|e| io_failure("syncing the log", e))?;
                }
                Ok(len)
            })();
            match step {
                Ok(len) => {
                    synced = len;
                    let _ = self.durable.send_replace(Ok(len));
                }
                Err(e) => {
                    tracing::error!("the log can no longer be synced, refusing to acknowledge writes: {e}");
                    let _ = self.durable.send_replace(Err(e.to_string()));
                    return;
                }
            }
        }
    }
}

/// What became of one submitted entry.
enum Outcome {
    /// In the log (durable once the syncer says so).
    Accepted(Receipt),
    /// Parked in `pending/` until enough signers sign.
    Pending(PendingStatus),
    /// Refused, with the reason.
    Refused(LedgerError),
}

fn io_failure(context: &str, source: std::io::Error) -> LedgerError {
    LedgerError::Store(crate::store::StoreError::Io { context: context.into(), source })
}

fn error_response(e: LedgerError) -> Response {
    let status = error_status(&e);
    (status, Json(ApiError { error: e.to_string() })).into_response()
}

/// The HTTP status for each kind of ledger error.
fn error_status(e: &LedgerError) -> StatusCode {
    match e {
        LedgerError::Invalid(_) => StatusCode::BAD_REQUEST,
        LedgerError::Forbidden(_) => StatusCode::FORBIDDEN,
        LedgerError::NotFound(_) => StatusCode::NOT_FOUND,
        LedgerError::Conflict(_) => StatusCode::CONFLICT,
        LedgerError::QuorumNotMet { .. } => StatusCode::ACCEPTED,
        LedgerError::Store(_) | LedgerError::Index(_) | LedgerError::Tampered(_) => {
            tracing::error!("{e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(ApiError { error: msg.into() })).into_response()
}

/// The router for an opened app.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/consistency", get(consistency))
        .route("/v1/leaves", get(leaves))
        .route("/v1/entries", post(post_entry))
        .route("/v1/batch", post(post_batch).layer(DefaultBodyLimit::max(crate::api::MAX_BATCH_BYTES)))
        .route("/v1/entries/{index}", get(get_entry))
        .route("/v1/pending/{hash}", get(get_pending))
        .route("/v1/pending/{hash}/signatures", post(post_signature))
        .route("/v1/objects/{id}", get(get_object))
        .route("/v1/objects/{id}/history", get(get_history))
        .route("/v1/find", get(find))
        .route("/v1/schemas/{url}", get(get_schema))
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD + (64 << 10)))
        .with_state(app)
}

/// Binds, prints `bcdb listening on ADDR` and the server key, and serves until killed.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let app = Arc::new(tokio::task::block_in_place(|| App::open(&config))?);
    app.start_syncer();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    println!("bcdb server key {}", app.server_key());
    println!("bcdb listening on {}", listener.local_addr()?);
    axum::serve(listener, router(app)).await?;
    Ok(())
}

async fn checkpoint(State(app): State<Arc<App>>) -> Response {
    match lock(&app.ledger).checkpoint() {
        Ok(cp) => Json(cp).into_response(),
        Err(e) => error_response(e),
    }
}

#[derive(Deserialize)]
struct Range {
    from: u64,
    to: u64,
}

async fn consistency(State(app): State<Arc<App>>, Query(r): Query<Range>) -> Response {
    let ledger = lock(&app.ledger);
    if r.to > ledger.len() {
        return error_response(LedgerError::NotFound(format!("the log has only {} entries", ledger.len())));
    }
    match ledger.consistency_proof(r.from, r.to) {
        Ok(proof) => Json(ConsistencyProof { from: r.from, to: r.to, proof }).into_response(),
        Err(e) => error_response(e),
    }
}

async fn leaves(State(app): State<Arc<App>>, Query(r): Query<Range>) -> Response {
    if r.to < r.from || r.to - r.from > MAX_LEAVES {
        return bad_request(format!("ask for at most {MAX_LEAVES} leaves, with from <= to"));
    }
    let hashes = lock(&app.ledger).leaf_hashes(r.from, r.to);
    Json(Leaves { from: r.from, hashes }).into_response()
}

async fn post_entry(State(app): State<Arc<App>>, body: Bytes) -> Response {
    // Signature checks run here, on whichever runtime thread took the request: in parallel.
    match Ledger::prepare(&body) {
        Ok(prepared) => app.submit(prepared).await,
        Err(e) => error_response(e),
    }
}

/// Many entries in one request: each is checked and appended as if posted alone, under one lock
/// and one fsync; the answer lists each outcome in order.
async fn post_batch(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let frames = match crate::api::split_batch(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let prepared: Vec<_> = frames.iter().map(|f| Ledger::prepare(f)).collect();
    let results: Vec<_> = {
        let mut ledger = lock(&app.ledger);
        prepared.into_iter().map(|p| p.and_then(|p| app.append(&mut ledger, p))).collect()
    };
    let outcomes: Vec<Outcome> = results.into_iter().map(|r| app.settle(r)).collect();
    let last = outcomes.iter().filter_map(|o| if let Outcome::Accepted(r) = o { Some(r.index) } else { None }).max();
    if let Some(last) = last {
        if let Err(e) = app.syncer.wait_durable(last + 1).await {
            return error_response(io_failure("syncing the log", std::io::Error::other(e)));
        }
    }
    let items: Vec<BatchItem> = outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Accepted(r) => BatchItem { status: 201, receipt: Some(r), pending: None, error: None },
            Outcome::Pending(p) => BatchItem { status: 202, receipt: None, pending: Some(p), error: None },
            Outcome::Refused(e) => BatchItem {
                status: error_status(&e).as_u16(),
                receipt: None,
                pending: None,
                error: Some(e.to_string()),
            },
        })
        .collect();
    Json(items).into_response()
}

fn hash_param(text: &str) -> Result<Hash, Response> {
    crate::parse_hash(text).map_err(bad_request)
}

async fn get_pending(State(app): State<Arc<App>>, UrlPath(hash): UrlPath<String>) -> Response {
    let hash = match hash_param(&hash) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let Some(entry) = lock(&app.pending).get(&hash).cloned() else {
        return error_response(LedgerError::NotFound(format!("no pending revision {}", hex::encode(hash))));
    };
    // Counted as the ledger counts (and as the 202 answers say): listed signers of the policy in force.
    let (have, need) = match lock(&app.ledger).quorum_status(&entry) {
        Ok(status) => status,
        Err(e) => return error_response(e),
    };
    Json(PendingStatus { hash, have, need, entry: hex::encode(entry.to_bytes()) }).into_response()
}

async fn post_signature(State(app): State<Arc<App>>, UrlPath(hash): UrlPath<String>, body: Bytes) -> Response {
    let hash = match hash_param(&hash) {
        Ok(h) => h,
        Err(r) => return r,
    };
    // Parsed here rather than with the `Json` extractor: that one refuses bodies sent without
    // `Content-Type: application/json` (as the client sends them) and answers errors as text.
    let signed: Signed = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(format!("the body is not a signature (JSON with key and signature): {e}")),
    };
    let Some(mut entry) = lock(&app.pending).get(&hash).cloned() else {
        return error_response(LedgerError::NotFound(format!("no pending revision {}", hex::encode(hash))));
    };
    if signed.key.verify(identity::Domain::Revision, &hash, &signed.signature).is_err() {
        return error_response(LedgerError::Forbidden(format!("the signature by {} does not verify", signed.key)));
    }
    // Only listed signers may add to a pending entry: anything else would never count, and
    // would let anyone grow the pending file without bound.
    let policy = lock(&app.ledger).policy_in_force(&entry.revision);
    match policy {
        Ok(Some(policy)) if policy.signers.contains(&signed.key) => {}
        Ok(_) => {
            return error_response(LedgerError::Forbidden(format!(
                "{} is not one of this revision's multisig signers",
                signed.key
            )))
        }
        Err(e) => return error_response(e),
    }
    entry.signatures.push(signed);
    match Ledger::prepare_entry(entry) {
        Ok(prepared) => app.submit(prepared).await,
        Err(e) => error_response(e),
    }
}

#[derive(Deserialize)]
struct ReadParams {
    at: Option<u64>,
    size: Option<u64>,
}

/// Turns found entries into proved ones (proofs for `size`), dropping what `reader` may not read.
fn prove(
    ledger: &Ledger,
    found: Vec<Found>,
    size: Option<u64>,
    reader: Option<&PublicKey>,
) -> Result<ProvedList, LedgerError> {
    let size = size.unwrap_or(ledger.len());
    if size > ledger.len() {
        return Err(LedgerError::NotFound(format!("the log has only {} entries", ledger.len())));
    }
    let mut entries = Vec::new();
    for f in found {
        if !ledger.can_read(&f.entry.revision, reader)? {
            continue;
        }
        if f.index >= size {
            return Err(LedgerError::Invalid(format!("entry {} is not in a tree of size {size}", f.index)));
        }
        let proof = ledger.inclusion_proof(f.index, size)?;
        entries.push(Proved { index: f.index, size, entry: hex::encode(&f.bytes), proof });
    }
    Ok(ProvedList { size, entries })
}

/// Runs a read: authenticates the reader, runs `read` under the ledger lock, proves the result.
fn read_one(
    app: &App,
    (headers, method, uri): (&HeaderMap, &Method, &Uri),
    size: Option<u64>,
    read: impl FnOnce(&mut Ledger) -> Result<Found, LedgerError>,
) -> Response {
    let reader = match app.reader(headers, method, uri, b"") {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut ledger = lock(&app.ledger);
    let result = read(&mut ledger).and_then(|found| prove(&ledger, vec![found], size, reader.as_ref()));
    match result {
        Ok(mut list) => match list.entries.pop() {
            Some(p) => Json(p).into_response(),
            None => error_response(LedgerError::Forbidden(
                "you may not read this object; sign the request as its owner or a twin with a read grant".into(),
            )),
        },
        Err(e) => error_response(e),
    }
}

fn read_many(
    app: &App,
    (headers, method, uri): (&HeaderMap, &Method, &Uri),
    size: Option<u64>,
    read: impl FnOnce(&mut Ledger) -> Result<Vec<Found>, LedgerError>,
) -> Response {
    let reader = match app.reader(headers, method, uri, b"") {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let mut ledger = lock(&app.ledger);
    match read(&mut ledger).and_then(|found| prove(&ledger, found, size, reader.as_ref())) {
        Ok(list) => Json(list).into_response(),
        Err(e) => error_response(e),
    }
}

async fn get_entry(
    State(app): State<Arc<App>>,
    UrlPath(index): UrlPath<u64>,
    Query(p): Query<ReadParams>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    read_one(&app, (&headers, &method, &uri), p.size, |l| l.read(index))
}

async fn get_object(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    Query(p): Query<ReadParams>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let id = match hash_param(&id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    read_one(&app, (&headers, &method, &uri), p.size, |l| l.get(&id, p.at))
}

async fn get_history(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    Query(p): Query<ReadParams>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let id = match hash_param(&id) {
        Ok(h) => h,
        Err(r) => return r,
    };
    read_many(&app, (&headers, &method, &uri), p.size, |l| l.history(&id, p.at))
}

#[derive(Deserialize)]
struct FindParams {
    schema: String,
    field: String,
    value: String,
    at: Option<u64>,
    size: Option<u64>,
}

async fn find(
    State(app): State<Arc<App>>,
    Query(p): Query<FindParams>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    read_many(&app, (&headers, &method, &uri), p.size, |l| l.find(&p.schema, &p.field, &p.value, p.at))
}

async fn get_schema(
    State(app): State<Arc<App>>,
    UrlPath(url): UrlPath<String>,
    Query(p): Query<ReadParams>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    read_one(&app, (&headers, &method, &uri), p.size, |l| {
        let mut found = l.find(crate::revision::SCHEMA_URL, "url", &url, p.at)?;
        found.pop().ok_or_else(|| LedgerError::NotFound(format!("no schema {url} is registered")))
    })
}
