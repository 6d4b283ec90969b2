//! The grid's data model, shared by the explorer (the ledger service), zos (the node daemon) and
//! tf (the user's CLI), so all three read, check and sign the same things the same way.
//!
//! # The model
//!
//! - A [`Twin`] is an identity registered in the phonebook: a small id the explorer assigns and
//!   the ed25519 key that signs for it. Everything else names twins by id, and a signature counts
//!   only if it verifies with the phonebook's key for that id.
//! - A [`Farm`] groups nodes under an owner twin.
//! - A [`Node`] is a machine whose id *is* its public key; it registers with its [`Capacity`]
//!   (CRU cores, MRU/SRU/HRU bytes) and storage ([`Disk`]s declared SSD or HDD), and reports
//!   capacity and uptime ([`CapacityReport`]), all signed by itself.
//! - A [`Contract`] is what a twin asks the grid to run: [`Workload`]s, each naming one node
//!   and carrying typed [`WorkloadData`] (today [`ZdbWorkload`]); optional stakeholder
//!   `signers` with a `quorum`; an optional expiry. Its [`ContractId`] is the hash of its
//!   canonical bytes. A [`SignedContract`] carries the owner's and stakeholders'
//!   [`TwinSignature`]s; nodes deploy only when [`SignedContract::quorum_met`].
//! - The explorer tracks each contract's [`ContractState`] with [`ContractState::next`].
//! - Nodes report a [`WorkloadResult`] per workload (ok / error / deleted, with data such as a
//!   zdb address), signed by the node.
//!
//! # Signing
//!
//! Nothing is signed as JSON, and nothing is a bare concatenation (the original grid's two
//! mistakes: the same signature could mean different field splits, and JSON re-encoding broke
//! signatures). Every signed or hashed value has a `canonical_bytes()` built with
//! [`identity::Encoder`] (length-prefixed strings and lists, big-endian integers, `u8` enum
//! tags, fields in declared order), and every signature is bound to an [`identity::Domain`]:
//!
//! | what                         | domain     | signed message                           | layout in        |
//! |------------------------------|------------|------------------------------------------|------------------|
//! | contract id                  | `Contract` | (hashed) [`Contract::canonical_bytes`]   | [`contract`]     |
//! | deploy / delete approval     | `Contract` | [`Approval::message`] of the id          | [`contract`]     |
//! | node registration            | `Node`     | [`Node::canonical_bytes`] (kind 1)       | [`node`]         |
//! | capacity report              | `Node`     | [`CapacityReport::canonical_bytes`] (2)  | [`node`]         |
//! | workload result              | `Result`   | [`WorkloadResult::canonical_bytes`]      | [`result`]       |
//!
//! Each module's docs give the byte layout; [`contract`] has a full test vector.
//!
//! # Validation
//!
//! `validate()` on [`Contract`], [`Node`], [`Twin`], [`Farm`], [`CapacityReport`] and
//! [`WorkloadResult`] returns a [`ValidationError`] naming the field and saying what to write
//! instead. JSON is strict (`deny_unknown_fields`), so a misspelt field is an error, not a
//! silently dropped value. Sizes may be written as `"10GiB"` in hand-written contracts
//! ([`parse_size`]).
//!
//! # Example
//!
//! ```
//! use gridtypes::*;
//! use identity::{Identity, PublicKey};
//!
//! let owner = Identity::from_seed([1; 32]);
//! let node = Identity::from_seed([2; 32]);
//! let contract: Contract = serde_json::from_value(serde_json::json!({
//!     "owner": 1,
//!     "owner_key": owner.public_key(),
//!     "workloads": [{"name": "db1", "node": node.public_key(),
//!                    "data": {"type": "zdb", "size": "10GiB"}}],
//!     "created_at": 1700000000,
//!     "nonce": 1,
//! })).unwrap();
//! contract.validate().unwrap();
//!
//! let mut signed = SignedContract::new(contract);
//! signed.sign(1, &owner);
//! let phonebook = |twin: u32| (twin == 1).then(|| owner.public_key());
//! assert!(signed.quorum_met(&phonebook)); // quorum 0: the owner's signature is enough
//!
//! // The node provisions, then reports a signed result the explorer and the user can check.
//! let result = WorkloadResult::new(&node, signed.id(), "db1", ResultState::Ok,
//!     serde_json::json!({"address": "127.0.0.1:9900", "namespace": "db1"}), None, 1700000005);
//! result.verify().unwrap();
//! ```

#![warn(missing_docs)]

pub mod capacity;
pub mod contract;
pub mod directory;
mod error;
pub mod node;
pub mod result;
pub mod size;
pub mod state;
mod validate;
pub mod workload;

pub use capacity::{Capacity, Resource};
pub use contract::{Approval, Contract, ContractId, SignedContract, TwinSignature};
pub use directory::{Farm, Location, Twin};
pub use error::{Error, ValidationError};
pub use node::{CapacityReport, Disk, DiskKind, Node};
pub use result::{ResultState, WorkloadResult};
pub use size::{format_size, parse_size};
pub use state::{ContractEvent, ContractState};
pub use validate::{HOST_MAX, NAME_MAX, NAME_MIN, TEXT_MAX, WORKLOAD_NAME_MAX};
pub use workload::{Workload, WorkloadData, ZdbMode, ZdbWorkload, ZDB_MAX_SIZE, ZDB_MIN_SIZE};
