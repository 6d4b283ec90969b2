//! Namespace properties as the client sets them (NSSET) and reads them back (NSINFO).

use std::fmt;

use crate::Error;

/// How a namespace's keys are made. Chosen when the namespace is created: zdb lets the mode
/// change only while nothing was ever written to the namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Keys are chosen by the client (1 to 255 bytes): `set`/`get`/`del`/`exists`.
    #[default]
    User,
    /// zdb assigns keys 0, 1, 2, … (8 bytes, little-endian): `append`/`get_seq`. For blobs whose
    /// address is handed out by the store; no keys are held in the server's memory.
    Seq,
}

impl Mode {
    /// The value `NSSET <ns> mode` takes.
    pub(crate) fn nsset_value(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::Seq => "seq",
        }
    }

    /// Reads NSINFO's spelling (`userkey`, `sequential`).
    fn from_nsinfo(value: &str) -> Option<Mode> {
        match value {
            "userkey" => Some(Mode::User),
            "sequential" => Some(Mode::Seq),
            _ => None,
        }
    }
}

/// The properties a provisioner wants a namespace to have. [`crate::Client::create_namespace`]
/// and [`crate::Client::ensure_namespace`] set every one of them, so the namespace ends up with
/// exactly these, whatever it had before.
///
/// The `Debug` output never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NamespaceOptions {
    /// User keys or sequential ids. Default: [`Mode::User`].
    pub mode: Mode,
    /// The password clients must give to SELECT the namespace (and to write it when it is
    /// public). `None` removes any password: then anyone may read and write. 1 to 63 bytes (zdb's
    /// NSSET limit), and not `*` (which NSSET reads as "remove the password").
    pub password: Option<String>,
    /// With a password: whether clients without it may still read (read-only access). Without a
    /// password it changes nothing; the namespace is open either way. Default: false.
    pub public: bool,
    /// Quota in bytes on the namespace's live payload; writes beyond it are refused by zdb.
    /// `None` (or `Some(0)`, zdb's spelling of the same) means unlimited.
    pub max_size: Option<u64>,
    /// Write once, read many: existing keys can be neither overwritten nor deleted; new keys
    /// can still be written. Default: false.
    pub worm: bool,
}

impl fmt::Debug for NamespaceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceOptions")
            .field("mode", &self.mode)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("public", &self.public)
            .field("max_size", &self.max_size)
            .field("worm", &self.worm)
            .finish()
    }
}

/// zdb refuses NSSET values longer than this.
const MAX_NSSET_VALUE: usize = 63;

impl NamespaceOptions {
    /// Checks what zdb would refuse or misread, before anything is sent; the message describes
    /// a bad password without showing it.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(pw) = &self.password {
            if pw.is_empty() {
                return Err(Error::InvalidArgument("namespace password is empty; use None for no password".into()));
            }
            if pw.len() > MAX_NSSET_VALUE {
                return Err(Error::InvalidArgument(format!(
                    "namespace password is {} bytes; zdb accepts at most {MAX_NSSET_VALUE}",
                    pw.len()
                )));
            }
            if pw == "*" {
                return Err(Error::InvalidArgument(
                    "namespace password `*` cannot be set: zdb reads it as \"remove the password\"".into(),
                ));
            }
        }
        Ok(())
    }

    /// The NSSET (property, value) pairs that give a namespace these options, except `mode`
    /// (set only when it differs, see `Client::apply`). The password goes first: between
    /// NSNEW and it, the new namespace is open to anyone, so that window is kept shortest.
    pub(crate) fn nsset_pairs(&self) -> [(&'static str, String); 4] {
        [
            ("password", self.password.clone().unwrap_or_else(|| "*".into())),
            ("public", flag(self.public)),
            ("maxsize", self.max_size.unwrap_or(0).to_string()),
            ("worm", flag(self.worm)),
        ]
    }
}

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

/// What [`crate::Client::ensure_namespace`] found: whether it had to create the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The namespace did not exist; it was created with the options.
    New,
    /// The namespace existed; its properties were updated to the options.
    Existing,
}

/// A namespace's state as NSINFO reports it. Fields the original 0-db does not print
/// (`frozen`) or prints only sometimes read as false / `None` when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// The namespace's name.
    pub name: String,
    /// Live keys (what DBSIZE returns once selected).
    pub entries: u64,
    /// User keys or sequential ids.
    pub mode: Mode,
    /// Whether clients without the password may read.
    pub public: bool,
    /// Whether a password is set (zdb never shows the password itself).
    pub password: bool,
    /// Whether existing keys are protected from overwrite and delete.
    pub worm: bool,
    /// Read-only for now (`NSSET lock`; runtime only, reset on restart).
    pub locked: bool,
    /// Neither readable nor writable for now (`NSSET freeze`; runtime only).
    pub frozen: bool,
    /// Live payload bytes: what the quota is compared with.
    pub data_size: u64,
    /// The quota in bytes; `None` when unlimited (zdb prints 0).
    pub max_size: Option<u64>,
    /// zdb's in-memory index accounting in bytes (grows with the number and length of keys).
    pub index_size: u64,
    /// Free bytes on the disk holding the namespace's data, when zdb could tell: what a
    /// provisioner checks before promising more quota than the disk has.
    pub data_disk_free: Option<u64>,
}

impl NamespaceInfo {
    /// Parses NSINFO's `key: value` lines.
    pub(crate) fn parse(text: &str) -> Result<NamespaceInfo, Error> {
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim));
        let missing = |name: &str| Error::Protocol(format!("NSINFO has no `{name}` line"));
        let required = |name: &str| field(name).ok_or_else(|| missing(name));
        let number = |name: &str, v: &str| {
            v.parse::<u64>().map_err(|_| Error::Protocol(format!("NSINFO `{name}` is not a number: {v:?}")))
        };
        let yes_no = |name: &str, v: &str| match v {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(Error::Protocol(format!("NSINFO `{name}` is not yes/no: {v:?}"))),
        };
        let optional_flag = |name: &str| field(name).map_or(Ok(false), |v| yes_no(name, v));
        let optional_number = |name: &str| field(name).map(|v| number(name, v)).transpose();

        let mode = required("mode")?;
        let max_size = number("data_limits_bytes", required("data_limits_bytes")?)?;
        Ok(NamespaceInfo {
            name: required("name")?.to_string(),
            entries: number("entries", required("entries")?)?,
            mode: Mode::from_nsinfo(mode)
                .ok_or_else(|| Error::Protocol(format!("NSINFO has unknown mode {mode:?}")))?,
            public: yes_no("public", required("public")?)?,
            password: yes_no("password", required("password")?)?,
            worm: optional_flag("worm")?,
            locked: optional_flag("locked")?,
            frozen: optional_flag("frozen")?,
            data_size: number("data_size_bytes", required("data_size_bytes")?)?,
            max_size: (max_size > 0).then_some(max_size),
            index_size: optional_number("index_size_bytes")?.unwrap_or(0),
            data_disk_free: optional_number("data_disk_freespace_bytes")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NSINFO as our zdb prints it for an admin (trimmed paths).
    const INFO: &str = "# namespace\nname: alice\nentries: 3\npublic: yes\nworm: no\nlocked: no\nfrozen: no\n\
password: yes\ndata_size_bytes: 42\ndata_size_mb: 0.00\ndata_limits_bytes: 1048576\nindex_size_bytes: 201\n\
index_size_kb: 0.20\nnext_internal_id: 0x0300000000000000\nmode: sequential\nspace_available: 1048534\n\
index_disk_freespace_bytes: 1000\nindex_disk_freespace_mb: 0.00\ndata_disk_freespace_bytes: 2000\n\
data_disk_freespace_mb: 0.00\nreplication_position: 0:120\ndata_path: /tmp/x\n";

    #[test]
    fn parses_every_field() {
        let info = NamespaceInfo::parse(INFO).unwrap();
        assert_eq!(
            info,
            NamespaceInfo {
                name: "alice".into(),
                entries: 3,
                mode: Mode::Seq,
                public: true,
                password: true,
                worm: false,
                locked: false,
                frozen: false,
                data_size: 42,
                max_size: Some(1048576),
                index_size: 201,
                data_disk_free: Some(2000),
            }
        );
    }

    #[test]
    fn zero_limit_is_unlimited_and_optional_lines_may_be_missing() {
        let text =
            "name: b\nentries: 0\npublic: no\npassword: no\ndata_size_bytes: 0\ndata_limits_bytes: 0\nmode: userkey\n";
        let info = NamespaceInfo::parse(text).unwrap();
        assert_eq!(info.max_size, None);
        assert_eq!(info.mode, Mode::User);
        assert!(!info.frozen && !info.worm);
        assert_eq!(info.data_disk_free, None);
    }

    #[test]
    fn malformed_info_is_a_protocol_error() {
        assert!(matches!(NamespaceInfo::parse("name: x\n"), Err(Error::Protocol(_))));
        let bad_mode = INFO.replace("mode: sequential", "mode: direct");
        assert!(matches!(NamespaceInfo::parse(&bad_mode), Err(Error::Protocol(m)) if m.contains("direct")));
        let bad_number = INFO.replace("entries: 3", "entries: many");
        assert!(matches!(NamespaceInfo::parse(&bad_number), Err(Error::Protocol(_))));
    }

    #[test]
    fn a_field_name_that_prefixes_another_does_not_match_it() {
        // `data_size_bytes` must not be read from `data_size_mb`, nor `name` from `names`.
        let text = INFO.replace("name: alice\n", "names: x\nname: alice\n");
        assert_eq!(NamespaceInfo::parse(&text).unwrap().name, "alice");
    }

    #[test]
    fn options_never_show_the_password() {
        let opts = NamespaceOptions { password: Some("s3cret-pw".into()), ..Default::default() };
        assert!(!format!("{opts:?}").contains("s3cret"));
        let long = NamespaceOptions { password: Some("p".repeat(64)), ..Default::default() };
        let err = long.validate().unwrap_err().to_string();
        assert!(err.contains("64 bytes") && !err.contains("ppp"), "{err}");
        assert!(NamespaceOptions { password: Some("*".into()), ..Default::default() }.validate().is_err());
        assert!(NamespaceOptions { password: Some(String::new()), ..Default::default() }.validate().is_err());
        assert!(NamespaceOptions { password: Some("p".repeat(63)), ..Default::default() }.validate().is_ok());
    }
}
