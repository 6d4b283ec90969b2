//! Identities for the grid: who signed what, and how to send something only one party can read.
//!
//! - [`Identity`]: an ed25519 secret key from 24 BIP39 words ([`KeyScheme`] says how the words
//!   become the key), stored in an identity file ([`file`](mod@file)).
//! - [`PublicKey`] / [`Signature`]: what others see and check.
//! - [`Domain`]: every signature and content hash is bound to one purpose
//!   ([`signing_message`], [`hash`]), so it cannot be replayed as another.
//! - [`Encoder`] / [`Decoder`]: the one canonical encoding of signed and hashed values
//!   ([`encoding`], with test vectors).
//! - Sealed boxes ([`sealed`]): [`PublicKey::seal`] / [`Identity::unseal`].

#![warn(missing_docs)]

pub mod domain;
pub mod encoding;
mod error;
pub mod file;
mod identity;
mod keys;
mod scheme;
pub mod sealed;

pub use domain::{hash, signing_message, Domain};
pub use encoding::{Decoder, Encoder};
pub use error::Error;
pub use identity::Identity;
pub use keys::{PublicKey, Signature};
pub use scheme::KeyScheme;
