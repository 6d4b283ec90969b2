//! The one canonical byte encoding for everything that is signed or hashed.
//!
//! Signatures and content ids must be computed over bytes that every implementation produces
//! identically, and that can be read back in exactly one way. The original grid signed plain
//! concatenations (integers as decimal strings, strings back to back), so `("ab", "c")` and
//! `("a", "bc")` signed the same bytes. Here every variable-length value carries its length.
//!
//! # Format
//!
//! Values are written back to back, with no field names, no padding and no alignment; the
//! reader knows the schema.
//!
//! | value                | bytes                                                     |
//! |----------------------|-----------------------------------------------------------|
//! | `u8`                 | 1 byte                                                    |
//! | `u32`                | 4 bytes, big-endian                                       |
//! | `u64`                | 8 bytes, big-endian                                       |
//! | `i64`                | 8 bytes, big-endian two's complement                      |
//! | `bool`               | 1 byte: `00` false, `01` true (anything else is an error) |
//! | `bytes`              | `u32` length, then the bytes                              |
//! | `str`                | `bytes` of its UTF-8                                      |
//! | `fixed` (hash, key)  | the raw bytes; the length is known from the schema        |
//! | `option`             | `00` for none, or `01` then the value                     |
//! | `list`               | `u32` item count, then the items                          |
//!
//! A decoder rejects truncated input, out-of-range tags (`bool`, `option`), invalid UTF-8
//! and, through [`Decoder::done`], trailing bytes, so each value has exactly one encoding.
//!
//! Signatures and hashes are then taken over `signing_message(domain, encoded)`:
//! `u8 tag length || tag || encoded` (see [`crate::domain`]).
//!
//! # Test vectors
//!
//! `signing_message(Domain::Revision, b"hello")` (tag `tfgrid/revision/v1`, 18 = `0x12` bytes):
//!
//! ```text
//! 127466677269642f7265766973696f6e2f763168656c6c6f
//! ```
//!
//! `hash(Domain::Revision, b"hello")` = SHA-256 of the above:
//!
//! ```text
//! 04e95846f127f5278b1ccad80f930c4d48c1dac1f8197039c5b3c984808ddc6f
//! ```
//!
//! `Encoder::new().u64(7).str("ab").option(None::<u32>, ..).list([1u32, 2], ..)` (27 bytes):
//!
//! ```text
//! 0000000000000007  u64 7
//! 00000002 6162     str "ab"
//! 00                option none
//! 00000002          list count 2
//! 00000001 00000002 u32 1, u32 2
//! ```
//!
//! ```
//! use identity::Encoder;
//! let mut e = Encoder::new();
//! e.u64(7).str("ab").option(None::<u32>, |e, v| { e.u32(v); }).list([1u32, 2].into_iter(), |e, v| { e.u32(v); });
//! assert_eq!(hex::encode(e.finish()), "000000000000000700000002616200000000020000000100000002");
//! ```

use crate::Error;

/// Builds the canonical encoding of a value, field by field, so that signed and hashed bytes
/// are unambiguous and identical across implementations (format in the module docs).
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoding, to append fields to.
    pub fn new() -> Self {
        Self::default()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// 4 bytes, big-endian.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.fixed(&v.to_be_bytes())
    }

    /// 8 bytes, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.fixed(&v.to_be_bytes())
    }

    /// 8 bytes, big-endian two's complement.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.fixed(&v.to_be_bytes())
    }

    /// One byte, 0 or 1.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// A `u32` length, then the bytes. Panics beyond 4 GiB, which no signed object may reach.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).expect("encoded byte string longer than u32::MAX")).fixed(v)
    }

    /// A string: `bytes` of its UTF-8.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// Raw bytes with no length, for values whose size the schema fixes (hashes, keys).
    pub fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// `0` for none, or `1` followed by whatever `f` writes for the value.
    pub fn option<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
                self
            }
        }
    }

    /// A `u32` item count, then each item as `f` writes it. Panics beyond `u32::MAX` items.
    pub fn list<T>(&mut self, items: impl ExactSizeIterator<Item = T>, mut f: impl FnMut(&mut Self, T)) -> &mut Self {
        self.u32(u32::try_from(items.len()).expect("encoded list longer than u32::MAX"));
        for item in items {
            f(self, item);
        }
        self
    }

    /// The bytes written so far, e.g. to hash without giving up the encoder.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The finished encoding.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// The finished encoding (same as [`Encoder::finish`]).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads the canonical encoding back, refusing anything an [`Encoder`] would not have written,
/// so that a value decoded from signed bytes is exactly the value that was signed.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Decode { offset: self.pos, reason: reason.into() }
    }

    /// The next `n` raw bytes (the inverse of [`Encoder::fixed`]).
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(self.error(format!("truncated: {n} bytes needed, {} left", self.remaining())));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` raw bytes as an array (hashes, keys).
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        Ok(self.fixed(N)?.try_into().expect("fixed returned N bytes"))
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    /// 4 bytes, big-endian.
    pub fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_be_bytes)
    }

    /// 8 bytes, big-endian.
    pub fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_be_bytes)
    }

    /// 8 bytes, big-endian two's complement.
    pub fn i64(&mut self) -> Result<i64, Error> {
        self.array().map(i64::from_be_bytes)
    }

    /// One byte that must be 0 or 1.
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(format!("bool must be 0 or 1, found {b}"))),
        }
    }

    /// A `u32` length, then that many bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let len = self.u32()? as usize;
        self.fixed(len)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map_err(|_| Error::Decode { offset: start, reason: "string is not valid UTF-8".into() })
    }

    /// `0` for none, or `1` then the value `f` reads.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<Option<T>, Error> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            b => Err(self.error(format!("option tag must be 0 or 1, found {b}"))),
        }
    }

    /// A `u32` item count, then that many items as `f` reads them. The count is not trusted
    /// for allocation: a forged count fails on truncation instead of reserving memory.
    pub fn list<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T, Error>) -> Result<Vec<T>, Error> {
        let count = self.u32()? as usize;
        let mut out = Vec::with_capacity(count.min(self.remaining()));
        for _ in 0..count {
            out.push(f(self)?);
        }
        Ok(out)
    }

    /// Succeeds only if everything was read, so that extra bytes cannot ride along with a
    /// signed value.
    pub fn done(self) -> Result<(), Error> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format!("{n} trailing bytes after the value"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hash, signing_message, Domain};

    fn example() -> Vec<u8> {
        let mut e = Encoder::new();
        e.u64(7).str("ab").option(None::<u32>, |e, v| {
            e.u32(v);
        });
        e.list([1u32, 2].into_iter(), |e, v| {
            e.u32(v);
        });
        e.finish()
    }

    #[test]
    fn documented_vectors() {
        assert_eq!(
            hex::encode(signing_message(Domain::Revision, b"hello")),
            "127466677269642f7265766973696f6e2f763168656c6c6f"
        );
        assert_eq!(
            hex::encode(hash(Domain::Revision, b"hello")),
            "04e95846f127f5278b1ccad80f930c4d48c1dac1f8197039c5b3c984808ddc6f"
        );
        assert_eq!(hex::encode(example()), "000000000000000700000002616200000000020000000100000002");
    }

    #[test]
    fn example_decodes_back() {
        let bytes = example();
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.u64().unwrap(), 7);
        assert_eq!(d.str().unwrap(), "ab");
        assert_eq!(d.option(|d| d.u32()).unwrap(), None);
        assert_eq!(d.list(|d| d.u32()).unwrap(), vec![1, 2]);
        d.done().unwrap();
    }

    #[test]
    fn field_splits_are_unambiguous() {
        let mut a = Encoder::new();
        a.str("ab").str("c");
        let mut b = Encoder::new();
        b.str("a").str("bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn scalars_round_trip() {
        let mut e = Encoder::new();
        e.u8(0xfe).u32(0xdead_beef).i64(-2).bool(true).bool(false).fixed(&[9; 3]);
        e.option(Some(5u8), |e, v| {
            e.u8(v);
        });
        e.bytes(b"");
        let bytes = e.into_bytes();
        assert_eq!(&bytes[5..13], &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.u8().unwrap(), 0xfe);
        assert_eq!(d.u32().unwrap(), 0xdead_beef);
        assert_eq!(d.i64().unwrap(), -2);
        assert!(d.bool().unwrap());
        assert!(!d.bool().unwrap());
        assert_eq!(d.array::<3>().unwrap(), [9; 3]);
        assert_eq!(d.option(|d| d.u8()).unwrap(), Some(5));
        assert_eq!(d.bytes().unwrap(), b"");
        d.done().unwrap();
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = example();
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(&bytes[..cut]);
            let result = (|| {
                d.u64()?;
                d.str()?;
                d.option(|d| d.u32())?;
                d.list(|d| d.u32())?;
                d.done()
            })();
            assert!(matches!(result, Err(Error::Decode { .. })), "cut at {cut}");
        }
    }

    #[test]
    fn trailing_bytes_and_bad_tags_are_errors() {
        let mut d = Decoder::new(&[0, 0]);
        d.u8().unwrap();
        assert!(d.done().unwrap_err().to_string().contains("1 trailing bytes"));
        assert!(Decoder::new(&[2]).bool().is_err());
        assert!(Decoder::new(&[2]).option(|d| d.u8()).is_err());
        assert!(Decoder::new(&[0, 0, 0, 2, 0xff, 0xfe]).str().is_err());
    }

    #[test]
    fn forged_list_count_does_not_allocate() {
        let err = Decoder::new(&[0xff, 0xff, 0xff, 0xff]).list(|d| d.u64()).unwrap_err();
        assert!(err.to_string().contains("truncated"));
    }
}
