//! MIRROR and MASTER keep working for the original's replication tools.

mod common;

use common::raw::{Reply, Resp};
use common::{Dirs, Server};

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

/// One mirrored frame: [time, namespace, owner, args…]; returns (ns, owner, args).
fn frame(r: Reply) -> (Reply, i64, Vec<Reply>) {
    let Reply::Array(Some(items)) = r else { panic!("a mirror frame is an array: {r:?}") };
    let mut items = items.into_iter();
    assert!(matches!(items.next(), Some(Reply::Int(t)) if t > 1_600_000_000), "first item is the time");
    let ns = items.next().unwrap();
    let Some(Reply::Int(owner)) = items.next() else { panic!("third item is the owner id") };
    (ns, owner, items.collect())
}

#[test]
fn mirror_streams_other_clients_commands_and_master_keeps_owners() {
    let dirs = Dirs::new();
    let server = Server::start(&dirs, &["--admin", "pw"]);

    let mut mirror = Resp::new(&server);
    assert_eq!(mirror.cmd(&[b"MIRROR"]), Reply::Error("Permission denied".into()), "admin only");
    assert_eq!(mirror.cmd(&[b"AUTH", b"pw"]), Reply::Status("OK".into()));
    assert_eq!(mirror.cmd(&[b"MIRROR"]), Reply::Status("Starting mirroring".into()));

    let mut client = Resp::new(&server);
    assert_eq!(client.cmd(&[b"AUTH", b"pw"]), Reply::Status("OK".into()));
    client.set(b"k", b"v");
    assert_eq!(client.get(b"k"), bulk("v"));
    assert_eq!(client.cmd(&[b"NSNEW", b"other"]), Reply::Status("OK".into()));

    // AUTH carries a password: never mirrored. The rest arrives in order,
    // with one stable, non-zero owner id for this client.
    let (ns, owner, args) = frame(mirror.reply());
    assert_eq!(ns, bulk("default"));
    assert!(owner > 0);
    assert_eq!(args, vec![bulk("SET"), bulk("k"), bulk("v")]);
    let (_, owner2, args) = frame(mirror.reply());
    assert_eq!((owner2, args), (owner, vec![bulk("GET"), bulk("k")]));
    let (_, _, args) = frame(mirror.reply());
    assert_eq!(args, vec![bulk("NSNEW"), bulk("other")]);

    // A MASTER connection replays with the owners it names.
    let mut master = Resp::new(&server);
    assert_eq!(master.cmd(&[b"AUTH", b"pw"]), Reply::Status("OK".into()));
    assert_eq!(master.cmd(&[b"MASTER"]), Reply::Status("Hello, master".into()));
    assert_eq!(master.cmd(&[b"SET", b"replayed", b"value", b"4242"]), bulk("replayed"));
    let (_, _, args) = frame(mirror.reply());
    assert_eq!(args, vec![bulk("MASTER")], "every command but AUTH is mirrored, as in the original");
    let (_, owner, args) = frame(mirror.reply());
    assert_eq!((owner, args), (4242, vec![bulk("SET"), bulk("replayed"), bulk("value")]));
    assert_eq!(client.get(b"replayed"), bulk("value"), "the owner id was stripped before SET ran");

    // MASTER connections see raw namespace passwords in NSINFO.
    assert_eq!(master.cmd(&[b"NSSET", b"other", b"password", b"secret", b"1"]), Reply::Status("OK".into()));
    let Reply::Bulk(Some(info)) = master.cmd(&[b"NSINFO", b"other", b"1"]) else { panic!("NSINFO text") };
    assert!(String::from_utf8_lossy(&info).contains("password_raw: secret"));
    let Reply::Bulk(Some(info)) = client.cmd(&[b"NSINFO", b"other"]) else { panic!("NSINFO text") };
    assert!(!String::from_utf8_lossy(&info).contains("password_raw"));
}
