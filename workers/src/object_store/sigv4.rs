//! AWS Signature Version 4 for S3 requests signed in the `Authorization` header, as
//! described in Amazon's "Authenticating Requests (AWS Signature Version 4)" for S3.
//! Only what the object store sends is covered: no query parameters beyond a canonical
//! string the caller builds, and a signed payload hash.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the empty payload.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The parts of a request that its signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The `Host` header as sent, with the port when it is not the scheme's default.
    pub host: &'a str,
    /// The URI path, already encoded by [`encode_path`].
    pub path: &'a str,
    /// The canonical query string (sorted, encoded), empty when there is none.
    pub query: &'a str,
    /// Headers other than `host`, `x-amz-content-sha256` and `x-amz-date`, as
    /// (lowercase name, value).
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body.
    pub payload_sha256: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, UTC.
    pub amz_date: &'a str,
}

/// Access key and scope of the signer.
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// Returns the `Authorization` header value for `request`.
pub fn authorization(request: &Request<'_>, credentials: &Credentials<'_>) -> String {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.trim().to_string()),
        ("x-amz-content-sha256".into(), request.payload_sha256.to_string()),
        ("x-amz-date".into(), request.amz_date.to_string()),
    ];
    headers.extend(request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string())));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");

    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method, request.path, request.query, request.payload_sha256
    );
    let date = &request.amz_date[..8];
    let scope = format!("{date}/{}/{}/aws4_request", credentials.region, credentials.service);
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", request.amz_date, hex::encode(Sha256::digest(canonical_request.as_bytes())));

    let date_key = hmac(format!("AWS4{}", credentials.secret_access_key).as_bytes(), date.as_bytes());
    let region_key = hmac(&date_key, credentials.region.as_bytes());
    let service_key = hmac(&region_key, credentials.service.as_bytes());
    let signing_key = hmac(&service_key, b"aws4_request");
    let signature = hex::encode(hmac(&signing_key, string_to_sign.as_bytes()));
    format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}", credentials.access_key_id)
}

/// Encodes each segment of `path` the way S3 signs it: unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) stay, every other byte becomes `%XX`, and `/` separates.
pub fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "GET Object" example of Amazon's S3 SigV4 documentation
    /// (sig-v4-header-based-auth.html), with its published signature.
    #[test]
    fn amazon_get_object_example() {
        let request = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: "",
            headers: &[("range", "bytes=0-9")],
            payload_sha256: EMPTY_PAYLOAD_SHA256,
            amz_date: "20130524T000000Z",
        };
        let credentials = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            service: "s3",
        };
        assert_eq!(
            authorization(&request, &credentials),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn path_encoding() {
        assert_eq!(encode_path("/bucket/uploads/a-b_c.d~e/000001"), "/bucket/uploads/a-b_c.d~e/000001");
        assert_eq!(encode_path("/bucket/a b+名"), "/bucket/a%20b%2B%E5%90%8D");
    }
}
