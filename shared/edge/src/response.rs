//! One response pipeline for every HTTP function: each function's error type says what
//! its vendor answers ([`ErrorReply`]), and [`respond`] turns an outcome into the response,
//! logging it once and adding the headers every function shares (`Retry-After` on
//! retryable failures, `Allow` on 405, `Cache-Control: no-store` on JSON, CORS).

use lambda_http::http::{header, HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use signoff_store::StoreError;

use crate::cors::CorsPolicy;

/// What a function's error answers. Implemented once per function: the one place that
/// maps its failures to statuses and vendor bodies.
pub trait ErrorReply: std::fmt::Display {
    /// The body in the vendor's error shape.
    type Body<'a>: Serialize
    where
        Self: 'a;

    fn status(&self) -> StatusCode;
    fn body(&self) -> Self::Body<'_>;
    /// The store failure behind this error, if any: logged at ERROR with its cause.
    fn store_error(&self) -> Option<&StoreError> {
        None
    }
    /// Whether the same request may succeed later: the response says when
    /// (`Retry-After`). Store trouble decides it unless a function says otherwise.
    fn retryable(&self) -> bool {
        self.store_error().is_some_and(StoreError::is_retryable)
    }
    /// The methods the path allows, when the method was not one of them (405).
    fn allow(&self) -> Option<&str> {
        None
    }
    /// Headers particular to this error, e.g. a `WWW-Authenticate` challenge.
    fn extra_headers(&self, _headers: &mut HeaderMap) {}
}

/// Seconds a client should wait before retrying after a retryable store failure.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// The response for `outcome` of `action` (a short name for the logs, e.g. "token
/// revocation"), with the shared headers and `cors`'s headers for `request`. A failure is
/// logged here and nowhere else: store trouble at ERROR with its cause, a refused request
/// at INFO with its reason.
pub fn respond<E: ErrorReply>(
    action: &'static str,
    request: &Request,
    cors: &CorsPolicy,
    outcome: Result<Response<Body>, E>,
) -> Response<Body> {
    let mut response = match outcome {
        Ok(response) => response,
        Err(err) => {
            match err.store_error() {
                Some(source) => source.log(action),
                None => tracing::info!(reason = %err, "{action} refused"),
            }
            error_response(&err)
        }
    };
    cors.decorate(request, &mut response);
    response
}

/// The response of one error, with the shared headers; [`respond`] adds logging and CORS.
pub fn error_response<E: ErrorReply>(err: &E) -> Response<Body> {
    let mut response = json_response(err.status(), &err.body());
    let headers = response.headers_mut();
    if err.retryable() {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    if let Some(allow) = err.allow() {
        if let Ok(value) = HeaderValue::from_str(allow) {
            headers.insert(header::ALLOW, value);
        }
    }
    err.extra_headers(headers);
    response
}

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
