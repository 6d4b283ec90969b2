//! The grid's rules and views, kept by the explorer next to its ledger ([`bcdb::server::Hooks`]).
//!
//! [`Grid::check`] runs before the ledger's own rules, under its lock, and refuses what would
//! make the grid inconsistent or that a node would refuse anyway, with a message that says what
//! to fix. [`Grid::accepted`] folds each logged record into [`View`]: the phonebook, farms,
//! nodes, contracts with their state, and per-node queues. The view is rebuilt from the log at
//! every start, so it holds nothing the log does not.
//!
//! Invariants:
//! - A record is only ever checked against records before it in the log (the lock makes "before"
//!   well defined), so replaying the log rebuilds exactly the view the checks saw.
//! - A node's queue lists, in log order, the index of every contract naming the node and of every
//!   approval of such a contract. Queues only grow.
//! - The explorer is a convenience, not an authority: nodes re-check every signature they act on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use bcdb::ledger::{Ledger, LedgerError};
use bcdb::revision::{Entry, Op, SCHEMA_URL};
use gridtypes::{
    Approval, Capacity, ContractEvent, ContractId, ContractState, Farm, ResultState, SignedContract, Twin,
};
use identity::PublicKey;

use crate::api::{ContractView, FarmView, NodeView, QueueItem, ResultView, TwinView};
use crate::records::*;

/// The explorer's hooks: rules in, views out.
#[derive(Default)]
pub struct Grid {
    view: Mutex<View>,
}

impl Grid {
    /// The current view, locked. Never take the ledger's lock while holding it.
    pub fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl bcdb::server::Hooks for Grid {
    fn check(&self, _ledger: &mut Ledger, entry: &Entry) -> Result<(), LedgerError> {
        self.view().check(entry, now())
    }

    fn accepted(&self, index: u64, entry: &Entry) {
        self.view().apply(index, entry);
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A contract as the view keeps it.
#[derive(Clone, Debug)]
struct ContractEntry {
    index: u64,
    signed: SignedContract,
    deploy_signers: BTreeSet<u32>,
    delete_signers: BTreeSet<u32>,
    owner_deleted: bool,
    state: ContractState,
    results: BTreeMap<String, ResultView>,
    approvals: Vec<u64>,
}

impl ContractEntry {
    fn state_at(&self, now: u64) -> ContractState {
        if !self.state.is_final() && self.signed.contract.is_expired(now) {
            ContractState::Expired
        } else {
            self.state
        }
    }

    fn advance(&mut self, event: ContractEvent) {
        if let Ok(next) = self.state.next(event) {
            self.state = next;
        }
    }

    fn results_event(&self) -> ContractEvent {
        let latest = self.results.values().map(|r| r.result.state);
        ContractEvent::Results {
            total: self.signed.contract.workloads.len() as u32,
            ok: latest.clone().filter(|s| *s == ResultState::Ok).count() as u32,
            error: latest.filter(|s| *s == ResultState::Error).count() as u32,
        }
    }
}

/// A node as the view keeps it.
#[derive(Clone, Debug)]
struct NodeEntry {
    index: u64,
    record: NodeRecord,
    report: Option<ReportRecord>,
    queue: Vec<QueueItem>,
}

/// Everything the explorer knows, derived from the log.
#[derive(Default)]
pub struct View {
    twins: BTreeMap<u32, TwinView>,
    twin_by_key: HashMap<PublicKey, u32>,
    farms: BTreeMap<u32, FarmView>,
    nodes: BTreeMap<PublicKey, NodeEntry>,
    contracts: HashMap<ContractId, ContractEntry>,
    /// Contract ids in log order.
    contract_order: Vec<ContractId>,
}

fn invalid(msg: impl Into<String>) -> LedgerError {
    LedgerError::Invalid(msg.into())
}

fn forbidden(msg: impl Into<String>) -> LedgerError {
    LedgerError::Forbidden(msg.into())
}

fn not_found(msg: impl Into<String>) -> LedgerError {
    LedgerError::NotFound(msg.into())
}

impl View {
    /// The phonebook: the key twin `id` signs with.
    pub fn twin_key(&self, id: u32) -> Option<PublicKey> {
        self.twins.get(&id).map(|t| t.key)
    }

    /// Refuses a record the grid does not allow (see the module docs).
    pub fn check(&self, entry: &Entry, now: u64) -> Result<(), LedgerError> {
        let rev = &entry.revision;
        if rev.schema_url == SCHEMA_URL {
            return Err(forbidden("this explorer's schemas are its own; submit grid records (tfgrid.*) only"));
        }
        if rev.op == Op::Delete {
            return Err(forbidden("grid records are never deleted; to end a contract, submit delete approvals"));
        }
        let record = Record::decode(entry).map_err(invalid)?.ok_or_else(|| {
            forbidden(format!("this explorer keeps grid records only; `{}` is not a grid schema", rev.schema_url))
        })?;
        let upsert = record.upsert_key().is_some();
        if rev.version != 1 && !upsert {
            return Err(invalid(format!("{} records are written once; submit a new one", rev.schema_url)));
        }
        let author = rev.author;
        match &record {
            Record::Twin(r) => self.check_twin(r, author),
            Record::Farm(r) => self.check_farm(r, author),
            Record::Node(r) => self.check_node(r, author),
            Record::Report(r) => self.check_report(r, author),
            Record::Contract(r) => self.check_contract(r, author, now),
            Record::Approval(r) => self.check_approval(r, author),
            Record::Result(r) => self.check_result(r, author),
        }
    }

    fn check_twin(&self, r: &TwinRecord, author: PublicKey) -> Result<(), LedgerError> {
        if r.key != author {
            return Err(forbidden("a twin registers itself: sign the registration with the key it registers"));
        }
        let host = (!r.host.is_empty()).then(|| r.host.clone());
        Twin { id: 0, name: r.name.clone(), key: r.key, host }.validate().map_err(|e| invalid(e.to_string()))?;
        if let Some(id) = self.twin_by_key.get(&r.key) {
            return Err(LedgerError::Conflict(format!("key {} is already registered as twin {id}", r.key)));
        }
        if let Some(t) = self.twins.values().find(|t| t.name == r.name) {
            return Err(LedgerError::Conflict(format!(
                "twin name `{}` is taken by twin {}; pick another",
                r.name, t.id
            )));
        }
        Ok(())
    }

    fn author_is_twin(&self, twin: u32, author: PublicKey, what: &str) -> Result<(), LedgerError> {
        match self.twin_key(twin) {
            None => Err(not_found(format!("twin {twin} is not in the phonebook; register it with `tf twin register`"))),
            Some(key) if key != author => {
                Err(forbidden(format!("{what} must be signed by twin {twin}'s key {key}, not {author}")))
            }
            Some(_) => Ok(()),
        }
    }

    fn check_farm(&self, r: &FarmRecord, author: PublicKey) -> Result<(), LedgerError> {
        self.author_is_twin(r.owner, author, "a farm")?;
        Farm { id: 0, name: r.name.clone(), owner: r.owner, location: r.location.clone() }
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(f) = self.farms.values().find(|f| f.name == r.name) {
            return Err(LedgerError::Conflict(format!(
                "farm name `{}` is taken by farm {}; pick another",
                r.name, f.id
            )));
        }
        Ok(())
    }

    fn check_node(&self, r: &NodeRecord, author: PublicKey) -> Result<(), LedgerError> {
        if r.node != author || r.body.id != author {
            return Err(forbidden("a node registers itself: `node` and `body.id` must be the signing key"));
        }
        if r.farm != r.body.farm {
            return Err(invalid("`farm` must equal `body.farm`"));
        }
        r.body.validate().map_err(|e| invalid(e.to_string()))?;
        if !self.farms.contains_key(&r.farm) {
            return Err(not_found(format!("farm {} does not exist; create it with `tf farm create`", r.farm)));
        }
        Ok(())
    }

    fn check_report(&self, r: &ReportRecord, author: PublicKey) -> Result<(), LedgerError> {
        if r.node != author || r.body.node != author {
            return Err(forbidden("a node reports for itself: `node` and `body.node` must be the signing key"));
        }
        r.body.verify().map_err(|e| forbidden(e.to_string()))?;
        r.body.validate().map_err(|e| invalid(e.to_string()))?;
        if !self.nodes.contains_key(&author) {
            return Err(not_found(format!("node {author} is not registered")));
        }
        Ok(())
    }

    fn check_contract(&self, r: &ContractRecord, author: PublicKey, now: u64) -> Result<(), LedgerError> {
        let contract = &r.body.contract;
        contract.validate().map_err(|e| invalid(e.to_string()))?;
        if r.contract_id != contract.id() {
            return Err(invalid(format!("`contract_id` {} is not the contract's id {}", r.contract_id, contract.id())));
        }
        if r.owner != contract.owner {
            return Err(invalid("`owner` must equal the contract's owner"));
        }
        self.author_is_twin(contract.owner, author, "a contract")?;
        if contract.owner_key != author {
            return Err(forbidden("the contract's `owner_key` is not the owner's phonebook key"));
        }
        if !r.body.owner_signed(&|t| self.twin_key(t)) {
            return Err(forbidden("the owner's deploy signature over the contract id does not verify"));
        }
        if contract.is_expired(now) {
            return Err(invalid("the contract is already expired; set `expires_at` in the future"));
        }
        if self.contracts.contains_key(&r.contract_id) {
            return Err(LedgerError::Conflict(format!("contract {} is already registered", r.contract_id)));
        }
        for signer in &contract.signers {
            if self.twin_key(*signer).is_none() {
                return Err(not_found(format!("signer twin {signer} is not in the phonebook")));
            }
        }
        for node in contract.nodes() {
            let Some(n) = self.nodes.get(&node) else {
                return Err(not_found(format!(
                    "node {node} is not registered; pick one from `tf nodes` (workload on it: {})",
                    contract.workloads_on(&node).map(|w| w.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            };
            let wanted = contract.capacity_on(&node).map_err(|e| invalid(e.to_string()))?;
            let free = n.record.body.total.saturating_sub(&self.reserved(&node));
            if !wanted.fits_in(&free) {
                return Err(LedgerError::Conflict(format!(
                    "node {node} has not enough free capacity: the contract needs {wanted}, {free} is free (short by {}); pick another node or ask for less",
                    wanted.shortfall(&free)
                )));
            }
        }
        Ok(())
    }

    fn check_approval(&self, r: &ApprovalRecord, author: PublicKey) -> Result<(), LedgerError> {
        let c = self.contract_entry(&r.contract_id)?;
        let contract = &c.signed.contract;
        let twin = r.body.twin;
        self.author_is_twin(twin, author, "an approval")?;
        let phonebook = |t: u32| self.twin_key(t);
        let sigs = std::slice::from_ref(&r.body);
        let valid = if twin == contract.owner && r.approval == Approval::Delete {
            contract.owner_approved(Approval::Delete, sigs, &phonebook)
        } else if contract.signers.contains(&twin) {
            contract.approvals(r.approval, sigs, &phonebook).contains(&twin)
        } else {
            return Err(forbidden(format!(
                "twin {twin} is not a signer of contract {}{}",
                r.contract_id,
                if twin == contract.owner { "; the owner's deploy signature is part of the contract" } else { "" }
            )));
        };
        if !valid {
            return Err(forbidden(format!("twin {twin}'s {} signature does not verify", approval_name(r.approval))));
        }
        let state = c.state_at(now());
        if state.is_final() {
            return Err(LedgerError::Conflict(format!(
                "contract {} is {state}; nothing left to approve",
                r.contract_id
            )));
        }
        let already = match r.approval {
            Approval::Deploy => c.deploy_signers.contains(&twin),
            Approval::Delete => c.delete_signers.contains(&twin) || (twin == contract.owner && c.owner_deleted),
        };
        if already {
            return Err(LedgerError::Conflict(format!(
                "twin {twin} already approved the {} of contract {}",
                approval_name(r.approval),
                r.contract_id
            )));
        }
        if r.approval == Approval::Deploy && state != ContractState::WaitingForSignatures {
            return Err(LedgerError::Conflict(format!(
                "contract {} already has its quorum ({state}); no more deploy signatures are needed",
                r.contract_id
            )));
        }
        Ok(())
    }

    fn check_result(&self, r: &ResultRecord, author: PublicKey) -> Result<(), LedgerError> {
        let result = &r.body;
        if result.node != author {
            return Err(forbidden("a result is reported by its node: `body.node` must be the signing key"));
        }
        result.verify().map_err(|e| forbidden(e.to_string()))?;
        result.validate().map_err(|e| invalid(e.to_string()))?;
        if result.contract != r.contract_id || result.workload != r.workload {
            return Err(invalid("`contract_id` and `workload` must match the result's"));
        }
        let c = self.contract_entry(&r.contract_id)?;
        match c.signed.contract.workload(&r.workload) {
            Some(w) if w.node == author => Ok(()),
            Some(_) => Err(forbidden(format!("workload `{}` is not on node {author}", r.workload))),
            None => Err(not_found(format!("contract {} has no workload `{}`", r.contract_id, r.workload))),
        }
    }

    fn contract_entry(&self, id: &ContractId) -> Result<&ContractEntry, LedgerError> {
        self.contracts.get(id).ok_or_else(|| not_found(format!("contract {id} does not exist")))
    }

    /// What live contracts reserve on `node`.
    fn reserved(&self, node: &PublicKey) -> Capacity {
        let now = now();
        let mut sum = Capacity::default();
        for c in self.contracts.values() {
            let state = c.state_at(now);
            if state.is_final() {
                continue;
            }
            if let Ok(cap) = c.signed.contract.capacity_on(node) {
                sum = sum.checked_add(&cap).unwrap_or(sum);
            }
        }
        sum
    }

    /// Folds a logged entry into the view.
    pub fn apply(&mut self, index: u64, entry: &Entry) {
        let Ok(Some(record)) = Record::decode(entry) else { return };
        match record {
            Record::Twin(r) => {
                let Ok(id) = u32::try_from(index) else { return };
                self.twin_by_key.insert(r.key, id);
                self.twins.insert(id, TwinView { id, name: r.name, key: r.key, host: r.host });
            }
            Record::Farm(r) => {
                let Ok(id) = u32::try_from(index) else { return };
                self.farms.insert(id, FarmView { id, name: r.name, owner: r.owner, location: r.location });
            }
            Record::Node(r) => {
                let node = self.nodes.entry(r.node).or_insert_with(|| NodeEntry {
                    index,
                    record: r.clone(),
                    report: None,
                    queue: Vec::new(),
                });
                node.index = index;
                node.record = r;
            }
            Record::Report(r) => {
                if let Some(node) = self.nodes.get_mut(&r.node) {
                    node.report = Some(r);
                }
            }
            Record::Contract(r) => self.apply_contract(index, r),
            Record::Approval(r) => self.apply_approval(index, r),
            Record::Result(r) => {
                if let Some(c) = self.contracts.get_mut(&r.contract_id) {
                    c.results.insert(r.workload, ResultView { index, result: r.body });
                    let event = c.results_event();
                    c.advance(event);
                }
            }
        }
    }

    fn apply_contract(&mut self, index: u64, r: ContractRecord) {
        let signed = r.body;
        let deploy_signers = signed.valid_signers(&|t| self.twin_key(t));
        let need = signed.contract.quorum;
        let mut c = ContractEntry {
            index,
            deploy_signers,
            delete_signers: BTreeSet::new(),
            owner_deleted: false,
            state: ContractState::Created,
            results: BTreeMap::new(),
            approvals: Vec::new(),
            signed,
        };
        c.advance(ContractEvent::Signed { have: c.deploy_signers.len() as u32, need });
        self.enqueue(index, &c);
        self.contract_order.push(r.contract_id);
        self.contracts.insert(r.contract_id, c);
    }

    fn apply_approval(&mut self, index: u64, r: ApprovalRecord) {
        let Some(mut c) = self.contracts.remove(&r.contract_id) else { return };
        let twin = r.body.twin;
        c.approvals.push(index);
        let quorum = c.signed.contract.quorum;
        match r.approval {
            Approval::Deploy => {
                c.deploy_signers.insert(twin);
                c.signed.signatures.retain(|s| s.twin != twin);
                c.signed.signatures.push(r.body);
                c.advance(ContractEvent::Signed { have: c.deploy_signers.len() as u32, need: quorum });
            }
            Approval::Delete => {
                if twin == c.signed.contract.owner {
                    c.owner_deleted = true;
                } else {
                    c.delete_signers.insert(twin);
                }
                if c.owner_deleted && c.delete_signers.len() >= quorum as usize {
                    c.advance(ContractEvent::DeleteRequested);
                }
            }
        }
        self.enqueue(index, &c);
        self.contracts.insert(r.contract_id, c);
    }

    fn enqueue(&mut self, index: u64, c: &ContractEntry) {
        let id = c.signed.id();
        for node in c.signed.contract.nodes() {
            if let Some(n) = self.nodes.get_mut(&node) {
                n.queue.push(QueueItem { index, contract: id });
            }
        }
    }

    /// Twin by id.
    pub fn twin(&self, id: u32) -> Option<TwinView> {
        self.twins.get(&id).cloned()
    }

    /// Twins with this name or key (at most one each).
    pub fn find_twins(&self, name: Option<&str>, key: Option<&PublicKey>) -> Vec<TwinView> {
        self.twins
            .values()
            .filter(|t| name.is_none_or(|n| t.name == n) && key.is_none_or(|k| &t.key == k))
            .cloned()
            .collect()
    }

    /// Every farm, by id.
    pub fn farms(&self) -> Vec<FarmView> {
        self.farms.values().cloned().collect()
    }

    /// Farm by id.
    pub fn farm(&self, id: u32) -> Option<FarmView> {
        self.farms.get(&id).cloned()
    }

    /// A node's view.
    pub fn node(&self, id: &PublicKey) -> Option<NodeView> {
        self.nodes.get(id).map(|n| self.node_view(n))
    }

    fn node_view(&self, n: &NodeEntry) -> NodeView {
        let reserved = self.reserved(&n.record.node);
        let report = n.report.as_ref().map(|r| &r.body);
        NodeView {
            id: n.record.node,
            index: n.index,
            node: n.record.body.clone(),
            free: n.record.body.total.saturating_sub(&reserved),
            reserved,
            used: report.map(|r| r.used).unwrap_or_default(),
            uptime: report.map(|r| r.uptime).unwrap_or(0),
            last_report: report.map(|r| r.at).unwrap_or(0),
        }
    }

    /// Nodes in `farm` (any when `None`) with at least `free` capacity free.
    pub fn find_nodes(&self, farm: Option<u32>, free: &Capacity) -> Vec<NodeView> {
        self.nodes
            .values()
            .filter(|n| farm.is_none_or(|f| n.record.farm == f))
            .map(|n| self.node_view(n))
            .filter(|v| free.fits_in(&v.free))
            .collect()
    }

    /// The node's queue items with `from <= index < upto`, at most `limit`, and the next cursor;
    /// `None` for an unknown node.
    pub fn queue(&self, node: &PublicKey, from: u64, upto: u64, limit: usize) -> Option<crate::api::Queue> {
        let n = self.nodes.get(node)?;
        let start = n.queue.partition_point(|i| i.index < from);
        let items: Vec<QueueItem> =
            n.queue[start..].iter().take_while(|i| i.index < upto).take(limit).cloned().collect();
        let next = if items.len() == limit { items.last().map_or(from, |i| i.index + 1) } else { upto.max(from) };
        Some(crate::api::Queue { items, next })
    }

    /// A contract's view.
    pub fn contract(&self, id: &ContractId) -> Option<ContractView> {
        self.contracts.get(id).map(|c| contract_view(c, now()))
    }

    /// Contracts of `owner` (all when `None`) and naming `node` (any when `None`), in log order.
    pub fn contracts(&self, owner: Option<u32>, node: Option<&PublicKey>) -> Vec<ContractView> {
        let now = now();
        self.contract_order
            .iter()
            .filter_map(|id| self.contracts.get(id))
            .filter(|c| owner.is_none_or(|o| c.signed.contract.owner == o))
            .filter(|c| node.is_none_or(|n| c.signed.contract.workloads_on(n).next().is_some()))
            .map(|c| contract_view(c, now))
            .collect()
    }
}

fn contract_view(c: &ContractEntry, now: u64) -> ContractView {
    let contract = &c.signed.contract;
    ContractView {
        id: c.signed.id(),
        index: c.index,
        state: c.state_at(now),
        contract: contract.clone(),
        signatures: c.signed.signatures.clone(),
        deploy_signers: c.deploy_signers.clone(),
        delete_signers: c.delete_signers.clone(),
        owner_deleted: c.owner_deleted,
        results: contract.workloads.iter().filter_map(|w| c.results.get(&w.name).cloned()).collect(),
        approvals: c.approvals.clone(),
    }
}

fn approval_name(a: Approval) -> &'static str {
    match a {
        Approval::Deploy => "deploy",
        Approval::Delete => "delete",
    }
}
