//! The fixed RFC 6962 vectors: eight leaf inputs and the root of every prefix of them
//! (shared/fixtures/rfc6962/leaves.json, from transparency-dev/merkle).

use std::collections::BTreeMap;
use std::path::PathBuf;

use merkle::{empty_root, leaf_hash, Error, Hash, Tree};

/// `shared/fixtures/rfc6962`, found relative to this crate: the repository lives at X/main and
/// the shared folder at X/shared, wherever X is.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/rfc6962")
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Leaves {
    leaf_inputs_hex: Vec<String>,
    root_hex_by_size: BTreeMap<u64, String>,
}

fn load() -> (Vec<Vec<u8>>, BTreeMap<u64, Hash>) {
    let path = fixtures_dir().join("leaves.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let leaves: Leaves = serde_json::from_str(&text).expect("leaves.json parses");
    let inputs = leaves.leaf_inputs_hex.iter().map(|h| hex::decode(h).expect("hex leaf")).collect();
    let roots = leaves
        .root_hex_by_size
        .iter()
        .map(|(size, h)| (*size, hex::decode(h).expect("hex root").try_into().expect("32-byte root")))
        .collect();
    (inputs, roots)
}

#[test]
fn roots_of_every_prefix_match() {
    let (inputs, roots) = load();
    assert_eq!(inputs.len(), 8);
    assert_eq!(roots.keys().copied().collect::<Vec<_>>(), (0..=8).collect::<Vec<u64>>());
    let hashes: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();

    for (&size, want) in &roots {
        let prefix = &hashes[..size as usize];
        let built = Tree::from_leaf_hashes(prefix.iter().copied());
        assert_eq!(built.len(), size);
        assert_eq!(&built.root(), want, "from_leaf_hashes root of size {size}");

        let mut pushed = Tree::new();
        for h in prefix {
            pushed.push(*h);
        }
        assert_eq!(&pushed.root(), want, "pushed root of size {size}");
        assert_eq!(pushed, built);
    }

    let full = Tree::from_leaf_hashes(hashes.iter().copied());
    for (&size, want) in &roots {
        assert_eq!(&full.root_at(size).unwrap(), want, "root_at({size}) of the size-8 tree");
    }
    assert_eq!(full.root_at(9), Err(Error::SizeOutOfRange { size: 9, len: 8 }));
    assert_eq!(roots[&0], empty_root());
    assert_eq!(
        hex::encode(full.root()),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        "root(8) quoted in the reference notes"
    );
}

#[test]
fn truncate_walks_back_through_the_same_roots() {
    let (inputs, roots) = load();
    let mut tree = Tree::from_leaf_hashes(inputs.iter().map(|d| leaf_hash(d)));
    for size in (0..=8u64).rev() {
        tree.truncate(size);
        assert_eq!(tree.len(), size);
        assert_eq!(tree.root(), roots[&size], "root after truncate({size})");
    }
    assert!(tree.is_empty());
    tree.truncate(5); // growing is not truncating
    assert!(tree.is_empty());
}
