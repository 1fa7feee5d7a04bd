//! Token and device revocation, compatible with NetIQ Access Manager and RFC 7009:
//!
//! - `POST /nidp/oauth/nam/revoke`: NetIQ's endpoint. Revokes a refresh token and every
//!   access token of its grant; an access token is `unsupported_token_type`, as in NetIQ.
//! - `POST /oauth2/revoke`: standard RFC 7009. Revokes access tokens too (just that token);
//!   a refresh token takes its grant's access tokens with it, as above.
//! - `POST /nidp/oauth/nam/revoke/{device_id}`: NetIQ device revocation. Revokes every token
//!   issued to the device for the user named by `userstore_name` and `user_dn`.
//!
//! These paths carry no tenant: a deployment serves the one tenant its configuration names
//! ([`Settings::tenant`]). Bodies are `application/x-www-form-urlencoded`; clients
//! authenticate with `client_id`/`client_secret` in the body or HTTP Basic (RFC 6749 2.3.1).
//! An unknown, expired or already revoked token is a 200, so a caller learns nothing
//! (RFC 7009 2.2). Every failure is an RFC 6749 error body, mapped from [`RevokeError`] in
//! one place, its [`ErrorReply`] implementation.

pub mod global;
pub mod settings;

use crate::settings::{DeviceRevocationAuth, Settings};
use lambda_http::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::oauth::{
    self, ClientCredentials, CredentialsError, Form, FormError, MissingContentType, OAuthErrorBody,
};
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_store::bulk::IndexKey;
use signoff_store::credentials::{ClientAuthentication, ClientRejection};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{self, TokenType, MAX_ID_BYTES, MAX_USER_DN_BYTES};
use signoff_store::revocation::{Cascade, TokenState};
use signoff_store::{Store, StoreError};

/// NetIQ's revocation endpoint (refresh tokens only).
pub const NETIQ_ROUTE: &str = "/nidp/oauth/nam/revoke";
/// NetIQ's device revocation endpoint.
pub const DEVICE_ROUTE: &str = "/nidp/oauth/nam/revoke/{device_id}";
/// The standard RFC 7009 endpoint (access and refresh tokens).
pub const RFC7009_ROUTE: &str = "/oauth2/revoke";
/// Room for a large JWT refresh token, percent-encoded, and the client credentials.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// NetIQ's answers for device revocation, as its clients expect them.
pub const DEVICE_REVOKED: &str = "Successfully revoked token(s) issued to this device.";
pub const NO_DEVICE_TOKENS: &str = "Invalid device ID or no tokens to revoke for this device.";
/// The `WWW-Authenticate` challenge of a failed HTTP Basic client authentication.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"signoff\"";

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    NetIq,
    Rfc7009,
    Device,
    /// A CORS preflight (`OPTIONS`) of any of the three.
    Preflight,
    /// OAuth 2.0 Global Token Revocation ([`global`]).
    Global,
    /// RFC 8414 authorization server metadata.
    Metadata,
}

/// The function's routes, as template.yaml and the local router declare them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::new(Method::POST, NETIQ_ROUTE, Endpoint::NetIq),
    Route::new(Method::OPTIONS, NETIQ_ROUTE, Endpoint::Preflight),
    Route::new(Method::POST, DEVICE_ROUTE, Endpoint::Device),
    Route::new(Method::OPTIONS, DEVICE_ROUTE, Endpoint::Preflight),
    Route::new(Method::POST, RFC7009_ROUTE, Endpoint::Rfc7009),
    Route::new(Method::OPTIONS, RFC7009_ROUTE, Endpoint::Preflight),
    Route::new(Method::POST, global::GLOBAL_ROUTE, Endpoint::Global),
    Route::new(Method::GET, global::METADATA_ROUTE, Endpoint::Metadata),
];

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::NetIq => "netiq",
            Endpoint::Rfc7009 => "rfc7009",
            Endpoint::Device => "netiq-device",
            Endpoint::Preflight => "preflight",
            Endpoint::Global => "global-token-revocation",
            Endpoint::Metadata => "metadata",
        }
    }
}

/// Why a revocation request was not carried out. Displayed in logs only; never shows a
/// token, secret or any parameter value.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("no revocation endpoint at this path")]
    UnknownPath,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed. `description` is what the caller is told; `reason`
    /// (which may say whether the client exists) is for the log only.
    #[error("invalid client: {reason}")]
    InvalidClient {
        basic: bool,
        reason: String,
        description: &'static str,
    },
    #[error("the token was issued to another client")]
    OtherClientsToken,
    #[error("an access token was sent to the NetIQ endpoint, which revokes refresh tokens only")]
    UnsupportedTokenType,
    #[error("no tokens for this device and user")]
    NoDeviceTokens,
    #[error("token store failure")]
    Store(#[from] StoreError),
}

impl RevokeError {
    fn missing_client() -> Self {
        RevokeError::InvalidClient {
            basic: false,
            reason: "no client credentials".to_owned(),
            description: "client authentication is required: send client_id (and client_secret, for a confidential client) in the body, or HTTP Basic credentials",
        }
    }
}

/// The one place that maps failures to statuses and RFC 6749 error bodies.
impl ErrorReply for RevokeError {
    type Body<'a> = OAuthErrorBody<'a>;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> OAuthErrorBody<'_> {
        let (_, error, description) = self.parts();
        OAuthErrorBody {
            error,
            error_description: description,
        }
    }

    signoff_edge::store_and_allow_accessors!();

    fn extra_headers(&self, headers: &mut HeaderMap) {
        // RFC 6749 5.2: a client that tried the Authorization header gets a challenge.
        if let RevokeError::InvalidClient { basic: true, .. } = self {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
    }
}

impl RevokeError {
    /// Status, RFC 6749 error code and description.
    fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            RevokeError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "only POST is allowed (and OPTIONS, for CORS preflights)",
            ),
            RevokeError::UnknownPath => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "no revocation endpoint at this path",
            ),
            RevokeError::InvalidRequest(description) => {
                (StatusCode::BAD_REQUEST, "invalid_request", description)
            }
            RevokeError::InvalidClient {
                basic, description, ..
            } => {
                // RFC 6749 5.2: 401 and a challenge when the client tried the
                // Authorization header, else 400.
                let status = if *basic {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                };
                (status, "invalid_client", description)
            }
            // RFC 6749 5.2: invalid_grant covers a refresh token "issued to another client".
            RevokeError::OtherClientsToken => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the token was not issued to this client; nothing was revoked",
            ),
            RevokeError::UnsupportedTokenType => (
                StatusCode::BAD_REQUEST,
                "unsupported_token_type",
                "this endpoint revokes refresh tokens only; revoke access tokens at /oauth2/revoke",
            ),
            RevokeError::NoDeviceTokens => {
                (StatusCode::NOT_FOUND, "invalid_request", NO_DEVICE_TOKENS)
            }
            RevokeError::Store(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store is busy or unavailable: assume the token still exists and retry the request",
            ),
            RevokeError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the revocation could not be completed because of a server error: assume the token still exists",
            ),
        }
    }
}

impl From<FormError> for RevokeError {
    fn from(err: FormError) -> Self {
        RevokeError::InvalidRequest(err.to_string())
    }
}

impl From<CredentialsError> for RevokeError {
    fn from(err: CredentialsError) -> Self {
        match err {
            CredentialsError::TwoMethods => RevokeError::InvalidRequest(err.to_string()),
            CredentialsError::MalformedBasic | CredentialsError::UnsupportedScheme => {
                RevokeError::InvalidClient {
                    basic: true,
                    reason: err.to_string(),
                    description: match err {
                        CredentialsError::UnsupportedScheme => {
                            "use HTTP Basic client authentication (or client_id and client_secret in the body)"
                        }
                        _ => "the Authorization header is not valid HTTP Basic client credentials",
                    },
                }
            }
        }
    }
}

/// What a successful request did.
enum Revoked {
    /// The token is gone (or never was): RFC 7009's empty 200. Holds the token records
    /// deleted (the token's own and its grant's; 0 if there was nothing to revoke).
    Token(u64),
    /// NetIQ's device answer, with the token records deleted.
    Device(u64),
}

impl Revoked {
    /// Token records deleted.
    fn deleted(&self) -> u64 {
        match self {
            Revoked::Token(deleted) | Revoked::Device(deleted) => *deleted,
        }
    }

    fn into_response(self) -> Response<Body> {
        match self {
            Revoked::Token(_) => {
                let mut response = Response::new(Body::Empty);
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Revoked::Device(_) => {
                response::json_response(StatusCode::OK, &json!({ "status": DEVICE_REVOKED }))
            }
        }
    }
}

/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]).
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    response::error_response(&RevokeError::InvalidRequest(reason.to_string()))
}

/// Handles one request. Never fails: every outcome is a response, with the CORS headers
/// the configuration allows.
pub async fn handle(
    store: &Store,
    config: &Settings,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let mut meter = Meter::start();
    let outcome = match route(ROUTES, &request) {
        Routed::Found {
            endpoint: Endpoint::Preflight,
            ..
        } => return Ok(config.cors.preflight(&request)),
        Routed::Found {
            endpoint: Endpoint::Global,
            ..
        } => {
            // Called by servers, not browsers: no CORS.
            let outcome = global::revoke_globally(store, config, &request).await;
            if let Ok(deleted) = &outcome {
                meter.tokens_revoked(*deleted);
            }
            let outcome = outcome.map(|_| signoff_edge::response::no_content());
            return Ok(respond(
                "global token revocation",
                &request,
                &CorsPolicy::Disabled,
                &meter,
                outcome,
            ));
        }
        Routed::Found {
            endpoint: Endpoint::Metadata,
            ..
        } => {
            let outcome = global::metadata(config, &request)
                .ok_or(global::GlobalRevocationError::NoPublicUrl);
            return Ok(respond(
                "metadata",
                &request,
                &CorsPolicy::Disabled,
                &meter,
                outcome,
            ));
        }
        Routed::Found {
            endpoint: Endpoint::Device,
            params,
        } => {
            let device_id = params.get("device_id").unwrap_or_default();
            revoke_device(store, config, &request, device_id).await
        }
        Routed::Found { endpoint, .. } => revoke_token(store, config, &request, endpoint).await,
        Routed::MethodNotAllowed { allow, .. } => Err(RevokeError::MethodNotAllowed { allow }),
        Routed::NotFound => Err(RevokeError::UnknownPath),
    };
    if let Ok(revoked) = &outcome {
        meter.tokens_revoked(revoked.deleted());
    }
    let outcome = outcome.map(Revoked::into_response);
    Ok(respond(
        "token revocation",
        &request,
        &config.cors,
        &meter,
        outcome,
    ))
}

/// RFC 7009 2.1, on either path: authenticate the client, find the token, check it is the
/// client's, revoke it (a refresh token with its grant).
async fn revoke_token(
    store: &Store,
    config: &Settings,
    request: &Request,
    endpoint: Endpoint,
) -> Result<Revoked, RevokeError> {
    let form = Form::from_request(request, MAX_BODY_BYTES, MissingContentType::Refused)?;
    let credentials = oauth::client_credentials(request, &form)?;
    let token = required(&form, "token")?;
    // `token_type_hint` is accepted and not needed: records are found by the token's hash
    // whatever its type (RFC 7009 2.1 lets a server ignore the hint).
    let credentials = credentials.ok_or_else(RevokeError::missing_client)?;
    authenticate(store, config, &credentials, Require::AnyClient).await?;
    let client_id = credentials.client_id.as_str();

    let now = signoff_store::now_epoch_seconds();
    let found = store
        .lookup_token(&config.tenant, &TokenHash::of(token), now)
        .await?;
    // A record that remains although its session, user, grant or device was already
    // revoked (a revocation that failed midway, or index lag) is revoked again, which
    // finishes the job; an expired one is left to TTL.
    let Some((record, _)) = found.filter(|(_, state)| *state != TokenState::Expired) else {
        tracing::info!(
            endpoint = endpoint.name(),
            client_id,
            "nothing to revoke: the token is unknown, expired or already revoked"
        );
        return Ok(Revoked::Token(0));
    };
    if record.client_id != client_id {
        return Err(RevokeError::OtherClientsToken);
    }
    if endpoint == Endpoint::NetIq && record.token_type == TokenType::Access {
        return Err(RevokeError::UnsupportedTokenType);
    }
    let cascade = Cascade {
        session: false,
        grant: record.token_type == TokenType::Refresh,
    };
    let report = store.revoke_token(&record, cascade).await?;
    tracing::info!(
        endpoint = endpoint.name(),
        client_id,
        token_hash = %record.hash,
        token_type = ?record.token_type,
        deleted = report.deleted,
        batch_calls = report.batch_calls,
        "token revoked"
    );
    Ok(Revoked::Token(report.deleted))
}

/// NetIQ device revocation: every token of the device issued to the named user, through
/// the by-device index and the bulk-delete engine.
async fn revoke_device(
    store: &Store,
    config: &Settings,
    request: &Request,
    device_id: &str,
) -> Result<Revoked, RevokeError> {
    // NetIQ's documented request sends no Content-Type.
    let form = Form::from_request(request, MAX_BODY_BYTES, MissingContentType::ReadAsForm)?;
    let credentials = oauth::client_credentials(request, &form)?;
    let user_store = identifier(&form, "userstore_name", MAX_ID_BYTES)?;
    let user_dn = identifier(&form, "user_dn", MAX_USER_DN_BYTES)?;
    match (&credentials, config.device_auth) {
        // Logging a user out of a device, across every client, takes a client that can
        // prove who it is: a public client's id is no secret.
        (Some(credentials), DeviceRevocationAuth::Client) => {
            authenticate(store, config, credentials, Require::Confidential).await?
        }
        // Credentials that are sent are checked, whatever the policy.
        (Some(credentials), DeviceRevocationAuth::None) => {
            authenticate(store, config, credentials, Require::AnyClient).await?
        }
        (None, DeviceRevocationAuth::Client) => return Err(RevokeError::missing_client()),
        // Without credentials a browser would send this form cross-site on behalf of any
        // page (no preflight): only allowed origins, or no browser at all.
        (None, DeviceRevocationAuth::None) if !config.cors.admits(request) => {
            return Err(RevokeError::InvalidRequest(
                "a cross-origin request without client credentials must come from an allowed origin"
                    .into(),
            ))
        }
        (None, DeviceRevocationAuth::None) => {}
    }
    let key = IndexKey::device_user(&config.tenant, device_id, user_store, user_dn);
    // No token could have been registered under an id or user that fails these checks.
    let registrable = model::check_identifier("device_id", device_id, MAX_ID_BYTES).is_ok()
        && key
            .sort
            .as_ref()
            .is_some_and(|s| s.len() <= model::MAX_SORT_KEY_BYTES);
    if !registrable {
        return Err(RevokeError::NoDeviceTokens);
    }
    let report = store
        .revoke_device(&config.tenant, device_id, user_store, user_dn)
        .await?
        .ok_or(RevokeError::NoDeviceTokens)?;
    tracing::info!(
        endpoint = "netiq-device",
        device_id,
        client_id = credentials.as_ref().map(|c| c.client_id.as_str()),
        deleted = report.deleted,
        index_pages = report.pages,
        batch_calls = report.batch_calls,
        "device tokens revoked"
    );
    Ok(Revoked::Device(report.deleted))
}

/// Which clients an endpoint accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Require {
    AnyClient,
    Confidential,
}

async fn authenticate(
    store: &Store,
    config: &Settings,
    credentials: &ClientCredentials,
    require: Require,
) -> Result<(), RevokeError> {
    let outcome = store
        .authenticate_client(
            &config.tenant,
            &credentials.client_id,
            credentials.client_secret.as_deref(),
        )
        .await?;
    let rejection = match outcome {
        ClientAuthentication::Authenticated { confidential, .. }
            if confidential || require == Require::AnyClient =>
        {
            return Ok(())
        }
        ClientAuthentication::Authenticated { .. } => ClientRejection::PublicClient,
        ClientAuthentication::Rejected(why) => why,
    };
    Err(RevokeError::InvalidClient {
        basic: credentials.basic,
        reason: rejection.to_string(),
        description: "client authentication failed",
    })
}

fn required<'f>(form: &'f Form, name: &str) -> Result<&'f str, RevokeError> {
    form.get(name)
        .ok_or_else(|| RevokeError::InvalidRequest(format!("the '{name}' parameter is required")))
}

/// A required identifier parameter, checked like the registration API checks it.
fn identifier<'f>(form: &'f Form, name: &'static str, max: usize) -> Result<&'f str, RevokeError> {
    let value = required(form, name)?;
    model::check_identifier(name, value, max)
        .map_err(|e| RevokeError::InvalidRequest(e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn at(method: &str, uri: &str) -> Routed<Endpoint> {
        let request = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .body(Body::Empty)
            .unwrap();
        route(ROUTES, &request)
    }

    fn endpoint(routed: Routed<Endpoint>) -> Option<Endpoint> {
        match routed {
            Routed::Found { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// Stage prefixes and route keys are the router's (signoff_edge::route's tests).
    #[test]
    fn requests_are_routed_by_path() {
        let post = |uri| endpoint(at("POST", uri));
        assert_eq!(
            post("https://x/nidp/oauth/nam/revoke"),
            Some(Endpoint::NetIq)
        );
        assert_eq!(post("https://x/oauth2/revoke"), Some(Endpoint::Rfc7009));
        let Routed::Found {
            endpoint: device,
            params,
        } = at("POST", "https://x/nidp/oauth/nam/revoke/dev-1")
        else {
            panic!("the device route")
        };
        assert_eq!(device, Endpoint::Device);
        assert_eq!(params.get("device_id"), Some("dev-1"));
        assert_eq!(
            post("https://x/nidp/oauth/nam/revoke/"),
            Some(Endpoint::NetIq)
        );
        assert_eq!(post("https://x/oauth2/revoke/more"), None);
        assert_eq!(post("https://x/nidp/oauth/nam/token"), None);
        assert_eq!(post("https://x/prod/oauth2/revoke"), None);
        assert_eq!(
            endpoint(at("OPTIONS", "https://x/oauth2/revoke")),
            Some(Endpoint::Preflight)
        );
        assert_eq!(
            at("GET", "https://x/oauth2/revoke"),
            Routed::MethodNotAllowed {
                allow: "OPTIONS, POST".into(),
                params: Default::default(),
            }
        );
    }

    #[test]
    fn error_bodies_never_carry_internal_detail() {
        let response = RevokeError::InvalidClient {
            basic: false,
            reason: "no such client".into(),
            description: "client authentication failed",
        };
        let response = response::error_response(&response);
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("www-authenticate").is_none());
        let Body::Text(text) = response.body() else {
            panic!("a JSON body")
        };
        assert!(!text.contains("no such client"));
    }
}
