//! `explorer serve`: bcdb's API (proofs, checkpoints, `POST /v1/entries` for every write) with
//! the grid's rules hooked in, plus the grid's read routes under `/grid/v1`.
//!
//! | route                                   | answers                                             |
//! |-----------------------------------------|-----------------------------------------------------|
//! | `GET /grid/v1/twins/{id}`               | [`TwinView`]                                        |
//! | `GET /grid/v1/twins?name=&key=`         | `[TwinView]`                                        |
//! | `GET /grid/v1/farms`, `/farms/{id}`     | `[FarmView]`, [`FarmView`]                          |
//! | `GET /grid/v1/nodes?farm=&free_cru=&free_mru=&free_sru=&free_hru=` | `[NodeView]` with that much free |
//! | `GET /grid/v1/nodes/{key}`              | [`NodeView`]                                        |
//! | `GET /grid/v1/nodes/{key}/queue?from=&wait=` | [`Queue`](crate::api::Queue), long-polled up to `wait` s |
//! | `GET /grid/v1/contracts?owner=&node=`   | `[ContractView]`                                    |
//! | `GET /grid/v1/contracts/{id}`           | [`ContractView`]                                    |
//!
//! A queue only ever shows entries already synced to disk, so a node never acts on something a
//! crash of the explorer could take back.

// Handlers return early with a ready `Response` as their error; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bcdb::api::ApiError;
use bcdb::revision::{Entry, Revision};
use bcdb::server::{App, ServeConfig};
use gridtypes::{Capacity, ContractId};
use identity::{Identity, PublicKey};
use serde::Deserialize;

use crate::api::{FarmView, TwinView};
use crate::grid::Grid;
use crate::records::SCHEMAS;

/// Longest a queue poll waits.
pub const MAX_WAIT_SECS: u64 = 60;
/// Most items one queue page holds.
pub const QUEUE_PAGE: usize = 1000;

/// The explorer: the bcdb app and the grid view it feeds.
pub struct Explorer {
    /// The ledger service.
    pub app: Arc<App>,
    /// The grid's rules and views.
    pub grid: Arc<Grid>,
}

impl Explorer {
    /// Opens (or creates) the explorer's data directory and registers the grid schemas if the
    /// ledger lacks them.
    pub fn open(data: PathBuf) -> anyhow::Result<Explorer> {
        std::fs::create_dir_all(&data)?;
        let grid = Arc::new(Grid::default());
        let config = ServeConfig { listen: "127.0.0.1:0".parse()?, data: data.clone(), zdb: None };
        let hooks: Arc<dyn bcdb::server::Hooks> = grid.clone();
        let app = Arc::new(App::open_with_hooks(&config, Some(hooks))?);
        register_schemas(&app, &data)?;
        app.start_syncer();
        Ok(Explorer { app, grid })
    }

    /// The HTTP routes: bcdb's and the grid's.
    pub fn router(&self) -> Router {
        let grid_routes = Router::new()
            .route("/grid/v1/twins", get(find_twins))
            .route("/grid/v1/twins/{id}", get(get_twin))
            .route("/grid/v1/farms", get(list_farms))
            .route("/grid/v1/farms/{id}", get(get_farm))
            .route("/grid/v1/nodes", get(find_nodes))
            .route("/grid/v1/nodes/{key}", get(get_node))
            .route("/grid/v1/nodes/{key}/queue", get(get_queue))
            .route("/grid/v1/contracts", get(list_contracts))
            .route("/grid/v1/contracts/{id}", get(get_contract))
            .with_state(Arc::new(Shared { app: self.app.clone(), grid: self.grid.clone() }));
        bcdb::server::router(self.app.clone()).merge(grid_routes)
    }
}

/// Binds, prints `explorer listening on ADDR`, and serves until killed.
pub async fn serve(listen: SocketAddr, data: PathBuf) -> anyhow::Result<()> {
    let explorer = tokio::task::block_in_place(|| Explorer::open(data))?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!("explorer server key {}", explorer.app.server_key());
    println!("explorer listening on {}", listener.local_addr()?);
    axum::serve(listener, explorer.router()).await?;
    Ok(())
}

/// Registers the grid schemas the ledger does not have yet, signed by the explorer's own key
/// (kept in `DATA/grid-identity.json`), and syncs them.
fn register_schemas(app: &App, data: &std::path::Path) -> anyhow::Result<()> {
    let mut ledger = app.ledger();
    let missing: Vec<_> = SCHEMAS.iter().filter(|(url, _)| ledger.schema_by_url(url).is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let key_path = data.join("grid-identity.json");
    let identity = match Identity::load(&key_path) {
        Ok(id) => id,
        Err(_) => {
            let id = Identity::generate(identity::KeyScheme::default());
            id.save(&key_path)?;
            id
        }
    };
    for (_, text) in missing {
        let revision = Revision {
            object: None,
            version: 1,
            prev: None,
            schema_url: bcdb::revision::SCHEMA_URL.into(),
            schema_hash: bcdb::ledger::sha256(text.as_bytes()),
            author: identity.public_key(),
            timestamp_ms: bcdb::now_ms(),
            op: bcdb::revision::Op::Put,
            payload: text.as_bytes().to_vec(),
            acl: bcdb::revision::Acl { public: true, grants: Vec::new() },
            multisig: None,
        };
        let prepared = bcdb::ledger::Ledger::prepare_entry(Entry::signed_by(revision, &identity))?;
        ledger.append(prepared)?;
    }
    if let Some(file) = ledger.store().sync_file()? {
        file.sync_data()?;
    }
    Ok(())
}

struct Shared {
    app: Arc<App>,
    grid: Arc<Grid>,
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(ApiError { error: msg.into() })).into_response()
}

fn found<T: serde::Serialize>(value: Option<T>, what: impl FnOnce() -> String) -> Response {
    match value {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, what()),
    }
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Response> {
    text.parse().map_err(|_| error(StatusCode::BAD_REQUEST, format!("`{text}` is not a valid {what}")))
}

#[derive(Deserialize)]
struct TwinQuery {
    name: Option<String>,
    key: Option<String>,
}

async fn find_twins(State(s): State<Arc<Shared>>, Query(q): Query<TwinQuery>) -> Response {
    let key = match q.key.as_deref().map(|k| parse::<PublicKey>(k, "public key")).transpose() {
        Ok(k) => k,
        Err(r) => return r,
    };
    let twins: Vec<TwinView> = s.grid.view().find_twins(q.name.as_deref(), key.as_ref());
    Json(twins).into_response()
}

async fn get_twin(State(s): State<Arc<Shared>>, UrlPath(id): UrlPath<u32>) -> Response {
    found(s.grid.view().twin(id), || format!("twin {id} is not in the phonebook"))
}

async fn list_farms(State(s): State<Arc<Shared>>) -> Response {
    let farms: Vec<FarmView> = s.grid.view().farms();
    Json(farms).into_response()
}

async fn get_farm(State(s): State<Arc<Shared>>, UrlPath(id): UrlPath<u32>) -> Response {
    found(s.grid.view().farm(id), || format!("farm {id} does not exist"))
}

#[derive(Deserialize)]
struct NodeQuery {
    farm: Option<u32>,
    #[serde(default)]
    free_cru: u64,
    #[serde(default)]
    free_mru: u64,
    #[serde(default)]
    free_sru: u64,
    #[serde(default)]
    free_hru: u64,
}

async fn find_nodes(State(s): State<Arc<Shared>>, Query(q): Query<NodeQuery>) -> Response {
    let free = Capacity { cru: q.free_cru, mru: q.free_mru, sru: q.free_sru, hru: q.free_hru };
    Json(s.grid.view().find_nodes(q.farm, &free)).into_response()
}

async fn get_node(State(s): State<Arc<Shared>>, UrlPath(key): UrlPath<String>) -> Response {
    let key = match parse::<PublicKey>(&key, "node key") {
        Ok(k) => k,
        Err(r) => return r,
    };
    found(s.grid.view().node(&key), || format!("node {key} is not registered"))
}

#[derive(Deserialize)]
struct QueueQuery {
    #[serde(default)]
    from: u64,
    #[serde(default)]
    wait: u64,
}

/// Long-poll: answers as soon as the node has durable items at or after `from`, or after `wait`
/// seconds with none (and the cursor moved up to what is durable).
async fn get_queue(
    State(s): State<Arc<Shared>>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let key = match parse::<PublicKey>(&key, "node key") {
        Ok(k) => k,
        Err(r) => return r,
    };
    let mut durable = s.app.durable();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.min(MAX_WAIT_SECS));
    loop {
        let upto = match &*durable.borrow_and_update() {
            Ok(n) => *n,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("the ledger stopped syncing: {e}")),
        };
        let Some(page) = s.grid.view().queue(&key, q.from, upto, QUEUE_PAGE) else {
            return error(StatusCode::NOT_FOUND, format!("node {key} is not registered"));
        };
        if !page.items.is_empty() {
            return Json(page).into_response();
        }
        match tokio::time::timeout_at(deadline, durable.changed()).await {
            Ok(Ok(())) => continue,
            _ => return Json(page).into_response(),
        }
    }
}

#[derive(Deserialize)]
struct ContractQuery {
    owner: Option<u32>,
    node: Option<String>,
}

async fn list_contracts(State(s): State<Arc<Shared>>, Query(q): Query<ContractQuery>) -> Response {
    let node = match q.node.as_deref().map(|k| parse::<PublicKey>(k, "node key")).transpose() {
        Ok(n) => n,
        Err(r) => return r,
    };
    Json(s.grid.view().contracts(q.owner, node.as_ref())).into_response()
}

async fn get_contract(State(s): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    let id = match parse::<ContractId>(&id, "contract id") {
        Ok(i) => i,
        Err(r) => return r,
    };
    found(s.grid.view().contract(&id), || format!("contract {id} does not exist"))
}
