//! Secrets at rest: personal data sealed with AES-256-GCM, blind indexes that keep
//! exact lookups working over sealed data, and staff password hashes (argon2id).
//!
//! ## Sealed values
//! `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. Every value has a fresh random
//! 96-bit nonce; the *purpose* (`customer`, `note`, `audit`) is authenticated as
//! associated data, so a value cannot be moved to another kind of column unnoticed.
//! The key id names the keyring entry that sealed it: old keys keep opening what they
//! sealed until `loyd keys rotate` has re-sealed everything under the newest key.
//!
//! ## Blind indexes
//! `HMAC-SHA256(index key, kind ‖ 0 ‖ normalised value)`, first 16 bytes in hex. Equal
//! values give equal indexes, so `WHERE phone_index = $1` finds a customer, while the
//! database alone reveals nothing. The index key is derived from the server's secret
//! key, not from the data keys, so rotating data keys does not touch indexes.

use std::sync::Arc;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Sha256;

use crate::error::StoreError;

/// The server's secrets: the secret key (HMACs of PINs and one-time codes; the blind
/// index key derives from it) and the keyring of data keys.
#[derive(Clone)]
pub struct Secrets {
    pub key: Vec<u8>,
    pub ring: Keyring,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("ring", &self.ring).finish_non_exhaustive()
    }
}

impl Secrets {
    pub(crate) fn shared(opts: &crate::StoreOptions) -> Arc<Secrets> {
        Arc::new(Secrets::new(opts.secret.to_vec(), opts.keyring.clone()))
    }

    pub fn new(key: Vec<u8>, ring: Option<Keyring>) -> Secrets {
        let ring = ring.unwrap_or_else(|| Keyring::development(&key));
        Secrets { key, ring }
    }
}

/// Format marker of sealed values.
const VERSION: &str = "v1";

/// One data key.
#[derive(Clone)]
struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The data keys (the last one seals) and the blind-index key.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<DataKey>,
    index_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("Keyring").field("keys", &self.key_ids()).finish_non_exhaustive()
    }
}

/// Keyring file problems.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the keyring holds no key")]
    Empty,
}

impl Keyring {
    /// A keyring of `(id, 32-byte key)` pairs, oldest first; the last seals. The index
    /// key is derived from `secret` (the server's secret key).
    pub fn new(keys: Vec<(String, [u8; 32])>, secret: &[u8]) -> Result<Keyring, KeyringError> {
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        let keys = keys
            .into_iter()
            .map(|(id, key)| DataKey { id, cipher: Aes256Gcm::new(&key.into()) })
            .collect();
        let mut index_key = [0u8; 32];
        index_key.copy_from_slice(&hmac_sha256(secret, &[b"loyd blind index v1"]));
        Ok(Keyring { keys, index_key: Arc::new(index_key) })
    }

    /// A fixed keyring for tests and development only (derived from `secret`).
    pub fn development(secret: &[u8]) -> Keyring {
        let mut key = [0u8; 32];
        key.copy_from_slice(&hmac_sha256(secret, &[b"loyd development data key"]));
        Keyring::new(vec![("k1".into(), key)], secret).expect("one key")
    }

    /// Parses a keyring file: one `ID HEX` pair per line (64 hex digits), `#` comments;
    /// the last key seals.
    pub fn parse(text: &str, secret: &[u8]) -> Result<Keyring, KeyringError> {
        let mut keys = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| KeyringError::Line { line: n + 1, reason: reason.into() };
            let (id, hex) = line.split_once(char::is_whitespace).ok_or_else(|| bad("expected `ID HEX`"))?;
            let hex = hex.trim();
            if id.is_empty() || id.len() > 16 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(bad("a key id is 1 to 16 letters and digits"));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad("a key id appears twice"));
            }
            if hex.len() != 64 {
                return Err(bad("a key is 64 hex digits (32 bytes)"));
            }
            let mut key = [0u8; 32];
            for (i, byte) in key.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad("a key is hex digits"))?;
            }
            keys.push((id.to_owned(), key));
        }
        Keyring::new(keys, secret)
    }

    /// A new random key line `ID HEX` with the next free id (`k1`, `k2`, …).
    pub fn new_key_line(&self) -> String {
        let next = (1..).map(|n| format!("k{n}")).find(|id| !self.keys.iter().any(|k| &k.id == id)).expect("unbounded");
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        format!("{next} {hex}")
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        &self.keys.last().expect("never empty").id
    }

    /// Seals `plain` for `purpose` under the current key.
    pub fn seal(&self, purpose: &str, plain: &str) -> String {
        let key = self.keys.last().expect("never empty");
        let nonce = Nonce::generate();
        let sealed = key
            .cipher
            .encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: purpose.as_bytes() })
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut bytes = Vec::with_capacity(nonce.len() + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a value sealed for `purpose` by any key of the ring.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, StoreError> {
        let broken = |why: &str| StoreError::Unavailable(format!("a sealed {purpose} value cannot be opened: {why}"));
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(broken("not a v1 sealed value"));
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| broken(&format!("it was sealed with key '{id}', which this server's keyring does not hold")))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| broken("bad encoding"))?;
        if bytes.len() < 12 + 16 {
            return Err(broken("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| broken("bad nonce"))?;
        let plain = key
            .cipher
            .decrypt(&nonce, Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .map_err(|_| broken("authentication failed (wrong key or tampered data)"))?;
        String::from_utf8(plain).map_err(|_| broken("not text"))
    }

    /// Whether `sealed` is sealed under the current key (rotation skips those).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.strip_prefix(VERSION).and_then(|s| s.strip_prefix('.')).and_then(|s| s.split_once('.')).is_some_and(|(id, _)| id == self.current())
    }

    /// The blind index of a normalised value of `kind` (`phone`, `email`): 128 bits.
    pub fn index(&self, kind: &str, normalised: &str) -> String {
        self.index_bytes(kind, normalised, 16)
    }

    fn index_bytes(&self, kind: &str, normalised: &str, bytes: usize) -> String {
        let mac = hmac_sha256(&self.index_key[..], &[kind.as_bytes(), &[0], normalised.as_bytes()]);
        mac[..bytes].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A name term: 64 bits are plenty for search terms (a collision only adds a
    /// candidate), and keep the term index small.
    fn term(&self, prefix: &str) -> String {
        self.index_bytes("name", prefix, 8)
    }

    /// The search terms of a name: the blind index of every prefix (3 characters or
    /// more, at most 24) of every word, lowercased. A search for "ann ber" finds
    /// "Anna Bērziņa"; a search never needs the plaintext.
    pub fn name_terms(&self, name: &str) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for word in name_words(name).into_iter().take(8) {
            let chars: Vec<char> = word.chars().take(24).collect();
            let shortest = chars.len().min(3);
            for len in shortest..=chars.len() {
                let prefix: String = chars[..len].iter().collect();
                terms.push(self.term(&prefix));
            }
        }
        terms.sort();
        terms.dedup();
        terms
    }

    /// The terms a name query must all match (see [`Keyring::name_terms`]).
    pub fn query_terms(&self, query: &str) -> Vec<String> {
        name_words(query)
            .into_iter()
            .take(8)
            .map(|w| self.term(&w.chars().take(24).collect::<String>()))
            .collect()
    }
}

/// Lowercased words of a name (letters and digits; everything else separates).
fn name_words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// An argon2id hash (PHC string) of a staff password, with a fresh salt.
/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default().hash_password(password.as_bytes()).expect("argon2 hashes any password").to_string()
}

/// Whether `password` matches an argon2 PHC string.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A random bearer token (session tokens, API keys): 32 bytes, hex.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::development(b"test secret")
    }

    #[test]
    fn a_sealed_value_opens_to_the_original_and_hides_it() {
        let k = ring();
        let sealed = k.seal("customer", "+37120000000");
        assert!(!sealed.contains("37120000000"));
        assert!(sealed.starts_with("v1.k1."));
        assert_eq!(k.open("customer", &sealed).unwrap(), "+37120000000");
        // Fresh nonce each time: equal plaintexts do not give equal ciphertexts.
        assert_ne!(k.seal("customer", "+37120000000"), sealed);
    }

    #[test]
    fn a_value_sealed_for_one_purpose_does_not_open_for_another_or_when_tampered() {
        let k = ring();
        let sealed = k.seal("customer", "Anna");
        assert!(k.open("note", &sealed).is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(k.open("customer", &String::from_utf8(tampered).unwrap()).is_err());
    }

    #[test]
    fn old_keys_keep_opening_what_they_sealed_after_a_new_key_is_added() {
        let one = Keyring::parse(&format!("k1 {}\n", "11".repeat(32)), b"s").unwrap();
        let sealed = one.seal("customer", "Jānis");
        let two = Keyring::parse(&format!("# ring\nk1 {}\n{}\n", "11".repeat(32), one.new_key_line()), b"s").unwrap();
        assert_eq!(two.current(), "k2");
        assert!(!two.is_current(&sealed));
        assert_eq!(two.open("customer", &sealed).unwrap(), "Jānis");
        assert!(two.is_current(&two.seal("customer", "x")));
        // Blind indexes do not depend on data keys.
        assert_eq!(one.index("phone", "+1"), two.index("phone", "+1"));
    }

    #[test]
    fn a_bad_keyring_file_names_its_line() {
        let err = Keyring::parse("k1 abc\n", b"s").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(Keyring::parse("# nothing\n", b"s").is_err());
        assert!(Keyring::parse(&format!("k1 {0}\nk1 {0}\n", "22".repeat(32)), b"s").is_err());
    }

    #[test]
    fn a_name_query_matches_word_prefixes_in_any_case() {
        let k = ring();
        let terms = k.name_terms("Anna Bērziņa-Kalniņa");
        for q in ["anna", "ANN", "bērz", "kalniņa", "ann bēr"] {
            assert!(k.query_terms(q).iter().all(|t| terms.contains(t)), "{q}");
        }
        assert!(!k.query_terms("berz").iter().all(|t| terms.contains(t)));
        assert!(!k.query_terms("nna").iter().all(|t| terms.contains(t)));
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
