//! The JSON the grid routes answer with (`/grid/v1/...`), shared by the server and the client.
//!
//! These are the explorer's *views*: convenient, current, and not proofs. Everything a decision
//! rests on is also a ledger entry whose `index` each view carries, so a client that must not
//! trust the explorer (a node) reads that entry through bcdb's proved API instead.

use std::collections::BTreeSet;

use gridtypes::{Capacity, Contract, ContractId, ContractState, Location, Node, TwinSignature, WorkloadResult};
use identity::PublicKey;
use serde::{Deserialize, Serialize};

/// A phonebook entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwinView {
    /// The twin id: the log index of its registration.
    pub id: u32,
    /// Its unique name.
    pub name: String,
    /// The key that signs for it.
    pub key: PublicKey,
    /// How to reach its 3Bot ("" when unknown).
    #[serde(default)]
    pub host: String,
}

/// A farm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FarmView {
    /// The farm id: the log index of its creation.
    pub id: u32,
    /// Its unique name.
    pub name: String,
    /// The owner twin.
    pub owner: u32,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A node as the explorer sees it: its registration, its last report, and what contracts
/// reserve on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// Its key, which is its id.
    pub id: PublicKey,
    /// The log index of its current registration revision.
    pub index: u64,
    /// The registration.
    pub node: Node,
    /// What live contracts ask of it: the figure new contracts are admitted against.
    pub reserved: Capacity,
    /// `total - reserved`.
    pub free: Capacity,
    /// What the node last said its workloads use.
    pub used: Capacity,
    /// Seconds since it booted, as of its last report.
    pub uptime: u64,
    /// When it last reported, unix seconds (0: never).
    pub last_report: u64,
}

/// A node's result for one workload, with where it is in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultView {
    /// Log index of the result revision.
    pub index: u64,
    /// The signed result.
    pub result: WorkloadResult,
}

/// A contract and everything that happened to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractView {
    /// Its id.
    pub id: ContractId,
    /// Log index of the contract revision.
    pub index: u64,
    /// Where it is in its life (expiry counted at the time of the answer).
    pub state: ContractState,
    /// The contract.
    pub contract: Contract,
    /// The owner's deploy signature and every valid stakeholder approval.
    pub signatures: Vec<TwinSignature>,
    /// Signers whose deploy approval counts.
    pub deploy_signers: BTreeSet<u32>,
    /// Signers whose delete approval counts.
    pub delete_signers: BTreeSet<u32>,
    /// Whether the owner asked for deletion.
    pub owner_deleted: bool,
    /// Latest result per workload, in workload order.
    pub results: Vec<ResultView>,
    /// Log indexes of the approval revisions, for a reader that checks them itself.
    pub approvals: Vec<u64>,
}

/// One item of a node's work queue: something happened to a contract naming the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    /// Log index of what happened (the contract, or an approval of it).
    pub index: u64,
    /// The contract to look at again.
    pub contract: ContractId,
}

/// A page of a node's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Items with `from <= index < next`, in log order.
    pub items: Vec<QueueItem>,
    /// The cursor for the next poll: every entry before it has been looked at, so nothing is
    /// ever skipped, and it survives restarts of either side.
    pub next: u64,
}
