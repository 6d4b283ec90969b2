//! The life of a contract, as the explorer tracks it.
//!
//! The state is derived from events the explorer sees (signatures, node results, delete
//! requests, the clock); [`ContractState::next`] is the one place the rules live. Nodes do not
//! rely on it: they check signatures and quorum themselves.
//!
//! | state \ event            | `signed` have < need | `signed` have ≥ need | `results` any error | `results` all ok | `results` some pending | `delete_requested` | `expired` |
//! |--------------------------|----------------------|----------------------|---------------------|------------------|------------------------|--------------------|-----------|
//! | created                  | waiting_for_signatures | deploying          | ✗                   | ✗                | ✗                      | deleted            | expired   |
//! | waiting_for_signatures   | waiting_for_signatures | deploying          | ✗                   | ✗                | ✗                      | deleted            | expired   |
//! | deploying                | ✗                    | ✗                    | failed              | deployed         | deploying              | deleted            | expired   |
//! | deployed                 | ✗                    | ✗                    | failed              | deployed         | deploying              | deleted            | expired   |
//! | failed                   | ✗                    | ✗                    | failed              | failed           | failed                 | deleted            | expired   |
//! | deleted, expired         | ✗                    | ✗                    | ✗                   | ✗                | ✗                      | ✗                  | ✗         |
//!
//! ✗ = [`Error::InvalidTransition`]. Notes:
//! - `signed` carries the count of valid signer signatures (`have`) and the quorum (`need`); the
//!   owner's signature is a precondition of creating the contract at all. Once deploying,
//!   further signatures change nothing and are refused so the signer hears it.
//! - `results` carries, over the contract's workloads, the latest result per workload:
//!   `total` workloads, `ok` of them ok, `error` of them failed. One error fails the contract
//!   (the other workloads keep running until it is deleted or expires). A deployed contract that
//!   loses an ok result (a node re-provisioning after a crash) goes back to deploying.
//! - Failure is sticky: results after a failure do not revive it; delete it and deploy anew.
//! - Deleted and expired are final; nodes remove the workloads of such contracts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Where a contract is in its life; snake_case in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractState {
    /// Stored, not yet evaluated.
    Created,
    /// Needs more stakeholder signatures before nodes may deploy it.
    WaitingForSignatures,
    /// Nodes are provisioning it.
    Deploying,
    /// Every workload reported ok.
    Deployed,
    /// At least one workload reported an error.
    Failed,
    /// Deleted on request; final.
    Deleted,
    /// Reached its expiry; final.
    Expired,
}

/// Something that happened to a contract, fed to [`ContractState::next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContractEvent {
    /// Signatures were counted: `have` valid distinct signers, `need` = the quorum.
    Signed {
        /// Valid distinct signer signatures so far.
        have: u32,
        /// The contract's quorum.
        need: u32,
    },
    /// Results were counted over the contract's workloads (latest per workload).
    Results {
        /// Number of workloads in the contract.
        total: u32,
        /// Workloads whose latest result is ok.
        ok: u32,
        /// Workloads whose latest result is an error.
        error: u32,
    },
    /// Enough delete signatures were collected.
    DeleteRequested,
    /// The expiry time passed.
    Expired,
}

impl fmt::Display for ContractState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContractState::Created => "created",
            ContractState::WaitingForSignatures => "waiting_for_signatures",
            ContractState::Deploying => "deploying",
            ContractState::Deployed => "deployed",
            ContractState::Failed => "failed",
            ContractState::Deleted => "deleted",
            ContractState::Expired => "expired",
        })
    }
}

impl fmt::Display for ContractEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractEvent::Signed { have, need } => write!(f, "signed ({have} of {need})"),
            ContractEvent::Results { total, ok, error } => {
                write!(f, "results ({ok} ok, {error} error of {total})")
            }
            ContractEvent::DeleteRequested => f.write_str("delete_requested"),
            ContractEvent::Expired => f.write_str("expired"),
        }
    }
}

/// The event classes the table in the module docs has columns for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    SignedShort,
    SignedEnough,
    AnyError,
    AllOk,
    Pending,
    Delete,
    Expire,
}

impl ContractState {
    /// Every state, for tables and tests.
    pub const ALL: [ContractState; 7] = [
        ContractState::Created,
        ContractState::WaitingForSignatures,
        ContractState::Deploying,
        ContractState::Deployed,
        ContractState::Failed,
        ContractState::Deleted,
        ContractState::Expired,
    ];

    /// True for states no event leaves.
    pub fn is_final(self) -> bool {
        matches!(self, ContractState::Deleted | ContractState::Expired)
    }

    /// True when nodes should have the contract's workloads running (deploying, deployed, and
    /// failed, whose healthy workloads live until it is deleted); false means remove them or
    /// do not start them.
    pub fn should_run(self) -> bool {
        matches!(self, ContractState::Deploying | ContractState::Deployed | ContractState::Failed)
    }

    /// The state after `event`, or an error when the event has no transition from this state
    /// (table in the module docs) or its counts are impossible.
    pub fn next(self, event: ContractEvent) -> Result<ContractState, Error> {
        use ContractState::*;
        let column = match event {
            ContractEvent::Signed { have, need } if have >= need => Column::SignedEnough,
            ContractEvent::Signed { .. } => Column::SignedShort,
            ContractEvent::Results { total, ok, error } => {
                if total == 0 || u64::from(ok) + u64::from(error) > u64::from(total) {
                    return Err(Error::InvalidEvent(format!(
                        "{event}: ok and error results must add up to at most the number of workloads, which is at least 1"
                    )));
                }
                if error > 0 {
                    Column::AnyError
                } else if ok == total {
                    Column::AllOk
                } else {
                    Column::Pending
                }
            }
            ContractEvent::DeleteRequested => Column::Delete,
            ContractEvent::Expired => Column::Expire,
        };
        let next = match (self, column) {
            (Deleted | Expired, _) => None,
            (_, Column::Delete) => Some(Deleted),
            (_, Column::Expire) => Some(Expired),
            (Created | WaitingForSignatures, Column::SignedShort) => Some(WaitingForSignatures),
            (Created | WaitingForSignatures, Column::SignedEnough) => Some(Deploying),
            (Created | WaitingForSignatures, _) => None,
            (Deploying | Deployed, Column::AnyError) => Some(Failed),
            (Deploying | Deployed, Column::AllOk) => Some(Deployed),
            (Deploying | Deployed, Column::Pending) => Some(Deploying),
            (Failed, Column::AnyError | Column::AllOk | Column::Pending) => Some(Failed),
            (Deploying | Deployed | Failed, Column::SignedShort | Column::SignedEnough) => None,
        };
        next.ok_or(Error::InvalidTransition { state: self, event })
    }
}

#[cfg(test)]
mod tests {
    use super::ContractEvent::{DeleteRequested, Results, Signed};
    use super::ContractState::*;
    use super::*;

    const SHORT: ContractEvent = Signed { have: 1, need: 2 };
    const ENOUGH: ContractEvent = Signed { have: 2, need: 2 };
    const ERROR: ContractEvent = Results { total: 3, ok: 1, error: 1 };
    const ALL_OK: ContractEvent = Results { total: 3, ok: 3, error: 0 };
    const PENDING: ContractEvent = Results { total: 3, ok: 2, error: 0 };
    const EVENTS: [ContractEvent; 7] = [SHORT, ENOUGH, ERROR, ALL_OK, PENDING, DeleteRequested, ContractEvent::Expired];

    /// The module docs' table, row by row, in the order of `EVENTS`; `None` = refused.
    fn table(state: ContractState) -> [Option<ContractState>; 7] {
        let w = Some(WaitingForSignatures);
        match state {
            Created | WaitingForSignatures => [w, Some(Deploying), None, None, None, Some(Deleted), Some(Expired)],
            Deploying | Deployed => {
                [None, None, Some(Failed), Some(Deployed), Some(Deploying), Some(Deleted), Some(Expired)]
            }
            Failed => [None, None, Some(Failed), Some(Failed), Some(Failed), Some(Deleted), Some(Expired)],
            Deleted | Expired => [None; 7],
        }
    }

    #[test]
    fn every_transition_matches_the_table() {
        let mut valid = 0;
        let mut invalid = 0;
        for state in ContractState::ALL {
            for (event, expected) in EVENTS.iter().zip(table(state)) {
                match (state.next(*event), expected) {
                    (Ok(got), Some(want)) => {
                        assert_eq!(got, want, "{state} + {event}");
                        valid += 1;
                    }
                    (Err(Error::InvalidTransition { state: s, event: e }), None) => {
                        assert_eq!((s, e), (state, *event));
                        invalid += 1;
                    }
                    (got, want) => panic!("{state} + {event}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!((valid, invalid), (23, 26));
    }

    #[test]
    fn quorum_zero_and_over_quorum() {
        assert_eq!(Created.next(Signed { have: 0, need: 0 }).unwrap(), Deploying);
        assert_eq!(WaitingForSignatures.next(Signed { have: 3, need: 2 }).unwrap(), Deploying);
        assert_eq!(Created.next(Signed { have: 0, need: 1 }).unwrap(), WaitingForSignatures);
    }

    #[test]
    fn impossible_counts_are_refused() {
        for e in [Results { total: 2, ok: 2, error: 1 }, Results { total: 0, ok: 0, error: 0 }] {
            let err = Deploying.next(e).unwrap_err();
            assert!(matches!(err, Error::InvalidEvent(_)), "{err}");
        }
        assert!(Deploying.next(Results { total: u32::MAX, ok: u32::MAX, error: 0 }).is_ok());
        assert!(Deploying.next(Results { total: u32::MAX, ok: u32::MAX, error: 1 }).is_err());
    }

    #[test]
    fn messages_and_json() {
        assert_eq!(
            Deleted.next(DeleteRequested).unwrap_err().to_string(),
            "a contract that is deleted cannot take the event `delete_requested`"
        );
        assert_eq!(
            Deployed.next(ENOUGH).unwrap_err().to_string(),
            "a contract that is deployed cannot take the event `signed (2 of 2)`"
        );
        for s in ContractState::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<ContractState>(&json).unwrap(), s);
        }
    }

    #[test]
    fn run_and_final_flags() {
        let run: Vec<_> = ContractState::ALL.into_iter().filter(|s| s.should_run()).collect();
        assert_eq!(run, [Deploying, Deployed, Failed]);
        let fin: Vec<_> = ContractState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(fin, [Deleted, Expired]);
    }
}
