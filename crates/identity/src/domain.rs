//! Domain separation for signatures and content hashes.
//!
//! A signature or hash is always over `signing_message(domain, message)`:
//!
//! ```text
//! u8 tag length || tag (ASCII) || message
//! ```
//!
//! The tag names the purpose (`tfgrid/revision/v1`, ...). Because the tag is length-prefixed
//! and tags are distinct, the prefixes of two domains are never prefixes of each other, so a
//! signature made for one purpose (say a workload) can never be replayed as another (say a
//! contract), even when the message bytes are equal. Test vectors are in [`crate::encoding`].

use sha2::{Digest, Sha256};

/// What a signature or content hash is for; each purpose has its own tag so that a signature
/// in one domain never verifies in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// A BCDB revision (a signed, immutable version of a record).
    Revision,
    /// A signed checkpoint of an append-only log (tree size and root).
    Checkpoint,
    /// A signed request to a service (authenticates the caller).
    Request,
    /// A contract between a user and the grid.
    Contract,
    /// A workload deployed on a node.
    Workload,
    /// The result a node reports for a workload.
    Result,
    /// A twin record (identity registration).
    Twin,
    /// A file signed with `tf id sign` (message = SHA-256 of its content).
    File,
    /// A node's registration or report.
    Node,
}

impl Domain {
    /// Every domain, for callers (and tests) that need to enumerate them.
    pub const ALL: [Domain; 9] = [
        Domain::Revision,
        Domain::Checkpoint,
        Domain::Request,
        Domain::Contract,
        Domain::Workload,
        Domain::Result,
        Domain::Twin,
        Domain::File,
        Domain::Node,
    ];

    /// The ASCII tag put in front of every message in this domain; changing one breaks every
    /// existing signature, so a new meaning gets a new tag (`/v2`) instead.
    pub fn tag(&self) -> &'static str {
        match self {
            Domain::Revision => "tfgrid/revision/v1",
            Domain::Checkpoint => "tfgrid/checkpoint/v1",
            Domain::Request => "tfgrid/request/v1",
            Domain::Contract => "tfgrid/contract/v1",
            Domain::Workload => "tfgrid/workload/v1",
            Domain::Result => "tfgrid/result/v1",
            Domain::Twin => "tfgrid/twin/v1",
            Domain::File => "tfgrid/file/v1",
            Domain::Node => "tfgrid/node/v1",
        }
    }
}

/// The exact bytes that are signed (and hashed) for `message` in `domain`, so that signers,
/// verifiers and content ids all agree on them: `u8 tag length || tag || message`.
pub fn signing_message(domain: Domain, message: &[u8]) -> Vec<u8> {
    let tag = domain.tag().as_bytes();
    let mut out = Vec::with_capacity(1 + tag.len() + message.len());
    out.push(tag.len() as u8);
    out.extend_from_slice(tag);
    out.extend_from_slice(message);
    out
}

/// A content id: SHA-256 of `signing_message(domain, message)`, so that ids of different kinds
/// of object never collide even for equal bytes.
pub fn hash(domain: Domain, message: &[u8]) -> [u8; 32] {
    let tag = domain.tag().as_bytes();
    let mut h = Sha256::new();
    h.update([tag.len() as u8]);
    h.update(tag);
    h.update(message);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tags_are_distinct_short_ascii() {
        let tags: HashSet<_> = Domain::ALL.iter().map(|d| d.tag()).collect();
        assert_eq!(tags.len(), Domain::ALL.len());
        for tag in tags {
            assert!(tag.is_ascii() && tag.len() < 256, "{tag}");
        }
    }

    #[test]
    fn hash_is_sha256_of_signing_message() {
        for d in Domain::ALL {
            let expected: [u8; 32] = Sha256::digest(signing_message(d, b"xyz")).into();
            assert_eq!(hash(d, b"xyz"), expected);
        }
    }

    #[test]
    fn domains_never_share_a_signing_message() {
        let messages: HashSet<_> = Domain::ALL.iter().map(|&d| signing_message(d, b"same")).collect();
        assert_eq!(messages.len(), Domain::ALL.len());
    }
}
