//! Contracts: what a twin asks the grid to run, who must agree, and until when.
//!
//! A [`Contract`] is immutable once written; its [`ContractId`] is the hash of its canonical
//! bytes, and every signature is over that id. Stakeholders ([`Contract::signers`]) co-sign the
//! same id; a node deploys only when the owner signed and `quorum` distinct listed stakeholders
//! did, each checked against the key the phonebook gives for that twin
//! ([`SignedContract::quorum_met`]). The explorer's word is never needed for any of it.
//!
//! # Canonical bytes
//!
//! ```text
//! u32     owner (twin id)
//! fixed   owner_key (32)
//! option  str name
//! list    workloads (layout in crate::workload)
//! list    u32 signers
//! u32     quorum
//! option  u64 expires_at (unix seconds)
//! u64     created_at (unix seconds)
//! u64     nonce
//! ```
//!
//! `id = identity::hash(Domain::Contract, canonical bytes)` = SHA-256 of
//! `0x12 "tfgrid/contract/v1" || canonical bytes`.
//!
//! Signatures are ed25519 in [`Domain::Contract`] over an [`Approval`] message:
//! - deploy: the 32 id bytes;
//! - delete: `fixed id (32) || str "delete"` (42 bytes), so a deploy signature can never be
//!   replayed as a delete and the other way round (the lengths differ).
//!
//! # Test vector
//!
//! Owner twin 1 with key `11…11`, name `demo`, one zdb workload `db1` on node `22…22` (version 1,
//! 1 GiB, ssd, user, not public, no password), signers `[2, 3]`, quorum 1, expires at
//! 1800000000, created at 1700000000, nonce 7:
//!
//! ```text
//! 00000001                                  owner 1
//! 1111111111111111111111111111111111111111111111111111111111111111   owner_key
//! 01 00000004 64656d6f                      name: some "demo"
//! 00000001                                  1 workload:
//!   00000003 646231                           name "db1"
//!   2222222222222222222222222222222222222222222222222222222222222222 node
//!   00000001                                  version 1
//!   00                                        type zdb
//!   0000000040000000                          size 1 GiB
//!   00 00 00                                  disk ssd, mode user, public false
//!   00                                        password_sealed none
//! 00000002 00000002 00000003                signers [2, 3]
//! 00000001                                  quorum 1
//! 01 000000006b49d200                       expires_at 1800000000
//! 000000006553f100                          created_at 1700000000
//! 0000000000000007                          nonce 7
//! ```
//!
//! 146 bytes; id = `7d00dba82237f79cd9f012ce6ecc63451bcac73e559511dbf5d7ba64f80ea062`
//! (checked by `contract_test_vector` in `tests/model.rs`, and by hand with Python's hashlib).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use identity::{Domain, Encoder, Identity, PublicKey, Signature};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::{text, TEXT_MAX};
use crate::{Capacity, Error, ValidationError, Workload};

/// A contract's identity: the hash of its canonical bytes, so the same contract has the same id
/// everywhere and any change makes a new one. Hex in text and JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractId(pub [u8; 32]);

impl ContractId {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContractId({}…)", hex::encode(&self.0[..4]))
    }
}

impl FromStr for ContractId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| {
            ValidationError::new("id", format!("contract id `{s}` must be 64 hex characters, as `tf deploy` prints"))
        })?;
        Ok(ContractId(out))
    }
}

impl Serialize for ContractId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContractId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a twin agrees to with its signature; each has its own message so one cannot stand in
/// for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Run the contract.
    Deploy,
    /// Delete the contract (same rule as deploying: the owner plus `quorum` signers).
    Delete,
}

impl Approval {
    /// The bytes signed in [`Domain::Contract`] for this approval of contract `id`.
    pub fn message(self, id: &ContractId) -> Vec<u8> {
        match self {
            Approval::Deploy => id.0.to_vec(),
            Approval::Delete => {
                let mut e = Encoder::new();
                e.fixed(&id.0).str("delete");
                e.finish()
            }
        }
    }
}

/// One twin's signature on a contract: the twin id says whose phonebook key must verify it; the
/// key is carried only for display and must equal the phonebook's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinSignature {
    /// The signing twin.
    pub twin: u32,
    /// The key it signed with (checked against the phonebook, never trusted alone).
    pub key: PublicKey,
    /// Ed25519 over [`Approval::message`] in [`Domain::Contract`].
    pub signature: Signature,
}

impl TwinSignature {
    /// Twin `twin` approves contract `id` for `approval` with `identity`.
    pub fn new(approval: Approval, id: &ContractId, twin: u32, identity: &Identity) -> Self {
        TwinSignature {
            twin,
            key: identity.public_key(),
            signature: identity.sign(Domain::Contract, &approval.message(id)),
        }
    }

    /// True when this signature is by `twin`, carries the phonebook key, and verifies with it.
    fn valid_for(
        &self,
        approval: Approval,
        id: &ContractId,
        twin: u32,
        phonebook: &dyn Fn(u32) -> Option<PublicKey>,
    ) -> bool {
        self.twin == twin
            && phonebook(twin).is_some_and(|key| {
                key == self.key && key.verify(Domain::Contract, &approval.message(id), &self.signature).is_ok()
            })
    }
}

/// What a twin asks the grid to run: the workloads, who must co-sign, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The owner's twin id.
    pub owner: u32,
    /// The owner's key at signing time; it must match the phonebook for the owner's signature to
    /// count.
    pub owner_key: PublicKey,
    /// A label for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What to run, where.
    pub workloads: Vec<Workload>,
    /// Twins whose co-signatures count towards the quorum.
    #[serde(default)]
    pub signers: Vec<u32>,
    /// How many distinct signers must sign before nodes deploy; 0 = the owner's signature alone.
    #[serde(default)]
    pub quorum: u32,
    /// When the contract ends by itself, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// When the owner made it, unix seconds.
    pub created_at: u64,
    /// Makes two otherwise equal contracts distinct (and their ids).
    pub nonce: u64,
}

impl Contract {
    /// Canonical bytes (layout and test vector in the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u32(self.owner).fixed(self.owner_key.as_bytes());
        e.option(self.name.as_deref(), |e, n| {
            e.str(n);
        });
        e.list(self.workloads.iter(), |e, w| w.encode(e));
        e.list(self.signers.iter(), |e, s| {
            e.u32(*s);
        });
        e.u32(self.quorum);
        e.option(self.expires_at, |e, t| {
            e.u64(t);
        });
        e.u64(self.created_at).u64(self.nonce);
        e.finish()
    }

    /// The contract's id: `hash(Domain::Contract, canonical bytes)`.
    pub fn id(&self) -> ContractId {
        ContractId(identity::hash(Domain::Contract, &self.canonical_bytes()))
    }

    /// The workload called `name`.
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// The workloads that `node` must run: a node's whole view of a contract.
    pub fn workloads_on<'a>(&'a self, node: &'a PublicKey) -> impl Iterator<Item = &'a Workload> + 'a {
        self.workloads.iter().filter(move |w| &w.node == node)
    }

    /// Every node the contract uses.
    pub fn nodes(&self) -> BTreeSet<PublicKey> {
        self.workloads.iter().map(|w| w.node).collect()
    }

    /// What the contract's workloads take from `node` together.
    pub fn capacity_on(&self, node: &PublicKey) -> Result<Capacity, Error> {
        self.workloads_on(node).try_fold(Capacity::ZERO, |acc, w| acc.checked_add(&w.capacity()))
    }

    /// True once `now` (unix seconds) has reached the expiry.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// The twins among [`Contract::signers`] that gave a valid `approval`: distinct, listed,
    /// known to the phonebook, carrying the phonebook's key, with a signature that verifies
    /// under it. Duplicates, strangers, forgeries and keys the phonebook does not know count
    /// for nothing.
    pub fn approvals(
        &self,
        approval: Approval,
        signatures: &[TwinSignature],
        phonebook: &dyn Fn(u32) -> Option<PublicKey>,
    ) -> BTreeSet<u32> {
        let id = self.id();
        let listed: BTreeSet<u32> = self.signers.iter().copied().collect();
        signatures
            .iter()
            .filter(|s| listed.contains(&s.twin) && s.valid_for(approval, &id, s.twin, phonebook))
            .map(|s| s.twin)
            .collect()
    }

    /// True when the owner gave `approval`: a signature by the owner twin, whose phonebook key is
    /// [`Contract::owner_key`], that verifies under it.
    pub fn owner_approved(
        &self,
        approval: Approval,
        signatures: &[TwinSignature],
        phonebook: &dyn Fn(u32) -> Option<PublicKey>,
    ) -> bool {
        if phonebook(self.owner) != Some(self.owner_key) {
            return false;
        }
        let id = self.id();
        signatures.iter().any(|s| s.valid_for(approval, &id, self.owner, phonebook))
    }

    /// True when `approval` is given: the owner's, plus `quorum` distinct valid signers (none
    /// needed when `quorum` is 0).
    pub fn approved(
        &self,
        approval: Approval,
        signatures: &[TwinSignature],
        phonebook: &dyn Fn(u32) -> Option<PublicKey>,
    ) -> bool {
        self.owner_approved(approval, signatures, phonebook)
            && self.approvals(approval, signatures, phonebook).len() >= self.quorum as usize
    }

    /// Checks every rule of a contract, so `tf` can refuse a bad file before sending it and the
    /// explorer and nodes refuse it with the same message.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(n) = &self.name {
            text("name", "contract name", n, TEXT_MAX)?;
        }
        if self.workloads.is_empty() {
            return Err(ValidationError::new(
                "workloads",
                "contract has no workloads; add at least one under `workloads`",
            ));
        }
        let mut names = BTreeSet::new();
        for (i, w) in self.workloads.iter().enumerate() {
            let field = format!("workloads[{i}]");
            w.validate(&field)?;
            if !names.insert(w.name.as_str()) {
                return Err(ValidationError::new(
                    format!("{field}.name"),
                    format!("workload name `{}` is used twice; give each workload its own name", w.name),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.signers.iter().enumerate() {
            if !seen.insert(*s) {
                return Err(ValidationError::new(
                    format!("signers[{i}]"),
                    format!("twin {s} is listed twice in `signers`; list each signer once"),
                ));
            }
        }
        if self.quorum as usize > self.signers.len() {
            return Err(ValidationError::new(
                "quorum",
                format!(
                    "quorum {} is more than the {} signer(s) listed, so it could never be met; lower `quorum` or add twins to `signers`",
                    self.quorum,
                    self.signers.len()
                ),
            ));
        }
        if let Some(t) = self.expires_at {
            if t <= self.created_at {
                return Err(ValidationError::new(
                    "expires_at",
                    format!(
                        "`expires_at` ({t}) is not after `created_at` ({}); the contract would be expired from the start",
                        self.created_at
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A contract with the signatures collected for deploying it: what nodes receive and check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedContract {
    /// The contract.
    pub contract: Contract,
    /// Deploy signatures of the owner and stakeholders.
    #[serde(default)]
    pub signatures: Vec<TwinSignature>,
}

impl SignedContract {
    /// An unsigned contract, to collect signatures on.
    pub fn new(contract: Contract) -> Self {
        SignedContract { contract, signatures: Vec::new() }
    }

    /// The contract's id.
    pub fn id(&self) -> ContractId {
        self.contract.id()
    }

    /// Adds `twin`'s deploy signature made with `identity`, replacing an earlier one by the same
    /// twin, so a twin signing twice still leaves one signature.
    pub fn sign(&mut self, twin: u32, identity: &Identity) {
        let sig = TwinSignature::new(Approval::Deploy, &self.id(), twin, identity);
        self.signatures.retain(|s| s.twin != twin);
        self.signatures.push(sig);
    }

    /// The distinct twins in `signers` whose deploy signature verifies with the key `phonebook`
    /// gives for them (never with the key carried in the signature alone).
    pub fn valid_signers(&self, phonebook: &dyn Fn(u32) -> Option<PublicKey>) -> BTreeSet<u32> {
        self.contract.approvals(Approval::Deploy, &self.signatures, phonebook)
    }

    /// True when the owner's deploy signature verifies with its phonebook key, which must also be
    /// the contract's `owner_key`.
    pub fn owner_signed(&self, phonebook: &dyn Fn(u32) -> Option<PublicKey>) -> bool {
        self.contract.owner_approved(Approval::Deploy, &self.signatures, phonebook)
    }

    /// True when nodes may deploy: the owner signed and `quorum` distinct signers did (quorum 0:
    /// the owner alone).
    pub fn quorum_met(&self, phonebook: &dyn Fn(u32) -> Option<PublicKey>) -> bool {
        self.contract.approved(Approval::Deploy, &self.signatures, phonebook)
    }
}
