//! Crate-wide hashes and ids: request hashes that tell a retry from a reused id, keyed
//! hashes (HMAC) under which PINs and one-time codes are stored, advisory-lock digests,
//! transfer ids and codes, random digits, JSON text.

use loyd_domain::ids::{TransferCode, TransferId};
use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::StoreError;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a request's canonical JSON: tells a faithful retry from a reused id.
pub(crate) fn request_hash<T: serde::Serialize>(request: &T) -> String {
    hex(&Sha256::digest(serde_json::to_vec(request).unwrap_or_default()))
}

/// As [`request_hash`], keyed with the server's secret: for requests that may name a
/// customer by phone, whose plain hash could be matched against guessed phones.
pub(crate) fn keyed_request_hash<T: serde::Serialize>(secret: &crate::crypto::Secrets, request: &T) -> String {
    keyed_hash(secret, &["request", &serde_json::to_string(request).unwrap_or_default()])
}

/// A 64-bit digest of a key made of `parts` (advisory locks take a number).
pub(crate) fn key_digest(parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// A short, stable name for a (store, terminal, client id) triple, used in transfer ids
/// (which must stay short whatever the client's ids are).
pub(crate) fn scope_hash(store: &str, terminal: &str, id: &str) -> String {
    let digest = Sha256::digest(format!("{store}\u{0}{terminal}\u{0}{id}").as_bytes());
    hex(&digest[..10])
}

pub(crate) fn transfer_id(text: String) -> Result<TransferId, StoreError> {
    TransferId::parse(text).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn code(name: &'static str) -> TransferCode {
    TransferCode::parse(name).expect("static transfer codes are valid")
}

/// HMAC-SHA256 under the server's secret: how PINs and one-time codes are stored.
pub(crate) fn keyed_hash(secret: &crate::crypto::Secrets, parts: &[&str]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&secret.key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    hex(&mac.finalize().into_bytes())
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

pub(crate) fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

pub(crate) fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| bad(e.to_string()))
}
