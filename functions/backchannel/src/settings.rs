//! The fanout's and the delivery's settings, read once at init, failing fast with a
//! message that names the variable.

use std::time::Duration;

use signoff_edge::signing::{LogoutTokens, LOGOUT_TOKEN_TENANT_VAR};
use signoff_queue::logouts::{LOGOUT_QUEUE_URL_VAR, UNDELIVERED_QUEUE_URL_VAR};
use signoff_store::config::{parse_in_range, ConfigError};

pub const RETRY_BASE_MS_VAR: &str = "SIGNOFF_LOGOUT_RETRY_BASE_MS";
pub const RETRY_MAX_MS_VAR: &str = "SIGNOFF_LOGOUT_RETRY_MAX_MS";
pub const RETRY_FOR_SECONDS_VAR: &str = "SIGNOFF_LOGOUT_RETRY_FOR_SECONDS";
pub const TIMEOUT_MS_VAR: &str = "SIGNOFF_LOGOUT_TIMEOUT_MS";
pub const PER_RECEIVER_VAR: &str = "SIGNOFF_LOGOUT_PER_RECEIVER";
pub const ALLOW_LOOPBACK_VAR: &str = "SIGNOFF_LOGOUT_ALLOW_LOOPBACK";
/// The symmetric KMS key that seals SSF receivers' authorization headers
/// (`signoff-admin ssf-receiver --authorization`); unset: receivers get no header.
pub const SECRETS_KEY_VAR: &str = "SIGNOFF_SECRETS_KEY_ID";

fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing { name, hint })
}

/// The fanout: which tenant's logouts it tells, and where the deliveries go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FanoutSettings {
    /// The deployment's OAuth tenant (`SIGNOFF_REVOCATION_TENANT`): logout tokens are
    /// signed as its issuer, so only its logouts are delivered.
    pub tenant: String,
    pub deliveries_url: String,
}

impl FanoutSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name: &str| std::env::var(name).ok())
    }

    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            tenant: required(
                get,
                LOGOUT_TOKEN_TENANT_VAR,
                "the service whose logouts are delivered (logout tokens are signed as its issuer)",
            )?,
            deliveries_url: required(
                get,
                LOGOUT_QUEUE_URL_VAR,
                "the URL of the deliveries queue (template.yaml's LogoutDeliveryQueue)",
            )?,
        })
    }
}

/// How deliveries are tried again: after a network error, a 5xx or a 429, attempt `n`
/// (from 1) waits between half and all of `min(max, base * 2^(n-1))`, until `retry_for`
/// has passed since the first attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub retry_for: Duration,
}

impl Backoff {
    /// The longest wait before attempt `attempt` (1 = the first retry).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The wait before attempt `attempt`, `unit` in [0, 1) choosing within its range:
    /// half the ceiling plus up to half again ("equal jitter"), so that receivers coming
    /// back are not hit by every retry at once and no retry comes at once.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling / 2 + ceiling.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

/// The delivery function's settings.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    pub tokens: LogoutTokens,
    pub deliveries_url: String,
    pub undelivered_url: String,
    pub backoff: Backoff,
    /// How long one POST may take, connecting included (`SIGNOFF_LOGOUT_TIMEOUT_MS`).
    pub timeout: Duration,
    /// POSTs in flight to one client at once per invocation (`SIGNOFF_LOGOUT_PER_RECEIVER`).
    pub per_receiver: usize,
    /// Whether receivers registered on this machine (`--allow-loopback`) are reached
    /// (`SIGNOFF_LOGOUT_ALLOW_LOOPBACK=true`): local runs only.
    pub allow_loopback: bool,
    /// Opens SSF receivers' authorization headers (`SIGNOFF_SECRETS_KEY_ID`).
    pub secrets: Option<signoff_kms::SecretBox>,
    /// `iss` of the SETs (`SIGNOFF_SSF_ISSUER`): Signoff's public URL, where its SSF
    /// metadata is; unset, SETs cannot be sent (kept undelivered, naming the variable).
    pub ssf_issuer: Option<String>,
}

impl DeliverySettings {
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Self::from_lookup(sdk, &|name: &str| std::env::var(name).ok())
    }

    pub fn from_lookup(
        sdk: &aws_config::SdkConfig,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let tokens = LogoutTokens::from_lookup(sdk, get)?.ok_or(ConfigError::Missing {
            name: signoff_edge::signing::SIGNING_KEY_VAR,
            hint: "the KMS key that signs logout tokens",
        })?;
        let millis = |name, default, range| {
            parse_in_range(get, name, default, range).map(Duration::from_millis)
        };
        Ok(Self {
            tokens,
            deliveries_url: required(
                get,
                LOGOUT_QUEUE_URL_VAR,
                "the URL of the deliveries queue (template.yaml's LogoutDeliveryQueue)",
            )?,
            undelivered_url: required(
                get,
                UNDELIVERED_QUEUE_URL_VAR,
                "the URL of the undelivered queue (template.yaml's UndeliveredLogoutQueue)",
            )?,
            backoff: Backoff {
                base: millis(RETRY_BASE_MS_VAR, 30_000, 100..=3_600_000)?,
                max: millis(RETRY_MAX_MS_VAR, 7_200_000, 100..=43_200_000)?,
                // At most 14 days: the longest SQS keeps a message.
                retry_for: Duration::from_secs(parse_in_range(
                    get,
                    RETRY_FOR_SECONDS_VAR,
                    86_400,
                    1..=1_209_600,
                )?),
            },
            timeout: millis(TIMEOUT_MS_VAR, 15_000, 1_000..=60_000)?,
            per_receiver: parse_in_range(get, PER_RECEIVER_VAR, 4, 1..=10)? as usize,
            ssf_issuer: signoff_edge::signing::ssf_issuer(get)?,
            secrets: get(SECRETS_KEY_VAR)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|key| signoff_kms::SecretBox::new(aws_sdk_kms::Client::new(sdk), key)),
            allow_loopback: match get(ALLOW_LOOPBACK_VAR).as_deref().map(str::trim) {
                None | Some("") | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: ALLOW_LOOPBACK_VAR,
                        value: other.to_owned(),
                        reason: "true or false",
                    })
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn the_backoff_doubles_up_to_its_maximum_with_jitter_in_its_upper_half() {
        let backoff = Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(7_200),
            retry_for: Duration::from_secs(86_400),
        };
        assert_eq!(backoff.ceiling(1), Duration::from_secs(30));
        assert_eq!(backoff.ceiling(3), Duration::from_secs(120));
        assert_eq!(backoff.ceiling(9), Duration::from_secs(7_200));
        assert_eq!(backoff.ceiling(500), Duration::from_secs(7_200));
        assert_eq!(backoff.delay(1, 0.0), Duration::from_secs(15));
        assert_eq!(backoff.delay(1, 0.999_999).as_secs(), 29);
        assert_eq!(backoff.delay(3, 0.5), Duration::from_secs(90));
    }

    #[test]
    fn the_fanout_needs_its_tenant_and_queue() {
        assert!(FanoutSettings::from_lookup(&lookup_in(&[])).is_err());
        let settings = FanoutSettings::from_lookup(&lookup_in(&[
            ("SIGNOFF_REVOCATION_TENANT", "715948317"),
            ("SIGNOFF_LOGOUT_QUEUE_URL", "http://q/deliveries"),
        ]))
        .unwrap();
        assert_eq!(settings.tenant, "715948317");
    }
}
