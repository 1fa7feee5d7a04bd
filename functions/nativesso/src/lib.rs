//! `POST /api/{serviceId}/nativesso/logout`, compatible with Authlete's native SSO logout:
//! deletes every access/refresh token record of the service bound to `sessionId`.
//!
//! Every expected outcome is a response in Authlete's shape (`resultCode`, `resultMessage`,
//! plus `action` and `count` on this API); [`Failure`]'s [`ErrorReply`] implementation is
//! the one place that maps failures to statuses and codes. Codes Authlete documents are used as they are
//! (`A503001`, `A001202`); the others follow Authlete's scheme (A503 + 2xx for caller
//! errors, 1xx for server errors) and are listed in docs/native-sso.md.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;
use signoff_edge::authlete;
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::request::{self, AuthError, BodyError};
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::{Store, StoreError};

/// The route, as API Gateway and the local router know it.
pub const ROUTE: &str = "/api/{serviceId}/nativesso/logout";
/// The body is one short field; anything much larger is not a logout request.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The function's one route, as template.yaml and the local router declare it.
pub const ROUTES: &[Route<()>] = &[Route::new(Method::POST, ROUTE, ())];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody {
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
    #[error("no API at this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// The API credential was refused (never [`AuthError::Store`], which is `Store`).
    #[error("API credential refused: {0}")]
    Credential(AuthError),
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
}

/// A failure of a request to `path`, the API path as Authlete shows it in messages
/// (without any stage prefix).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    pub path: String,
    pub error: LogoutError,
}

/// The one place that maps failures to statuses and Authlete-shaped bodies. Retryable
/// store trouble is Authlete's SERVER_ERROR (500), with `Retry-After`.
impl ErrorReply for Failure {
    type Body<'a> = ResultBody;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> ResultBody {
        let (_, code, action, text) = self.parts();
        ResultBody {
            result_code: code,
            result_message: format!("[{code}] {}, {text}", self.path),
            action,
            count: None,
        }
    }

    fn store_error(&self) -> Option<&StoreError> {
        match &self.error {
            LogoutError::Store(err) => Some(err),
            _ => None,
        }
    }

    fn allow(&self) -> Option<&str> {
        match &self.error {
            LogoutError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }
}

impl Failure {
    /// Status, code, action and message. Authentication errors carry no `action`, as in
    /// Authlete's shared error bodies.
    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>, &str) {
        const CALLER: Option<&str> = Some("CALLER_ERROR");
        const SERVER: Option<&str> = Some("SERVER_ERROR");
        match &self.error {
            LogoutError::Credential(err) => {
                let (status, code, text) = authlete::credential_refusal(err)
                    .unwrap_or((StatusCode::UNAUTHORIZED, "A001203", "The access token is invalid."));
                (status, code, None, text)
            }
            LogoutError::NotFound => (
                StatusCode::NOT_FOUND,
                "A503211",
                CALLER,
                "There is no API at this path.",
            ),
            LogoutError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "A503210",
                CALLER,
                "Only POST is allowed.",
            ),
            LogoutError::Caller { code, message } => {
                (StatusCode::BAD_REQUEST, code, CALLER, message)
            }
            LogoutError::Store(err) if err.is_retryable() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "A503101",
                SERVER,
                "The token store is temporarily unavailable; no logout was confirmed. Retry the request.",
            ),
            LogoutError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "A503102",
                SERVER,
                "The logout could not be completed because of a server error.",
            ),
        }
    }
}

impl From<AuthError> for LogoutError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => LogoutError::Store(e),
            refused => LogoutError::Credential(refused),
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
        LogoutError::caller(code, authlete::sentence(&err.to_string()))
    }
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

/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]):
/// a caller error, `A503212`, naming the API by its route.
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    let message = format!("The request could not be read: {reason}.");
    response::error_response(&Failure {
        path: ROUTE.to_owned(),
        error: LogoutError::caller("A503212", message),
    })
}

/// Handles one request. Never fails: every outcome, store trouble included, is a response.
pub async fn handle(store: &Store, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let mut meter = Meter::start();
    let (service_id, outcome) = match route(ROUTES, &request) {
        Routed::Found { params, .. } => {
            let service_id = params.get("serviceId").unwrap_or_default().to_owned();
            let outcome = logout(store, &request, &service_id).await;
            (service_id, outcome)
        }
        Routed::MethodNotAllowed { allow, params } => {
            let service_id = params.get("serviceId").unwrap_or_default().to_owned();
            (service_id, Err(LogoutError::MethodNotAllowed { allow }))
        }
        Routed::NotFound => (String::new(), Err(LogoutError::NotFound)),
    };
    if let Ok(count) = outcome {
        meter.tokens_revoked(count);
    }
    let outcome = outcome
        .map(|count| {
            response::json_response(
                StatusCode::OK,
                &ResultBody {
                    result_code: "A503001",
                    result_message: format!(
                        "[A503001] The /nativesso/logout API call successfully deleted {count} access/refresh token record(s)."
                    ),
                    action: Some("OK"),
                    count: Some(count),
                },
            )
        })
        .map_err(|error| Failure {
            path: ROUTE.replace("{serviceId}", &service_id),
            error,
        });
    Ok(respond(
        "native SSO logout",
        &request,
        &CorsPolicy::Disabled,
        &meter,
        outcome,
    ))
}

async fn logout(store: &Store, request: &Request, service_id: &str) -> Result<u64, LogoutError> {
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
