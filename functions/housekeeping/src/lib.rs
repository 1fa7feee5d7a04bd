//! Scheduled housekeeping: each run deletes the records whose expiry has passed but which
//! DynamoDB's TTL has not removed yet, within the invocation's remaining time and a cap on
//! deletes, and carries on next time where it stopped (see [`signoff_store::housekeeping`]).
//!
//! Any event starts a run: the EventBridge schedule's, or `{}` from a manual invoke. The
//! answer is the run's summary. A run that fails on a store error returns the error, so
//! Lambda retries the asynchronous invocation and then hands it to the on-failure target;
//! what it deleted before the error stays deleted and is logged and counted.
//!
//! Every run writes one structured log line and one CloudWatch embedded-metric-format
//! (EMF) line with its counts.

pub mod settings;

use std::time::SystemTime;

use crate::settings::Settings;
use lambda_http::lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use signoff_store::housekeeping::{SweepError, SweepLimits, SweepReport};
use signoff_store::Store;

/// The CloudWatch namespace of Signoff's metrics: the HTTP functions' (one definition).
pub const METRICS_NAMESPACE: &str = signoff_edge::metrics::NAMESPACE;

/// Where and how the run's metrics are reported.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// The `FunctionName` dimension: Lambda's `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
}

impl Metrics {
    pub fn from_env() -> Self {
        Self {
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "housekeeping".into()),
        }
    }

    /// One EMF line for `report`. `failed` is 1 for a run that ended on a store error.
    pub fn emf_line(&self, report: &SweepReport, failed: bool, at: SystemTime) -> Value {
        let metrics = [
            ("ExpiredRecordsRead", report.read),
            ("ExpiredRecordsDeleted", report.deleted),
            ("ExpiredRecordsSkipped", report.skipped),
            ("HousekeepingQueries", report.queries),
            ("HousekeepingDeleteRequests", report.delete_requests),
            ("HousekeepingBacklogHours", report.backlog_hours as u64),
            (
                "HousekeepingRunsCutShort",
                u64::from(report.end != signoff_store::housekeeping::SweepEnd::Complete),
            ),
            ("HousekeepingFailures", u64::from(failed)),
        ];
        signoff_edge::metrics::counts_line(&self.function_name, &metrics, at)
    }
}

/// A run that ended on a store error. Lambda records it as the invocation's error (type
/// `StoreUnavailable` when a retry may succeed, else `StoreError`), retries the
/// asynchronous invocation, then hands it to the on-failure target.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RunFailed(#[from] pub SweepError);

impl From<RunFailed> for Diagnostic {
    fn from(failed: RunFailed) -> Self {
        Diagnostic {
            error_type: if failed.0.source.is_retryable() {
                "StoreUnavailable"
            } else {
                "StoreError"
            }
            .into(),
            error_message: failed.to_string(),
        }
    }
}

/// Handles one scheduled (or manual) invocation.
pub async fn handle(
    store: &Store,
    settings: &Settings,
    metrics: &Metrics,
    event: LambdaEvent<Value>,
) -> Result<SweepReport, RunFailed> {
    let remaining =
        signoff_edge::runtime::remaining_time(event.context.deadline, SystemTime::now());
    let limits = SweepLimits::within(
        remaining,
        settings.margin,
        settings.max_deletes,
        settings.first_run_lookback_hours,
    );
    let trigger = event
        .payload
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("manual");
    let outcome = store
        .sweep_expired(signoff_store::now_epoch_seconds(), &limits)
        .await;
    let (report, failure) = match &outcome {
        Ok(report) => (report, None),
        Err(error) => (&error.report, Some(&error.source)),
    };
    println!(
        "{}",
        metrics.emf_line(report, failure.is_some(), SystemTime::now())
    );
    match failure {
        None => tracing::info!(
            trigger,
            remaining_ms = remaining.as_millis() as u64,
            read = report.read,
            deleted = report.deleted,
            skipped = report.skipped,
            queries = report.queries,
            delete_requests = report.delete_requests,
            hours_finished = report.hours_finished,
            next_hour = report.next_hour,
            backlog_hours = report.backlog_hours,
            end = report.end.as_str(),
            "housekeeping run finished"
        ),
        Some(error) => {
            tracing::error!(
                trigger,
                read = report.read,
                deleted = report.deleted,
                skipped = report.skipped,
                next_hour = report.next_hour,
                retryable = error.is_retryable(),
                error = %error,
                "housekeeping run failed; the next run carries on"
            );
        }
    }
    outcome.map_err(RunFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use signoff_store::housekeeping::SweepEnd;
    use std::time::{Duration, UNIX_EPOCH};

    fn report() -> SweepReport {
        SweepReport {
            read: 7,
            deleted: 5,
            skipped: 2,
            queries: 16,
            delete_requests: 1,
            hours_finished: 1,
            next_hour: 493_000,
            backlog_hours: 3,
            end: SweepEnd::Cap,
        }
    }

    #[test]
    fn emf_line_declares_every_metric_it_carries() {
        let metrics = Metrics {
            function_name: "signoff-prod-housekeeping".into(),
        };
        let line = metrics.emf_line(&report(), false, UNIX_EPOCH + Duration::from_secs(10));
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], 10_000);
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(line["FunctionName"], "signoff-prod-housekeeping");
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(declared.len(), 8);
        for name in declared {
            assert!(line[name].is_u64(), "{name} has no value");
        }
        assert_eq!(line["ExpiredRecordsDeleted"], 5);
        assert_eq!(line["ExpiredRecordsSkipped"], 2);
        assert_eq!(line["HousekeepingDeleteRequests"], 1);
        assert_eq!(line["HousekeepingRunsCutShort"], 1);
        assert_eq!(line["HousekeepingFailures"], 0);
    }
}
