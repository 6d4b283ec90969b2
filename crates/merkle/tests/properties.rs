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
//!
//! The subtree proofs of Merkle Tree Certificates get the same treatment against the draft's
//! recursive definitions (`SUBTREE_SUBPROOF` over ranges, a brute-force validity check and a
//! reference verifier that rebuilds both hashes from the ranges the proof stands for): every
//! valid subtree `[start, end)` of every tree up to MAX leaves, every leaf in it for inclusion.
//! Changing the subtree bounds (or the leaf index) never verifies; changing the size (for
//! inclusion: the end, which is the size of the tree the path is read in) sometimes does, and
//! then the reference verifier agrees.

use std::collections::HashMap;

use merkle::{
    empty_root, is_valid_subtree, leaf_hash, node_hash, verify_consistency, verify_inclusion,
    verify_subtree_consistency, verify_subtree_inclusion, Error, Hash, Tree,
};

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

// ---- subtree proofs (Merkle Tree Certificates), from the draft's recursive definitions ----

/// Whether `[start, end)` is a valid subtree: `start < end` and `start` a multiple of the
/// smallest power of two `>= end - start`, found by doubling (in u128, so 2^64 is reachable).
fn ref_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    let mut p = 1u128;
    while p < u128::from(end - start) {
        p *= 2;
    }
    u128::from(start) % p == 0
}

/// `MTH(D[a:b])` by the recursive definition, memoized so the exhaustive loops stay fast.
struct Memo<'a> {
    leaves: &'a [Hash],
    cache: HashMap<(u64, u64), Hash>,
}

impl Memo<'_> {
    fn mth(&mut self, a: u64, b: u64) -> Hash {
        if let Some(h) = self.cache.get(&(a, b)) {
            return *h;
        }
        let h = match b - a {
            0 => empty_root(),
            1 => self.leaves[a as usize],
            n => {
                let k = split(n);
                let (l, r) = (self.mth(a, a + k), self.mth(a + k, b));
                node_hash(&l, &r)
            }
        };
        self.cache.insert((a, b), h);
        h
    }
}

/// The subtree ranges that the elements of the draft's `SUBTREE_SUBPROOF(start, end, D[a:a+n],
/// known)` stand for, deepest first; `start`, `end` are relative to `a`, the subtree is valid.
fn subtree_subproof_ranges(start: u64, end: u64, a: u64, n: u64, known: bool, out: &mut Vec<(u64, u64)>) {
    if start == 0 && end == n {
        if !known {
            out.push((a, a + n));
        }
        return;
    }
    let k = split(n);
    if end <= k {
        subtree_subproof_ranges(start, end, a, k, known, out);
        out.push((a + k, a + n));
    } else if start >= k {
        subtree_subproof_ranges(start - k, end - k, a + k, n - k, known, out);
        out.push((a, a + k));
    } else {
        assert_eq!(start, 0, "a valid subtree only straddles a split at its own start");
        subtree_subproof_ranges(0, end - k, a + k, n - k, false, out);
        out.push((a, a + k));
    }
}

fn ref_verify_subtree_inclusion(leaf: &Hash, index: u64, start: u64, end: u64, proof: &[Hash], root: &Hash) -> bool {
    ref_valid_subtree(start, end)
        && (start..end).contains(&index)
        && ref_verify_inclusion(leaf, index - start, end - start, proof, root)
}

/// Rebuilds both hashes from the ranges the proof stands for: `MTH(D[start:end])` from the proof
/// alone whenever it covers the subtree (else the subtree must be a node the root needs, and
/// `root1` stands in for it), and `MTH(D[0:size])` from the proof plus `root1`.
fn ref_verify_subtree_consistency(start: u64, end: u64, size: u64, proof: &[Hash], root1: &Hash, root2: &Hash) -> bool {
    if start > end || end > size {
        return false;
    }
    if start == end {
        return proof.is_empty() && *root1 == empty_root();
    }
    if !ref_valid_subtree(start, end) {
        return false;
    }
    let mut ranges = Vec::new();
    subtree_subproof_ranges(start, end, 0, size, true, &mut ranges);
    if ranges.len() != proof.len() {
        return false;
    }
    let from_proof: HashMap<_, _> = ranges.into_iter().zip(proof.iter().copied()).collect();
    let root1_ok = match build(start, end, &from_proof) {
        Some(h) => h == *root1,
        None => build(0, size, &from_proof).is_none(),
    };
    let mut known = from_proof;
    known.entry((start, end)).or_insert(*root1);
    root1_ok && build(0, size, &known) == Some(*root2)
}

/// Every valid subtree `[start, end)` with `end <= size`, by brute force.
fn valid_subtrees(size: u64) -> Vec<(u64, u64)> {
    (0..size).flat_map(|s| (s + 1..=size).map(move |e| (s, e))).filter(|&(s, e)| ref_valid_subtree(s, e)).collect()
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

#[test]
fn subtree_validity_matches_brute_force() {
    for s in 0..70u64 {
        for e in 0..70u64 {
            assert_eq!(is_valid_subtree(s, e), ref_valid_subtree(s, e), "[{s}, {e})");
        }
    }
    let big = [0, 1, 2, 3, (1 << 62) + 1, 1 << 63, (1 << 63) + 1, (1 << 63) + 2, u64::MAX - 1, u64::MAX];
    for &s in &big {
        for &e in &big {
            assert_eq!(is_valid_subtree(s, e), ref_valid_subtree(s, e), "[{s}, {e})");
        }
    }
    // Every subtree of the draft's example shapes: [0, m) always, [4, 7) yes, [2, 5) no.
    assert!(is_valid_subtree(0, 13) && is_valid_subtree(4, 7) && is_valid_subtree(8, 14));
    assert!(!is_valid_subtree(2, 5) && !is_valid_subtree(1, 3) && !is_valid_subtree(2, 6) && !is_valid_subtree(5, 5));
}

/// The proof mutations tried on a subtree proof in a tree of `n` leaves; none may verify. Up to
/// [`THOROUGH`] leaves, all of [`element_mutations`]. Beyond, to keep the debug-build run short
/// (hashing dominates): one flipped bit in one element, both moving from case to case so that
/// every element position and bit is hit many times over the run, plus (cheap, no hashing) each
/// element dropped and an extra element prepended, inserted in the middle and appended.
fn subtree_element_mutations(n: u64, case: usize, proof: &[Hash]) -> Vec<Vec<Hash>> {
    if n <= THOROUGH {
        return element_mutations(n, case as u64, proof);
    }
    let mut out = Vec::new();
    if !proof.is_empty() {
        let j = case % proof.len();
        let mut p = proof.to_vec();
        p[j] = flip(&p[j], (case * 37 + j * 11) % 256);
        out.push(p);
    }
    for j in 0..proof.len() {
        let mut dropped = proof.to_vec();
        dropped.remove(j);
        out.push(dropped);
    }
    let extra = leaf_hash(b"extra");
    for at in [0, proof.len() / 2, proof.len()] {
        let mut p = proof.to_vec();
        p.insert(at, extra);
        out.push(p);
    }
    out
}

#[test]
fn subtree_inclusion_proofs_verify_and_mutations_fail() {
    let all = leaves(2 * MAX);
    let tree = Tree::from_leaf_hashes(all.iter().copied());
    let mut memo = Memo { leaves: &all, cache: HashMap::new() };
    let (mut cases, mut param_cases, mut param_accepted) = (0usize, 0usize, 0usize);
    // A subtree inclusion proof does not depend on the tree around the subtree, so every valid
    // subtree with end <= MAX covers every tree size up to MAX.
    for (s, e) in valid_subtrees(MAX) {
        let root = tree.subtree_root(s, e).unwrap();
        assert_eq!(root, memo.mth(s, e), "MTH(D[{s}:{e}])");
        for i in s..e {
            let leaf = all[i as usize];
            let proof = tree.subtree_inclusion_proof(i, s, e).unwrap();
            let mut ranges = Vec::new();
            path_ranges(i - s, s, e - s, &mut ranges);
            let want: Vec<Hash> = ranges.iter().map(|&(a, b)| memo.mth(a, b)).collect();
            assert_eq!(proof, want, "subtree inclusion proof of {i} in [{s}, {e})");
            assert_eq!(verify_subtree_inclusion(&leaf, i, s, e, &proof, &root), Ok(()), "i={i} [{s}, {e})");
            assert!(ref_verify_subtree_inclusion(&leaf, i, s, e, &proof, &root));

            for p in subtree_element_mutations(e, cases, &proof) {
                assert!(verify_subtree_inclusion(&leaf, i, s, e, &p, &root).is_err(), "i={i} [{s}, {e}) {p:x?}");
            }
            for bit in bits(e, i, 99).into_iter().step_by(51) {
                assert!(verify_subtree_inclusion(&flip(&leaf, bit), i, s, e, &proof, &root).is_err());
                assert!(verify_subtree_inclusion(&leaf, i, s, e, &proof, &flip(&root, bit)).is_err());
            }

            let mut check = |i2: u64, s2: u64, e2: u64| {
                let got = verify_subtree_inclusion(&leaf, i2, s2, e2, &proof, &root);
                let want = ref_verify_subtree_inclusion(&leaf, i2, s2, e2, &proof, &root);
                assert_eq!(got.is_ok(), want, "i={i} [{s}, {e}) verified as i={i2} [{s2}, {e2}): {got:?}");
                // Only a changed end that keeps the path's shape can verify.
                assert!(!want || (i2, s2) == (i, s), "i={i} [{s}, {e}) verified as i={i2} [{s2}, {e2})");
                param_cases += 1;
                param_accepted += usize::from(want);
            };
            cases += 1;
            for i2 in param_mutations(i, e) {
                check(i2, s, e);
            }
            for s2 in param_mutations(s, e) {
                check(i, s2, e);
            }
            for e2 in param_mutations(e, e) {
                check(i, s, e2);
            }
        }
    }
    assert_eq!(cases, valid_subtrees(MAX).iter().map(|&(s, e)| (e - s) as usize).sum::<usize>());
    assert!(param_accepted * 2 < param_cases, "{param_accepted} of {param_cases} parameter mutations verified");
}

#[test]
fn subtree_consistency_proofs_verify_and_mutations_fail() {
    let all = leaves(MAX);
    let tree = Tree::from_leaf_hashes(all.iter().copied());
    let mut memo = Memo { leaves: &all, cache: HashMap::new() };
    let (mut cases, mut seeded, mut param_cases, mut param_accepted) = (0usize, 0usize, 0usize, 0usize);
    for n in 1..=MAX {
        let root2 = tree.root_at(n).unwrap();
        for (s, e) in valid_subtrees(n) {
            let root1 = tree.subtree_root(s, e).unwrap();
            let proof = tree.subtree_consistency_proof(s, e, n).unwrap();
            let mut ranges = Vec::new();
            subtree_subproof_ranges(s, e, 0, n, true, &mut ranges);
            let want: Vec<Hash> = ranges.iter().map(|&(a, b)| memo.mth(a, b)).collect();
            assert_eq!(proof, want, "SUBTREE_PROOF({s}, {e}, D[{n}])");
            assert_eq!(verify_subtree_consistency(s, e, n, &proof, &root1, &root2), Ok(()), "[{s}, {e}) n={n}");
            assert!(ref_verify_subtree_consistency(s, e, n, &proof, &root1, &root2), "ref [{s}, {e}) n={n}");
            seeded += usize::from(ranges.first().is_some_and(|&(_, b)| b == e));
            if s == 0 {
                // With start = 0 it is exactly the RFC 6962 consistency proof.
                assert_eq!(Ok(&proof), tree.consistency_proof(e, n).as_ref(), "[0, {e}) n={n}");
            }

            for p in subtree_element_mutations(n, cases, &proof) {
                let got = verify_subtree_consistency(s, e, n, &p, &root1, &root2);
                assert!(got.is_err(), "[{s}, {e}) n={n} mutated proof {p:x?}");
            }
            // Wrong roots: every check in small trees, one of the three (in turn) beyond.
            let bit = (cases * 53) % 256;
            if n <= THOROUGH || cases % 3 == 0 {
                assert!(verify_subtree_consistency(s, e, n, &proof, &flip(&root1, bit), &root2).is_err());
            }
            if n <= THOROUGH || cases % 3 == 1 {
                assert!(verify_subtree_consistency(s, e, n, &proof, &root1, &flip(&root2, bit)).is_err());
            }
            if (n <= THOROUGH || cases % 3 == 2) && root1 != root2 {
                assert!(
                    verify_subtree_consistency(s, e, n, &proof, &root2, &root1).is_err(),
                    "swapped [{s}, {e}) n={n}"
                );
            }

            let mut check = |s2: u64, e2: u64, n2: u64| {
                let got = verify_subtree_consistency(s2, e2, n2, &proof, &root1, &root2);
                let want = ref_verify_subtree_consistency(s2, e2, n2, &proof, &root1, &root2);
                assert_eq!(got.is_ok(), want, "[{s}, {e}) n={n} verified as [{s2}, {e2}) n={n2}: {got:?}");
                // Only a changed tree size that keeps the proof's shape can verify.
                assert!(!want || (s2, e2) == (s, e), "[{s}, {e}) n={n} verified as [{s2}, {e2}) n={n2}");
                param_cases += 1;
                param_accepted += usize::from(want);
            };
            for s2 in param_mutations(s, n) {
                check(s2, e, n);
            }
            for e2 in param_mutations(e, n) {
                check(s, e2, n);
            }
            // The tree size: both ±1 up to 32 leaves, then one of them in turn (a size mutation
            // usually keeps the proof length, so it costs two full verifications).
            for (j, n2) in param_mutations(n, n).into_iter().enumerate() {
                if n <= 2 * THOROUGH || j >= 2 || j == cases % 2 {
                    check(s, e, n2);
                }
            }
            cases += 1;
        }
        // The empty subtrees [s, s), s <= n: an empty proof and the empty-tree hash, whatever root2.
        for s in 0..=n {
            let proof = tree.subtree_consistency_proof(s, s, n).unwrap();
            let root1 = tree.subtree_root(s, s).unwrap();
            assert_eq!((proof.len(), root1), (0, empty_root()));
            assert_eq!(verify_subtree_consistency(s, s, n, &proof, &root1, &root2), Ok(()));
            assert_eq!(verify_subtree_consistency(s, s, n, &proof, &root1, &leaf_hash(b"any")), Ok(()));
            assert!(verify_subtree_consistency(s, s, n, &[root1], &root1, &root2).is_err());
            assert!(verify_subtree_consistency(s, s, n, &proof, &root2, &root2).is_err());
            if s > 0 {
                let got = verify_subtree_consistency(s, s, s - 1, &proof, &root1, &root2);
                assert_eq!(got, Err(Error::SubtreeOutOfRange { start: s, end: s, size: s - 1 }));
            }
        }
    }
    assert!(seeded * 3 > cases, "{seeded} of {cases} proofs recompute the subtree hash from the proof");
    // About 18% verify (all size changes, asserted above): a proof for a subtree far from the
    // right border reads the same hashes as a slightly bigger or smaller tree of the same shape.
    assert!(param_accepted * 2 < param_cases, "{param_accepted} of {param_cases} parameter mutations verified");
}

#[test]
fn subtree_queries_reject_bad_arguments() {
    let tree = Tree::from_leaf_hashes(leaves(10));
    let invalid = |start, end| Error::InvalidSubtree { start, end };
    assert_eq!(tree.subtree_root(2, 5).unwrap_err(), invalid(2, 5));
    assert_eq!(tree.subtree_root(3, 2).unwrap_err(), invalid(3, 2));
    assert_eq!(tree.subtree_root(8, 12), Err(Error::SizeOutOfRange { size: 12, len: 10 }));
    assert_eq!(tree.subtree_root(4, 4), Ok(empty_root()));
    assert_eq!(tree.subtree_root(11, 11), Err(Error::SizeOutOfRange { size: 11, len: 10 }));
    assert_eq!(tree.subtree_root(0, 10), Ok(tree.root()));
    assert_eq!(tree.subtree_inclusion_proof(0, 0, 0).unwrap_err(), invalid(0, 0));
    assert_eq!(tree.subtree_inclusion_proof(3, 2, 5).unwrap_err(), invalid(2, 5));
    assert_eq!(tree.subtree_inclusion_proof(3, 4, 6), Err(Error::IndexOutsideSubtree { index: 3, start: 4, end: 6 }));
    assert_eq!(tree.subtree_inclusion_proof(6, 4, 6), Err(Error::IndexOutsideSubtree { index: 6, start: 4, end: 6 }));
    assert_eq!(tree.subtree_inclusion_proof(8, 8, 12), Err(Error::SizeOutOfRange { size: 12, len: 10 }));
    assert_eq!(
        tree.subtree_inclusion_proof(u64::MAX - 1, u64::MAX - 1, u64::MAX),
        Err(Error::SizeOutOfRange { size: u64::MAX, len: 10 })
    );
    assert_eq!(tree.subtree_consistency_proof(2, 5, 8).unwrap_err(), invalid(2, 5));
    assert_eq!(tree.subtree_consistency_proof(5, 4, 8).unwrap_err(), invalid(5, 4));
    assert_eq!(tree.subtree_consistency_proof(4, 8, 6), Err(Error::SubtreeOutOfRange { start: 4, end: 8, size: 6 }));
    assert_eq!(tree.subtree_consistency_proof(7, 7, 6), Err(Error::SubtreeOutOfRange { start: 7, end: 7, size: 6 }));
    assert_eq!(tree.subtree_consistency_proof(0, 4, 11), Err(Error::SizeOutOfRange { size: 11, len: 10 }));
    assert_eq!(tree.subtree_consistency_proof(0, 10, 10), Ok(Vec::new()));
    assert_eq!(tree.subtree_consistency_proof(3, 3, 10), Ok(Vec::new()));
    // [4, 8) in 10: the subtree is the node [4, 8) itself; its sibling [0, 4), then [8, 10).
    let p = tree.subtree_consistency_proof(4, 8, 10).unwrap();
    assert_eq!(p, vec![tree.subtree_root(0, 4).unwrap(), tree.subtree_root(8, 10).unwrap()]);
    // [8, 10) in 10 (the right border): only the left sibling [0, 8).
    assert_eq!(tree.subtree_consistency_proof(8, 10, 10), Ok(vec![tree.subtree_root(0, 8).unwrap()]));
    // [4, 7) in 10: seed [6, 7), [7, 8) to the right, [4, 6) inside, [0, 4) left, [8, 10) right.
    let p = tree.subtree_consistency_proof(4, 7, 10).unwrap();
    let r = |a, b| tree.subtree_root(a, b).unwrap();
    assert_eq!(p, vec![r(6, 7), r(7, 8), r(4, 6), r(0, 4), r(8, 10)]);
    assert_eq!(verify_subtree_consistency(4, 7, 10, &p, &r(4, 7), &tree.root()), Ok(()));
}

#[test]
fn subtree_verifiers_never_panic_on_extreme_sizes() {
    let h = leaf_hash(b"x");
    let r = leaf_hash(b"some other root");
    let proofs: Vec<Vec<Hash>> = (0..=130).map(|len| vec![h; len]).collect();
    let sizes = [0, 1, 2, 3, (1 << 32) + 1, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, u64::MAX - 1, u64::MAX];
    for &a in &sizes {
        for &b in &sizes {
            for &c in &sizes {
                for p in proofs.iter().step_by(13) {
                    assert!(verify_subtree_inclusion(&h, a, b, c, p, &r).is_err());
                    let got = verify_subtree_consistency(a, b, c, p, &h, &r);
                    assert!(got.is_err(), "[{a}, {b}) n={c} len={}: {got:?}", p.len());
                }
            }
        }
    }
    // The length rule at the extremes: it is fixed by the sizes alone and never above 65 (64
    // levels plus the seed); the last leaf of the largest tree needs the 63 other perfect pieces.
    for (s, e, n) in [(u64::MAX - 1, u64::MAX, u64::MAX), (0, u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX, u64::MAX)] {
        match verify_subtree_consistency(s, e, n, &[], &h, &r) {
            Err(Error::WrongProofLength { expected, got: 0 }) => assert!((1..=65).contains(&expected)),
            other => panic!("[{s}, {e}) n={n}: {other:?}"),
        }
    }
    assert!(matches!(
        verify_subtree_consistency(u64::MAX - 1, u64::MAX, u64::MAX, &[], &h, &r),
        Err(Error::WrongProofLength { expected: 63, got: 0 })
    ));
}
