//! Token introspection (RFC 7662): may a resource server still accept this token?
//!
//! - `POST /oauth2/introspect`: RFC 7662, and RFC 9701's signed JWT response when the
//!   caller's `Accept` asks for `application/token-introspection+jwt`.
//! - `POST /nidp/oauth/v1/nam/introspect`: NetIQ Access Manager's path, same behaviour.
//! - `GET /.well-known/jwks.json`: the public keys that verify the signed responses (the
//!   current KMS key and, during a rotation, the previous ones), for resource servers and
//!   for the authorization server's metadata (`jwks_uri`).
//! - `GET /signoff/v1/tenants/{tenantId}/statuslists/{listId}`: a tenant's Token Status
//!   List, signed by the same key ([`status_list`]).
//!
//! These paths carry no tenant: a deployment serves the OAuth tenant its configuration
//! names, as revocation does. The caller authenticates as a confidential client of the
//! tenant that an operator allowed to introspect (`signoff-admin allow-introspection`),
//! with HTTP Basic or `client_id`/`client_secret` in the body (RFC 6749 2.3.1). The token is
//! looked up by its hash with every revocation marker honoured ([`Store::lookup_token`]):
//! a live token is `{"active": true, ...}` with the members Signoff knows; anything else
//! (unknown, expired, revoked by any path, of another tenant) is exactly
//! `{"active": false}` (RFC 7662 2.2). Every answer is `Cache-Control: no-store`.
//! Failures are RFC 6749 error bodies, mapped from [`IntrospectError`] in one place.

pub mod authlete;
pub mod settings;
mod status_list;

use lambda_http::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::oauth::{
    self, ClientCredentials, CredentialsError, Form, FormError, MissingContentType, OAuthErrorBody,
};
use signoff_edge::request;
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_jose::{sign_compact, SignError};
use signoff_kms::{KeySet, KmsError};
use signoff_store::credentials::{ClientAuthentication, IntrospectionAccess};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::revocation::{BearerIntrospection, BearerRejection, TokenState};
use signoff_store::{Store, StoreError};

use crate::settings::Settings;

/// The standard RFC 7662 endpoint.
pub const RFC7662_ROUTE: &str = "/oauth2/introspect";
/// NetIQ Access Manager's introspection endpoint.
pub const NETIQ_ROUTE: &str = "/nidp/oauth/v1/nam/introspect";
/// Where Signoff publishes its signing keys.
pub const JWKS_ROUTE: &str = "/.well-known/jwks.json";
/// Where Signoff publishes its Shared Signals transmitter metadata (SSF 1.0 section 7.2).
pub const SSF_CONFIGURATION_ROUTE: &str = "/.well-known/ssf-configuration";
/// RFC 8935 push, the one delivery method Signoff transmits by.
pub const SSF_PUSH_DELIVERY: &str = "urn:ietf:rfc:8935";
/// How long a resource server may cache the key set. A rotation must publish a new key
/// at least this long before it signs with it (docs/introspection.md, "Signing keys").
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=300";
/// Room for a large JWT, percent-encoded, and the client credentials.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// RFC 9701's media type, for the `Accept` that asks for it and the response that is one.
pub const JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";
/// The `WWW-Authenticate` challenge of a failed HTTP Basic client authentication.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"signoff\"";
/// The start of the `WWW-Authenticate` challenge of a refused bearer credential (RFC 6750 3).
pub const BEARER_REALM: &str = "Bearer realm=\"signoff\"";

/// Which endpoint a request is for (they behave alike; the name is for metrics and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Rfc7662,
    NetIq,
    Jwks,
    SsfConfiguration,
    /// Authlete's `/auth/introspection` and `/auth/introspection/standard`.
    Authlete(authlete::Api),
    /// A tenant's Token Status List.
    StatusList,
}

/// The function's routes, as template.yaml and the local router declare them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::new(Method::POST, RFC7662_ROUTE, Endpoint::Rfc7662),
    Route::new(Method::POST, NETIQ_ROUTE, Endpoint::NetIq),
    Route::new(Method::GET, JWKS_ROUTE, Endpoint::Jwks),
    Route::new(
        Method::GET,
        SSF_CONFIGURATION_ROUTE,
        Endpoint::SsfConfiguration,
    ),
    Route::new(
        Method::POST,
        authlete::INTROSPECTION_ROUTE,
        Endpoint::Authlete(authlete::Api::ResourceServer),
    ),
    Route::new(
        Method::POST,
        authlete::STANDARD_ROUTE,
        Endpoint::Authlete(authlete::Api::Standard),
    ),
    Route::new(
        Method::GET,
        signoff_edge::status_list::ROUTE,
        Endpoint::StatusList,
    ),
];

/// Why an introspection request was not answered. Displayed in logs only; never shows a
/// token, secret or any parameter value.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("no introspection endpoint at this path")]
    UnknownPath,
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Client authentication failed or was missing. `reason` is for the log only.
    #[error("invalid client: {reason}")]
    InvalidClient { basic: bool, reason: String },
    /// A bearer credential that is not a live access token of a known client.
    #[error("invalid bearer token: {reason}")]
    InvalidBearer { reason: String },
    /// A live bearer token without the introspection scope.
    #[error("the bearer token lacks the scope {scope}")]
    InsufficientScope { scope: String },
    /// An authenticated client an operator has not allowed to introspect.
    #[error("client not allowed to introspect")]
    NotAllowed,
    /// A JWT response was asked for and this deployment has no signing key.
    #[error("a JWT response was asked for and no signing key is configured")]
    JwtUnavailable,
    /// The key set was asked for and this deployment has no signing key.
    #[error("no signing key is configured")]
    NoKeys,
    /// Metadata was asked for and neither SIGNOFF_PUBLIC_BASE_URL nor API Gateway names
    /// the URL this deployment is reached at.
    #[error("no public base URL is known")]
    NoPublicUrl,
    /// No such status list: not a list the tenant has, or this deployment serves none.
    #[error("no such status list")]
    NoStatusList,
    /// Another instance is building the list and none is kept yet.
    #[error("the status list is being built")]
    StatusListBuilding,
    #[error("signing the response failed")]
    Signing(#[source] SignError),
    #[error("token store failure")]
    Store(#[from] StoreError),
}

/// The one place that maps failures to statuses and RFC 6749 error bodies.
impl ErrorReply for IntrospectError {
    type Body<'a> = OAuthErrorBody<'a>;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> OAuthErrorBody<'_> {
        let (_, error, error_description) = self.parts();
        OAuthErrorBody {
            error,
            error_description,
        }
    }

    signoff_edge::store_and_allow_accessors!();

    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IntrospectError::Signing(err) => Some(err),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            IntrospectError::Signing(err) => err.is_retryable(),
            IntrospectError::Store(err) => err.is_retryable(),
            IntrospectError::StatusListBuilding => true,
            _ => false,
        }
    }

    fn extra_headers(&self, headers: &mut HeaderMap) {
        // RFC 7662 2.3 and RFC 6749 5.2: a failed client authentication is a 401 with a
        // challenge naming the scheme the endpoint takes.
        let challenge = match self {
            IntrospectError::InvalidClient { .. } => BASIC_CHALLENGE.to_owned(),
            IntrospectError::InvalidBearer { .. } => {
                format!("{BEARER_REALM}, error=\"invalid_token\"")
            }
            IntrospectError::InsufficientScope { scope } => {
                format!("{BEARER_REALM}, error=\"insufficient_scope\", scope=\"{scope}\"")
            }
            _ => return,
        };
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
    }
}

impl IntrospectError {
    /// Status, RFC 6749 error code and description.
    fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            IntrospectError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "this method is not allowed here: see the Allow header",
            ),
            IntrospectError::UnknownPath => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "no introspection endpoint at this path",
            ),
            IntrospectError::InvalidRequest(description) => {
                (StatusCode::BAD_REQUEST, "invalid_request", description)
            }
            // RFC 7662 2.3: a protected resource whose credentials are invalid gets a 401,
            // whichever way it sent them, never an `active: false`.
            IntrospectError::InvalidClient { .. } => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed: send the resource server's client_id and client_secret by HTTP Basic or in the body",
            ),
            // RFC 7662 2.3 and RFC 6750 3.1: a bearer token that is no good is a 401
            // with a Bearer challenge.
            IntrospectError::InvalidBearer { .. } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the bearer token is not a live access token of a resource server",
            ),
            IntrospectError::InsufficientScope { .. } => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the bearer token does not carry the introspection scope",
            ),
            // The caller is known but may not ask: 403, as RFC 6750 3.1 answers a token
            // without the privileges a request needs.
            IntrospectError::NotAllowed => (
                StatusCode::FORBIDDEN,
                "unauthorized_client",
                "this client is not allowed to introspect tokens (an operator allows it with signoff-admin allow-introspection)",
            ),
            IntrospectError::NoKeys => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "this deployment signs nothing, so it publishes no keys",
            ),
            IntrospectError::NoPublicUrl => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "this deployment does not know its public URL (SIGNOFF_PUBLIC_BASE_URL)",
            ),
            IntrospectError::NoStatusList => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "there is no such status list: its URI comes from a token's status claim",
            ),
            IntrospectError::StatusListBuilding => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the status list is being built: retry the request",
            ),
            IntrospectError::JwtUnavailable => (
                StatusCode::NOT_ACCEPTABLE,
                "invalid_request",
                "this deployment does not sign introspection responses: accept application/json",
            ),
            IntrospectError::Signing(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the signing key is busy or unavailable: retry the request",
            ),
            IntrospectError::Signing(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the response could not be signed because of a server error",
            ),
            IntrospectError::Store(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store is busy or unavailable: retry the request",
            ),
            IntrospectError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be looked up because of a server error",
            ),
        }
    }
}

impl From<FormError> for IntrospectError {
    fn from(err: FormError) -> Self {
        IntrospectError::InvalidRequest(err.to_string())
    }
}

impl From<CredentialsError> for IntrospectError {
    fn from(err: CredentialsError) -> Self {
        match err {
            CredentialsError::TwoMethods => IntrospectError::InvalidRequest(err.to_string()),
            CredentialsError::MalformedBasic | CredentialsError::UnsupportedScheme => {
                IntrospectError::InvalidClient {
                    basic: true,
                    reason: err.to_string(),
                }
            }
        }
    }
}

impl From<KmsError> for IntrospectError {
    fn from(err: KmsError) -> Self {
        IntrospectError::Signing(err.into())
    }
}

/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]).
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    response::error_response(&IntrospectError::InvalidRequest(reason.to_string()))
}

/// Handles one request. Never fails: every outcome is a response.
pub async fn handle(
    store: &Store,
    settings: &Settings,
    keys: Option<&KeySet>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let meter = Meter::start();
    let outcome = match route(ROUTES, &request) {
        Routed::Found {
            endpoint: Endpoint::Authlete(api),
            params,
        } => {
            let service_id = params.get("serviceId").unwrap_or_default();
            let outcome = match api {
                authlete::Api::ResourceServer => {
                    authlete::introspection(store, &request, service_id).await
                }
                authlete::Api::Standard => {
                    authlete::standard(store, settings, keys, &request, service_id).await
                }
            };
            return Ok(respond_authlete(&request, &meter, api, &params, outcome));
        }
        Routed::MethodNotAllowed { allow, params } if params.get("serviceId").is_some() => {
            // Of the paths with a service id, only Authlete's standard API ends so.
            let api = if request.uri().path().ends_with("/standard") {
                authlete::Api::Standard
            } else {
                authlete::Api::ResourceServer
            };
            let outcome = Err(authlete::AuthleteError::MethodNotAllowed { allow });
            return Ok(respond_authlete(&request, &meter, api, &params, outcome));
        }
        Routed::Found {
            endpoint: Endpoint::Jwks,
            ..
        } => jwks(keys).await,
        Routed::Found {
            endpoint: Endpoint::SsfConfiguration,
            ..
        } => ssf_configuration(settings, keys, &request),
        Routed::Found {
            endpoint: Endpoint::StatusList,
            params,
        } => {
            let outcome = status_list::serve(
                store,
                &settings.status_lists,
                keys,
                &request,
                params.get("tenantId").unwrap_or_default(),
                params.get("listId").unwrap_or_default(),
            )
            .await;
            // Public, and readable by browser apps whatever their origin: `*` on every
            // answer, errors included, so nothing varies by Origin.
            let mut response = respond(
                "status list",
                &request,
                &CorsPolicy::Disabled,
                &meter,
                outcome,
            );
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            return Ok(response);
        }
        Routed::Found { .. } => introspect(store, settings, keys, &request).await,
        Routed::MethodNotAllowed { allow, .. } => Err(IntrospectError::MethodNotAllowed { allow }),
        Routed::NotFound => Err(IntrospectError::UnknownPath),
    };
    Ok(respond(
        "token introspection",
        &request,
        &CorsPolicy::Disabled,
        &meter,
        outcome,
    ))
}

/// [`respond`] for Authlete's APIs, whose failures name the path with its service id.
fn respond_authlete(
    request: &Request,
    meter: &Meter,
    api: authlete::Api,
    params: &signoff_edge::route::PathParams,
    outcome: Result<Response<Body>, authlete::AuthleteError>,
) -> Response<Body> {
    let template = match api {
        authlete::Api::ResourceServer => authlete::INTROSPECTION_ROUTE,
        authlete::Api::Standard => authlete::STANDARD_ROUTE,
    };
    let path = template.replace("{serviceId}", params.get("serviceId").unwrap_or_default());
    let outcome = outcome.map_err(|error| authlete::Failure { api, path, error });
    respond(
        "Authlete token introspection",
        request,
        &CorsPolicy::Disabled,
        meter,
        outcome,
    )
}

/// The Shared Signals transmitter metadata (SSF 1.0 section 7.1): the issuer of the SETs
/// the back-channel delivery pushes (`SIGNOFF_SSF_ISSUER`, which section 7.2 requires to be
/// the URL this document is served under: by default the public base URL), the keys that
/// verify them, push as the delivery method, and `tenant` as a member of a complex subject
/// that a receiver must understand (a SET of one tenant must never be taken for another's
/// user of the same id). Streams are configured by an operator (`signoff-admin
/// ssf-receiver`), so no management endpoints are named. Without a signing key nothing is
/// transmitted: 404.
fn ssf_configuration(
    settings: &Settings,
    keys: Option<&KeySet>,
    request: &Request,
) -> Result<Response<Body>, IntrospectError> {
    keys.ok_or(IntrospectError::NoKeys)?;
    let base = request::public_base_url(settings.status_lists.public_base_url.as_deref(), request)
        .ok_or(IntrospectError::NoPublicUrl)?;
    let issuer = settings.ssf_issuer.clone().unwrap_or_else(|| base.clone());
    let document = json!({
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": format!("{base}{JWKS_ROUTE}"),
        "delivery_methods_supported": [SSF_PUSH_DELIVERY],
        "critical_subject_members": ["tenant"],
    });
    let mut response = response::json_response(StatusCode::OK, &document);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_CACHE_CONTROL),
    );
    Ok(response)
}

/// The published key set (RFC 7517 5), fetched from KMS on first use.
async fn jwks(keys: Option<&KeySet>) -> Result<Response<Body>, IntrospectError> {
    let keys = keys.ok_or(IntrospectError::NoKeys)?;
    let mut response =
        response::json_response(StatusCode::OK, &json!({ "keys": keys.jwks().await? }));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_CACHE_CONTROL),
    );
    Ok(response)
}

/// RFC 7662 2.1: authenticate the caller, look the token up, describe it.
async fn introspect(
    store: &Store,
    settings: &Settings,
    keys: Option<&KeySet>,
    request: &Request,
) -> Result<Response<Body>, IntrospectError> {
    let form = Form::from_request(request, MAX_BODY_BYTES, MissingContentType::Refused)?;
    let bearer = bearer_credential(request);
    let credentials = match bearer {
        // RFC 6749 2.3: one way of authenticating per request.
        Some(_) if form.get("client_secret").is_some() => {
            return Err(CredentialsError::TwoMethods.into())
        }
        Some(_) => None,
        None => oauth::client_credentials(request, &form)?,
    };
    let token = form.get("token").ok_or_else(|| {
        IntrospectError::InvalidRequest("the 'token' parameter is required".into())
    })?;
    // `token_type_hint` is accepted and not needed: a token is found by its hash whatever
    // its type (RFC 7662 2.1 lets a server ignore the hint).
    let wants_jwt = accepts_jwt(request.headers());
    let now = signoff_store::now_epoch_seconds();
    let token_hash = TokenHash::of(token);
    let (caller, access, found) = match (bearer, credentials) {
        (Some(bearer), _) => {
            match store
                .introspect_as_bearer(
                    &settings.tenant,
                    &TokenHash::of(bearer),
                    &token_hash,
                    &settings.introspection_scope,
                    now,
                )
                .await?
            {
                BearerIntrospection::Answered {
                    client_id,
                    access,
                    token,
                } => (client_id, access, token.map(|found| *found)),
                BearerIntrospection::Rejected(BearerRejection::InsufficientScope) => {
                    return Err(IntrospectError::InsufficientScope {
                        scope: settings.introspection_scope.clone(),
                    })
                }
                BearerIntrospection::Rejected(BearerRejection::NotAllowed) => {
                    return Err(IntrospectError::NotAllowed)
                }
                BearerIntrospection::Rejected(why @ BearerRejection::InvalidToken) => {
                    return Err(IntrospectError::InvalidBearer {
                        reason: why.to_string(),
                    })
                }
            }
        }
        (None, None) => {
            return Err(IntrospectError::InvalidClient {
                basic: false,
                reason: "no client credentials".into(),
            })
        }
        (None, Some(credentials)) => {
            let access = authenticate(store, settings, &credentials).await?;
            let found = store
                .lookup_token(&settings.tenant, &token_hash, now)
                .await?;
            (credentials.client_id, access, found)
        }
    };
    // Only a caller allowed to introspect learns whether this deployment signs.
    if wants_jwt && keys.is_none() {
        return Err(IntrospectError::JwtUnavailable);
    }
    // RFC 7662 4: a token not meant for this resource server is inactive to it.
    let members = match found {
        Some((record, TokenState::Live)) if access.may_see(&record.audience) => {
            active_members(&record, &settings.issuer)
        }
        _ => inactive(),
    };
    let caller = caller.as_str();
    let mut response = match keys {
        Some(keys) if wants_jwt => {
            let jwt = signed_response(keys, &settings.issuer, caller, now, members)
                .await
                .map_err(IntrospectError::Signing)?;
            let mut response = Response::new(Body::Text(jwt));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(JWT_MEDIA_TYPE),
            );
            response
        }
        _ => response::json_response(StatusCode::OK, &Value::Object(members)),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The bearer token of `Authorization: Bearer <token>`, if that is how the caller
/// authenticates (NetIQ's second method: an access token of the resource server's own).
fn bearer_credential(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticates a resource server by its client credentials: what it may introspect.
async fn authenticate(
    store: &Store,
    settings: &Settings,
    credentials: &ClientCredentials,
) -> Result<IntrospectionAccess, IntrospectError> {
    let rejected = |reason: String| IntrospectError::InvalidClient {
        basic: credentials.basic,
        reason,
    };
    match store
        .authenticate_client(
            &settings.tenant,
            &credentials.client_id,
            credentials.client_secret.as_deref(),
        )
        .await?
    {
        ClientAuthentication::Authenticated {
            confidential: true,
            introspection: IntrospectionAccess::Denied,
        } => Err(IntrospectError::NotAllowed),
        ClientAuthentication::Authenticated {
            confidential: true,
            introspection,
        } => Ok(introspection),
        ClientAuthentication::Authenticated { .. } => Err(rejected(
            "a public client cannot authenticate a resource server".into(),
        )),
        ClientAuthentication::Rejected(why) => Err(rejected(why.to_string())),
    }
}

/// Exactly `{"active": false}`: RFC 7662 2.2 says nothing more about an inactive token,
/// and RFC 9701 5 forbids anything more.
pub(crate) fn inactive() -> Map<String, Value> {
    let mut members = Map::new();
    members.insert("active".into(), Value::Bool(false));
    members
}

/// RFC 7662 2.2's members for a live token, as far as Signoff knows them.
pub fn active_members(record: &TokenRecord, issuer: &str) -> Map<String, Value> {
    let mut members = Map::new();
    members.insert("active".into(), Value::Bool(true));
    members.insert("client_id".into(), json!(record.client_id));
    // RFC 7662 2.2 takes token_type from RFC 6749 7.1 (the access token's type): Signoff
    // records bearer access tokens. A refresh token has no such type; it is named as
    // RFC 7009's token_type_hint names it. docs/introspection.md lists the choice.
    let token_type = match record.token_type {
        TokenType::Access => "Bearer",
        TokenType::Refresh => "refresh_token",
    };
    members.insert("token_type".into(), json!(token_type));
    members.insert("exp".into(), json!(record.expires_at));
    members.insert("iat".into(), json!(record.issued_at));
    members.insert("iss".into(), json!(issuer));
    if let Some(subject) = &record.subject {
        members.insert("sub".into(), json!(subject));
    }
    if let Some(scope) = &record.scope {
        members.insert("scope".into(), json!(scope));
    }
    match record.audience.as_slice() {
        [] => {}
        [one] => {
            members.insert("aud".into(), json!(one));
        }
        many => {
            members.insert("aud".into(), json!(many));
        }
    }
    if let Some(session) = &record.session_id {
        members.insert("sid".into(), json!(session));
    }
    members
}

/// Whether `Accept` asks for RFC 9701's JWT (a media range naming it with a non-zero
/// quality). `application/json` or no `Accept` gets the JSON answer.
pub fn accepts_jwt(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_jwt_value)
}

/// [`accepts_jwt`] for one `Accept` value (as Authlete's API relays it).
pub fn accepts_jwt_value(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            name.trim().eq_ignore_ascii_case("q")
                && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case(JWT_MEDIA_TYPE) && !refused
    })
}

/// RFC 9701 5: a JWT with `iss`, `aud` (the caller), `iat` and `token_introspection`,
/// typed `token-introspection+jwt`, signed by the KMS key.
async fn signed_response(
    keys: &KeySet,
    issuer: &str,
    audience: &str,
    now: i64,
    members: Map<String, Value>,
) -> Result<String, SignError> {
    let signer = keys.signer().await?;
    let claims = json!({
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "token_introspection": members,
    });
    let header = json!({"typ": "token-introspection+jwt"});
    sign_compact(signer, &header, &claims).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn a_signing_failure_is_a_dependency_failure_not_a_refusal() {
        use signoff_edge::metrics::Outcome;
        let failure = |retryable| {
            IntrospectError::Signing(SignError::Signer {
                retryable,
                source: std::sync::Arc::new(std::io::Error::other("KMS said no")),
            })
        };
        for (retryable, status) in [(true, 503), (false, 500)] {
            let err = failure(retryable);
            assert!(err.dependency_error().is_some());
            assert_eq!(err.retryable(), retryable);
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(
                response::outcome_of::<(), _>(&Err(err)),
                Outcome::StoreError
            );
        }
        assert_eq!(
            response::outcome_of::<(), _>(&Err(IntrospectError::NotAllowed)),
            Outcome::Refused
        );
    }

    #[test]
    fn the_jwt_is_sent_only_when_accept_asks_for_it() {
        assert!(!accepts_jwt(&accept(&[])));
        assert!(!accepts_jwt(&accept(&["application/json"])));
        assert!(!accepts_jwt(&accept(&["*/*"])));
        assert!(accepts_jwt(&accept(&[
            "application/token-introspection+jwt"
        ])));
        assert!(accepts_jwt(&accept(&[
            "application/json;q=0.5, Application/Token-Introspection+JWT"
        ])));
        assert!(accepts_jwt(&accept(&[
            "application/json",
            "application/token-introspection+jwt;q=0.9"
        ])));
        assert!(!accepts_jwt(&accept(&[
            "application/token-introspection+jwt;q=0"
        ])));
        assert!(!accepts_jwt(&accept(&[
            "application/token-introspection+jwt; Q = 0.0"
        ])));
        assert!(!accepts_jwt(&accept(&[
            "application/token-introspection+jwtx"
        ])));
    }
}
