//! Signoff's own signing keys, in AWS KMS (`ECC_NIST_P256`, ES256): the private key never
//! leaves KMS. [`KmsSigner`] is a [`JwsSigner`], so whatever builds a token (introspection
//! responses, logout tokens, status lists) calls `signoff_jose::sign_compact` and never
//! sees KMS. [`KeySet`] turns the configured keys into the published JWKS.
//!
//! - **Lazy, then cached.** Nothing is called at init (init stays lean): the first token
//!   to sign fetches the current key's public half (`GetPublicKey`) once, and the key set
//!   lives as long as the sandbox. A failed fetch is not cached; the next request tries
//!   again.
//! - **`kid` is the RFC 7638 thumbprint** of the public key, so it names the key itself,
//!   whatever alias or ARN the configuration uses, and a resource server's cached JWKS
//!   stays right across a rotation: the new key is published beside the old one
//!   ([`KeySet`]'s previous keys) until tokens signed with the old one have expired.
//! - **`Sign` with `ECDSA_SHA_256`**, `MessageType::RAW` (KMS hashes) for signing inputs up
//!   to KMS's 4,096-byte RAW limit, and for longer ones (an introspection answer of a token
//!   with a long scope and many audiences) the SHA-256 computed here with
//!   `MessageType::DIGEST`: the same signature either way. KMS answers in DER, converted to
//!   JWS `r || s` by `signoff_jose`.
//! - **Signs with the key `GetPublicKey` named** (its ARN on AWS), not with the configured
//!   alias, so a retargeted alias cannot make a signature disagree with the cached `kid`.
//! - **A previous key that cannot be read** (disabled, deleted, not granted) is left out of
//!   the published set with a warning; it never stops the current key from signing.
//! - **Errors keep their source** and say whether a retry may succeed (throttling,
//!   timeouts, an unavailable key) or an operator must act (a disabled, deleted or wrong
//!   key, missing permissions).

use std::sync::Arc;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};
use signoff_jose::{ecdsa_der_to_jws, Algorithm, Jwk, JwsSigner, SignError};
use tokio::sync::OnceCell;

/// The most a `Sign` call with `MessageType::RAW` accepts; longer inputs are signed as
/// their digest.
pub const MAX_RAW_MESSAGE_BYTES: usize = 4096;

/// KMS error codes worth retrying (besides 5xx and transport failures).
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "KMSInternalException",
    "KeyUnavailableException",
    "DependencyTimeoutException",
    "LimitExceededException",
];

/// Why a key could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KmsError {
    /// A KMS call failed.
    #[error("KMS {operation} failed ({code})")]
    Call {
        operation: &'static str,
        /// The service's error code, or the kind of transport failure.
        code: String,
        retryable: bool,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The key is not an ECC_NIST_P256 signing key, or its public key does not parse.
    #[error("KMS key {key_id} is not usable for ES256: {reason}")]
    UnusableKey { key_id: String, reason: String },
}

impl KmsError {
    /// True when the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            KmsError::Call {
                retryable: true,
                ..
            }
        )
    }
}

impl From<KmsError> for SignError {
    fn from(err: KmsError) -> Self {
        SignError::Signer {
            retryable: err.is_retryable(),
            source: Arc::new(err),
        }
    }
}

/// Classifies an SDK error: the one place that decides whether a KMS failure is retryable.
fn classify<E>(
    operation: &'static str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, retryable) = match &err {
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown").to_owned();
            let retryable =
                ctx.raw().status().as_u16() >= 500 || RETRYABLE_CODES.contains(&code.as_str());
            (code, retryable)
        }
        _ => ("Unknown".to_owned(), false),
    };
    KmsError::Call {
        operation,
        code,
        retryable,
        source: Arc::new(err),
    }
}

/// The public half of a KMS key, as published.
#[derive(Clone, Debug)]
pub struct PublicKey {
    /// The key as configured (id, ARN or alias).
    pub key_id: String,
    /// The key itself, as `GetPublicKey` named it (its ARN on AWS): what `Sign` is sent.
    pub resolved_key_id: String,
    /// Its JWK, `kid` = RFC 7638 thumbprint.
    pub jwk: Jwk,
}

/// Fetches `key_id`'s public key and checks it is a P-256 signing key.
pub async fn public_key(client: &aws_sdk_kms::Client, key_id: &str) -> Result<PublicKey, KmsError> {
    let unusable = |reason: String| KmsError::UnusableKey {
        key_id: key_id.to_owned(),
        reason,
    };
    let output = client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("GetPublicKey", e))?;
    // Real KMS names the spec in `KeySpec`; some emulators only in the deprecated field.
    #[allow(deprecated)]
    let spec = output
        .key_spec()
        .map(KeySpec::as_str)
        .or_else(|| output.customer_master_key_spec().map(|spec| spec.as_str()));
    if spec != Some(KeySpec::EccNistP256.as_str()) {
        return Err(unusable(format!(
            "its key spec is {spec:?}, not ECC_NIST_P256"
        )));
    }
    let signs_es256 = output
        .signing_algorithms()
        .contains(&SigningAlgorithmSpec::EcdsaSha256);
    if !signs_es256 {
        return Err(unusable("it does not sign with ECDSA_SHA_256".into()));
    }
    let der = output
        .public_key()
        .ok_or_else(|| unusable("GetPublicKey returned no key".into()))?;
    let jwk = Jwk::from_spki_der(der.as_ref(), None).map_err(|e| unusable(e.to_string()))?;
    Ok(PublicKey {
        key_id: key_id.to_owned(),
        resolved_key_id: output.key_id().unwrap_or(key_id).to_owned(),
        jwk,
    })
}

/// The signing key and the keys published beside it, from configuration: the current key
/// signs; previous keys (a rotation in progress) are only published.
pub struct KeySet {
    client: aws_sdk_kms::Client,
    current: String,
    previous: Vec<String>,
    loaded: OnceCell<Loaded>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .field("loaded", &self.loaded.initialized())
            .finish()
    }
}

struct Loaded {
    signer: KmsSigner,
    jwks: Vec<Jwk>,
}

impl KeySet {
    /// Keys named by id, ARN or alias. Nothing is fetched until first needed.
    pub fn new(client: aws_sdk_kms::Client, current: String, previous: Vec<String>) -> Self {
        Self {
            client,
            current,
            previous,
            loaded: OnceCell::new(),
        }
    }

    /// The signer of the current key, its public key fetched on first use.
    pub async fn signer(&self) -> Result<&KmsSigner, KmsError> {
        Ok(&self.load().await?.signer)
    }

    /// Every published key, current first: the JWKS's `keys`.
    pub async fn jwks(&self) -> Result<&[Jwk], KmsError> {
        Ok(&self.load().await?.jwks)
    }

    async fn load(&self) -> Result<&Loaded, KmsError> {
        self.loaded
            .get_or_try_init(|| async {
                let current = public_key(&self.client, &self.current).await?;
                let mut jwks = vec![current.jwk.clone()];
                for key_id in &self.previous {
                    match public_key(&self.client, key_id).await {
                        Ok(key) if !jwks.iter().any(|k| k.kid == key.jwk.kid) => jwks.push(key.jwk),
                        Ok(_) => {}
                        Err(error) => tracing::warn!(
                            key_id = %key_id,
                            error = %error,
                            "a previous signing key is not published: it could not be read"
                        ),
                    }
                }
                Ok(Loaded {
                    signer: KmsSigner {
                        client: self.client.clone(),
                        key: current,
                    },
                    jwks,
                })
            })
            .await
    }
}

/// Signs ES256 with a KMS key. Built by [`KeySet::signer`], which knows its `kid`.
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key: PublicKey,
}

impl KmsSigner {
    /// The key's public half, as published.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    async fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, KmsError> {
        let (message, message_type) = if message.len() <= MAX_RAW_MESSAGE_BYTES {
            (message.to_vec(), MessageType::Raw)
        } else {
            use sha2::Digest;
            (sha2::Sha256::digest(message).to_vec(), MessageType::Digest)
        };
        let output = self
            .client
            .sign()
            .key_id(&self.key.resolved_key_id)
            .message(Blob::new(message))
            .message_type(message_type)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| classify("Sign", e))?;
        let der = output.signature().ok_or_else(|| KmsError::UnusableKey {
            key_id: self.key.key_id.clone(),
            reason: "Sign returned no signature".into(),
        })?;
        Ok(der.as_ref().to_vec())
    }
}

impl JwsSigner for KmsSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn kid(&self) -> &str {
        &self.key.jwk.kid
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let der = self.sign_der(signing_input).await?;
        Ok(ecdsa_der_to_jws(&der)?.to_vec())
    }
}

/// Secrets Signoff must send on but never store in the clear (an SSF receiver's
/// authorization header), sealed by a symmetric KMS key (`SYMMETRIC_DEFAULT`): the table
/// holds only KMS's ciphertext, and only a role granted `kms:Decrypt` on the key reads
/// the value. Each secret is bound to where it belongs by the encryption context (KMS
/// authenticates it with the ciphertext), so a ciphertext copied onto another item does
/// not open.
///
/// What it opened is kept for [`OPENED_FOR`] (per sandbox), so that a burst of logouts
/// to one receiver costs one `Decrypt`, not one per delivery.
#[derive(Clone)]
pub struct SecretBox {
    client: aws_sdk_kms::Client,
    key_id: String,
    /// By the SHA-256 of the ciphertext and its context: what opened, and when.
    opened: Arc<std::sync::Mutex<OpenedSecrets>>,
}

type OpenedSecrets = std::collections::HashMap<[u8; 32], (String, std::time::Instant)>;

/// How long an opened secret is reused without asking KMS again.
pub const OPENED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// Never shows what it opened.
impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    pub fn new(client: aws_sdk_kms::Client, key_id: String) -> Self {
        Self {
            client,
            key_id,
            opened: Arc::default(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Encrypts `secret` (at most 4,096 bytes, KMS's limit) bound to `context`.
    pub async fn seal(&self, secret: &str, context: &[(&str, &str)]) -> Result<Vec<u8>, KmsError> {
        let mut request = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.as_bytes()));
        for (name, value) in context {
            request = request.encryption_context(*name, *value);
        }
        let out = request.send().await.map_err(|e| classify("Encrypt", e))?;
        Ok(out
            .ciphertext_blob
            .map(Blob::into_inner)
            .unwrap_or_default())
    }

    /// Decrypts what [`SecretBox::seal`] made with the same `context`.
    pub async fn open(&self, sealed: &[u8], context: &[(&str, &str)]) -> Result<String, KmsError> {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        digest.update((sealed.len() as u64).to_be_bytes());
        digest.update(sealed);
        for (name, value) in context {
            for part in [name, value] {
                digest.update((part.len() as u64).to_be_bytes());
                digest.update(part.as_bytes());
            }
        }
        let cache_key: [u8; 32] = digest.finalize().into();
        let now = std::time::Instant::now();
        {
            let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
            opened.retain(|_, (_, at)| now.duration_since(*at) < OPENED_FOR);
            if let Some((secret, _)) = opened.get(&cache_key) {
                return Ok(secret.clone());
            }
        }
        let secret = self.decrypt(sealed, context).await?;
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key, (secret.clone(), now));
        Ok(secret)
    }

    async fn decrypt(&self, sealed: &[u8], context: &[(&str, &str)]) -> Result<String, KmsError> {
        let mut request = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed));
        for (name, value) in context {
            request = request.encryption_context(*name, *value);
        }
        let out = request.send().await.map_err(|e| classify("Decrypt", e))?;
        let plaintext = out.plaintext.map(Blob::into_inner).unwrap_or_default();
        String::from_utf8(plaintext).map_err(|_| KmsError::UnusableKey {
            key_id: self.key_id.clone(),
            reason: "the sealed secret is not text".into(),
        })
    }
}
