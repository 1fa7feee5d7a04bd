//! One CloudWatch embedded-metric-format (EMF) line per HTTP request, written by
//! [`crate::response::respond`] and nowhere else: Lambda's log stream carries it to
//! CloudWatch, which turns it into metrics without an API call from the function.
//!
//! Metrics (namespace [`NAMESPACE`], dimensions `FunctionName` and `Outcome`):
//! [`REQUESTS`] (1 per request), [`LATENCY`] (milliseconds from the handler's start to its
//! response; CloudWatch computes p50/p99 from the values) and, where the function knows
//! it, [`TOKENS_REVOKED`] (token records a logout or revocation deleted). The dimensions
//! are the Lambda function's name and one of three [`Outcome`]s, never anything from the
//! request: a tenant, token or path would make a metric per value, each billed. The line
//! also carries the request id as a plain property (not a dimension), to find the
//! request's log lines.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::{Request, RequestExt};
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of Signoff's metrics (the housekeeping function's too).
pub const NAMESPACE: &str = "Signoff";
/// Requests answered, one per request.
pub const REQUESTS: &str = "Requests";
/// Milliseconds from the handler's start to its response.
pub const LATENCY: &str = "Latency";
/// Token records a logout or revocation deleted, on requests that deleted any or could
/// have (absent where the function does not revoke).
pub const TOKENS_REVOKED: &str = "TokensRevoked";
/// Every metric an HTTP function emits.
pub const METRIC_NAMES: [&str; 3] = [REQUESTS, LATENCY, TOKENS_REVOKED];
/// The dimension naming the Lambda function (as the housekeeping function's metrics do).
pub const FUNCTION_DIMENSION: &str = "FunctionName";
/// The dimension naming the request's [`Outcome`].
pub const OUTCOME_DIMENSION: &str = "Outcome";

/// How a request ended, as far as an operator cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as asked (2xx).
    Ok,
    /// Refused for the caller's reasons: bad input, credentials, unknown path (4xx).
    Refused,
    /// Failed on the store (DynamoDB trouble or a delete that could not finish): what an
    /// operator must look at.
    StoreError,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Refused, Outcome::StoreError];

    /// The `Outcome` dimension's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::StoreError => "store_error",
        }
    }
}

/// What a handler measures of one request: when it started, and how many token records it
/// deleted if it deletes any. Started first thing in the handler, handed to `respond`.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    started: Instant,
    tokens_revoked: Option<u64>,
}

impl Meter {
    pub fn start() -> Self {
        Meter {
            started: Instant::now(),
            tokens_revoked: None,
        }
    }

    /// Records the token records the request deleted.
    pub fn tokens_revoked(&mut self, count: u64) {
        self.tokens_revoked = Some(count);
    }

    /// Prints the request's EMF line to stdout (where Lambda collects it).
    pub fn emit(&self, request: &Request, outcome: Outcome) {
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.as_str());
        let line = emf_line(
            function_name(),
            outcome,
            self.started.elapsed(),
            self.tokens_revoked,
            request_id,
            SystemTime::now(),
        );
        println!("{line}");
    }
}

/// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`), else the binary's (locally).
pub fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                Some(exe.file_stem()?.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "unknown".into())
    })
}

/// One EMF line of counts for a function that is not an HTTP endpoint (housekeeping, the
/// purge): `FunctionName` as the only dimension, each metric a `Count`.
pub fn counts_line(function_name: &str, counts: &[(&str, u64)], at: SystemTime) -> Value {
    let timestamp_ms = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[FUNCTION_DIMENSION]],
                "Metrics": counts
                    .iter()
                    .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
                    .collect::<Vec<_>>(),
            }],
        },
    });
    line[FUNCTION_DIMENSION] = function_name.into();
    for (name, value) in counts {
        line[*name] = (*value).into();
    }
    line
}

/// Prints [`counts_line`] for this function, now: the one metrics line of an invocation of
/// a function that is not an HTTP endpoint.
pub fn print_counts(counts: &[(&str, u64)]) {
    println!(
        "{}",
        counts_line(function_name(), counts, SystemTime::now())
    );
}

/// One EMF line: the directive naming the namespace, dimensions and metrics, then their
/// values at the top level.
pub fn emf_line(
    function_name: &str,
    outcome: Outcome,
    latency: Duration,
    tokens_revoked: Option<u64>,
    request_id: Option<&str>,
    at: SystemTime,
) -> Value {
    let timestamp_ms = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut metrics = vec![
        json!({"Name": REQUESTS, "Unit": "Count"}),
        json!({"Name": LATENCY, "Unit": "Milliseconds"}),
    ];
    let mut line = Map::new();
    line.insert(FUNCTION_DIMENSION.into(), function_name.into());
    line.insert(OUTCOME_DIMENSION.into(), outcome.as_str().into());
    line.insert(REQUESTS.into(), 1.into());
    // Whole milliseconds would turn every fast request into 0; three decimals suffice.
    let latency_ms = (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    line.insert(LATENCY.into(), latency_ms.into());
    if let Some(count) = tokens_revoked {
        metrics.push(json!({"Name": TOKENS_REVOKED, "Unit": "Count"}));
        line.insert(TOKENS_REVOKED.into(), count.into());
    }
    if let Some(request_id) = request_id {
        line.insert("requestId".into(), request_id.into());
    }
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[FUNCTION_DIMENSION, OUTCOME_DIMENSION]],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_exactly_the_metrics_it_carries() {
        let at = UNIX_EPOCH + Duration::from_secs(10);
        let line = emf_line(
            "signoff-prod-revoke",
            Outcome::Ok,
            Duration::from_micros(12_345),
            Some(3),
            Some("req-1"),
            at,
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 10_000);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            json!([[FUNCTION_DIMENSION, OUTCOME_DIMENSION]])
        );
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(declared, METRIC_NAMES);
        assert_eq!(line[FUNCTION_DIMENSION], "signoff-prod-revoke");
        assert_eq!(line[OUTCOME_DIMENSION], "ok");
        assert_eq!(line[REQUESTS], 1);
        assert_eq!(line[LATENCY], 12.345);
        assert_eq!(line[TOKENS_REVOKED], 3);
        assert_eq!(line["requestId"], "req-1");
    }

    #[test]
    fn without_a_count_or_request_id_neither_is_declared() {
        let line = emf_line(
            "f",
            Outcome::StoreError,
            Duration::ZERO,
            None,
            None,
            UNIX_EPOCH,
        );
        let declared = line["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
        assert!(!declared.contains(TOKENS_REVOKED), "{declared}");
        assert!(line.get(TOKENS_REVOKED).is_none());
        assert!(line.get("requestId").is_none());
        assert_eq!(line[OUTCOME_DIMENSION], "store_error");
        // Every dimension named in the directive has a value on the line.
        for name in [FUNCTION_DIMENSION, OUTCOME_DIMENSION] {
            assert!(line[name].is_string(), "{name}");
        }
    }
}
