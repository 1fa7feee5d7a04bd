//! One response pipeline for every HTTP function: each function's error type says what
//! its vendor answers ([`ErrorReply`]), and [`respond`] turns an outcome into the response,
//! logging it once and adding the headers every function shares (`Retry-After` on
//! retryable failures, `Allow` on 405, `Cache-Control: no-store` on JSON, CORS) and
//! writing the request's metrics line ([`crate::metrics`]).

use lambda_http::http::{header, HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use signoff_store::StoreError;

use crate::cors::CorsPolicy;
use crate::metrics::{Meter, Outcome};

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
    /// A failure of another service than the store (KMS, say) behind this error: logged at
    /// ERROR with its cause and counted as a dependency failure, as store trouble is.
    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
    /// The methods the path allows, when the method was not one of them (405).
    fn allow(&self) -> Option<&str> {
        None
    }
    /// Headers particular to this error, e.g. a `WWW-Authenticate` challenge.
    fn extra_headers(&self, _headers: &mut HeaderMap) {}
}

/// The two [`ErrorReply`] accessors every function's error enum answers the same way, for
/// an enum with a `Store(StoreError)` variant and a `MethodNotAllowed { allow: String }`
/// one: write `signoff_edge::store_and_allow_accessors!();` inside its `impl ErrorReply`.
#[macro_export]
macro_rules! store_and_allow_accessors {
    () => {
        fn store_error(&self) -> Option<&::signoff_store::StoreError> {
            match self {
                Self::Store(err) => Some(err),
                _ => None,
            }
        }

        fn allow(&self) -> Option<&str> {
            match self {
                Self::MethodNotAllowed { allow } => Some(allow),
                _ => None,
            }
        }
    };
}

/// Seconds a client should wait before retrying after a retryable store failure.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// The response for `outcome` of `action` (a short name for the logs, e.g. "token
/// revocation"), with the shared headers and `cors`'s headers for `request`. A failure is
/// logged here and nowhere else: store trouble at ERROR with its cause, a refused request
/// at INFO with its reason. The request's one metrics line is written here too, from
/// `meter` (started when the handler was) and the outcome.
pub fn respond<E: ErrorReply>(
    action: &'static str,
    request: &Request,
    cors: &CorsPolicy,
    meter: &Meter,
    outcome: Result<Response<Body>, E>,
) -> Response<Body> {
    let kind = outcome_of(&outcome);
    let mut response = match outcome {
        Ok(response) => response,
        Err(err) => {
            match (err.store_error(), err.dependency_error()) {
                (Some(source), _) => source.log(action),
                (None, Some(source)) => tracing::error!(
                    action,
                    error = %err,
                    cause = %source,
                    cause_detail = ?std::error::Error::source(source),
                    retryable = err.retryable(),
                    "{action} failed"
                ),
                (None, None) => tracing::info!(reason = %err, "{action} refused"),
            }
            error_response(&err)
        }
    };
    cors.decorate(request, &mut response);
    meter.emit(request, kind);
    response
}

/// The metrics' [`Outcome`] of a handler's result: store trouble, else a refusal, else ok.
pub fn outcome_of<T, E: ErrorReply>(outcome: &Result<T, E>) -> Outcome {
    match outcome {
        Ok(_) => Outcome::Ok,
        Err(err) if err.store_error().is_some() || err.dependency_error().is_some() => {
            Outcome::StoreError
        }
        Err(_) => Outcome::Refused,
    }
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

/// A success with nothing to say: 204, never cacheable.
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that is store trouble or not.
    #[derive(Debug)]
    struct Failure(Option<StoreError>);

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failure")
        }
    }

    impl ErrorReply for Failure {
        type Body<'a> = &'static str;
        fn status(&self) -> StatusCode {
            StatusCode::BAD_REQUEST
        }
        fn body(&self) -> &'static str {
            "failure"
        }
        fn store_error(&self) -> Option<&StoreError> {
            self.0.as_ref()
        }
    }

    #[test]
    fn outcomes_are_ok_refused_or_store_error() {
        assert_eq!(outcome_of::<_, Failure>(&Ok(())), Outcome::Ok);
        assert_eq!(outcome_of::<(), _>(&Err(Failure(None))), Outcome::Refused);
        let store = StoreError::Corrupt("x".into());
        assert_eq!(
            outcome_of::<(), _>(&Err(Failure(Some(store)))),
            Outcome::StoreError
        );
    }
}
