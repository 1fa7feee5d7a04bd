//! The housekeeping function's settings, read once at init, failing fast with a message
//! that names the variable.

use std::time::Duration;

use signoff_store::config::{parse_in_range, ConfigError};

pub const HOUSEKEEPING_MAX_DELETES_VAR: &str = "SIGNOFF_HOUSEKEEPING_MAX_DELETES";
pub const HOUSEKEEPING_LOOKBACK_HOURS_VAR: &str = "SIGNOFF_HOUSEKEEPING_LOOKBACK_HOURS";
pub const HOUSEKEEPING_MARGIN_MS_VAR: &str = "SIGNOFF_HOUSEKEEPING_MARGIN_MS";

/// The housekeeping function's own settings, read once at init (the store's are
/// [`signoff_store::Config`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
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

impl Settings {
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

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::config::lookup_in;

    #[test]
    fn housekeeping_settings_default_and_refuse_nonsense() {
        let settings = Settings::from_lookup(lookup_in(&[])).unwrap();
        assert_eq!(settings.max_deletes, 50_000);
        assert_eq!(settings.first_run_lookback_hours, 336);
        assert_eq!(settings.margin, Duration::from_secs(5));
        let err =
            Settings::from_lookup(lookup_in(&[(HOUSEKEEPING_MAX_DELETES_VAR, "0")])).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("SIGNOFF_HOUSEKEEPING_MAX_DELETES=\"0\""));
    }
}
