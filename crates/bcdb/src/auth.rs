//! Signed HTTP requests.
//!
//! A twin signs what the request does, not only who it is (the original signed only a timestamp
//! and a key id, so a captured header could be replayed against any call). Headers:
//!
//! ```text
//! x-bcdb-key        the twin's public key, hex
//! x-bcdb-time       milliseconds since the Unix epoch
//! x-bcdb-nonce      16 random bytes, hex; never reused
//! x-bcdb-signature  ed25519 in Domain::Request over the canonical bytes below, hex
//! ```
//!
//! Canonical bytes: `u8 1 | str method | str path-and-query | fixed SHA-256(body) | u64 time |
//! str nonce` (identity's `Encoder`). The server refuses a request whose time is more than
//! [`MAX_SKEW_MS`] away from its clock and any (key, nonce) pair it has seen within that window.

use std::collections::HashMap;

use identity::{Domain, Encoder, Identity, PublicKey, Signature};

/// How far a request's time may be from the server's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// Header names.
pub const KEY: &str = "x-bcdb-key";
/// Header with the request time.
pub const TIME: &str = "x-bcdb-time";
/// Header with the nonce.
pub const NONCE: &str = "x-bcdb-nonce";
/// Header with the signature.
pub const SIGNATURE: &str = "x-bcdb-signature";

/// The canonical bytes a request signature covers.
pub fn request_message(method: &str, path_and_query: &str, body: &[u8], time_ms: u64, nonce: &str) -> Vec<u8> {
    let mut e = Encoder::new();
    e.u8(1).str(method).str(path_and_query).fixed(&crate::ledger::sha256(body)).u64(time_ms).str(nonce);
    e.finish()
}

/// The four headers for a request signed by `who`.
pub fn sign_request(who: &Identity, method: &str, path_and_query: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let time = crate::now_ms();
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).expect("the OS random source works");
    let nonce = hex::encode(raw);
    let signature = who.sign(Domain::Request, &request_message(method, path_and_query, body, time, &nonce));
    vec![
        (KEY, who.public_key().to_string()),
        (TIME, time.to_string()),
        (NONCE, nonce),
        (SIGNATURE, signature.to_string()),
    ]
}

/// The signature headers of a request, as received.
pub struct SignedHeaders<'a> {
    /// `x-bcdb-key`.
    pub key: &'a str,
    /// `x-bcdb-time`.
    pub time: &'a str,
    /// `x-bcdb-nonce`.
    pub nonce: &'a str,
    /// `x-bcdb-signature`.
    pub signature: &'a str,
}

/// Remembers recent (key, nonce) pairs to refuse replays.
#[derive(Default)]
pub struct NonceCache {
    seen: HashMap<(PublicKey, String), u64>,
    checks: u64,
}

impl NonceCache {
    /// Verifies a signed request and records its nonce; returns the signer.
    pub fn check(
        &mut self,
        headers: &SignedHeaders,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: u64,
    ) -> Result<PublicKey, String> {
        let key: PublicKey = headers.key.parse().map_err(|_| "x-bcdb-key is not a 64-hex-character key".to_string())?;
        let time: u64 = headers.time.parse().map_err(|_| "x-bcdb-time is not milliseconds".to_string())?;
        let signature: Signature =
            headers.signature.parse().map_err(|_| "x-bcdb-signature is not 128 hex characters".to_string())?;
        if headers.nonce.len() < 16 || headers.nonce.len() > 64 {
            return Err("x-bcdb-nonce must be 16 to 64 characters".into());
        }
        if time.abs_diff(now_ms) > MAX_SKEW_MS {
            return Err("request time is more than 5 minutes from the server's clock; check the clock".into());
        }
        let message = request_message(method, path_and_query, body, time, headers.nonce);
        key.verify(Domain::Request, &message, &signature)
            .map_err(|_| "request signature does not verify for this method, path and body".to_string())?;
        self.prune(now_ms);
        if self.seen.insert((key, headers.nonce.to_string()), time).is_some() {
            return Err("replayed request: this nonce was already used".into());
        }
        Ok(key)
    }

    /// Forgets nonces older than the skew window (a replay of those fails the time check).
    fn prune(&mut self, now_ms: u64) {
        self.checks += 1;
        if self.checks % 1024 == 0 {
            self.seen.retain(|_, t| t.abs_diff(now_ms) <= MAX_SKEW_MS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(h: &'a [(&'static str, String)]) -> SignedHeaders<'a> {
        let get = |name: &str| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).unwrap();
        SignedHeaders { key: get(KEY), time: get(TIME), nonce: get(NONCE), signature: get(SIGNATURE) }
    }

    #[test]
    fn signed_request_verifies_once() {
        let who = Identity::generate(identity::KeyScheme::TfV2);
        let h = sign_request(&who, "GET", "/v1/objects/ab?at=3", b"");
        let mut cache = NonceCache::default();
        let now = crate::now_ms();
        assert_eq!(cache.check(&headers(&h), "GET", "/v1/objects/ab?at=3", b"", now).unwrap(), who.public_key());
        let replay = cache.check(&headers(&h), "GET", "/v1/objects/ab?at=3", b"", now).unwrap_err();
        assert!(replay.contains("replayed"), "{replay}");
    }

    #[test]
    fn signature_covers_method_path_body_and_time() {
        let who = Identity::generate(identity::KeyScheme::TfV2);
        let h = sign_request(&who, "POST", "/v1/entries", b"body");
        let now = crate::now_ms();
        let mut cache = NonceCache::default();
        for (method, path, body) in
            [("GET", "/v1/entries", &b"body"[..]), ("POST", "/v1/entriez", b"body"), ("POST", "/v1/entries", b"bodY")]
        {
            assert!(cache.check(&headers(&h), method, path, body, now).is_err());
        }
        let late = cache.check(&headers(&h), "POST", "/v1/entries", b"body", now + MAX_SKEW_MS + 1000).unwrap_err();
        assert!(late.contains("clock"), "{late}");
    }
}
