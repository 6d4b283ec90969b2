//! A bigger tree, to make sure building and querying stay cheap (O(1) amortized hashes per
//! push, O(log n) per query). Sized to run quickly in a debug build; nothing is timed.

use merkle::{leaf_hash, node_hash, verify_consistency, verify_inclusion, Hash, Tree};

const N: u64 = 100_000;

#[test]
fn hundred_thousand_leaves() {
    let leaves: Vec<Hash> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut tree = Tree::new();
    for h in &leaves {
        tree.push(*h);
    }
    assert_eq!(tree.len(), N);
    let root = tree.root();

    // The root by another route: hash each level pairwise, carrying an odd last node up, which
    // is how RFC 6962's MTH comes out when evaluated bottom-up.
    let mut level = leaves.clone();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| if p.len() == 2 { node_hash(&p[0], &p[1]) } else { p[0] }).collect();
    }
    assert_eq!(root, level[0]);
    let third = tree.root_at(N / 3).unwrap();
    let root_at_next = tree.root_at(N / 3 + 1).unwrap();

    // Proofs for a spread of past sizes and indices verify against the past roots.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bound: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % bound
    };
    for _ in 0..200 {
        let size2 = 1 + next(N);
        let size1 = 1 + next(size2);
        let index = next(size2);
        let (root1, root2) = (tree.root_at(size1).unwrap(), tree.root_at(size2).unwrap());
        let p = tree.inclusion_proof(index, size2).unwrap();
        verify_inclusion(&leaves[index as usize], index, size2, &p, &root2).unwrap();
        let c = tree.consistency_proof(size1, size2).unwrap();
        verify_consistency(size1, size2, &c, &root1, &root2).unwrap();
    }

    tree.truncate(N / 3);
    assert_eq!(tree.root(), third);
    tree.push(leaves[(N / 3) as usize]);
    assert_eq!(tree.root(), root_at_next);
}

/// A million leaves: meant for `cargo test -p merkle --release -- --ignored` (a few seconds in
/// a debug build is too long for the default run).
#[test]
#[ignore = "slow in debug builds; run with --release -- --ignored"]
fn a_million_leaves() {
    const M: u64 = 1_000_000;
    let mut tree = Tree::new();
    for i in 0..M {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    assert_eq!(tree.len(), M);
    assert_eq!(tree, Tree::from_leaf_hashes((0..M).map(|i| leaf_hash(&i.to_be_bytes()))));
    let root = tree.root();
    for index in [0, 1, M / 2, M - 2, M - 1] {
        let p = tree.inclusion_proof(index, M).unwrap();
        verify_inclusion(&tree.leaf(index).unwrap(), index, M, &p, &root).unwrap();
    }
    for size1 in [1, 2, 3, 1 << 19, M / 3, M - 1] {
        let c = tree.consistency_proof(size1, M).unwrap();
        verify_consistency(size1, M, &c, &tree.root_at(size1).unwrap(), &root).unwrap();
    }
}
