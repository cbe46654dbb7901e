//! Request signing for the provincial supervision platform (see `docs/provincial-contract.md`).
//!
//! The signed message is the canonical string
//! `METHOD "\n" PATH "\n" TIMESTAMP "\n" hex(digest(body))`, where PATH is the request
//! target as sent (path plus `?query` when there is one), TIMESTAMP is unix seconds, and
//! `digest` is the hash of the chosen algorithm: SHA-256 for `hmac-sha256`, SM3 for
//! `hmac-sm3`. Both sides share one secret per key id.

use std::fmt;
use std::str::FromStr;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sm3::Sm3;

/// Header that names the shared secret the request was signed with.
pub const HEADER_KEY_ID: &str = "x-certflow-key-id";
/// Header with the signing time in unix seconds.
pub const HEADER_TIMESTAMP: &str = "x-certflow-timestamp";
/// Header with `<algorithm>=<hex signature>`, for example `hmac-sha256=9f…`.
pub const HEADER_SIGNATURE: &str = "x-certflow-signature";
/// Header that repeats the record's `idempotency_key` on `POST /v1/records`.
pub const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Maximum difference in seconds between the signing timestamp and the receiver's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// MAC algorithm used to sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureAlgorithm {
    /// HMAC with SHA-256, and SHA-256 as the body digest.
    #[default]
    HmacSha256,
    /// HMAC with SM3 (GB/T 32905-2016), and SM3 as the body digest, so that no
    /// non-SM algorithm appears in the signed message.
    HmacSm3,
}

impl SignatureAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [SignatureAlgorithm; 2] = [Self::HmacSha256, Self::HmacSm3];

    /// Returns the label used in the signature header (`hmac-sha256` or `hmac-sm3`).
    pub fn label(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSm3 => "hmac-sm3",
        }
    }

    /// Hashes a request body with the algorithm's digest and returns lowercase hex.
    pub fn body_digest_hex(self, body: &[u8]) -> String {
        match self {
            Self::HmacSha256 => hex::encode(Sha256::digest(body)),
            Self::HmacSm3 => hex::encode(Sm3::digest(body)),
        }
    }

    fn mac_bytes(self, secret: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Self::HmacSha256 => keyed_mac::<Hmac<Sha256>>(secret, message)
                .finalize()
                .into_bytes()
                .to_vec(),
            Self::HmacSm3 => keyed_mac::<Hmac<Sm3>>(secret, message)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    fn verify_mac(self, secret: &[u8], message: &[u8], expected: &[u8]) -> bool {
        // `verify_slice` compares in constant time.
        match self {
            Self::HmacSha256 => keyed_mac::<Hmac<Sha256>>(secret, message)
                .verify_slice(expected)
                .is_ok(),
            Self::HmacSm3 => keyed_mac::<Hmac<Sm3>>(secret, message)
                .verify_slice(expected)
                .is_ok(),
        }
    }
}

fn keyed_mac<M: Mac + KeyInit>(secret: &[u8], message: &[u8]) -> M {
    let mut mac = <M as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.label() == s)
            .ok_or_else(|| SignatureError::UnknownAlgorithm(s.to_owned()))
    }
}

/// Failure to read a signature header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is not in the form <algorithm>=<hex>: {0:?}")]
    Malformed(String),
    #[error("unknown signature algorithm {0:?}, expected hmac-sha256 or hmac-sm3")]
    UnknownAlgorithm(String),
    #[error("signature is not valid hex")]
    InvalidHex,
}

/// Builds the canonical string that is signed: method, request target, timestamp and body
/// digest, joined by `\n` with no trailing newline.
pub fn canonical_string(
    algorithm: SignatureAlgorithm,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        algorithm.body_digest_hex(body)
    )
}

/// Signs a canonical string and returns the MAC as lowercase hex.
pub fn sign(algorithm: SignatureAlgorithm, secret: &[u8], canonical: &str) -> String {
    hex::encode(algorithm.mac_bytes(secret, canonical.as_bytes()))
}

/// Checks a MAC against a canonical string in constant time.
pub fn verify(
    algorithm: SignatureAlgorithm,
    secret: &[u8],
    canonical: &str,
    signature: &[u8],
) -> bool {
    algorithm.verify_mac(secret, canonical.as_bytes(), signature)
}

/// Formats the value of the `X-Certflow-Signature` header.
pub fn format_signature_header(algorithm: SignatureAlgorithm, signature_hex: &str) -> String {
    format!("{}={}", algorithm.label(), signature_hex)
}

/// Parses an `X-Certflow-Signature` header value into the algorithm and the raw MAC bytes.
pub fn parse_signature_header(
    value: &str,
) -> Result<(SignatureAlgorithm, Vec<u8>), SignatureError> {
    let (label, signature_hex) = value
        .trim()
        .split_once('=')
        .ok_or_else(|| SignatureError::Malformed(value.to_owned()))?;
    let algorithm: SignatureAlgorithm = label.trim().parse()?;
    let signature = hex::decode(signature_hex.trim()).map_err(|_| SignatureError::InvalidHex)?;
    Ok((algorithm, signature))
}

/// The three authentication headers of one signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub key_id: String,
    pub timestamp: i64,
    /// Value of `X-Certflow-Signature`, including the algorithm label.
    pub signature: String,
}

/// Signs one request and returns the header values to send with it.
pub fn sign_request(
    algorithm: SignatureAlgorithm,
    key_id: &str,
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
) -> SignatureHeaders {
    let canonical = canonical_string(algorithm, method, path_and_query, timestamp, body);
    SignatureHeaders {
        key_id: key_id.to_owned(),
        timestamp,
        signature: format_signature_header(algorithm, &sign(algorithm, secret, &canonical)),
    }
}

/// Returns whether `timestamp` lies within [`TIMESTAMP_TOLERANCE_SECS`] of `now` (both unix seconds).
pub fn timestamp_in_window(timestamp: i64, now: i64) -> bool {
    timestamp.abs_diff(now) <= TIMESTAMP_TOLERANCE_SECS.unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed once with Python's `hashlib` and `hmac` modules (OpenSSL SHA-256 and
    // SM3), independently of the Rust crates under test.
    const SECRET: &[u8] = b"certflow-test-secret";
    const BODY: &[u8] = br#"{"kind":"credit","sequence":1}"#;
    const TIMESTAMP: i64 = 1_767_225_600;
    const SHA256_BODY_HEX: &str =
        "4392c7d20cc866a7e60ff9105308a837112069d37f6fee710f0337769b127948";
    const SHA256_SIGNATURE_HEX: &str =
        "08ed56bdd47ac407b5eb011231bac83929fb15bec28018324dd8fbb79e885922";
    const SM3_BODY_HEX: &str = "e64865a9a1cac032b0c3aacaa7de0452022124912177f014ffff26ee2bb0e304";
    const SM3_SIGNATURE_HEX: &str =
        "9dbe50522b591557e12ac89d5bf0004425f11aa975ca201527e593c994e2d1e5";

    #[test]
    fn sm3_matches_standard_example() {
        // The "abc" example of GB/T 32905-2016.
        assert_eq!(
            SignatureAlgorithm::HmacSm3.body_digest_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn canonical_string_layout() {
        let canonical = canonical_string(
            SignatureAlgorithm::HmacSha256,
            "post",
            "/v1/records",
            TIMESTAMP,
            BODY,
        );
        assert_eq!(
            canonical,
            format!("POST\n/v1/records\n1767225600\n{SHA256_BODY_HEX}")
        );

        let canonical = canonical_string(
            SignatureAlgorithm::HmacSm3,
            "POST",
            "/v1/records",
            TIMESTAMP,
            BODY,
        );
        assert_eq!(
            canonical,
            format!("POST\n/v1/records\n1767225600\n{SM3_BODY_HEX}")
        );
    }

    #[test]
    fn sign_hmac_sha256_known_vector() {
        let canonical = canonical_string(
            SignatureAlgorithm::HmacSha256,
            "POST",
            "/v1/records",
            TIMESTAMP,
            BODY,
        );
        assert_eq!(
            sign(SignatureAlgorithm::HmacSha256, SECRET, &canonical),
            SHA256_SIGNATURE_HEX
        );
    }

    #[test]
    fn sign_hmac_sm3_known_vector() {
        let canonical = canonical_string(
            SignatureAlgorithm::HmacSm3,
            "POST",
            "/v1/records",
            TIMESTAMP,
            BODY,
        );
        assert_eq!(
            sign(SignatureAlgorithm::HmacSm3, SECRET, &canonical),
            SM3_SIGNATURE_HEX
        );
    }

    #[test]
    fn verify_accepts_and_rejects() {
        for algorithm in SignatureAlgorithm::ALL {
            let canonical = canonical_string(algorithm, "POST", "/v1/records", TIMESTAMP, BODY);
            let signature = hex::decode(sign(algorithm, SECRET, &canonical)).unwrap();
            assert!(
                verify(algorithm, SECRET, &canonical, &signature),
                "{algorithm}: valid signature"
            );

            let mut tampered = signature.clone();
            tampered[0] ^= 1;
            assert!(
                !verify(algorithm, SECRET, &canonical, &tampered),
                "{algorithm}: flipped bit"
            );
            assert!(
                !verify(algorithm, b"other-secret", &canonical, &signature),
                "{algorithm}: wrong secret"
            );
            assert!(
                !verify(algorithm, SECRET, &canonical, &signature[..16]),
                "{algorithm}: truncated"
            );

            let other_body = canonical_string(algorithm, "POST", "/v1/records", TIMESTAMP, b"{}");
            assert!(
                !verify(algorithm, SECRET, &other_body, &signature),
                "{algorithm}: other body"
            );
        }
    }

    #[test]
    fn signature_header_round_trip() {
        let headers = sign_request(
            SignatureAlgorithm::HmacSha256,
            "dev",
            SECRET,
            "POST",
            "/v1/records",
            TIMESTAMP,
            BODY,
        );
        assert_eq!(
            headers.signature,
            format!("hmac-sha256={SHA256_SIGNATURE_HEX}")
        );

        let (algorithm, signature) = parse_signature_header(&headers.signature).unwrap();
        assert_eq!(algorithm, SignatureAlgorithm::HmacSha256);
        assert_eq!(hex::encode(signature), SHA256_SIGNATURE_HEX);
    }

    #[test]
    fn parse_signature_header_errors() {
        assert_eq!(
            parse_signature_header("08ed56"),
            Err(SignatureError::Malformed("08ed56".to_owned()))
        );
        assert_eq!(
            parse_signature_header("hmac-md5=08ed56"),
            Err(SignatureError::UnknownAlgorithm("hmac-md5".to_owned()))
        );
        assert_eq!(
            parse_signature_header("hmac-sm3=zz"),
            Err(SignatureError::InvalidHex)
        );
    }

    #[test]
    fn timestamp_window_edges() {
        let now = TIMESTAMP;
        assert!(timestamp_in_window(now - 300, now));
        assert!(timestamp_in_window(now + 300, now));
        assert!(!timestamp_in_window(now - 301, now));
        assert!(!timestamp_in_window(now + 301, now));
    }
}
