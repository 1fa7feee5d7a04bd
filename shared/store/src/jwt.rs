//! Refresh JWTs, Descope style: verifying them against a project's public keys, and the
//! keys themselves as JWKs.
//!
//! Verification is deliberately narrow. Only ES256 and RS256 are accepted, the key is
//! chosen by `kid` among the project's keys and must be of the header's algorithm (an RSA
//! key never checks an ES256 signature, and no key checks an HMAC one, so `alg: none` and
//! HMAC-with-the-public-key confusion fail before any signature is computed), and `crit`
//! headers are refused.
//!
//! With the `signing` feature (the admin tool and the tests), [`SigningKey`] generates key
//! pairs and mints tokens: the same path a deployment's own issuer would take.

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Clock skew tolerated on `exp` and `nbf`, as Descope's Node SDK allows.
pub const LEEWAY_SECONDS: i64 = 5;

/// Longest token accepted: refresh JWTs with many tenants and roles run to a few kilobytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::Es256),
            "RS256" => Some(Algorithm::Rs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

/// A public JSON Web Key (RFC 7517), as stored and as served by the keys endpoint. Only
/// the members of RSA and P-256 public keys are kept; private members never get this far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Why a key cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("this is a private key: register the public key only (private keys are never stored)")]
    Private,
}

fn invalid(reason: impl Into<String>) -> KeyError {
    KeyError::Invalid(reason.into())
}

/// Private members of a JWK: their presence means someone is handing over a private key.
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

impl Jwk {
    /// Reads one key of a JWKS: public RSA (RS256, at least 2048 bits) or P-256 (ES256).
    /// A key without `kid` is given its RFC 7638 thumbprint.
    pub fn from_json(value: &Value) -> Result<Jwk, KeyError> {
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("a JWK must be a JSON object"))?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err(KeyError::Private);
        }
        // A member of the wrong type is an error, not an absent member: `"kid": 7` must not
        // quietly become the thumbprint.
        let text = |name: &str| -> Result<Option<String>, KeyError> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(v)) => Ok(Some(v.clone())),
                Some(_) => Err(invalid(format!("the JWK's {name} must be a string"))),
            }
        };
        let kty = text("kty")?.ok_or_else(|| invalid("the JWK has no kty"))?;
        let mut jwk = Jwk {
            alg: String::new(),
            key_use: "sig".into(),
            kid: String::new(),
            n: text("n")?,
            e: text("e")?,
            crv: text("crv")?,
            x: text("x")?,
            y: text("y")?,
            kty,
        };
        let expected = match jwk.kty.as_str() {
            "RSA" => Algorithm::Rs256,
            "EC" => Algorithm::Es256,
            other => return Err(invalid(format!("key type {other} is not supported"))),
        };
        if let Some(alg) = text("alg")? {
            if Algorithm::parse(&alg) != Some(expected) {
                return Err(invalid(format!(
                    "a {} key must be used with {}, not {alg}",
                    jwk.kty,
                    expected.name()
                )));
            }
        }
        if let Some(key_use) = text("use")? {
            if key_use != "sig" {
                return Err(invalid(format!("key use {key_use} is not 'sig'")));
            }
        }
        jwk.alg = expected.name().into();
        jwk.check_material()?;
        jwk.kid = match text("kid")? {
            Some(kid) => check_kid(&kid)?.to_owned(),
            None => jwk.thumbprint(),
        };
        Ok(jwk)
    }

    /// Reads the keys of a JWKS document (`{"keys": [...]}`) or a single JWK.
    pub fn parse_set(text: &str) -> Result<Vec<Jwk>, KeyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        match value.get("keys") {
            Some(Value::Array(keys)) => keys.iter().map(Jwk::from_json).collect(),
            Some(_) => Err(invalid("keys must be an array")),
            None => Ok(vec![Jwk::from_json(&value)?]),
        }
    }

    /// Reads a PEM public key: `PUBLIC KEY` (SubjectPublicKeyInfo, RSA or P-256) or
    /// `RSA PUBLIC KEY` (PKCS #1). `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_pem(text: &str, kid: Option<&str>) -> Result<Jwk, KeyError> {
        let (label, der) = pem_decode(text)?;
        let mut jwk = match label.as_str() {
            "PUBLIC KEY" => public_key_from_spki(&der)?,
            "RSA PUBLIC KEY" => rsa_jwk(&der)?,
            l if l.contains("PRIVATE") => return Err(KeyError::Private),
            l => return Err(invalid(format!("PEM {l} is not a public key"))),
        };
        jwk.check_material()?;
        jwk.kid = match kid {
            Some(kid) => check_kid(kid)?.to_owned(),
            None => jwk.thumbprint(),
        };
        Ok(jwk)
    }

    fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::parse(&self.alg)
    }

    /// Checks the key is one the verifier will accept: decodable, of a usable size, and
    /// well formed by the crypto library's own checks (RSA exponent, point on the curve).
    /// Done at registration, so a bad key is refused then, not at every logout.
    fn check_material(&self) -> Result<(), KeyError> {
        if let (Some(Algorithm::Rs256), Some(n)) = (self.algorithm(), &self.n) {
            let n = URL_SAFE_NO_PAD
                .decode(n)
                .map_err(|_| invalid("n is not unpadded base64url"))?;
            let significant = &n[n.iter().take_while(|b| **b == 0).count()..];
            let bits = significant.len() * 8
                - significant
                    .first()
                    .map_or(8, |b| b.leading_zeros() as usize);
            if !(2048..=8192).contains(&bits) || significant.last().is_some_and(|b| b % 2 == 0) {
                return Err(invalid(
                    "RSA keys must have an odd modulus of 2048 to 8192 bits",
                ));
            }
            // What the verifier accepts (and RFC 8017 requires): an odd exponent, at least
            // 3, of at most 33 bits.
            let e = URL_SAFE_NO_PAD
                .decode(self.e.as_deref().unwrap_or_default())
                .map_err(|_| invalid("e is not unpadded base64url"))?;
            let e = e.iter().try_fold(0u64, |acc, b| {
                (acc < 1 << 33).then(|| (acc << 8) | u64::from(*b))
            });
            if !e.is_some_and(|e| e >= 3 && e % 2 == 1 && e < 1 << 33) {
                return Err(invalid(
                    "the RSA exponent must be odd, at least 3 and at most 33 bits",
                ));
            }
        }
        if self.kty == "EC" && self.crv.as_deref() != Some("P-256") {
            return Err(invalid("EC keys must be on curve P-256 (ES256)"));
        }
        self.parsed_key().map(|_| ())
    }

    /// The key in the form the crypto library verifies with.
    fn parsed_key(&self) -> Result<ParsedPublicKey, KeyError> {
        let b64 = |name: &str, v: &Option<String>| {
            let v = v
                .as_deref()
                .ok_or_else(|| invalid(format!("the JWK has no {name}")))?;
            URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|_| invalid(format!("{name} is not unpadded base64url")))
        };
        match self.algorithm() {
            Some(Algorithm::Rs256) => RsaPublicKeyComponents {
                n: b64("n", &self.n)?,
                e: b64("e", &self.e)?,
            }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| invalid("not a usable RSA public key (modulus or exponent)")),
            Some(Algorithm::Es256) => {
                let (x, y) = (b64("x", &self.x)?, b64("y", &self.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(invalid("P-256 coordinates are 32 bytes each"));
                }
                let point = [&[4u8][..], &x, &y].concat();
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| invalid("the point is not on curve P-256"))
            }
            None => Err(invalid(format!("algorithm {} is not supported", self.alg))),
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexical order.
    pub fn thumbprint(&self) -> String {
        let canonical = match self.kty.as_str() {
            "RSA" => serde_json::json!({"e": self.e, "kty": "RSA", "n": self.n}),
            _ => serde_json::json!({"crv": self.crv, "kty": "EC", "x": self.x, "y": self.y}),
        };
        // serde_json's map is ordered by key, which is what the RFC requires.
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.to_string()))
    }

    /// Whether two keys hold the same material (whatever their `kid`).
    pub fn same_material(&self, other: &Jwk) -> bool {
        self.thumbprint() == other.thumbprint()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed_key()
            .is_ok_and(|key| key.verify_sig(message, signature).is_ok())
    }
}

/// Key ids: 1-128 characters, none of them control characters.
fn check_kid(kid: &str) -> Result<&str, KeyError> {
    if kid.is_empty() || kid.chars().count() > 128 || kid.chars().any(char::is_control) {
        return Err(invalid("kid must be 1-128 printable characters"));
    }
    Ok(kid)
}

/// Why a refresh JWT is refused. Each names the problem; none reveals key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the refresh token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the refresh token is signed with {0}, which is not accepted (ES256 or RS256 only)")]
    UnsupportedAlgorithm(String),
    #[error("the refresh token has a 'crit' header, which is not supported")]
    CriticalHeader,
    #[error("the refresh token's key id (kid) is missing or not one of the project's keys")]
    UnknownKey,
    #[error("the refresh token's signature is not valid")]
    BadSignature,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the refresh token is not valid yet")]
    NotYetValid,
    #[error("the refresh token was not issued for this project")]
    WrongIssuer,
    #[error("the refresh token has no valid '{0}' claim")]
    MissingClaim(&'static str),
    #[error("the token is not a refresh token (drn is not DSR)")]
    NotRefreshToken,
}

/// What Signoff needs from a verified refresh JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    /// The user: `dsub` when present, else `sub` (as Descope's SDKs read it).
    pub user: String,
    /// `sub`, when `dsub` overrides it.
    pub subject: Option<String>,
    pub issuer: String,
    pub expires_at: i64,
    /// Where the token is kept (Descope's `drn`, e.g. `DSR`), if given.
    pub drn: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Whether `iss` names `project`: the project id itself, or a URL whose last path segment
/// is the project id (`https://api.descope.com/<projectId>`).
pub fn issuer_matches(iss: &str, project: &str) -> bool {
    if iss == project {
        return true;
    }
    let Some(rest) = iss
        .strip_prefix("https://")
        .or_else(|| iss.strip_prefix("http://"))
    else {
        return false;
    };
    // Host, then a path; no query or fragment, no empty segments but a trailing slash.
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    if host.is_empty() || rest.contains(['?', '#']) {
        return false;
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    !segments.iter().any(|s| s.is_empty()) && segments.last() == Some(&project)
}

/// Verifies a refresh JWT of `project` against the project's `keys` at time `now` (epoch
/// seconds): signature first, then `exp`/`nbf` with [`LEEWAY_SECONDS`], then `iss`.
pub fn verify(
    token: &str,
    keys: &[Jwk],
    project: &str,
    now: i64,
) -> Result<RefreshClaims, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("it is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("it does not have three parts"));
    };
    let header: Header = decode_json(header_b64).ok_or(JwtError::Malformed("bad header"))?;
    let alg = header
        .alg
        .ok_or(JwtError::Malformed("no alg in the header"))?;
    // The name is echoed in the error: keep what an attacker can make us repeat short.
    let algorithm = Algorithm::parse(&alg)
        .ok_or_else(|| JwtError::UnsupportedAlgorithm(alg.chars().take(16).collect()))?;
    if header.crit.is_some() {
        return Err(JwtError::CriticalHeader);
    }
    let kid = header.kid.ok_or(JwtError::UnknownKey)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.algorithm() == Some(algorithm))
        .ok_or(JwtError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }

    let claims: serde_json::Map<String, Value> =
        decode_json(payload_b64).ok_or(JwtError::Malformed("bad payload"))?;
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(JwtError::MissingClaim(name)),
    };
    let text = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::MissingClaim(name)),
    };
    let expires_at = number("exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now > expires_at.saturating_add(LEEWAY_SECONDS) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = number("nbf")? {
        if now < nbf.saturating_sub(LEEWAY_SECONDS) {
            return Err(JwtError::NotYetValid);
        }
    }
    let issuer = text("iss")?.ok_or(JwtError::MissingClaim("iss"))?;
    if !issuer_matches(&issuer, project) {
        return Err(JwtError::WrongIssuer);
    }
    let sub = text("sub")?.map(|s| check_user(s, "sub")).transpose()?;
    let (user, subject) = match text("dsub")? {
        Some(dsub) => (check_user(dsub, "dsub")?, sub),
        None => (sub.ok_or(JwtError::MissingClaim("sub"))?, None),
    };
    // Descope marks where a token lives: DSR for refresh tokens, DS for session tokens.
    let drn = text("drn")?;
    if drn.as_deref().is_some_and(|d| d != REFRESH_DRN) {
        return Err(JwtError::NotRefreshToken);
    }
    Ok(RefreshClaims {
        user,
        subject,
        issuer,
        expires_at,
        drn,
    })
}

/// The `drn` of a refresh JWT.
pub const REFRESH_DRN: &str = "DSR";

/// A user id is used as an index key: the limits registration applies to `subject`.
fn check_user(user: String, claim: &'static str) -> Result<String, JwtError> {
    crate::model::check_identifier("subject", &user, crate::model::MAX_ID_BYTES)
        .map_err(|_| JwtError::MissingClaim(claim))?;
    Ok(user)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// The label and DER bytes of the first PEM block in `text`.
pub fn pem_decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| invalid("not PEM: no BEGIN line"))?;
    let rest = &text[begin + 11..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| invalid("not PEM: bad BEGIN line"))?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| invalid(format!("not PEM: no END {label} line")))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| invalid("not PEM: the body is not base64"))?;
    Ok((label, der))
}

/// `der` as a PEM block.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER prefix of every P-256 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (66 bytes, no unused bits) }, followed by the uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// The DER of the rsaEncryption OID (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

fn public_key_from_spki(der: &[u8]) -> Result<Jwk, KeyError> {
    if let Some(point) = der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        return ec_jwk(point);
    }
    // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING }, nothing after it.
    let mut outer = Der::new(der);
    let mut spki = outer.sequence()?;
    outer.end()?;
    let algorithm = spki.sequence()?;
    if algorithm.rest() != [&RSA_ENCRYPTION_OID[..], &[0x05, 0x00]].concat() {
        return Err(invalid(
            "only RSA and uncompressed P-256 public keys are supported (RS256, ES256)",
        ));
    }
    let bits = spki.element(0x03)?;
    spki.end()?;
    match bits.split_first() {
        Some((0, rsa_public_key)) => rsa_jwk(rsa_public_key),
        _ => Err(invalid("malformed public key")),
    }
}

/// A P-256 JWK from an uncompressed point (`04 || x || y`).
fn ec_jwk(point: &[u8]) -> Result<Jwk, KeyError> {
    if point.len() != 65 || point[0] != 4 {
        return Err(invalid("the P-256 point must be uncompressed"));
    }
    Ok(Jwk {
        kty: "EC".into(),
        kid: String::new(),
        alg: Algorithm::Es256.name().into(),
        key_use: "sig".into(),
        n: None,
        e: None,
        crv: Some("P-256".into()),
        x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
        y: Some(URL_SAFE_NO_PAD.encode(&point[33..])),
    })
}

/// An RSA JWK from a PKCS #1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }.
fn rsa_jwk(der: &[u8]) -> Result<Jwk, KeyError> {
    let mut outer = Der::new(der);
    let mut key = outer.sequence()?;
    outer.end()?;
    let unsigned = |int: &[u8]| {
        if int.first().is_none_or(|b| b & 0x80 != 0) {
            return Err(invalid("malformed public key: a negative or empty integer"));
        }
        let skip = int.iter().take_while(|b| **b == 0).count();
        Ok(URL_SAFE_NO_PAD.encode(&int[skip..]))
    };
    let n = unsigned(key.element(0x02)?)?;
    let e = unsigned(key.element(0x02)?)?;
    key.end()?;
    Ok(Jwk {
        kty: "RSA".into(),
        kid: String::new(),
        alg: Algorithm::Rs256.name().into(),
        key_use: "sig".into(),
        n: Some(n),
        e: Some(e),
        crv: None,
        x: None,
        y: None,
    })
}

/// Just enough of a DER reader for public keys: tag, definite length, contents.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der(bytes)
    }

    fn rest(&self) -> &'a [u8] {
        self.0
    }

    /// The contents of the next element, which must have tag `tag`.
    fn element(&mut self, tag: u8) -> Result<&'a [u8], KeyError> {
        let bad = || invalid("malformed public key");
        let (&found, rest) = self.0.split_first().ok_or_else(bad)?;
        if found != tag {
            return Err(bad());
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(bad());
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[count..];
            len
        };
        if rest.len() < len {
            return Err(bad());
        }
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Ok(contents)
    }

    fn sequence(&mut self) -> Result<Der<'a>, KeyError> {
        self.element(0x30).map(Der)
    }

    /// Nothing may follow.
    fn end(&self) -> Result<(), KeyError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid("malformed public key: trailing bytes"))
        }
    }
}

#[cfg(feature = "signing")]
pub use signing::SigningKey;

#[cfg(feature = "signing")]
mod signing {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
    };

    use super::*;

    enum Inner {
        Ec(EcdsaKeyPair),
        Rsa(RsaKeyPair),
    }

    /// A project's private signing key. Lives in a file the operator keeps, never in the
    /// table.
    pub struct SigningKey {
        kid: String,
        inner: Inner,
        pkcs8: Vec<u8>,
    }

    impl std::fmt::Debug for SigningKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SigningKey({})", self.kid)
        }
    }

    impl SigningKey {
        /// A fresh key pair (RSA keys are 2048 bits). `kid` defaults to the thumbprint.
        pub fn generate(algorithm: Algorithm, kid: Option<&str>) -> Result<Self, KeyError> {
            let failed = || invalid("the key pair could not be generated");
            let pkcs8 = match algorithm {
                Algorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .and_then(|k| k.to_pkcs8v1())
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec(),
                Algorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| failed())?
                    .as_der()
                    .map_err(|_| failed())?
                    .as_ref()
                    .to_vec(),
            };
            Self::from_pkcs8(&pkcs8, kid)
        }

        /// Reads a `PRIVATE KEY` (PKCS #8) PEM, RSA or P-256.
        pub fn from_pem(text: &str, kid: Option<&str>) -> Result<Self, KeyError> {
            let (label, der) = pem_decode(text)?;
            if label != "PRIVATE KEY" {
                return Err(invalid(format!(
                    "expected a PRIVATE KEY (PKCS #8) PEM, not {label}"
                )));
            }
            Self::from_pkcs8(&der, kid)
        }

        fn from_pkcs8(pkcs8: &[u8], kid: Option<&str>) -> Result<Self, KeyError> {
            let inner =
                match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8) {
                    Ok(key) => Inner::Ec(key),
                    Err(_) => Inner::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| {
                        invalid("the private key is neither P-256 nor RSA in PKCS #8")
                    })?),
                };
            let mut key = SigningKey {
                kid: String::new(),
                inner,
                pkcs8: pkcs8.to_vec(),
            };
            key.kid = match kid {
                Some(kid) => check_kid(kid)?.to_owned(),
                None => key.public_jwk_with_kid("").thumbprint(),
            };
            Ok(key)
        }

        pub fn kid(&self) -> &str {
            &self.kid
        }

        pub fn algorithm(&self) -> Algorithm {
            match self.inner {
                Inner::Ec(_) => Algorithm::Es256,
                Inner::Rsa(_) => Algorithm::Rs256,
            }
        }

        /// The private key as a PKCS #8 PEM, for the operator to keep.
        pub fn to_pem(&self) -> String {
            pem_encode("PRIVATE KEY", &self.pkcs8)
        }

        /// The public key as a SubjectPublicKeyInfo PEM, to hand to whoever registers it.
        pub fn public_pem(&self) -> String {
            let der = match &self.inner {
                Inner::Ec(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
                Inner::Rsa(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            }
            .expect("a key pair's public half encodes");
            pem_encode("PUBLIC KEY", &der)
        }

        pub fn public_jwk(&self) -> Jwk {
            self.public_jwk_with_kid(&self.kid)
        }

        fn public_jwk_with_kid(&self, kid: &str) -> Jwk {
            let mut jwk = match &self.inner {
                Inner::Ec(key) => ec_jwk(key.public_key().as_ref()),
                Inner::Rsa(key) => rsa_jwk(key.public_key().as_ref()),
            }
            .expect("a generated key's public half is well formed");
            jwk.kid = kid.to_owned();
            jwk
        }

        /// A signed JWT of `claims` with this key's `alg` and `kid`.
        pub fn sign(&self, claims: &Value) -> String {
            let header = serde_json::json!({
                "alg": self.algorithm().name(), "kid": self.kid, "typ": "JWT"
            });
            self.sign_with_header(&header, claims)
        }

        /// A JWT with the given header, signed with this key whatever the header says (the
        /// tests use it to forge headers).
        pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let rng = SystemRandom::new();
            let signature = match &self.inner {
                Inner::Ec(key) => key
                    .sign(&rng, signing_input.as_bytes())
                    .expect("ECDSA signing does not fail")
                    .as_ref()
                    .to_vec(),
                Inner::Rsa(key) => {
                    let mut sig = vec![0; key.public_modulus_len()];
                    key.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
                        .expect("RSA signing does not fail");
                    sig
                }
            };
            format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers() {
        assert!(issuer_matches("P2abc", "P2abc"));
        assert!(issuer_matches("https://api.descope.com/P2abc", "P2abc"));
        assert!(issuer_matches("https://api.descope.com/v1/P2abc/", "P2abc"));
        assert!(!issuer_matches("https://api.descope.com/P2abcd", "P2abc"));
        assert!(!issuer_matches("P2abc/x", "P2abc"));
        assert!(!issuer_matches("evil/P2abc", "P2abc"));
        assert!(!issuer_matches("https://a/b?x=/P2abc", "P2abc"));
        assert!(!issuer_matches("https://a/b#/P2abc", "P2abc"));
        assert!(!issuer_matches("https://P2abc", "P2abc"));
        assert!(!issuer_matches("x://a/P2abc", "P2abc"));
        assert!(!issuer_matches("https://a/P2abc//", "P2abc"));
        assert!(!issuer_matches("https:///P2abc", "P2abc"));
    }

    #[test]
    fn private_keys_are_refused() {
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"});
        assert_eq!(Jwk::from_json(&jwk), Err(KeyError::Private));
        assert_eq!(
            Jwk::from_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                None
            ),
            Err(KeyError::Private)
        );
    }

    #[test]
    fn weak_and_mismatched_keys_are_refused() {
        let short = URL_SAFE_NO_PAD.encode([0xffu8; 128]); // 1024 bits
        let jwk = serde_json::json!({"kty": "RSA", "n": short, "e": "AQAB"});
        assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("2048")));
        let jwk = serde_json::json!({"kty": "RSA", "alg": "HS256", "n": short, "e": "AQAB"});
        assert!(matches!(Jwk::from_json(&jwk), Err(KeyError::Invalid(m)) if m.contains("RS256")));
        let jwk = serde_json::json!({"kty": "oct", "k": "c2VjcmV0"});
        assert!(Jwk::from_json(&jwk).is_err());
    }

    #[test]
    fn keys_the_crypto_library_would_refuse_are_refused_at_registration() {
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 256]); // 2048 bits, odd
        let rsa = |e: &str| serde_json::json!({"kty": "RSA", "n": n, "e": e});
        assert!(Jwk::from_json(&rsa("AQAB")).is_ok());
        for bad_e in ["AQ", "", "AA", "Ag"] {
            assert!(Jwk::from_json(&rsa(bad_e)).is_err(), "e={bad_e}");
        }
        let off_curve = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])});
        assert!(
            matches!(Jwk::from_json(&off_curve), Err(KeyError::Invalid(m)) if m.contains("curve"))
        );
        let numeric_kid = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": 7});
        assert!(Jwk::from_json(&numeric_kid).is_err());
        let empty = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----";
        assert!(Jwk::from_pem(empty, None).is_err());
    }

    #[test]
    fn rfc7638_thumbprint() {
        // The example key of RFC 7638 section 3.1 and its published thumbprint.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let jwk = Jwk::from_json(&jwk).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(jwk.kid, "2011-04-29");
    }

    #[test]
    fn malformed_tokens() {
        let keys = [];
        for (token, want) in [
            ("abc", JwtError::Malformed("it does not have three parts")),
            (
                "a.b.c.d",
                JwtError::Malformed("it does not have three parts"),
            ),
            ("!!.b.c", JwtError::Malformed("bad header")),
        ] {
            assert_eq!(verify(token, &keys, "p", 0), Err(want));
        }
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#)
        );
        assert_eq!(
            verify(&none, &keys, "p", 0),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        let long_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}"}}"#, "A".repeat(5000))),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#)
        );
        assert_eq!(
            verify(&long_alg, &keys, "p", 0),
            Err(JwtError::UnsupportedAlgorithm("A".repeat(16)))
        );
    }

    #[cfg(feature = "signing")]
    #[test]
    fn signed_tokens_verify_and_pem_keys_round_trip() {
        for alg in [Algorithm::Es256, Algorithm::Rs256] {
            let key = SigningKey::generate(alg, None).unwrap();
            let jwk = key.public_jwk();
            assert_eq!(jwk.kid, jwk.thumbprint());
            let reread = SigningKey::from_pem(&key.to_pem(), None).unwrap();
            assert_eq!(reread.public_jwk(), jwk);
            assert_eq!(Jwk::from_pem(&key.public_pem(), None).unwrap(), jwk);
            let claims = serde_json::json!({"sub": "u1", "iss": "P1", "exp": 1000, "drn": "DSR"});
            let token = key.sign(&claims);
            let keys = std::slice::from_ref(&jwk);
            let verified = verify(&token, keys, "P1", 1000).unwrap();
            assert_eq!(verified.user, "u1");
            assert_eq!(verified.drn.as_deref(), Some("DSR"));
            assert_eq!(verify(&token, keys, "P1", 1006), Err(JwtError::Expired));
            assert_eq!(verify(&token, keys, "P2", 1000), Err(JwtError::WrongIssuer));
            // A session token (drn DS) is not a refresh token.
            let session =
                key.sign(&serde_json::json!({"sub": "u1", "iss": "P1", "exp": 1000, "drn": "DS"}));
            assert_eq!(
                verify(&session, keys, "P1", 1000),
                Err(JwtError::NotRefreshToken)
            );
            // A signed but oversized user id cannot become an index key.
            let huge =
                key.sign(&serde_json::json!({"sub": "u".repeat(300), "iss": "P1", "exp": 1000}));
            assert_eq!(
                verify(&huge, keys, "P1", 1000),
                Err(JwtError::MissingClaim("sub"))
            );
            // Trailing bytes after a public key are refused.
            let (_, mut der) = pem_decode(&key.public_pem()).unwrap();
            der.push(0);
            assert!(Jwk::from_pem(&pem_encode("PUBLIC KEY", &der), None).is_err());
        }
    }
}
