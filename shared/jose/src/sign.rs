//! Signing compact JWS through one trait, whatever holds the private key.

use std::future::Future;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use der::asn1::UintRef;
use der::{Reader, SliceReader};
use serde_json::Value;

use crate::Algorithm;

/// Why a JWS could not be signed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignError {
    /// The signer could not sign (a KMS call failed, say). `retryable`: the same call may
    /// succeed later (throttling, a timeout), as opposed to a misconfigured or disabled key.
    #[error("the signer failed")]
    Signer {
        retryable: bool,
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The signer returned something that is not a JWS signature of its algorithm.
    #[error("the signature is not a valid JWS signature: {0}")]
    BadSignature(&'static str),
    /// The header to sign is not a JSON object.
    #[error("the JWS header must be a JSON object")]
    Header,
}

impl SignError {
    /// True when signing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SignError::Signer {
                retryable: true,
                ..
            }
        )
    }
}

/// Whatever holds a private key and signs with it: a local key ([`SigningKey`], with the
/// `signing` feature) or a key in AWS KMS (`signoff-kms`). Callers build tokens with
/// [`sign_compact`] and never see which.
///
/// [`SigningKey`]: crate::SigningKey
pub trait JwsSigner {
    /// The JWS `alg` of the signatures.
    fn algorithm(&self) -> Algorithm;

    /// The key id put in the header, as published in the JWKS.
    fn kid(&self) -> &str;

    /// The signature of `signing_input` in JWS form: raw `r || s` (64 bytes) for ES256,
    /// the PKCS #1 v1.5 signature for RS256. Async, as a KMS `Sign` is a network call; a
    /// signer whose backend answers in DER converts with [`ecdsa_der_to_jws`].
    fn sign(&self, signing_input: &[u8])
        -> impl Future<Output = Result<Vec<u8>, SignError>> + Send;
}

/// The JWS signing input: `BASE64URL(header) || '.' || BASE64URL(payload)`.
pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A compact JWS of `claims`, signed by `signer`. `header` is a JSON object of whatever
/// members the token needs (`typ`, say); its `alg` and `kid` are always the signer's, so a
/// header cannot claim another algorithm or key than the one that signed.
pub async fn sign_compact<S: JwsSigner>(
    signer: &S,
    header: &Value,
    claims: &Value,
) -> Result<String, SignError> {
    let mut header = header.as_object().ok_or(SignError::Header)?.clone();
    header.insert("alg".into(), signer.algorithm().name().into());
    header.insert("kid".into(), signer.kid().into());
    let input = signing_input(&Value::Object(header), claims);
    let signature = signer.sign(input.as_bytes()).await?;
    if signer.algorithm() == Algorithm::Es256 && signature.len() != ES256_SIGNATURE_LEN {
        return Err(SignError::BadSignature(
            "an ES256 signature is 64 bytes (r || s), not DER",
        ));
    }
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

const ES256_SCALAR_LEN: usize = 32;
const ES256_SIGNATURE_LEN: usize = 2 * ES256_SCALAR_LEN;

/// Converts a DER ECDSA P-256 signature (`SEQUENCE { r INTEGER, s INTEGER }`, what AWS KMS
/// `Sign` returns for `ECDSA_SHA_256`) to its JWS form, `r || s` with each left-padded to
/// 32 bytes (RFC 7518, section 3.4). Strict DER (the `der` crate): minimal lengths,
/// canonical positive integers, nothing after the sequence; r and s must be 1 to 32 bytes
/// and not zero.
pub fn ecdsa_der_to_jws(der: &[u8]) -> Result<[u8; ES256_SIGNATURE_LEN], SignError> {
    let malformed = |_| SignError::BadSignature("not a DER ECDSA signature");
    let mut reader = SliceReader::new(der).map_err(malformed)?;
    let (r, s) = reader
        .sequence(|seq| Ok((seq.decode::<UintRef<'_>>()?, seq.decode::<UintRef<'_>>()?)))
        .map_err(malformed)?;
    let (r, s) = reader.finish((r, s)).map_err(malformed)?;
    let mut out = [0u8; ES256_SIGNATURE_LEN];
    for (int, half) in [r, s].iter().zip(out.chunks_mut(ES256_SCALAR_LEN)) {
        let bytes = int.as_bytes();
        if bytes.len() > ES256_SCALAR_LEN || bytes.iter().all(|b| *b == 0) {
            return Err(SignError::BadSignature("r or s is out of range for P-256"));
        }
        half[ES256_SCALAR_LEN - bytes.len()..].copy_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(feature = "signing")]
pub use local::SigningKey;

#[cfg(feature = "signing")]
mod local {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
    };
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::Value;

    use super::{signing_input, JwsSigner, SignError};
    use crate::jwk::{check_kid, ec_jwk, invalid, rsa_jwk, Jwk, KeyError};
    use crate::{pem, Algorithm};

    enum Inner {
        Ec(EcdsaKeyPair),
        Rsa(RsaKeyPair),
    }

    /// A private signing key held in this process: a project's key the operator keeps in a
    /// file (never in the table), or a test's. ES256 or RS256.
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
            let (label, der) = pem::decode(text)?;
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
            pem::encode("PRIVATE KEY", &self.pkcs8)
        }

        /// The public key as a SubjectPublicKeyInfo PEM, to hand to whoever registers it.
        pub fn public_pem(&self) -> String {
            let der = match &self.inner {
                Inner::Ec(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
                Inner::Rsa(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            }
            .expect("a key pair's public half encodes");
            pem::encode("PUBLIC KEY", &der)
        }

        pub fn public_jwk(&self) -> Jwk {
            self.public_jwk_with_kid(&self.kid)
        }

        fn public_jwk_with_kid(&self, kid: &str) -> Jwk {
            let mut jwk = match &self.inner {
                Inner::Ec(key) => ec_jwk(key.public_key().as_ref()),
                Inner::Rsa(key) => rsa_jwk(key.public_key()),
            }
            .expect("a key pair's public half is well formed");
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
            let input = signing_input(header, claims);
            let signature = self.signature(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
        }

        /// The JWS signature of `message`.
        fn signature(&self, message: &[u8]) -> Vec<u8> {
            let rng = SystemRandom::new();
            match &self.inner {
                Inner::Ec(key) => key
                    .sign(&rng, message)
                    .expect("ECDSA signing does not fail")
                    .as_ref()
                    .to_vec(),
                Inner::Rsa(key) => {
                    let mut sig = vec![0; key.public_modulus_len()];
                    key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                        .expect("RSA signing does not fail");
                    sig
                }
            }
        }
    }

    impl JwsSigner for SigningKey {
        fn algorithm(&self) -> Algorithm {
            SigningKey::algorithm(self)
        }

        fn kid(&self) -> &str {
            &self.kid
        }

        async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
            Ok(self.signature(signing_input))
        }
    }
}
