//! `POST /api/{serviceId}/nativesso/logout`, compatible with Authlete's native SSO logout:
//! deletes every access/refresh token record of the service bound to `sessionId`.
//!
//! Every expected outcome is a response in Authlete's shape (`resultCode`, `resultMessage`,
//! plus `action` and `count` on this API); [`LogoutError::into_response`] is the one place
//! that maps failures to statuses and codes. Codes Authlete documents are used as they are
//! (`A503001`, `A001202`); the others follow Authlete's scheme (A503 + 2xx for caller
//! errors, 1xx for server errors) and are listed in the README.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;
use signoff_edge::request::{self, AuthError, BodyError};
use signoff_edge::response;
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::{Store, StoreError};

/// The route, as API Gateway and the local router know it.
pub const ROUTE: &str = "/api/{serviceId}/nativesso/logout";
/// The body is one short field; anything much larger is not a logout request.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultBody {
    result_code: &'static str,
    result_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
}

/// Why a logout request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("authorization header missing")]
    MissingAuthorization,
    #[error("authorization header malformed")]
    MalformedAuthorization,
    #[error("DPoP presented")]
    Dpop,
    #[error("unknown credential")]
    UnknownCredential,
    #[error("credential not permitted for this service")]
    Forbidden,
    #[error("caller error {code}: {message}")]
    Caller { code: &'static str, message: String },
    #[error("token store failure")]
    Store(#[from] StoreError),
}

impl LogoutError {
    fn caller(code: &'static str, message: impl Into<String>) -> Self {
        LogoutError::Caller {
            code,
            message: message.into(),
        }
    }

    /// Maps every failure to its status and Authlete-shaped body. `path` is the request's
    /// API path (without a stage prefix), which Authlete puts in its error messages.
    pub fn into_response(self, path: &str) -> Response<Body> {
        // Authentication errors carry no `action`, as in Authlete's shared error bodies.
        let body = |status, code: &'static str, action: Option<&'static str>, text: &str| {
            response::json_response(
                status,
                &ResultBody {
                    result_code: code,
                    result_message: format!("[{code}] {path}, {text}"),
                    action,
                    count: None,
                },
            )
        };
        let plain = |status, code, text: &str| body(status, code, None, text);
        let with_action = |status, code, action, text: &str| body(status, code, Some(action), text);
        match self {
            LogoutError::MissingAuthorization => plain(
                StatusCode::UNAUTHORIZED,
                "A001202",
                "Authorization header is missing.",
            ),
            LogoutError::MalformedAuthorization => plain(
                StatusCode::UNAUTHORIZED,
                "A001204",
                "Authorization header is malformed: expected 'Bearer <access token>'.",
            ),
            LogoutError::Dpop => plain(
                StatusCode::UNAUTHORIZED,
                "A001204",
                "DPoP-bound access tokens are not supported: send 'Bearer <access token>'.",
            ),
            LogoutError::UnknownCredential => plain(
                StatusCode::UNAUTHORIZED,
                "A001203",
                "The access token is invalid.",
            ),
            LogoutError::Forbidden => plain(
                StatusCode::FORBIDDEN,
                "A001205",
                "The access token is not permitted to call APIs of this service.",
            ),
            LogoutError::MethodNotAllowed => {
                let mut response = with_action(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "A503210",
                    "CALLER_ERROR",
                    "Only POST is allowed.",
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                response
            }
            LogoutError::Caller { code, message } => {
                with_action(StatusCode::BAD_REQUEST, code, "CALLER_ERROR", &message)
            }
            LogoutError::Store(err) if err.is_retryable() => {
                let mut response = with_action(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "A503101",
                    "SERVER_ERROR",
                    "The token store is temporarily unavailable; no logout was confirmed. Retry the request.",
                );
                response::retry_later(response.headers_mut());
                response
            }
            LogoutError::Store(_) => with_action(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A503102",
                "SERVER_ERROR",
                "The logout could not be completed because of a server error.",
            ),
        }
    }
}

impl From<AuthError> for LogoutError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Missing => LogoutError::MissingAuthorization,
            AuthError::Malformed => LogoutError::MalformedAuthorization,
            AuthError::Dpop => LogoutError::Dpop,
            AuthError::Unknown => LogoutError::UnknownCredential,
            AuthError::Forbidden => LogoutError::Forbidden,
            AuthError::Store(e) => LogoutError::Store(e),
        }
    }
}

impl From<BodyError> for LogoutError {
    fn from(err: BodyError) -> Self {
        let code = match err {
            BodyError::Malformed => "A503206",
            BodyError::NotAnObject => "A503207",
            BodyError::UnsupportedMediaType => "A503208",
            BodyError::TooLarge { .. } => "A503209",
        };
        LogoutError::caller(code, format!("{}{}", capitalise(&err.to_string()), "."))
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `sessionId` of a logout request body, checked.
fn session_id(body: Option<serde_json::Map<String, Value>>) -> Result<String, LogoutError> {
    let missing = || {
        LogoutError::caller(
            "A503201",
            "The request does not contain the required 'sessionId' parameter.",
        )
    };
    let value = body
        .and_then(|mut b| b.remove("sessionId"))
        .ok_or_else(missing)?;
    let Value::String(session_id) = value else {
        return Err(match value {
            Value::Null => missing(),
            _ => LogoutError::caller("A503202", "The 'sessionId' parameter must be a string."),
        });
    };
    if session_id.is_empty() {
        return Err(LogoutError::caller(
            "A503203",
            "The 'sessionId' parameter is empty.",
        ));
    }
    if session_id.len() > MAX_ID_BYTES {
        return Err(LogoutError::caller(
            "A503204",
            format!("The 'sessionId' parameter is longer than {MAX_ID_BYTES} bytes."),
        ));
    }
    if session_id.chars().any(char::is_control) {
        return Err(LogoutError::caller(
            "A503205",
            "The 'sessionId' parameter contains control characters.",
        ));
    }
    Ok(session_id)
}

/// Handles one request. Never fails: every outcome, store trouble included, is a response.
pub async fn handle(store: &Store, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    // A path without a service id cannot be authorized for one.
    let service_id = request::path_parameter(&request, "serviceId", ROUTE).unwrap_or_default();
    // The API path as Authlete shows it in messages, without any stage prefix.
    let path = ROUTE.replace("{serviceId}", &service_id);
    Ok(match logout(store, &request, &service_id).await {
        Ok(count) => response::json_response(
            StatusCode::OK,
            &ResultBody {
                result_code: "A503001",
                result_message: format!(
                    "[A503001] The /nativesso/logout API call successfully deleted {count} access/refresh token record(s)."
                ),
                action: Some("OK"),
                count: Some(count),
            },
        ),
        Err(err) => {
            match &err {
                LogoutError::Store(source) => source.log("native SSO logout"),
                other => tracing::info!(reason = %other, "native SSO logout refused"),
            }
            err.into_response(&path)
        }
    })
}

async fn logout(store: &Store, request: &Request, service_id: &str) -> Result<u64, LogoutError> {
    if request.method() != Method::POST {
        return Err(LogoutError::MethodNotAllowed);
    }
    request::authorize(store, request, service_id).await?;
    let session_id = session_id(request::json_object(request, MAX_BODY_BYTES)?)?;
    let report = store.end_session(service_id, &session_id).await?;
    tracing::info!(
        service = %service_id,
        deleted = report.deleted,
        index_pages = report.pages,
        batch_calls = report.batch_calls,
        "native SSO logout"
    );
    Ok(report.deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Option<serde_json::Map<String, Value>> {
        v.as_object().cloned()
    }

    fn code(r: Result<String, LogoutError>) -> &'static str {
        match r {
            Err(LogoutError::Caller { code, .. }) => code,
            other => panic!("expected a caller error, got {other:?}"),
        }
    }

    #[test]
    fn session_id_checks_name_the_problem() {
        assert_eq!(session_id(body(json!({"sessionId": "s1"}))).unwrap(), "s1");
        assert_eq!(code(session_id(None)), "A503201");
        assert_eq!(
            code(session_id(body(json!({"sessionId": null})))),
            "A503201"
        );
        assert_eq!(code(session_id(body(json!({"sessionId": 5})))), "A503202");
        assert_eq!(code(session_id(body(json!({"sessionId": ""})))), "A503203");
        assert_eq!(
            code(session_id(body(json!({"sessionId": "x".repeat(257)})))),
            "A503204"
        );
        assert_eq!(
            code(session_id(body(json!({"sessionId": "a\u{0}b"})))),
            "A503205"
        );
    }
}
