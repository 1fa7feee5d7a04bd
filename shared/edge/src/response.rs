//! Building responses: the pieces every HTTP function's answers share.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON response. API responses are never cacheable: they report the outcome of a
/// state change.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(body).expect("response bodies always serialize");
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Seconds a client should wait before retrying after a retryable store failure.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// Tells the client when to retry a request that failed for a retryable store failure.
pub fn retry_later(headers: &mut lambda_http::http::HeaderMap) {
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
}
