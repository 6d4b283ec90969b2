//! Nodes: the machines that run workloads. A node's id is its ed25519 public key, so anything a
//! node says (registration, capacity reports, results) can be checked against its id alone, with
//! no registry in between.
//!
//! # Canonical bytes (domain `tfgrid/node/v1`)
//!
//! Both messages a node signs live in [`Domain::Node`] and start with a kind byte so neither can
//! be taken for the other.
//!
//! Registration ([`Node::canonical_bytes`]):
//!
//! ```text
//! u8      kind = 1 (registration)
//! fixed   id (32)                       the node's public key
//! u32     farm
//! option  location: str country, str city, option u64 latitude bits, option u64 longitude bits
//! 4×u64   total: cru, mru, sru, hru
//! 4×u64   used:  cru, mru, sru, hru
//! list    storage: str path, u8 kind (0 ssd, 1 hdd), u64 size
//! option  str address
//! str     version
//! ```
//!
//! Capacity report ([`CapacityReport::canonical_bytes`]):
//!
//! ```text
//! u8      kind = 2 (capacity report)
//! fixed   node (32)
//! 4×u64   total
//! 4×u64   used
//! u64     uptime, seconds since boot
//! u64     at, unix seconds
//! ```

use std::collections::BTreeSet;

use identity::{Domain, Encoder, Identity, PublicKey, Signature};
use serde::{Deserialize, Serialize};

use crate::validate::{host, text, TEXT_MAX};
use crate::{Capacity, Error, Location, Resource, ValidationError};

/// Kind byte of a node registration in [`Domain::Node`].
pub const KIND_REGISTRATION: u8 = 1;
/// Kind byte of a capacity report in [`Domain::Node`].
pub const KIND_CAPACITY_REPORT: u8 = 2;

/// Whether storage is SSD (counted as SRU) or HDD (counted as HRU), so workloads land on the
/// disk class they asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskKind {
    /// Solid-state storage (SRU). The default: fast, and what most workloads want.
    #[default]
    Ssd,
    /// Spinning disks (HRU): cheap bulk storage.
    Hdd,
}

impl DiskKind {
    /// The canonical tag byte: ssd 0, hdd 1.
    pub fn tag(self) -> u8 {
        match self {
            DiskKind::Ssd => 0,
            DiskKind::Hdd => 1,
        }
    }

    /// The capacity `bytes` of this kind of disk amounts to.
    pub fn capacity(self, bytes: u64) -> Capacity {
        match self {
            DiskKind::Ssd => Capacity { sru: bytes, ..Capacity::ZERO },
            DiskKind::Hdd => Capacity { hru: bytes, ..Capacity::ZERO },
        }
    }
}

/// One storage directory a node was given, declared SSD or HDD, so its total SRU/HRU can be
/// traced to real disks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// The directory on the node (absolute path).
    pub path: String,
    /// SSD or HDD.
    pub kind: DiskKind,
    /// Usable bytes.
    pub size: u64,
}

/// A node as it registers: where it is, what it has, what it uses, how to reach its services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node's public key, which is its id.
    pub id: PublicKey,
    /// The farm it belongs to.
    pub farm: u32,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Everything it can offer.
    pub total: Capacity,
    /// What its workloads use now.
    #[serde(default)]
    pub used: Capacity,
    /// Its storage directories.
    #[serde(default)]
    pub storage: Vec<Disk>,
    /// How users reach its services, e.g. the zdb `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The zos version it runs.
    pub version: String,
}

impl Node {
    /// What is still free (`total - used`, floored at zero): the search and admission figure.
    pub fn free(&self) -> Capacity {
        self.total.saturating_sub(&self.used)
    }

    /// Canonical bytes of the registration (layout in the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(KIND_REGISTRATION).fixed(self.id.as_bytes()).u32(self.farm);
        e.option(self.location.as_ref(), |e, l| l.encode(e));
        self.total.encode(&mut e);
        self.used.encode(&mut e);
        e.list(self.storage.iter(), |e, d| {
            e.str(&d.path).u8(d.kind.tag()).u64(d.size);
        });
        e.option(self.address.as_deref(), |e, a| {
            e.str(a);
        });
        e.str(&self.version);
        e.finish()
    }

    /// The node's signature over its registration; `node` must be the identity whose key is
    /// [`Node::id`] or the signature will not verify.
    pub fn sign(&self, node: &Identity) -> Signature {
        node.sign(Domain::Node, &self.canonical_bytes())
    }

    /// Checks that `signature` is the node's own (made by the key [`Node::id`]) over this exact
    /// registration, so nobody can register or alter a node but the node itself.
    pub fn verify(&self, signature: &Signature) -> Result<(), Error> {
        self.id.verify(Domain::Node, &self.canonical_bytes(), signature).map_err(|e| {
            Error::BadSignature(format!("registration of node {} is not signed by that node: {e}", self.id))
        })
    }

    /// Checks the registration: used within total, disks accounted for, text fields sane.
    pub fn validate(&self) -> Result<(), ValidationError> {
        text("version", "node version", &self.version, TEXT_MAX)?;
        if let Some(a) = &self.address {
            host("address", "node address", a)?;
        }
        if let Some(l) = &self.location {
            l.validate("location")?;
        }
        if self.total.cru == 0 {
            return Err(ValidationError::new("total.cru", "node reports 0 cores in total; it must have at least 1"));
        }
        for r in Resource::ALL {
            let (used, total) = (self.used.get(r), self.total.get(r));
            if used > total {
                return Err(ValidationError::new(
                    format!("used.{}", field_name(r)),
                    format!("node uses {} but has only {} in total", r.describe(used), r.describe(total)),
                ));
            }
        }
        let mut paths = BTreeSet::new();
        let mut on_disks = Capacity::ZERO;
        for (i, d) in self.storage.iter().enumerate() {
            let field = format!("storage[{i}]");
            if !d.path.starts_with('/') || d.path.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    format!("{field}.path"),
                    format!("disk path `{}` must be an absolute path, e.g. `/mnt/ssd1`", d.path.escape_debug()),
                ));
            }
            if !paths.insert(d.path.as_str()) {
                return Err(ValidationError::new(
                    format!("{field}.path"),
                    format!("disk `{}` is listed twice; list each storage directory once", d.path),
                ));
            }
            if d.size == 0 {
                return Err(ValidationError::new(
                    format!("{field}.size"),
                    format!("disk `{}` has size 0; give its usable size in bytes", d.path),
                ));
            }
            on_disks = on_disks.checked_add(&d.kind.capacity(d.size)).map_err(|_| {
                ValidationError::new(format!("{field}.size"), "the disk sizes add up to more than 2^64 bytes")
            })?;
        }
        for r in [Resource::Sru, Resource::Hru] {
            if self.total.get(r) > on_disks.get(r) {
                let kind = if r == Resource::Sru { "SSD" } else { "HDD" };
                return Err(ValidationError::new(
                    format!("total.{}", field_name(r)),
                    format!(
                        "node offers {} but its {kind} disks hold only {}; add the disk to `storage` or lower `total.{}`",
                        r.describe(self.total.get(r)),
                        crate::size::format_size(on_disks.get(r)),
                        field_name(r)
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn field_name(r: Resource) -> &'static str {
    match r {
        Resource::Cru => "cru",
        Resource::Mru => "mru",
        Resource::Sru => "sru",
        Resource::Hru => "hru",
    }
}

/// A node's periodic statement of its capacity and uptime, signed by the node, so the explorer's
/// free-capacity search and liveness view rest on what nodes actually said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityReport {
    /// The reporting node's key (its id).
    pub node: PublicKey,
    /// Everything it can offer.
    pub total: Capacity,
    /// What its workloads use now.
    pub used: Capacity,
    /// Seconds since the node booted.
    pub uptime: u64,
    /// When the report was made, unix seconds.
    pub at: u64,
    /// The node's signature over [`CapacityReport::canonical_bytes`] in [`Domain::Node`].
    pub signature: Signature,
}

impl CapacityReport {
    /// A report signed by `node` (whose key becomes [`CapacityReport::node`]).
    pub fn new(node: &Identity, total: Capacity, used: Capacity, uptime: u64, at: u64) -> Self {
        let mut r = CapacityReport { node: node.public_key(), total, used, uptime, at, signature: Signature([0; 64]) };
        r.signature = node.sign(Domain::Node, &r.canonical_bytes());
        r
    }

    /// Canonical bytes (layout in the module docs); the signature is not part of them.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(KIND_CAPACITY_REPORT).fixed(self.node.as_bytes());
        self.total.encode(&mut e);
        self.used.encode(&mut e);
        e.u64(self.uptime).u64(self.at);
        e.finish()
    }

    /// Checks that the report was signed by the node it names.
    pub fn verify(&self) -> Result<(), Error> {
        self.node.verify(Domain::Node, &self.canonical_bytes(), &self.signature).map_err(|e| {
            Error::BadSignature(format!("capacity report of node {} is not signed by that node: {e}", self.node))
        })
    }

    /// Checks that used is within total, as for a registration.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for r in Resource::ALL {
            let (used, total) = (self.used.get(r), self.total.get(r));
            if used > total {
                return Err(ValidationError::new(
                    format!("used.{}", field_name(r)),
                    format!("node uses {} but has only {} in total", r.describe(used), r.describe(total)),
                ));
            }
        }
        Ok(())
    }
}
