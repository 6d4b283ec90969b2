//! The data model end to end: JSON shapes, canonical byte vectors, signatures, quorum rules and
//! every validation message.

use std::collections::BTreeMap;

use gridtypes::size::{GIB, MIB, TIB};
use gridtypes::*;
use identity::{Identity, PublicKey, Signature};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

// ---------------------------------------------------------------- fixtures

/// A named change to a value, which must break its signature.
type Change<T> = (&'static str, Box<dyn Fn(&mut T)>);
/// A change to a valid value and the (field, message) its validation must then report.
type Case<T> = (fn(&mut T), &'static str, &'static str);

fn ident(n: u8) -> Identity {
    Identity::from_seed([n; 32])
}

fn zdb(name: &str, node: PublicKey, size: u64) -> Workload {
    Workload {
        name: name.into(),
        node,
        version: 1,
        data: WorkloadData::Zdb(ZdbWorkload {
            size,
            disk: DiskKind::Ssd,
            mode: ZdbMode::User,
            public: false,
            password_sealed: None,
        }),
    }
}

/// The documented test vector (raw byte-pattern keys; they never need to verify).
fn vector_contract() -> Contract {
    Contract {
        owner: 1,
        owner_key: PublicKey([0x11; 32]),
        name: Some("demo".into()),
        workloads: vec![zdb("db1", PublicKey([0x22; 32]), GIB)],
        signers: vec![2, 3],
        quorum: 1,
        expires_at: Some(1_800_000_000),
        created_at: 1_700_000_000,
        nonce: 7,
    }
}

/// Twins 1 (owner), 2, 3, 4 with identities seeded 1..=4; twin 9 has no phonebook entry.
struct Grid {
    twins: BTreeMap<u32, Identity>,
    node: Identity,
}

impl Grid {
    fn new() -> Grid {
        Grid { twins: (1..=4).map(|t| (t, ident(t as u8))).collect(), node: ident(100) }
    }

    fn key(&self, twin: u32) -> PublicKey {
        self.twins[&twin].public_key()
    }

    fn phonebook(&self) -> impl Fn(u32) -> Option<PublicKey> + '_ {
        move |t| self.twins.get(&t).map(Identity::public_key)
    }

    fn contract(&self, signers: Vec<u32>, quorum: u32) -> Contract {
        Contract {
            owner: 1,
            owner_key: self.key(1),
            name: Some("test".into()),
            workloads: vec![zdb("db1", self.node.public_key(), GIB), zdb("db2", self.node.public_key(), 2 * GIB)],
            signers,
            quorum,
            expires_at: Some(2_000_000_000),
            created_at: 1_700_000_000,
            nonce: 1,
        }
    }

    fn signed(&self, contract: Contract, by: &[u32]) -> SignedContract {
        let mut s = SignedContract::new(contract);
        for t in by {
            s.sign(*t, &self.twins[t]);
        }
        s
    }
}

fn node_fixture(node: &Identity) -> Node {
    Node {
        id: node.public_key(),
        farm: 5,
        location: Some(Location {
            country: "BE".into(),
            city: "Ghent".into(),
            latitude: Some(51.054_342_1),
            longitude: Some(3.717_424_3),
        }),
        total: Capacity { cru: 4, mru: 8 * GIB, sru: 100 * GIB, hru: TIB },
        used: Capacity { cru: 0, mru: 0, sru: 3 * GIB, hru: 0 },
        storage: vec![
            Disk { path: "/mnt/ssd".into(), kind: DiskKind::Ssd, size: 100 * GIB },
            Disk { path: "/mnt/hdd".into(), kind: DiskKind::Hdd, size: TIB },
        ],
        address: Some("127.0.0.1:9900".into()),
        version: "0.1.0".into(),
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) -> String {
    let text = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, v, "{text}");
    let pretty = serde_json::to_string_pretty(v).unwrap();
    assert_eq!(&serde_json::from_str::<T>(&pretty).unwrap(), v);
    text
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_round_trips_every_type() {
    let g = Grid::new();
    let twin = Twin { id: 1, name: "bob.3bot".into(), key: g.key(1), host: Some("bob.example:443".into()) };
    let text = round_trip(&twin);
    assert_eq!(text, format!(r#"{{"id":1,"name":"bob.3bot","key":"{}","host":"bob.example:443"}}"#, g.key(1)));
    round_trip(&Twin { host: None, ..twin });

    let farm = Farm { id: 3, name: "freefarm".into(), owner: 1, location: Some(Location::default()) };
    round_trip(&farm);
    round_trip(&Farm { location: None, ..farm });

    let node = node_fixture(&g.node);
    let text = round_trip(&node);
    assert!(text.starts_with(&format!(r#"{{"id":"{}","farm":5,"location":{{"country":"BE""#, g.node.public_key())));
    assert!(text.contains(r#""storage":[{"path":"/mnt/ssd","kind":"ssd","size":107374182400}"#), "{text}");

    let report = CapacityReport::new(&g.node, node.total, node.used, 60, 1_700_000_000);
    round_trip(&report);

    let contract = g.contract(vec![2, 3], 1);
    round_trip(&contract);
    round_trip(&vector_contract());
    let signed = g.signed(contract.clone(), &[1, 2]);
    round_trip(&signed);
    round_trip(&signed.signatures[0]);

    let id = contract.id();
    assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
    round_trip(&id);

    let result = WorkloadResult::new(
        &g.node,
        id,
        "db1",
        ResultState::Ok,
        json!({"address": "127.0.0.1:9900", "namespace": "c-db1"}),
        None,
        1_700_000_100,
    );
    round_trip(&result);
    round_trip(&WorkloadResult { message: Some("boom".into()), state: ResultState::Error, ..result.clone() });
    round_trip(&ContractState::WaitingForSignatures);
    assert_eq!(serde_json::to_string(&ResultState::Deleted).unwrap(), r#""deleted""#);
}

#[test]
fn workload_json_is_tagged_by_type() {
    let w = zdb("db1", PublicKey([0x22; 32]), GIB);
    let text = serde_json::to_string(&w).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"name":"db1","node":"{}","version":1,"data":{{"type":"zdb","size":1073741824,"disk":"ssd","mode":"user","public":false}}}}"#,
            "22".repeat(32)
        )
    );
    // A hand-written workload: size as text, defaults for the rest.
    let hand = json!({"name": "db1", "node": "22".repeat(32), "data": {"type": "zdb", "size": "1GiB"}});
    assert_eq!(serde_json::from_value::<Workload>(hand).unwrap(), w);
    let hdd = json!({"name": "b", "node": "22".repeat(32), "data": {"type": "zdb", "size": "2 GiB", "disk": "hdd", "mode": "seq", "public": true}});
    let w: Workload = serde_json::from_value(hdd).unwrap();
    assert_eq!(w.capacity(), Capacity { hru: 2 * GIB, ..Capacity::ZERO });
    assert_eq!(w.type_name(), "zdb");
}

#[test]
fn misspelt_or_unknown_fields_are_errors() {
    let node = "22".repeat(32);
    let typo = json!({"name": "db1", "node": node, "data": {"type": "zdb", "sise": "1GiB", "size": 5}});
    let err = serde_json::from_value::<Workload>(typo).unwrap_err().to_string();
    assert!(err.contains("unknown field `sise`"), "{err}");
    let unknown_type = json!({"name": "db1", "node": node, "data": {"type": "container"}});
    let err = serde_json::from_value::<Workload>(unknown_type).unwrap_err().to_string();
    assert!(err.contains("unknown variant `container`"), "{err}");
    let mut c = serde_json::to_value(vector_contract()).unwrap();
    c["quorom"] = json!(2);
    let err = serde_json::from_value::<Contract>(c).unwrap_err().to_string();
    assert!(err.contains("unknown field `quorom`"), "{err}");
    let err =
        serde_json::from_value::<Workload>(json!({"name": "a", "node": "xyz", "data": {"type": "zdb", "size": 1}}))
            .unwrap_err()
            .to_string();
    assert!(err.contains("public key must be 64 hex characters"), "{err}");
    let err =
        serde_json::from_value::<Workload>(json!({"name": "a", "node": node, "data": {"type": "zdb", "size": "1G"}}))
            .unwrap_err()
            .to_string();
    assert!(err.contains("ambiguous"), "{err}");
}

#[test]
fn contract_id_text() {
    let id = vector_contract().id();
    assert_eq!(id.to_string().parse::<ContractId>().unwrap(), id);
    assert_eq!(format!("{id:?}"), "ContractId(7d00dba8…)");
    let err = "abc".parse::<ContractId>().unwrap_err();
    assert_eq!(err.message, "contract id `abc` must be 64 hex characters, as `tf deploy` prints");
    assert!(serde_json::from_str::<ContractId>("\"zz\"").is_err());
}

// ---------------------------------------------------------------- canonical bytes

#[test]
fn contract_test_vector() {
    let c = vector_contract();
    assert_eq!(
        hex::encode(c.canonical_bytes()),
        concat!(
            "00000001",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "01",
            "00000004",
            "64656d6f",
            "00000001",
            "00000003",
            "646231",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "00000001",
            "00",
            "0000000040000000",
            "00",
            "00",
            "00",
            "00",
            "00000002",
            "00000002",
            "00000003",
            "00000001",
            "01",
            "000000006b49d200",
            "000000006553f100",
            "0000000000000007",
        )
    );
    assert_eq!(c.canonical_bytes().len(), 146);
    assert_eq!(c.id().to_string(), "7d00dba82237f79cd9f012ce6ecc63451bcac73e559511dbf5d7ba64f80ea062");
    // Workload bytes are exactly the embedded ones.
    let w = hex::encode(c.workloads[0].canonical_bytes());
    assert!(hex::encode(c.canonical_bytes()).contains(&w));
    // Absent options are a single zero byte.
    let bare = Contract { name: None, expires_at: None, signers: vec![], quorum: 0, ..c };
    assert_eq!(bare.canonical_bytes().len(), 146 - 8 - 8 - 8);
}

#[test]
fn result_test_vector() {
    let r = WorkloadResult {
        contract: vector_contract().id(),
        workload: "db1".into(),
        node: PublicKey([0x22; 32]),
        state: ResultState::Ok,
        data: json!({"namespace": "ns", "address": "127.0.0.1:9900"}),
        message: None,
        at: 1_700_000_100,
        signature: Signature([0; 64]),
    };
    assert_eq!(
        hex::encode(r.canonical_bytes()),
        concat!(
            "7d00dba82237f79cd9f012ce6ecc63451bcac73e559511dbf5d7ba64f80ea062",
            "00000003",
            "646231",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "00",
            "0000002d",
            // {"address":"127.0.0.1:9900","namespace":"ns"}
            "7b2261646472657373223a223132372e302e302e313a39393030222c226e616d657370616365223a226e73227d",
            "00",
            "000000006553f164",
        )
    );
    // The signature is not part of the signed bytes.
    let other = WorkloadResult { signature: Signature([9; 64]), ..r.clone() };
    assert_eq!(other.canonical_bytes(), r.canonical_bytes());
}

#[test]
fn node_and_report_test_vectors() {
    let n = Node {
        id: PublicKey([0x22; 32]),
        farm: 5,
        location: None,
        total: Capacity { cru: 4, mru: 8 * GIB, sru: 100 * GIB, hru: 0 },
        used: Capacity::ZERO,
        storage: vec![Disk { path: "/mnt/ssd".into(), kind: DiskKind::Ssd, size: 100 * GIB }],
        address: Some("127.0.0.1:9900".into()),
        version: "0.1.0".into(),
    };
    assert_eq!(
        hex::encode(n.canonical_bytes()),
        concat!(
            "01",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "00000005",
            "00",
            "0000000000000004",
            "0000000200000000",
            "0000001900000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "00000001",
            "00000008",
            "2f6d6e742f737364",
            "00",
            "0000001900000000",
            "01",
            "0000000e",
            "3132372e302e302e313a39393030",
            "00000005",
            "302e312e30",
        )
    );
    let r = CapacityReport {
        node: PublicKey([0x22; 32]),
        total: n.total,
        used: Capacity { sru: GIB, ..Capacity::ZERO },
        uptime: 3600,
        at: 1_700_000_200,
        signature: Signature([0; 64]),
    };
    assert_eq!(
        hex::encode(r.canonical_bytes()),
        concat!(
            "02",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "0000000000000004",
            "0000000200000000",
            "0000001900000000",
            "0000000000000000",
            "0000000000000000",
            "0000000000000000",
            "0000000040000000",
            "0000000000000000",
            "0000000000000e10",
            "000000006553f1c8",
        )
    );
    // The location is encoded with the exact bits of each coordinate.
    let with_loc = Node {
        location: Some(Location { country: "".into(), city: "".into(), latitude: Some(0.5), longitude: None }),
        ..n
    };
    let loc = concat!("01", "00000000", "00000000", "01", "3fe0000000000000", "00");
    assert!(hex::encode(with_loc.canonical_bytes())
        .contains(&format!("{}{loc}0000000000000004", "22".repeat(32) + "00000005")));
}

#[test]
fn serde_json_value_bytes_are_canonical() {
    // Keys come out sorted at every level however they went in, compact, so result data bytes
    // are reproducible. This fails if some crate turns on serde_json's `preserve_order`.
    let a: serde_json::Value =
        serde_json::from_str(r#"{ "z": 1, "a": {"y": [1, {"q": 2, "b": 3}], "c": "x"}, "m": null }"#).unwrap();
    let b = json!({"m": null, "a": {"c": "x", "y": [1, {"b": 3, "q": 2}]}, "z": 1});
    let expected = r#"{"a":{"c":"x","y":[1,{"b":3,"q":2}]},"m":null,"z":1}"#;
    assert_eq!(String::from_utf8(serde_json::to_vec(&a).unwrap()).unwrap(), expected);
    assert_eq!(serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap());
    let esc = json!({"s": "a\"b\\c\nd\u{1}é"});
    assert_eq!(serde_json::to_string(&esc).unwrap(), "{\"s\":\"a\\\"b\\\\c\\nd\\u0001é\"}");
}

#[test]
fn floats_survive_json_exactly() {
    // A node's location is signed bit for bit; serde_json's float_roundtrip keeps it exact.
    // Without that feature about 1 random coordinate in 8 comes back one ulp off, e.g. the
    // first pair below.
    let node = ident(100);
    for (lat, long) in [
        (21.877_423_353_265_442, -116.833_615_548_096_13),
        (51.054_342_1, 3.717_424_3),
        (-33.868_819_7, 151.209_295_5),
        (0.1 + 0.2, -179.999_999_999_999_97),
        (89.999_999_999_999_99, 1e-300),
        (2.225_073_858_507_201e-308, -0.0),
    ] {
        let mut n = node_fixture(&node);
        n.location.as_mut().unwrap().latitude = Some(lat);
        n.location.as_mut().unwrap().longitude = Some(long);
        let sig = n.sign(&node);
        let back: Node = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        let (l2, g2) = {
            let l = back.location.as_ref().unwrap();
            (l.latitude.unwrap(), l.longitude.unwrap())
        };
        assert_eq!((l2.to_bits(), g2.to_bits()), (lat.to_bits(), long.to_bits()), "{lat} {long}");
        back.verify(&sig).unwrap();
    }
}

// ---------------------------------------------------------------- signatures

#[test]
fn contract_signatures_break_on_any_change() {
    let g = Grid::new();
    let pb = g.phonebook();
    let mut base = g.contract(vec![2, 3], 1);
    base.workloads[0].data = WorkloadData::Zdb(ZdbWorkload {
        size: GIB,
        disk: DiskKind::Ssd,
        mode: ZdbMode::User,
        public: false,
        password_sealed: Some(ZdbWorkload::seal_password(&g.node.public_key(), "secret").unwrap()),
    });
    let signed = g.signed(base.clone(), &[1, 2]);
    assert!(signed.quorum_met(&pb));

    fn zdb_mut(c: &mut Contract) -> &mut ZdbWorkload {
        match &mut c.workloads[0].data {
            WorkloadData::Zdb(z) => z,
        }
    }
    let changes: Vec<Change<Contract>> = vec![
        ("owner", Box::new(|c| c.owner = 4)),
        ("owner_key", Box::new(|c| c.owner_key = PublicKey([7; 32]))),
        ("name", Box::new(|c| c.name = None)),
        ("name text", Box::new(|c| c.name = Some("tesT".into()))),
        ("workload removed", Box::new(|c| drop(c.workloads.pop()))),
        ("workload order", Box::new(|c| c.workloads.swap(0, 1))),
        ("workload name", Box::new(|c| c.workloads[0].name = "db9".into())),
        ("workload node", Box::new(|c| c.workloads[0].node = PublicKey([8; 32]))),
        ("workload version", Box::new(|c| c.workloads[0].version = 2)),
        ("zdb size", Box::new(|c| zdb_mut(c).size += 1)),
        ("zdb disk", Box::new(|c| zdb_mut(c).disk = DiskKind::Hdd)),
        ("zdb mode", Box::new(|c| zdb_mut(c).mode = ZdbMode::Seq)),
        ("zdb public", Box::new(|c| zdb_mut(c).public = true)),
        ("zdb password", Box::new(|c| zdb_mut(c).password_sealed = None)),
        ("signers", Box::new(|c| c.signers.push(4))),
        ("signers order", Box::new(|c| c.signers.reverse())),
        ("quorum", Box::new(|c| c.quorum = 0)),
        ("expires_at", Box::new(|c| c.expires_at = None)),
        ("expires_at value", Box::new(|c| c.expires_at = Some(2_000_000_001))),
        ("created_at", Box::new(|c| c.created_at += 1)),
        ("nonce", Box::new(|c| c.nonce += 1)),
    ];
    for (what, change) in &changes {
        let mut c = base.clone();
        change(&mut c);
        assert_ne!(c.id(), base.id(), "{what}");
        let tampered = SignedContract { contract: c, signatures: signed.signatures.clone() };
        assert!(tampered.valid_signers(&pb).is_empty(), "{what}");
        assert!(!tampered.owner_signed(&pb), "{what}");
        assert!(!tampered.quorum_met(&pb), "{what}");
    }
}

#[test]
fn result_signatures_break_on_any_change() {
    let g = Grid::new();
    let r = WorkloadResult::new(
        &g.node,
        g.contract(vec![], 0).id(),
        "db1",
        ResultState::Ok,
        json!({"address": "127.0.0.1:9900", "namespace": "n1", "port": 9900}),
        Some("fine".into()),
        1_700_000_100,
    );
    r.verify().unwrap();
    r.validate().unwrap();
    // Still verifies after the explorer stores and serves it as JSON, keys in any order.
    let mut v = serde_json::to_value(&r).unwrap();
    v["data"] = serde_json::from_str(r#"{"port":9900,"namespace":"n1","address":"127.0.0.1:9900"}"#).unwrap();
    serde_json::from_value::<WorkloadResult>(v).unwrap().verify().unwrap();

    let changes: Vec<Change<WorkloadResult>> = vec![
        ("contract", Box::new(|r| r.contract = ContractId([1; 32]))),
        ("workload", Box::new(|r| r.workload = "db2".into())),
        ("node", Box::new(|r| r.node = ident(101).public_key())),
        ("state", Box::new(|r| r.state = ResultState::Error)),
        ("data", Box::new(|r| r.data["address"] = json!("10.0.0.1:9900"))),
        ("data type", Box::new(|r| r.data["port"] = json!("9900"))),
        ("data null", Box::new(|r| r.data = serde_json::Value::Null)),
        ("message", Box::new(|r| r.message = None)),
        ("message text", Box::new(|r| r.message = Some("fine!".into()))),
        ("at", Box::new(|r| r.at += 1)),
        ("signature", Box::new(|r| r.signature.0[0] ^= 1)),
    ];
    for (what, change) in &changes {
        let mut t = r.clone();
        change(&mut t);
        let err = t.verify().unwrap_err().to_string();
        assert!(err.contains("is not signed by node"), "{what}: {err}");
    }
    // Another node re-signing makes it verify as that node's result (callers check the node
    // is the workload's).
    let mut other = r.clone();
    other.sign(&ident(101));
    other.verify().unwrap();
    assert_eq!(other.node, ident(101).public_key());
}

#[test]
fn node_signatures_break_on_any_change() {
    let g = Grid::new();
    let n = node_fixture(&g.node);
    let sig = n.sign(&g.node);
    n.verify(&sig).unwrap();
    let changes: Vec<Change<Node>> = vec![
        ("farm", Box::new(|n| n.farm = 6)),
        ("location", Box::new(|n| n.location = None)),
        ("city", Box::new(|n| n.location.as_mut().unwrap().city = "Gent".into())),
        ("latitude", Box::new(|n| n.location.as_mut().unwrap().latitude = Some(51.0))),
        ("total", Box::new(|n| n.total.cru = 5)),
        ("used", Box::new(|n| n.used.sru = 0)),
        ("disk", Box::new(|n| n.storage[0].kind = DiskKind::Hdd)),
        ("disk path", Box::new(|n| n.storage[0].path = "/mnt/x".into())),
        ("disk size", Box::new(|n| n.storage[1].size -= 1)),
        ("address", Box::new(|n| n.address = None)),
        ("version", Box::new(|n| n.version = "0.1.1".into())),
    ];
    for (what, change) in &changes {
        let mut t = n.clone();
        change(&mut t);
        assert!(t.verify(&sig).is_err(), "{what}");
    }
    // Another key cannot register this node.
    let forged = n.sign(&ident(101));
    assert!(n.verify(&forged).unwrap_err().to_string().starts_with("registration of node"));

    let report = CapacityReport::new(&g.node, n.total, n.used, 60, 1_700_000_000);
    report.verify().unwrap();
    report.validate().unwrap();
    for change in [
        |r: &mut CapacityReport| r.used.mru = 1,
        |r: &mut CapacityReport| r.total.hru = 1,
        |r: &mut CapacityReport| r.uptime = 61,
        |r: &mut CapacityReport| r.at = 1,
        |r: &mut CapacityReport| r.node = ident(101).public_key(),
    ] {
        let mut t = report.clone();
        change(&mut t);
        assert!(t.verify().is_err());
    }
    // Domain and kind separation: a registration signature is not a report signature, and a
    // node signature over the same bytes in the result domain does not verify.
    let as_report = CapacityReport { signature: sig, ..report.clone() };
    assert!(as_report.verify().is_err());
    let r = WorkloadResult::new(&g.node, ContractId([0; 32]), "db1", ResultState::Ok, json!(null), None, 1);
    let cross = g.node.sign(identity::Domain::Node, &r.canonical_bytes());
    assert!(WorkloadResult { signature: cross, ..r }.verify().is_err());
}

// ---------------------------------------------------------------- signers and quorum

#[test]
fn valid_signers_counts_only_real_distinct_listed_twins() {
    let g = Grid::new();
    let pb = g.phonebook();
    let contract = g.contract(vec![2, 3, 9], 2);
    let id = contract.id();
    let mut s = g.signed(contract.clone(), &[1, 2]);
    assert_eq!(s.valid_signers(&pb).into_iter().collect::<Vec<_>>(), [2]);

    // Duplicate signatures by twin 2 (pushed by hand; `sign` would replace) count once.
    let dup = TwinSignature::new(Approval::Deploy, &id, 2, &g.twins[&2]);
    s.signatures.push(dup.clone());
    s.signatures.push(dup);
    assert_eq!(s.valid_signers(&pb).len(), 1);
    assert!(!s.quorum_met(&pb));

    // Twin 4 signs validly but is not a listed signer: ignored.
    s.signatures.push(TwinSignature::new(Approval::Deploy, &id, 4, &g.twins[&4]));
    assert_eq!(s.valid_signers(&pb).len(), 1);

    // Twin 9 is listed but unknown to the phonebook: its own key in the signature is not enough.
    s.signatures.push(TwinSignature::new(Approval::Deploy, &id, 9, &ident(9)));
    assert_eq!(s.valid_signers(&pb).len(), 1);

    // Twin 3's slot signed with an attacker's key, carrying the attacker's key: not the phonebook key.
    let attacker = ident(66);
    s.signatures.push(TwinSignature::new(Approval::Deploy, &id, 3, &attacker));
    assert_eq!(s.valid_signers(&pb).len(), 1);

    // Attacker's signature carrying twin 3's real key: does not verify under it.
    let mut forged = TwinSignature::new(Approval::Deploy, &id, 3, &attacker);
    forged.key = g.key(3);
    s.signatures.push(forged);
    assert_eq!(s.valid_signers(&pb).len(), 1);

    // Twin 2 signing in twin 3's name (twin 2's key and signature): key is not twin 3's.
    let mut impostor = TwinSignature::new(Approval::Deploy, &id, 2, &g.twins[&2]);
    impostor.twin = 3;
    s.signatures.push(impostor);
    assert_eq!(s.valid_signers(&pb).len(), 1);

    // Twin 3's genuine signature over a different contract, or for deleting: not a deploy of this one.
    let other = Contract { nonce: 99, ..contract.clone() };
    s.signatures.push(TwinSignature::new(Approval::Deploy, &other.id(), 3, &g.twins[&3]));
    s.signatures.push(TwinSignature::new(Approval::Delete, &id, 3, &g.twins[&3]));
    // A corrupted copy of a real signature.
    let mut flipped = TwinSignature::new(Approval::Deploy, &id, 3, &g.twins[&3]);
    flipped.signature.0[10] ^= 0x40;
    s.signatures.push(flipped);
    assert_eq!(s.valid_signers(&pb).len(), 1);
    assert!(!s.quorum_met(&pb));

    // Finally, twin 3 signs for real.
    s.sign(3, &g.twins[&3]);
    assert_eq!(s.valid_signers(&pb).into_iter().collect::<Vec<_>>(), [2, 3]);
    assert!(s.quorum_met(&pb));

    // A phonebook that later maps twin 3 to a different key (rotation) voids its signature.
    let rotated = |t: u32| if t == 3 { Some(ident(33).public_key()) } else { pb(t) };
    assert_eq!(s.valid_signers(&rotated).into_iter().collect::<Vec<_>>(), [2]);
    assert!(!s.quorum_met(&rotated));
}

#[test]
fn owner_signature_rules() {
    let g = Grid::new();
    let pb = g.phonebook();
    let c = g.contract(vec![], 0);
    assert!(!SignedContract::new(c.clone()).owner_signed(&pb));
    assert!(!SignedContract::new(c.clone()).quorum_met(&pb));
    assert!(g.signed(c.clone(), &[1]).owner_signed(&pb));
    // Someone else signing as the owner.
    let mut s = SignedContract::new(c.clone());
    s.sign(1, &g.twins[&2]);
    assert!(!s.owner_signed(&pb));
    // The owner's key in the contract differs from the phonebook's: nobody can satisfy it.
    let c2 = Contract { owner_key: g.key(2), ..c.clone() };
    let mut s2 = SignedContract::new(c2.clone());
    s2.sign(1, &g.twins[&1]);
    s2.sign(1, &g.twins[&2]);
    assert_eq!(s2.signatures.len(), 1, "sign replaces a twin's earlier signature");
    assert!(!s2.owner_signed(&pb));
    // The owner is unknown to the phonebook.
    let c3 = Contract { owner: 9, owner_key: ident(9).public_key(), ..c };
    let s3 = g.signed(c3, &[]);
    let mut s3 = s3;
    s3.sign(9, &ident(9));
    assert!(!s3.owner_signed(&pb));
}

#[test]
fn quorum_edge_cases() {
    let g = Grid::new();
    let pb = g.phonebook();
    // Quorum 0: the owner alone; signers' signatures are not needed.
    let c0 = g.contract(vec![2, 3], 0);
    c0.validate().unwrap();
    assert!(g.signed(c0.clone(), &[1]).quorum_met(&pb));
    assert!(!g.signed(c0, &[2, 3]).quorum_met(&pb), "the owner must always sign");
    // Quorum == number of signers: all of them.
    let c2 = g.contract(vec![2, 3], 2);
    c2.validate().unwrap();
    assert!(!g.signed(c2.clone(), &[1, 2]).quorum_met(&pb));
    assert!(g.signed(c2.clone(), &[1, 2, 3]).quorum_met(&pb));
    // The owner may also be a listed signer and count towards the quorum.
    let c_self = g.contract(vec![1, 2], 1);
    assert!(g.signed(c_self, &[1]).quorum_met(&pb));
    // Quorum > number of signers: refused by validate, and never met anyway.
    let c3 = g.contract(vec![2, 3], 3);
    assert_eq!(
        c3.validate().unwrap_err().message,
        "quorum 3 is more than the 2 signer(s) listed, so it could never be met; lower `quorum` or add twins to `signers`"
    );
    assert!(!g.signed(c3, &[1, 2, 3, 4]).quorum_met(&pb));
    let none = g.contract(vec![], 1);
    assert_eq!(none.validate().unwrap_err().field, "quorum");
}

#[test]
fn delete_approvals_are_separate_from_deploy() {
    let g = Grid::new();
    let pb = g.phonebook();
    let c = g.contract(vec![2, 3], 1);
    let id = c.id();
    assert_eq!(Approval::Deploy.message(&id), id.0.to_vec());
    assert_eq!(Approval::Delete.message(&id).len(), 42);
    let deploy = g.signed(c.clone(), &[1, 2]).signatures;
    assert!(c.approved(Approval::Deploy, &deploy, &pb));
    assert!(!c.approved(Approval::Delete, &deploy, &pb));
    let delete: Vec<_> = [1, 3].iter().map(|t| TwinSignature::new(Approval::Delete, &id, *t, &g.twins[t])).collect();
    assert!(c.approved(Approval::Delete, &delete, &pb));
    assert!(!c.approved(Approval::Deploy, &delete, &pb));
    assert!(!c.approved(Approval::Delete, &delete[..1], &pb), "the owner alone is not the quorum");
    assert_eq!(c.approvals(Approval::Delete, &delete, &pb).into_iter().collect::<Vec<_>>(), [3]);
}

// ---------------------------------------------------------------- capacity

#[test]
fn contract_capacity_per_node() {
    let g = Grid::new();
    let mut c = g.contract(vec![], 0);
    let other = ident(101).public_key();
    c.workloads.push(Workload {
        data: WorkloadData::Zdb(ZdbWorkload {
            size: 5 * GIB,
            disk: DiskKind::Hdd,
            mode: ZdbMode::Seq,
            public: true,
            password_sealed: None,
        }),
        ..zdb("db3", other, GIB)
    });
    assert_eq!(c.capacity_on(&g.node.public_key()).unwrap(), Capacity { sru: 3 * GIB, ..Capacity::ZERO });
    assert_eq!(c.capacity_on(&other).unwrap(), Capacity { hru: 5 * GIB, ..Capacity::ZERO });
    assert_eq!(c.capacity_on(&PublicKey([0; 32])).unwrap(), Capacity::ZERO);
    assert_eq!(c.nodes().len(), 2);
    assert_eq!(c.workloads_on(&g.node.public_key()).count(), 2);
    assert_eq!(c.workload("db3").unwrap().node, other);
    assert!(c.workload("nope").is_none());
    assert!(!c.is_expired(1_999_999_999));
    assert!(c.is_expired(2_000_000_000));

    let mut huge = g.contract(vec![], 0);
    huge.workloads = vec![zdb("a", other, u64::MAX), zdb("b", other, 1)];
    assert!(matches!(huge.capacity_on(&other), Err(Error::CapacityOverflow { resource: Resource::Sru, .. })));

    let n = node_fixture(&g.node);
    let need = c.capacity_on(&g.node.public_key()).unwrap();
    assert!(need.fits_in(&n.free()));
    assert_eq!(n.free(), Capacity { cru: 4, mru: 8 * GIB, sru: 97 * GIB, hru: TIB });
    let big = Capacity { sru: 98 * GIB, ..Capacity::ZERO };
    assert!(!big.fits_in(&n.free()));
    assert_eq!(big.shortfall(&n.free()).describe_nonzero(), ["1 GiB SSD"]);
}

#[test]
fn zdb_password_seal_and_open() {
    let node = ident(100);
    let sealed = ZdbWorkload::seal_password(&node.public_key(), "s3cret").unwrap();
    let mut w = zdb("db1", node.public_key(), GIB);
    let WorkloadData::Zdb(z) = &mut w.data;
    z.password_sealed = Some(sealed);
    let z = z.clone();
    w.validate("workloads[0]").unwrap();
    assert_eq!(z.open_password(&node).unwrap().as_deref(), Some("s3cret"));
    assert!(z.open_password(&ident(101)).unwrap_err().to_string().starts_with("cannot open the zdb password"));
    assert_eq!(ZdbWorkload { password_sealed: None, ..z.clone() }.open_password(&node).unwrap(), None);
    let bad_point = PublicKey([0; 32]);
    assert!(ZdbWorkload::seal_password(&bad_point, "x").is_err());
}

// ---------------------------------------------------------------- validation

fn contract_error(change: impl FnOnce(&mut Contract)) -> ValidationError {
    let g = Grid::new();
    let mut c = g.contract(vec![2, 3], 1);
    c.validate().unwrap();
    change(&mut c);
    c.validate().unwrap_err()
}

fn set_zdb(c: &mut Contract, f: impl FnOnce(&mut ZdbWorkload)) {
    let WorkloadData::Zdb(z) = &mut c.workloads[0].data;
    f(z);
}

#[test]
fn contract_validation_messages() {
    let cases: Vec<Case<Contract>> = vec![
        (
            |c: &mut Contract| c.workloads.clear(),
            "workloads",
            "contract has no workloads; add at least one under `workloads`",
        ),
        (
            |c: &mut Contract| c.workloads[1].name = "DB 2".into(),
            "workloads[1].name",
            "workload name `DB 2` must be 1 to 32 characters of a-z, 0-9 and `-`, e.g. `db1`",
        ),
        (
            |c: &mut Contract| c.workloads[1].name = "db1".into(),
            "workloads[1].name",
            "workload name `db1` is used twice; give each workload its own name",
        ),
        (
            |c: &mut Contract| c.signers = vec![2, 3, 2],
            "signers[2]",
            "twin 2 is listed twice in `signers`; list each signer once",
        ),
        (
            |c: &mut Contract| c.quorum = 3,
            "quorum",
            "quorum 3 is more than the 2 signer(s) listed, so it could never be met; lower `quorum` or add twins to `signers`",
        ),
        (
            |c: &mut Contract| c.expires_at = Some(c.created_at),
            "expires_at",
            "`expires_at` (1700000000) is not after `created_at` (1700000000); the contract would be expired from the start",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.size = 10),
            "workloads[0].data.size",
            "workload `db1`: size 10 B is below the minimum of 1 MiB; write e.g. `size: 1GiB`",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.size = 16 * TIB + 1),
            "workloads[0].data.size",
            "workload `db1`: size 17592186044417 B is above the maximum of 16 TiB; split it over several workloads",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.password_sealed = Some("not hex!".into())),
            "workloads[0].data.password_sealed",
            "workload `db1`: `password_sealed` must be lowercase hex of a sealed box; give the password to `tf`, which seals it to the node",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.password_sealed = Some("AB".repeat(60))),
            "workloads[0].data.password_sealed",
            "workload `db1`: `password_sealed` must be lowercase hex of a sealed box; give the password to `tf`, which seals it to the node",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.password_sealed = Some("abc".into())),
            "workloads[0].data.password_sealed",
            "workload `db1`: `password_sealed` must be lowercase hex of a sealed box; give the password to `tf`, which seals it to the node",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.password_sealed = Some("ab".repeat(48))),
            "workloads[0].data.password_sealed",
            "workload `db1`: `password_sealed` holds 48 bytes; a sealed password of 1 to 256 bytes takes 49 to 304",
        ),
        (
            |c: &mut Contract| set_zdb(c, |z| z.password_sealed = Some("ab".repeat(305))),
            "workloads[0].data.password_sealed",
            "workload `db1`: `password_sealed` holds 305 bytes; a sealed password of 1 to 256 bytes takes 49 to 304",
        ),
        (
            |c: &mut Contract| c.name = Some("tab\there".into()),
            "name",
            "contract name `tab\\there` must be 1 to 64 characters without control characters",
        ),
        (
            |c: &mut Contract| c.name = Some(String::new()),
            "name",
            "contract name `` must be 1 to 64 characters without control characters",
        ),
    ];
    for (change, field, message) in cases {
        let err = contract_error(change);
        assert_eq!((err.field.as_str(), err.message.as_str()), (field, message));
        assert_eq!(err.to_string(), message);
    }
    let err = contract_error(|c| c.workloads[1].name = "x".repeat(33));
    assert_eq!(err.field, "workloads[1].name");
    assert!(err.message.starts_with(&format!("workload name `{}` must be 1 to 32", "x".repeat(33))));
    // Limits themselves are valid.
    let g = Grid::new();
    let mut c = g.contract(vec![], 0);
    set_zdb(&mut c, |z| z.size = MIB);
    c.workloads[1] = zdb(&"x".repeat(32), g.node.public_key(), ZDB_MAX_SIZE);
    c.expires_at = Some(c.created_at + 1);
    c.validate().unwrap();
    c.expires_at = None;
    c.validate().unwrap();
}

#[test]
fn node_validation_messages() {
    let g = Grid::new();
    node_fixture(&g.node).validate().unwrap();
    let cases: Vec<Case<Node>> = vec![
        (|n| n.version.clear(), "version", "node version `` must be 1 to 64 characters without control characters"),
        (
            |n| n.address = Some("127.0.0.1 9900".into()),
            "address",
            "node address `127.0.0.1 9900` must be 1 to 255 characters without spaces, e.g. `10.0.0.5:9900`",
        ),
        (
            |n| n.location.as_mut().unwrap().latitude = Some(-90.5),
            "location.latitude",
            "latitude -90.5 is out of range; it must be between -90 and 90 degrees",
        ),
        (|n| n.total.cru = 0, "total.cru", "node reports 0 cores in total; it must have at least 1"),
        (|n| n.used.mru = 9 * GIB, "used.mru", "node uses 9 GiB memory but has only 8 GiB memory in total"),
        (|n| n.used.cru = 5, "used.cru", "node uses 5 cores but has only 4 cores in total"),
        (
            |n| n.storage[0].path = "mnt/ssd".into(),
            "storage[0].path",
            "disk path `mnt/ssd` must be an absolute path, e.g. `/mnt/ssd1`",
        ),
        (
            |n| n.storage[1].path = "/mnt/ssd".into(),
            "storage[1].path",
            "disk `/mnt/ssd` is listed twice; list each storage directory once",
        ),
        (|n| n.storage[1].size = 0, "storage[1].size", "disk `/mnt/hdd` has size 0; give its usable size in bytes"),
        (
            |n| n.storage[0].size = 50 * GIB,
            "total.sru",
            "node offers 100 GiB SSD but its SSD disks hold only 50 GiB; add the disk to `storage` or lower `total.sru`",
        ),
        (
            |n| drop(n.storage.pop()),
            "total.hru",
            "node offers 1 TiB HDD but its HDD disks hold only 0 B; add the disk to `storage` or lower `total.hru`",
        ),
    ];
    for (i, (change, field, message)) in cases.into_iter().enumerate() {
        let mut n = node_fixture(&g.node);
        change(&mut n);
        let err = n.validate().unwrap_err();
        assert_eq!((err.field.as_str(), err.message.as_str()), (field, message), "case {i}");
    }
    // Disk sizes of one kind that overflow when added up.
    let mut n = node_fixture(&g.node);
    n.storage[0].kind = DiskKind::Hdd;
    n.storage[0].size = u64::MAX;
    let err = n.validate().unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("storage[1].size", "the disk sizes add up to more than 2^64 bytes")
    );
    // A report's used must fit in its total too.
    let mut r = CapacityReport::new(&g.node, Capacity { cru: 1, ..Capacity::ZERO }, Capacity::ZERO, 0, 0);
    r.used.hru = 1;
    let err = r.validate().unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("used.hru", "node uses 1 B HDD but has only 0 B HDD in total")
    );
}

#[test]
fn twin_and_farm_validation_messages() {
    let twin = Twin { id: 1, name: "bob.3bot".into(), key: PublicKey([1; 32]), host: None };
    twin.validate().unwrap();
    let err = Twin { name: "Bob".into(), ..twin.clone() }.validate().unwrap_err();
    assert_eq!(err.field, "name");
    assert_eq!(err.message, "twin name `Bob` must be 3 to 64 characters of a-z, 0-9, `.` and `-`, e.g. `bob`");
    let err = Twin { name: "bo".into(), ..twin.clone() }.validate().unwrap_err();
    assert_eq!(err.message, "twin name `bo` must be 3 to 64 characters of a-z, 0-9, `.` and `-`");
    let err = Twin { host: Some(String::new()), ..twin.clone() }.validate().unwrap_err();
    assert_eq!(err.field, "host");
    assert_eq!(err.message, "twin host `` must be 1 to 255 characters without spaces, e.g. `10.0.0.5:9900`");

    let farm = Farm { id: 1, name: "freefarm".into(), owner: 1, location: None };
    farm.validate().unwrap();
    let err = Farm { name: "Free Farm".into(), ..farm.clone() }.validate().unwrap_err();
    assert_eq!(
        err.message,
        "farm name `Free Farm` must be 3 to 64 characters of a-z, 0-9, `.` and `-`, e.g. `free-farm`"
    );
    let loc = Location { country: "BE".into(), city: "".into(), latitude: None, longitude: Some(3.0) };
    let err = Farm { location: Some(loc), ..farm }.validate().unwrap_err();
    assert_eq!(err.field, "location");
    assert_eq!(err.message, "location has only one of latitude and longitude; give both or neither");
}

#[test]
fn result_validation_messages() {
    let node = ident(100);
    let ok = |data, message| WorkloadResult::new(&node, ContractId([3; 32]), "db1", ResultState::Ok, data, message, 5);
    ok(json!({"a": [1, -2, {"b": "c"}], "n": null, "t": true}), Some("m".into())).validate().unwrap();

    let err = ok(json!({"a": [1, {"b": 1.5}]}), None).validate().unwrap_err();
    assert_eq!(err.field, "data.a[1].b");
    assert_eq!(err.message, "result `data.a[1].b` is a fractional number; send it as a string or an integer");
    let err = ok(json!({"x": "y".repeat(70_000)}), None).validate().unwrap_err();
    assert_eq!(err.message, "result data is 70008 bytes of JSON; the most is 65536");
    let err = ok(json!(null), Some("m".repeat(4097))).validate().unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("message", "result message is 4097 bytes; the most is 4096")
    );
    let mut bad_name = ok(json!(null), None);
    bad_name.workload = "Db1".into();
    let err = bad_name.validate().unwrap_err();
    assert_eq!(err.field, "workload");
    assert_eq!(err.message, "workload name `Db1` must be 1 to 32 characters of a-z, 0-9 and `-`, e.g. `db1`");
}

#[test]
fn signed_contract_survives_json_and_verifies() {
    let g = Grid::new();
    let pb = g.phonebook();
    let s = g.signed(g.contract(vec![2, 3], 2), &[1, 2, 3]);
    let text = serde_json::to_string(&s).unwrap();
    let back: SignedContract = serde_json::from_str(&text).unwrap();
    assert_eq!(back.id(), s.id());
    assert!(back.quorum_met(&pb));
    // A contract written by hand (sizes as text, defaults) has the same id as the full form.
    let mut v = serde_json::to_value(&s.contract).unwrap();
    v["workloads"][0]["data"] = json!({"type": "zdb", "size": "1GiB"});
    v["workloads"][0].as_object_mut().unwrap().remove("version");
    let hand: Contract = serde_json::from_value(v).unwrap();
    assert_eq!(hand.id(), s.id());
}
