//! The typed client `tf` and `zos` use: writes grid records as signed bcdb revisions, reads the
//! grid's views, and gives access to bcdb's verifying client for what must be proved.
//!
//! Blocking (reqwest's blocking client), like bcdb's client: callers on an async runtime call it
//! from `spawn_blocking`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bcdb::api::ApiError;
use bcdb::client::{Client as LedgerClient, Submitted};
use bcdb::ledger::Receipt;
use bcdb::revision::{Acl, Entry, Hash, Op, Revision};
use gridtypes::{Capacity, ContractId};
use identity::{Identity, PublicKey};
use serde::de::DeserializeOwned;

use crate::api::{ContractView, FarmView, NodeView, Queue, TwinView};
use crate::records::Record;

/// A client of one explorer.
pub struct GridClient {
    base: String,
    http: reqwest::blocking::Client,
    ledger: LedgerClient,
    schema_hashes: Mutex<HashMap<&'static str, Hash>>,
}

impl GridClient {
    /// A client for the explorer at `url` (e.g. `http://127.0.0.1:8800`), keeping the checkpoint
    /// it trusts at `trust_path` (see [`bcdb::client`]: the log must only ever grow).
    pub fn new(url: &str, trust_path: PathBuf) -> GridClient {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(crate::server::MAX_WAIT_SECS + 30))
            .build()
            .expect("an HTTP client");
        let base = url.trim_end_matches('/').to_string();
        GridClient {
            ledger: LedgerClient::new(&base, None, trust_path, None),
            base,
            http,
            schema_hashes: Mutex::default(),
        }
    }

    /// The explorer's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// bcdb's verifying client over the same server: entries come with inclusion proofs against a
    /// checkpoint consistent with every earlier one this client saw.
    pub fn ledger(&self) -> &LedgerClient {
        &self.ledger
    }

    fn schema_hash(&self, url: &'static str) -> Result<Hash> {
        if let Some(h) = self.schema_hashes.lock().unwrap_or_else(|p| p.into_inner()).get(url) {
            return Ok(*h);
        }
        let schema = self.ledger.schema(url).with_context(|| format!("reading schema {url} from {}", self.base))?;
        let hash = schema.entry.revision.schema_hash;
        self.schema_hashes.lock().unwrap_or_else(|p| p.into_inner()).insert(url, hash);
        Ok(hash)
    }

    /// The revision that writes `record` as `author`: a new object, or for records kept as one
    /// object per node (registrations, reports), the next version of it.
    pub fn revision(&self, author: &Identity, record: &Record) -> Result<Revision> {
        let schema_url = record.schema_url();
        let (mut object, mut version, mut prev) = (None, 1, None);
        if let Some((field, value)) = record.upsert_key() {
            if let Some(head) = self.ledger.find(schema_url, field, &value, None)?.pop() {
                object = Some(head.entry.revision.object_id());
                version = head.entry.revision.version + 1;
                prev = Some(head.entry.revision.hash());
            }
        }
        Ok(Revision {
            object,
            version,
            prev,
            schema_url: schema_url.to_string(),
            schema_hash: self.schema_hash(schema_url)?,
            author: author.public_key(),
            timestamp_ms: bcdb::now_ms(),
            op: Op::Put,
            payload: record.payload(),
            acl: Acl { public: true, grants: Vec::new() },
            multisig: None,
        })
    }

    /// Signs `record` as `author` and submits it; answers once it is durable in the log (and
    /// proved to be there).
    pub fn submit(&self, author: &Identity, record: &Record) -> Result<Receipt> {
        let entry = Entry::signed_by(self.revision(author, record)?, author);
        self.submit_entry(&entry)
    }

    /// Submits a signed entry as is.
    pub fn submit_entry(&self, entry: &Entry) -> Result<Receipt> {
        match self.ledger.submit(entry).map_err(|e| anyhow!("the explorer refused the record: {e:#}"))? {
            Submitted::Accepted(receipt) => Ok(receipt),
            Submitted::Pending(_) => bail!("the explorer parked the record as pending; grid records take no multisig"),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let resp = self.http.get(&url).send().with_context(|| format!("cannot reach the explorer at {}", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes()?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg}");
        }
        serde_json::from_slice(&bytes)
            .with_context(|| format!("the explorer's answer to {path} is not what tf expects"))
    }

    fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        let url = format!("{}{path}", self.base);
        let resp = self.http.get(&url).send().with_context(|| format!("cannot reach the explorer at {}", self.base))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        drop(resp);
        self.get(path).map(Some)
    }

    /// Twin by id.
    pub fn twin(&self, id: u32) -> Result<Option<TwinView>> {
        self.get_optional(&format!("/grid/v1/twins/{id}"))
    }

    /// The twin registered with `key`.
    pub fn twin_by_key(&self, key: &PublicKey) -> Result<Option<TwinView>> {
        Ok(self.get::<Vec<TwinView>>(&format!("/grid/v1/twins?key={key}"))?.pop())
    }

    /// The twin registered as `name`.
    pub fn twin_by_name(&self, name: &str) -> Result<Option<TwinView>> {
        Ok(self.get::<Vec<TwinView>>(&format!("/grid/v1/twins?name={}", encode(name)))?.pop())
    }

    /// Every farm.
    pub fn farms(&self) -> Result<Vec<FarmView>> {
        self.get("/grid/v1/farms")
    }

    /// Farm by id.
    pub fn farm(&self, id: u32) -> Result<Option<FarmView>> {
        self.get_optional(&format!("/grid/v1/farms/{id}"))
    }

    /// Nodes in `farm` (any) with at least `free` capacity free.
    pub fn nodes(&self, farm: Option<u32>, free: &Capacity) -> Result<Vec<NodeView>> {
        let mut path = format!(
            "/grid/v1/nodes?free_cru={}&free_mru={}&free_sru={}&free_hru={}",
            free.cru, free.mru, free.sru, free.hru
        );
        if let Some(f) = farm {
            path.push_str(&format!("&farm={f}"));
        }
        self.get(&path)
    }

    /// A node's view.
    pub fn node(&self, key: &PublicKey) -> Result<Option<NodeView>> {
        self.get_optional(&format!("/grid/v1/nodes/{key}"))
    }

    /// Long-polls a node's queue from `from`, waiting up to `wait` for something new.
    pub fn queue(&self, node: &PublicKey, from: u64, wait: Duration) -> Result<Queue> {
        self.get(&format!("/grid/v1/nodes/{node}/queue?from={from}&wait={}", wait.as_secs()))
    }

    /// A contract's view.
    pub fn contract(&self, id: &ContractId) -> Result<Option<ContractView>> {
        self.get_optional(&format!("/grid/v1/contracts/{id}"))
    }

    /// Contracts of `owner` and/or naming `node`.
    pub fn contracts(&self, owner: Option<u32>, node: Option<&PublicKey>) -> Result<Vec<ContractView>> {
        let mut query = Vec::new();
        if let Some(o) = owner {
            query.push(format!("owner={o}"));
        }
        if let Some(n) = node {
            query.push(format!("node={n}"));
        }
        self.get(&format!("/grid/v1/contracts?{}", query.join("&")))
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
