//! Garbage in, errors out: the parser and the validator never panic, whatever they are fed.

use jsxschema::Schema;
use serde_json::{json, Map, Value};

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Pieces that mean something to the parser, plus noise.
const PIECES: &[&str] = &[
    "@url",
    "@acl",
    "@",
    "=",
    " ",
    "  ",
    "\t",
    "name",
    "size",
    "id",
    "x_1",
    "**",
    "*",
    "***",
    "&",
    "(",
    ")",
    "!",
    "\"",
    "'",
    "#",
    ":",
    "12:",
    "S",
    "I",
    "F",
    "B",
    "D",
    "T",
    "N",
    "E",
    "P",
    "U",
    "H",
    "L",
    "LO",
    "LS",
    "LI",
    "LL",
    "LE",
    "O",
    "email",
    "ipaddr",
    "bytes",
    "guid",
    "dict",
    "i64",
    "ipport",
    "a.b.c",
    "x.y",
    "é",
    "日本",
    "\u{0}",
    "[",
    "]",
    ",",
    "{",
    "}",
    "[]",
    "{}",
    "true",
    "yes",
    "0",
    "-1",
    "0.5",
    "1e400",
    "2020-02-29",
    "2020-06-28 12:30",
    "99999999999999999999",
    "red,green",
    "10 usd",
    "50%",
    "Zm8=",
    "::1",
    "\r",
];

fn garbage_line(rng: &mut Rng) -> String {
    let mut line = String::new();
    for _ in 0..rng.below(12) {
        if rng.below(8) == 0 {
            line.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
        } else {
            line.push_str(rng.pick(PIECES));
        }
    }
    line
}

fn garbage_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() as f64) / 7.0 - 1e18),
        4 | 5 => json!(rng.pick(PIECES)),
        6 => Value::Array((0..rng.below(4)).map(|_| garbage_value(rng, depth + 1)).collect()),
        _ => {
            let keys = ["name", "users", "uid", "rights", "child", "x", "id", "label"];
            let object: Map<String, Value> =
                (0..rng.below(4)).map(|_| (rng.pick(&keys).to_string(), garbage_value(rng, depth + 1))).collect();
            Value::Object(object)
        }
    }
}

#[test]
fn parser_never_panics_on_garbage() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut text = String::new();
        if rng.below(2) == 0 {
            text.push_str("@url = fuzz.schema.1\n");
        }
        for _ in 0..rng.below(6) {
            text.push_str(&garbage_line(&mut rng));
            text.push('\n');
        }
        match Schema::parse(&text) {
            Ok(schema) => {
                parsed += 1;
                let lookup = |_: &str| Some(schema.clone());
                for _ in 0..4 {
                    let payload = garbage_value(&mut rng, 0);
                    if let Ok(stored) = schema.validate(&payload, &lookup) {
                        let _ = schema.index_entries(&stored);
                    }
                    let _ = schema.index_entries(&payload);
                }
            }
            Err(e) => {
                assert!(e.line >= 1, "{e:?}");
                let _ = e.render(&text);
            }
        }
    }
    assert!(parsed > 100, "the generator should also make some valid schemas ({parsed})");
}

#[test]
fn validator_never_panics_on_garbage() {
    let text = "@url = a.tree\nname** = (S)\nusers = (LO) !a.tree\nuid = (I)\nrights = (LS)\nchild = (L)\n\
                x = (dict)\nlabel = \"a,b\" (E)\n";
    let schema = Schema::parse(text).unwrap();
    let lookup = |_: &str| Some(schema.clone());
    let mut rng = Rng(42);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let payload = garbage_value(&mut rng, 0);
        if let Ok(stored) = schema.validate(&payload, &lookup) {
            accepted += 1;
            assert_eq!(schema.validate(&stored, &lookup).as_ref(), Ok(&stored), "normalizing twice changes nothing");
            let _ = schema.index_entries(&stored);
        }
    }
    assert!(accepted > 100, "some garbage should be valid ({accepted})");
}
