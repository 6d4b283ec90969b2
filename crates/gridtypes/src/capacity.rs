//! Capacity: the four resource units the grid counts (CRU cores, MRU memory, SRU SSD, HRU HDD).
//!
//! Every amount is a whole number (cores, or bytes), never a float: the original stored GiB as
//! floats and accumulated rounding in its used/free accounting. Arithmetic is checked, so a
//! corrupt report or a double release is an error instead of a wrapped number.

use std::fmt;

use identity::Encoder;
use serde::{Deserialize, Serialize};

use crate::size::format_size;
use crate::Error;

/// An amount of each resource a node has, uses, or a workload needs, so nodes can admit work
/// and the explorer can search for nodes with room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// CPU cores.
    #[serde(default)]
    pub cru: u64,
    /// Memory, bytes.
    #[serde(default)]
    pub mru: u64,
    /// SSD storage, bytes.
    #[serde(default)]
    pub sru: u64,
    /// HDD storage, bytes.
    #[serde(default)]
    pub hru: u64,
}

/// One of the four resource units, to name the one at fault in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    /// CPU cores.
    Cru,
    /// Memory bytes.
    Mru,
    /// SSD bytes.
    Sru,
    /// HDD bytes.
    Hru,
}

impl Resource {
    /// All four, in the order of [`Capacity`]'s fields.
    pub const ALL: [Resource; 4] = [Resource::Cru, Resource::Mru, Resource::Sru, Resource::Hru];

    /// An amount of this resource as people read it: `2 cores`, `4 GiB memory`, `100 GiB SSD`.
    pub fn describe(self, amount: u64) -> String {
        match self {
            Resource::Cru if amount == 1 => "1 core".to_string(),
            Resource::Cru => format!("{amount} cores"),
            Resource::Mru => format!("{} memory", format_size(amount)),
            Resource::Sru => format!("{} SSD", format_size(amount)),
            Resource::Hru => format!("{} HDD", format_size(amount)),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Cru => "cru (cores)",
            Resource::Mru => "mru (memory)",
            Resource::Sru => "sru (SSD)",
            Resource::Hru => "hru (HDD)",
        })
    }
}

impl Capacity {
    /// Nothing of anything.
    pub const ZERO: Capacity = Capacity { cru: 0, mru: 0, sru: 0, hru: 0 };

    /// The amount of one resource.
    pub fn get(&self, r: Resource) -> u64 {
        match r {
            Resource::Cru => self.cru,
            Resource::Mru => self.mru,
            Resource::Sru => self.sru,
            Resource::Hru => self.hru,
        }
    }

    fn get_mut(&mut self, r: Resource) -> &mut u64 {
        match r {
            Resource::Cru => &mut self.cru,
            Resource::Mru => &mut self.mru,
            Resource::Sru => &mut self.sru,
            Resource::Hru => &mut self.hru,
        }
    }

    /// True when every amount is zero.
    pub fn is_zero(&self) -> bool {
        *self == Capacity::ZERO
    }

    /// `self + other`, or an error naming the resource that overflowed.
    pub fn checked_add(&self, other: &Capacity) -> Result<Capacity, Error> {
        let mut out = *self;
        for r in Resource::ALL {
            let (have, add) = (self.get(r), other.get(r));
            *out.get_mut(r) = have.checked_add(add).ok_or(Error::CapacityOverflow { resource: r, have, add })?;
        }
        Ok(out)
    }

    /// `self - other`, or an error naming the resource that would go below zero (e.g. a
    /// workload released twice).
    pub fn checked_sub(&self, other: &Capacity) -> Result<Capacity, Error> {
        let mut out = *self;
        for r in Resource::ALL {
            let (have, take) = (self.get(r), other.get(r));
            *out.get_mut(r) = have.checked_sub(take).ok_or(Error::CapacityUnderflow { resource: r, have, take })?;
        }
        Ok(out)
    }

    /// `self - other` with each amount floored at zero: what is free when `self` is the total
    /// and `other` the used capacity, even if a report over-counts usage.
    pub fn saturating_sub(&self, other: &Capacity) -> Capacity {
        Capacity {
            cru: self.cru.saturating_sub(other.cru),
            mru: self.mru.saturating_sub(other.mru),
            sru: self.sru.saturating_sub(other.sru),
            hru: self.hru.saturating_sub(other.hru),
        }
    }

    /// True when this much fits in `free` for every resource: the admission test of a node and
    /// the explorer's free-capacity search.
    pub fn fits_in(&self, free: &Capacity) -> bool {
        Resource::ALL.iter().all(|&r| self.get(r) <= free.get(r))
    }

    /// How much of each resource is missing from `free` to hold this (zero where it fits), so an
    /// error can say "needs 2 GiB SSD more".
    pub fn shortfall(&self, free: &Capacity) -> Capacity {
        self.saturating_sub(free)
    }

    /// The resources that are non-zero, described, e.g. `["2 GiB SSD"]`: for messages that
    /// should only mention what matters.
    pub fn describe_nonzero(&self) -> Vec<String> {
        Resource::ALL.iter().filter(|&&r| self.get(r) != 0).map(|&r| r.describe(self.get(r))).collect()
    }

    /// Canonical bytes: `u64 cru, u64 mru, u64 sru, u64 hru` (32 bytes).
    pub fn encode(&self, e: &mut Encoder) {
        e.u64(self.cru).u64(self.mru).u64(self.sru).u64(self.hru);
    }
}

impl fmt::Display for Capacity {
    /// `2 cores, 4 GiB memory, 100 GiB SSD, 0 B HDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Resource::ALL.iter().map(|&r| r.describe(self.get(r))).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::GIB;

    fn cap(cru: u64, mru: u64, sru: u64, hru: u64) -> Capacity {
        Capacity { cru, mru, sru, hru }
    }

    #[test]
    fn display_reads_naturally() {
        assert_eq!(cap(2, 4 * GIB, 100 * GIB, 0).to_string(), "2 cores, 4 GiB memory, 100 GiB SSD, 0 B HDD");
        assert_eq!(cap(1, 0, 0, 3).to_string(), "1 core, 0 B memory, 0 B SSD, 3 B HDD");
        assert_eq!(cap(0, 0, 2 * GIB, 0).describe_nonzero(), vec!["2 GiB SSD"]);
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = cap(2, 10, 20, 30);
        let b = cap(1, 5, 20, 0);
        assert_eq!(a.checked_add(&b).unwrap(), cap(3, 15, 40, 30));
        assert_eq!(a.checked_sub(&b).unwrap(), cap(1, 5, 0, 30));
        assert_eq!(
            cap(0, 0, 0, u64::MAX).checked_add(&cap(0, 0, 0, 1)).unwrap_err(),
            Error::CapacityOverflow { resource: Resource::Hru, have: u64::MAX, add: 1 }
        );
        let err = b.checked_sub(&a).unwrap_err();
        assert_eq!(err, Error::CapacityUnderflow { resource: Resource::Cru, have: 1, take: 2 });
        assert_eq!(err.to_string(), "cannot take 2 cores from 1 core; the capacity would go below zero");
        let err = cap(0, 0, 5, 0).checked_sub(&cap(0, 0, GIB, 0)).unwrap_err();
        assert_eq!(err.to_string(), "cannot take 1 GiB SSD from 5 B SSD; the capacity would go below zero");
        assert!(cap(0, u64::MAX, 0, 0)
            .checked_add(&cap(0, 1, 0, 0))
            .unwrap_err()
            .to_string()
            .starts_with("mru (memory) overflows 64 bits"));
        assert_eq!(b.saturating_sub(&a), cap(0, 0, 0, 0));
    }

    #[test]
    fn fits_and_shortfall() {
        let free = cap(4, 8 * GIB, 100 * GIB, 0);
        assert!(cap(4, 8 * GIB, 100 * GIB, 0).fits_in(&free));
        assert!(Capacity::ZERO.fits_in(&Capacity::ZERO));
        assert!(!cap(0, 0, 0, 1).fits_in(&free));
        assert!(!cap(5, 0, 0, 0).fits_in(&free));
        assert_eq!(cap(1, 0, 102 * GIB, 1).shortfall(&free), cap(0, 0, 2 * GIB, 1));
    }

    #[test]
    fn json_and_bytes() {
        let c = cap(2, 3, 4, 5);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"cru":2,"mru":3,"sru":4,"hru":5}"#);
        assert_eq!(serde_json::from_str::<Capacity>(&json).unwrap(), c);
        assert_eq!(serde_json::from_str::<Capacity>(r#"{"sru":4}"#).unwrap(), cap(0, 0, 4, 0));
        assert!(serde_json::from_str::<Capacity>(r#"{"ssd":4}"#).is_err());
        let mut e = Encoder::new();
        c.encode(&mut e);
        assert_eq!(hex::encode(e.finish()), "0000000000000002000000000000000300000000000000040000000000000005");
    }
}
