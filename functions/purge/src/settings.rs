//! The purge function's settings, read once at init, failing fast with a message that
//! names the variable.

use std::time::Duration;

use signoff_store::config::{parse_in_range, ConfigError};

pub const PURGE_MARGIN_MS_VAR: &str = "SIGNOFF_PURGE_MARGIN_MS";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The queue the purge's messages travel on (`SIGNOFF_PURGE_QUEUE_URL`): a shard not
    /// finished in time is sent there again.
    pub queue_url: String,
    /// How long before the invocation's deadline a shard stops starting pages and queues
    /// itself again (`SIGNOFF_PURGE_MARGIN_MS`). A page is 1 Query, up to 40 BatchWriteItem
    /// calls and 1 UpdateItem: a second or two, longer while DynamoDB throttles.
    pub margin: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let queue_url = get(signoff_queue::QUEUE_URL_VAR)
            .filter(|url| !url.trim().is_empty())
            .ok_or(ConfigError::Missing {
                name: signoff_queue::QUEUE_URL_VAR,
                hint: "the URL of the purge queue (template.yaml's PurgeQueue)",
            })?;
        Ok(Self {
            queue_url,
            margin: Duration::from_millis(parse_in_range(
                &get,
                PURGE_MARGIN_MS_VAR,
                20_000,
                0..=600_000,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn the_queue_is_required_and_the_margin_bounded() {
        assert!(Settings::from_lookup(lookup_in(&[])).is_err());
        let settings =
            Settings::from_lookup(lookup_in(&[("SIGNOFF_PURGE_QUEUE_URL", "http://q/1")])).unwrap();
        assert_eq!(settings.margin, Duration::from_secs(20));
        assert!(Settings::from_lookup(lookup_in(&[
            ("SIGNOFF_PURGE_QUEUE_URL", "http://q/1"),
            ("SIGNOFF_PURGE_MARGIN_MS", "600001"),
        ]))
        .is_err());
    }
}
