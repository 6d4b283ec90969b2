//! Contract files: the YAML a person writes by hand for `tf deploy`, and `tf contract check`.
//!
//! ```yaml
//! name: my-storage              # optional label
//! workloads:
//!   - name: db1                 # 1 to 32 of a-z 0-9 -, unique in the file
//!     type: zdb
//!     node: 1111…1111           # the node's public key, 64 hex characters (`tf nodes`)
//!     size: 10GiB               # B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)
//!     mode: user                # user (default) | seq
//!     disk: ssd                 # ssd (default) | hdd
//!     public: false             # default false
//!     password: "s3cret"        # optional; sealed to the node's key by tf
//!     version: 1                # optional, default 1
//! signers: [2, 3]               # optional stakeholder twin ids
//! quorum: 2                     # optional, how many signers must co-sign (default 0)
//! expires: 30d                  # optional: h, d, w from now, or an RFC 3339 date
//! ```
//!
//! [`ContractFile::parse`] reads and checks everything that needs no identity, and
//! [`ContractFile::to_contract`] turns the file into a [`gridtypes::Contract`]: passwords are
//! sealed to their node's key (the plaintext never enters the contract), `expires` becomes unix
//! seconds, and [`Contract::validate`] runs last, so what `tf` sends is exactly what the
//! explorer and the nodes accept.
//!
//! Every problem is a [`Problem`] with the line and column it is at, the field (a path such as
//! `workloads[1].size`), and a message that says what to write instead. Unknown fields are
//! errors (a typo must not silently drop a setting). Problems found after the YAML is read
//! (names used twice, a quorum that cannot be met) are located by reading the file again up to
//! the field at fault, so they carry a line too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Subcommand;
use gridtypes::workload::ZDB_PASSWORD_MAX;
use gridtypes::{
    format_size, Capacity, Contract, DiskKind, ValidationError, Workload, WorkloadData, ZdbMode, ZdbWorkload, TEXT_MAX,
};
use identity::{Identity, PublicKey};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use crate::time::{describe_duration, format_rfc3339, parse_duration, parse_rfc3339};
use crate::Globals;

/// A contract as a person writes it in YAML (format in the module docs).
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a contract: a mapping with `workloads` and optionally `name`, `signers`, `quorum`, `expires`"
)]
pub struct ContractFile {
    /// A label for people.
    #[serde(default)]
    pub name: Option<String>,
    /// What to run, where.
    pub workloads: Vec<WorkloadEntry>,
    /// Stakeholder twin ids whose co-signatures count towards the quorum.
    #[serde(default)]
    pub signers: Vec<u32>,
    /// How many distinct signers must co-sign; 0 (or absent): the owner's signature alone.
    #[serde(default)]
    pub quorum: u32,
    /// When the contract ends by itself.
    #[serde(default)]
    pub expires: Option<Expires>,
    /// The text it was read from, to give later problems a line; it holds the passwords too, so
    /// it is wiped when dropped and never shown.
    #[serde(skip)]
    source: Zeroizing<String>,
}

impl fmt::Debug for ContractFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractFile")
            .field("name", &self.name)
            .field("workloads", &self.workloads)
            .field("signers", &self.signers)
            .field("quorum", &self.quorum)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// One workload of a contract file.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a workload: a mapping with `name`, `type`, `node`, `size` and optionally `mode`, `disk`, `public`, `password`, `version`"
)]
pub struct WorkloadEntry {
    /// Unique within the file: 1 to 32 of `a-z 0-9 -`.
    pub name: String,
    /// The workload type (`zdb`).
    #[serde(rename = "type")]
    pub kind: WorkloadKind,
    /// The node that must run it: its public key.
    #[serde(deserialize_with = "node_key")]
    pub node: PublicKey,
    /// Bytes (written as `10GiB` and the like).
    #[serde(deserialize_with = "gridtypes::size::bytes::deserialize")]
    pub size: u64,
    /// `user` (default) or `seq`.
    #[serde(default)]
    pub mode: ZdbMode,
    /// `ssd` (default) or `hdd`.
    #[serde(default)]
    pub disk: DiskKind,
    /// Whether the namespace can be read without the password.
    #[serde(default, deserialize_with = "plain_bool")]
    pub public: bool,
    /// The namespace password in plain text; [`ContractFile::to_contract`] seals it.
    #[serde(default)]
    pub password: Option<Password>,
    /// Bumped when the workload changes.
    #[serde(default = "one")]
    pub version: u32,
}

fn one() -> u32 {
    1
}

/// The workload types a file may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// A 0-db namespace.
    Zdb,
}

/// A password as written in the file: wiped from memory when dropped, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// The plain text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// When a contract ends: a duration from when it is made, or a fixed time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expires {
    /// This many seconds after the contract is made (`30d`).
    After(u64),
    /// At this unix time (`2026-01-31T12:00:00Z`).
    At(u64),
}

impl Expires {
    /// Reads `30d`, `12h`, `2w`, `2026-01-31` or `2026-01-31T12:00:00Z`.
    pub fn parse(text: &str) -> Result<Expires, String> {
        let t = text.trim().as_bytes();
        let looks_like_date = t.len() >= 5 && t[..4].iter().all(u8::is_ascii_digit) && t[4] == b'-';
        if looks_like_date {
            parse_rfc3339(text).map(Expires::At)
        } else {
            parse_duration(text).map(Expires::After).map_err(|e| {
                format!("{e}; `expires` takes a duration from now (h, d, w) or a date such as `2026-01-31T12:00:00Z`")
            })
        }
    }

    /// The unix time it means for a contract made at `now`.
    pub fn at(&self, now: u64) -> Option<u64> {
        match *self {
            Expires::After(secs) => now.checked_add(secs),
            Expires::At(t) => Some(t),
        }
    }
}

/// One thing wrong with a contract file: where, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field at fault as a path (`workloads[0].size`); empty for the file as a whole.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l} column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Everything wrong with a contract file, in file order (YAML that cannot be read gives one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractFileError {
    /// The problems, at least one.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ContractFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ContractFileError {}

impl ContractFile {
    /// Reads a contract file and checks everything that needs no identity: the YAML, every
    /// field's type and spelling, names, sizes, node keys, passwords, signers and quorum.
    pub fn parse(text: &str) -> Result<ContractFile, ContractFileError> {
        let mut file: ContractFile = match serde_norway::from_str(text) {
            Ok(file) => file,
            Err(e) => return Err(ContractFileError { problems: vec![yaml_problem(text, &e)] }),
        };
        file.source = Zeroizing::new(text.to_string());
        let problems = file.check();
        if problems.is_empty() {
            Ok(file)
        } else {
            Err(ContractFileError { problems })
        }
    }

    /// The rules checked after reading; all of them, so one run shows every problem.
    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(name) = &self.name {
            let chars = name.chars().count();
            if chars == 0 || chars > TEXT_MAX || name.chars().any(char::is_control) {
                problems.push(self.problem(
                    "name",
                    format!(
                        "contract name `{}` must be 1 to {TEXT_MAX} characters without control characters",
                        name.escape_debug()
                    ),
                ));
            }
        }
        if self.workloads.is_empty() {
            problems.push(self.problem(
                "workloads",
                "the contract has no workloads; add at least one under `workloads` (see examples/single-zdb.yaml)",
            ));
        }
        let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, w) in self.workloads.iter().enumerate() {
            let field = format!("workloads[{i}]");
            if let Err(e) = w.draft(None).validate(&field) {
                problems.push(self.validation_problem(&e));
            }
            if let Some(&first) = first_use.get(w.name.as_str()) {
                let at = self.locate(&format!("workloads[{first}].name")).0.map(|l| format!(" (first at line {l})"));
                problems.push(self.problem(
                    format!("{field}.name"),
                    format!(
                        "workload name `{}` is used twice{}; give each workload its own name",
                        w.name,
                        at.unwrap_or_default()
                    ),
                ));
            } else {
                first_use.insert(&w.name, i);
            }
            if w.node.try_seal(b"check").is_err() {
                problems.push(self.problem(
                    format!("{field}.node"),
                    format!(
                        "`{}` is not a valid ed25519 public key, so no node has it; copy the node's key from `tf nodes`",
                        w.node
                    ),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.signers.iter().enumerate() {
            if !seen.insert(*s) {
                problems.push(
                    self.problem(format!("signers[{i}]"), format!("twin {s} is listed twice; list each signer once")),
                );
            }
        }
        if self.quorum as usize > seen.len() {
            let fix = if seen.is_empty() {
                "list the stakeholders' twin ids under `signers`, or remove `quorum`".to_string()
            } else {
                "lower `quorum` or add twins to `signers`".to_string()
            };
            problems.push(self.problem(
                "quorum",
                format!(
                    "quorum {} is more than the {} distinct signer(s) listed, so it could never be met; {fix}",
                    self.quorum,
                    seen.len()
                ),
            ));
        }
        problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
        problems
    }

    /// The contract this file describes, made by twin `owner_twin` (whose key is `owner`'s) at
    /// unix time `now`: passwords are sealed to their nodes, `expires` is resolved, and
    /// [`Contract::validate`] has passed.
    pub fn to_contract(
        &self,
        owner_twin: u32,
        owner: &Identity,
        now_unix: u64,
        nonce: u64,
    ) -> Result<Contract, ContractFileError> {
        let mut problems = Vec::new();
        let expires_at = match &self.expires {
            None => None,
            Some(e) => match e.at(now_unix) {
                Some(t) if t > now_unix => Some(t),
                Some(t) => {
                    problems.push(self.problem(
                        "expires",
                        format!(
                            "{} is in the past (it is now {}); write a later date or a duration such as `30d`",
                            format_rfc3339(t),
                            format_rfc3339(now_unix)
                        ),
                    ));
                    None
                }
                None => {
                    problems.push(self.problem("expires", "the expiry is too far in the future; write a date instead"));
                    None
                }
            },
        };
        let mut workloads = Vec::with_capacity(self.workloads.len());
        for (i, w) in self.workloads.iter().enumerate() {
            let sealed = match &w.password {
                None => None,
                Some(p) => match ZdbWorkload::seal_password(&w.node, p.expose()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        problems.push(self.problem(format!("workloads[{i}].node"), e.to_string()));
                        None
                    }
                },
            };
            workloads.push(w.draft(sealed));
        }
        if !problems.is_empty() {
            return Err(ContractFileError { problems });
        }
        let contract = Contract {
            owner: owner_twin,
            owner_key: owner.public_key(),
            name: self.name.clone(),
            workloads,
            signers: self.signers.clone(),
            quorum: self.quorum,
            expires_at,
            created_at: now_unix,
            nonce,
        };
        contract.validate().map_err(|e| ContractFileError { problems: vec![self.validation_problem(&e)] })?;
        Ok(contract)
    }

    /// A problem at `field`, with the line and column of that field in the file.
    fn problem(&self, field: impl Into<String>, message: impl Into<String>) -> Problem {
        let field = field.into();
        let (line, column) = self.locate(&field);
        Problem { line, column, field, message: message.into() }
    }

    /// A gridtypes validation error, with its field renamed to what the file calls it.
    fn validation_problem(&self, e: &ValidationError) -> Problem {
        let field =
            e.field.replace(".data.", ".").replace("password_sealed", "password").replace("expires_at", "expires");
        self.problem(field, e.message.clone())
    }

    /// Line and column of `field` (a path such as `workloads[1].name`), or of the nearest
    /// enclosing field that is in the file.
    fn locate(&self, field: &str) -> (Option<usize>, Option<usize>) {
        let mut path = parse_path(field);
        while !path.is_empty() {
            if let Some((line, column)) = locate_path(&self.source, &path) {
                return (Some(line), Some(column));
            }
            path.pop();
        }
        (None, None)
    }
}

impl WorkloadEntry {
    /// The gridtypes workload, with the password already sealed (or none).
    fn draft(&self, password_sealed: Option<String>) -> Workload {
        let data = match self.kind {
            WorkloadKind::Zdb => WorkloadData::Zdb(ZdbWorkload {
                size: self.size,
                disk: self.disk,
                mode: self.mode,
                public: self.public,
                password_sealed,
            }),
        };
        Workload { name: self.name.clone(), node: self.node, version: self.version, data }
    }
}

// ----- field readers (errors raised inside a visitor get the value's line and column) -----

fn node_key<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = PublicKey;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a node's public key: 64 hex characters, as `tf nodes` lists them")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<PublicKey, E> {
            s.parse().map_err(|_| {
                let t = s.trim();
                let why = if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    "it has characters other than 0-9 and a-f".to_string()
                } else {
                    format!("it has {}", t.len())
                };
                E::custom(format!("node key `{t}` must be 64 hex characters ({why}); copy it from `tf nodes`"))
            })
        }
    }
    d.deserialize_str(V)
}

fn plain_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("`true` or `false`")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
            match s {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(E::custom(format!("`{s}` is not `true` or `false`; write one of those"))),
            }
        }
    }
    d.deserialize_str(V)
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Password;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a password in quotes, e.g. \"s3cret\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Password, E> {
                if s.is_empty() {
                    return Err(E::custom(
                        "the password is empty; write one, or remove `password` for a namespace without one",
                    ));
                }
                if s.len() > ZDB_PASSWORD_MAX {
                    return Err(E::custom(format!(
                        "the password is {} bytes long; the most is {ZDB_PASSWORD_MAX}",
                        s.len()
                    )));
                }
                Ok(Password(Zeroizing::new(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Expires {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Expires;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `30d` or a date such as `2026-01-31T12:00:00Z`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Expires, E> {
                Expires::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ----- turning YAML errors into problems -----

/// A problem from serde_norway's error: its message split into the field path and the text, with
/// a hint added where the message alone does not say what to write.
fn yaml_problem(source: &str, e: &serde_norway::Error) -> Problem {
    let mut text = e.to_string();
    let mut line_col = None;
    if let Some(loc) = e.location() {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(at) = text.find(&suffix) {
            text.replace_range(at..at + suffix.len(), "");
            line_col = Some((loc.line(), loc.column()));
        }
    }
    let (mut field, mut message) = match text.split_once(": ") {
        Some((path, rest))
            if !path.is_empty() && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b)) =>
        {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), text),
    };
    let join = |parent: &str, key: &str| if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") };
    if let Some(key) = quoted_after(&message, "unknown field `") {
        field = join(&field, &key);
        let expected = message.find("expected").map_or("", |at| &message[at..]).to_string();
        if let Some(best) = closest(&key, &quoted_all(&expected)) {
            message.push_str(&format!("; did you mean `{best}`?"));
        }
    } else if let Some(key) = quoted_after(&message, "missing field `") {
        let hint = match key.as_str() {
            "workloads" if source.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) => {
                message = "the file is empty".to_string();
                line_col = None;
                "; a contract needs at least a `workloads` list (see examples/single-zdb.yaml)"
            }
            "workloads" => "; add a `workloads` list (see examples/single-zdb.yaml)",
            "name" => "; add e.g. `name: db1`",
            "type" => "; add `type: zdb`",
            "node" => "; add `node:` with the node's public key, 64 hex characters from `tf nodes`",
            "size" => "; add e.g. `size: 10GiB`",
            _ => "",
        };
        message.push_str(hint);
    } else if let Some(key) = quoted_after(&message, "duplicate field `") {
        // serde reports a repeated key with the position of its mapping; for the top level,
        // point at the second occurrence instead.
        if field.is_empty() {
            let lines: Vec<usize> = source
                .lines()
                .enumerate()
                .filter(|(_, l)| l.strip_prefix(key.as_str()).is_some_and(|r| r.trim_start().starts_with(':')))
                .map(|(i, _)| i + 1)
                .collect();
            if let [_, second, ..] = lines[..] {
                line_col = Some((second, 1));
            }
        }
        field = join(&field, &key);
        message.push_str("; write each field once");
    } else if let Some((l, c)) = line_col {
        if source.lines().nth(l - 1).and_then(|s| s.chars().nth(c - 1)) == Some('\t') {
            message.push_str("; YAML does not allow tabs for indentation, indent with spaces");
        }
    }
    let (line, column) = match line_col {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    Problem { line, column, field, message }
}

/// The text between `prefix` (ending in a backtick) and the next backtick, if `s` starts so.
fn quoted_after(s: &str, prefix: &str) -> Option<String> {
    let rest = s.strip_prefix(prefix)?;
    rest.find('`').map(|end| rest[..end].to_string())
}

/// Every `quoted` word in `s`.
fn quoted_all(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
fn closest(word: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ----- locating a field in the file -----

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `workloads[1].name` → key `workloads`, index 1, key `name`.
fn parse_path(field: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Seg::Key(key.to_string()));
        }
        for idx in pieces {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// Where the value at `path` starts in `source` (1-based line and column): the document is read
/// again by a visitor that walks down `path` and fails on arrival, and serde_norway puts the
/// position of the value it was reading into the error.
fn locate_path(source: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let err = Probe(path).deserialize(serde_norway::Deserializer::from_str(source)).err()?;
    err.location().map(|l| (l.line(), l.column()))
}

struct Probe<'a>(&'a [Seg]);

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Scalars take the default `visit_*`, which fail: on arrival that is the point, and a scalar
/// where the path goes deeper is as close as the file gets.
impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the field being located")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.0.split_first() else {
            return Err(de::Error::custom("found"));
        };
        // Not found deeper down: read the rest too, as serde_norway refuses a mapping or sequence
        // left half-read.
        while let Some(key) = map.next_key::<serde_norway::Value>()? {
            if key.as_str() == Some(want.as_str()) {
                map.next_value_seed(Probe(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.0.split_first() else {
            return Err(de::Error::custom("found"));
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        if seq.next_element_seed(Probe(rest))?.is_some() {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(())
    }
}

// ----- `tf contract` -----

/// The `tf contract` subcommands.
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Check a contract file as `tf deploy` will, without sending anything; exit status 1 if it
    /// has problems
    Check {
        /// The contract file (YAML; see examples/)
        file: PathBuf,
        /// Your twin id (until `tf twin register` exists)
        #[arg(long, value_name = "ID", default_value_t = 1)]
        twin: u32,
    },
}

/// Runs one `tf contract` subcommand.
pub fn run(ctx: &Globals, command: ContractCommand) -> Result<ExitCode> {
    match command {
        ContractCommand::Check { file, twin } => check(ctx, &file, twin),
    }
}

/// Reads, parses and converts a contract file with the local identity: what `tf deploy` will
/// send, or every problem.
pub fn load(
    ctx: &Globals,
    file: &Path,
    twin: u32,
    now: u64,
    nonce: u64,
) -> Result<Result<(ContractFile, Contract), ContractFileError>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?);
    let parsed = match ContractFile::parse(&text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let identity = crate::id::load(&ctx.identity_path()?)?;
    Ok(parsed.to_contract(twin, &identity, now, nonce).map(|c| (parsed, c)))
}

fn check(ctx: &Globals, file: &Path, twin: u32) -> Result<ExitCode> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?;
    let now = since_epoch.as_secs();
    let nonce = since_epoch.as_nanos() as u64;
    let shown = file.display().to_string();
    match load(ctx, file, twin, now, nonce)? {
        Err(e) => {
            if ctx.json {
                ctx.print_json(&json!({"valid": false, "file": shown, "problems": e.problems}));
            } else {
                for p in &e.problems {
                    eprintln!("error: {shown}: {p}");
                }
                let n = e.problems.len();
                eprintln!("{shown}: {n} problem{} found; fix and check again", if n == 1 { "" } else { "s" });
            }
            Ok(ExitCode::from(1))
        }
        Ok((parsed, contract)) => {
            let nodes = node_summary(&contract)?;
            if ctx.json {
                let nodes: Vec<_> = nodes
                    .iter()
                    .map(|(node, (cap, names))| json!({"node": node, "capacity": cap, "workloads": names}))
                    .collect();
                ctx.print_json(&json!({
                    "valid": true,
                    "file": shown,
                    "id": contract.id(),
                    "nodes": nodes,
                    "contract": contract,
                }));
            } else {
                print_summary(&shown, &parsed, &contract, &nodes, now);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

type NodeSummary = BTreeMap<PublicKey, (Capacity, Vec<String>)>;

/// Per node: what the contract takes from it and which workloads run there.
fn node_summary(contract: &Contract) -> Result<NodeSummary> {
    let mut out = NodeSummary::new();
    for node in contract.nodes() {
        let cap = contract.capacity_on(&node)?;
        let names = contract.workloads_on(&node).map(|w| w.name.clone()).collect();
        out.insert(node, (cap, names));
    }
    Ok(out)
}

fn print_summary(file: &str, parsed: &ContractFile, c: &Contract, nodes: &NodeSummary, now: u64) {
    println!("{file}: valid; nothing was sent");
    if let Some(name) = &c.name {
        println!("name:      {name}");
    }
    println!("owner:     twin {} ({})", c.owner, c.owner_key);
    println!("workloads: {}", c.workloads.len());
    for (w, entry) in c.workloads.iter().zip(&parsed.workloads) {
        let WorkloadData::Zdb(z) = &w.data;
        let disk = match z.disk {
            DiskKind::Ssd => "ssd",
            DiskKind::Hdd => "hdd",
        };
        let mode = match z.mode {
            ZdbMode::User => "user",
            ZdbMode::Seq => "seq",
        };
        let access = match (z.public, entry.password.is_some()) {
            (true, true) => "public reads, password sealed to the node",
            (true, false) => "public, no password",
            (false, true) => "private, password sealed to the node",
            (false, false) => "private, no password",
        };
        println!("  {:<12} {} {} {disk}, mode {mode}, {access}", w.name, w.type_name(), format_size(z.size));
        println!("  {:<12} on node {}", "", w.node);
    }
    println!("nodes:     {}", nodes.len());
    for (node, (cap, names)) in nodes {
        println!("  {node}  {} ({})", cap.describe_nonzero().join(", "), names.join(", "));
    }
    if c.signers.is_empty() {
        println!("signers:   none; the owner's signature alone deploys it");
    } else {
        let list: Vec<String> = c.signers.iter().map(u32::to_string).collect();
        let rule = if c.quorum == 0 {
            "quorum 0: the owner's signature alone deploys it".to_string()
        } else {
            format!("quorum {}: deploys once the owner and {} of them have signed", c.quorum, c.quorum)
        };
        println!("signers:   twins {}; {rule}", list.join(", "));
    }
    match c.expires_at {
        Some(t) => println!("expires:   {} (in {})", format_rfc3339(t), describe_duration(t - now)),
        None => println!("expires:   never (until deleted)"),
    }
    println!("id:        {}", c.id());
    println!("           (this check's id: `tf deploy` makes a new one, as the id covers the time, a nonce and");
    println!("           the freshly sealed passwords)");
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridtypes::size::GIB;

    const KEY1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const KEY2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    /// Valid hex, but not a point on the curve.
    const NOT_A_POINT: &str = "4444444444444444444444444444444444444444444444444444444444444444";
    const NOW: u64 = 1_700_000_000;

    fn one_zdb(extra: &str) -> String {
        format!("name: demo\nworkloads:\n  - name: db1\n    type: zdb\n    node: {KEY1}\n    size: 10GiB\n{extra}")
    }

    /// The only problem of `text`, as displayed.
    fn problem(text: &str) -> String {
        let e = ContractFile::parse(text).expect_err("should not parse");
        assert_eq!(e.problems.len(), 1, "{e}");
        e.to_string()
    }

    fn owner() -> Identity {
        Identity::from_seed([7; 32])
    }

    #[test]
    fn the_brief_example_parses_and_converts() {
        let text = format!(
            "# A single zdb namespace on one node.\nname: my-storage\nworkloads:\n  - name: db1\n    type: zdb\n    node: {KEY1}   # key\n    size: 10GiB\n    mode: user          # user | seq\n    disk: ssd\n    public: false\n    password: \"s3cret\"\nsigners: [2, 3]\nquorum: 2\nexpires: 30d\n"
        );
        let f = ContractFile::parse(&text).unwrap();
        assert_eq!(f.name.as_deref(), Some("my-storage"));
        assert_eq!(f.workloads.len(), 1);
        let w = &f.workloads[0];
        assert_eq!(
            (w.kind, w.size, w.mode, w.disk, w.public, w.version),
            (WorkloadKind::Zdb, 10 * GIB, ZdbMode::User, DiskKind::Ssd, false, 1)
        );
        assert_eq!(w.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{f:?}").contains("s3cret"), "Debug must not show the password");
        assert_eq!((f.signers.clone(), f.quorum, f.expires.clone()), (vec![2, 3], 2, Some(Expires::After(30 * 86400))));

        let c = f.to_contract(1, &owner(), NOW, 9).unwrap();
        assert_eq!((c.owner, c.owner_key, c.created_at, c.nonce), (1, owner().public_key(), NOW, 9));
        assert_eq!(c.expires_at, Some(NOW + 30 * 86400));
        assert_eq!((c.signers.clone(), c.quorum), (vec![2, 3], 2));
        assert_eq!(c.workloads[0].node, KEY1.parse().unwrap());
        c.validate().unwrap();
    }

    #[test]
    fn defaults() {
        let f = ContractFile::parse(&one_zdb("")).unwrap();
        let w = &f.workloads[0];
        assert_eq!(
            (w.mode, w.disk, w.public, w.version, w.password.is_none()),
            (ZdbMode::User, DiskKind::Ssd, false, 1, true)
        );
        assert_eq!((f.signers.len(), f.quorum, f.expires.clone()), (0, 0, None));
        let c = f.to_contract(5, &owner(), NOW, 1).unwrap();
        let WorkloadData::Zdb(z) = &c.workloads[0].data;
        assert_eq!((z.password_sealed.clone(), c.expires_at), (None, None));
        // Sizes may be plain numbers of bytes, and other spellings parse too.
        let f = ContractFile::parse(
            &one_zdb("    mode: seq\n    disk: hdd\n    public: true\n    version: 3\n").replace("10GiB", "1048576"),
        )
        .unwrap();
        let w = &f.workloads[0];
        assert_eq!((w.size, w.mode, w.disk, w.public, w.version), (1 << 20, ZdbMode::Seq, DiskKind::Hdd, true, 3));
    }

    #[test]
    fn sealing_keeps_the_password_from_the_contract() {
        let node = Identity::from_seed([9; 32]);
        let text = format!(
            "workloads:\n  - name: db1\n    type: zdb\n    node: {}\n    size: 1GiB\n    password: \"correct horse battery\"\n",
            node.public_key()
        );
        let c = ContractFile::parse(&text).unwrap().to_contract(1, &owner(), NOW, 1).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let bytes = c.canonical_bytes();
        for haystack in [json.as_bytes(), &bytes[..]] {
            assert!(!haystack.windows(7).any(|w| w == b"correct"), "plaintext leaked");
        }
        assert!(!json.contains(&hex_of("correct horse battery")));
        let WorkloadData::Zdb(z) = &c.workloads[0].data;
        assert_eq!(z.open_password(&node).unwrap().as_deref(), Some("correct horse battery"));
        assert!(z.open_password(&owner()).is_err(), "only the node can open it");
    }

    fn hex_of(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn unknown_fields_name_the_line_and_the_fix() {
        assert_eq!(
            problem(&one_zdb("    sise: 1GiB\n").replace("    size: 10GiB\n", "")),
            "line 6 column 5: workloads[0].sise: unknown field `sise`, expected one of `name`, `type`, `node`, `size`, `mode`, `disk`, `public`, `password`, `version`; did you mean `size`?"
        );
        assert_eq!(
            problem(&one_zdb("quorom: 1\n")),
            "line 7 column 1: quorom: unknown field `quorom`, expected one of `name`, `workloads`, `signers`, `quorum`, `expires`; did you mean `quorum`?"
        );
        // No suggestion when nothing is close.
        assert_eq!(
            problem(&one_zdb("    colour: blue\n")),
            "line 7 column 5: workloads[0].colour: unknown field `colour`, expected one of `name`, `type`, `node`, `size`, `mode`, `disk`, `public`, `password`, `version`"
        );
    }

    #[test]
    fn missing_fields_say_what_to_add() {
        assert_eq!(
            problem("name: x\n"),
            "missing field `workloads`; add a `workloads` list (see examples/single-zdb.yaml)"
        );
        assert_eq!(
            problem("# only a comment\n\n"),
            "the file is empty; a contract needs at least a `workloads` list (see examples/single-zdb.yaml)"
        );
        assert_eq!(
            problem(""),
            "the file is empty; a contract needs at least a `workloads` list (see examples/single-zdb.yaml)"
        );
        let without = |line: &str| problem(&one_zdb("").replace(line, ""));
        assert_eq!(without("    type: zdb\n"), "line 3 column 5: workloads[0]: missing field `type`; add `type: zdb`");
        assert_eq!(
            without(&format!("    node: {KEY1}\n")),
            "line 3 column 5: workloads[0]: missing field `node`; add `node:` with the node's public key, 64 hex characters from `tf nodes`"
        );
        assert_eq!(
            without("    size: 10GiB\n"),
            "line 3 column 5: workloads[0]: missing field `size`; add e.g. `size: 10GiB`"
        );
        assert_eq!(
            problem(&one_zdb("").replace("  - name: db1\n    type", "  - type")),
            "line 3 column 5: workloads[0]: missing field `name`; add e.g. `name: db1`"
        );
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            problem(&one_zdb("").replace("10GiB", "10G")),
            "line 6 column 11: workloads[0].size: `10G` is ambiguous; write `10GiB` (powers of 1024) or `10GB` (powers of 1000)"
        );
        assert_eq!(
            problem(&one_zdb("").replace("10GiB", "lots")),
            "line 6 column 11: workloads[0].size: `lots` is not a size; write a number with an optional unit, e.g. `123`, `512MiB`, `10GiB` or `1TB`"
        );
        assert_eq!(
            problem(&one_zdb("").replace(KEY1, &KEY1[1..])),
            "line 5 column 11: workloads[0].node: node key `111111111111111111111111111111111111111111111111111111111111111` must be 64 hex characters (it has 63); copy it from `tf nodes`"
        );
        assert_eq!(
            problem(&one_zdb("").replace(KEY1, "node-3")),
            "line 5 column 11: workloads[0].node: node key `node-3` must be 64 hex characters (it has characters other than 0-9 and a-f); copy it from `tf nodes`"
        );
        assert_eq!(
            problem(&one_zdb("").replace(KEY1, NOT_A_POINT)),
            format!("line 5 column 11: workloads[0].node: `{NOT_A_POINT}` is not a valid ed25519 public key, so no node has it; copy the node's key from `tf nodes`")
        );
        assert_eq!(
            problem(&one_zdb("    type: zbd\n").replace("    type: zdb\n", "")),
            "line 6 column 11: workloads[0].type: unknown variant `zbd`, expected `zdb`"
        );
        assert_eq!(
            problem(&one_zdb("    mode: kv\n")),
            "line 7 column 11: workloads[0].mode: unknown variant `kv`, expected `user` or `seq`"
        );
        assert_eq!(
            problem(&one_zdb("    disk: nvme\n")),
            "line 7 column 11: workloads[0].disk: unknown variant `nvme`, expected `ssd` or `hdd`"
        );
        assert_eq!(
            problem(&one_zdb("    public: yes\n")),
            "line 7 column 13: workloads[0].public: `yes` is not `true` or `false`; write one of those"
        );
        assert_eq!(
            problem(&one_zdb("    password: \"\"\n")),
            "line 7 column 15: workloads[0].password: the password is empty; write one, or remove `password` for a namespace without one"
        );
        assert_eq!(
            problem(&one_zdb(&format!("    password: {}\n", "x".repeat(257)))),
            "line 7 column 15: workloads[0].password: the password is 257 bytes long; the most is 256"
        );
        assert_eq!(
            problem(&one_zdb("signers: [2, x]\n")),
            "line 7 column 14: signers[1]: invalid type: string \"x\", expected u32"
        );
        assert_eq!(
            problem(&one_zdb("quorum: -1\n")),
            "line 7 column 9: quorum: invalid type: integer `-1`, expected u32"
        );
        assert_eq!(
            problem(&one_zdb("workloads: []\n")),
            "line 7 column 1: workloads: duplicate field `workloads`; write each field once"
        );
    }

    #[test]
    fn expires_values() {
        let exp = |v: &str| ContractFile::parse(&one_zdb(&format!("expires: {v}\n"))).map(|f| f.expires.unwrap());
        assert_eq!(exp("30d").unwrap(), Expires::After(30 * 86400));
        assert_eq!(exp("12h").unwrap(), Expires::After(12 * 3600));
        assert_eq!(exp("2w").unwrap(), Expires::After(14 * 86400));
        assert_eq!(exp("2030-01-01").unwrap(), Expires::At(1893456000));
        assert_eq!(exp("2030-01-01T02:00:00+02:00").unwrap(), Expires::At(1893456000));
        assert_eq!(exp("\"2030-01-01T00:00:00Z\"").unwrap(), Expires::At(1893456000));
        let msg = |v: &str| exp(v).unwrap_err().to_string();
        assert_eq!(
            msg("30"),
            "line 7 column 10: expires: `30` has no unit; write `30d` (days), `30h` (hours) or `30w` (weeks); `expires` takes a duration from now (h, d, w) or a date such as `2026-01-31T12:00:00Z`"
        );
        assert_eq!(
            msg("soon"),
            "line 7 column 10: expires: `soon` is not a duration; write a number and a unit: h (hours), d (days) or w (weeks), e.g. `30d`; `expires` takes a duration from now (h, d, w) or a date such as `2026-01-31T12:00:00Z`"
        );
        assert_eq!(
            msg("2030-02-30"),
            "line 7 column 10: expires: `2030-02-30`: 2030-02 has no day 30; write a date such as `2026-01-31` (midnight UTC) or `2026-01-31T12:00:00Z`"
        );
        // Resolved against the time the contract is made.
        let f = ContractFile::parse(&one_zdb("expires: 2w\n")).unwrap();
        assert_eq!(f.to_contract(1, &owner(), NOW, 1).unwrap().expires_at, Some(NOW + 14 * 86400));
        let f = ContractFile::parse(&one_zdb("expires: 2023-01-01\n")).unwrap();
        assert_eq!(
            f.to_contract(1, &owner(), NOW, 1).unwrap_err().to_string(),
            "line 7 column 10: expires: 2023-01-01T00:00:00Z is in the past (it is now 2023-11-14T22:13:20Z); write a later date or a duration such as `30d`"
        );
        let f = ContractFile::parse(&one_zdb("expires: 5124095576030431h\n")).unwrap();
        assert_eq!(
            f.to_contract(1, &owner(), NOW, 1).unwrap_err().to_string(),
            "line 7 column 10: expires: the expiry is too far in the future; write a date instead"
        );
    }

    #[test]
    fn rules_after_reading_are_all_reported_with_lines() {
        let text = format!(
            "name: demo\nworkloads:\n  - name: db1\n    type: zdb\n    node: {KEY1}\n    size: 10GiB\n  - name: DB 2\n    type: zdb\n    node: {KEY2}\n    size: 10KiB\n  - name: db1\n    type: zdb\n    node: {KEY2}\n    size: 1GiB\nsigners: [2, 3, 2]\nquorum: 3\n"
        );
        let e = ContractFile::parse(&text).unwrap_err();
        let lines: Vec<String> = e.problems.iter().map(Problem::to_string).collect();
        assert_eq!(
            lines,
            [
                "line 7 column 11: workloads[1].name: workload name `DB 2` must be 1 to 32 characters of a-z, 0-9 and `-`, e.g. `db1`",
                "line 11 column 11: workloads[2].name: workload name `db1` is used twice (first at line 3); give each workload its own name",
                "line 15 column 17: signers[2]: twin 2 is listed twice; list each signer once",
                "line 16 column 9: quorum: quorum 3 is more than the 2 distinct signer(s) listed, so it could never be met; lower `quorum` or add twins to `signers`",
            ]
        );
        // A size rule (from gridtypes) points at the size; the workload name rule comes first.
        assert_eq!(
            problem(&one_zdb("").replace("10GiB", "10KiB")),
            "line 6 column 11: workloads[0].size: workload `db1`: size 10 KiB is below the minimum of 1 MiB; write e.g. `size: 1GiB`"
        );
        assert_eq!(
            problem(&one_zdb("").replace("10GiB", "17TiB")),
            "line 6 column 11: workloads[0].size: workload `db1`: size 17 TiB is above the maximum of 16 TiB; split it over several workloads"
        );
        assert_eq!(
            problem("workloads: []\n"),
            "line 1 column 12: workloads: the contract has no workloads; add at least one under `workloads` (see examples/single-zdb.yaml)"
        );
        assert_eq!(
            problem(&one_zdb("quorum: 1\n")),
            "line 7 column 9: quorum: quorum 1 is more than the 0 distinct signer(s) listed, so it could never be met; list the stakeholders' twin ids under `signers`, or remove `quorum`"
        );
        assert_eq!(
            problem(&one_zdb("").replace("name: demo", "name: \"a\\tb\"")),
            "line 1 column 7: name: contract name `a\\tb` must be 1 to 64 characters without control characters"
        );
    }

    #[test]
    fn yaml_syntax_errors() {
        assert_eq!(
            problem("workloads:\n\t- name: db1\n"),
            "line 2 column 1: found character that cannot start any token, while scanning for the next token; YAML does not allow tabs for indentation, indent with spaces"
        );
        assert_eq!(
            problem("name: x\n  workloads: []\n"),
            "line 2 column 12: mapping values are not allowed in this context"
        );
        assert_eq!(
            problem("- 1\n"),
            "invalid type: sequence, expected a contract: a mapping with `workloads` and optionally `name`, `signers`, `quorum`, `expires`"
        );
        assert_eq!(
            problem("workloads:\n  - db1\n"),
            "line 2 column 5: workloads[0]: invalid type: string \"db1\", expected a workload: a mapping with `name`, `type`, `node`, `size` and optionally `mode`, `disk`, `public`, `password`, `version`"
        );
    }

    #[test]
    fn to_contract_validates_last() {
        // A quorum of 0 with signers is allowed: they may sign, but the owner alone deploys.
        let f = ContractFile::parse(&one_zdb("signers: [4]\n")).unwrap();
        let c = f.to_contract(1, &owner(), NOW, 1).unwrap();
        assert_eq!((c.signers.clone(), c.quorum), (vec![4], 0));
        // Two contracts made at different times or with different nonces differ.
        assert_ne!(c.id(), f.to_contract(1, &owner(), NOW, 2).unwrap().id());
        // A problem only the final validation can find still gets the file's field name.
        let e = ValidationError::new("workloads[0].data.password_sealed", "bad");
        assert_eq!(f.validation_problem(&e).to_string(), "line 3 column 5: workloads[0].password: bad");
        let e = ValidationError::new("expires_at", "bad");
        assert_eq!(f.validation_problem(&e).field, "expires");
    }

    #[test]
    fn locating_fields() {
        let f = ContractFile::parse(&one_zdb("signers: [2, 3]\n")).unwrap();
        assert_eq!(f.locate("workloads[0].size"), (Some(6), Some(11)));
        assert_eq!(f.locate("workloads[0]"), (Some(3), Some(5)));
        assert_eq!(f.locate("signers[1]"), (Some(7), Some(14)));
        // Absent fields fall back to the nearest one present; nothing present, no line.
        assert_eq!(f.locate("workloads[0].password"), (Some(3), Some(5)));
        assert_eq!(f.locate("workloads[5].name"), f.locate("workloads"));
        assert_eq!(f.locate("expires"), (None, None));
        assert_eq!(
            parse_path("workloads[1].name"),
            [Seg::Key("workloads".into()), Seg::Index(1), Seg::Key("name".into())]
        );
    }

    #[test]
    fn suggestions() {
        let c = |w: &str, list: &[&str]| closest(w, &list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(c("sise", &["name", "size"]).as_deref(), Some("size"));
        assert_eq!(c("passwd", &["password", "public"]).as_deref(), Some("password"));
        assert_eq!(c("x", &["mode", "disk"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
