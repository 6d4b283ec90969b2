//! The client against the real `zdb` of this workspace: each test starts its own server.

mod common;

use common::{Zdb, ADMIN};
use zdb_client::{Client, Created, Error, Mode, NamespaceOptions, MAX_VALUE};

/// A client that is admin on `zdb`.
async fn admin(zdb: &Zdb) -> Client {
    let mut c = Client::connect(&zdb.addr).await.expect("connect");
    c.auth_admin(ADMIN).await.expect("admin AUTH");
    c
}

fn private(password: &str) -> NamespaceOptions {
    NamespaceOptions { password: Some(password.into()), ..Default::default() }
}

/// Asserts that `result` is zdb's refusal with exactly `text`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, text: &str) {
    match result {
        Err(Error::Server(t)) => assert_eq!(t, text),
        other => panic!("expected zdb to refuse with {text:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn admin_creates_a_namespace_and_nsinfo_reads_it_back() {
    let zdb = Zdb::start();
    let mut c = admin(&zdb).await;
    c.ping().await.unwrap();
    let opts = NamespaceOptions {
        mode: Mode::User,
        password: Some("alice-pw".into()),
        public: true,
        max_size: Some(1 << 20),
        worm: false,
    };
    c.create_namespace("alice", &opts).await.unwrap();

    let info = c.namespace_info("alice").await.unwrap().expect("alice exists");
    assert_eq!(info.name, "alice");
    assert_eq!(info.mode, Mode::User);
    assert!(info.password);
    assert!(info.public);
    assert!(!info.worm && !info.locked && !info.frozen);
    assert_eq!(info.max_size, Some(1 << 20));
    assert_eq!((info.entries, info.data_size), (0, 0));

    assert_eq!(c.list_namespaces().await.unwrap(), ["default", "alice"]);
    assert_eq!(c.namespace_info("nobody").await.unwrap(), None);
    // Creating it again is zdb's refusal; ensure_namespace is the idempotent call.
    assert_refused(c.create_namespace("alice", &opts).await, "This namespace is not available");
}

#[tokio::test]
async fn ensure_namespace_is_idempotent_and_converges_properties() {
    let zdb = Zdb::start();
    let mut c = admin(&zdb).await;
    let first = NamespaceOptions { password: Some("old-pw".into()), max_size: Some(1000), ..Default::default() };
    assert_eq!(c.ensure_namespace("bob", &first).await.unwrap(), Created::New);
    assert_eq!(c.ensure_namespace("bob", &first).await.unwrap(), Created::Existing);
    assert_eq!(c.list_namespaces().await.unwrap(), ["default", "bob"]);

    // Some data, which a converging call must keep.
    let mut user = Client::connect(&zdb.addr).await.unwrap();
    user.select("bob", Some("old-pw")).await.unwrap();
    user.set(b"k", b"v").await.unwrap();

    let second =
        NamespaceOptions { password: Some("new-pw".into()), max_size: Some(5000), public: true, ..Default::default() };
    assert_eq!(c.ensure_namespace("bob", &second).await.unwrap(), Created::Existing);
    let info = c.namespace_info("bob").await.unwrap().unwrap();
    assert_eq!(info.max_size, Some(5000));
    assert!(info.public && info.password);
    assert_eq!(info.entries, 1);

    let mut again = Client::connect(&zdb.addr).await.unwrap();
    assert_refused(again.select("bob", Some("old-pw")).await, "Access denied");
    again.select("bob", Some("new-pw")).await.unwrap();
    assert_eq!(again.get(b"k").await.unwrap().as_deref(), Some(&b"v"[..]));

    // Back to no password and no quota: both are removed, not left over.
    assert_eq!(c.ensure_namespace("bob", &NamespaceOptions::default()).await.unwrap(), Created::Existing);
    let info = c.namespace_info("bob").await.unwrap().unwrap();
    assert_eq!((info.password, info.public, info.max_size), (false, false, None));
}

#[tokio::test]
async fn ensure_namespace_repairs_a_half_created_namespace() {
    // What a provisioner that crashed right after NSNEW leaves: a bare namespace.
    let zdb = Zdb::start();
    let mut c = admin(&zdb).await;
    c.create_namespace("half", &NamespaceOptions::default()).await.unwrap();
    let wanted = NamespaceOptions { mode: Mode::Seq, password: Some("pw".into()), ..Default::default() };
    assert_eq!(c.ensure_namespace("half", &wanted).await.unwrap(), Created::Existing);
    let info = c.namespace_info("half").await.unwrap().unwrap();
    assert_eq!((info.mode, info.password), (Mode::Seq, true));

    // Once it holds data its mode is fixed, and zdb says so.
    let mut user = Client::connect(&zdb.addr).await.unwrap();
    user.select("half", Some("pw")).await.unwrap();
    user.append(b"blob").await.unwrap();
    let user_mode = NamespaceOptions { mode: Mode::User, ..wanted };
    assert_refused(c.ensure_namespace("half", &user_mode).await, "Cannot change mode of used namespace");
}

#[tokio::test]
async fn select_needs_the_right_password() {
    let zdb = Zdb::start();
    admin(&zdb).await.create_namespace("carol", &private("carol-pw")).await.unwrap();

    let mut c = Client::connect(&zdb.addr).await.unwrap();
    let wrong = c.select("carol", Some("guess")).await;
    assert_refused(wrong, "Access denied");
    assert_refused(c.select("carol", None).await, "Namespace protected and private");
    assert_refused(c.select("nobody", None).await, "Namespace not found");

    c.select("carol", Some("carol-pw")).await.unwrap();
    c.set(b"name", b"carol").await.unwrap();
    c.set(b"name", b"carol").await.unwrap(); // the same value again: zdb writes nothing, still Ok
    assert_eq!(c.get(b"name").await.unwrap().as_deref(), Some(&b"carol"[..]));
    assert_eq!(c.get(b"missing").await.unwrap(), None);
    assert!(c.exists(b"name").await.unwrap());
    assert!(!c.exists(b"missing").await.unwrap());
    assert_eq!(c.dbsize().await.unwrap(), 1);
    assert!(c.del(b"name").await.unwrap());
    assert!(!c.del(b"name").await.unwrap());
    assert!(!c.exists(b"name").await.unwrap());
    assert_eq!(c.dbsize().await.unwrap(), 0);
}

#[tokio::test]
async fn public_namespace_is_readable_without_password_but_not_writable() {
    let zdb = Zdb::start();
    let opts = NamespaceOptions { public: true, ..private("dave-pw") };
    admin(&zdb).await.create_namespace("dave", &opts).await.unwrap();
    let mut owner = Client::connect(&zdb.addr).await.unwrap();
    owner.select("dave", Some("dave-pw")).await.unwrap();
    owner.set(b"readme", b"hello").await.unwrap();

    let mut anon = Client::connect(&zdb.addr).await.unwrap();
    anon.select("dave", None).await.unwrap();
    assert_eq!(anon.get(b"readme").await.unwrap().as_deref(), Some(&b"hello"[..]));
    assert_refused(anon.set(b"readme", b"defaced").await, "Namespace is in read-only mode");
    assert_refused(anon.del(b"readme").await, "Namespace is in read-only mode");
    assert_eq!(owner.get(b"readme").await.unwrap().as_deref(), Some(&b"hello"[..]));
}

#[tokio::test]
async fn sequential_namespace_appends_and_reads_by_id() {
    let zdb = Zdb::start();
    let opts = NamespaceOptions { mode: Mode::Seq, ..private("eve-pw") };
    admin(&zdb).await.create_namespace("eve", &opts).await.unwrap();
    let mut c = Client::connect(&zdb.addr).await.unwrap();
    c.select("eve", Some("eve-pw")).await.unwrap();

    let blobs: [&[u8]; 3] = [b"first", b"", b"third"];
    for (want, blob) in blobs.iter().enumerate() {
        assert_eq!(c.append(blob).await.unwrap(), want as u64);
    }
    for (id, blob) in blobs.iter().enumerate() {
        assert_eq!(c.get_seq(id as u64).await.unwrap().as_deref(), Some(*blob));
    }
    assert_eq!(c.get_seq(3).await.unwrap(), None);
    assert_eq!(c.get_seq(u64::MAX).await.unwrap(), None);
    assert_eq!(c.dbsize().await.unwrap(), 3);
    let info = admin(&zdb).await.namespace_info("eve").await.unwrap().unwrap();
    assert_eq!((info.mode, info.entries), (Mode::Seq, 3));

    // append in a user-key namespace is zdb's refusal, not a bogus id.
    let mut user = Client::connect(&zdb.addr).await.unwrap();
    assert_refused(user.append(b"x").await, "Invalid argument, key needed");
}

#[tokio::test]
async fn max_size_is_enforced_by_the_server() {
    let zdb = Zdb::start();
    let opts = NamespaceOptions { max_size: Some(10), ..private("pw") };
    admin(&zdb).await.create_namespace("small", &opts).await.unwrap();
    let mut c = Client::connect(&zdb.addr).await.unwrap();
    c.select("small", Some("pw")).await.unwrap();

    c.set(b"a", b"123456").await.unwrap();
    assert_refused(c.set(b"b", b"123456").await, "No space left on this namespace");
    c.set(b"b", b"1234").await.unwrap(); // exactly full is allowed
    assert_refused(c.set(b"c", b"1").await, "No space left on this namespace");
    assert_eq!(c.get(b"c").await.unwrap(), None);
    let info = c.namespace_info("small").await.unwrap().unwrap();
    assert_eq!((info.data_size, info.max_size, info.entries), (10, Some(10), 2));
}

#[tokio::test]
async fn worm_namespace_keeps_what_was_written() {
    let zdb = Zdb::start();
    let opts = NamespaceOptions { worm: true, ..private("pw") };
    admin(&zdb).await.create_namespace("archive", &opts).await.unwrap();
    let mut c = Client::connect(&zdb.addr).await.unwrap();
    c.select("archive", Some("pw")).await.unwrap();
    c.set(b"k", b"v1").await.unwrap();
    assert_refused(c.set(b"k", b"v2").await, "Namespace is protected by worm mode");
    assert_refused(c.del(b"k").await, "Cannot delete a key when namespace is in worm mode");
    c.set(b"other", b"new keys are fine").await.unwrap();
    assert_eq!(c.get(b"k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert!(c.namespace_info("archive").await.unwrap().unwrap().worm);
}

#[tokio::test]
async fn delete_namespace_removes_it_once() {
    let zdb = Zdb::start();
    let mut c = admin(&zdb).await;
    c.create_namespace("frank", &private("pw")).await.unwrap();
    let mut user = Client::connect(&zdb.addr).await.unwrap();
    user.select("frank", Some("pw")).await.unwrap();
    user.set(b"k", b"v").await.unwrap();

    assert!(c.delete_namespace("frank").await.unwrap());
    assert_eq!(c.namespace_info("frank").await.unwrap(), None);
    assert!(!c.delete_namespace("frank").await.unwrap());
    assert_eq!(c.list_namespaces().await.unwrap(), ["default"]);
    assert_refused(user.get(b"k").await, "Your active namespace is not available anymore (probably removed).");
    assert_refused(c.delete_namespace("default").await, "Cannot remove default namespace");
}

#[tokio::test]
async fn only_the_admin_manages_namespaces() {
    let zdb = Zdb::start();
    let mut c = Client::connect(&zdb.addr).await.unwrap();
    assert_refused(c.create_namespace("mallory", &NamespaceOptions::default()).await, "Permission denied");
    assert_refused(c.ensure_namespace("mallory", &NamespaceOptions::default()).await, "Permission denied");
    assert_eq!(c.namespace_info("mallory").await.unwrap(), None);
    assert_refused(c.auth_admin("guess").await, "Access denied");

    admin(&zdb).await.create_namespace("grace", &NamespaceOptions::default()).await.unwrap();
    assert_refused(c.delete_namespace("grace").await, "Permission denied");
    // Reading properties needs no rights; the password is never shown.
    assert!(c.namespace_info("grace").await.unwrap().is_some());
}

#[tokio::test]
async fn without_admin_password_everyone_is_admin() {
    let zdb = Zdb::start_with(&[]);
    let mut c = Client::connect(&zdb.addr).await.unwrap();
    c.create_namespace("open", &NamespaceOptions::default()).await.unwrap();
    assert_refused(c.auth_admin(ADMIN).await, "Authentication disabled");
}

#[tokio::test]
async fn limits_are_checked_before_sending() {
    let zdb = Zdb::start();
    let mut c = Client::connect(&zdb.addr).await.unwrap();

    let too_big = vec![7u8; MAX_VALUE + 1];
    let err = c.set(b"big", &too_big).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { size } if size == MAX_VALUE + 1), "{err:?}");
    assert!(err.to_string().contains("8 MiB"), "{err}");
    assert!(matches!(c.append(&too_big).await, Err(Error::TooLarge { .. })));
    let long_key = [b'k'; 256];
    assert!(matches!(c.set(&long_key, b"v").await, Err(Error::InvalidKey { size: 256 })));
    assert!(matches!(c.get(b"").await, Err(Error::InvalidKey { size: 0 })));

    // Nothing was sent: zdb would have closed the connection on an oversized argument.
    c.ping().await.unwrap();
    // Exactly the limit is fine, both ways.
    let exact = vec![9u8; MAX_VALUE];
    c.set(b"big", &exact).await.unwrap();
    assert_eq!(c.get(b"big").await.unwrap().map(|v| v.len()), Some(MAX_VALUE));
    c.set(&[b'k'; 255], b"v").await.unwrap();
}

#[tokio::test]
async fn errors_never_show_passwords() {
    let zdb = Zdb::start();
    let secret = "hunter2-namespace-secret";
    let mut a = admin(&zdb).await;
    a.create_namespace("henry", &private(secret)).await.unwrap();

    let mut c = Client::connect(&zdb.addr).await.unwrap();
    let wrong = c.select("henry", Some("hunter2-wrong-guess")).await.unwrap_err();
    let bad_admin = c.auth_admin("hunter2-wrong-admin").await.unwrap_err();
    let too_long = a.create_namespace("x", &private(&"hunter2".repeat(10))).await.unwrap_err();
    assert!(matches!(too_long, Error::InvalidArgument(_)));
    assert_eq!(a.namespace_info("x").await.unwrap(), None, "a bad option must not leave a namespace behind");
    for err in [wrong, bad_admin, too_long] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2") && !shown.contains(ADMIN), "{shown}");
    }
    let info = format!("{:?}", a.namespace_info("henry").await.unwrap());
    assert!(!info.contains(secret), "{info}");
    assert!(!format!("{a:?}").contains(ADMIN));
}

#[tokio::test]
async fn a_killed_server_gives_connection_errors_not_panics() {
    let mut zdb = Zdb::start();
    let addr = zdb.addr.clone();
    let mut c = admin(&zdb).await;
    c.ping().await.unwrap();
    zdb.kill();

    let err = c.ping().await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr), "{err}");
    // The connection stays broken (no silent reconnect into another session).
    assert!(matches!(c.set(b"k", b"v").await, Err(Error::Io { .. })));

    let err = Client::connect(&addr).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(matches!(Client::connect("not-an-address").await, Err(Error::InvalidArgument(_))));
}

#[tokio::test]
async fn connects_over_a_unix_socket() {
    let zdb = Zdb::start_unix();
    assert!(zdb.addr.starts_with("unix:///"), "{}", zdb.addr);
    let mut c = admin(&zdb).await;
    c.ensure_namespace("sock", &NamespaceOptions::default()).await.unwrap();
    c.select("sock", None).await.unwrap();
    c.set(b"k", b"v").await.unwrap();
    // The plain path works too.
    let mut by_path = Client::connect(zdb.addr.strip_prefix("unix://").unwrap()).await.unwrap();
    by_path.select("sock", None).await.unwrap();
    assert_eq!(by_path.get(b"k").await.unwrap().as_deref(), Some(&b"v"[..]));
}
