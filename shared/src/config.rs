//! Configuration, read once when a function starts. A missing or malformed setting stops
//! the function at init with a message that names the variable, rather than failing on the
//! first request.
//!
//! Local runs need no special switch: the AWS SDK's standard variables
//! (`AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials) point the
//! client at an emulator.

use std::time::Duration;

use crate::Store;

/// Tuning of the bulk-delete engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkSettings {
    /// BatchWriteItem calls in flight at once per bulk delete. Deletes that share one index
    /// key all land on one GSI partition (~1,000 writes/s), so a few workers already reach
    /// that ceiling; more only produce `UnprocessedItems`.
    pub concurrency: usize,
    /// `Limit` on each index Query page. Smaller pages let deletes start sooner and bound
    /// memory; the index's own 1 MB page limit still applies.
    pub page_size: i32,
    /// Attempts per batch before unprocessed items are reported as a failure.
    pub max_attempts: u32,
    /// First backoff before retrying unprocessed items; doubled per attempt, full jitter.
    pub base_backoff: Duration,
    /// Ceiling of one backoff.
    pub max_backoff: Duration,
}

impl Default for BulkSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            page_size: 1000,
            max_attempts: 8,
            base_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The DynamoDB table holding every Signoff record (`SIGNOFF_TABLE_NAME`).
    pub table_name: String,
    pub bulk: BulkSettings,
    /// How long after a token registration a logout of the same session waits before a
    /// second pass over the session's index (`SIGNOFF_INDEX_SETTLE_MS`). DynamoDB indexes
    /// are eventually consistent: a token committed just before the logout may not be in
    /// the index yet. Usually well under a second; 0 turns the second pass off.
    pub index_settle: Duration,
    /// How long an end-of-session marker is kept (`SIGNOFF_SESSION_MARKER_TTL_DAYS`). While it
    /// exists, no token can be registered for that session; keep it longer than the longest
    /// token lifetime your authorization server issues.
    pub session_marker_ttl: Duration,
}

#[derive(thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// A function's `main` returns this error, and Rust prints a returned error with `Debug`:
/// make that the readable message, since it is what an operator sees in the init log.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

pub const TABLE_NAME_VAR: &str = "SIGNOFF_TABLE_NAME";

impl Config {
    /// Defaults for everything but the table name; for tools and tests.
    pub fn for_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            bulk: BulkSettings::default(),
            session_marker_ttl: Duration::from_secs(180 * 86_400),
            index_settle: Duration::from_millis(1000),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get`, so that tests need not touch the process
    /// environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = get(TABLE_NAME_VAR)
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConfigError::Missing {
                name: TABLE_NAME_VAR,
                hint: "set it to the name of the DynamoDB table created by template.yaml or `signoff-admin create-table`",
            })?;
        if !valid_table_name(&table_name) {
            return Err(ConfigError::Invalid {
                name: TABLE_NAME_VAR,
                value: table_name,
                reason: "DynamoDB table names are 3-255 characters of A-Z a-z 0-9 _ - .",
            });
        }
        let mut config = Self::for_table(table_name);
        let defaults = BulkSettings::default();
        config.bulk.concurrency = parse_in_range(
            &get,
            "SIGNOFF_DELETE_CONCURRENCY",
            defaults.concurrency as u64,
            1..=32,
        )? as usize;
        config.bulk.page_size = parse_in_range(
            &get,
            "SIGNOFF_QUERY_PAGE_SIZE",
            defaults.page_size as u64,
            25..=10_000,
        )? as i32;
        let days = parse_in_range(&get, "SIGNOFF_SESSION_MARKER_TTL_DAYS", 180, 1..=3650)?;
        config.session_marker_ttl = Duration::from_secs(days * 86_400);
        config.index_settle = Duration::from_millis(parse_in_range(
            &get,
            "SIGNOFF_INDEX_SETTLE_MS",
            1000,
            0..=10_000,
        )?);
        Ok(config)
    }
}

pub const REVOCATION_TENANT_VAR: &str = "SIGNOFF_REVOCATION_TENANT";
pub const DEVICE_REVOCATION_AUTH_VAR: &str = "SIGNOFF_DEVICE_REVOCATION_AUTH";
pub const CORS_ALLOWED_ORIGINS_VAR: &str = "SIGNOFF_CORS_ALLOWED_ORIGINS";

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

/// Settings of the token and device revocation function, on top of [`Config`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationConfig {
    /// The tenant whose tokens and clients the NetIQ and RFC 7009 paths act on
    /// (`SIGNOFF_REVOCATION_TENANT`): those paths carry no tenant, so a deployment serves
    /// one.
    pub tenant: String,
    /// `SIGNOFF_DEVICE_REVOCATION_AUTH`: `client` (default) or `none`.
    pub device_auth: DeviceRevocationAuth,
    /// `SIGNOFF_CORS_ALLOWED_ORIGINS`: comma-separated origins, `*`, or empty (no CORS).
    pub cors: crate::cors::CorsPolicy,
}

impl RevocationConfig {
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
        if !crate::keys::valid_tenant_id(&tenant) {
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
        let cors =
            crate::cors::CorsPolicy::parse(&origins).map_err(|reason| ConfigError::Invalid {
                name: CORS_ALLOWED_ORIGINS_VAR,
                value: origins.clone(),
                reason,
            })?;
        Ok(Self {
            tenant,
            device_auth,
            cors,
        })
    }
}

pub const HOUSEKEEPING_MAX_DELETES_VAR: &str = "SIGNOFF_HOUSEKEEPING_MAX_DELETES";
pub const HOUSEKEEPING_LOOKBACK_HOURS_VAR: &str = "SIGNOFF_HOUSEKEEPING_LOOKBACK_HOURS";
pub const HOUSEKEEPING_MARGIN_MS_VAR: &str = "SIGNOFF_HOUSEKEEPING_MARGIN_MS";

/// Settings of the scheduled housekeeping function, on top of [`Config`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HousekeepingConfig {
    /// Most records one run deletes (`SIGNOFF_HOUSEKEEPING_MAX_DELETES`); the next run
    /// carries on where it stopped.
    pub max_deletes: u64,
    /// How far back the very first run starts, in hours
    /// (`SIGNOFF_HOUSEKEEPING_LOOKBACK_HOURS`); later runs start at their cursor.
    pub first_run_lookback_hours: u32,
    /// How long before the invocation's deadline a run stops starting new work
    /// (`SIGNOFF_HOUSEKEEPING_MARGIN_MS`), so it can report and save its cursor.
    pub margin: Duration,
}

impl HousekeepingConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `get`, so that tests need not touch the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            max_deletes: parse_in_range(
                &get,
                HOUSEKEEPING_MAX_DELETES_VAR,
                50_000,
                1..=10_000_000,
            )?,
            first_run_lookback_hours: parse_in_range(
                &get,
                HOUSEKEEPING_LOOKBACK_HOURS_VAR,
                14 * 24,
                1..=366 * 24,
            )? as u32,
            margin: Duration::from_millis(parse_in_range(
                &get,
                HOUSEKEEPING_MARGIN_MS_VAR,
                5_000,
                100..=60_000,
            )?),
        })
    }
}

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn parse_in_range(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError::Invalid {
            name,
            value: raw,
            reason: "expected a whole number in the documented range",
        }),
    }
}

/// Whether `url` is a plain-HTTP endpoint on this machine's loopback interface (exact host:
/// `127.0.0.1`, `localhost` or `[::1]`). Tools that store published demo data, and tests
/// that create tables, refuse any other endpoint.
pub fn is_local_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")),
        None => authority.split(':').next().map(str::to_owned),
    };
    matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// Loads the AWS SDK configuration from the standard sources (environment, profile) and
/// checks that a region is known, so a misconfigured function fails at init.
pub async fn load_aws_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    if sdk.region().is_none() {
        return Err(ConfigError::Missing {
            name: "AWS_REGION",
            hint: "Lambda sets it; for local runs export AWS_REGION (any region works with an emulator)",
        });
    }
    Ok(sdk)
}

/// Everything a function needs at init: configuration from the environment and a store
/// with its DynamoDB client. Call once, before the runtime loop starts.
pub async fn store_from_env() -> Result<Store, ConfigError> {
    let config = Config::from_env()?;
    let sdk = load_aws_config().await?;
    Ok(Store::new(aws_sdk_dynamodb::Client::new(&sdk), config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn table_name_is_required_and_named_in_the_error() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().starts_with("SIGNOFF_TABLE_NAME is not set"));
    }

    #[test]
    fn housekeeping_settings_default_and_refuse_nonsense() {
        let settings = HousekeepingConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(settings.max_deletes, 50_000);
        assert_eq!(settings.first_run_lookback_hours, 336);
        assert_eq!(settings.margin, Duration::from_secs(5));
        let err = HousekeepingConfig::from_lookup(lookup(&[(HOUSEKEEPING_MAX_DELETES_VAR, "0")]))
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("SIGNOFF_HOUSEKEEPING_MAX_DELETES=\"0\""));
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = Config::from_lookup(lookup(&[(TABLE_NAME_VAR, "signoff")])).unwrap();
        assert_eq!(config, Config::for_table("signoff"));
    }

    #[test]
    fn out_of_range_tuning_is_refused() {
        let err = Config::from_lookup(lookup(&[
            (TABLE_NAME_VAR, "signoff"),
            ("SIGNOFF_DELETE_CONCURRENCY", "0"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "SIGNOFF_DELETE_CONCURRENCY",
                ..
            }
        ));
        let err =
            Config::from_lookup(lookup(&[(TABLE_NAME_VAR, "no spaces allowed")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: TABLE_NAME_VAR,
                ..
            }
        ));
    }

    #[test]
    fn local_endpoints_are_exactly_loopback() {
        for local in [
            "http://127.0.0.1:8000",
            "http://localhost:8000/",
            "http://[::1]:8000",
            "http://localhost",
        ] {
            assert!(is_local_endpoint(local), "{local}");
        }
        for remote in [
            "http://127.0.0.1.evil.example:8000",
            "https://127.0.0.1:8000",
            "http://localhost.example.com",
            "https://dynamodb.us-east-1.amazonaws.com",
            "",
        ] {
            assert!(!is_local_endpoint(remote), "{remote}");
        }
    }

    #[test]
    fn revocation_settings_need_a_valid_tenant_and_default_to_client_auth_without_cors() {
        let err = RevocationConfig::from_lookup(lookup(&[])).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("SIGNOFF_REVOCATION_TENANT is not set"));
        let err =
            RevocationConfig::from_lookup(lookup(&[(REVOCATION_TENANT_VAR, "a#b")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: REVOCATION_TENANT_VAR,
                ..
            }
        ));
        let config =
            RevocationConfig::from_lookup(lookup(&[(REVOCATION_TENANT_VAR, "715948317")])).unwrap();
        assert_eq!(config.tenant, "715948317");
        assert_eq!(config.device_auth, DeviceRevocationAuth::Client);
        assert_eq!(config.cors, crate::cors::CorsPolicy::Disabled);
    }

    #[test]
    fn revocation_policies_are_read_and_checked() {
        let config = RevocationConfig::from_lookup(lookup(&[
            (REVOCATION_TENANT_VAR, "t1"),
            (DEVICE_REVOCATION_AUTH_VAR, "none"),
            (CORS_ALLOWED_ORIGINS_VAR, "https://app.example.com"),
        ]))
        .unwrap();
        assert_eq!(config.device_auth, DeviceRevocationAuth::None);
        assert!(matches!(config.cors, crate::cors::CorsPolicy::Origins(_)));
        for (name, value) in [
            (DEVICE_REVOCATION_AUTH_VAR, "nobody"),
            (CORS_ALLOWED_ORIGINS_VAR, "https://app.example.com/"),
        ] {
            let err = RevocationConfig::from_lookup(lookup(&[
                (REVOCATION_TENANT_VAR, "t1"),
                (name, value),
            ]))
            .unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn tuning_is_read() {
        let config = Config::from_lookup(lookup(&[
            (TABLE_NAME_VAR, "t-1"),
            ("SIGNOFF_DELETE_CONCURRENCY", "8"),
            ("SIGNOFF_QUERY_PAGE_SIZE", "250"),
            ("SIGNOFF_SESSION_MARKER_TTL_DAYS", "30"),
        ]))
        .unwrap();
        assert_eq!(config.bulk.concurrency, 8);
        assert_eq!(config.bulk.page_size, 250);
        assert_eq!(config.session_marker_ttl, Duration::from_secs(30 * 86_400));
    }
}
