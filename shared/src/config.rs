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

/// Loads the AWS SDK configuration from the standard sources (environment, profile, web
/// identity, container and instance credentials) and checks that a region is known. For
/// tools, which may run on an operator's machine with a profile; the functions use
/// [`store_from_env`].
pub async fn load_aws_config() -> Result<aws_config::SdkConfig, ConfigError> {
    checked(aws_config::defaults(aws_config::BehaviorVersion::latest())).await
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
    let config = Config::from_env()?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(function_https_client());
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    let sdk = checked(loader).await?;
    Ok(Store::new(aws_sdk_dynamodb::Client::new(&sdk), config))
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
const AMAZON_TRUST_SERVICES_ROOTS: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF\n\
ADA5MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6\n\
b24gUm9vdCBDQSAxMB4XDTE1MDUyNjAwMDAwMFoXDTM4MDExNzAwMDAwMFowOTEL\n\
MAkGA1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJv\n\
b3QgQ0EgMTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALJ4gHHKeNXj\n\
ca9HgFB0fW7Y14h29Jlo91ghYPl0hAEvrAIthtOgQ3pOsqTQNroBvo3bSMgHFzZM\n\
9O6II8c+6zf1tRn4SWiw3te5djgdYZ6k/oI2peVKVuRF4fn9tBb6dNqcmzU5L/qw\n\
IFAGbHrQgLKm+a/sRxmPUDgH3KKHOVj4utWp+UhnMJbulHheb4mjUcAwhmahRWa6\n\
VOujw5H5SNz/0egwLX0tdHA114gk957EWW67c4cX8jJGKLhD+rcdqsq08p8kDi1L\n\
93FcXmn/6pUCyziKrlA4b9v7LWIbxcceVOF34GfID5yHI9Y/QCB/IIDEgEw+OyQm\n\
jgSubJrIqg0CAwEAAaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC\n\
AYYwHQYDVR0OBBYEFIQYzIU07LwMlJQuCFmcx7IQTgoIMA0GCSqGSIb3DQEBCwUA\n\
A4IBAQCY8jdaQZChGsV2USggNiMOruYou6r4lK5IpDB/G/wkjUu0yKGX9rbxenDI\n\
U5PMCCjjmCXPI6T53iHTfIUJrU6adTrCC2qJeHZERxhlbI1Bjjt/msv0tadQ1wUs\n\
N+gDS63pYaACbvXy8MWy7Vu33PqUXHeeE6V/Uq2V8viTO96LXFvKWlJbYK8U90vv\n\
o/ufQJVtMVT8QtPHRh8jrdkPSHCa2XV4cdFyQzR1bldZwgJcJmApzyMZFo6IQ6XU\n\
5MsI+yMRQ+hDKXJioaldXgjUkK642M4UwtBV8ob2xJNDd2ZhwLnoQdeXeGADbkpy\n\
rqXRfboQnoZsG4q5WTP468SQvvG5\n\
-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n\
MIIFQTCCAymgAwIBAgITBmyf0pY1hp8KD+WGePhbJruKNzANBgkqhkiG9w0BAQwF\n\
ADA5MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6\n\
b24gUm9vdCBDQSAyMB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTEL\n\
MAkGA1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJv\n\
b3QgQ0EgMjCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAK2Wny2cSkxK\n\
gXlRmeyKy2tgURO8TW0G/LAIjd0ZEGrHJgw12MBvIITplLGbhQPDW9tK6Mj4kHbZ\n\
W0/jTOgGNk3Mmqw9DJArktQGGWCsN0R5hYGCrVo34A3MnaZMUnbqQ523BNFQ9lXg\n\
1dKmSYXpN+nKfq5clU1Imj+uIFptiJXZNLhSGkOQsL9sBbm2eLfq0OQ6PBJTYv9K\n\
8nu+NQWpEjTj82R0Yiw9AElaKP4yRLuH3WUnAnE72kr3H9rN9yFVkE8P7K6C4Z9r\n\
2UXTu/Bfh+08LDmG2j/e7HJV63mjrdvdfLC6HM783k81ds8P+HgfajZRRidhW+me\n\
z/CiVX18JYpvL7TFz4QuK/0NURBs+18bvBt+xa47mAExkv8LV/SasrlX6avvDXbR\n\
8O70zoan4G7ptGmh32n2M8ZpLpcTnqWHsFcQgTfJU7O7f/aS0ZzQGPSSbtqDT6Zj\n\
mUyl+17vIWR6IF9sZIUVyzfpYgwLKhbcAS4y2j5L9Z469hdAlO+ekQiG+r5jqFoz\n\
7Mt0Q5X5bGlSNscpb/xVA1wf+5+9R+vnSUeVC06JIglJ4PVhHvG/LopyboBZ/1c6\n\
+XUyo05f7O0oYtlNc/LMgRdg7c3r3NunysV+Ar3yVAhU/bQtCSwXVEqY0VThUWcI\n\
0u1ufm8/0i2BWSlmy5A5lREedCf+3euvAgMBAAGjQjBAMA8GA1UdEwEB/wQFMAMB\n\
Af8wDgYDVR0PAQH/BAQDAgGGMB0GA1UdDgQWBBSwDPBMMPQFWAJI/TPlUq9LhONm\n\
UjANBgkqhkiG9w0BAQwFAAOCAgEAqqiAjw54o+Ci1M3m9Zh6O+oAA7CXDpO8Wqj2\n\
LIxyh6mx/H9z/WNxeKWHWc8w4Q0QshNabYL1auaAn6AFC2jkR2vHat+2/XcycuUY\n\
+gn0oJMsXdKMdYV2ZZAMA3m3MSNjrXiDCYZohMr/+c8mmpJ5581LxedhpxfL86kS\n\
k5Nrp+gvU5LEYFiwzAJRGFuFjWJZY7attN6a+yb3ACfAXVU3dJnJUH/jWS5E4ywl\n\
7uxMMne0nxrpS10gxdr9HIcWxkPo1LsmmkVwXqkLN1PiRnsn/eBG8om3zEK2yygm\n\
btmlyTrIQRNg91CMFa6ybRoVGld45pIq2WWQgj9sAq+uEjonljYE1x2igGOpm/Hl\n\
urR8FLBOybEfdF849lHqm/osohHUqS0nGkWxr7JOcQ3AWEbWaQbLU8uz/mtBzUF+\n\
fUwPfHJ5elnNXkoOrJupmHN5fLT0zLm4BwyydFy4x2+IoZCn9Kr5v2c69BoVYh63\n\
n749sSmvZ6ES8lgQGVMDMBu4Gon2nL2XA46jCfMdiyHxtN/kHNGfZQIG6lzWE7OE\n\
76KlXIx3KadowGuuQNKotOrN8I1LOJwZmhsoVLiJkO/KdYE+HvJkJMcYr07/R54H\n\
9jVlpNMKVv/1F2Rs76giJUmTtt8AF9pYfl3uxRuw0dFfIRDH+fO6AgonB8Xx1sfT\n\
4PsJYGw=\n\
-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n\
MIIBtjCCAVugAwIBAgITBmyf1XSXNmY/Owua2eiedgPySjAKBggqhkjOPQQDAjA5\n\
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6b24g\n\
Um9vdCBDQSAzMB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTELMAkG\n\
A1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJvb3Qg\n\
Q0EgMzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCmXp8ZBf8ANm+gBG1bG8lKl\n\
ui2yEujSLtf6ycXYqm0fc4E7O5hrOXwzpcVOho6AF2hiRVd9RFgdszflZwjrZt6j\n\
QjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgGGMB0GA1UdDgQWBBSr\n\
ttvXBp43rDCGB5Fwx5zEGbF4wDAKBggqhkjOPQQDAgNJADBGAiEA4IWSoxe3jfkr\n\
BqWTrBqYaGFy+uGh0PsceGCmQ5nFuMQCIQCcAu/xlJyzlvnrxir4tiz+OpAUFteM\n\
YyRIHN8wfdVoOw==\n\
-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n\
MIIB8jCCAXigAwIBAgITBmyf18G7EEwpQ+Vxe3ssyBrBDjAKBggqhkjOPQQDAzA5\n\
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6b24g\n\
Um9vdCBDQSA0MB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTELMAkG\n\
A1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJvb3Qg\n\
Q0EgNDB2MBAGByqGSM49AgEGBSuBBAAiA2IABNKrijdPo1MN/sGKe0uoe0ZLY7Bi\n\
9i0b2whxIdIA6GO9mif78DluXeo9pcmBqqNbIJhFXRbb/egQbeOc4OO9X4Ri83Bk\n\
M6DLJC9wuoihKqB1+IGuYgbEgds5bimwHvouXKNCMEAwDwYDVR0TAQH/BAUwAwEB\n\
/zAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFNPsxzplbszh2naaVvuc84ZtV+WB\n\
MAoGCCqGSM49BAMDA2gAMGUCMDqLIfG9fhGt0O9Yli/W651+kI0rz2ZVwyzjKKlw\n\
CkcO8DdZEv8tmZQoTipPNU0zWgIxAOp1AE47xDqUEpHJWEadIRNyp4iciuRMStuW\n\
1KyLa2tJElMzrdfkviT8tQp21KW8EA==\n\
-----END CERTIFICATE-----\n\
-----BEGIN CERTIFICATE-----\n\
MIID7zCCAtegAwIBAgIBADANBgkqhkiG9w0BAQsFADCBmDELMAkGA1UEBhMCVVMx\n\
EDAOBgNVBAgTB0FyaXpvbmExEzARBgNVBAcTClNjb3R0c2RhbGUxJTAjBgNVBAoT\n\
HFN0YXJmaWVsZCBUZWNobm9sb2dpZXMsIEluYy4xOzA5BgNVBAMTMlN0YXJmaWVs\n\
ZCBTZXJ2aWNlcyBSb290IENlcnRpZmljYXRlIEF1dGhvcml0eSAtIEcyMB4XDTA5\n\
MDkwMTAwMDAwMFoXDTM3MTIzMTIzNTk1OVowgZgxCzAJBgNVBAYTAlVTMRAwDgYD\n\
VQQIEwdBcml6b25hMRMwEQYDVQQHEwpTY290dHNkYWxlMSUwIwYDVQQKExxTdGFy\n\
ZmllbGQgVGVjaG5vbG9naWVzLCBJbmMuMTswOQYDVQQDEzJTdGFyZmllbGQgU2Vy\n\
dmljZXMgUm9vdCBDZXJ0aWZpY2F0ZSBBdXRob3JpdHkgLSBHMjCCASIwDQYJKoZI\n\
hvcNAQEBBQADggEPADCCAQoCggEBANUMOsQq+U7i9b4Zl1+OiFOxHz/Lz58gE20p\n\
OsgPfTz3a3Y4Y9k2YKibXlwAgLIvWX/2h/klQ4bnaRtSmpDhcePYLQ1Ob/bISdm2\n\
8xpWriu2dBTrz/sm4xq6HZYuajtYlIlHVv8loJNwU4PahHQUw2eeBGg6345AWh1K\n\
Ts9DkTvnVtYAcMtS7nt9rjrnvDH5RfbCYM8TWQIrgMw0R9+53pBlbQLPLJGmpufe\n\
hRhJfGZOozptqbXuNC66DQO4M99H67FrjSXZm86B0UVGMpZwh94CDklDhbZsc7tk\n\
6mFBrMnUVN+HL8cisibMn1lUaJ/8viovxFUcdUBgF4UCVTmLfwUCAwEAAaNCMEAw\n\
DwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFJxfAN+q\n\
AdcwKziIorhtSpzyEZGDMA0GCSqGSIb3DQEBCwUAA4IBAQBLNqaEd2ndOxmfZyMI\n\
bw5hyf2E3F/YNoHN2BtBLZ9g3ccaaNnRbobhiCPPE95Dz+I0swSdHynVv/heyNXB\n\
ve6SbzJ08pGCL72CQnqtKrcgfU28elUSwhXqvfdqlS5sdJ/PHLTyxQGjhdByPq1z\n\
qwubdQxtRbeOlKyWN7Wg0I8VRw7j6IPdj/3vQQF3zCepYoUz8jcI73HPdwbeyBkd\n\
iEDPfUYd/x7H4c7/I9vG+o1VTqkC50cRRj70/b17KSa7qWFiNyi2LSr2EIZkyXCn\n\
0q23KXB56jzaYyWf/Wi3MOxw+3WKt21gZ7IeyLnp2KhvAotnDU0mV3HaIPzBSlCN\n\
sSi6\n\
-----END CERTIFICATE-----\n\
";

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
