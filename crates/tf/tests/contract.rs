//! `tf contract check` end to end: the real binary on the repository's example contracts (which
//! must stay valid) and on broken copies of them, with a temporary HOME.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary HOME with an identity, to run `tf` in.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        let home = Home::empty();
        home.expect(0, &["id", "new"]);
        home
    }

    fn empty() -> Self {
        Home(tempfile::tempdir().unwrap())
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tf"))
            .args(args)
            .env("HOME", self.0.path())
            .env_remove("TF_IDENTITY")
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap()
    }

    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "tf {args:?}\nstdout: {stdout}\nstderr: {stderr}");
        (stdout, stderr)
    }

    /// Writes `content` to a file in HOME and checks it, expecting exit status 1; returns stderr.
    fn broken(&self, content: &str) -> String {
        let path = self.0.path().join("broken.yaml");
        fs::write(&path, content).unwrap();
        let (stdout, stderr) = self.expect(1, &["contract", "check", path.to_str().unwrap()]);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("broken.yaml: "), "{stderr}");
        stderr
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name)
}

fn example_text(name: &str) -> String {
    fs::read_to_string(example(name)).unwrap()
}

/// The 1-based number of the only line of `text` equal to `line`.
fn line_of(text: &str, line: &str) -> usize {
    let found: Vec<usize> = text.lines().enumerate().filter(|(_, l)| *l == line).map(|(i, _)| i + 1).collect();
    assert_eq!(found.len(), 1, "`{line}` should be in the example exactly once");
    found[0]
}

/// `text` with its only line equal to `from` replaced by `to`.
fn replace_line(text: &str, from: &str, to: &str) -> String {
    line_of(text, from);
    text.lines().map(|l| if l == from { to } else { l }).collect::<Vec<_>>().join("\n") + "\n"
}

const SINGLE: &str = "single-zdb.yaml";
const SET: &str = "zdb-set-2-of-3.yaml";

#[test]
fn the_examples_are_valid() {
    let home = Home::new();
    let (out, _) = home.expect(0, &["contract", "check", example(SINGLE).to_str().unwrap()]);
    assert!(out.contains("single-zdb.yaml: valid"), "{out}");
    assert!(out.contains("name:      my-storage"), "{out}");
    assert!(out.contains("db1 ") && out.contains("10 GiB SSD (db1)"), "{out}");
    assert!(out.contains("password sealed to the node"), "{out}");
    assert!(out.contains("(in 30 days)"), "{out}");
    assert!(!out.contains("change-me"), "the password must not be shown: {out}");

    let (out, _) = home.expect(0, &["contract", "check", example(SET).to_str().unwrap()]);
    assert!(out.contains("workloads: 3") && out.contains("nodes:     3"), "{out}");
    assert!(
        out.contains("signers:   twins 2, 3, 4; quorum 2: deploys once the owner and 2 of them have signed"),
        "{out}"
    );
    for name in ["backup-a", "backup-b", "backup-c"] {
        assert!(out.contains(&format!("50 GiB HDD ({name})")), "{out}");
    }
    assert!(!out.contains("change-me"), "{out}");
}

#[test]
fn json_output_is_the_contract_to_send() {
    let home = Home::new();
    let (out, _) = home.expect(0, &["--json", "contract", "check", "--twin", "7", example(SET).to_str().unwrap()]);
    assert!(!out.contains("change-me"), "the plaintext password must not be in the contract");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    let contract: gridtypes::Contract = serde_json::from_value(v["contract"].clone()).unwrap();
    contract.validate().unwrap();
    assert_eq!(v["id"], contract.id().to_string(), "the printed id is the contract's");
    assert_eq!((contract.owner, contract.quorum, contract.signers.clone()), (7, 2, vec![2, 3, 4]));
    assert_eq!(contract.name.as_deref(), Some("team-backup"));
    assert_eq!(contract.nodes().len(), 3);
    assert_eq!(contract.expires_at.unwrap() - contract.created_at, 26 * 7 * 86400);
    for w in &contract.workloads {
        let gridtypes::WorkloadData::Zdb(z) = &w.data;
        assert_eq!((z.size, z.mode, z.disk), (50 << 30, gridtypes::ZdbMode::Seq, gridtypes::DiskKind::Hdd));
        assert!(z.password_sealed.is_some(), "{}", w.name);
    }
    assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(v["nodes"][0]["capacity"]["hru"], 50u64 << 30);
    assert_eq!(v["nodes"][0]["workloads"], serde_json::json!(["backup-a"]));

    // The owner key is the local identity's.
    let (show, _) = home.expect(0, &["--json", "id", "show"]);
    let show: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["public_key"], contract.owner_key.to_string());
}

#[test]
fn the_examples_explain_themselves() {
    for name in [SINGLE, SET] {
        let t = example_text(name);
        assert!(t.contains("tf nodes") && t.contains("PLACEHOLDER"), "{name} must say where real node keys come from");
        assert!(t.contains("tf contract check examples/"), "{name} must say how to check it");
        let comments = t.lines().filter(|l| l.trim_start().starts_with('#')).count();
        assert!(comments >= 20, "{name} has only {comments} comment lines");
    }
}

#[test]
fn a_typo_names_the_field_and_the_line() {
    let home = Home::new();
    let t = example_text(SINGLE);
    let n = line_of(&t, "    size: 10GiB");
    let err = home.broken(&replace_line(&t, "    size: 10GiB", "    sise: 10GiB"));
    assert!(
        err.contains(&format!(
            "error: {}: line {n} column 5: workloads[0].sise: unknown field `sise`, expected one of `name`, `type`, `node`, `size`, `mode`, `disk`, `public`, `password`, `version`; did you mean `size`?",
            home.0.path().join("broken.yaml").display()
        )),
        "{err}"
    );
    assert!(err.contains("broken.yaml: 1 problem found; fix and check again"), "{err}");
}

#[test]
fn bad_values_in_the_examples() {
    let home = Home::new();
    let single = example_text(SINGLE);
    let set = example_text(SET);
    let key1 = "    node: 1111111111111111111111111111111111111111111111111111111111111111";
    for (content, from, expected) in [
        (
            replace_line(&single, "    size: 10GiB", "    size: 10G"),
            "    size: 10GiB",
            "column 11: workloads[0].size: `10G` is ambiguous; write `10GiB` (powers of 1024) or `10GB` (powers of 1000)",
        ),
        (
            replace_line(&single, key1, "    node: 1111"),
            key1,
            "column 11: workloads[0].node: node key `1111` must be 64 hex characters (it has 4); copy it from `tf nodes`",
        ),
        (
            replace_line(&single, "    mode: user", "    mode: kv"),
            "    mode: user",
            "column 11: workloads[0].mode: unknown variant `kv`, expected `user` or `seq`",
        ),
        (
            replace_line(&single, "    password: \"change-me\"", "    password: \"\""),
            "    password: \"change-me\"",
            "column 15: workloads[0].password: the password is empty; write one, or remove `password` for a namespace without one",
        ),
        (
            replace_line(&single, "expires: 30d", "expires: 2001-01-01"),
            "expires: 30d",
            "column 10: expires: 2001-01-01T00:00:00Z is in the past",
        ),
        (
            replace_line(&single, "expires: 30d", "expires: 30"),
            "expires: 30d",
            "column 10: expires: `30` has no unit; write `30d` (days), `30h` (hours) or `30w` (weeks)",
        ),
        (
            replace_line(&set, "  - name: backup-b", "  - name: backup-a"),
            "  - name: backup-b",
            "column 11: workloads[1].name: workload name `backup-a` is used twice (first at line",
        ),
        (
            replace_line(&set, "quorum: 2", "quorum: 4"),
            "quorum: 2",
            "column 9: quorum: quorum 4 is more than the 3 distinct signer(s) listed, so it could never be met; lower `quorum` or add twins to `signers`",
        ),
        (
            replace_line(&set, "signers: [2, 3, 4]", "signers: [2, 3, 3]"),
            "signers: [2, 3, 4]",
            "column 17: signers[2]: twin 3 is listed twice; list each signer once",
        ),
    ] {
        let original = if content.contains("team-backup") { &set } else { &single };
        let want = format!("line {} {expected}", line_of(original, from));
        let err = home.broken(&content);
        assert!(err.contains(&want), "want `{want}` in:\n{err}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let home = Home::new();
    let set = example_text(SET);
    let content = replace_line(&set, "  - name: backup-c", "  - name: backup-a");
    let content = replace_line(&content, "quorum: 2", "quorum: 9");
    let content = content.replace("size: 50GiB", "size: 10KiB");
    let err = home.broken(&content);
    assert!(err.contains("broken.yaml: 5 problems found"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert!(
        lines[0].contains("workloads[0].size: workload `backup-a`: size 10 KiB is below the minimum of 1 MiB"),
        "{err}"
    );
    assert!(lines[2].contains("workloads[2].name: workload name `backup-a` is used twice"), "{err}");
    assert!(lines[3].contains("workloads[2].size: workload `backup-a`: size 10 KiB"), "{err}");
    assert!(lines[4].contains("quorum: quorum 9 is more than"), "{err}");
}

#[test]
fn yaml_mistakes() {
    let home = Home::new();
    let single = example_text(SINGLE);
    let n = line_of(&single, "    type: zdb");
    let err = home.broken(&replace_line(&single, "    type: zdb", "\ttype: zdb"));
    assert!(err.contains(&format!("line {n} column 1: ")) && err.contains("indent with spaces"), "{err}");
    let err = home.broken("this is not a contract\n");
    assert!(err.contains("expected a contract: a mapping with `workloads`"), "{err}");
    let err = home.broken("# nothing yet\n");
    assert!(err.contains("the file is empty; a contract needs at least a `workloads` list"), "{err}");
}

#[test]
fn json_problems() {
    let home = Home::new();
    let single = example_text(SINGLE);
    let path = home.0.path().join("broken.yaml");
    fs::write(&path, replace_line(&single, "    disk: ssd", "    disk: nvme")).unwrap();
    let (out, err) = home.expect(1, &["contract", "check", "--json", path.to_str().unwrap()]);
    assert!(err.is_empty(), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    let p = &v["problems"][0];
    assert_eq!(p["line"], line_of(&single, "    disk: ssd"));
    assert_eq!(p["column"], 11);
    assert_eq!(p["field"], "workloads[0].disk");
    assert_eq!(p["message"], "unknown variant `nvme`, expected `ssd` or `hdd`");
}

#[test]
fn other_errors_exit_2() {
    // No identity: problems in the file are still reported first (exit 1); a good file needs one.
    let home = Home::empty();
    let (_, err) = home.expect(2, &["contract", "check", example(SINGLE).to_str().unwrap()]);
    assert!(err.contains("no identity at ~/.config/tf/identity.json; create one with `tf id new`"), "{err}");
    home.broken("name: x\n");
    let (_, err) = home.expect(2, &["contract", "check", "/nonexistent/contract.yaml"]);
    assert!(err.contains("cannot read /nonexistent/contract.yaml"), "{err}");
    let (_, err) = home.expect(2, &["contract", "check", "--twin", "x", "f.yaml"]);
    assert!(err.contains("--twin"), "{err}");
}

#[test]
fn contract_is_hidden_from_the_main_help() {
    let home = Home::empty();
    let (out, _) = home.expect(0, &["--help"]);
    assert!(!out.contains("contract check"), "{out}");
    let (out, _) = home.expect(0, &["contract", "check", "--help"]);
    assert!(out.contains("--twin <ID>") && out.contains("[default: 1]"), "{out}");
}
