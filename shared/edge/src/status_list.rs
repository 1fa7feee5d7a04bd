//! Token Status List settings, shared by registration (which hands out entries and names
//! their list's URI) and introspection (which serves the lists): both must agree on the
//! URI, since a Status List Token's `sub` is the URI its tokens carry
//! (draft-ietf-oauth-status-list, "Status List Token").

use std::time::Duration;

use signoff_store::config::{base_url, parse_in_range, ConfigError};

/// Where a tenant's list is served (introspection's route).
pub const ROUTE: &str = "/signoff/v1/tenants/{tenantId}/statuslists/{listId}";
/// The API's public base URL, which list URIs start with (shared with revocation).
pub const PUBLIC_BASE_URL_VAR: &str = "SIGNOFF_PUBLIC_BASE_URL";
/// Entries per list.
pub const CAPACITY_VAR: &str = "SIGNOFF_STATUS_LIST_CAPACITY";
/// How long a built list is served before the next build, and the `ttl` claim.
pub const TTL_VAR: &str = "SIGNOFF_STATUS_LIST_TTL_SECONDS";
/// How long a list stays usable after it was built (`exp` - `iat`).
pub const VALIDITY_VAR: &str = "SIGNOFF_STATUS_LIST_VALIDITY_SECONDS";
/// Tenants whose tokens get an entry unless the registration says `"status": false`,
/// comma-separated; `*` for every tenant.
pub const DEFAULT_TENANTS_VAR: &str = "SIGNOFF_STATUS_LIST_TENANTS";
/// How long a build waits between reading how far a list was handed out and reading
/// which entries have records; registration must write its records within half of it.
pub const SETTLE_VAR: &str = "SIGNOFF_STATUS_LIST_SETTLE_MS";

/// The default capacity: the draft's "up to a million entries" scale, 125 KB at one bit
/// before compression.
pub const DEFAULT_CAPACITY: u64 = 1_000_000;
/// The default `ttl`: a revocation reaches the served list within five minutes.
pub const DEFAULT_TTL_SECONDS: u64 = 300;
/// The default validity: a resource server that cannot fetch a fresh list keeps using the
/// last one for at most an hour, then treats statuses as unknown.
pub const DEFAULT_VALIDITY_SECONDS: u64 = 3_600;
/// The default settle time: DynamoDB's indexes usually catch up well within a second; two
/// leave room, and a registration has one to write its records.
pub const DEFAULT_SETTLE_MS: u64 = 2_000;

/// Which tenants' registrations get an entry without asking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DefaultTenants {
    /// None: a token gets an entry only when its registration says `"status": true`.
    #[default]
    None,
    Some(Vec<String>),
    All,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListSettings {
    /// `None`: this deployment hands out no entries (list URIs need the public URL).
    pub public_base_url: Option<String>,
    pub capacity: u64,
    pub ttl: Duration,
    pub validity: Duration,
    pub default_tenants: DefaultTenants,
    /// The builder's wait for the by-status index; registration's deadline is half of it.
    /// One setting for both functions, so they cannot disagree.
    pub settle: Duration,
}

impl Default for StatusListSettings {
    fn default() -> Self {
        Self {
            public_base_url: None,
            capacity: DEFAULT_CAPACITY,
            ttl: Duration::from_secs(DEFAULT_TTL_SECONDS),
            validity: Duration::from_secs(DEFAULT_VALIDITY_SECONDS),
            default_tenants: DefaultTenants::None,
            settle: Duration::from_millis(DEFAULT_SETTLE_MS),
        }
    }
}

impl StatusListSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get`, so that tests need not touch the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let capacity = parse_in_range(&get, CAPACITY_VAR, DEFAULT_CAPACITY, 1_024..=1_000_000)?;
        let ttl = parse_in_range(&get, TTL_VAR, DEFAULT_TTL_SECONDS, 10..=86_400)?;
        let validity = parse_in_range(
            &get,
            VALIDITY_VAR,
            DEFAULT_VALIDITY_SECONDS.max(ttl),
            ttl..=30 * 86_400,
        )?;
        let settle = parse_in_range(&get, SETTLE_VAR, DEFAULT_SETTLE_MS, 200..=10_000)?;
        let tenants = get(DEFAULT_TENANTS_VAR).unwrap_or_default();
        let names: Vec<String> = tenants
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        let default_tenants = match names.as_slice() {
            [] => DefaultTenants::None,
            [all] if all == "*" => DefaultTenants::All,
            _ => {
                if let Some(bad) = names
                    .iter()
                    .find(|t| !signoff_store::item_key::valid_tenant_id(t))
                {
                    return Err(ConfigError::Invalid {
                        name: DEFAULT_TENANTS_VAR,
                        value: bad.clone(),
                        reason: "tenant ids, comma-separated, or * for every tenant",
                    });
                }
                DefaultTenants::Some(names)
            }
        };
        Ok(Self {
            public_base_url: base_url(&get, PUBLIC_BASE_URL_VAR)?,
            capacity,
            ttl: Duration::from_secs(ttl),
            validity: Duration::from_secs(validity),
            default_tenants,
            settle: Duration::from_millis(settle),
        })
    }

    /// The URI of a tenant's list: what its tokens carry and its Status List Token's `sub`.
    pub fn uri(&self, tenant: &str, list: u64) -> Option<String> {
        let base = self.public_base_url.as_deref()?;
        Some(format!(
            "{base}{}",
            ROUTE
                .replace("{tenantId}", tenant)
                .replace("{listId}", &list.to_string())
        ))
    }

    /// Whether a registration for `tenant` that says nothing gets an entry.
    pub fn on_by_default(&self, tenant: &str) -> bool {
        match &self.default_tenants {
            DefaultTenants::None => false,
            DefaultTenants::All => true,
            DefaultTenants::Some(tenants) => tenants.iter().any(|t| t == tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn defaults_bounds_and_the_uri_both_functions_agree_on() {
        let settings = StatusListSettings::from_lookup(lookup_in(&[])).unwrap();
        assert_eq!(settings, StatusListSettings::default());
        assert_eq!(settings.uri("t1", 0), None);
        let settings = StatusListSettings::from_lookup(lookup_in(&[
            (PUBLIC_BASE_URL_VAR, "https://api.example/prod/"),
            (TTL_VAR, "60"),
            (DEFAULT_TENANTS_VAR, "t1, t2"),
        ]))
        .unwrap();
        assert_eq!(
            settings.uri("t1", 3).unwrap(),
            "https://api.example/prod/signoff/v1/tenants/t1/statuslists/3"
        );
        assert_eq!(settings.ttl, Duration::from_secs(60));
        assert_eq!(settings.validity, Duration::from_secs(3_600));
        assert_eq!(settings.settle, Duration::from_millis(2_000));
        assert!(settings.on_by_default("t2") && !settings.on_by_default("t3"));
        for (name, value) in [
            (CAPACITY_VAR, "1000"),
            (CAPACITY_VAR, "1000001"),
            (TTL_VAR, "5"),
            (VALIDITY_VAR, "100"),
            (DEFAULT_TENANTS_VAR, "a b"),
            (PUBLIC_BASE_URL_VAR, "ftp://x"),
            (SETTLE_VAR, "0"),
        ] {
            let err = StatusListSettings::from_lookup(lookup_in(&[(name, value)])).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}={value}: {err}");
        }
        let all = StatusListSettings::from_lookup(lookup_in(&[(DEFAULT_TENANTS_VAR, "*")]));
        assert!(all.unwrap().on_by_default("anyone"));
    }
}
