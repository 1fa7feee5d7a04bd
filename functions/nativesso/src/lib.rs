//! Authlete's service APIs that end tokens, for one service (`serviceId` is the tenant):
//!
//! - `POST /api/{serviceId}/nativesso/logout`: every token bound to a `sessionId`.
//! - `POST /api/{serviceId}/auth/token/revoke`: one token (by value or hash), or every
//!   token of a client, of a client for a subject, or of a subject.
//! - `DELETE /api/{serviceId}/auth/token/delete/{accessTokenIdentifier}`: one token.
//! - `DELETE /api/{serviceId}/client/authorization/delete/{clientId}?subject=`: every
//!   token of a client for a subject.
//! - `GET /api/{serviceId}/auth/token/get/list`: a client's, a subject's or the service's
//!   tokens, by hash, paged.
//!
//! Every expected outcome is a response in Authlete's shape (`resultCode`, `resultMessage`,
//! plus `action` and `count` where the API has them); [`Failure`]'s [`ErrorReply`]
//! implementation is the one place that maps failures to statuses and codes. Codes Authlete
//! documents are used as they are (`A503001`, `A312001`, `A137001`, `A001202`); the others
//! follow Authlete's scheme (A + the API's three digits + 2xx for caller errors, 1xx for
//! server errors) and are listed in docs/native-sso.md and docs/authlete-tokens.md.

mod backchannel;
mod list;
mod tokens;

pub use signoff_edge::signing::LogoutTokens;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;
use signoff_edge::authlete;
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::oauth::FormError;
use signoff_edge::request::{self, AuthError, BodyError};
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, PathParams, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_jose::SignError;
use signoff_queue::{Handoff, HandoffError, QueueError};
use signoff_store::config::{parse_in_range, ConfigError};
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::{Store, StoreError};

/// The native SSO logout route, as API Gateway and the local router know it.
pub const ROUTE: &str = "/api/{serviceId}/nativesso/logout";
pub const TOKEN_REVOKE_ROUTE: &str = "/api/{serviceId}/auth/token/revoke";
pub const TOKEN_DELETE_ROUTE: &str = "/api/{serviceId}/auth/token/delete/{accessTokenIdentifier}";
pub const CLIENT_AUTHORIZATION_DELETE_ROUTE: &str =
    "/api/{serviceId}/client/authorization/delete/{clientId}";
pub const TOKEN_LIST_ROUTE: &str = "/api/{serviceId}/auth/token/get/list";
pub const LOGOUT_TOKEN_ROUTE: &str = "/api/{serviceId}/backchannel/logout/token";
/// The older form of the same API, with the subject in the path.
pub const CLIENT_AUTHORIZATION_DELETE_SUBJECT_ROUTE: &str =
    "/api/{serviceId}/client/authorization/delete/{clientId}/{subject}";
/// The bodies are a few short fields; anything much larger is not one of these requests.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The APIs this function serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    NativeSsoLogout,
    TokenRevoke,
    TokenDelete,
    ClientAuthorizationDelete,
    TokenList,
    LogoutToken,
}

impl Api {
    /// The three digits after the `A` of the API's result codes. Authlete's own: 503
    /// (`A503001`), 312 (`A312001`), 137 (`A137001`); 136 for `/auth/token/delete` and 138
    /// for `/auth/token/get/list`, whose successes carry no result code and whose codes
    /// Authlete does not publish, are Signoff's choice (see docs/authlete-tokens.md).
    fn family(self) -> &'static str {
        match self {
            Api::NativeSsoLogout => "503",
            Api::TokenRevoke => "312",
            Api::TokenDelete => "136",
            Api::ClientAuthorizationDelete => "137",
            Api::TokenList => "138",
            Api::LogoutToken => "504",
        }
    }

    /// The API's path template, for messages (the query form of client authorization
    /// deletion, Authlete's current one).
    fn template(self) -> &'static str {
        ROUTES
            .iter()
            .find(|r| r.endpoint == self)
            .map_or(ROUTE, |r| r.template)
    }

    /// For the logs.
    fn action(self) -> &'static str {
        match self {
            Api::NativeSsoLogout => "native SSO logout",
            Api::TokenRevoke => "Authlete token revocation",
            Api::TokenDelete => "Authlete token deletion",
            Api::ClientAuthorizationDelete => "Authlete client authorization deletion",
            Api::TokenList => "Authlete token list",
            Api::LogoutToken => "Authlete logout token",
        }
    }
}

/// The function's routes, as template.yaml and the local router declare them.
pub const ROUTES: &[Route<Api>] = &[
    Route::new(Method::POST, ROUTE, Api::NativeSsoLogout),
    Route::new(Method::POST, TOKEN_REVOKE_ROUTE, Api::TokenRevoke),
    Route::new(Method::DELETE, TOKEN_DELETE_ROUTE, Api::TokenDelete),
    Route::new(
        Method::DELETE,
        CLIENT_AUTHORIZATION_DELETE_ROUTE,
        Api::ClientAuthorizationDelete,
    ),
    Route::new(
        Method::DELETE,
        CLIENT_AUTHORIZATION_DELETE_SUBJECT_ROUTE,
        Api::ClientAuthorizationDelete,
    ),
    Route::new(Method::GET, TOKEN_LIST_ROUTE, Api::TokenList),
    Route::new(Method::POST, LOGOUT_TOKEN_ROUTE, Api::LogoutToken),
];

/// The variable that bounds how many token records one token list may read.
pub const TOKEN_LIST_MAX_RECORDS_VAR: &str = "SIGNOFF_TOKEN_LIST_MAX_RECORDS";
/// Its default: a page of 10,000 records costs about 100 BatchGetItems of records and as
/// many again of markers (docs/authlete-tokens.md).
pub const DEFAULT_TOKEN_LIST_MAX_RECORDS: usize = 10_000;

/// What the function reads once at init.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where a revocation too large to finish inside its call hands the rest
    /// (`SIGNOFF_PURGE_QUEUE_URL`); `None`: it deletes everything itself.
    pub handoff: Option<Handoff>,
    /// The most token records a token list reads to judge, count and page a scope
    /// (`SIGNOFF_TOKEN_LIST_MAX_RECORDS`); a larger scope is refused with a 400 that says
    /// to narrow it.
    pub list_limit: usize,
    /// The issuer and key that sign logout tokens (`SIGNOFF_ISSUER`,
    /// `SIGNOFF_SIGNING_KEY_ID`); `None`: the logout token API answers SERVER_ERROR.
    pub logout_tokens: Option<LogoutTokens>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            handoff: None,
            list_limit: DEFAULT_TOKEN_LIST_MAX_RECORDS,
            logout_tokens: None,
        }
    }
}

impl Settings {
    /// Reads the settings from the environment, failing fast with the variable's name.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let get = |name: &str| std::env::var(name).ok();
        Ok(Self {
            handoff: Handoff::from_env(sdk)?,
            list_limit: list_limit(get)?,
            logout_tokens: LogoutTokens::from_lookup(sdk, &get)?,
        })
    }
}

fn list_limit(get: impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    let limit = parse_in_range(
        &get,
        TOKEN_LIST_MAX_RECORDS_VAR,
        DEFAULT_TOKEN_LIST_MAX_RECORDS as u64,
        20..=20_000,
    )?;
    Ok(usize::try_from(limit).expect("at most 20,000"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody {
    result_code: String,
    result_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
}

/// Why a request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no API at this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// The API credential was refused (never [`AuthError::Store`], which is `Store`).
    #[error("API credential refused: {0}")]
    Credential(AuthError),
    /// The caller's mistake: 400 with the API's caller code `A<api>2<detail>`.
    #[error("caller error {detail}: {message}")]
    Caller { detail: u8, message: String },
    /// No such token (`/auth/token/delete`): 404.
    #[error("no such token")]
    UnknownToken,
    #[error("token store failure")]
    Store(#[from] StoreError),
    /// The tokens are unusable, but the purge of the rest could not be queued.
    #[error("the background purge could not be started")]
    Queue(#[source] QueueError),
    /// A logout token was asked for and this deployment has no signing key.
    #[error("no logout token signing key is configured")]
    NoLogoutTokens,
    #[error("signing the logout token failed")]
    Signing(#[source] SignError),
}

impl ApiError {
    fn caller(detail: u8, message: impl Into<String>) -> Self {
        ApiError::Caller {
            detail,
            message: message.into(),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            ApiError::Store(err) => err.is_retryable(),
            ApiError::Queue(err) => err.is_retryable(),
            ApiError::Signing(err) => err.is_retryable(),
            _ => false,
        }
    }
}

impl From<HandoffError> for ApiError {
    fn from(err: HandoffError) -> Self {
        match err {
            HandoffError::Store(err) => ApiError::Store(err),
            HandoffError::Queue(err) => ApiError::Queue(err),
        }
    }
}

/// A failure of a request to `api` at `path`, the API path as Authlete shows it in
/// messages (without any stage prefix, and with no token in it).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    pub api: Api,
    pub path: String,
    pub error: ApiError,
}

/// The one place that maps failures to statuses and Authlete-shaped bodies. Retryable
/// store or queue trouble is Authlete's SERVER_ERROR (500), with `Retry-After`.
impl ErrorReply for Failure {
    type Body<'a> = ResultBody;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> ResultBody {
        let (_, code, action, text) = self.parts();
        ResultBody {
            result_message: format!("[{code}] {}, {text}", self.path),
            result_code: code,
            action,
            count: None,
        }
    }

    fn store_error(&self) -> Option<&StoreError> {
        match &self.error {
            ApiError::Store(err) => Some(err),
            _ => None,
        }
    }

    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.error {
            ApiError::Queue(err) => Some(err),
            ApiError::Signing(err) => Some(err),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        self.error.retryable()
    }

    fn allow(&self) -> Option<&str> {
        match &self.error {
            ApiError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }
}

impl Failure {
    /// Status, code, action and message. Authentication errors carry no `action`, as in
    /// Authlete's shared error bodies; nor do the errors of APIs without one.
    fn parts(&self) -> (StatusCode, String, Option<&'static str>, String) {
        let has_action = matches!(self.api, Api::NativeSsoLogout | Api::LogoutToken);
        let caller = has_action.then_some("CALLER_ERROR");
        let server = has_action.then_some("SERVER_ERROR");
        let code = |detail: u16| format!("A{}{detail:03}", self.api.family());
        match &self.error {
            ApiError::Credential(err) => {
                let (status, code, text) = authlete::credential_refusal(err).unwrap_or((
                    StatusCode::UNAUTHORIZED,
                    "A001203",
                    "The access token is invalid.",
                ));
                (status, code.to_owned(), None, text.to_owned())
            }
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                code(211),
                caller,
                "There is no API at this path.".into(),
            ),
            ApiError::MethodNotAllowed { allow } => (
                StatusCode::METHOD_NOT_ALLOWED,
                code(210),
                caller,
                format!("Only {allow} is allowed."),
            ),
            ApiError::Caller { detail, message } => (
                StatusCode::BAD_REQUEST,
                code(200 + u16::from(*detail)),
                caller,
                message.clone(),
            ),
            ApiError::UnknownToken => (
                StatusCode::NOT_FOUND,
                code(213),
                caller,
                "The access token was not found.".into(),
            ),
            ApiError::NoLogoutTokens => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(105),
                server,
                "This service issues no logout tokens: the deployment signs them for its own service only, with its signing key.".into(),
            ),
            ApiError::Signing(err) if err.is_retryable() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(106),
                server,
                "The signing key is temporarily unavailable; retry the request.".into(),
            ),
            ApiError::Signing(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(107),
                server,
                "The logout token could not be signed because of a server error.".into(),
            ),
            ApiError::Queue(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(103),
                server,
                "The tokens are unusable, but deleting their records could not be started. \
                 Retry the request to finish."
                    .into(),
            ),
            ApiError::Store(err) if err.is_retryable() && self.api == Api::LogoutToken => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(101),
                server,
                "The token store is temporarily unavailable. Retry the request.".into(),
            ),
            ApiError::Store(err) if err.is_retryable() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(101),
                server,
                "The token store is temporarily unavailable; nothing may have been revoked. \
                 Retry the request."
                    .into(),
            ),
            ApiError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                code(102),
                server,
                "The request could not be completed because of a server error.".into(),
            ),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => ApiError::Store(e),
            refused => ApiError::Credential(refused),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> Self {
        let detail = match err {
            BodyError::Malformed => 6,
            BodyError::NotAnObject => 7,
            BodyError::UnsupportedMediaType => 8,
            BodyError::TooLarge { .. } => 9,
        };
        ApiError::caller(detail, authlete::sentence(&err.to_string()))
    }
}

impl From<FormError> for ApiError {
    fn from(err: FormError) -> Self {
        let detail = match err {
            FormError::Malformed(_) => 6,
            FormError::UnsupportedMediaType => 8,
            FormError::TooLarge { .. } => 9,
            FormError::Duplicate(_) => 14,
        };
        ApiError::caller(detail, authlete::sentence(&err.to_string()))
    }
}

/// Checks an identifier the caller sent as `field`: at most `max` bytes, no control
/// characters. Caller details 4 and 5, as `sessionId`'s have always been.
fn check_field(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::caller(
            4,
            format!("The '{field}' parameter is longer than {max} bytes."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::caller(
            5,
            format!("The '{field}' parameter contains control characters."),
        ));
    }
    Ok(())
}

/// The `sessionId` of a logout request body, checked.
fn session_id(body: Option<serde_json::Map<String, Value>>) -> Result<String, ApiError> {
    let missing = || {
        ApiError::caller(
            1,
            "The request does not contain the required 'sessionId' parameter.",
        )
    };
    let value = body
        .and_then(|mut b| b.remove("sessionId"))
        .ok_or_else(missing)?;
    let Value::String(session_id) = value else {
        return Err(match value {
            Value::Null => missing(),
            _ => ApiError::caller(2, "The 'sessionId' parameter must be a string."),
        });
    };
    if session_id.is_empty() {
        return Err(ApiError::caller(3, "The 'sessionId' parameter is empty."));
    }
    check_field("sessionId", &session_id, MAX_ID_BYTES)?;
    Ok(session_id)
}

/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]):
/// a caller error, `A503212`, naming the API by its route.
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    let message = format!("The request could not be read: {reason}.");
    response::error_response(&Failure {
        api: Api::NativeSsoLogout,
        path: ROUTE.to_owned(),
        error: ApiError::caller(12, message),
    })
}

/// A success: the HTTP response and the number of records it deleted.
struct Done {
    response: Response<Body>,
    deleted: u64,
}

/// Handles one request. Never fails: every outcome, store trouble included, is a response.
pub async fn handle(
    store: &Store,
    settings: &Settings,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let mut meter = Meter::start();
    let (api, service_id, outcome) = match route(ROUTES, &request) {
        Routed::Found { endpoint, params } => {
            let service_id = params.get("serviceId").unwrap_or_default().to_owned();
            let outcome = serve(store, settings, &request, endpoint, &params, &service_id).await;
            (endpoint, service_id, outcome)
        }
        Routed::MethodNotAllowed { allow, params } => {
            let service_id = params.get("serviceId").unwrap_or_default().to_owned();
            let api = api_of_path(request.uri().path());
            (api, service_id, Err(ApiError::MethodNotAllowed { allow }))
        }
        Routed::NotFound => (Api::NativeSsoLogout, String::new(), Err(ApiError::NotFound)),
    };
    if let Ok(done) = &outcome {
        meter.tokens_revoked(done.deleted);
    }
    let outcome = outcome.map(|done| done.response).map_err(|error| Failure {
        api,
        // Only the service id is filled in: a token in the path stays out of messages.
        path: api.template().replace("{serviceId}", &service_id),
        error,
    });
    Ok(respond(
        api.action(),
        &request,
        &CorsPolicy::Disabled,
        &meter,
        outcome,
    ))
}

/// Which API a path that matched no route with its method names (for a 405's codes).
fn api_of_path(path: &str) -> Api {
    if path.contains("/auth/token/revoke") {
        Api::TokenRevoke
    } else if path.contains("/auth/token/delete/") {
        Api::TokenDelete
    } else if path.contains("/client/authorization/delete/") {
        Api::ClientAuthorizationDelete
    } else if path.contains("/auth/token/get/list") {
        Api::TokenList
    } else if path.contains("/backchannel/logout/token") {
        Api::LogoutToken
    } else {
        Api::NativeSsoLogout
    }
}

async fn serve(
    store: &Store,
    settings: &Settings,
    request: &Request,
    api: Api,
    params: &PathParams,
    service_id: &str,
) -> Result<Done, ApiError> {
    request::authorize(store, request, service_id).await?;
    let handoff = settings.handoff.as_ref();
    match api {
        Api::NativeSsoLogout => logout(store, request, service_id).await,
        Api::TokenRevoke => tokens::revoke(store, handoff, request, service_id).await,
        Api::TokenDelete => {
            let identifier = params.get("accessTokenIdentifier").unwrap_or_default();
            tokens::delete(store, service_id, identifier).await
        }
        Api::ClientAuthorizationDelete => {
            let client_id = params.get("clientId").unwrap_or_default();
            let subject = tokens::subject_of(request, params)?;
            tokens::delete_client_authorization(store, handoff, service_id, client_id, &subject)
                .await
        }
        Api::TokenList => list::list(store, settings.list_limit, request, service_id).await,
        Api::LogoutToken => {
            backchannel::logout_token(store, settings.logout_tokens.as_ref(), request, service_id)
                .await
        }
    }
}

async fn logout(store: &Store, request: &Request, service_id: &str) -> Result<Done, ApiError> {
    let session_id = session_id(request::json_object(request, MAX_BODY_BYTES)?)?;
    let report = store.end_session(service_id, &session_id).await?;
    tracing::info!(
        service = %service_id,
        deleted = report.deleted,
        index_pages = report.pages,
        batch_calls = report.batch_calls,
        "native SSO logout"
    );
    let count = report.deleted;
    let response = response::json_response(
        StatusCode::OK,
        &ResultBody {
            result_code: "A503001".into(),
            result_message: format!(
                "[A503001] The /nativesso/logout API call successfully deleted {count} access/refresh token record(s)."
            ),
            action: Some("OK"),
            count: Some(count),
        },
    );
    Ok(Done {
        response,
        deleted: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Option<serde_json::Map<String, Value>> {
        v.as_object().cloned()
    }

    fn code(r: Result<String, ApiError>) -> u8 {
        match r {
            Err(ApiError::Caller { detail, .. }) => detail,
            other => panic!("expected a caller error, got {other:?}"),
        }
    }

    #[test]
    fn session_id_checks_name_the_problem() {
        assert_eq!(session_id(body(json!({"sessionId": "s1"}))).unwrap(), "s1");
        assert_eq!(code(session_id(None)), 1);
        assert_eq!(code(session_id(body(json!({"sessionId": null})))), 1);
        assert_eq!(code(session_id(body(json!({"sessionId": 5})))), 2);
        assert_eq!(code(session_id(body(json!({"sessionId": ""})))), 3);
        assert_eq!(
            code(session_id(body(json!({"sessionId": "x".repeat(257)})))),
            4
        );
        assert_eq!(code(session_id(body(json!({"sessionId": "a\u{0}b"})))), 5);
    }

    #[test]
    fn the_list_limit_has_a_default_and_bounds() {
        assert_eq!(
            list_limit(signoff_store::config::lookup_in(&[])).unwrap(),
            10_000
        );
        assert_eq!(
            list_limit(signoff_store::config::lookup_in(&[(
                TOKEN_LIST_MAX_RECORDS_VAR,
                "500"
            )]))
            .unwrap(),
            500
        );
        assert!(list_limit(signoff_store::config::lookup_in(&[(
            TOKEN_LIST_MAX_RECORDS_VAR,
            "5"
        )]))
        .is_err());
        assert!(list_limit(signoff_store::config::lookup_in(&[(
            TOKEN_LIST_MAX_RECORDS_VAR,
            "lots"
        )]))
        .is_err());
    }
}
