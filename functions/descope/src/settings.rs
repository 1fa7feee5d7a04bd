//! The Descope function's settings, read once at init, failing fast with a message that
//! names the variable.

use signoff_store::config::ConfigError;

pub const COOKIE_DOMAIN_VAR: &str = "SIGNOFF_COOKIE_DOMAIN";

/// The function's own settings, read once at init.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `Domain` of the deletion cookies: the domain the app set `DS`/`DSR` on. Unset, the
    /// cookies are host-only, which deletes host-only cookies.
    pub cookie_domain: Option<String>,
    /// Where logout-all hands the records it cannot delete in time (none: it deletes
    /// them all itself). Built by `main` from the environment, with the SDK configuration.
    pub handoff: Option<signoff_queue::Handoff>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let cookie_domain = get(COOKIE_DOMAIN_VAR).filter(|v| !v.is_empty());
        if let Some(domain) = &cookie_domain {
            let valid = domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
                && domain.len() <= 253;
            if !valid {
                return Err(ConfigError::Invalid {
                    name: COOKIE_DOMAIN_VAR,
                    value: domain.clone(),
                    reason: "a cookie domain is letters, digits, '.' and '-' (e.g. example.com)",
                });
            }
        }
        Ok(Self {
            cookie_domain,
            handoff: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_domain_is_checked_at_init() {
        let with = |v: &str| {
            let v = v.to_owned();
            Settings::from_lookup(move |_| Some(v.clone()))
        };
        assert_eq!(
            with("example.com").unwrap().cookie_domain.as_deref(),
            Some("example.com")
        );
        assert!(with("").unwrap().cookie_domain.is_none());
        assert!(with("a.com; Secure").is_err());
    }
}
