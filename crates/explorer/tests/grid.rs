//! The explorer as a real process, driven by the typed client: the phonebook, farms, nodes,
//! contracts with a 2-of-3 quorum, queues, results, deletion, refusals, and a restart.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use explorer::client::GridClient;
use explorer::records::*;
use gridtypes::*;
use identity::Identity;
use serde_json::json;

struct Explorer {
    child: Child,
    url: String,
}

impl Explorer {
    fn start(data: &Path) -> Explorer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_explorer"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn explorer");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines {
            if let Some(addr) = line.unwrap().strip_prefix("explorer listening on ") {
                return Explorer { child, url: format!("http://{addr}") };
            }
        }
        let _ = child.wait();
        panic!("explorer exited before listening");
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Grid {
    _dir: tempfile::TempDir,
    explorer: Option<Explorer>,
    client: GridClient,
}

fn grid() -> Grid {
    let dir = tempfile::tempdir().unwrap();
    let explorer = Explorer::start(&dir.path().join("explorer"));
    let client = GridClient::new(&explorer.url, dir.path().join("trust.json"));
    Grid { _dir: dir, explorer: Some(explorer), client }
}

fn id(seed: u8) -> Identity {
    Identity::from_seed([seed; 32])
}

fn register(c: &GridClient, who: &Identity, name: &str) -> u32 {
    let r = Record::Twin(TwinRecord { name: name.into(), key: who.public_key(), host: String::new() });
    c.submit(who, &r).unwrap().index as u32
}

fn farm(c: &GridClient, owner: &Identity, twin: u32, name: &str) -> u32 {
    c.submit(owner, &Record::Farm(FarmRecord { name: name.into(), owner: twin, location: None })).unwrap().index as u32
}

fn node_record(node: &Identity, farm: u32) -> Record {
    let total = Capacity { cru: 4, mru: 8 << 30, sru: 100 << 30, hru: 0 };
    let body: Node = serde_json::from_value(json!({
        "id": node.public_key(), "farm": farm, "total": total, "version": "test",
        "address": "127.0.0.1:9900",
        "storage": [{"path": "/data", "kind": "ssd", "size": 100u64 << 30}],
    }))
    .unwrap();
    Record::Node(NodeRecord { node: node.public_key(), farm, body })
}

fn contract(owner: &Identity, twin: u32, node: &Identity, size: &str, signers: &[u32], quorum: u32) -> SignedContract {
    let c: Contract = serde_json::from_value(json!({
        "owner": twin, "owner_key": owner.public_key(),
        "workloads": [{"name": "db1", "node": node.public_key(), "data": {"type": "zdb", "size": size}}],
        "signers": signers, "quorum": quorum,
        "created_at": explorer::grid::now(), "nonce": 7,
    }))
    .unwrap();
    let mut signed = SignedContract::new(c);
    signed.sign(twin, owner);
    signed
}

fn deploy(c: &GridClient, owner: &Identity, signed: &SignedContract) -> anyhow::Result<u64> {
    let r = Record::Contract(ContractRecord {
        contract_id: signed.id(),
        owner: signed.contract.owner,
        body: signed.clone(),
    });
    Ok(c.submit(owner, &r)?.index)
}

fn approve(c: &GridClient, who: &Identity, twin: u32, id: &ContractId, approval: Approval) -> anyhow::Result<u64> {
    let body = TwinSignature::new(approval, id, twin, who);
    Ok(c.submit(who, &Record::Approval(ApprovalRecord { contract_id: *id, approval, body }))?.index)
}

fn refused(result: anyhow::Result<impl std::fmt::Debug>, needle: &str) {
    let err = format!("{:#}", result.expect_err("the explorer should refuse this"));
    assert!(err.contains(needle), "error `{err}` should mention `{needle}`");
}

#[test]
fn phonebook_farms_and_nodes_follow_the_rules() {
    let g = grid();
    let c = &g.client;
    let alice = id(1);
    let twin = register(c, &alice, "alice.3bot");
    assert_eq!(c.twin(twin).unwrap().unwrap().key, alice.public_key());
    assert_eq!(c.twin_by_name("alice.3bot").unwrap().unwrap().id, twin);

    let mallory = id(9);
    let r = Record::Twin(TwinRecord { name: "alice.3bot".into(), key: mallory.public_key(), host: String::new() });
    refused(c.submit(&mallory, &r), "is taken");
    let r = Record::Twin(TwinRecord { name: "bob.3bot".into(), key: alice.public_key(), host: String::new() });
    refused(c.submit(&mallory, &r), "sign the registration with the key it registers");
    refused(
        c.submit(&mallory, &Record::Farm(FarmRecord { name: "f1".into(), owner: twin, location: None })),
        "must be signed by twin",
    );

    let farm_id = farm(c, &alice, twin, "farm-one");
    let node = id(2);
    refused(c.submit(&node, &node_record(&node, farm_id + 100)), "does not exist");
    c.submit(&node, &node_record(&node, farm_id)).unwrap();
    // Registering again writes a new version of the same node object.
    c.submit(&node, &node_record(&node, farm_id)).unwrap();
    let found = c.nodes(Some(farm_id), &Capacity { sru: 50 << 30, ..Default::default() }).unwrap();
    assert_eq!(found.len(), 1);
    assert!(c.nodes(Some(farm_id), &Capacity { sru: 500 << 30, ..Default::default() }).unwrap().is_empty());
    assert!(c.nodes(Some(farm_id + 1), &Capacity::default()).unwrap().is_empty());

    let used = Capacity { sru: 1 << 30, ..Default::default() };
    let report = CapacityReport::new(&node, found[0].node.total, used, 42, explorer::grid::now());
    c.submit(&node, &Record::Report(ReportRecord { node: node.public_key(), body: report.clone() })).unwrap();
    let view = c.node(&node.public_key()).unwrap().unwrap();
    assert_eq!((view.used, view.uptime), (used, 42));
    // A report signed by someone else is refused.
    refused(
        c.submit(&mallory, &Record::Report(ReportRecord { node: node.public_key(), body: report })),
        "reports for itself",
    );
}

#[test]
fn a_two_of_three_contract_deploys_only_with_its_quorum_and_deletes_the_same_way() {
    let mut g = grid();
    let c = &g.client;
    let (alice, bob, carol, dave) = (id(1), id(3), id(4), id(5));
    let owner = register(c, &alice, "alice.3bot");
    let signers = [register(c, &bob, "bob.3bot"), register(c, &carol, "carol.3bot"), register(c, &dave, "dave.3bot")];
    let farm_id = farm(c, &alice, owner, "farm-one");
    let node = id(2);
    c.submit(&node, &node_record(&node, farm_id)).unwrap();

    let signed = contract(&alice, owner, &node, "10GiB", &signers, 2);
    let cid = signed.id();
    let index = deploy(c, &alice, &signed).unwrap();
    refused(deploy(c, &alice, &signed), "already");
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::WaitingForSignatures);
    let queue = c.queue(&node.public_key(), 0, Duration::from_secs(5)).unwrap();
    assert_eq!(queue.items.last().unwrap().index, index);

    // A forged approval (mallory signing for bob) and a stranger's approval count for nothing.
    let mallory = id(9);
    let m = register(c, &mallory, "mallory.3bot");
    refused(approve(c, &mallory, signers[0], &cid, Approval::Deploy), "must be signed by twin");
    refused(approve(c, &mallory, m, &cid, Approval::Deploy), "is not a signer");

    approve(c, &bob, signers[0], &cid, Approval::Deploy).unwrap();
    refused(approve(c, &bob, signers[0], &cid, Approval::Deploy), "already approved");
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::WaitingForSignatures);
    let second = approve(c, &carol, signers[1], &cid, Approval::Deploy).unwrap();
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::Deploying);
    refused(approve(c, &dave, signers[2], &cid, Approval::Deploy), "already has its quorum");
    let queue = c.queue(&node.public_key(), queue.next, Duration::from_secs(5)).unwrap();
    assert_eq!(queue.items.iter().map(|i| i.index).max(), Some(second), "approvals reach the node's queue");

    // Results: only the workload's node may report.
    let ok = WorkloadResult::new(&node, cid, "db1", ResultState::Ok, json!({"namespace": "x"}), None, 1);
    refused(
        c.submit(&dave, &Record::Result(ResultRecord { contract_id: cid, workload: "db1".into(), body: ok.clone() })),
        "reported by its node",
    );
    c.submit(&node, &Record::Result(ResultRecord { contract_id: cid, workload: "db1".into(), body: ok })).unwrap();
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::Deployed);

    // Deleting takes the owner and the quorum too.
    approve(c, &alice, owner, &cid, Approval::Delete).unwrap();
    approve(c, &bob, signers[0], &cid, Approval::Delete).unwrap();
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::Deployed);
    approve(c, &dave, signers[2], &cid, Approval::Delete).unwrap();
    assert_eq!(c.contract(&cid).unwrap().unwrap().state, ContractState::Deleted);

    // After a kill -9 the explorer rebuilds the same views from its log.
    let data = g._dir.path().join("explorer");
    g.explorer.take().unwrap().kill9();
    let restarted = Explorer::start(&data);
    let c2 = GridClient::new(&restarted.url, g._dir.path().join("trust.json"));
    let view = c2.contract(&cid).unwrap().unwrap();
    assert_eq!(view.state, ContractState::Deleted);
    assert_eq!(view.deploy_signers.len(), 2);
    assert_eq!(c2.queue(&node.public_key(), 0, Duration::ZERO).unwrap().items.len(), 6);
    g.explorer = Some(restarted);
}

#[test]
fn contracts_that_cannot_run_are_refused_with_what_to_fix() {
    let g = grid();
    let c = &g.client;
    let alice = id(1);
    let owner = register(c, &alice, "alice.3bot");
    let farm_id = farm(c, &alice, owner, "farm-one");
    let node = id(2);
    c.submit(&node, &node_record(&node, farm_id)).unwrap();

    refused(deploy(c, &alice, &contract(&alice, owner, &node, "1TiB", &[], 0)), "not enough free capacity");
    let stranger = id(7);
    refused(deploy(c, &alice, &contract(&alice, owner, &stranger, "1GiB", &[], 0)), "is not registered");
    // The owner's signature must verify: a contract signed by someone else is refused.
    let mut forged = contract(&alice, owner, &node, "1GiB", &[], 0);
    forged.signatures.clear();
    forged.sign(owner, &stranger);
    refused(deploy(c, &alice, &forged), "does not verify");

    // Capacity is reserved by live contracts: 60 GiB fits once on a 100 GiB node, not twice.
    let first = contract(&alice, owner, &node, "60GiB", &[], 0);
    deploy(c, &alice, &first).unwrap();
    assert_eq!(c.contract(&first.id()).unwrap().unwrap().state, ContractState::Deploying);
    let mut second = contract(&alice, owner, &node, "60GiB", &[], 0);
    second.contract.nonce = 8;
    second.signatures.clear();
    second.sign(owner, &alice);
    refused(deploy(c, &alice, &second), "not enough free capacity");
}

#[test]
fn a_queue_poll_wakes_when_work_arrives() {
    let g = grid();
    let c = &g.client;
    let alice = id(1);
    let owner = register(c, &alice, "alice.3bot");
    let farm_id = farm(c, &alice, owner, "farm-one");
    let node = id(2);
    c.submit(&node, &node_record(&node, farm_id)).unwrap();
    let from = c.queue(&node.public_key(), 0, Duration::ZERO).unwrap().next;

    let url = c.url().to_string();
    let trust = g._dir.path().join("trust-poller.json");
    let key = node.public_key();
    let poller = std::thread::spawn(move || GridClient::new(&url, trust).queue(&key, from, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(200));
    let signed = contract(&alice, owner, &node, "1GiB", &[], 0);
    let index = deploy(c, &alice, &signed).unwrap();
    let page = poller.join().unwrap().unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!((page.items[0].index, page.items[0].contract), (index, signed.id()));
    assert!(page.next > index);
}
