//! The introspection function's settings, read once at init, failing fast with a message
//! that names the variable.

use signoff_edge::signing::SigningSettings;
use signoff_edge::status_list::StatusListSettings;
use signoff_kms::KeySet;
use signoff_store::config::ConfigError;

/// The tenant whose tokens and clients the OAuth paths act on (shared with revocation).
pub const OAUTH_TENANT_VAR: &str = "SIGNOFF_REVOCATION_TENANT";
/// The issuer (reported as `iss`), the KMS key that signs RFC 9701 responses (unset: JSON
/// only) and the keys still published during a rotation.
pub use signoff_edge::signing::{ISSUER_VAR, PREVIOUS_SIGNING_KEYS_VAR, SIGNING_KEY_VAR};
/// The scope a bearer access token needs to introspect.
pub const INTROSPECTION_SCOPE_VAR: &str = "SIGNOFF_INTROSPECTION_SCOPE";
/// [`INTROSPECTION_SCOPE_VAR`]'s default.
pub const DEFAULT_INTROSPECTION_SCOPE: &str = "introspection";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub tenant: String,
    pub issuer: String,
    pub signing_key: Option<String>,
    pub previous_signing_keys: Vec<String>,
    /// The scope a resource server's bearer access token must carry to introspect.
    pub introspection_scope: String,
    /// The Token Status Lists served (their URIs, capacity, `ttl` and validity).
    pub status_lists: StatusListSettings,
    /// The Shared Signals transmitter's issuer (`SIGNOFF_SSF_ISSUER`); unset: the public
    /// base URL the metadata is served at.
    pub ssf_issuer: Option<String>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get`, so that tests need not touch the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let tenant = value(OAUTH_TENANT_VAR).ok_or(ConfigError::Missing {
            name: OAUTH_TENANT_VAR,
            hint: "set it to the tenant (service) id whose tokens the OAuth endpoints serve",
        })?;
        if !signoff_store::item_key::valid_tenant_id(&tenant) {
            return Err(ConfigError::Invalid {
                name: OAUTH_TENANT_VAR,
                value: tenant,
                reason: "tenant ids are 1-128 characters of A-Z a-z 0-9 . _ -",
            });
        }
        let signing = SigningSettings::from_lookup(&get)?;
        let issuer = signing.issuer.ok_or(ConfigError::Missing {
            name: ISSUER_VAR,
            hint: "set it to the authorization server's issuer identifier (an https URL)",
        })?;
        let (signing_key, previous_signing_keys) =
            (signing.signing_key, signing.previous_signing_keys);
        let introspection_scope =
            value(INTROSPECTION_SCOPE_VAR).unwrap_or_else(|| DEFAULT_INTROSPECTION_SCOPE.into());
        if introspection_scope.contains(' ')
            || signoff_store::model::check_scope(&introspection_scope).is_err()
        {
            return Err(ConfigError::Invalid {
                name: INTROSPECTION_SCOPE_VAR,
                value: introspection_scope,
                reason: "one scope token (RFC 6749 3.3)",
            });
        }
        let status_lists = StatusListSettings::from_lookup(&get)?;
        let ssf_issuer = signoff_edge::signing::ssf_issuer(&get)?;
        Ok(Self {
            tenant,
            issuer,
            signing_key,
            previous_signing_keys,
            introspection_scope,
            status_lists,
            ssf_issuer,
        })
    }

    /// The KMS key set, when a signing key is configured, on the function's AWS
    /// configuration (the SDK's standard endpoint variables reach a local KMS). Nothing is
    /// called until a response is signed.
    pub fn signing_keys(&self, sdk: &aws_config::SdkConfig) -> Option<KeySet> {
        let key = self.signing_key.clone()?;
        Some(KeySet::new(
            aws_sdk_kms::Client::new(sdk),
            key,
            self.previous_signing_keys.clone(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn introspection_needs_a_tenant_and_an_issuer_and_signs_only_with_a_key() {
        let err =
            Settings::from_lookup(lookup_in(&[(ISSUER_VAR, "https://as.example")])).unwrap_err();
        assert!(err.to_string().starts_with(OAUTH_TENANT_VAR), "{err}");
        let err = Settings::from_lookup(lookup_in(&[(OAUTH_TENANT_VAR, "t1")])).unwrap_err();
        assert!(err.to_string().starts_with(ISSUER_VAR), "{err}");
        for issuer in [
            "as.example",
            "https://as.example?x=1",
            "https://as.example#f",
        ] {
            let err =
                Settings::from_lookup(lookup_in(&[(OAUTH_TENANT_VAR, "t1"), (ISSUER_VAR, issuer)]))
                    .unwrap_err();
            assert!(err.to_string().starts_with(ISSUER_VAR), "{issuer}: {err}");
        }
        let settings = Settings::from_lookup(lookup_in(&[
            (OAUTH_TENANT_VAR, "t1"),
            (ISSUER_VAR, "https://as.example"),
        ]))
        .unwrap();
        assert_eq!(settings.signing_key, None);
        assert_eq!(settings.introspection_scope, "introspection");
        let err = Settings::from_lookup(lookup_in(&[
            (OAUTH_TENANT_VAR, "t1"),
            (ISSUER_VAR, "https://as.example"),
            (INTROSPECTION_SCOPE_VAR, "two scopes"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().starts_with(INTROSPECTION_SCOPE_VAR),
            "{err}"
        );
        let settings = Settings::from_lookup(lookup_in(&[
            (OAUTH_TENANT_VAR, "t1"),
            (ISSUER_VAR, "https://as.example"),
            (SIGNING_KEY_VAR, "alias/signoff"),
            (PREVIOUS_SIGNING_KEYS_VAR, " alias/old , ,alias/older"),
        ]))
        .unwrap();
        assert_eq!(settings.signing_key.as_deref(), Some("alias/signoff"));
        assert_eq!(settings.previous_signing_keys, ["alias/old", "alias/older"]);
    }
}
