//! The Lambda loop of every HTTP function: every event API Gateway's HTTP API can deliver
//! gets a response in the function's vendor shape, never a panic or an invocation error.
//!
//! `lambda_http` alone falls short at two points before any handler runs. It panics
//! building the request URI when `rawQueryString` or `rawPath` holds a byte a URI may not
//! (`"`, `<`, `>`, a space, a tab, DEL: `InvalidUri(InvalidUriChar)`; with `panic =
//! "abort"` that kills the sandbox; the path's are escaped by its URL parser), and when a
//! base64 body does not decode. And a header
//! with a control byte fails the event's deserialization, an invocation error API Gateway
//! shows as a 500. [`serve`] reads the event itself first: one that would fail is answered
//! with the function's own 400 (`malformed`), and every other event goes through
//! `lambda_http` exactly as `lambda_http::run` would take it.

use std::future::Future;

use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::header::HOST;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Body, Error, LambdaEvent, Request, Response, Service};
use serde_json::{json, Map, Value};

/// Time left until an invocation's deadline (`LambdaEvent::context.deadline`, epoch
/// milliseconds, from the Runtime API). `cargo lambda watch`'s emulator sends the
/// function's timeout there instead (600,000): a value that cannot be an epoch time of
/// this century is taken as that duration.
pub fn remaining_time(deadline_ms: u64, now: std::time::SystemTime) -> std::time::Duration {
    use std::time::{Duration, UNIX_EPOCH};
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms < YEAR_2001_MS {
        // Never more than Lambda's longest timeout, whatever the emulator says.
        return Duration::from_millis(deadline_ms.min(900_000));
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline.duration_since(now).unwrap_or_default()
}

/// Why an event cannot become a request. Shown to the caller as is: it never repeats a
/// value from the event (headers may hold credentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedEvent {
    #[error("the request has a header name or value that is not valid HTTP")]
    Headers,
    #[error("the request's path or query string holds characters a URI may not contain")]
    Uri,
    #[error("the request body is marked base64 but does not decode")]
    Base64Body,
    #[error("the request is not an API Gateway HTTP API request")]
    NotHttpApi,
}

/// Runs the Lambda loop: each event becomes a request for `handler`, or, if it cannot,
/// `malformed`'s response (the function's 400 in its vendor's shape).
pub async fn serve<H, Fut>(
    handler: H,
    malformed: fn(MalformedEvent) -> Response<Body>,
) -> Result<(), Error>
where
    H: Fn(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    let mut adapter = lambda_http::Adapter::from(service_fn(handler));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (payload, context) = event.into_parts();
        let checked = check_event(payload);
        let call = checked.map(|event| {
            adapter.call(LambdaEvent::new(
                LambdaRequest::ApiGatewayV2(event),
                context,
            ))
        });
        async move {
            match call {
                Ok(response) => Ok::<Value, Error>(serde_json::to_value(response.await?)?),
                Err(reason) => {
                    tracing::info!(reason = %reason, "malformed event refused");
                    Ok(gateway_response(malformed(reason)))
                }
            }
        }
    }))
    .await
}

/// The event as `lambda_http` reads it, if `lambda_http` can turn it into a request
/// without failing.
pub fn check_event(payload: Value) -> Result<ApiGatewayV2httpRequest, MalformedEvent> {
    if payload.pointer("/requestContext/http").is_none() {
        return Err(MalformedEvent::NotHttpApi);
    }
    let event: ApiGatewayV2httpRequest = serde_json::from_value(payload).map_err(|_| {
        // The headers are the one part whose values the typed event refuses.
        MalformedEvent::Headers
    })?;
    if event.is_base64_encoded {
        let body = event.body.as_deref().unwrap_or_default();
        if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
        {
            return Err(MalformedEvent::Base64Body);
        }
    }
    if !uri_builds(&event) {
        return Err(MalformedEvent::Uri);
    }
    Ok(event)
}

/// Whether the URI `lambda_http` builds for `event` (scheme, host, stage-prefixed path,
/// query) parses, checked the way it builds it, without its `unwrap`s.
fn uri_builds(event: &ApiGatewayV2httpRequest) -> bool {
    let host = event
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let raw_path = event.raw_path.as_deref().unwrap_or_default();
    let path = path_with_stage(event.request_context.stage.as_deref(), raw_path);
    let built = match host {
        None => url::Url::parse(&format!("http://localhost{path}")).map(|u| u.path().to_owned()),
        Some(host) => {
            let scheme = event
                .headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}")).map(|u| u.to_string())
        }
    };
    let Ok(mut uri) = built else {
        return false;
    };
    if let Some(query) = event.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    lambda_http::http::Uri::try_from(uri).is_ok()
}

/// The path `lambda_http` puts in the URI: the stage prefixed unless it is already there,
/// `$default`, or turned off by `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`.
fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    match stage {
        _ if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some() => path.into(),
        None | Some("$default") => path.into(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.into(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// An API Gateway HTTP API (payload 2.0) response for one of our own simple responses:
/// single-valued headers, a text body.
fn gateway_response(response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.into())))
        .collect();
    let body = match body {
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    };
    json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": body,
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_is_zero_past_the_deadline_and_a_bare_timeout_is_a_duration() {
        use std::time::{Duration, UNIX_EPOCH};
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(
            remaining_time(1_795_000_060_000, now),
            Duration::from_secs(60)
        );
        assert_eq!(remaining_time(1_794_999_990_000, now), Duration::ZERO);
        // cargo lambda watch's emulator: the timeout, not a deadline.
        assert_eq!(remaining_time(600_000, now), Duration::from_secs(600));
    }

    fn event(raw_path: &str, query: &str, headers: Value) -> Value {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": raw_path,
            "rawQueryString": query, "headers": headers, "isBase64Encoded": false,
            "requestContext": {
                "http": {"method": "POST", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "t"},
                "routeKey": "$default", "stage": "$default", "requestId": "r",
                "domainName": "api.example.com", "timeEpoch": 0
            }
        })
    }

    #[test]
    fn events_lambda_http_would_fail_on_are_named() {
        for query in ["a=\"", "a=<b>", "a b", "a=\t", "a=\u{7f}"] {
            assert_eq!(
                check_event(event("/oauth2/revoke", query, json!({}))).unwrap_err(),
                MalformedEvent::Uri,
                "{query:?}"
            );
        }
        for value in ["a\u{1}b", "a\u{7f}", "a\r\nb: c"] {
            assert_eq!(
                check_event(event("/oauth2/revoke", "", json!({ "x-test": value }))).unwrap_err(),
                MalformedEvent::Headers,
                "{value:?}"
            );
        }
        let mut bad_body = event("/oauth2/revoke", "", json!({}));
        bad_body["isBase64Encoded"] = json!(true);
        bad_body["body"] = json!("not base64!");
        assert_eq!(
            check_event(bad_body).unwrap_err(),
            MalformedEvent::Base64Body
        );
        assert_eq!(
            check_event(json!({})).unwrap_err(),
            MalformedEvent::NotHttpApi
        );
        // The URL parser escapes such bytes in the path itself: nothing to refuse.
        assert!(check_event(event("/a\"b", "", json!({}))).is_ok());
    }

    #[test]
    fn ordinary_events_pass_and_become_requests() {
        for query in ["", "a=b&c=%20d", "x=1;y=2", "q={}|^`"] {
            let checked = check_event(event("/oauth2/revoke", query, json!({"host": "h.example"})));
            let checked = checked.unwrap_or_else(|e| panic!("{query:?}: {e}"));
            let request: Request = LambdaRequest::ApiGatewayV2(checked).into();
            assert_eq!(request.uri().path(), "/oauth2/revoke");
        }
    }

    #[test]
    fn our_responses_become_gateway_responses() {
        let response = crate::response::json_response(
            lambda_http::http::StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request"}),
        );
        let value = gateway_response(response);
        assert_eq!(value["statusCode"], 400);
        assert_eq!(value["headers"]["content-type"], "application/json");
        assert_eq!(value["body"], r#"{"error":"invalid_request"}"#);
    }
}
