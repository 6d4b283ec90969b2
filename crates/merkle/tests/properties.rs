//! Exhaustive property checks over small trees (a deterministic loop, no proptest): every proof
//! the tree generates equals the one computed straight from the RFC 6962 recursive definitions,
//! verifies, and stops verifying under every mutation that changes what it proves.
//!
//! Mutations of the proof itself (a flipped bit, a dropped, inserted, prepended or appended
//! element, a wrong leaf or root) must always fail. Mutations of the sizes or the index are
//! compared against a reference verifier built from the RFC 6962 definitions instead of the
//! RFC 9162 bit-walk: the hashes do not bind the tree size, so e.g. the proof for leaf 0 of a
//! 3-leaf tree is also a well-formed proof for leaf 0 of a 4-leaf tree with the same root
//! (`H(H(l0, l1), x)`, with `x` read as a node instead of a leaf). Both verifiers must agree on
//! every such case, and the cases that do verify must only have changed the (second) tree size:
//! a changed leaf index or first size never verifies. (With MAX = 64 about 16% of the size
//! mutations keep the shape and verify; the tree size has to come from a signed tree head.)

use std::collections::HashMap;

use merkle::{empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion, Error, Hash, Tree};

const MAX: u64 = 64;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

// ---- the RFC 6962 definitions, literally (§2.1, §2.1.1, §2.1.2) ----

/// The largest power of two strictly smaller than `n` (n >= 2), by counting.
fn split(n: u64) -> u64 {
    let mut k = 1u64;
    while k.checked_mul(2).is_some_and(|d| d < n) {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = split(d.len() as u64) as usize;
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n as u64) as usize;
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---- the same definitions over ranges, for a reference verifier ----

/// The subtree ranges `[a, b)` that the elements of `PATH(m, D[start:start+n])` stand for.
fn path_ranges(m: u64, start: u64, n: u64, out: &mut Vec<(u64, u64)>) {
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_ranges(m, start, k, out);
        out.push((start + k, start + n));
    } else {
        path_ranges(m - k, start + k, n - k, out);
        out.push((start, start + k));
    }
}

/// The subtree ranges that the elements of `SUBPROOF(m, D[start:start+n], b)` stand for.
fn subproof_ranges(m: u64, start: u64, n: u64, b: bool, out: &mut Vec<(u64, u64)>) {
    if m == n {
        if !b {
            out.push((start, start + n));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_ranges(m, start, k, b, out);
        out.push((start + k, start + n));
    } else {
        subproof_ranges(m - k, start + k, n - k, false, out);
        out.push((start, start + k));
    }
}

/// `MTH(D[a:b])` from the known subtree hashes alone, or None if they do not cover the range.
fn build(a: u64, b: u64, known: &HashMap<(u64, u64), Hash>) -> Option<Hash> {
    if let Some(h) = known.get(&(a, b)) {
        return Some(*h);
    }
    if b - a <= 1 || !known.keys().any(|&(x, y)| a <= x && y <= b) {
        return None;
    }
    let k = split(b - a);
    Some(node_hash(&build(a, a + k, known)?, &build(a + k, b, known)?))
}

fn ref_verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let mut ranges = Vec::new();
    path_ranges(index, 0, size, &mut ranges);
    if ranges.len() != proof.len() {
        return false;
    }
    let mut known: HashMap<_, _> = ranges.into_iter().zip(proof.iter().copied()).collect();
    known.insert((index, index + 1), *leaf);
    build(0, size, &known) == Some(*root)
}

fn ref_verify_consistency(size1: u64, size2: u64, proof: &[Hash], root1: &Hash, root2: &Hash) -> bool {
    if size1 == 0 || size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    let mut ranges = Vec::new();
    subproof_ranges(size1, 0, size2, true, &mut ranges);
    if ranges.len() != proof.len() {
        return false;
    }
    let mut known: HashMap<_, _> = ranges.into_iter().zip(proof.iter().copied()).collect();
    if size1.is_power_of_two() {
        known.insert((0, size1), *root1);
    }
    build(0, size1, &known) == Some(*root1) && build(0, size2, &known) == Some(*root2)
}

// ---- mutations ----

/// Bits to flip in proof element `j`: all of them in the smallest trees, elsewhere one that
/// moves around from case to case so every bit position is hit many times over the run (keeps
/// the debug-build run short; the probe files flip bits too).
fn bits(n: u64, i: u64, j: usize) -> Vec<usize> {
    if n <= 8 {
        (0..256).collect()
    } else {
        vec![(i as usize * 31 + j * 17 + n as usize * 7) % 256]
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

/// Sizes up to which the extra mutations (below) are tried as well; past it only the basic ones
/// run, to keep the debug-build run short.
const THOROUGH: u64 = 16;

/// Every proof obtained by changing the elements of `proof`; none may verify. Basic: a flipped
/// bit in each element, each element dropped, an element prepended or appended. Extra (small
/// trees): an element inserted at every inner position, each element duplicated, the first two
/// swapped.
fn element_mutations(n: u64, i: u64, proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    let extra = leaf_hash(b"extra");
    let thorough = n <= THOROUGH;
    for j in 0..proof.len() {
        for bit in bits(n, i, j) {
            let mut p = proof.to_vec();
            p[j] = flip(&p[j], bit);
            out.push(p);
        }
        let mut dropped = proof.to_vec();
        dropped.remove(j);
        out.push(dropped);
        if thorough {
            let mut duplicated = proof.to_vec();
            duplicated.insert(j, proof[j]);
            out.push(duplicated);
        }
    }
    for at in 0..=proof.len() {
        if thorough || at == 0 || at == proof.len() {
            let mut p = proof.to_vec();
            p.insert(at, extra);
            out.push(p);
        }
    }
    if thorough && proof.len() >= 2 {
        let mut swapped = proof.to_vec();
        swapped.swap(0, 1);
        out.push(swapped);
    }
    out
}

/// Changed values for an index or size: basic ±1; extra (small trees) XOR 2, doubled, halved,
/// zero and the largest values.
fn param_mutations(x: u64, n: u64) -> Vec<u64> {
    let mut v = vec![x.wrapping_add(1), x.wrapping_sub(1)];
    if n <= THOROUGH {
        v.extend([x ^ 2, x.wrapping_mul(2), x / 2, 0, u64::MAX, u64::MAX - 1]);
    }
    v.retain(|&y| y != x);
    v
}

#[test]
fn tree_matches_the_recursive_definitions() {
    let all = leaves(100);
    let mut pushed = Tree::new();
    for n in 0..=100u64 {
        let built = Tree::from_leaf_hashes(all[..n as usize].iter().copied());
        assert_eq!(pushed, built, "push vs from_leaf_hashes at size {n}");
        assert_eq!(built.root(), mth(&all[..n as usize]), "root of size {n}");
        assert_eq!(built.len(), n);
        assert_eq!(built.is_empty(), n == 0);
        if n < 100 {
            pushed.push(all[n as usize]);
        }
    }
    let full = Tree::from_leaf_hashes(all.iter().copied());
    for k in 0..=100u64 {
        assert_eq!(full.root_at(k), Ok(mth(&all[..k as usize])), "root_at({k})");
        let mut cut = full.clone();
        cut.truncate(k);
        assert_eq!(cut, Tree::from_leaf_hashes(all[..k as usize].iter().copied()), "truncate({k})");
        cut.push(leaf_hash(b"after truncate"));
        let mut again = all[..k as usize].to_vec();
        again.push(leaf_hash(b"after truncate"));
        assert_eq!(cut.root(), mth(&again), "push after truncate({k})");
    }
    for i in 0..100u64 {
        assert_eq!(full.leaf(i), Some(all[i as usize]));
    }
    assert_eq!(full.leaf(100), None);
    assert_eq!(full.leaf(u64::MAX), None);
}

#[test]
fn inclusion_proofs_verify_and_mutations_fail() {
    let all = leaves(2 * MAX);
    let tree = Tree::from_leaf_hashes(all.iter().copied());
    let (mut param_cases, mut param_accepted) = (0usize, 0usize);
    for n in 1..=MAX {
        let root = tree.root_at(n).unwrap();
        for i in 0..n {
            let leaf = all[i as usize];
            let proof = tree.inclusion_proof(i, n).unwrap();
            assert_eq!(proof, path(i as usize, &all[..n as usize]), "PATH({i}, D[{n}])");
            assert_eq!(verify_inclusion(&leaf, i, n, &proof, &root), Ok(()), "i={i} n={n}");
            assert!(ref_verify_inclusion(&leaf, i, n, &proof, &root));

            for p in element_mutations(n, i, &proof) {
                assert!(verify_inclusion(&leaf, i, n, &p, &root).is_err(), "i={i} n={n} mutated proof {p:x?}");
            }
            for bit in bits(n, i, 99).into_iter().step_by(51) {
                assert_eq!(verify_inclusion(&flip(&leaf, bit), i, n, &proof, &root), Err(Error::RootMismatch));
                assert_eq!(verify_inclusion(&leaf, i, n, &proof, &flip(&root, bit)), Err(Error::RootMismatch));
            }
            if n > 1 && n <= THOROUGH {
                let other = all[((i + 1) % n) as usize];
                assert!(verify_inclusion(&other, i, n, &proof, &root).is_err());
            }

            let mut check = |i2: u64, n2: u64| {
                let got = verify_inclusion(&leaf, i2, n2, &proof, &root);
                let want = ref_verify_inclusion(&leaf, i2, n2, &proof, &root);
                assert_eq!(got.is_ok(), want, "i={i} n={n} verified as i={i2} n={n2}: {got:?}");
                assert!(!want || i2 == i, "i={i} n={n} verified as i={i2} n={n2}");
                param_cases += 1;
                param_accepted += usize::from(want);
            };
            for i2 in param_mutations(i, n) {
                check(i2, n);
            }
            for n2 in param_mutations(n, n) {
                check(i, n2);
            }
        }
    }
    // Only a change of size that keeps the path's shape can verify (see the module docs).
    assert!(param_accepted * 2 < param_cases, "{param_accepted} of {param_cases} parameter mutations verified");
}

#[test]
fn consistency_proofs_verify_and_mutations_fail() {
    let all = leaves(2 * MAX);
    let tree = Tree::from_leaf_hashes(all.iter().copied());
    let (mut param_cases, mut param_accepted) = (0usize, 0usize);
    for n in 1..=MAX {
        let root2 = tree.root_at(n).unwrap();
        for m in 1..=n {
            let root1 = tree.root_at(m).unwrap();
            let proof = tree.consistency_proof(m, n).unwrap();
            assert_eq!(proof, subproof(m as usize, &all[..n as usize], true), "PROOF({m}, D[{n}])");
            assert_eq!(verify_consistency(m, n, &proof, &root1, &root2), Ok(()), "m={m} n={n}");
            assert!(ref_verify_consistency(m, n, &proof, &root1, &root2));

            for p in element_mutations(n, m, &proof) {
                assert!(verify_consistency(m, n, &p, &root1, &root2).is_err(), "m={m} n={n} mutated proof {p:x?}");
            }
            for bit in bits(n, m, 99).into_iter().step_by(51) {
                assert!(verify_consistency(m, n, &proof, &flip(&root1, bit), &root2).is_err());
                assert!(verify_consistency(m, n, &proof, &root1, &flip(&root2, bit)).is_err());
            }
            if m != n {
                assert!(verify_consistency(m, n, &proof, &root2, &root1).is_err(), "swapped roots m={m} n={n}");
            }

            let mut check = |m2: u64, n2: u64| {
                let got = verify_consistency(m2, n2, &proof, &root1, &root2);
                let want = ref_verify_consistency(m2, n2, &proof, &root1, &root2);
                assert_eq!(got.is_ok(), want, "m={m} n={n} verified as m={m2} n={n2}: {got:?}");
                assert!(!want || m2 == m, "m={m} n={n} verified as m={m2} n={n2}");
                param_cases += 1;
                param_accepted += usize::from(want);
            };
            for m2 in param_mutations(m, n) {
                check(m2, n);
            }
            for n2 in param_mutations(n, n) {
                check(m, n2);
            }
            check(0, n);
            check(0, 0);
        }
    }
    assert!(param_accepted * 2 < param_cases, "{param_accepted} of {param_cases} parameter mutations verified");
}

/// The hashes do not bind the tree size: a proof stays valid for every size that gives the
/// proven path the same shape. This is RFC 6962/9162 behaviour, not a bug; the size must come
/// from a trusted (signed) tree head.
#[test]
fn proofs_do_not_bind_the_tree_size() {
    let all = leaves(8);
    let tree = Tree::from_leaf_hashes(all.iter().copied());
    let root3 = tree.root_at(3).unwrap();
    let p = tree.inclusion_proof(0, 3).unwrap(); // [l1, l2]: root3 = H(H(l0, l1), l2)
    assert_eq!(verify_inclusion(&all[0], 0, 3, &p, &root3), Ok(()));
    assert_eq!(verify_inclusion(&all[0], 0, 4, &p, &root3), Ok(())); // l2 read as H(l2', l3')
    assert!(verify_inclusion(&all[0], 0, 5, &p, &root3).is_err()); // needs 3 hashes
    let (root1, root5) = (tree.root_at(1).unwrap(), tree.root_at(5).unwrap());
    let c = tree.consistency_proof(1, 5).unwrap();
    assert_eq!(verify_consistency(1, 5, &c, &root1, &root5), Ok(()));
    assert_eq!(verify_consistency(1, 6, &c, &root1, &root5), Ok(()));
    assert!(verify_consistency(2, 5, &c, &root1, &root5).is_err());
}

#[test]
fn tree_queries_reject_bad_arguments() {
    let tree = Tree::from_leaf_hashes(leaves(10));
    assert_eq!(tree.root_at(11), Err(Error::SizeOutOfRange { size: 11, len: 10 }));
    assert_eq!(tree.root_at(u64::MAX), Err(Error::SizeOutOfRange { size: u64::MAX, len: 10 }));
    assert_eq!(tree.inclusion_proof(10, 10), Err(Error::IndexOutOfRange { index: 10, size: 10 }));
    assert_eq!(tree.inclusion_proof(0, 0), Err(Error::IndexOutOfRange { index: 0, size: 0 }));
    assert_eq!(tree.inclusion_proof(0, 11), Err(Error::SizeOutOfRange { size: 11, len: 10 }));
    assert_eq!(tree.inclusion_proof(u64::MAX, u64::MAX), Err(Error::SizeOutOfRange { size: u64::MAX, len: 10 }));
    assert_eq!(tree.consistency_proof(0, 5), Err(Error::EmptyFirstTree));
    assert_eq!(tree.consistency_proof(0, 0), Err(Error::EmptyFirstTree));
    assert_eq!(tree.consistency_proof(6, 5), Err(Error::SizesOutOfOrder { size1: 6, size2: 5 }));
    assert_eq!(tree.consistency_proof(5, 11), Err(Error::SizeOutOfRange { size: 11, len: 10 }));
    assert_eq!(tree.consistency_proof(7, 7), Ok(Vec::new()));
    assert_eq!(Tree::new().root(), empty_root());
    assert_eq!(Tree::new().root_at(0), Ok(empty_root()));
    assert!(Tree::default().is_empty());
}

#[test]
fn verifiers_never_panic_on_extreme_sizes() {
    let h = leaf_hash(b"x");
    let r = leaf_hash(b"some other root");
    let proofs: Vec<Vec<Hash>> = (0..=130).map(|len| vec![h; len]).collect();
    let sizes = [0, 1, 2, 3, (1 << 32) + 1, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, u64::MAX - 1, u64::MAX];
    for &a in &sizes {
        for &b in &sizes {
            for p in &proofs {
                assert!(verify_inclusion(&h, a, b, p, &r).is_err());
                assert!(verify_consistency(a, b, p, &h, &r).is_err());
            }
        }
    }
    // The length rule holds at the extremes too: in the largest tree (2^64 - 1 leaves, 64
    // perfect pieces) the last leaf needs the 63 other pieces, the first leaf 63 siblings in its
    // piece plus the rest of the tree.
    assert!(matches!(
        verify_inclusion(&h, u64::MAX - 1, u64::MAX, &[], &h),
        Err(Error::WrongProofLength { expected: 63, got: 0 })
    ));
    assert!(matches!(
        verify_inclusion(&h, 0, u64::MAX, &[], &h),
        Err(Error::WrongProofLength { expected: 64, got: 0 })
    ));
}
