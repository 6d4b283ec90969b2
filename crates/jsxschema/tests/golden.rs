//! Golden tests: every `tests/schemas/<url>.schema` parses to the structure recorded next to it in
//! `<url>.expected.json`; and a table of bad schemas gives the recorded error.
//!
//! To re-record the expected files after an intended change, run with `JSXSCHEMA_BLESS=1` and
//! review the diff by eye.

use jsxschema::{Kind, Schema};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas")
}

fn schema_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(schema_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "schema"))
        .collect();
    files.sort();
    files
}

fn load(url: &str) -> Schema {
    let text = fs::read_to_string(schema_dir().join(format!("{url}.schema"))).unwrap();
    Schema::parse(&text).unwrap_or_else(|e| panic!("{url}: {}", e.render(&text)))
}

#[test]
fn schemas_match_their_golden_files() {
    let files = schema_files();
    assert_eq!(files.len(), 9, "schema files: {files:?}");
    let bless = std::env::var_os("JSXSCHEMA_BLESS").is_some();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let schema = Schema::parse(&text).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.render(&text)));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(schema.url, stem, "file name is the url");
        assert_eq!(schema.hash, <[u8; 32]>::from(Sha256::digest(text.as_bytes())));
        let actual = serde_json::to_value(&schema).unwrap();
        let golden = path.with_extension("expected.json");
        if bless {
            fs::write(&golden, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        }
        let expected: Value = serde_json::from_str(&fs::read_to_string(&golden).unwrap()).unwrap();
        assert_eq!(actual, expected, "{stem} differs from {}", golden.display());
        let back: Schema = serde_json::from_value(expected).unwrap();
        assert_eq!(back, schema, "{stem} does not round-trip through JSON");
    }
}

/// (name, kind, indexed, unique, default) of every field.
fn summary(schema: &Schema) -> Vec<(&str, String, bool, bool, Option<Value>)> {
    schema
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind.to_string(), f.indexed, f.unique, f.default.clone()))
        .collect()
}

#[test]
fn phonebook_user() {
    let schema = load("tfgrid.phonebook.user.1");
    assert_eq!(schema.properties.get("acl").map(String::as_str), Some("false"));
    let s = "(S)".to_string();
    assert_eq!(
        summary(&schema),
        vec![
            ("name", s.clone(), true, true, None),
            ("email", s.clone(), true, false, None),
            ("pubkey", s.clone(), false, false, None),
            ("host", s.clone(), false, false, None),
            ("description", s.clone(), false, false, None),
            ("signature", s, false, false, None),
        ]
    );
    assert_eq!(schema.fields[2].comment.as_deref(), Some("hex ed25519 public key"));
    assert_eq!(schema.fields[4].comment, None);
    assert_eq!(schema.fields[0].line, 5);
}

#[test]
fn acl_embeds_users_and_circles() {
    let schema = load("jumpscale.bcdb.acl.2");
    let kinds: Vec<String> = schema.fields.iter().map(|f| f.kind.to_string()).collect();
    assert_eq!(kinds, ["(S)", "(LO) !jumpscale.bcdb.acl.user.2", "(LO) !jumpscale.bcdb.acl.circle.2", "(S)"]);
    assert!(schema.fields[0].unique && schema.fields[0].indexed, "`name` is unique by itself");
    assert_eq!(schema.fields[1].kind, Kind::List(Box::new(Kind::Object("jumpscale.bcdb.acl.user.2".into()))));
    let user = load("jumpscale.bcdb.user.2");
    assert_eq!(
        summary(&user),
        vec![
            ("name", "(S)".into(), true, true, Some(json!(""))),
            ("threebot_id", "(I)".into(), true, false, Some(json!(0))),
            ("email", "(S)".into(), true, false, Some(json!(""))),
            ("pubkey", "(S)".into(), false, false, Some(json!(""))),
            ("ipaddr", "(ipaddr)".into(), false, false, None),
        ]
    );
    let circle = load("jumpscale.bcdb.circle.2");
    assert_eq!(circle.fields[2].kind, Kind::List(Box::new(Kind::Int)));
}

#[test]
fn every_type_with_defaults() {
    let schema = load("tfgrid.node.1");
    let field = |name: &str| schema.field(name).unwrap_or_else(|| panic!("no field {name}"));
    assert!(field("node_id").unique && field("node_id").indexed);
    assert_eq!(field("os_version").kind, Kind::String);
    assert_eq!(field("uptime").kind, Kind::Int);
    assert_eq!(field("load").kind, Kind::Float);
    assert_eq!(field("approved").kind, Kind::Bool);
    assert_eq!(field("tags").kind, Kind::List(Box::new(Kind::String)));
    assert_eq!(field("created").default, Some(json!(1_593_302_400)));
    assert_eq!(field("updated").default, Some(json!(1_593_347_400)));
    assert_eq!(field("heartbeat").default, None);
    assert_eq!(field("price").default, Some(json!("10 USD")));
    assert_eq!(field("state").kind, Kind::Enum(vec!["UP".into(), "DOWN".into(), "MAINTENANCE".into()]));
    assert_eq!(field("state").default, Some(json!("UP")));
    assert_eq!(field("free_disk").default, Some(json!(100.0)));
    assert_eq!(field("location").default, Some(json!("https://example.com/map#node")));
    assert_eq!(field("location").comment.as_deref(), Some("the # inside quotes is not a comment"));
    assert_eq!(field("cores").default, Some(json!([2, 4])));
    assert_eq!(field("uuid").default, Some(json!("0f8fad5b-d9cb-469f-a165-70867728950e")));
    assert_eq!(field("extra").default, Some(json!({"zone": "eu"})));
    assert_eq!(field("anything").default, Some(json!([1, "a", true])));
    assert_eq!(field("weights").default, Some(json!([0.5, 1.0])));
    assert_eq!(field("flags").default, Some(json!([true, false])));
    assert_eq!(field("names").default, Some(json!(["a", "b"])));
    assert_eq!(field("enabled").default, Some(json!(true)));
    assert_eq!(field("farmer").kind, Kind::Object("tfgrid.farmer.1".into()));
    let indexed: Vec<&str> = schema.fields.iter().filter(|f| f.indexed).map(|f| f.name.as_str()).collect();
    assert_eq!(indexed, ["node_id", "farm_id", "heartbeat", "state", "port", "enabled"]);
}

/// Bad schemas and the exact error each gives.
const BAD: &[(&str, &str)] = &[
    ("name = (S)\n", "line 1: missing `@url = ...` line; every schema needs exactly one"),
    ("", "line 1: missing `@url = ...` line; every schema needs exactly one"),
    ("@url = a.b.1\nx = (S)\n@url = a.b.2\n", "line 3: duplicate @url (first given on line 1)"),
    ("@url = a.b\n@acl = true\n@acl = false\n", "line 3: duplicate property @acl"),
    ("@url = a b\n", "line 1: invalid schema url `a b`; use dot-separated words of letters, digits, `_` and `-`, e.g. `my.schema.1`"),
    ("@url\n", "line 1: expected `=` after `@url`"),
    ("@url =\n", "line 1: @url has no value"),
    ("@url = a.b\n\nid = 0 (I)\n", "line 3: `id` is reserved: the database assigns it; pick another field name"),
    ("@url = a.b\nname* = (S)\n", "line 2: key based indexing (*) not supported, use **"),
    ("@url = a.b\nname*** = (S)\n", "line 2: full-text indexing (***) was removed, use **"),
    ("@url = a.b\nname**** = (S)\n", "line 2: too many `*` after the field name; use ** to index"),
    (
        "@url = a.b\n# sizes\n\nsize = 3 (Q)\n",
        "line 4: unknown type `(Q)`; expected one of S, I, F, B, D, T, N, E, P, U, H, O, L, L<type>, bytes, email, ipaddr, ipport, guid, dict, i64 (or their long names)",
    ),
    ("@url = a.b\nsize = abc (I)\n", "line 2: bad default `abc` for field `size` (I): must be an integer, got string \"abc\""),
    ("@url = a.b\nok = maybe (B)\n", "line 2: bad default `maybe` for field `ok` (B): must be a boolean (true/false, yes/no, y/n, 1/0), got string \"maybe\""),
    ("@url = a.b\nday = \"2020-02-30\" (D)\n", "line 2: bad default `2020-02-30` for field `day` (D): must be a date (\"YYYY-MM-DD\" or unix seconds), got string \"2020-02-30\""),
    ("@url = a.b\nports = [80, x] (LI)\n", "line 2: bad default `[80, x]` for field `ports` (LI): item [1] must be an integer, got string \"x\""),
    ("@url = a.b\nowner = (O)\n", "line 2: (O) needs the url of the embedded schema, as in `(O) !my.sub.schema.1`"),
    ("@url = a.b\nowners = (LO)\n", "line 2: (LO) needs the url of the embedded schema, as in `(LO) !my.sub.schema.1`"),
    ("@url = a.b\nowner = x (O) !c.d\n", "line 2: bad default `x` for field `owner` (O): embedded objects take no default"),
    ("@url = a.b\nsize = 3 (I) !c.d\n", "line 2: `!url` is only allowed after (O) or (LO)"),
    ("@url = a.b\nname = \"abc (S)\n", "line 2: unterminated quote: no closing \""),
    ("@url = a.b\nname = 'abc (S) # a comment\n", "line 2: unterminated quote: no closing '"),
    ("@url = a.b\nname = 'abc (S) # it's\n", "line 2: unexpected text after the quoted default; expected `(TYPE)`"),
    ("@url = a.b\nsize = 3 (I\n", "line 2: missing `)` after the type"),
    ("@url = a.b\nsize = 3 ()\n", "line 2: empty type `()`; write e.g. (S) or (I)"),
    ("@url = a.b\nsize = 3 (I) extra\n", "line 2: unexpected `extra` after the type"),
    ("@url = a.b\nsize 3 (I)\n", "line 2: unexpected `3` after field name `size`; expected `=`"),
    ("@url = a.b\n= 3 (I)\n", "line 2: expected a field name (a letter or `_`, then letters, digits or `_`)"),
    ("@url = a.b\nsize = 3 (I)\nsize = 4 (I)\n", "line 3: duplicate field `size` (first defined on line 2)"),
    ("@url = a.b\nsize =\n", "line 2: field `size` has no type and no default to guess it from; write `size = (S)`"),
    ("@url = a.b\nsize = big\n", "line 2: cannot guess the type of default `big` for field `size`; add a (TYPE)"),
    ("@url = a.b\ncolor = (E)\n", "line 2: enum field `color` needs its values as default, as in `color = \"red,green\" (E)`"),
    ("@url = a.b\ncolor = \"red,,blue\" (E)\n", "line 2: empty value in the enum list of field `color`"),
    ("@url = a.b\ncolor = \"red,dark red\" (E)\n", "line 2: enum value `dark red` of field `color` must be letters, digits or `_`"),
    ("@url = a.b\ncolor = \"red,Red\" (E)\n", "line 2: enum value `RED` of field `color` is listed twice"),
    ("@url = a.b\ntags** = (LS)\n", "line 2: field `tags` of type (LS) cannot be indexed (no ** or &)"),
    ("@url = a.b\nx = \"a\" b (S)\n", "line 2: unexpected text after the quoted default; expected `(TYPE)`"),
    ("@url = a.b\nx = (LL)\n", "line 2: lists of lists `(LL)` are not supported"),
    ("@url = a.b\nx = (O) !bad url\n", "line 2: invalid schema url `bad url`; use dot-separated words of letters, digits, `_` and `-`, e.g. `my.schema.1`"),
    ("@url = a.b\nx = 101 (P)\n", "line 2: bad default `101` for field `x` (P): must be between 0 and 100, got number 101"),
    ("@url = a.b\nx = me@home (email)\n", "line 2: bad default `me@home` for field `x` (email): must be an email address (one @, a dot in the domain), got string \"me@home\""),
];

#[test]
fn bad_schemas_give_line_pointing_errors() {
    for (text, expected) in BAD {
        match Schema::parse(text) {
            Ok(schema) => panic!("{text:?} parsed: {schema:?}"),
            Err(e) => assert_eq!(e.to_string(), *expected, "for {text:?}"),
        }
    }
}

#[test]
fn errors_point_at_the_column() {
    let text = "@url = a.b\n# sizes\n\nsize = 3 (Q)\n";
    let err = Schema::parse(text).unwrap_err();
    assert_eq!((err.line, err.column), (4, Some(10)));
    let expected = "line 4: unknown type `(Q)`; expected one of S, I, F, B, D, T, N, E, P, U, H, O, L, L<type>, \
                    bytes, email, ipaddr, ipport, guid, dict, i64 (or their long names)\n    \
                    4 | size = 3 (Q)\n      |          ^";
    assert_eq!(err.render(text), expected);
    let err = Schema::parse("@url = a.b\n  tag* = (S)").unwrap_err();
    assert_eq!(err.column, Some(6));
    let err = Schema::parse("@url = a.b\nname = 'abc (S)").unwrap_err();
    assert_eq!(err.column, Some(8));
    let err = Schema::parse("x = (S)\n").unwrap_err();
    assert_eq!((err.line, err.column), (1, None));
}

#[test]
fn accepted_variants() {
    let text = "\
        @url = 'a.b.c'   # quoted url\n\
        \t@note = \"x # y\"\n\
        1: count = 5 (Integer)\n\
        2: ratio = 0.5 (FLOAT)\n\
        &key = (str)\n\
        when = 1593302400 (T)\n\
        ok = Yes (bool)\n\
        blob = (bin)\n\
        raw = (json)\n\
        any = (list)\n\
        owner = (jsxobject) !x.y\n";
    let schema = Schema::parse(text).unwrap_or_else(|e| panic!("{}", e.render(text)));
    assert_eq!(schema.url, "a.b.c");
    assert_eq!(schema.properties.get("note").map(String::as_str), Some("x # y"));
    let kinds: Vec<String> = schema.fields.iter().map(|f| f.kind.code()).collect();
    assert_eq!(kinds, ["I", "F", "S", "T", "B", "bytes", "dict", "L", "O"]);
    assert_eq!(schema.field("ok").unwrap().default, Some(json!(true)));
    assert!(schema.field("key").unwrap().unique);
}
