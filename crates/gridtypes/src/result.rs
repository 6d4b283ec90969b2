//! Results: what a node says happened to a workload, signed by the node.
//!
//! The explorer checks the signature before storing a result, and anyone reading it later can
//! check it again against the node id; the original produced result signatures and never
//! checked them.
//!
//! # Canonical bytes (signed in `Domain::Result`)
//!
//! ```text
//! fixed   contract id (32)
//! str     workload name
//! fixed   node (32)
//! u8      state: 0 ok, 1 error, 2 deleted
//! bytes   data: serde_json::to_vec(&data), i.e. compact JSON with object keys sorted
//! option  str message
//! u64     at (unix seconds)
//! ```
//!
//! The data bytes are compact JSON (no spaces) with object keys in byte order at every level,
//! strings escaped as serde_json does (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other control
//! characters as `\u00xx`, everything else as UTF-8). That is what serde_json writes for a
//! `Value` when its `preserve_order` feature is off (its map is then a `BTreeMap`); a test
//! asserts it. [`WorkloadResult::validate`] refuses fractional numbers in data, since their
//! text form differs between JSON implementations; send such values as strings.

use identity::{Domain, Encoder, Identity, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::validate::workload_name;
use crate::{ContractId, Error, ValidationError};

/// Largest result data, as canonical JSON bytes.
pub const RESULT_DATA_MAX: usize = 64 * 1024;
/// Longest result message, bytes.
pub const RESULT_MESSAGE_MAX: usize = 4096;

/// The outcome a node reports for a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultState {
    /// Provisioned and running; `data` says how to use it.
    Ok,
    /// Could not be provisioned; `message` says why.
    Error,
    /// Removed from the node.
    Deleted,
}

impl ResultState {
    /// The canonical tag byte: ok 0, error 1, deleted 2.
    pub fn tag(self) -> u8 {
        match self {
            ResultState::Ok => 0,
            ResultState::Error => 1,
            ResultState::Deleted => 2,
        }
    }
}

/// A node's signed report on one workload of one contract, e.g. a zdb's address and namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadResult {
    /// The contract the workload belongs to.
    pub contract: ContractId,
    /// The workload's name within the contract.
    pub workload: String,
    /// The reporting node's key (must be the workload's node).
    pub node: PublicKey,
    /// What happened.
    pub state: ResultState,
    /// Type-specific facts for the user, e.g. `{"address": "127.0.0.1:9900", "namespace": "…"}`.
    #[serde(default)]
    pub data: serde_json::Value,
    /// Human-readable detail, mostly for errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the node reported, unix seconds.
    pub at: u64,
    /// The node's signature over [`WorkloadResult::canonical_bytes`] in [`Domain::Result`].
    pub signature: Signature,
}

impl WorkloadResult {
    /// A result signed by `node` (whose key becomes [`WorkloadResult::node`]).
    pub fn new(
        node: &Identity,
        contract: ContractId,
        workload: impl Into<String>,
        state: ResultState,
        data: serde_json::Value,
        message: Option<String>,
        at: u64,
    ) -> Self {
        let mut r = WorkloadResult {
            contract,
            workload: workload.into(),
            node: node.public_key(),
            state,
            data,
            message,
            at,
            signature: Signature([0; 64]),
        };
        r.sign(node);
        r
    }

    /// Signs (or re-signs after a change) with the node's identity, setting
    /// [`WorkloadResult::node`] to its key so the result always names its signer.
    pub fn sign(&mut self, node: &Identity) {
        self.node = node.public_key();
        self.signature = node.sign(Domain::Result, &self.canonical_bytes());
    }

    /// Checks the signature against [`WorkloadResult::node`]; callers must also check that this
    /// node is the one the workload names.
    pub fn verify(&self) -> Result<(), Error> {
        self.node.verify(Domain::Result, &self.canonical_bytes(), &self.signature).map_err(|e| {
            Error::BadSignature(format!(
                "result for workload `{}` of contract {} is not signed by node {}: {e}",
                self.workload, self.contract, self.node
            ))
        })
    }

    /// The canonical JSON bytes of [`WorkloadResult::data`] (see the module docs).
    pub fn data_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.data).expect("a serde_json::Value always serializes")
    }

    /// Canonical bytes (layout in the module docs); the signature is not part of them.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.fixed(self.contract.as_bytes()).str(&self.workload).fixed(self.node.as_bytes()).u8(self.state.tag());
        e.bytes(&self.data_bytes());
        e.option(self.message.as_deref(), |e, m| {
            e.str(m);
        });
        e.u64(self.at);
        e.finish()
    }

    /// Checks the workload name, the message length, and that `data` is small and has no
    /// fractional numbers (whose JSON text differs between implementations).
    pub fn validate(&self) -> Result<(), ValidationError> {
        workload_name("workload", &self.workload)?;
        if let Some(m) = &self.message {
            if m.len() > RESULT_MESSAGE_MAX {
                return Err(ValidationError::new(
                    "message",
                    format!("result message is {} bytes; the most is {RESULT_MESSAGE_MAX}", m.len()),
                ));
            }
        }
        if let Some(path) = find_float(&self.data, "data") {
            return Err(ValidationError::new(
                path.clone(),
                format!("result `{path}` is a fractional number; send it as a string or an integer"),
            ));
        }
        let len = self.data_bytes().len();
        if len > RESULT_DATA_MAX {
            return Err(ValidationError::new(
                "data",
                format!("result data is {len} bytes of JSON; the most is {RESULT_DATA_MAX}"),
            ));
        }
        Ok(())
    }
}

/// The path of the first non-integer number in `v`, if any.
fn find_float(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::Number(n) if !(n.is_i64() || n.is_u64()) => Some(path.to_string()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, x)| find_float(x, &format!("{path}[{i}]")))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| find_float(x, &format!("{path}.{k}"))),
        _ => None,
    }
}
