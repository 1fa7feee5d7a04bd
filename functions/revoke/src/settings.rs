//! The token and device revocation function's settings, read once at init, failing fast
//! with a message that names the variable.

use signoff_edge::cors::CorsPolicy;
use signoff_store::config::{base_url, ConfigError};

pub const REVOCATION_TENANT_VAR: &str = "SIGNOFF_REVOCATION_TENANT";
pub const DEVICE_REVOCATION_AUTH_VAR: &str = "SIGNOFF_DEVICE_REVOCATION_AUTH";
pub const CORS_ALLOWED_ORIGINS_VAR: &str = "SIGNOFF_CORS_ALLOWED_ORIGINS";
/// The public base URL of the API (`https://signoff.example.com`, or with the stage,
/// `https://abc.execute-api.eu-west-1.amazonaws.com/prod`): Global Token Revocation
/// assertions are for `<base>/oauth2/global-token-revocation` and the metadata names
/// the endpoints under it. Unset: taken from the request API Gateway received.
pub const PUBLIC_BASE_URL_VAR: &str = "SIGNOFF_PUBLIC_BASE_URL";
/// The authorization server's issuer, the `issuer` of the metadata (shared with
/// introspection). Unset: the public base URL.
pub const ISSUER_VAR: &str = "SIGNOFF_ISSUER";

/// Who may revoke every token of a device (`POST /nidp/oauth/nam/revoke/{device_id}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceRevocationAuth {
    /// A registered client of the tenant must authenticate (`client`, the default).
    #[default]
    Client,
    /// Anyone who knows the device id, user store and user DN may (`none`): NetIQ's
    /// documented request carries no client credentials. Credentials that are sent are
    /// still checked.
    None,
}

/// The revocation function's own settings, read once at init (the store's are
/// [`signoff_store::Config`]).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The tenant whose tokens and clients the NetIQ and RFC 7009 paths act on
    /// (`SIGNOFF_REVOCATION_TENANT`): those paths carry no tenant, so a deployment serves
    /// one.
    pub tenant: String,
    /// `SIGNOFF_DEVICE_REVOCATION_AUTH`: `client` (default) or `none`.
    pub device_auth: DeviceRevocationAuth,
    /// `SIGNOFF_CORS_ALLOWED_ORIGINS`: comma-separated origins, `*`, or empty (no CORS).
    pub cors: CorsPolicy,
    /// `SIGNOFF_PUBLIC_BASE_URL`, without a trailing slash.
    pub public_base_url: Option<String>,
    /// `SIGNOFF_ISSUER`.
    pub issuer: Option<String>,
    /// Where Global Token Revocation hands the records it cannot delete in time (none: it
    /// deletes them all itself). Built by `main` from the environment and the SDK config.
    pub handoff: Option<signoff_queue::Handoff>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get`, so that tests need not touch the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let tenant = get(REVOCATION_TENANT_VAR)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing {
                name: REVOCATION_TENANT_VAR,
                hint: "set it to the tenant (service) id whose tokens the revocation endpoints revoke",
            })?;
        if !signoff_store::item_key::valid_tenant_id(&tenant) {
            return Err(ConfigError::Invalid {
                name: REVOCATION_TENANT_VAR,
                value: tenant,
                reason: "tenant ids are 1-128 characters of A-Z a-z 0-9 . _ -",
            });
        }
        let device_auth = match get(DEVICE_REVOCATION_AUTH_VAR) {
            None => DeviceRevocationAuth::default(),
            Some(v) => match v.trim() {
                "" | "client" => DeviceRevocationAuth::Client,
                "none" => DeviceRevocationAuth::None,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: DEVICE_REVOCATION_AUTH_VAR,
                        value: v,
                        reason: "expected `client` (require client authentication) or `none`",
                    })
                }
            },
        };
        let origins = get(CORS_ALLOWED_ORIGINS_VAR).unwrap_or_default();
        let cors = CorsPolicy::parse(&origins).map_err(|reason| ConfigError::Invalid {
            name: CORS_ALLOWED_ORIGINS_VAR,
            value: origins.clone(),
            reason,
        })?;
        Ok(Self {
            device_auth,
            cors,
            public_base_url: base_url(&get, PUBLIC_BASE_URL_VAR)?,
            issuer: base_url(&get, ISSUER_VAR)?,
            ..Self::for_tenant(&tenant)
        })
    }

    /// The settings for `tenant` with every default: client authentication for device
    /// revocation, no CORS, no public URL or issuer set, no hand-off.
    pub fn for_tenant(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            device_auth: DeviceRevocationAuth::default(),
            cors: CorsPolicy::Disabled,
            public_base_url: None,
            issuer: None,
            handoff: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn revocation_settings_need_a_valid_tenant_and_default_to_client_auth_without_cors() {
        let err = Settings::from_lookup(lookup_in(&[])).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("SIGNOFF_REVOCATION_TENANT is not set"));
        let err = Settings::from_lookup(lookup_in(&[(REVOCATION_TENANT_VAR, "a#b")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: REVOCATION_TENANT_VAR,
                ..
            }
        ));
        let config =
            Settings::from_lookup(lookup_in(&[(REVOCATION_TENANT_VAR, "715948317")])).unwrap();
        assert_eq!(config.tenant, "715948317");
        assert_eq!(config.device_auth, DeviceRevocationAuth::Client);
        assert_eq!(config.cors, CorsPolicy::Disabled);
    }

    #[test]
    fn revocation_policies_are_read_and_checked() {
        let config = Settings::from_lookup(lookup_in(&[
            (REVOCATION_TENANT_VAR, "t1"),
            (DEVICE_REVOCATION_AUTH_VAR, "none"),
            (CORS_ALLOWED_ORIGINS_VAR, "https://app.example.com"),
        ]))
        .unwrap();
        assert_eq!(config.device_auth, DeviceRevocationAuth::None);
        assert!(matches!(config.cors, CorsPolicy::Origins(_)));
        for (name, value) in [
            (DEVICE_REVOCATION_AUTH_VAR, "nobody"),
            (CORS_ALLOWED_ORIGINS_VAR, "https://app.example.com/"),
        ] {
            let err =
                Settings::from_lookup(lookup_in(&[(REVOCATION_TENANT_VAR, "t1"), (name, value)]))
                    .unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
