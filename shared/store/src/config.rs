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
/// The longest `SIGNOFF_SESSION_MARKER_TTL_DAYS` allows, and so the longest a registered
/// token can live; cutoffs live this long whatever the writer's setting.
pub const MAX_SESSION_MARKER_TTL_DAYS: u64 = 3650;

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
        let days = parse_in_range(
            &get,
            "SIGNOFF_SESSION_MARKER_TTL_DAYS",
            180,
            1..=MAX_SESSION_MARKER_TTL_DAYS,
        )?;
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

fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An optional URL setting: `None` when unset or empty; otherwise an http(s) URL without
/// query or fragment (http for local runs), returned without a trailing slash.
pub fn base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    let Some(value) = get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let scheme_ok = value.starts_with("https://") || value.starts_with("http://");
    if !scheme_ok || value.contains(['?', '#']) || value.chars().any(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            name,
            value,
            reason: "an https URL without query or fragment (http for local runs)",
        });
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

/// Reads the whole number `name` through `get`: `default` when unset, an error naming the
/// variable when it is not a number in `range`. Every function's settings use it.
pub fn parse_in_range(
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

/// Loads the AWS SDK configuration from the standard sources (environment, profile, web
/// identity, container and instance credentials) and checks that a region is known. For
/// tools, which may run on an operator's machine with a profile; the functions use
/// [`store_from_env`].
///
/// Against a local emulator (`AWS_ENDPOINT_URL_DYNAMODB` on this machine's loopback) a
/// region and credentials mean nothing, so where none are configured the tool uses
/// `us-east-1` and placeholder credentials rather than failing on a missing region or
/// asking the instance metadata service: `AWS_ENDPOINT_URL_DYNAMODB` alone is enough.
pub async fn load_aws_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let local = var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .is_some_and(|endpoint| is_local_endpoint(&endpoint));
    if local {
        if var("AWS_REGION").is_none() && var("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(aws_config::Region::from_static("us-east-1"));
        }
        if var("AWS_ACCESS_KEY_ID").is_none() && var("AWS_PROFILE").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "local-emulator",
            ));
        }
    }
    checked(loader).await
}

/// Loads the SDK configuration and fails at init when no region is known.
async fn checked(loader: aws_config::ConfigLoader) -> Result<aws_config::SdkConfig, ConfigError> {
    let sdk = loader.load().await;
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
///
/// Lean on purpose (issue 11): with the SDK's defaults a function spent 23.9 M instructions
/// before its first poll, most of them reading and parsing the system's root certificates
/// (the default HTTPS client does when the first client is built, here the default
/// credentials chain's STS client, and parses them again for every connector). Here the
/// HTTPS client trusts compiled-in roots ([`function_https_client`]), and the credentials
/// come from the environment, where Lambda puts the function role's, whenever
/// `AWS_ACCESS_KEY_ID` is set; without it (a local run with a profile, a container or
/// web-identity role) the SDK's default chain applies as for tools. Measured with
/// `scripts/init-instructions`: 2.2 M instructions to first poll.
pub async fn store_from_env() -> Result<Store, ConfigError> {
    store_with_sdk(&function_sdk_config().await?)
}

/// The store of a function's environment ([`Config::from_env`]) on an SDK configuration
/// the function already loaded with [`function_sdk_config`] (for its other AWS clients).
pub fn store_with_sdk(sdk: &aws_config::SdkConfig) -> Result<Store, ConfigError> {
    Ok(Store::new(
        aws_sdk_dynamodb::Client::new(sdk),
        Config::from_env()?,
    ))
}

/// A Lambda function's AWS configuration, as [`store_from_env`] describes it: the
/// compiled-in roots, credentials from the environment when set. Loaded once at init and
/// shared by every AWS client of the function (DynamoDB, KMS).
pub async fn function_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(function_https_client());
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    checked(loader).await
}

/// A lookup over fixed `(name, value)` pairs, for reading settings in tests without
/// touching the process environment.
pub fn lookup_in(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// The functions' HTTPS client: the SDK's own (hyper, rustls on aws-lc), verifying servers
/// against [`AMAZON_TRUST_SERVICES_ROOTS`], compiled in, instead of the system's
/// certificate files, read and parsed at init. Those roots issue every AWS service
/// endpoint's certificate, DynamoDB's included. Setting `SSL_CERT_FILE` or `SSL_CERT_DIR`
/// makes it trust the roots there instead (as the SDK's default client does), for an HTTPS
/// endpoint under another authority.
fn function_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        rustls_provider::CryptoMode, Provider, TlsContext, TrustStore,
    };
    let chosen_roots = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|var| std::env::var_os(var).is_some());
    let trust_store = if chosen_roots {
        TrustStore::default()
    } else {
        TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
    };
    let tls = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context of a trust store alone always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

/// The root certificates of Amazon Trust Services (<https://www.amazontrust.com/repository/>),
/// from Mozilla's root store as Debian's ca-certificates ships it: Amazon Root CA 1 to 4 and
/// Starfield Services Root Certificate Authority - G2, which cross-signs them. A test checks
/// their SHA-256 fingerprints against the ones Amazon publishes.
/// The root certificates of Amazon Trust Services (<https://www.amazontrust.com/repository/>),
/// from Mozilla's root store as Debian's ca-certificates ships it: Amazon Root CA 1 to 4 and
/// Starfield Services Root Certificate Authority - G2, which cross-signs them. A test checks
/// their SHA-256 fingerprints against the ones Amazon publishes.
const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_name_is_required_and_named_in_the_error() {
        let err = Config::from_lookup(lookup_in(&[])).unwrap_err();
        assert!(err.to_string().starts_with("SIGNOFF_TABLE_NAME is not set"));
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = Config::from_lookup(lookup_in(&[(TABLE_NAME_VAR, "signoff")])).unwrap();
        assert_eq!(config, Config::for_table("signoff"));
    }

    #[test]
    fn out_of_range_tuning_is_refused() {
        let err = Config::from_lookup(lookup_in(&[
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
            Config::from_lookup(lookup_in(&[(TABLE_NAME_VAR, "no spaces allowed")])).unwrap_err();
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
    fn tuning_is_read() {
        let config = Config::from_lookup(lookup_in(&[
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

    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services() {
        use base64::Engine;
        use sha2::Digest;
        // SHA-256 of each certificate, as https://www.amazontrust.com/repository/ lists them.
        let published = [
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
            "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
            "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
            "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
            "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
        ];
        let fingerprints: Vec<String> = AMAZON_TRUST_SERVICES_ROOTS
            .split("-----END CERTIFICATE-----")
            .filter_map(|block| block.split("-----BEGIN CERTIFICATE-----").nth(1))
            .map(|body| {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body.split_whitespace().collect::<String>())
                    .expect("base64");
                sha2::Sha256::digest(der)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(fingerprints, published);
    }
}
