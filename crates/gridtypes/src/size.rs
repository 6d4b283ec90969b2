//! Sizes in bytes as people write them (`10GiB`, `512MiB`, `1TB`, `123`) and as they are shown.
//!
//! Units are case-insensitive: `B`; `KiB` `MiB` `GiB` `TiB` `PiB` (powers of 1024); `KB` `MB`
//! `GB` `TB` `PB` (powers of 1000). A bare `K`/`M`/`G`/`T`/`P` is refused because it is
//! ambiguous between the two. A space between the number and the unit is allowed, and so is a
//! fraction as long as the result is a whole number of bytes (`1.5GiB`). Sizes are always stored
//! and signed as plain byte counts; units only exist at the edges.

use crate::Error;

/// One mebibyte (1024²), the unit zdb sizes are usually given in.
pub const MIB: u64 = 1 << 20;
/// One gibibyte (1024³).
pub const GIB: u64 = 1 << 30;
/// One tebibyte (1024⁴).
pub const TIB: u64 = 1 << 40;

const UNITS: [(&str, u64); 11] = [
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("pib", 1 << 50),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
];

/// Units [`format_size`] may choose, binary first so they win ties.
const DISPLAY_UNITS: [(&str, u64); 10] = [
    ("PiB", 1 << 50),
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("PB", 1_000_000_000_000_000),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
];

const HINT: &str = "write a number with an optional unit, e.g. `123`, `512MiB`, `10GiB` or `1TB`";

/// Reads a size as a person writes it (`"10GiB"`, `"512 MiB"`, `"1TB"`, `"1.5GiB"`, `"123"`) into
/// bytes, so that `tf` can accept hand-written contracts and command-line flags; the error says
/// what to write instead.
pub fn parse_size(text: &str) -> Result<u64, Error> {
    let input = text.trim();
    let split = input.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(input.len());
    let (number, unit) = (&input[..split], input[split..].trim_start());
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
        return Err(Error::BadSize(format!("`{text}` is not a size; {HINT}")));
    }
    let unit_lower = unit.to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        1
    } else if let Some(&(_, m)) = UNITS.iter().find(|(u, _)| *u == unit_lower) {
        m
    } else if matches!(unit_lower.as_str(), "k" | "m" | "g" | "t" | "p") {
        let u = unit.to_ascii_uppercase();
        return Err(Error::BadSize(format!(
            "`{text}` is ambiguous; write `{number}{u}iB` (powers of 1024) or `{number}{u}B` (powers of 1000)"
        )));
    } else {
        return Err(Error::BadSize(format!(
            "unknown unit `{unit}` in `{text}`; use B, KiB, MiB, GiB, TiB, PiB (powers of 1024) or KB, MB, GB, TB, PB (powers of 1000)"
        )));
    };
    let too_large = || Error::BadSize(format!("`{text}` is too large; the most is {} bytes", u64::MAX));
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.len() > 20 || frac.len() > 18 {
        return Err(too_large());
    }
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let mut bytes = whole * multiplier as u128;
    if !frac.is_empty() {
        let scale = 10u128.pow(frac.len() as u32);
        let frac_bytes = frac.parse::<u128>().expect("digits only") * multiplier as u128;
        if frac_bytes % scale != 0 {
            return Err(Error::BadSize(format!("`{text}` is not a whole number of bytes")));
        }
        bytes += frac_bytes / scale;
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Shows a byte count exactly, in the unit that gives the smallest whole number (`4 GiB`,
/// `1536 MiB`, `1 GB`, `10 B`), so messages are short and the text parses back to the same
/// value with [`parse_size`].
pub fn format_size(bytes: u64) -> String {
    let best = DISPLAY_UNITS.iter().filter(|(_, m)| bytes >= *m && bytes % m == 0).min_by_key(|(_, m)| bytes / m);
    match best {
        Some((unit, m)) => format!("{} {unit}", bytes / m),
        None => format!("{bytes} B"),
    }
}

/// Serde helpers for a byte count that is written as a number in JSON but may be given as a
/// size string (`"10GiB"`) in a hand-written contract: use with `#[serde(with = "crate::size::bytes")]`.
pub mod bytes {
    use serde::{de, Deserializer, Serializer};

    /// Writes the byte count as a plain number, the form the explorer stores.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    /// Reads a byte count from a number or from a size string such as `"512MiB"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = u64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte count or a size such as \"10GiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
                u64::try_from(v).map_err(|_| E::custom(format!("size {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                super::parse_size(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        for (text, bytes) in [
            ("123", 123),
            ("0", 0),
            ("10GiB", 10 * GIB),
            ("512MiB", 512 * MIB),
            ("512 mib", 512 * MIB),
            ("1TB", 1_000_000_000_000),
            ("1tib", TIB),
            ("2KB", 2_000),
            ("2KiB", 2_048),
            ("3 B", 3),
            ("1PiB", 1 << 50),
            ("1pb", 1_000_000_000_000_000),
            ("1.5GiB", 3 * GIB / 2),
            ("0.5KB", 500),
            ("  7MB  ", 7_000_000),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_size(text).unwrap(), bytes, "{text}");
        }
    }

    #[test]
    fn errors_say_what_to_write() {
        let msg = |t: &str| parse_size(t).unwrap_err().to_string();
        assert_eq!(msg("10G"), "`10G` is ambiguous; write `10GiB` (powers of 1024) or `10GB` (powers of 1000)");
        assert_eq!(
            msg("10 gigs"),
            "unknown unit `gigs` in `10 gigs`; use B, KiB, MiB, GiB, TiB, PiB (powers of 1024) or KB, MB, GB, TB, PB (powers of 1000)"
        );
        assert_eq!(
            msg(""),
            "`` is not a size; write a number with an optional unit, e.g. `123`, `512MiB`, `10GiB` or `1TB`"
        );
        assert!(msg("GiB").contains("is not a size"));
        assert!(msg("1.2.3GiB").contains("is not a size"));
        assert!(msg("-1").contains("is not a size"));
        assert!(msg(".5GiB").contains("is not a size"));
        assert_eq!(msg("1.5B"), "`1.5B` is not a whole number of bytes");
        assert!(msg("18446744073709551616").contains("too large"));
        assert!(msg("99999999999PiB").contains("too large"));
        assert!(msg("123456789012345678901234").contains("too large"));
    }

    #[test]
    fn formats_exactly_and_round_trips() {
        for (bytes, text) in [
            (0, "0 B"),
            (10, "10 B"),
            (1024, "1 KiB"),
            (4 * GIB, "4 GiB"),
            (1536 * MIB, "1536 MiB"),
            (1_000_000_000, "1 GB"),
            (1_000_000_000_000, "1 TB"),
            (TIB, "1 TiB"),
            (MIB + 1, "1048577 B"),
            (u64::MAX, "18446744073709551615 B"),
        ] {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size(text).unwrap(), bytes);
        }
    }

    #[test]
    fn serde_accepts_numbers_and_strings() {
        #[derive(Debug, serde::Deserialize, serde::Serialize)]
        struct S {
            #[serde(with = "bytes")]
            size: u64,
        }
        let s: S = serde_json::from_str(r#"{"size":"1GiB"}"#).unwrap();
        assert_eq!(s.size, GIB);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"size":1073741824}"#);
        assert_eq!(serde_json::from_str::<S>(r#"{"size":5}"#).unwrap().size, 5);
        let err = serde_json::from_str::<S>(r#"{"size":"5G"}"#).unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
        assert!(serde_json::from_str::<S>(r#"{"size":-5}"#).is_err());
        assert!(serde_json::from_str::<S>(r#"{"size":true}"#).is_err());
    }
}
