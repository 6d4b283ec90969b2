//! AUTH: the admin password, plain or by challenge
//! (`AUTH SECURE CHALLENGE`, then `AUTH SECURE sha1("<nonce>:<password>")`).

use sha1::{Digest, Sha1};

use super::{constant_time_eq, Action, Client, Ctx};
use crate::resp::reply;

/// AUTH password | AUTH SECURE CHALLENGE | AUTH SECURE hash.
pub fn auth(c: &mut Ctx) -> Action {
    match c.args.len() {
        2 => {
            let Some(admin) = c.shared.admin.as_ref().map(|s| s.0.clone()) else {
                return c.error("Authentication disabled");
            };
            if c.args[1].len() > 128 {
                return c.error("Password too long");
            }
            if constant_time_eq(&c.args[1], admin.as_bytes()) {
                c.client.admin = true;
                reply::status(c.out, "OK");
                Action::Continue
            } else {
                c.error("Access denied")
            }
        }
        3 => {
            if !c.args[1].eq_ignore_ascii_case(b"SECURE") {
                return c.error("Only SECURE extra method supported");
            }
            if c.args[2].eq_ignore_ascii_case(b"CHALLENGE") {
                let nonce = new_nonce();
                reply::status(c.out, &nonce);
                c.client.nonce = Some(nonce);
                return Action::Continue;
            }
            let Some(admin) = c.shared.admin.as_ref().map(|s| s.0.clone()) else {
                return c.error("Authentication disabled");
            };
            match check_secure(c.client, &c.args[2], &admin) {
                Ok(()) => {
                    c.client.admin = true;
                    reply::status(c.out, "OK");
                    Action::Continue
                }
                Err(e) => c.error(e),
            }
        }
        _ => c.error("Unexpected arguments"),
    }
}

/// A fresh 8-byte random nonce as 16 hex characters.
fn new_nonce() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS random source works");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a SECURE hash against the client's nonce, which it consumes:
/// a nonce is good for one attempt only, so a hash cannot be replayed.
pub fn check_secure(client: &mut Client, hash: &[u8], password: &str) -> Result<(), &'static str> {
    let Some(nonce) = client.nonce.take() else {
        return Err("No CHALLENGE requested, secure authentication not available");
    };
    if hash.len() != 40 {
        return Err("Invalid hash length");
    }
    let digest = Sha1::digest(format!("{nonce}:{password}").as_bytes());
    let expected: String = digest.iter().map(|x| format!("{x:02x}")).collect();
    if constant_time_eq(&hash.to_ascii_lowercase(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("Access denied")
    }
}
