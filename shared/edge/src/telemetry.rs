//! Logs, set up once at init by every function.
//!
//! With `AWS_LAMBDA_LOG_FORMAT=JSON` (the template's `LoggingConfig`), each line is one JSON
//! object in Lambda's own shape: `timestamp`, `level`, `message`, `requestId`, then the
//! event's fields at the top level, so CloudWatch Logs Insights can filter on them. The
//! request id comes from the runtime's per-invocation span and is on every line written
//! while an event is handled. Otherwise lines are the runtime's default text format, which
//! also names the request id. The level comes from `AWS_LAMBDA_LOG_LEVEL`, else the
//! `RUST_LOG` directives, else INFO.
//!
//! What is logged is chosen at each call site: never a token, secret or credential, only
//! their kinds, hashes' absence, counts and outcomes.

use std::fmt;

use lambda_http::tracing::level_filters::LevelFilter;
use lambda_http::tracing::subscriber::filter::{filter_fn, FilterExt};
use lambda_http::tracing::subscriber::fmt::format::Writer;
use lambda_http::tracing::subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use lambda_http::tracing::subscriber::layer::{Context, SubscriberExt};
use lambda_http::tracing::subscriber::registry::LookupSpan;
use lambda_http::tracing::subscriber::util::SubscriberInitExt;
use lambda_http::tracing::subscriber::{self, EnvFilter, Layer};
use lambda_http::tracing::{self, field::Field, span, Event, Subscriber};
use serde_json::{Map, Value};

/// The field of the runtime's invocation span that holds the request id.
const REQUEST_ID_FIELD: &str = "requestId";

/// Installs the process's log subscriber, per `AWS_LAMBDA_LOG_FORMAT`.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let filter = log_filter(
        lambda_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    )
    // The invocation span carries the request id: it is kept at every level, so
    // that WARN and ERROR lines name their request too.
    .or(filter_fn(|meta| {
        meta.is_span() && meta.name() == INVOCATION_SPAN
    }));
    if json {
        let format = subscriber::fmt::layer()
            .event_format(LambdaJson)
            .with_writer(std::io::stdout);
        subscriber::registry()
            .with(RequestIdLayer.and_then(format).with_filter(filter))
            .init();
    } else {
        // The runtime's default text format: the request id is in each line's span prefix.
        let format = subscriber::fmt::layer()
            .with_target(false)
            .without_time()
            .with_writer(std::io::stdout);
        subscriber::registry()
            .with(format.with_filter(filter))
            .init();
    }
}

/// The runtime's per-invocation span, which holds the request id.
const INVOCATION_SPAN: &str = "Lambda runtime invoke";

/// What is logged: `AWS_LAMBDA_LOG_LEVEL` (Lambda's log-level setting) if set, else the
/// `RUST_LOG` directives, else INFO. At TRACE the Lambda runtime prints every raw event,
/// Authorization headers and form bodies with their tokens included, so its own lines stop
/// at DEBUG whatever is asked (and never log more than the rest).
fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let parse = |level: &str| level.trim().parse::<LevelFilter>().ok();
    let (level, directives) = match lambda_level.and_then(parse) {
        Some(level) => (level, ""),
        None => match rust_log {
            Some(directives) => (parse(directives).unwrap_or(LevelFilter::INFO), directives),
            None => (LevelFilter::INFO, ""),
        },
    };
    let runtime_cap = level.min(LevelFilter::DEBUG);
    EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(directives)
        .add_directive(
            format!("lambda_runtime={runtime_cap}")
                .parse()
                .expect("a valid directive"),
        )
}

/// The request id of an invocation, kept on its span.
struct RequestId(String);

/// Remembers the request id of each invocation span, for the formatter.
struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(Value::String(request_id)) = fields.0.remove(REQUEST_ID_FIELD) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(RequestId(request_id));
            }
        }
    }
}

/// One JSON object per event, in Lambda's JSON log shape.
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let request_id = ctx.event_scope().and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<RequestId>().map(|id| id.0.clone()))
        });
        let mut fields = Fields::default();
        event.record(&mut fields);
        writeln!(
            writer,
            "{}",
            line(
                std::time::SystemTime::now(),
                event.metadata().level().as_str(),
                request_id,
                fields.0
            )
        )
    }
}

/// Builds one log line: Lambda's keys and the event's own fields.
fn line(
    at: std::time::SystemTime,
    level: &str,
    request_id: Option<String>,
    mut fields: Map<String, Value>,
) -> Value {
    let mut object = Map::new();
    object.insert("timestamp".into(), Value::String(rfc3339_millis(at)));
    object.insert("level".into(), Value::String(level.into()));
    object.insert(
        "message".into(),
        fields
            .remove("message")
            .unwrap_or(Value::String(String::new())),
    );
    if let Some(request_id) = request_id {
        object.insert(REQUEST_ID_FIELD.into(), Value::String(request_id));
    }
    object.extend(fields);
    Value::Object(object)
}

/// An event's or span's fields as JSON values.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

/// `2026-11-21T14:49:23.123Z`: UTC with milliseconds, as Lambda writes its own lines.
fn rfc3339_millis(at: std::time::SystemTime) -> String {
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs() as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_runtime_is_capped_at_debug_and_never_raised() {
        let shown = |filter: EnvFilter| filter.to_string();
        // TRACE everywhere else, DEBUG for the runtime (which would print raw events).
        let trace = shown(log_filter(Some("TRACE"), None));
        assert!(
            trace.contains("lambda_runtime=debug") && trace.contains("trace"),
            "{trace}"
        );
        // WARN stays WARN for the runtime too.
        let warn = shown(log_filter(Some("WARN"), Some("debug")));
        assert!(warn.contains("lambda_runtime=warn"), "{warn}");
        assert!(
            !warn.contains("debug"),
            "Lambda's level wins over RUST_LOG: {warn}"
        );
        // RUST_LOG directives apply when Lambda sets no level, and cannot lift the cap.
        let rust_log = shown(log_filter(
            None,
            Some("aws_smithy_runtime=trace,lambda_runtime=trace"),
        ));
        assert!(rust_log.contains("aws_smithy_runtime=trace"), "{rust_log}");
        assert!(rust_log.contains("lambda_runtime=info"), "{rust_log}");
        assert!(!rust_log.contains("lambda_runtime=trace"), "{rust_log}");
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        assert_eq!(rfc3339_millis(at(0, 0)), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.789.
        assert_eq!(
            rfc3339_millis(at(951_827_696, 789)),
            "2000-02-29T12:34:56.789Z"
        );
        assert_eq!(
            rfc3339_millis(at(4_102_444_799, 999)),
            "2099-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn lines_carry_lambdas_keys_and_the_fields_at_the_top_level() {
        let mut fields = Map::new();
        fields.insert("message".into(), "logged out".into());
        fields.insert("deleted".into(), 3.into());
        let value = line(UNIX_EPOCH, "INFO", Some("req-1".into()), fields);
        assert_eq!(
            value,
            serde_json::json!({
                "timestamp": "1970-01-01T00:00:00.000Z",
                "level": "INFO",
                "message": "logged out",
                "requestId": "req-1",
                "deleted": 3,
            })
        );
        let outside = line(UNIX_EPOCH, "WARN", None, Map::new());
        assert_eq!(outside["message"], "");
        assert!(outside.get("requestId").is_none());
    }
}
