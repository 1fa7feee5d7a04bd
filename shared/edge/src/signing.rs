//! What a function that issues signed tokens reads at init: the issuer identifier it
//! signs as, and the AWS KMS keys (the current one signs; previous ones stay published in
//! the JWKS during a rotation). One reading for every such function (introspection, the
//! logout token API), so that they cannot disagree on a name or a rule.

use signoff_store::config::ConfigError;

/// The authorization server's issuer identifier: `iss` of what Signoff signs.
pub const ISSUER_VAR: &str = "SIGNOFF_ISSUER";
/// The KMS key (id, ARN or alias) that signs; unset: nothing is signed.
pub const SIGNING_KEY_VAR: &str = "SIGNOFF_SIGNING_KEY_ID";
/// Keys still published in the JWKS during a rotation, comma-separated.
pub const PREVIOUS_SIGNING_KEYS_VAR: &str = "SIGNOFF_PREVIOUS_SIGNING_KEY_IDS";

/// The Shared Signals transmitter's issuer: `iss` of every SET and `issuer` of
/// `/.well-known/ssf-configuration`, which SSF 1.0 section 7.2 requires to be the URL the
/// metadata is served under. Signoff's own public URL, not the authorization server's
/// (`SIGNOFF_ISSUER`, which logout tokens carry).
pub const SSF_ISSUER_VAR: &str = "SIGNOFF_SSF_ISSUER";

/// Checks an issuer identifier (RFC 8414 2, OpenID Connect Discovery 1.0 3, SSF 1.0 7.1):
/// an https URL with a host and no query or fragment (http for local runs).
pub fn check_issuer(name: &'static str, issuer: &str) -> Result<(), ConfigError> {
    let scheme_ok = issuer.starts_with("https://") || issuer.starts_with("http://");
    let has_host = url::Url::parse(issuer)
        .ok()
        .and_then(|url| url.host_str().map(|host| !host.is_empty()))
        .unwrap_or(false);
    if !scheme_ok
        || !has_host
        || issuer.contains(['?', '#'])
        || issuer.chars().any(char::is_whitespace)
    {
        return Err(ConfigError::Invalid {
            name,
            value: issuer.to_owned(),
            reason: "an issuer is an https URL without query or fragment",
        });
    }
    Ok(())
}

/// [`SSF_ISSUER_VAR`], checked; `None` when unset.
pub fn ssf_issuer(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let issuer = get(SSF_ISSUER_VAR)
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty());
    if let Some(issuer) = &issuer {
        check_issuer(SSF_ISSUER_VAR, issuer)?;
    }
    Ok(issuer)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningSettings {
    /// An https URL without query or fragment, kept exactly as set: a relying party
    /// compares `iss` with it character for character. `http` is accepted too, for local
    /// runs; nothing can tell one from a deployment, so the template's parameter is where
    /// https is required.
    pub issuer: Option<String>,
    pub signing_key: Option<String>,
    pub previous_signing_keys: Vec<String>,
}

impl SigningSettings {
    /// Reads the settings through `get`, failing with the variable's name.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let issuer = value(ISSUER_VAR);
        if let Some(issuer) = &issuer {
            check_issuer(ISSUER_VAR, issuer)?;
        }
        let previous_signing_keys = value(PREVIOUS_SIGNING_KEYS_VAR)
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            issuer,
            signing_key: value(SIGNING_KEY_VAR),
            previous_signing_keys,
        })
    }
}

/// The deployment's OAuth tenant: the one service whose clients get logout tokens, since
/// `SIGNOFF_ISSUER` is its issuer (as for introspection and revocation).
pub const LOGOUT_TOKEN_TENANT_VAR: &str = "SIGNOFF_REVOCATION_TENANT";

/// What signs logout tokens, as whom, and for which service: the Authlete logout token
/// API and back-channel logout delivery read it alike.
#[cfg(feature = "logout-tokens")]
#[derive(Clone, Debug)]
pub struct LogoutTokens {
    /// `iss` of every token.
    pub issuer: String,
    /// The one service (tenant) whose clients' relying parties know `issuer`
    /// (`SIGNOFF_REVOCATION_TENANT`). Only its clients get tokens: with one key and one
    /// issuer for every tenant, another tenant could mint a token its client-id namesake
    /// at this tenant's relying parties would accept.
    pub tenant: String,
    pub keys: std::sync::Arc<signoff_kms::KeySet>,
}

#[cfg(feature = "logout-tokens")]
impl LogoutTokens {
    /// The KMS key, the issuer and the service: all or no key (a key without the others is
    /// a configuration mistake, refused at init). `None` without a key.
    pub fn from_lookup(
        sdk: &aws_config::SdkConfig,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let signing = SigningSettings::from_lookup(get)?;
        let Some(key) = signing.signing_key else {
            return Ok(None);
        };
        let issuer = signing.issuer.ok_or(ConfigError::Missing {
            name: ISSUER_VAR,
            hint: "logout tokens carry the issuer as iss: set it with the signing key, or unset SIGNOFF_SIGNING_KEY_ID",
        })?;
        let tenant = get(LOGOUT_TOKEN_TENANT_VAR)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing {
                name: LOGOUT_TOKEN_TENANT_VAR,
                hint: "the one service whose clients get logout tokens signed as SIGNOFF_ISSUER",
            })?;
        // Only the current key signs; the previous ones are introspection's to publish.
        let keys = signoff_kms::KeySet::new(aws_sdk_kms::Client::new(sdk), key, Vec::new());
        Ok(Some(Self {
            issuer,
            tenant,
            keys: std::sync::Arc::new(keys),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn the_issuer_is_kept_as_set_and_must_be_a_plain_url() {
        let read = |vars: &[(&str, &str)]| SigningSettings::from_lookup(&lookup_in(vars));
        assert_eq!(read(&[]).unwrap(), SigningSettings::default());
        let settings = read(&[
            (ISSUER_VAR, "https://as.example/"),
            (SIGNING_KEY_VAR, "alias/signoff"),
            (PREVIOUS_SIGNING_KEYS_VAR, " alias/old , ,alias/older"),
        ])
        .unwrap();
        assert_eq!(settings.issuer.as_deref(), Some("https://as.example/"));
        assert_eq!(settings.signing_key.as_deref(), Some("alias/signoff"));
        assert_eq!(settings.previous_signing_keys, ["alias/old", "alias/older"]);
        for bad in [
            "as.example",
            "https://as.example?x=1",
            "https://as.example#f",
            "ftp://x",
        ] {
            assert!(read(&[(ISSUER_VAR, bad)]).is_err(), "{bad}");
        }
    }
}
