//! Workloads: the units of work a contract asks nodes to run.
//!
//! A workload names one node (by key) and carries type-specific data in [`WorkloadData`], which
//! is tagged by `type` in JSON (`{"type": "zdb", ...}`) and by a `u8` in canonical bytes, so
//! containers, volumes and networks can be added as new variants without touching the others.
//!
//! # Canonical bytes
//!
//! ```text
//! str     name
//! fixed   node (32)
//! u32     version
//! u8      type: 0 = zdb
//! ...     the type's fields:
//!   zdb:  u64 size, u8 disk (0 ssd, 1 hdd), u8 mode (0 user, 1 seq), bool public,
//!         option str password_sealed (the hex text as written)
//! ```

use identity::{Encoder, Identity, PublicKey};
use serde::{Deserialize, Serialize};

use crate::size::{format_size, MIB, TIB};
use crate::validate::workload_name;
use crate::{Capacity, DiskKind, Error, ValidationError};

/// Smallest zdb namespace: anything less cannot hold useful data.
pub const ZDB_MIN_SIZE: u64 = MIB;
/// Largest zdb namespace (16 TiB): bigger asks are almost always a unit mistake.
pub const ZDB_MAX_SIZE: u64 = 16 * TIB;
/// Longest zdb password, in bytes before sealing.
pub const ZDB_PASSWORD_MAX: usize = 256;

/// One piece of work on one node, named within its contract so results can refer to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Unique within the contract: 1 to 32 of `a-z 0-9 -`.
    pub name: String,
    /// The node that must run it.
    pub node: PublicKey,
    /// Bumped when the workload is changed, so a node can tell a new version from a redelivery.
    #[serde(default = "one")]
    pub version: u32,
    /// What to run.
    pub data: WorkloadData,
}

fn one() -> u32 {
    1
}

/// The type-specific part of a workload; `{"type": "zdb", ...}` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkloadData {
    /// A 0-db namespace on the node's zdb.
    Zdb(ZdbWorkload),
}

/// Whether a zdb namespace is a key-value store or an append-only sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZdbMode {
    /// Keys chosen by the user (key-value).
    #[default]
    User,
    /// Keys are sequential ids assigned by zdb (append-only log).
    Seq,
}

impl ZdbMode {
    /// The canonical tag byte: user 0, seq 1.
    pub fn tag(self) -> u8 {
        match self {
            ZdbMode::User => 0,
            ZdbMode::Seq => 1,
        }
    }
}

/// A zdb namespace request: its size, disk class, mode, visibility and password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZdbWorkload {
    /// Bytes; a hand-written contract may write `"10GiB"`.
    #[serde(with = "crate::size::bytes")]
    pub size: u64,
    /// SSD (default) or HDD.
    #[serde(default)]
    pub disk: DiskKind,
    /// `user` (default) or `seq`.
    #[serde(default)]
    pub mode: ZdbMode,
    /// Whether the namespace can be read without the password.
    #[serde(default)]
    pub public: bool,
    /// The namespace password, sealed to the node's key (lowercase hex of an identity sealed box),
    /// so only that node can read it; see [`ZdbWorkload::seal_password`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_sealed: Option<String>,
}

impl ZdbWorkload {
    /// Seals `password` to `node`'s key, giving the text for [`ZdbWorkload::password_sealed`].
    pub fn seal_password(node: &PublicKey, password: &str) -> Result<String, Error> {
        node.try_seal(password.as_bytes())
            .map(hex::encode)
            .map_err(|e| Error::Sealed(format!("cannot seal the password to node {node}: {e}")))
    }

    /// Opens [`ZdbWorkload::password_sealed`] with the node's identity; `None` when no password
    /// was set.
    pub fn open_password(&self, node: &Identity) -> Result<Option<String>, Error> {
        let Some(sealed) = &self.password_sealed else { return Ok(None) };
        let bytes = hex::decode(sealed).map_err(|_| Error::Sealed("the sealed password is not hex".into()))?;
        let plain = node.unseal(&bytes).map_err(|e| Error::Sealed(format!("cannot open the zdb password: {e}")))?;
        String::from_utf8(plain).map(Some).map_err(|_| Error::Sealed("the zdb password is not UTF-8 text".into()))
    }
}

impl Workload {
    /// What running this workload takes from its node, for admission and used-capacity reports.
    pub fn capacity(&self) -> Capacity {
        match &self.data {
            WorkloadData::Zdb(z) => z.disk.capacity(z.size),
        }
    }

    /// The type name as in JSON (`zdb`), for messages and queue filters.
    pub fn type_name(&self) -> &'static str {
        match &self.data {
            WorkloadData::Zdb(_) => "zdb",
        }
    }

    /// Appends the canonical bytes (layout in the module docs).
    pub fn encode(&self, e: &mut Encoder) {
        e.str(&self.name).fixed(self.node.as_bytes()).u32(self.version);
        match &self.data {
            WorkloadData::Zdb(z) => {
                e.u8(0).u64(z.size).u8(z.disk.tag()).u8(z.mode.tag()).bool(z.public);
                e.option(z.password_sealed.as_deref(), |e, p| {
                    e.str(p);
                });
            }
        }
    }

    /// Canonical bytes of this workload alone (layout in the module docs).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        self.encode(&mut e);
        e.finish()
    }

    /// Checks the workload's own rules; `field` is where it sits (`workloads[0]`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        workload_name(&format!("{field}.name"), &self.name)?;
        let name = &self.name;
        match &self.data {
            WorkloadData::Zdb(z) => {
                let size_field = format!("{field}.data.size");
                if z.size < ZDB_MIN_SIZE {
                    return Err(ValidationError::new(
                        size_field,
                        format!(
                            "workload `{name}`: size {} is below the minimum of {}; write e.g. `size: 1GiB`",
                            format_size(z.size),
                            format_size(ZDB_MIN_SIZE)
                        ),
                    ));
                }
                if z.size > ZDB_MAX_SIZE {
                    return Err(ValidationError::new(
                        size_field,
                        format!(
                            "workload `{name}`: size {} is above the maximum of {}; split it over several workloads",
                            format_size(z.size),
                            format_size(ZDB_MAX_SIZE)
                        ),
                    ));
                }
                if let Some(p) = &z.password_sealed {
                    let pfield = format!("{field}.data.password_sealed");
                    if p.len() % 2 != 0 || !p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                        return Err(ValidationError::new(
                            pfield,
                            format!(
                                "workload `{name}`: `password_sealed` must be lowercase hex of a sealed box; give the password to `tf`, which seals it to the node"
                            ),
                        ));
                    }
                    let bytes = p.len() / 2;
                    let overhead = identity::sealed::OVERHEAD;
                    if bytes <= overhead || bytes > overhead + ZDB_PASSWORD_MAX {
                        return Err(ValidationError::new(
                            pfield,
                            format!(
                                "workload `{name}`: `password_sealed` holds {bytes} bytes; a sealed password of 1 to {ZDB_PASSWORD_MAX} bytes takes {} to {}",
                                overhead + 1,
                                overhead + ZDB_PASSWORD_MAX
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_in_the_layout() {
        let w = Workload {
            name: "b".into(),
            node: PublicKey([0x33; 32]),
            version: 2,
            data: WorkloadData::Zdb(ZdbWorkload {
                size: MIB,
                disk: DiskKind::Hdd,
                mode: ZdbMode::Seq,
                public: true,
                password_sealed: Some("abcd".into()),
            }),
        };
        let expected = format!(
            "{}{}{}",
            "0000000162",
            "33".repeat(32),
            concat!("00000002", "00", "0000000000100000", "01", "01", "01", "01", "00000004", "61626364")
        );
        assert_eq!(hex::encode(w.canonical_bytes()), expected);
        assert_eq!(w.capacity(), Capacity { hru: MIB, ..Capacity::ZERO });
        assert_eq!((DiskKind::Ssd.tag(), ZdbMode::User.tag()), (0, 0));
    }
}
