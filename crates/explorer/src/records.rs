//! The grid's records as they sit in the ledger: one bcdb schema per kind, one revision per
//! record, authored by whoever the record speaks for.
//!
//! | kind      | schema url          | author            | object                       | id on the grid           |
//! |-----------|---------------------|-------------------|------------------------------|--------------------------|
//! | twin      | `tfgrid.twin.1`     | the twin's key    | one per twin                 | log index of version 1   |
//! | farm      | `tfgrid.farm.1`     | the owner twin    | one per farm                 | log index of version 1   |
//! | node      | `tfgrid.node.1`     | the node's key    | one per node, new versions   | the node's key           |
//! | report    | `tfgrid.report.1`   | the node's key    | one per node, new versions   | -                        |
//! | contract  | `tfgrid.contract.1` | the owner twin    | one per contract             | the contract id (hash)   |
//! | approval  | `tfgrid.approval.1` | the approving twin| one per approval             | -                        |
//! | result    | `tfgrid.result.1`   | the node's key    | one per report on a workload | -                        |
//!
//! Payloads are JSON objects: the fields the ledger indexes (`name`, `key`, `node`,
//! `contract_id`...) next to a `body` holding the `gridtypes` value itself. Whatever a node acts
//! on carries its own `gridtypes` signature inside the body (a contract's owner signature, an
//! approval's twin signature, a result's node signature), so a node checks it against the
//! phonebook without trusting the explorer's rules or bcdb's record format.

use bcdb::revision::{Entry, Op};
use gridtypes::{Approval, CapacityReport, ContractId, Node, SignedContract, TwinSignature, WorkloadResult};
use identity::PublicKey;
use serde::{Deserialize, Serialize};

/// The schemas, registered by the explorer when its ledger does not have them yet.
pub const SCHEMAS: [(&str, &str); 7] = [
    (TWIN, "@url = tfgrid.twin.1\n&name = (S)\n&key = (S)\nhost = (S)\n"),
    (FARM, "@url = tfgrid.farm.1\n&name = (S)\nowner** = (I)\nlocation = (dict)\n"),
    (NODE, "@url = tfgrid.node.1\n&node = (S)\nfarm** = (I)\nbody = (dict)\n"),
    (REPORT, "@url = tfgrid.report.1\n&node = (S)\nbody = (dict)\n"),
    (CONTRACT, "@url = tfgrid.contract.1\n&contract_id = (S)\nowner** = (I)\nbody = (dict)\n"),
    (APPROVAL, "@url = tfgrid.approval.1\ncontract_id** = (S)\napproval = (S)\nbody = (dict)\n"),
    (RESULT, "@url = tfgrid.result.1\ncontract_id** = (S)\nworkload = (S)\nbody = (dict)\n"),
];

/// Schema url of twin registrations.
pub const TWIN: &str = "tfgrid.twin.1";
/// Schema url of farms.
pub const FARM: &str = "tfgrid.farm.1";
/// Schema url of node registrations.
pub const NODE: &str = "tfgrid.node.1";
/// Schema url of capacity and uptime reports.
pub const REPORT: &str = "tfgrid.report.1";
/// Schema url of contracts.
pub const CONTRACT: &str = "tfgrid.contract.1";
/// Schema url of deploy and delete approvals.
pub const APPROVAL: &str = "tfgrid.approval.1";
/// Schema url of workload results.
pub const RESULT: &str = "tfgrid.result.1";

/// A twin registering itself in the phonebook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinRecord {
    /// Unique name, e.g. `bob.3bot`.
    pub name: String,
    /// The key that signs for the twin; must be the revision's author.
    pub key: PublicKey,
    /// How to reach the twin's 3Bot, if it can be reached.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

/// A farm, created by its owner twin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarmRecord {
    /// Unique name.
    pub name: String,
    /// The owner's twin id; the revision's author must be its phonebook key.
    pub owner: u32,
    /// Where the farm is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<gridtypes::Location>,
}

/// A node's registration (new versions when it changes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRecord {
    /// The node's key (hex), its id: unique, and the revision's author.
    pub node: PublicKey,
    /// Its farm, indexed for search.
    pub farm: u32,
    /// The registration.
    pub body: Node,
}

/// A node's latest capacity and uptime report (new versions of one object per node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRecord {
    /// The reporting node.
    pub node: PublicKey,
    /// The report, signed by the node.
    pub body: CapacityReport,
}

/// A contract with its owner's deploy signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRecord {
    /// The contract id (hex of the hash of its canonical bytes), unique.
    pub contract_id: ContractId,
    /// The owner's twin id, indexed.
    pub owner: u32,
    /// The contract and the owner's signature.
    pub body: SignedContract,
}

/// A twin's deploy or delete approval of a contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRecord {
    /// The contract approved.
    pub contract_id: ContractId,
    /// What is approved.
    pub approval: Approval,
    /// The twin's signature over [`Approval::message`].
    pub body: TwinSignature,
}

/// A node's signed result for one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRecord {
    /// The contract.
    pub contract_id: ContractId,
    /// The workload's name.
    pub workload: String,
    /// The result, signed by the node.
    pub body: WorkloadResult,
}

/// Any grid record, decoded from a log entry.
#[derive(Clone, Debug)]
pub enum Record {
    /// A phonebook entry.
    Twin(TwinRecord),
    /// A farm.
    Farm(FarmRecord),
    /// A node registration.
    Node(NodeRecord),
    /// A capacity report.
    Report(ReportRecord),
    /// A contract.
    Contract(ContractRecord),
    /// An approval.
    Approval(ApprovalRecord),
    /// A workload result.
    Result(ResultRecord),
}

impl Record {
    /// The record an entry holds: `None` for what is not a grid record (schemas, deletes),
    /// an error when a grid schema's payload does not decode.
    pub fn decode(entry: &Entry) -> Result<Option<Record>, String> {
        let rev = &entry.revision;
        if rev.op != Op::Put {
            return Ok(None);
        }
        let payload = &rev.payload;
        let parsed = match rev.schema_url.as_str() {
            TWIN => serde_json::from_slice(payload).map(Record::Twin),
            FARM => serde_json::from_slice(payload).map(Record::Farm),
            NODE => serde_json::from_slice(payload).map(Record::Node),
            REPORT => serde_json::from_slice(payload).map(Record::Report),
            CONTRACT => serde_json::from_slice(payload).map(Record::Contract),
            APPROVAL => serde_json::from_slice(payload).map(Record::Approval),
            RESULT => serde_json::from_slice(payload).map(Record::Result),
            _ => return Ok(None),
        };
        parsed.map(Some).map_err(|e| format!("{} payload does not decode: {e}", rev.schema_url))
    }

    /// The schema url this record is stored under.
    pub fn schema_url(&self) -> &'static str {
        match self {
            Record::Twin(_) => TWIN,
            Record::Farm(_) => FARM,
            Record::Node(_) => NODE,
            Record::Report(_) => REPORT,
            Record::Contract(_) => CONTRACT,
            Record::Approval(_) => APPROVAL,
            Record::Result(_) => RESULT,
        }
    }

    /// The payload bytes to sign and store.
    pub fn payload(&self) -> Vec<u8> {
        let json = match self {
            Record::Twin(r) => serde_json::to_vec(r),
            Record::Farm(r) => serde_json::to_vec(r),
            Record::Node(r) => serde_json::to_vec(r),
            Record::Report(r) => serde_json::to_vec(r),
            Record::Contract(r) => serde_json::to_vec(r),
            Record::Approval(r) => serde_json::to_vec(r),
            Record::Result(r) => serde_json::to_vec(r),
        };
        json.expect("grid records serialize")
    }

    /// The unique field and value that names this record's object, for records updated with new
    /// versions (nodes, reports); `None` for records that are written once.
    pub fn upsert_key(&self) -> Option<(&'static str, String)> {
        match self {
            Record::Node(r) => Some(("node", r.node.to_string())),
            Record::Report(r) => Some(("node", r.node.to_string())),
            _ => None,
        }
    }
}
