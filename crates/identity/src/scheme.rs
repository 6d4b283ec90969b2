//! From 24 words to an ed25519 seed, in the two ways the grid has used.
//!
//! - [`KeyScheme::TfV2`] (3Bot, TF grid v2, tfuser, JSX): the 32 bytes of BIP39 entropy the
//!   words encode *are* the ed25519 seed.
//! - [`KeyScheme::Substrate`] (tfchain ed25519 accounts): `PBKDF2-HMAC-SHA512(password =
//!   entropy, salt = "mnemonic", 2048 rounds)`, first 32 of the 64 bytes (substrate-bip39's
//!   "mini secret" with an empty password).
//!
//! Neither is the standard BIP39 seed (PBKDF2 over the *words*), so wallets that use that give
//! a different key for the same words.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Sha512;
use zeroize::Zeroizing;

use crate::Error;

/// How the mnemonic's entropy becomes the ed25519 seed; the same words give different keys
/// under different schemes, so the scheme is stored with the words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyScheme {
    /// The entropy is the seed (3Bot / TF grid v2).
    #[default]
    #[serde(rename = "tfv2")]
    TfV2,
    /// PBKDF2-HMAC-SHA512 of the entropy, as substrate (tfchain) derives ed25519 keys.
    #[serde(rename = "substrate")]
    Substrate,
}

impl KeyScheme {
    /// The name used on the command line and in identity files.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyScheme::TfV2 => "tfv2",
            KeyScheme::Substrate => "substrate",
        }
    }

    /// The ed25519 seed for 32 bytes of mnemonic entropy under this scheme.
    pub(crate) fn seed(&self, entropy: &[u8; 32]) -> Zeroizing<[u8; 32]> {
        match self {
            KeyScheme::TfV2 => Zeroizing::new(*entropy),
            KeyScheme::Substrate => {
                let mut out = Zeroizing::new([0u8; 64]);
                pbkdf2::pbkdf2_hmac::<Sha512>(entropy, b"mnemonic", 2048, &mut out[..]);
                Zeroizing::new(out[..32].try_into().expect("32 of 64 bytes"))
            }
        }
    }
}

impl fmt::Display for KeyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyScheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "tfv2" => Ok(KeyScheme::TfV2),
            "substrate" => Ok(KeyScheme::Substrate),
            other => Err(Error::UnknownScheme(other.to_string())),
        }
    }
}

/// A checked 24-word mnemonic: its normalized words and its 32 bytes of entropy.
pub(crate) struct Words {
    pub(crate) phrase: Zeroizing<String>,
    pub(crate) entropy: Zeroizing<[u8; 32]>,
}

/// Parses 24 English BIP39 words (any spacing, any letter case).
pub(crate) fn parse_words(words: &str) -> Result<Words, Error> {
    let phrase = Zeroizing::new(words.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase());
    let count = phrase.split(' ').filter(|w| !w.is_empty()).count();
    if count != 24 {
        return Err(Error::MnemonicWordCount(count));
    }
    let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &phrase).map_err(|e| match e {
        bip39::Error::UnknownWord(i) => Error::MnemonicUnknownWord(i + 1),
        bip39::Error::InvalidChecksum => Error::MnemonicChecksum,
        _ => Error::MnemonicWordCount(count),
    })?;
    let (array, len) = mnemonic.to_entropy_array();
    let array = Zeroizing::new(array);
    debug_assert_eq!(len, 32);
    Ok(Words { phrase, entropy: Zeroizing::new(array[..32].try_into().expect("24 words are 32 bytes")) })
}

/// The 24 words for 32 bytes of entropy.
pub(crate) fn words_for(entropy: &[u8; 32]) -> Zeroizing<String> {
    let mnemonic = bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy).expect("32 bytes is valid");
    Zeroizing::new(mnemonic.words().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn err(words: &str) -> Error {
        parse_words(words).err().expect("mnemonic should be refused")
    }

    pub(crate) const ZERO_WORDS: &str =
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
         abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";

    #[test]
    fn names_round_trip() {
        for s in [KeyScheme::TfV2, KeyScheme::Substrate] {
            assert_eq!(s.to_string().parse::<KeyScheme>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(KeyScheme::default(), KeyScheme::TfV2);
        assert_eq!(
            "sr25519".parse::<KeyScheme>().unwrap_err().to_string(),
            "unknown key scheme `sr25519`; use `tfv2` or `substrate`"
        );
    }

    #[test]
    fn substrate_seed_vector() {
        let words = parse_words(ZERO_WORDS).unwrap();
        assert_eq!(*words.entropy, [0u8; 32]);
        assert_eq!(
            hex::encode(*KeyScheme::Substrate.seed(&words.entropy)),
            "4ed8d4b17698ddeaa1f1559f152f87b5d472f725ca86d341bd0276f1b61197e2"
        );
    }

    #[test]
    fn words_round_trip_and_normalize() {
        assert_eq!(*words_for(&[0; 32]), ZERO_WORDS);
        let messy = format!("  {}\n", ZERO_WORDS.to_uppercase().replace(' ', " \t "));
        assert_eq!(*parse_words(&messy).unwrap().phrase, ZERO_WORDS);
    }

    #[test]
    fn bad_mnemonics_have_clear_errors() {
        let twelve = ZERO_WORDS.split(' ').take(12).collect::<Vec<_>>().join(" ");
        assert_eq!(err(&twelve).to_string(), "mnemonic has 12 words; a 3Bot key needs 24");
        let unknown = ZERO_WORDS.replacen("abandon", "abandonn", 1);
        let e = err(&unknown);
        assert!(matches!(e, Error::MnemonicUnknownWord(1)), "{e}");
        assert!(!e.to_string().contains("abandonn"));
        let checksum = ZERO_WORDS.replace("art", "zoo");
        assert!(matches!(err(&checksum), Error::MnemonicChecksum));
        assert!(matches!(err(""), Error::MnemonicWordCount(0)));
    }
}
