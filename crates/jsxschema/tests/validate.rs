//! Payload validation against the golden schemas: defaults, normalization, errors with paths,
//! and index entries.

use jsxschema::{IndexValue, Schema, ValidationError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Every schema under tests/schemas, by url.
fn registry() -> BTreeMap<String, Schema> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas");
    let mut schemas = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "schema") {
            let schema = Schema::parse(&fs::read_to_string(&path).unwrap()).unwrap();
            schemas.insert(schema.url.clone(), schema);
        }
    }
    schemas
}

fn validate(url: &str, payload: Value) -> Result<Value, ValidationError> {
    let schemas = registry();
    let lookup = |url: &str| schemas.get(url).cloned();
    schemas[url].validate(&payload, &lookup)
}

fn error(url: &str, payload: Value) -> (String, String) {
    let err = validate(url, payload).expect_err("payload should be refused");
    (err.path, err.message)
}

#[test]
fn missing_fields_take_defaults_or_zero_values() {
    let user = validate("tfgrid.phonebook.user.1", json!({"name": "kristof.3bot", "email": null})).unwrap();
    assert_eq!(
        user,
        json!({"name": "kristof.3bot", "email": "", "pubkey": "", "host": "", "description": "", "signature": ""})
    );
    let node = validate("tfgrid.node.1", json!({})).unwrap();
    let expected = json!({
        "node_id": "", "farm_id": 0, "os_version": "0.5.6", "uptime": 0, "load": 0.5, "approved": false,
        "tags": [], "created": 1_593_302_400, "updated": 1_593_347_400, "heartbeat": 0, "price": "10 USD",
        "state": "UP", "free_disk": 100.0, "location": "https://example.com/map#node", "cores": [2, 4],
        "secret": "c2VjcmV0", "contact": "ops@example.com", "public_ip": "10.0.0.1", "port": 8080,
        "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "extra": {"zone": "eu"}, "anything": [1, "a", true],
        "ports": [80, 443], "weights": [0.5, 1.0], "flags": [true, false], "names": ["a", "b"], "enabled": true,
        "capacity": 0,
        "farmer": {"name": "", "email": "", "wallets": []},
        "interfaces": [],
    });
    assert_eq!(node, expected);
}

#[test]
fn values_are_normalized() {
    let node = validate(
        "tfgrid.node.1",
        json!({
            "state": "maintenance", "approved": "yes", "enabled": 0, "load": 2, "uptime": "42",
            "created": "2020-01-02", "updated": "2020-01-02T00:00:10+00:00", "price": "3.5 eur", "free_disk": "25%",
            "public_ip": "::0001", "secret": "Zm8", "cores": [1, 2], "ports": ["22"], "flags": ["Y", 1],
            "uuid": "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "interfaces": [{"name": "eth0", "speed": "10000"}],
        }),
    )
    .unwrap();
    let expect = |field: &str, value: Value| assert_eq!(node[field], value, "{field}");
    expect("state", json!("MAINTENANCE"));
    expect("approved", json!(true));
    expect("enabled", json!(false));
    expect("load", json!(2.0));
    expect("uptime", json!(42));
    expect("created", json!(1_577_923_200));
    expect("updated", json!(1_577_923_210));
    expect("price", json!("3.5 EUR"));
    expect("free_disk", json!(25.0));
    expect("public_ip", json!("::1"));
    expect("secret", json!("Zm8="));
    expect("ports", json!([22]));
    expect("flags", json!([true, true]));
    expect("uuid", json!("0f8fad5b-d9cb-469f-a165-70867728950e"));
    expect("interfaces", json!([{"name": "eth0", "mac": "", "ips": [], "speed": 10000}]));
    let again = validate("tfgrid.node.1", node.clone()).unwrap();
    assert_eq!(again, node, "validating a normalized payload changes nothing");
}

#[test]
fn unknown_and_reserved_fields_are_refused() {
    let (path, message) = error("tfgrid.phonebook.user.1", json!({"name": "a", "nick": "b"}));
    assert_eq!(path, "nick");
    assert_eq!(
        message,
        "unknown field `nick`: schema `tfgrid.phonebook.user.1` has only name, email, pubkey, host, description, signature"
    );
    let (path, message) = error("tfgrid.phonebook.user.1", json!({"id": 3}));
    assert_eq!(path, "id");
    assert_eq!(message, "field `id` is reserved: the database assigns ids; leave it out of the payload");
    let (path, _) = error("jumpscale.bcdb.acl.2", json!({"users": [{"uid": 1, "right": ["r"]}]}));
    assert_eq!(path, "users[0].right");
}

#[test]
fn type_errors_name_the_field_and_the_value() {
    let cases = [
        (json!({"farm_id": "abc"}), "farm_id", "field `farm_id` must be an integer, got string \"abc\""),
        (json!({"farm_id": 9_223_372_036_854_775_808u64}), "farm_id", "field `farm_id` is out of range for a 64-bit integer: 9223372036854775808"),
        (json!({"capacity": -1e19}), "capacity", "field `capacity` is out of range for a 64-bit integer: -1e+19"),
        (json!({"load": true}), "load", "field `load` must be a number, got boolean true"),
        (json!({"node_id": 5}), "node_id", "field `node_id` must be a string, got number 5"),
        (json!({"state": "sideways"}), "state", "field `state` must be one of UP, DOWN, MAINTENANCE, got string \"sideways\""),
        (json!({"contact": "me at home"}), "contact", "field `contact` must be an email address (one @, a dot in the domain), got string \"me at home\""),
        (json!({"public_ip": "10.0.0.256"}), "public_ip", "field `public_ip` must be an IP address, got string \"10.0.0.256\""),
        (json!({"location": "example.com"}), "location", "field `location` must be a url (scheme://...), got string \"example.com\""),
        (json!({"port": 70000}), "port", "field `port` must be a port number (0 to 65535), got number 70000"),
        (json!({"tags": "a,b"}), "tags", "field `tags` must be a list, got string \"a,b\""),
        (json!({"ports": [1, "x"]}), "ports[1]", "field `ports[1]` must be an integer, got string \"x\""),
        (json!({"extra": [1]}), "extra", "field `extra` must be an object, got array of 1 items"),
        (json!({"farmer": "bob"}), "farmer", "field `farmer` must be an object of schema `tfgrid.farmer.1`, got string \"bob\""),
        (json!({"farmer": {"email": "x@y"}}), "farmer.email", "field `farmer.email` must be an email address (one @, a dot in the domain), got string \"x@y\""),
        (json!({"interfaces": [{}, {"speed": 1.5}]}), "interfaces[1].speed", "field `interfaces[1].speed` must be an integer, got number 1.5"),
        (json!({"interfaces": [{}, null]}), "interfaces[1]", "field `interfaces[1]` must be an object of schema `tfgrid.node.iface.1`, got null"),
        (json!({"updated": "yesterday"}), "updated", "field `updated` must be a date-time (\"YYYY-MM-DD HH:MM[:SS]\", RFC 3339, or unix seconds), got string \"yesterday\""),
    ];
    for (payload, path, message) in cases {
        let err = validate("tfgrid.node.1", payload.clone()).expect_err(&payload.to_string());
        assert_eq!((err.path.as_str(), err.to_string().as_str()), (path, message), "{payload}");
    }
}

#[test]
fn payload_must_be_an_object() {
    let (path, message) = error("tfgrid.phonebook.user.1", json!(["name"]));
    assert_eq!(path, "");
    assert_eq!(message, "payload must be a JSON object, got array of 1 items");
}

#[test]
fn embedded_schemas_come_from_the_lookup() {
    let schemas = registry();
    let acl = &schemas["jumpscale.bcdb.acl.2"];
    let payload = json!({"name": "team", "users": [{"uid": 7, "rights": ["r", "w"]}], "circles": []});
    let nothing = |_: &str| None;
    let err = acl.validate(&payload, &nothing).unwrap_err();
    assert_eq!(err.path, "users[0]");
    assert_eq!(err.message, "field `users[0]` refers to schema `jumpscale.bcdb.acl.user.2`, which is not known");
    let lookup = |url: &str| schemas.get(url).cloned();
    let stored = acl.validate(&payload, &lookup).unwrap();
    assert_eq!(stored["users"], json!([{"uid": 7, "rights": ["r", "w"]}]));
    assert_eq!(stored["md5"], json!(""));
}

#[test]
fn self_embedding_is_cut_off() {
    let schema = Schema::parse("@url = a.tree\nlabel = (S)\nchild = (O) !a.tree\n").unwrap();
    let lookup = |url: &str| (url == "a.tree").then(|| schema.clone());
    let err = schema.validate(&json!({}), &lookup).unwrap_err();
    assert!(err.message.ends_with("nests embedded objects more than 32 deep"), "{}", err.message);
    assert!(err.path.starts_with("child.child.child"), "{}", err.path);
    let list = Schema::parse("@url = a.list\nlabel = (S)\nchildren = (LO) !a.list\n").unwrap();
    let lookup = |url: &str| (url == "a.list").then(|| list.clone());
    let tree = json!({"label": "root", "children": [{"label": "leaf"}]});
    let stored = list.validate(&tree, &lookup).unwrap();
    assert_eq!(stored, json!({"label": "root", "children": [{"label": "leaf", "children": []}]}));
}

#[test]
fn index_entries_follow_the_markers() {
    let schemas = registry();
    let node = &schemas["tfgrid.node.1"];
    let lookup = |url: &str| schemas.get(url).cloned();
    let stored = node.validate(&json!({"node_id": "abc", "farm_id": 3, "state": "down"}), &lookup).unwrap();
    assert_eq!(
        node.index_entries(&stored),
        vec![
            ("node_id".to_string(), IndexValue::Text("abc".into()), true),
            ("farm_id".to_string(), IndexValue::Int(3), false),
            ("heartbeat".to_string(), IndexValue::Int(0), false),
            ("state".to_string(), IndexValue::Text("DOWN".into()), false),
            ("port".to_string(), IndexValue::Int(8080), false),
            ("enabled".to_string(), IndexValue::Bool(true), false),
        ]
    );
    let user = &schemas["tfgrid.phonebook.user.1"];
    let stored = user.validate(&json!({"name": "bob.3bot", "email": "bob@example.com"}), &lookup).unwrap();
    assert_eq!(
        user.index_entries(&stored),
        vec![
            ("name".to_string(), IndexValue::Text("bob.3bot".into()), true),
            ("email".to_string(), IndexValue::Text("bob@example.com".into()), false),
        ]
    );
    assert_eq!(user.index_entries(&json!({"email": null})), vec![], "absent and null values are skipped");
    let numeric = Schema::parse("@url = a.b\n&price** = (N)\nshare** = (P)\n").unwrap();
    let stored = numeric.validate(&json!({"price": "12.5 usd", "share": "40%"}), &|_| None).unwrap();
    assert_eq!(
        numeric.index_entries(&stored),
        vec![
            ("price".to_string(), IndexValue::Float(12.5), true),
            ("share".to_string(), IndexValue::Float(40.0), false)
        ]
    );
}
