//! Public keys as JSON Web Keys (RFC 7517), and the rules a key must meet to be
//! registered: RSA (RS256) of 2048 to 8192 bits or P-256 (ES256), public only, well formed
//! by the crypto library's own checks.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::PublicKey as RsaPublicKey;
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{pem, Algorithm};

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

/// Why a key cannot be registered (or used).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("this is a private key: register the public key only (private keys are never stored)")]
    Private,
}

pub(crate) fn invalid(reason: impl Into<String>) -> KeyError {
    KeyError::Invalid(reason.into())
}

/// Private members of a JWK: their presence means someone is handing over a private key.
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// The DER of a P-256 SubjectPublicKeyInfo with an uncompressed point is 91 bytes: 26 of
/// algorithm identifier and BIT STRING header, then the 65-byte point `04 || x || y`.
const P256_SPKI_LEN: usize = 91;
const P256_POINT_LEN: usize = 65;

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
        // The label first: a private key is named as such whatever its body holds.
        if pem::label(text)?.contains("PRIVATE") {
            return Err(KeyError::Private);
        }
        let (label, der) = pem::decode(text)?;
        let jwk = match label.as_str() {
            "PUBLIC KEY" => jwk_from_spki(&der)?,
            "RSA PUBLIC KEY" => jwk_from_pkcs1(&der)?,
            l => return Err(invalid(format!("PEM {l} is not a public key"))),
        };
        jwk.with_checked_kid(kid)
    }

    /// Reads a DER SubjectPublicKeyInfo (RSA or P-256), as AWS KMS `GetPublicKey` returns
    /// it. `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_spki_der(der: &[u8], kid: Option<&str>) -> Result<Jwk, KeyError> {
        jwk_from_spki(der)?.with_checked_kid(kid)
    }

    /// Checks the key material and sets `kid` (the thumbprint when none is given).
    fn with_checked_kid(mut self, kid: Option<&str>) -> Result<Jwk, KeyError> {
        self.check_material()?;
        self.kid = match kid {
            Some(kid) => check_kid(kid)?.to_owned(),
            None => self.thumbprint(),
        };
        Ok(self)
    }

    /// The algorithm the key is for, if it is one Signoff supports.
    pub fn algorithm(&self) -> Option<Algorithm> {
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
        self.public_key().map(|_| ())
    }

    /// The key in the form the crypto library verifies with.
    pub(crate) fn public_key(&self) -> Result<ParsedPublicKey, KeyError> {
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
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.to_string().as_bytes()))
    }

    /// Whether two keys hold the same material (whatever their `kid`).
    pub fn same_material(&self, other: &Jwk) -> bool {
        self.thumbprint() == other.thumbprint()
    }
}

/// Key ids: 1-128 characters, none of them control characters.
pub(crate) fn check_kid(kid: &str) -> Result<&str, KeyError> {
    if kid.is_empty() || kid.chars().count() > 128 || kid.chars().any(char::is_control) {
        return Err(invalid("kid must be 1-128 printable characters"));
    }
    Ok(kid)
}

fn not_canonical() -> KeyError {
    invalid(
        "malformed public key: not in canonical DER (trailing bytes, or a length or \
         integer encoded in more bytes than needed)",
    )
}

/// A JWK from a DER SubjectPublicKeyInfo, RSA or P-256, parsed by aws-lc-rs. AWS-LC's DER
/// reader is strict but leaves whatever follows the key unread, and accepts a few
/// alternative forms (an RSA algorithm identifier without its NULL parameters, say): the
/// key must therefore be byte for byte the encoding AWS-LC itself writes for it.
fn jwk_from_spki(der: &[u8]) -> Result<Jwk, KeyError> {
    if let Ok(key) = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, der) {
        let canonical = key.as_der().map_err(|_| not_canonical())?;
        let canonical = canonical.as_ref();
        if canonical != der {
            return Err(not_canonical());
        }
        // The point is the BIT STRING that ends the structure.
        if canonical.len() != P256_SPKI_LEN {
            return Err(invalid("the P-256 point must be uncompressed"));
        }
        return ec_jwk(&canonical[P256_SPKI_LEN - P256_POINT_LEN..]);
    }
    let key = RsaPublicKey::from_der(der).map_err(|_| {
        invalid("not a usable RSA or P-256 public key (only RS256 and ES256 are supported)")
    })?;
    if key.as_der().map_err(|_| not_canonical())?.as_ref() != der {
        return Err(not_canonical());
    }
    rsa_jwk(&key)
}

/// A JWK from a DER PKCS #1 RSAPublicKey, parsed by aws-lc-rs (which also accepts a
/// SubjectPublicKeyInfo here: the canonical comparison refuses that under this label).
fn jwk_from_pkcs1(der: &[u8]) -> Result<Jwk, KeyError> {
    let key =
        RsaPublicKey::from_der(der).map_err(|_| invalid("not a usable PKCS #1 RSA public key"))?;
    if key.as_ref() != der {
        return Err(not_canonical());
    }
    rsa_jwk(&key)
}

/// A P-256 JWK from an uncompressed point (`04 || x || y`).
pub(crate) fn ec_jwk(point: &[u8]) -> Result<Jwk, KeyError> {
    if point.len() != P256_POINT_LEN || point[0] != 4 {
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

/// An RSA JWK from the parsed key's modulus and exponent (big-endian, no leading zeros).
pub(crate) fn rsa_jwk(key: &RsaPublicKey) -> Result<Jwk, KeyError> {
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(key);
    Ok(Jwk {
        kty: "RSA".into(),
        kid: String::new(),
        alg: Algorithm::Rs256.name().into(),
        key_use: "sig".into(),
        n: Some(URL_SAFE_NO_PAD.encode(&components.n)),
        e: Some(URL_SAFE_NO_PAD.encode(&components.e)),
        crv: None,
        x: None,
        y: None,
    })
}
