//! The secret half: an ed25519 signing key with the words it came from.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::scheme::{parse_words, words_for};
use crate::{sealed, signing_message, Domain, Error, KeyScheme, PublicKey, Signature};

/// A user's (or node's, or service's) secret key: signs for it and opens boxes sealed to it.
/// Secrets are wiped from memory on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
    scheme: KeyScheme,
    mnemonic: Option<Zeroizing<String>>,
}

impl Identity {
    /// A new identity from 32 random bytes of entropy (24 words), for `tf id new`.
    pub fn generate(scheme: KeyScheme) -> Identity {
        let mut entropy = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut entropy[..]).expect("the operating system's random number generator failed");
        Self::from_entropy(&entropy, words_for(&entropy), scheme)
    }

    /// The identity the 24 English BIP39 words give under `scheme`; spacing and letter case do
    /// not matter.
    pub fn from_mnemonic(words: &str, scheme: KeyScheme) -> Result<Identity, Error> {
        let words = parse_words(words)?;
        Ok(Self::from_entropy(&words.entropy, words.phrase, scheme))
    }

    /// The identity for a raw 32-byte ed25519 seed (RFC 8032 private key); no words are known.
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        let seed = Zeroizing::new(seed);
        Identity { key: SigningKey::from_bytes(&seed), scheme: KeyScheme::TfV2, mnemonic: None }
    }

    fn from_entropy(entropy: &[u8; 32], phrase: Zeroizing<String>, scheme: KeyScheme) -> Identity {
        let seed = scheme.seed(entropy);
        Identity { key: SigningKey::from_bytes(&seed), scheme, mnemonic: Some(phrase) }
    }

    pub(crate) fn with_scheme(mut self, scheme: KeyScheme) -> Identity {
        self.scheme = scheme;
        self
    }

    /// The 24 words (single spaces, lowercase) when the identity came from words, so they can
    /// be shown once to be written down. `None` for identities made from a raw seed.
    pub fn mnemonic(&self) -> Option<String> {
        self.mnemonic.as_ref().map(|m| m.to_string())
    }

    /// How the words became the key.
    pub fn scheme(&self) -> KeyScheme {
        self.scheme
    }

    /// What others know this identity by.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Signs `message` for `domain` (over [`signing_message`]), so the signature is only
    /// valid for that purpose.
    pub fn sign(&self, domain: Domain, message: &[u8]) -> Signature {
        Signature(self.key.sign(&signing_message(domain, message)).to_bytes())
    }

    /// Opens a box sealed to [`Identity::public_key`] (see [`crate::sealed`]).
    pub fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        sealed::open(&self.key, sealed)
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub(crate) fn mnemonic_ref(&self) -> Option<&str> {
        self.mnemonic.as_deref().map(String::as_str)
    }
}

impl ZeroizeOnDrop for Identity {}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_key())
            .field("scheme", &self.scheme)
            .field("mnemonic", &self.mnemonic.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::tests::ZERO_WORDS;

    fn sign_raw(id: &Identity, message: &[u8]) -> [u8; 64] {
        id.signing_key().sign(message).to_bytes()
    }

    #[test]
    fn rfc8032_test_1() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let id = Identity::from_seed(seed.try_into().unwrap());
        assert_eq!(id.public_key().to_string(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert_eq!(
            hex::encode(sign_raw(&id, b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert_eq!(id.mnemonic(), None);
    }

    #[test]
    fn tfv2_vector() {
        let id = Identity::from_mnemonic(ZERO_WORDS, KeyScheme::TfV2).unwrap();
        assert_eq!(id.public_key().to_string(), "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29");
        assert_eq!(id.public_key(), Identity::from_seed([0; 32]).public_key());
        assert_eq!(id.mnemonic().as_deref(), Some(ZERO_WORDS));
        assert_eq!(id.scheme(), KeyScheme::TfV2);
    }

    #[test]
    fn substrate_vector_and_not_standard_bip39() {
        let id = Identity::from_mnemonic(ZERO_WORDS, KeyScheme::Substrate).unwrap();
        assert_eq!(id.public_key().to_string(), "9125f505bdef2cb5825b9931769316d3e2f22150786489a04f39b434ec9fb294");
        let standard = "1de352e44cd333672593f2334a730e180aaf290de89aa16d480de594e34e2961";
        for scheme in [KeyScheme::TfV2, KeyScheme::Substrate] {
            let id = Identity::from_mnemonic(ZERO_WORDS, scheme).unwrap();
            assert_ne!(id.public_key().to_string(), standard);
        }
        // The trap really is what standard BIP39 (PBKDF2 over the words) gives.
        let mut bip39_seed = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(ZERO_WORDS.as_bytes(), b"mnemonic", 2048, &mut bip39_seed);
        let trap = Identity::from_seed(bip39_seed[..32].try_into().unwrap());
        assert_eq!(trap.public_key().to_string(), standard);
    }

    #[test]
    fn generate_gives_24_words_that_reproduce_the_key() {
        for scheme in [KeyScheme::TfV2, KeyScheme::Substrate] {
            let id = Identity::generate(scheme);
            let words = id.mnemonic().unwrap();
            assert_eq!(words.split(' ').count(), 24);
            assert_eq!(Identity::from_mnemonic(&words, scheme).unwrap().public_key(), id.public_key());
        }
        assert_ne!(Identity::generate(KeyScheme::TfV2).public_key(), Identity::generate(KeyScheme::TfV2).public_key());
    }

    #[test]
    fn sign_verify_and_domain_separation() {
        let id = Identity::generate(KeyScheme::TfV2);
        let pk = id.public_key();
        for domain in Domain::ALL {
            let sig = id.sign(domain, b"message");
            pk.verify(domain, b"message", &sig).unwrap();
            assert!(matches!(pk.verify(domain, b"messagf", &sig), Err(Error::BadSignature)));
            for other in Domain::ALL.into_iter().filter(|&o| o != domain) {
                assert!(pk.verify(other, b"message", &sig).is_err(), "{domain:?} verified as {other:?}");
            }
        }
        let other = Identity::generate(KeyScheme::TfV2).public_key();
        assert!(other.verify(Domain::File, b"m", &id.sign(Domain::File, b"m")).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let id = Identity::from_mnemonic(ZERO_WORDS, KeyScheme::TfV2).unwrap();
        let shown = format!("{id:?} {:#?}", id);
        assert!(!shown.contains("abandon"), "{shown}");
        assert!(!shown.contains(&hex::encode([0u8; 16])), "{shown}");
        assert!(shown.contains("3b6a27bc"));
    }
}
