//! Descope-compatible session endpoints:
//!
//! - `POST /v1/auth/logout`: ends the session of the refresh JWT in the bearer.
//! - `POST /v1/auth/logoutall`: revokes every token of that JWT's user in the project.
//! - `GET /v2/keys/{projectId}`: the project's public keys as a JWKS, for SDKs that check
//!   refresh JWTs locally before calling logout.
//! - `POST /v1/mgmt/user/logout`: a backend, with the project's management key, logs a user
//!   (`userId` or `loginId`) out everywhere.
//!
//! Logout callers authenticate with `Authorization: Bearer <ProjectID>:<RefreshJWT>` (SDKs
//! configured with a management key append it as a third `:` part; it is ignored). The
//! refresh JWT is verified (signature by `kid` among the project's keys, `exp` with 5 s of
//! leeway, `iss`) and must be registered and live before anything is touched.
//!
//! Every outcome is a response: success is Descope's JWT response with every field empty
//! plus cookies that delete `DS` and `DSR`; failures are `{errorCode, errorDescription,
//! errorMessage}`, mapped in one place, its [`ErrorReply`] implementation.

pub mod settings;

use crate::settings::Settings;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{json, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::request::{self, BodyError};
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_jose::{self as jwt, JwtError, RefreshClaims};
use signoff_store::bulk::DeleteReport;
use signoff_store::credentials::Authorization;
use signoff_store::item_key::{self, TokenHash};
use signoff_store::model::{TokenRecord, TokenType, MAX_ID_BYTES};
use signoff_store::revocation::{Cascade, TokenState};
use signoff_store::users::{AliasKind, UserRef};
use signoff_store::{Store, StoreError};

pub const LOGOUT_ROUTE: &str = "/v1/auth/logout";
pub const LOGOUT_ALL_ROUTE: &str = "/v1/auth/logoutall";
pub const KEYS_ROUTE: &str = "/v2/keys/{projectId}";
pub const MGMT_USER_LOGOUT_ROUTE: &str = "/v1/mgmt/user/logout";
/// Logout bodies are `{}` or a short `logoutType` list.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// Descope's session and refresh cookies, deleted on logout.
pub const COOKIE_NAMES: [&str; 2] = ["DS", "DSR"];
/// How long clients may cache the keys endpoint's answer: short, so a removed key stops
/// being trusted by local verifiers soon after Signoff stops accepting it.
pub const KEYS_MAX_AGE_SECONDS: u32 = 300;

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Logout,
    LogoutAll,
    Keys,
    ManagementLogout,
}

/// The function's routes, as template.yaml and the local router declare them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::new(Method::POST, LOGOUT_ROUTE, Endpoint::Logout),
    Route::new(Method::POST, LOGOUT_ALL_ROUTE, Endpoint::LogoutAll),
    Route::new(Method::GET, KEYS_ROUTE, Endpoint::Keys),
    Route::new(
        Method::POST,
        MGMT_USER_LOGOUT_ROUTE,
        Endpoint::ManagementLogout,
    ),
];

/// Why a request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum DescopeError {
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("authorization header missing")]
    MissingAuthorization,
    #[error("authorization header malformed")]
    MalformedAuthorization,
    #[error("unknown project")]
    UnknownProject,
    #[error("no such project")]
    ProjectNotFound,
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("refresh token not registered, revoked or expired")]
    LoggedOut,
    #[error("registered token is not a refresh token")]
    NotRefreshToken,
    #[error("the token's user does not match its registration")]
    UserMismatch,
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("invalid request body: {0}")]
    Validation(&'static str),
    #[error("send userId or loginId")]
    MissingUser,
    #[error(transparent)]
    MalformedEvent(#[from] MalformedEvent),
    #[error("the management key is not valid for this project")]
    InvalidManagementKey,
    #[error("user not found")]
    UserNotFound,
    #[error("token store failure")]
    Store(#[from] StoreError),
    /// The user's marker is written but the purge of the rest could not be queued.
    #[error("purge queue failure")]
    Queue(#[source] signoff_queue::QueueError),
}

impl From<signoff_queue::HandoffError> for DescopeError {
    fn from(err: signoff_queue::HandoffError) -> Self {
        match err {
            signoff_queue::HandoffError::Store(err) => DescopeError::Store(err),
            signoff_queue::HandoffError::Queue(err) => DescopeError::Queue(err),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    error_code: &'a str,
    error_description: &'a str,
    error_message: String,
}

/// The one place that maps failures to statuses and Descope error bodies. Codes Descope
/// publishes are used for their meaning (`E011001`-`E011004` request errors, `E064001`
/// logged out); the rest are Signoff's, listed in docs/descope.md.
impl ErrorReply for DescopeError {
    type Body<'a> = ErrorBody<'a>;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> ErrorBody<'_> {
        let (_, code, description, message) = self.parts();
        ErrorBody {
            error_code: code,
            error_description: description,
            error_message: message,
        }
    }

    signoff_edge::store_and_allow_accessors!();

    fn retryable(&self) -> bool {
        match self {
            DescopeError::Queue(err) => err.is_retryable(),
            other => other.store_error().is_some_and(StoreError::is_retryable),
        }
    }

    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DescopeError::Queue(err) => Some(err),
            _ => None,
        }
    }
}

impl DescopeError {
    /// Status, code, description and message.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use StatusCode as S;
        let message = self.to_string();
        match self {
            DescopeError::NotFound => (S::NOT_FOUND, "E011001", "Bad request", message),
            DescopeError::MethodNotAllowed { .. } => {
                (S::METHOD_NOT_ALLOWED, "E011001", "Bad request", message)
            }
            DescopeError::MissingAuthorization => (
                S::UNAUTHORIZED,
                "E011002",
                "Missing arguments",
                "the Authorization header is missing: send 'Bearer <ProjectID>:<RefreshJWT>'"
                    .to_owned(),
            ),
            DescopeError::MalformedAuthorization => (
                S::UNAUTHORIZED,
                "E011004",
                "Invalid arguments",
                "the Authorization header must be 'Bearer <ProjectID>:<RefreshJWT>'".to_owned(),
            ),
            DescopeError::UnknownProject => (
                S::UNAUTHORIZED,
                "E061001",
                "Unknown project",
                "the project is unknown or has no signing keys registered".to_owned(),
            ),
            DescopeError::ProjectNotFound => (
                S::NOT_FOUND,
                "E061001",
                "Unknown project",
                "the project is unknown or has no signing keys registered".to_owned(),
            ),
            DescopeError::Jwt(err) => {
                let (code, description) = match err {
                    JwtError::Malformed(_)
                    | JwtError::UnsupportedAlgorithm(_)
                    | JwtError::CriticalHeader
                    | JwtError::MissingClaim(_)
                    | JwtError::NotRefreshToken => ("E061002", "Invalid refresh token"),
                    JwtError::UnknownKey | JwtError::BadSignature => {
                        ("E061003", "Invalid refresh token signature")
                    }
                    JwtError::Expired | JwtError::NotYetValid => {
                        ("E061004", "Refresh token expired")
                    }
                    JwtError::WrongIssuer => ("E061005", "Refresh token issuer mismatch"),
                };
                (S::UNAUTHORIZED, code, description, message)
            }
            DescopeError::LoggedOut => (
                S::UNAUTHORIZED,
                "E064001",
                "Token expired by logged out",
                "the refresh token has already been logged out (or was never registered)"
                    .to_owned(),
            ),
            DescopeError::NotRefreshToken => (
                S::UNAUTHORIZED,
                "E061002",
                "Invalid refresh token",
                "the token is registered as an access token, not a refresh token".to_owned(),
            ),
            DescopeError::UserMismatch => (
                S::UNAUTHORIZED,
                "E061002",
                "Invalid refresh token",
                "the refresh token's user (sub/dsub) is not the user it was registered for"
                    .to_owned(),
            ),
            DescopeError::Body(_) | DescopeError::MalformedEvent(_) => {
                (S::BAD_REQUEST, "E011001", "Bad request", message)
            }
            DescopeError::MissingUser => (
                S::BAD_REQUEST,
                "E011002",
                "Missing arguments",
                "send the user to log out as userId or loginId".to_owned(),
            ),
            DescopeError::Validation(_) => (
                S::BAD_REQUEST,
                "E011003",
                "Request validation failed",
                message,
            ),
            DescopeError::InvalidManagementKey => (
                S::UNAUTHORIZED,
                "E011004",
                "Invalid arguments",
                "the management key is unknown or not a key of this project: send 'Bearer <ProjectID>:<ManagementKey>'"
                    .to_owned(),
            ),
            DescopeError::UserNotFound => (
                S::NOT_FOUND,
                "E112102",
                "User not found",
                "no user with this userId or loginId has tokens or a logout in the project"
                    .to_owned(),
            ),
            DescopeError::Queue(err) if err.is_retryable() => (
                S::SERVICE_UNAVAILABLE,
                "E130503",
                "Service temporarily unavailable",
                "the user is logged out, but cleaning up their records could not be queued; retry the request"
                    .to_owned(),
            ),
            DescopeError::Queue(_) => (
                S::INTERNAL_SERVER_ERROR,
                "E130500",
                "Internal error",
                "the request could not be completed because of a server error".to_owned(),
            ),
            DescopeError::Store(err) if err.is_retryable() => (
                S::SERVICE_UNAVAILABLE,
                "E130503",
                "Service temporarily unavailable",
                "the token store is busy or unavailable; nothing was confirmed, retry the request"
                    .to_owned(),
            ),
            DescopeError::Store(_) => (
                S::INTERNAL_SERVER_ERROR,
                "E130500",
                "Internal error",
                "the request could not be completed because of a server error".to_owned(),
            ),
        }
    }
}

/// The project id and refresh JWT of `Authorization: Bearer <ProjectID>:<RefreshJWT>`,
/// with or without a trailing `:<key>`. Public for the fuzz targets (tests/fuzz), which
/// feed it arbitrary `Authorization` headers.
pub fn project_and_jwt(request: &Request) -> Result<(&str, &str), DescopeError> {
    let token = request::bearer_token(request).map_err(|err| match err {
        request::AuthError::Missing => DescopeError::MissingAuthorization,
        _ => DescopeError::MalformedAuthorization,
    })?;
    let (project, rest) = token
        .split_once(':')
        .ok_or(DescopeError::MalformedAuthorization)?;
    // A JWT has no ':'; anything after the next one is the SDK's management key.
    let jwt = rest.split(':').next().unwrap_or_default();
    if project.is_empty() || jwt.is_empty() {
        return Err(DescopeError::MalformedAuthorization);
    }
    if !item_key::valid_tenant_id(project) {
        return Err(DescopeError::UnknownProject);
    }
    Ok((project, jwt))
}

/// Checks the optional body: absent, `{}`, or `{"logoutType": [strings]}`. No
/// `logoutType` value has a meaning in Signoff; they are accepted and ignored, as are
/// other fields.
fn check_body(request: &Request) -> Result<(), DescopeError> {
    let body = request::json_object_of_any_type(request, MAX_BODY_BYTES)?;
    match body.as_ref().and_then(|b| b.get("logoutType")) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => Err(DescopeError::Validation(
            "logoutType must be an array of strings",
        )),
    }
}

/// `POST /v1/mgmt/user/logout`: the user named by `userId` (else `loginId`) is logged out
/// everywhere, as logout-all does for a refresh JWT's user. Returns the records deleted
/// inline.
async fn management_logout(
    store: &Store,
    settings: &Settings,
    request: &Request,
) -> Result<u64, DescopeError> {
    let (project, key) = project_and_management_key(request)?;
    match store.authorize_management(key, project).await? {
        Authorization::Granted => {}
        Authorization::UnknownCredential | Authorization::Forbidden => {
            return Err(DescopeError::InvalidManagementKey)
        }
    }
    let body = request::json_object_of_any_type(request, MAX_BODY_BYTES)?.unwrap_or_default();
    // The Go SDK sends both fields, the unused one empty, and `sessionTypes: null`.
    let field = |name: &'static str| -> Result<Option<&str>, DescopeError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) if v.is_empty() => Ok(None),
            Some(Value::String(v)) if v.len() <= MAX_ID_BYTES && !v.contains(char::is_control) => {
                Ok(Some(v.as_str()))
            }
            Some(Value::String(_)) => Err(DescopeError::Validation(
                "userId and loginId are at most 256 bytes without control characters",
            )),
            Some(_) => Err(DescopeError::Validation(
                "userId and loginId must be strings",
            )),
        }
    };
    let user = match (field("userId")?, field("loginId")?) {
        (Some(user_id), _) => UserRef::Subject(user_id),
        (None, Some(login_id)) => UserRef::Alias(AliasKind::LoginId, login_id),
        (None, None) => return Err(DescopeError::MissingUser),
    };
    let subject = store
        .resolve_user(project, user)
        .await?
        .ok_or(DescopeError::UserNotFound)?;
    let outcome =
        signoff_queue::log_user_out(store, settings.handoff.as_ref(), project, &subject, None)
            .await?;
    let report = outcome.logout.report;
    tracing::info!(
        project = %project,
        deleted = report.deleted,
        index_pages = report.pages,
        purge = outcome.purge.as_ref().map(|job| job.job_id.as_str()),
        "descope management logout"
    );
    Ok(report.deleted)
}

/// The project id and management key of `Authorization: Bearer <ProjectID>:<ManagementKey>`
/// (an SDK configured with a refresh JWT too puts the key last).
fn project_and_management_key(request: &Request) -> Result<(&str, &str), DescopeError> {
    let token = request::bearer_token(request).map_err(|err| match err {
        request::AuthError::Missing => DescopeError::MissingAuthorization,
        _ => DescopeError::MalformedAuthorization,
    })?;
    let (project, rest) = token
        .split_once(':')
        .ok_or(DescopeError::MalformedAuthorization)?;
    let key = rest.rsplit(':').next().unwrap_or_default();
    if project.is_empty() || key.is_empty() {
        return Err(DescopeError::MalformedAuthorization);
    }
    Ok((project, key))
}

/// The project's registered keys; `missing` when it has none.
async fn keys_of(
    store: &Store,
    project: &str,
    missing: DescopeError,
) -> Result<Vec<signoff_jose::Jwk>, DescopeError> {
    store.project_keys(project).await?.ok_or(missing)
}

/// Verifies the bearer's refresh JWT and revokes per `all`: its session and grant, or
/// every token of its user.
async fn logout(
    store: &Store,
    settings: &Settings,
    request: &Request,
    all: bool,
) -> Result<u64, DescopeError> {
    let (project, token) = project_and_jwt(request)?;
    check_body(request)?;
    let keys = keys_of(store, project, DescopeError::UnknownProject).await?;
    let now = signoff_store::now_epoch_seconds();
    let claims = jwt::VerifyingKeySet::new(&keys).verify(token, project, now)?;
    // The record's expiry is the JWT's: judge it with the same leeway.
    let (record, state) = store
        .lookup_token(project, &TokenHash::of(token), now - jwt::LEEWAY_SECONDS)
        .await?
        .ok_or(DescopeError::LoggedOut)?;
    match state {
        TokenState::Expired => return Err(DescopeError::LoggedOut),
        // Its session or user was logged out, or it was cut off, but the record remains
        // (a logout that failed midway, index lag, a purge not done yet): finishing the
        // revocation is what the caller wants.
        TokenState::Live
        | TokenState::SessionEnded
        | TokenState::UserLoggedOut
        | TokenState::GrantRevoked
        | TokenState::DeviceRevoked
        | TokenState::ClientSubjectCutOff
        | TokenState::ClientCutOff
        | TokenState::TenantCutOff => {}
    }
    if record.token_type != TokenType::Refresh {
        return Err(DescopeError::NotRefreshToken);
    }
    let mut report = DeleteReport::default();
    let mut purge = None;
    if all {
        let user = registered_user(&record, &claims)?;
        let handoff = settings.handoff.as_ref();
        let outcome =
            signoff_queue::log_user_out(store, handoff, project, user, Some(&record.pk())).await?;
        report = outcome.logout.report;
        purge = outcome.purge.map(|job| job.job_id);
    }
    let cascade = Cascade {
        session: true,
        grant: true,
    };
    report.absorb(store.revoke_token(&record, cascade).await?);
    tracing::info!(
        project = %project,
        all,
        deleted = report.deleted,
        index_pages = report.pages,
        batch_calls = report.batch_calls,
        purge = purge.as_deref(),
        "descope logout"
    );
    Ok(report.deleted)
}

/// The user logout-all acts on: the subject the token was registered under, which must
/// be the JWT's user (`dsub`, else `sub`) or its `sub`; the JWT's user if none was
/// registered.
fn registered_user<'a>(
    record: &'a TokenRecord,
    claims: &'a RefreshClaims,
) -> Result<&'a str, DescopeError> {
    match record.subject.as_deref() {
        None => Ok(&claims.user),
        Some(subject) if subject == claims.user || Some(subject) == claims.subject.as_deref() => {
            Ok(subject)
        }
        Some(_) => Err(DescopeError::UserMismatch),
    }
}

/// Descope's JWT response with every field present and empty: the client drops whatever
/// it held.
fn empty_jwt_response() -> Value {
    json!({
        "sessionJwt": "",
        "refreshJwt": "",
        "cookieDomain": "",
        "cookiePath": "",
        "cookieMaxAge": 0,
        "cookieExpiration": 0,
        "user": {
            "loginIds": [],
            "userId": "",
            "name": "",
            "givenName": "",
            "middleName": "",
            "familyName": "",
            "email": "",
            "phone": "",
            "verifiedEmail": false,
            "verifiedPhone": false,
            "roleNames": [],
            "userTenants": [],
            "status": "",
            "externalIds": [],
            "picture": "",
            "test": false,
            "customAttributes": {},
            "createdTime": 0,
            "TOTP": false,
            "SAML": false,
            "OAuth": {},
            "webauthn": false,
            "password": false,
            "ssoAppIds": []
        },
        "firstSeen": false,
        "idpResponse": {},
        "sessionExpiration": 0,
        "externalToken": "",
        "claims": {},
        "tenantSSOID": "",
        "trustedDeviceJwt": "",
        "nextRefreshSeconds": 0,
        "cookieName": "",
        "sessionCookieName": "",
        "sessionCookieDomain": ""
    })
}

/// A `Set-Cookie` value that deletes `name` in every browser: empty, expired at the epoch.
pub fn deletion_cookie(name: &str, domain: Option<&str>) -> String {
    let domain = domain.map(|d| format!("; Domain={d}")).unwrap_or_default();
    format!(
        "{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/{domain}; HttpOnly; Secure; SameSite=Strict"
    )
}

fn logged_out_response(settings: &Settings) -> Response<Body> {
    let mut response = response::json_response(StatusCode::OK, &empty_jwt_response());
    for name in COOKIE_NAMES {
        let cookie = deletion_cookie(name, settings.cookie_domain.as_deref());
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("cookie values are checked at init"),
        );
    }
    response
}

async fn project_jwks(store: &Store, project: &str) -> Result<Response<Body>, DescopeError> {
    let keys = keys_of(store, project, DescopeError::ProjectNotFound).await?;
    let mut response = response::json_response(StatusCode::OK, &json!({ "keys": keys }));
    // Public keys: cacheable, briefly (see KEYS_MAX_AGE_SECONDS).
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={KEYS_MAX_AGE_SECONDS}"))
            .expect("a valid header value"),
    );
    Ok(response)
}

/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]).
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    response::error_response(&DescopeError::MalformedEvent(reason))
}

/// Handles one request. Never fails: every outcome, store trouble included, is a response.
pub async fn handle(
    store: &Store,
    settings: &Settings,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let mut meter = Meter::start();
    let mut logged_out = |deleted: u64| {
        meter.tokens_revoked(deleted);
        logged_out_response(settings)
    };
    let (action, outcome) = match route(ROUTES, &request) {
        Routed::Found {
            endpoint: Endpoint::Logout,
            ..
        } => (
            "descope logout",
            logout(store, settings, &request, false)
                .await
                .map(&mut logged_out),
        ),
        Routed::Found {
            endpoint: Endpoint::LogoutAll,
            ..
        } => (
            "descope logout-all",
            logout(store, settings, &request, true)
                .await
                .map(&mut logged_out),
        ),
        Routed::Found {
            endpoint: Endpoint::ManagementLogout,
            ..
        } => (
            "descope management logout",
            management_logout(store, settings, &request)
                .await
                .map(|deleted| {
                    meter.tokens_revoked(deleted);
                    // Descope's SDKs expect no payload; `{}` is what a JSON client can
                    // parse as one.
                    response::json_response(StatusCode::OK, &json!({}))
                }),
        ),
        Routed::Found {
            endpoint: Endpoint::Keys,
            params,
        } => {
            let project = params.get("projectId").unwrap_or_default();
            ("descope keys", project_jwks(store, project).await)
        }
        Routed::MethodNotAllowed { allow, .. } => {
            ("descope", Err(DescopeError::MethodNotAllowed { allow }))
        }
        Routed::NotFound => ("descope", Err(DescopeError::NotFound)),
    };
    Ok(respond(
        action,
        &request,
        &CorsPolicy::Disabled,
        &meter,
        outcome,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn with_auth(value: &str) -> Request {
        HttpRequest::builder()
            .uri("https://x/v1/auth/logout")
            .header("authorization", value)
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn bearer_splits_on_the_first_colon_and_drops_a_management_key() {
        assert_eq!(
            project_and_jwt(&with_auth("Bearer P1:a.b.c")).unwrap(),
            ("P1", "a.b.c")
        );
        assert_eq!(
            project_and_jwt(&with_auth("Bearer P1:a.b.c:K2xyz")).unwrap(),
            ("P1", "a.b.c")
        );
        for bad in ["Bearer P1", "Bearer :a.b.c", "Bearer P1:", "Basic P1:a.b.c"] {
            assert!(
                matches!(
                    project_and_jwt(&with_auth(bad)),
                    Err(DescopeError::MalformedAuthorization)
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            project_and_jwt(&with_auth("Bearer P#1:a.b.c")),
            Err(DescopeError::UnknownProject)
        ));
    }

    /// Stage prefixes and route keys are the router's (signoff_edge::route's tests).
    #[test]
    fn routes_are_exact() {
        let at = |method: &str, path: &str| {
            let request = HttpRequest::builder()
                .method(method)
                .uri(format!("https://x{path}"))
                .body(Body::Empty)
                .unwrap();
            match signoff_edge::route::route(ROUTES, &request) {
                Routed::Found { endpoint, params } => {
                    Some((endpoint, params.get("projectId").map(str::to_owned)))
                }
                _ => None,
            }
        };
        assert_eq!(
            at("POST", "/v1/auth/logout"),
            Some((Endpoint::Logout, None))
        );
        assert_eq!(
            at("POST", "/v1/auth/logoutall"),
            Some((Endpoint::LogoutAll, None))
        );
        assert_eq!(
            at("GET", "/v2/keys/P1"),
            Some((Endpoint::Keys, Some("P1".into())))
        );
        assert_eq!(at("POST", "/v1/auth/other"), None);
        assert_eq!(at("GET", "/v1/auth/logout"), None);
    }

    #[test]
    fn deletion_cookies() {
        assert_eq!(
            deletion_cookie("DS", None),
            "DS=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; Secure; SameSite=Strict"
        );
        assert!(deletion_cookie("DSR", Some("example.com")).contains("; Domain=example.com;"));
    }
}
