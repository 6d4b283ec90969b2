//! Identity files: where the secret lives on disk.
//!
//! # Format (version 1)
//!
//! A JSON object. From words (the usual case):
//!
//! ```json
//! {"version": 1, "scheme": "tfv2", "mnemonic": "word1 word2 ... word24"}
//! ```
//!
//! From a raw ed25519 seed (64 hex characters; `scheme` optional and informational):
//!
//! ```json
//! {"version": 1, "seed": "9d61b19d...7f60"}
//! ```
//!
//! `scheme` is `tfv2` (default when absent) or `substrate`. Unknown fields are ignored; a
//! different `version` is refused, so an old program never misreads a newer file.
//!
//! [`Identity::load`] also reads the seed file of tfuser (TF grid v2), version `1.1.0`: a JSON
//! stream of two values, the string `"1.1.0"` then `{"mnemonic": "...", "threebotid": N}`. Its
//! words are read with the [`KeyScheme::TfV2`] scheme. Version `1.0.0` (a raw binary seed) is
//! refused.
//!
//! Files are written with mode 0600 from the moment they are created, in directories created
//! with mode 0700.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Error, Identity, KeyScheme};

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<KeyScheme>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mnemonic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<&'a str>,
}

#[derive(Deserialize)]
struct FileV1 {
    version: u64,
    scheme: Option<String>,
    mnemonic: Option<Zeroizing<String>>,
    seed: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
struct TfuserBody {
    mnemonic: Zeroizing<String>,
}

impl Identity {
    /// Reads an identity file (format in [`crate::file`]), or a tfuser 1.1.0 seed file.
    pub fn load(path: &Path) -> Result<Identity, Error> {
        let bytes = Zeroizing::new(fs::read(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            _ => Error::io(path, e),
        })?);
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'"') => load_tfuser(path, &bytes),
            Some(b'{') => load_v1(path, &bytes),
            _ => Err(Error::bad_file(path, "not an identity file (expected a JSON object)")),
        }
    }

    /// Writes the identity to a new file; refuses if one exists, because overwriting would
    /// destroy a key that may not be written down anywhere else.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        create_parent(path)?;
        write_new(path, &self.file_bytes()).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => Error::AlreadyExists(path.to_path_buf()),
            _ => Error::io(path, e),
        })
    }

    /// Writes the identity, atomically replacing any file at `path` (written beside it, then
    /// renamed over it), for an explicit `--force`.
    pub fn save_overwrite(&self, path: &Path) -> Result<(), Error> {
        create_parent(path)?;
        let tmp = temp_path(path);
        write_new(&tmp, &self.file_bytes()).map_err(|e| Error::io(&tmp, e))?;
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(path, e));
        }
        sync_dir(path);
        Ok(())
    }

    /// Where the identity lives unless told otherwise: `$TF_IDENTITY`, else
    /// `$XDG_CONFIG_HOME/tf/identity.json`, else `~/.config/tf/identity.json`; `None` when
    /// none of these variables is set.
    pub fn default_path() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(path) = var("TF_IDENTITY") {
            return Some(path);
        }
        let config = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute());
        let config = config.or_else(|| var("HOME").map(|home| home.join(".config")))?;
        Some(config.join("tf").join("identity.json"))
    }

    fn file_bytes(&self) -> Zeroizing<Vec<u8>> {
        let seed = Zeroizing::new(hex::encode(self.signing_key().as_bytes()));
        let out = match self.mnemonic_ref() {
            Some(words) => FileOut { version: 1, scheme: Some(self.scheme()), mnemonic: Some(words), seed: None },
            None => FileOut { version: 1, scheme: None, mnemonic: None, seed: Some(&seed) },
        };
        let mut bytes = Zeroizing::new(serde_json::to_vec_pretty(&out).expect("serializing strings cannot fail"));
        bytes.push(b'\n');
        bytes
    }
}

/// A JSON error without the text it choked on (which may be secret).
fn json_error(path: &Path, e: serde_json::Error) -> Error {
    Error::bad_file(path, format!("not a valid identity file (bad JSON at line {} column {})", e.line(), e.column()))
}

fn load_v1(path: &Path, bytes: &[u8]) -> Result<Identity, Error> {
    let file: FileV1 = serde_json::from_slice(bytes).map_err(|e| json_error(path, e))?;
    if file.version != 1 {
        let reason = format!("identity file version {} is not supported (this program reads version 1)", file.version);
        return Err(Error::bad_file(path, reason));
    }
    let scheme = match file.scheme {
        Some(name) => name.parse().map_err(|e: Error| Error::bad_file(path, e.to_string()))?,
        None => KeyScheme::default(),
    };
    match (file.mnemonic, file.seed) {
        (Some(words), None) => Identity::from_mnemonic(&words, scheme),
        (None, Some(seed)) => {
            let mut bytes = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(seed.trim(), &mut bytes[..])
                .map_err(|_| Error::bad_file(path, "\"seed\" must be 64 hex characters"))?;
            Ok(Identity::from_seed(*bytes).with_scheme(scheme))
        }
        _ => Err(Error::bad_file(path, "an identity file needs exactly one of \"mnemonic\" and \"seed\"")),
    }
}

fn load_tfuser(path: &Path, bytes: &[u8]) -> Result<Identity, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let version = String::deserialize(&mut de).map_err(|e| json_error(path, e))?;
    match version.as_str() {
        "1.1.0" => {}
        "1.0.0" => {
            let reason = "tfuser seed file version 1.0.0 (raw binary seed) is not supported; \
                          import the 24 words instead with `tf id import`";
            return Err(Error::bad_file(path, reason));
        }
        _ => return Err(Error::bad_file(path, "unknown tfuser seed file version (only 1.1.0 is supported)")),
    }
    let body = TfuserBody::deserialize(&mut de).map_err(|e| json_error(path, e))?;
    de.end().map_err(|e| json_error(path, e))?;
    Identity::from_mnemonic(&body.mnemonic, KeyScheme::TfV2)
}

fn create_parent(path: &Path) -> Result<(), Error> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes` durably.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

fn temp_path(path: &Path) -> PathBuf {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).expect("the operating system's random number generator failed");
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", hex::encode(nonce)))
}

/// Makes a rename durable; best effort, as the file itself is already synced.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::tests::ZERO_WORDS;

    const TFV2_PUB: &str = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

    #[test]
    fn save_load_round_trip_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        for (i, id) in [Identity::generate(KeyScheme::Substrate), Identity::from_seed([9; 32])].iter().enumerate() {
            let path = dir.path().join(format!("a/b/{i}.json"));
            id.save(&path).unwrap();
            let back = Identity::load(&path).unwrap();
            assert_eq!(back.public_key(), id.public_key());
            assert_eq!(back.scheme(), id.scheme());
            assert_eq!(back.mnemonic(), id.mnemonic());
        }
    }

    #[test]
    fn documented_json_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        Identity::from_mnemonic(ZERO_WORDS, KeyScheme::Substrate).unwrap().save(&path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"version": 1, "scheme": "substrate", "mnemonic": ZERO_WORDS}));
        let seed = dir.path().join("seed.json");
        Identity::from_seed([0; 32]).save(&seed).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&seed).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"version": 1, "seed": "00".repeat(32)}));
        fs::write(&seed, format!("{{\"version\":1,\"seed\":\"{}\"}}", "00".repeat(32))).unwrap();
        assert_eq!(Identity::load(&seed).unwrap().public_key().to_string(), TFV2_PUB);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/id.json");
        Identity::generate(KeyScheme::TfV2).save(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        Identity::generate(KeyScheme::TfV2).save_overwrite(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn save_refuses_overwrite_but_save_overwrite_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        let first = Identity::generate(KeyScheme::TfV2);
        first.save(&path).unwrap();
        let second = Identity::generate(KeyScheme::TfV2);
        assert!(matches!(second.save(&path), Err(Error::AlreadyExists(_))));
        assert_eq!(Identity::load(&path).unwrap().public_key(), first.public_key());
        second.save_overwrite(&path).unwrap();
        assert_eq!(Identity::load(&path).unwrap().public_key(), second.public_key());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temp file left behind");
    }

    #[test]
    fn tfuser_seed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.seed");
        fs::write(&path, format!("\"1.1.0\"{{\"mnemonic\":\"{ZERO_WORDS}\",\"threebotid\":12}}")).unwrap();
        assert_eq!(Identity::load(&path).unwrap().public_key().to_string(), TFV2_PUB);
        fs::write(&path, format!("\"1.1.0\"\n{{\"mnemonic\": \"{ZERO_WORDS}\", \"threebotid\": 12}}\n")).unwrap();
        assert_eq!(Identity::load(&path).unwrap().scheme(), KeyScheme::TfV2);
        fs::write(&path, b"\"1.0.0\"\x01\x02\x03").unwrap();
        assert!(Identity::load(&path).unwrap_err().to_string().contains("1.0.0"));
        fs::write(&path, "\"2.0.0\"{}").unwrap();
        assert!(Identity::load(&path).unwrap_err().to_string().contains("only 1.1.0"));
    }

    #[test]
    fn bad_files_are_clear_and_leak_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        assert!(matches!(Identity::load(&path), Err(Error::NotFound(_))));
        let cases = [
            (format!("{{\"version\":2,\"mnemonic\":\"{ZERO_WORDS}\"}}"), "version 2"),
            (r#"{"version":1}"#.to_string(), "exactly one"),
            (r#"{"version":1,"seed":"zz"}"#.to_string(), "64 hex"),
            (format!("{{\"version\":1,\"scheme\":\"x\",\"mnemonic\":\"{ZERO_WORDS}\"}}"), "unknown key scheme `x`"),
            (format!("{{\"version\":\"{ZERO_WORDS}\"}}"), "bad JSON"),
            ("binary".to_string(), "not an identity file"),
        ];
        for (content, expected) in cases {
            fs::write(&path, &content).unwrap();
            let err = Identity::load(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("abandon"), "{err}");
        }
    }

    #[test]
    fn default_path_order() {
        // Environment variables are process-wide; this is the only test that touches them.
        let set = |k: &str, v: Option<&str>| match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        };
        set("TF_IDENTITY", Some("/x/id.json"));
        assert_eq!(Identity::default_path(), Some(PathBuf::from("/x/id.json")));
        set("TF_IDENTITY", None);
        set("XDG_CONFIG_HOME", Some("/cfg"));
        assert_eq!(Identity::default_path(), Some(PathBuf::from("/cfg/tf/identity.json")));
        set("XDG_CONFIG_HOME", Some(""));
        set("HOME", Some("/home/u"));
        assert_eq!(Identity::default_path(), Some(PathBuf::from("/home/u/.config/tf/identity.json")));
        set("HOME", None);
        assert_eq!(Identity::default_path(), None);
    }
}
