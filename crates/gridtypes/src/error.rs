//! The two error types of this crate: [`ValidationError`] for data a person wrote or a peer
//! sent that breaks a rule of the model, and [`Error`] for operations that cannot be done
//! (arithmetic overflow, a state transition that does not exist, a bad signature).
//!
//! Messages are shown to users as they are, so each one names the value at fault and says what
//! to write instead.

use crate::capacity::Resource;
use crate::state::{ContractEvent, ContractState};

/// A rule of the data model that a value breaks, with the field at fault, so that `tf` can
/// refuse a hand-written contract before sending it and the explorer and nodes can refuse bad
/// records with the same words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Where the problem is, as a path into the JSON/YAML shape, e.g. `workloads[0].size`.
    pub field: String,
    /// What is wrong and how to fix it, e.g. "workload `db1`: size 10 B is below the minimum
    /// of 1 MiB; write e.g. `size: 1GiB`".
    pub message: String,
}

impl ValidationError {
    /// A validation error at `field` with a message for the user.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { field: field.into(), message: message.into() }
    }
}

/// Why an operation on model values failed; each message says what went wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Adding capacities would not fit in 64 bits: a corrupt or malicious report.
    #[error("{resource} overflows 64 bits when adding {add} to {have}; one of the capacities is corrupt")]
    CapacityOverflow {
        /// The resource that overflowed.
        resource: Resource,
        /// The amount before the addition.
        have: u64,
        /// The amount added.
        add: u64,
    },

    /// Subtracting more of a resource than there is (e.g. releasing more than is in use).
    #[error("cannot take {} from {}; the capacity would go below zero", resource.describe(*take), resource.describe(*have))]
    CapacityUnderflow {
        /// The resource that would go negative.
        resource: Resource,
        /// The amount present.
        have: u64,
        /// The amount taken.
        take: u64,
    },

    /// A contract event that has no transition from the current state.
    #[error("a contract that is {state} cannot take the event `{event}`")]
    InvalidTransition {
        /// The state the contract is in.
        state: ContractState,
        /// The event that was refused.
        event: ContractEvent,
    },

    /// An event whose own numbers do not make sense (e.g. more results than workloads).
    #[error("invalid contract event: {0}")]
    InvalidEvent(String),

    /// A size that `parse_size` cannot read; the message says what to write.
    #[error("{0}")]
    BadSize(String),

    /// A signature that does not verify; the message says whose and over what.
    #[error("{0}")]
    BadSignature(String),

    /// A sealed secret (e.g. a zdb password) that cannot be opened or is not text.
    #[error("{0}")]
    Sealed(String),
}
