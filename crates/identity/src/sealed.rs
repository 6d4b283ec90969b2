//! Sealed boxes: anonymous public-key encryption to an identity's ed25519 key.
//!
//! Lets anyone send data that only one identity can read (secrets in a workload, a reply to a
//! request) without a separate encryption key: the recipient's ed25519 key is used in its
//! X25519 form.
//!
//! # Construction (`tfgrid/sealed-box/v1`)
//!
//! Keys of the recipient:
//! - X25519 public key `R` (32 bytes): the Montgomery u-coordinate of its ed25519 public key
//!   (birational map `u = (1 + y) / (1 - y)`), i.e. `VerifyingKey::to_montgomery`.
//! - X25519 secret `r`: the first 32 bytes of `SHA-512(ed25519 seed)`, clamped as X25519 always
//!   does, i.e. `SigningKey::to_scalar_bytes`; `X25519(r, 9) = R`.
//!
//! Sealing `plaintext`:
//! 1. `e` = 32 fresh random bytes (ephemeral X25519 secret), `E = X25519(e, 9)` (32 bytes).
//! 2. `shared = X25519(e, R)`; if it is all zero (`R` of small order), refuse.
//! 3. `key = HKDF-SHA256(ikm = shared, salt = E || R, info = "tfgrid/sealed-box/v1")`, 32 bytes.
//! 4. `ct = ChaCha20-Poly1305(key, nonce = 12 zero bytes, aad = empty, plaintext)`: the
//!    ciphertext (same length as the plaintext) followed by the 16-byte tag. A fixed nonce is
//!    safe because `key` is different for every box (fresh `e`).
//! 5. Output: `E (32) || ct || tag (16)`; so [`OVERHEAD`] = 48 bytes.
//!
//! Opening recomputes `shared = X25519(r, E)` (refusing all zero), the same `key`, and checks
//! the tag; any modified, truncated or misaddressed box fails with [`Error::Unseal`].
//! The box is anonymous: it does not say who sealed it; sign the plaintext if that matters.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use crate::Error;

/// Bytes a sealed box adds to its plaintext: ephemeral public key (32) and tag (16).
pub const OVERHEAD: usize = 32 + 16;

const INFO: &[u8] = b"tfgrid/sealed-box/v1";

fn box_cipher(shared: &[u8; 32], eph: &XPublic, recipient: &XPublic) -> ChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared).expand(INFO, &mut key[..]).expect("32 bytes is a valid HKDF length");
    ChaCha20Poly1305::new(&Key::from(*key))
}

fn random_secret() -> StaticSecret {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..]).expect("the operating system's random number generator failed");
    StaticSecret::from(*bytes)
}

/// Seals `plaintext` to the X25519 form of `recipient`.
pub(crate) fn seal(recipient: &VerifyingKey, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let recipient = XPublic::from(recipient.to_montgomery().to_bytes());
    let eph_secret = random_secret();
    let eph = XPublic::from(&eph_secret);
    let shared = eph_secret.diffie_hellman(&recipient);
    if !shared.was_contributory() {
        return Err(Error::InvalidPublicKey(hex::encode(recipient.as_bytes())));
    }
    let cipher = box_cipher(shared.as_bytes(), &eph, &recipient);
    let ct = cipher.encrypt(&Nonce::default(), plaintext).expect("ChaCha20-Poly1305 encryption cannot fail");
    Ok([eph.as_bytes().as_slice(), &ct].concat())
}

/// A box of the right size that no key opens, for keys that cannot receive boxes.
pub(crate) fn seal_to_nobody(plaintext: &[u8]) -> Vec<u8> {
    let eph = XPublic::from(&random_secret());
    let key = random_secret();
    let cipher = box_cipher(key.as_bytes(), &eph, &eph);
    let ct = cipher.encrypt(&Nonce::default(), plaintext).expect("ChaCha20-Poly1305 encryption cannot fail");
    [eph.as_bytes().as_slice(), &ct].concat()
}

/// Opens a box sealed to `key`'s public key.
pub(crate) fn open(key: &SigningKey, sealed: &[u8]) -> Result<Vec<u8>, Error> {
    if sealed.len() < OVERHEAD {
        return Err(Error::Unseal);
    }
    let (eph, ct) = sealed.split_at(32);
    let eph = XPublic::from(<[u8; 32]>::try_from(eph).expect("split at 32"));
    let secret = StaticSecret::from(*Zeroizing::new(key.to_scalar_bytes()));
    let recipient = XPublic::from(&secret);
    let shared = secret.diffie_hellman(&eph);
    if !shared.was_contributory() {
        return Err(Error::Unseal);
    }
    let cipher = box_cipher(shared.as_bytes(), &eph, &recipient);
    cipher.decrypt(&Nonce::default(), ct).map_err(|_| Error::Unseal)
}

#[cfg(test)]
mod tests {
    use crate::{Error, Identity, KeyScheme, PublicKey};

    #[test]
    fn round_trip_and_empty_plaintext() {
        let id = Identity::generate(KeyScheme::TfV2);
        for msg in [&b""[..], b"x", &[7u8; 1000]] {
            let sealed = id.public_key().seal(msg);
            assert_eq!(sealed.len(), msg.len() + super::OVERHEAD);
            assert_eq!(id.unseal(&sealed).unwrap(), msg);
        }
    }

    #[test]
    fn boxes_differ_each_time() {
        let pk = Identity::generate(KeyScheme::TfV2).public_key();
        assert_ne!(pk.seal(b"same"), pk.seal(b"same"));
    }

    #[test]
    fn recipient_x25519_key_matches_montgomery_form() {
        let id = Identity::from_seed([3; 32]);
        let secret = x25519_dalek::StaticSecret::from(id.signing_key().to_scalar_bytes());
        let montgomery = id.public_key().verifying_key().unwrap().to_montgomery().to_bytes();
        assert_eq!(x25519_dalek::PublicKey::from(&secret).to_bytes(), montgomery);
    }

    #[test]
    fn wrong_recipient_fails() {
        let sealed = Identity::generate(KeyScheme::TfV2).public_key().seal(b"secret");
        let other = Identity::generate(KeyScheme::Substrate);
        assert!(matches!(other.unseal(&sealed), Err(Error::Unseal)));
    }

    #[test]
    fn any_flipped_byte_fails() {
        let id = Identity::from_seed([1; 32]);
        let sealed = id.public_key().seal(b"hello");
        for i in 0..sealed.len() {
            for bit in [0x01, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= bit;
                assert!(id.unseal(&bad).is_err(), "byte {i} bit {bit:#x}");
            }
        }
    }

    #[test]
    fn truncated_or_extended_input_fails_without_panic() {
        let id = Identity::from_seed([2; 32]);
        let sealed = id.public_key().seal(b"hello");
        for cut in 0..sealed.len() {
            assert!(matches!(id.unseal(&sealed[..cut]), Err(Error::Unseal)), "cut {cut}");
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(id.unseal(&longer).is_err());
    }

    #[test]
    fn small_order_keys_cannot_receive() {
        // The ed25519 identity point (y = 1) is a valid encoding of small order.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert!(PublicKey(identity_point).try_seal(b"x").is_err());
        // An all-zero ephemeral key (small order) is refused when opening.
        let id = Identity::from_seed([4; 32]);
        assert!(matches!(id.unseal(&[0u8; 60]), Err(Error::Unseal)));
    }
}
