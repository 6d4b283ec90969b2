//! Public keys and signatures as plain bytes, written as lowercase hex everywhere (text, JSON).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{sealed, signing_message, Domain, Error};

/// An ed25519 public key: the identity of a user, node or service as others see it. Kept as
/// raw bytes so it can be stored, compared and sorted without being a valid curve point;
/// validity is checked when it is used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature, made by [`crate::Identity::sign`] and checked by [`PublicKey::verify`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl PublicKey {
    /// Checks that `sig` was made by this key over `message` in `domain`. Strict: rejects
    /// small-order keys and non-canonical signatures, so a signature has only one valid form.
    pub fn verify(&self, domain: Domain, message: &[u8], sig: &Signature) -> Result<(), Error> {
        let key = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        key.verify_strict(&signing_message(domain, message), &sig).map_err(|_| Error::BadSignature)
    }

    /// Encrypts `plaintext` so that only the holder of this key can read it (see
    /// [`crate::sealed`]). If this key cannot receive boxes (not a curve point, or of small
    /// order), the result is sealed under a random key that nobody has, so the plaintext is
    /// still never exposed; use [`PublicKey::try_seal`] to be told instead.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.try_seal(plaintext).unwrap_or_else(|_| sealed::seal_to_nobody(plaintext))
    }

    /// Like [`PublicKey::seal`], but fails if this key cannot receive sealed boxes.
    pub fn try_seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        sealed::seal(&self.verifying_key()?, plaintext)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey, Error> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| Error::InvalidPublicKey(self.to_string()))
    }
}

impl Signature {
    /// The raw 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

fn parse_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s.trim(), &mut out).map_err(|_| Error::BadHex { what, chars: 2 * N })?;
    Ok(out)
}

fn short_hex(bytes: &[u8]) -> String {
    format!("{}…", hex::encode(&bytes[..4]))
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", short_hex(&self.0))
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_hex(s, "public key").map(PublicKey)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", short_hex(&self.0))
    }
}

impl FromStr for Signature {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_hex(s, "signature").map(Signature)
    }
}

macro_rules! serde_as_hex {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_hex!(PublicKey);
serde_as_hex!(Signature);

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn hex_round_trips() {
        let pk: PublicKey = PK.parse().unwrap();
        assert_eq!(pk.to_string(), PK);
        assert_eq!(format!("{pk:?}"), "PublicKey(d75a9801…)");
        let json = serde_json::to_string(&pk).unwrap();
        assert_eq!(json, format!("\"{PK}\""));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
        let sig = Signature([0xab; 64]);
        assert_eq!(sig.to_string().parse::<Signature>().unwrap(), sig);
        assert_eq!(serde_json::from_value::<Signature>(serde_json::to_value(sig).unwrap()).unwrap(), sig);
    }

    #[test]
    fn bad_hex_is_a_clear_error() {
        let err = "abc".parse::<PublicKey>().unwrap_err();
        assert_eq!(err.to_string(), "public key must be 64 hex characters");
        assert!("zz".repeat(64).parse::<Signature>().is_err());
        assert!(serde_json::from_str::<PublicKey>("\"00\"").is_err());
    }

    #[test]
    fn invalid_point_is_rejected_not_panicking() {
        // y = 2 is not the y coordinate of any curve point.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let pk = PublicKey(bytes);
        assert!(matches!(pk.verify(Domain::File, b"", &Signature([0; 64])), Err(Error::InvalidPublicKey(_))));
        assert!(pk.try_seal(b"x").is_err());
        assert_eq!(pk.seal(b"x").len(), 1 + sealed::OVERHEAD);
    }
}
