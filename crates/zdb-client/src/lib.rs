//! A typed async client for zdb (0-db v2, `crates/zdb`), on the `redis` crate.
//!
//! The node daemon uses it to provision and remove users' namespaces; zstor and flist use it to
//! store blobs. It speaks zdb's commands with their real semantics, so callers get `Option`s and
//! `bool`s instead of guessing from redis replies, and errors that carry zdb's own text.
//!
//! # One [`Client`], one session
//!
//! zdb keeps two pieces of state per connection: whether it is admin (AUTH) and which namespace
//! it works in (SELECT; `default` at first). A [`Client`] is one connection, so it is one such
//! session, and its methods take `&mut self`. For several namespaces at once, open several
//! clients.
//!
//! The connection is a `redis::aio::MultiplexedConnection`, and deliberately not the
//! reconnecting `ConnectionManager`: a silent reconnect would drop AUTH and SELECT, and the next
//! `set` would land in the `default` namespace as an anonymous client. Instead a broken
//! connection gives [`Error::Io`] on every later call; connect again and redo AUTH/SELECT. A
//! retried write may then be applied twice (an `append` gets a second id), which only the caller
//! can decide about.
//!
//! # What each call sends
//!
//! | method | zdb command | reply read as |
//! |---|---|---|
//! | [`Client::ping`] | `PING` | `+PONG` |
//! | [`Client::auth_admin`] | `AUTH <password>` | `+OK`; `Access denied`, `Authentication disabled` (server has no admin password: everyone is admin) |
//! | [`Client::select`] | `SELECT <ns> [<password>]` | `+OK`; `Access denied`, `Namespace protected and private`, `Namespace not found` |
//! | [`Client::create_namespace`] | `NSNEW <ns>`, `NSSET <ns> <prop> <value>` per option, `NSINFO` (mode) | `+OK`s; `This namespace is not available` when it exists |
//! | [`Client::ensure_namespace`] | same; an existing namespace is updated instead | [`Created`] |
//! | [`Client::delete_namespace`] | `NSDEL <ns>` | `+OK` → true, `This namespace doesn't exists` → false |
//! | [`Client::namespace_info`] | `NSINFO <ns>` | `key: value` lines → [`NamespaceInfo`]; `Namespace not found` → `None` |
//! | [`Client::list_namespaces`] | `NSLIST` | array of names, `default` first |
//! | [`Client::set`] | `SET <key> <value>` | the key, or nil when the value was already stored (nothing written) |
//! | [`Client::get`] | `GET <key>` | bulk or nil |
//! | [`Client::del`] | `DEL <key>` | `+OK` → true, `Key not found` → false |
//! | [`Client::exists`] | `EXISTS <key>` | `:1` / `:0` |
//! | [`Client::append`] | `SET "" <value>` (sequential namespace) | the new id, 8 bytes little-endian |
//! | [`Client::get_seq`] | `GET <id as 8 bytes LE>` | bulk or nil |
//! | [`Client::dbsize`] | `DBSIZE` | `:live keys` of the selected namespace |
//!
//! Admin-only commands (NSNEW, NSSET, NSDEL) get `Permission denied` unless [`Client::auth_admin`]
//! succeeded, or the server runs without `--admin`.
//!
//! zdb also has a challenge form of authentication, `AUTH SECURE CHALLENGE` then
//! `AUTH SECURE <sha1("<nonce>:<password>")>` (and `SELECT <ns> SECURE <hash>`), which keeps the
//! password off the wire. This client sends passwords in plain AUTH/SELECT, so use it over
//! loopback, a unix socket, or an encrypted overlay (the grid's Yggdrasil/Mycelium).
//!
//! # Limits checked before sending
//!
//! Keys are 1 to [`MAX_KEY`] bytes and values at most [`MAX_VALUE`] bytes (8 MiB). zdb refuses
//! longer keys, and answers an argument over 8 MiB by closing the connection, so the client
//! refuses both itself ([`Error::InvalidKey`], [`Error::TooLarge`]) and the connection stays
//! usable. Namespace options are checked before NSNEW (password length, `*`), so an option zdb
//! would refuse is reported before a namespace exists, not after it was half configured.

#![warn(missing_docs)]

mod error;
mod namespace;

use std::path::PathBuf;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Cmd, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo, Value};

pub use error::Error;
pub use namespace::{Created, Mode, NamespaceInfo, NamespaceOptions};

/// The longest user key zdb accepts, in bytes.
pub const MAX_KEY: usize = 255;

/// The largest value zdb accepts, in bytes (8 MiB; exactly 8 MiB is allowed).
pub const MAX_VALUE: usize = 8 * 1024 * 1024;

/// How long opening the connection may take. Generous, because nodes are reached over overlay
/// networks across the world; a dead address still fails in bounded time.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one command may wait for its reply, after which it fails with [`Error::Io`]. The
/// `redis` crate's default (0.5 s) is too short for an 8 MiB write on a slow link or a zdb with
/// `--sync` on a busy disk; without any limit a hung server would hang the caller forever.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

// zdb's exact texts for the refusals this client turns into values (the original's spelling).
const NS_EXISTS: &str = "This namespace is not available";
const NS_NOT_FOUND: &str = "Namespace not found";
const NS_DEL_MISSING: &str = "This namespace doesn't exists";
const KEY_NOT_FOUND: &str = "Key not found";

/// One connection to a zdb, and so one session: admin or not, and a selected namespace.
/// Not `Clone`, on purpose: clones would share (and fight over) that session.
pub struct Client {
    conn: MultiplexedConnection,
    addr: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to a zdb at `host:port` (`[v6]:port` for IPv6 literals), or at a unix socket
    /// given as a path starting with `/` or as `unix://PATH` (what zdb prints when it listens on
    /// one). The session starts anonymous, in the `default` namespace. Must be called inside a
    /// tokio runtime: the connection's I/O runs on a task of it.
    pub async fn connect(addr: &str) -> Result<Client, Error> {
        let target = parse_addr(addr)?;
        let info = target
            .into_connection_info()
            .map_err(|source| Error::Connect { addr: addr.to_string(), source })?
            // zdb does not know CLIENT SETINFO; don't send it (it would only count as a failed command).
            .set_redis_settings(RedisConnectionInfo::default().set_skip_set_lib_name())
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let conn = async { redis::Client::open(info)?.get_multiplexed_async_connection_with_config(&config).await }
            .await
            .map_err(|source| Error::Connect { addr: addr.to_string(), source })?;
        Ok(Client { conn, addr: addr.to_string() })
    }

    /// The address this client was connected with, for messages.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Checks that the server answers (PING). A health check for a node's zdb.
    pub async fn ping(&mut self) -> Result<(), Error> {
        match self.call(&redis::cmd("PING")).await? {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            other => Err(unexpected("PING", &other)),
        }
    }

    /// Makes this session admin (`AUTH <password>`), which NSNEW, NSSET and NSDEL need. Fails
    /// with zdb's `Access denied` for a wrong password, and with `Authentication disabled` when
    /// the server has no admin password (then every client is admin already; a provisioner
    /// configured with one should treat that as a misconfigured server). The challenge form
    /// (`AUTH SECURE`) exists in zdb but is not used here; see the crate docs.
    pub async fn auth_admin(&mut self, password: &str) -> Result<(), Error> {
        let v = self.call(redis::cmd("AUTH").arg(password)).await?;
        expect_ok("AUTH", v)
    }

    /// Switches this session to namespace `ns` (`SELECT <ns> [<password>]`). Without the
    /// password, a password-protected namespace is refused (`Namespace protected and private`)
    /// unless it is public, in which case the session may only read. A wrong password gets
    /// `Access denied`.
    pub async fn select(&mut self, ns: &str, password: Option<&str>) -> Result<(), Error> {
        let mut cmd = redis::cmd("SELECT");
        cmd.arg(ns);
        if let Some(pw) = password {
            cmd.arg(pw);
        }
        let v = self.call(&cmd).await?;
        expect_ok("SELECT", v)
    }

    /// Creates namespace `ns` with exactly `opts` (admin): NSNEW, then NSSET for each property,
    /// password first. Fails with zdb's `This namespace is not available` if it exists; a
    /// provisioner that may be retried wants [`Client::ensure_namespace`].
    ///
    /// zdb cannot create a namespace with its properties in one step: until the password is set
    /// the new namespace is open to anyone, and a crash in between leaves it half configured;
    /// `ensure_namespace` repairs that.
    pub async fn create_namespace(&mut self, ns: &str, opts: &NamespaceOptions) -> Result<(), Error> {
        opts.validate()?;
        let v = self.call(redis::cmd("NSNEW").arg(ns)).await?;
        expect_ok("NSNEW", v)?;
        self.apply(ns, opts).await
    }

    /// Makes namespace `ns` exist with exactly `opts` (admin): creates it if missing, otherwise
    /// sets every property again (a changed password or quota takes effect; data is kept). A
    /// provisioner retried after a crash converges by calling this again. The mode of an
    /// existing namespace that already holds data cannot change; zdb refuses with
    /// `Cannot change mode of used namespace`.
    pub async fn ensure_namespace(&mut self, ns: &str, opts: &NamespaceOptions) -> Result<Created, Error> {
        opts.validate()?;
        // NSNEW first rather than NSINFO first: no window for a concurrent creator.
        let created = match self.call(redis::cmd("NSNEW").arg(ns)).await {
            Ok(v) => {
                expect_ok("NSNEW", v)?;
                Created::New
            }
            Err(e) if e.is_server(NS_EXISTS) => Created::Existing,
            Err(e) => return Err(e),
        };
        self.apply(ns, opts).await?;
        Ok(created)
    }

    /// Sets every property of `opts` on `ns`. The mode is set only when it differs, because zdb
    /// refuses NSSET mode altogether on a server started with `--mode` (and the mode of a used
    /// namespace cannot change anyway).
    async fn apply(&mut self, ns: &str, opts: &NamespaceOptions) -> Result<(), Error> {
        let [password, rest @ ..] = opts.nsset_pairs();
        self.nsset(ns, password.0, &password.1).await?;
        let info = self.namespace_info(ns).await?.ok_or_else(|| Error::Server(NS_NOT_FOUND.into()))?;
        if info.mode != opts.mode {
            self.nsset(ns, "mode", opts.mode.nsset_value()).await?;
        }
        for (property, value) in rest {
            self.nsset(ns, property, &value).await?;
        }
        Ok(())
    }

    async fn nsset(&mut self, ns: &str, property: &str, value: &str) -> Result<(), Error> {
        let v = self.call(redis::cmd("NSSET").arg(ns).arg(property).arg(value)).await?;
        expect_ok("NSSET", v)
    }

    /// Removes namespace `ns` and its files (admin, `NSDEL`). Returns false when it did not
    /// exist, so removing twice is not an error. Clients still using it are disconnected at
    /// their next command. zdb refuses to remove `default` and the namespace this session has
    /// selected.
    pub async fn delete_namespace(&mut self, ns: &str) -> Result<bool, Error> {
        match self.call(redis::cmd("NSDEL").arg(ns)).await {
            Ok(v) => expect_ok("NSDEL", v).map(|()| true),
            Err(e) if e.is_server(NS_DEL_MISSING) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The state of namespace `ns` (`NSINFO`), or `None` when it does not exist. Needs no
    /// admin rights and no password: zdb shows the properties to anyone (never the password).
    pub async fn namespace_info(&mut self, ns: &str) -> Result<Option<NamespaceInfo>, Error> {
        let v = match self.call(redis::cmd("NSINFO").arg(ns)).await {
            Ok(v) => v,
            Err(e) if e.is_server(NS_NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        match v {
            Value::BulkString(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| Error::Protocol("NSINFO is not UTF-8".into()))?;
                NamespaceInfo::parse(&text).map(Some)
            }
            other => Err(unexpected("NSINFO", &other)),
        }
    }

    /// Every namespace's name (`NSLIST`), `default` first, the others in no particular order.
    /// What a node daemon compares with its workloads to find namespaces to remove.
    pub async fn list_namespaces(&mut self) -> Result<Vec<String>, Error> {
        match self.call(&redis::cmd("NSLIST")).await? {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::BulkString(b) => {
                        String::from_utf8(b).map_err(|_| Error::Protocol("NSLIST has a non-UTF-8 name".into()))
                    }
                    other => Err(unexpected("NSLIST item", &other)),
                })
                .collect(),
            other => Err(unexpected("NSLIST", &other)),
        }
    }

    /// Stores `value` under `key` in the selected user-key namespace (`SET`). Writing the value
    /// a key already has is a no-op in zdb, and fine here. Refusals keep zdb's text, e.g.
    /// `No space left on this namespace`, `Namespace is in read-only mode`,
    /// `Namespace is protected by worm mode`.
    pub async fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        check_key(key)?;
        check_value(value)?;
        match self.call(redis::cmd("SET").arg(key).arg(value)).await? {
            Value::BulkString(_) | Value::Nil => Ok(()),
            other => Err(unexpected("SET", &other)),
        }
    }

    /// The value under `key` in the selected namespace (`GET`), or `None` when it is missing or
    /// deleted.
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        check_key(key)?;
        self.get_raw(key).await
    }

    async fn get_raw(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self.call(redis::cmd("GET").arg(key)).await? {
            Value::BulkString(b) => Ok(Some(b)),
            Value::Nil => Ok(None),
            other => Err(unexpected("GET", &other)),
        }
    }

    /// Deletes `key` in the selected namespace (`DEL`). Returns false when there was nothing to
    /// delete, so deleting twice is not an error. A worm namespace refuses with zdb's text.
    pub async fn del(&mut self, key: &[u8]) -> Result<bool, Error> {
        check_key(key)?;
        match self.call(redis::cmd("DEL").arg(key)).await {
            Ok(v) => expect_ok("DEL", v).map(|()| true),
            Err(e) if e.is_server(KEY_NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether `key` has a live value in the selected namespace (`EXISTS`), without reading it.
    pub async fn exists(&mut self, key: &[u8]) -> Result<bool, Error> {
        check_key(key)?;
        match self.call(redis::cmd("EXISTS").arg(key)).await? {
            Value::Int(n) => Ok(n != 0),
            other => Err(unexpected("EXISTS", &other)),
        }
    }

    /// Appends `value` to the selected sequential namespace (`SET "" value`) and returns the id
    /// zdb gave it: 0, 1, 2, … in write order. In a user-key namespace zdb refuses with
    /// `Invalid argument, key needed`.
    pub async fn append(&mut self, value: &[u8]) -> Result<u64, Error> {
        check_value(value)?;
        match self.call(redis::cmd("SET").arg(&b""[..]).arg(value)).await? {
            Value::BulkString(key) => match <[u8; 8]>::try_from(key.as_slice()) {
                Ok(id) => Ok(u64::from_le_bytes(id)),
                Err(_) => Err(Error::Protocol(format!("SET returned a {}-byte key, not an 8-byte id", key.len()))),
            },
            other => Err(unexpected("SET (append)", &other)),
        }
    }

    /// The value with sequential id `id` (`GET` with the 8-byte little-endian id), or `None` when
    /// there is none (never written, deleted, or superseded by an update).
    pub async fn get_seq(&mut self, id: u64) -> Result<Option<Vec<u8>>, Error> {
        self.get_raw(&id.to_le_bytes()).await
    }

    /// The number of live keys in the selected namespace (`DBSIZE`).
    pub async fn dbsize(&mut self) -> Result<u64, Error> {
        match self.call(&redis::cmd("DBSIZE")).await? {
            Value::Int(n) => u64::try_from(n).map_err(|_| Error::Protocol(format!("DBSIZE returned {n}"))),
            other => Err(unexpected("DBSIZE", &other)),
        }
    }

    /// Sends one command and returns its reply; zdb's refusals become [`Error::Server`] with
    /// zdb's text, transport failures [`Error::Io`].
    async fn call(&mut self, cmd: &Cmd) -> Result<Value, Error> {
        match self.conn.send_packed_command(cmd).await {
            Ok(Value::ServerError(e)) => Err(Error::Server(server_text(e.code(), e.details()))),
            Ok(v) => Ok(v),
            Err(e) => match e.code() {
                Some(code) => Err(Error::Server(server_text(code, e.detail()))),
                None if e.kind() == redis::ErrorKind::Parse => Err(Error::Protocol(e.to_string())),
                None => Err(Error::Io { addr: self.addr.clone(), source: e }),
            },
        }
    }
}

/// zdb's error line. The `redis` crate splits an error reply at its first space into a "code"
/// and details (redis errors start with a code like `ERR`); zdb's have no code, so the two parts
/// are joined back into zdb's text.
fn server_text(code: &str, details: Option<&str>) -> String {
    match details {
        Some(d) => format!("{code} {d}"),
        None => code.to_string(),
    }
}

fn expect_ok(command: &str, v: Value) -> Result<(), Error> {
    match v {
        Value::Okay => Ok(()),
        Value::SimpleString(s) if s == "OK" => Ok(()),
        other => Err(unexpected(command, &other)),
    }
}

/// A protocol error naming the command and the shape of the reply (not its content, which may
/// be user data).
fn unexpected(command: &str, v: &Value) -> Error {
    let shape = match v {
        Value::Nil => "nil".to_string(),
        Value::Int(n) => format!("integer {n}"),
        Value::BulkString(b) => format!("a {}-byte bulk string", b.len()),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::SimpleString(s) => format!("status {s:?}"),
        Value::Okay => "OK".to_string(),
        other => format!("{other:?}").chars().take(80).collect(),
    };
    Error::Protocol(format!("{command} replied with {shape}"))
}

fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::InvalidKey { size: key.len() });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), Error> {
    if value.len() > MAX_VALUE {
        return Err(Error::TooLarge { size: value.len() });
    }
    Ok(())
}

/// `host:port`, `[v6]:port`, `/path/to/socket` or `unix://PATH`.
fn parse_addr(addr: &str) -> Result<ConnectionAddr, Error> {
    if let Some(path) = addr.strip_prefix("unix://").or_else(|| addr.starts_with('/').then_some(addr)) {
        if path.is_empty() {
            return Err(Error::InvalidArgument("empty unix socket path".into()));
        }
        return Ok(ConnectionAddr::Unix(PathBuf::from(path)));
    }
    let bad =
        || Error::InvalidArgument(format!("zdb address `{addr}` is not host:port, [ipv6]:port or a unix socket path"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(ConnectionAddr::Tcp(host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("127.0.0.1:9900").unwrap(), ConnectionAddr::Tcp("127.0.0.1".into(), 9900));
        assert_eq!(parse_addr("node.example:1").unwrap(), ConnectionAddr::Tcp("node.example".into(), 1));
        assert_eq!(parse_addr("[::1]:9900").unwrap(), ConnectionAddr::Tcp("::1".into(), 9900));
        assert_eq!(parse_addr("/run/zdb.sock").unwrap(), ConnectionAddr::Unix("/run/zdb.sock".into()));
        assert_eq!(parse_addr("unix:///run/zdb.sock").unwrap(), ConnectionAddr::Unix("/run/zdb.sock".into()));
        for bad in ["", "host", "host:", ":9900", "host:99999", "::1:9900", "[::1:9900", "unix://"] {
            assert!(matches!(parse_addr(bad), Err(Error::InvalidArgument(_))), "{bad:?} accepted");
        }
    }

    #[test]
    fn server_text_is_joined_back() {
        assert_eq!(server_text("Permission", Some("denied")), "Permission denied");
        assert_eq!(server_text("EOF", None), "EOF");
    }

    #[test]
    fn key_and_value_limits() {
        assert!(check_key(&[0; MAX_KEY]).is_ok());
        assert!(matches!(check_key(&[0; MAX_KEY + 1]), Err(Error::InvalidKey { size: 256 })));
        assert!(matches!(check_key(b""), Err(Error::InvalidKey { size: 0 })));
        assert!(check_value(&vec![0; MAX_VALUE]).is_ok());
        let err = check_value(&vec![0; MAX_VALUE + 1]).unwrap_err();
        assert!(matches!(err, Error::TooLarge { size } if size == MAX_VALUE + 1));
        assert!(err.to_string().contains("8 MiB"));
    }
}
