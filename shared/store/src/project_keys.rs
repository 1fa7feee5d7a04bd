//! Each project's public signing keys: what refresh JWTs are verified against and what
//! `GET /v2/keys/{projectId}` serves. One item per project holds its JWKS (public keys
//! only; a private key is refused before it gets here), so verification costs one read.
//! Updates are guarded by a version number, so two operators adding keys at once cannot
//! lose one another's key.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::credentials::ProvisionError;
use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::FieldError;
use crate::table::attr;
use crate::Store;
use signoff_jose::Jwk;

/// Keys per project: room for rotation (current, next, a few retiring) with a bound on
/// what every verification reads.
pub const MAX_PROJECT_KEYS: usize = 16;

const KIND: &str = "project_keys";
const JWKS: &str = "jwks";
const VERSION: &str = "version";

fn project_keys_pk(project: &str) -> String {
    item_key::compose(&["keys", project])
}

impl Store {
    /// The public keys of `project`, or `None` if it has none registered (or no such
    /// project). An eventually consistent read, at half the cost: the keys endpoint is
    /// public, and a key change reaches every reader within a second or so.
    pub async fn project_keys(&self, project: &str) -> Result<Option<Vec<Jwk>>, StoreError> {
        let keys = self.read_project_keys(project, false).await?;
        Ok(keys.map(|(keys, _)| keys).filter(|keys| !keys.is_empty()))
    }

    async fn read_project_keys(
        &self,
        project: &str,
        consistent: bool,
    ) -> Result<Option<(Vec<Jwk>, i64)>, StoreError> {
        if !item_key::valid_tenant_id(project) {
            return Ok(None);
        }
        let Some(item) = self.get_item(project_keys_pk(project), consistent).await? else {
            return Ok(None);
        };
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("project keys of {project}: {what}"));
        let jwks = item
            .get(JWKS)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| corrupt("no jwks"))?;
        let keys: Vec<Jwk> = serde_json::from_str(jwks).map_err(|e| corrupt(&e.to_string()))?;
        let version = item
            .get(VERSION)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt("no version"))?;
        Ok(Some((keys, version)))
    }

    /// Adds public keys to `project` (a tenant that must exist) and returns its key set.
    /// Adding a key that is already there is a no-op; reusing a `kid` for other key
    /// material is refused, since tokens signed with the old key would stop verifying.
    pub async fn add_project_keys(
        &self,
        project: &str,
        new: &[Jwk],
    ) -> Result<Vec<Jwk>, ProvisionError> {
        if self.get_tenant(project).await?.is_none() {
            return Err(ProvisionError::NoSuchTenant(project.to_owned()));
        }
        self.update_project_keys(project, |keys| {
            for key in new {
                match keys.iter().find(|k| k.kid == key.kid) {
                    Some(existing) if existing.same_material(key) => {}
                    Some(_) => {
                        return Err(ProvisionError::AlreadyExists(format!(
                            "a different key with kid {}",
                            key.kid
                        )))
                    }
                    None => keys.push(key.clone()),
                }
            }
            if keys.len() > MAX_PROJECT_KEYS {
                return Err(FieldError::new(
                    "keys",
                    format!(
                        "a project has at most {MAX_PROJECT_KEYS} keys; remove retired ones first"
                    ),
                )
                .into());
            }
            Ok(())
        })
        .await
    }

    /// Removes the key `kid` from `project`; tokens signed with it stop verifying at once.
    /// Returns whether there was such a key.
    pub async fn remove_project_key(
        &self,
        project: &str,
        kid: &str,
    ) -> Result<bool, ProvisionError> {
        let mut found = false;
        self.update_project_keys(project, |keys| {
            let before = keys.len();
            keys.retain(|k| k.kid != kid);
            found = keys.len() != before;
            Ok(())
        })
        .await?;
        Ok(found)
    }

    /// Read, change, write back on condition nobody else wrote in between; a few tries.
    async fn update_project_keys(
        &self,
        project: &str,
        mut change: impl FnMut(&mut Vec<Jwk>) -> Result<(), ProvisionError>,
    ) -> Result<Vec<Jwk>, ProvisionError> {
        for _ in 0..5 {
            let (mut keys, version) = self
                .read_project_keys(project, true)
                .await?
                .unwrap_or_default();
            let before = keys.clone();
            change(&mut keys)?;
            if keys == before {
                return Ok(keys);
            }
            let jwks = serde_json::to_string(&keys).expect("keys serialize");
            let mut put = self
                .client()
                .put_item()
                .table_name(self.table_name())
                .item(attr::PK, AttributeValue::S(project_keys_pk(project)))
                .item(attr::KIND, AttributeValue::S(KIND.into()))
                .item("tenant", AttributeValue::S(project.into()))
                .item(JWKS, AttributeValue::S(jwks))
                .item(VERSION, AttributeValue::N((version + 1).to_string()))
                .item(
                    "updated_at",
                    AttributeValue::N(crate::now_epoch_seconds().to_string()),
                );
            put = if version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#version = :version")
                    .expression_attribute_names("#version", VERSION)
                    .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            };
            match put.send().await {
                Ok(_) => return Ok(keys),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    continue
                }
                Err(e) => return Err(classify("PutItem", e).into()),
            }
        }
        Err(StoreError::Contention {
            operation: "PutItem",
            attempts: 5,
        }
        .into())
    }
}

#[cfg(feature = "signing")]
pub use minting::{MintError, RefreshTokenSpec};

#[cfg(feature = "signing")]
mod minting {
    use serde_json::json;

    use crate::item_key::TokenHash;
    use crate::model::{TokenRecord, TokenType};
    use crate::tokens::RegisterError;
    use crate::Store;
    use signoff_jose::SigningKey;

    /// A refresh JWT to mint, Descope style, and how to register it.
    #[derive(Clone, Debug)]
    pub struct RefreshTokenSpec {
        pub project: String,
        /// `sub`: the user.
        pub subject: String,
        /// `dsub`: when set, the user as Descope's SDKs see it (overrides `sub`).
        pub dsub: Option<String>,
        pub session_id: Option<String>,
        pub grant_id: Option<String>,
        pub client_id: String,
        /// `iss`; the project id if unset.
        pub issuer: Option<String>,
        pub issued_at: i64,
        pub expires_at: i64,
    }

    impl RefreshTokenSpec {
        /// The signed JWT (claims `sub`, `iss`, `exp`, `iat`, `drn: DSR`, and `dsub` if
        /// set) and the record that registers it, under the user logout-all acts on.
        pub fn mint(&self, key: &SigningKey) -> (String, TokenRecord) {
            let mut claims = json!({
                "sub": self.subject,
                "iss": self.issuer.as_deref().unwrap_or(&self.project),
                "exp": self.expires_at,
                "iat": self.issued_at,
                "drn": "DSR",
            });
            if let Some(dsub) = &self.dsub {
                claims["dsub"] = json!(dsub);
            }
            let jwt = key.sign(&claims);
            let record = self.record(&jwt);
            (jwt, record)
        }

        /// The registration record of an already minted `jwt`.
        pub fn record(&self, jwt: &str) -> TokenRecord {
            TokenRecord {
                tenant: self.project.clone(),
                hash: TokenHash::of(jwt),
                token_type: TokenType::Refresh,
                client_id: self.client_id.clone(),
                subject: Some(self.dsub.clone().unwrap_or_else(|| self.subject.clone())),
                session_id: self.session_id.clone(),
                grant_id: self.grant_id.clone(),
                device: None,
                issued_at: self.issued_at,
                expires_at: self.expires_at,
                scope: None,
                audience: Vec::new(),
            }
        }
    }

    impl Store {
        /// Mints a refresh JWT with `key`, checks its record as the registration API would
        /// and registers it; returns the JWT.
        pub async fn mint_refresh_jwt(
            &self,
            key: &SigningKey,
            spec: &RefreshTokenSpec,
        ) -> Result<String, MintError> {
            let (jwt, record) = spec.mint(key);
            record.validate(crate::now_epoch_seconds())?;
            self.register_tokens(&[record]).await?;
            Ok(jwt)
        }
    }

    #[derive(Debug, thiserror::Error)]
    pub enum MintError {
        #[error(transparent)]
        Invalid(#[from] crate::model::FieldError),
        #[error(transparent)]
        Register(#[from] RegisterError),
    }
}
