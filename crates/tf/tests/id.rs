//! `tf id` end to end: the real binary, a temporary HOME, no other environment.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const ZERO_WORDS: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
     abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";
const TFV2_PUB: &str = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
const SUBSTRATE_PUB: &str = "9125f505bdef2cb5825b9931769316d3e2f22150786489a04f39b434ec9fb294";

/// A temporary HOME to run `tf` in.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn identity_file(&self) -> PathBuf {
        self.path().join(".config/tf/identity.json")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tf"));
        cmd.args(args).env("HOME", self.path()).env_remove("TF_IDENTITY").env_remove("XDG_CONFIG_HOME");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// Runs and expects exit status `code`; returns stdout.
    fn expect(&self, code: i32, args: &[&str], stdin: Option<&str>) -> Output {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(code),
            "tf {args:?}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        text(&self.expect(0, args, None).stdout)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn new_show_sign_verify() {
    let home = Home::new();
    let out = home.ok(&["id", "new"]);
    assert!(out.contains("Write them down"), "{out}");
    let words = out.lines().find(|l| l.split_whitespace().count() == 24).expect("a line of 24 words").trim();
    let show = home.ok(&["id", "show"]);
    assert!(show.contains("scheme:     tfv2") && show.contains("~/.config/tf/identity.json"), "{show}");
    assert!(!show.contains(words) && !show.contains(words.split(' ').next().unwrap()), "{show}");
    assert!(out.contains(show.lines().next().unwrap()), "new and show disagree on the public key");

    let file = home.path().join("data.txt");
    fs::write(&file, "some content\n").unwrap();
    let file = file.to_str().unwrap();
    let sig = home.ok(&["id", "sign", file]).trim().to_string();
    assert_eq!(sig.len(), 128);
    assert_eq!(home.ok(&["id", "verify", file, "--signature", &sig]).trim(), "valid");

    fs::write(file, "some content!\n").unwrap();
    let out = home.expect(1, &["id", "verify", file, "--signature", &sig], None);
    assert!(text(&out.stdout).contains("signature does not match"));
}

#[test]
fn json_outputs() {
    let home = Home::new();
    let new = home.json(&["id", "new", "--scheme", "substrate"]);
    assert_eq!(new["scheme"], "substrate");
    assert_eq!(new["path"], home.identity_file().to_str().unwrap());
    assert_eq!(new["mnemonic"].as_str().unwrap().split(' ').count(), 24);
    let show = home.json(&["id", "show"]);
    assert_eq!(show["public_key"], new["public_key"]);
    assert!(show.get("mnemonic").is_none());

    let file = home.path().join("empty");
    fs::write(&file, "").unwrap();
    let signed = home.json(&["id", "sign", file.to_str().unwrap()]);
    assert_eq!(signed["sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(signed["public_key"], new["public_key"]);

    // Anyone can verify with the key alone, without an identity of their own.
    let other = Home::new();
    let (sig, key) = (signed["signature"].as_str().unwrap(), signed["public_key"].as_str().unwrap());
    let verified = other.json(&["id", "verify", file.to_str().unwrap(), "--signature", sig, "--key", key]);
    assert_eq!(verified["valid"], true);
}

#[test]
fn wrong_key_does_not_verify() {
    let (alice, bob) = (Home::new(), Home::new());
    alice.ok(&["id", "new"]);
    bob.ok(&["id", "new"]);
    let file = alice.path().join("f");
    fs::write(&file, "x").unwrap();
    let file = file.to_str().unwrap();
    let sig = alice.ok(&["id", "sign", file]).trim().to_string();
    bob.expect(1, &["id", "verify", file, "--signature", &sig], None);
    let out = alice.expect(2, &["id", "verify", file, "--signature", "abcd"], None);
    assert!(text(&out.stderr).contains("128 hex characters"));
}

#[cfg(unix)]
#[test]
fn identity_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    home.ok(&["id", "new"]);
    let mode = fs::metadata(home.identity_file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    fs::set_permissions(home.identity_file(), fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.expect(0, &["id", "show"], None);
    assert!(text(&out.stderr).contains("chmod 600"));
}

#[test]
fn new_refuses_to_overwrite_without_force() {
    let home = Home::new();
    let first = home.json(&["id", "new"]);
    let out = home.expect(2, &["id", "new"], None);
    assert!(text(&out.stderr).contains("--force"), "{}", text(&out.stderr));
    assert_eq!(home.json(&["id", "show"])["public_key"], first["public_key"]);
    home.expect(2, &["id", "import"], Some(ZERO_WORDS));
    let second = home.json(&["id", "new", "--force"]);
    assert_ne!(second["public_key"], first["public_key"]);
    assert_eq!(home.json(&["id", "show"])["public_key"], second["public_key"]);
}

#[test]
fn import_test_vectors_for_both_schemes() {
    for (scheme, expected) in [("tfv2", TFV2_PUB), ("substrate", SUBSTRATE_PUB)] {
        let home = Home::new();
        let out = home.expect(0, &["id", "import", "--scheme", scheme], Some(&format!("{ZERO_WORDS}\n")));
        assert!(!text(&out.stdout).contains("abandon"));
        let show = home.json(&["id", "show"]);
        assert_eq!(show["public_key"], expected);
        assert_eq!(show["scheme"], scheme);
    }
}

#[test]
fn import_explains_bad_words() {
    let home = Home::new();
    let twelve = ZERO_WORDS.split(' ').take(12).collect::<Vec<_>>().join(" ");
    let out = home.expect(2, &["id", "import"], Some(&twelve));
    assert!(text(&out.stderr).contains("12 words; a 3Bot key needs 24"), "{}", text(&out.stderr));
    let out = home.expect(2, &["id", "import"], Some(&ZERO_WORDS.replace("art", "zoo")));
    assert!(text(&out.stderr).contains("checksum"));
    assert!(!home.identity_file().exists());
}

#[test]
fn missing_identity_gives_advice() {
    let home = Home::new();
    let out = home.expect(2, &["id", "show"], None);
    let err = text(&out.stderr);
    assert!(err.contains("no identity at ~/.config/tf/identity.json") && err.contains("tf id new"), "{err}");
}

#[test]
fn explicit_identity_path_and_tfuser_seed_file() {
    let home = Home::new();
    let seed = home.path().join("user.seed");
    fs::write(&seed, format!("\"1.1.0\"{{\"mnemonic\":\"{ZERO_WORDS}\",\"threebotid\":7}}")).unwrap();
    let show = home.json(&["id", "show", "--identity", seed.to_str().unwrap()]);
    assert_eq!(show["public_key"], TFV2_PUB);
    let custom = home.path().join("elsewhere/me.json");
    home.ok(&["--identity", custom.to_str().unwrap(), "id", "new"]);
    assert!(custom.exists() && !home.identity_file().exists());
}
