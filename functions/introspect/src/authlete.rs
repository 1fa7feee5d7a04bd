//! Authlete's introspection APIs, for resource servers and authorization servers built on
//! Authlete's SDKs:
//!
//! - `POST /api/{serviceId}/auth/introspection`: "may this resource server accept this
//!   access token for this request?", answered with an `action` (OK, BAD_REQUEST,
//!   UNAUTHORIZED, FORBIDDEN, INTERNAL_SERVER_ERROR) and the `WWW-Authenticate` value the
//!   resource server returns (`responseContent`).
//! - `POST /api/{serviceId}/auth/introspection/standard`: the RFC 7662 answer an
//!   authorization server relays from its own introspection endpoint, as JSON or (RFC 9701)
//!   a signed JWT, in `responseContent`.
//!
//! The caller authenticates with a service or organization credential, as on
//! `/nativesso/logout`. Every answer about a token is HTTP 200 with an `action`, as
//! Authlete's SDKs expect (they raise on any other status); HTTP errors are kept for
//! requests an SDK cannot produce (an unreadable body, a refused credential) and for store
//! trouble, which is retryable. Codes Authlete documents are used as they are (A056001,
//! A064302, A145001); the others follow its scheme and are listed in docs/introspection.md.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use signoff_edge::authlete::{client_number, credential_refusal, result_message, sentence};
use signoff_edge::oauth::Form;
use signoff_edge::request::{self, AuthError, BodyError};
use signoff_edge::response::{self, ErrorReply};
use signoff_jose::SignError;
use signoff_kms::KeySet;
use signoff_store::item_key::TokenHash;
use signoff_store::model::{check_scope, TokenRecord, TokenType};
use signoff_store::revocation::TokenState;
use signoff_store::{Store, StoreError};

use crate::settings::Settings;

/// Authlete's resource-server introspection API.
pub const INTROSPECTION_ROUTE: &str = "/api/{serviceId}/auth/introspection";
/// Authlete's RFC 7662 helper for authorization servers.
pub const STANDARD_ROUTE: &str = "/api/{serviceId}/auth/introspection/standard";
/// The SDK's request is a token and a few short fields (a client certificate at most).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The `responseContent` of an OK result: Authlete's, verbatim (a resource server does not
/// send it, since it serves the request).
pub const OK_CHALLENGE: &str = "Bearer error=\"invalid_request\"";

/// Which of the two APIs a request is for; they differ in code family and answer shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `/auth/introspection` (codes A054xxx-A065xxx).
    ResourceServer,
    /// `/auth/introspection/standard` (codes A145xxx).
    Standard,
}

/// Why a request got no `action` at all: an HTTP error in Authlete's shape.
#[derive(Debug, thiserror::Error)]
pub enum AuthleteError {
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// The API credential was refused (never [`AuthError::Store`]).
    #[error("API credential refused: {0}")]
    Credential(AuthError),
    #[error("unreadable request body: {0}")]
    Body(BodyError),
    #[error("token store failure")]
    Store(#[from] StoreError),
    #[error("signing the response failed")]
    Signing(#[source] SignError),
}

impl From<AuthError> for AuthleteError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => AuthleteError::Store(e),
            refused => AuthleteError::Credential(refused),
        }
    }
}

impl From<BodyError> for AuthleteError {
    fn from(err: BodyError) -> Self {
        AuthleteError::Body(err)
    }
}

/// A failed request to `path` (the API path with the service id, as messages name it).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    pub api: Api,
    pub path: String,
    pub error: AuthleteError,
}

/// The body of an HTTP error: Authlete's `resultCode` and `resultMessage`, with the
/// `action` and `responseContent` a caller that reads them anyway should act on.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    result_code: &'static str,
    result_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_content: Option<String>,
}

/// The one place that maps these failures to statuses and codes.
impl ErrorReply for Failure {
    type Body<'a> = ErrorBody;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> ErrorBody {
        let (_, code, action, text) = self.parts();
        let message = result_message(code, &format!("{}, {text}", self.path));
        // What the resource server (a challenge) or the authorization server (an RFC 6749
        // error body) should pass on, for callers that act on `action` whatever the status.
        let response_content = action.map(|action| {
            let error = match action {
                "BAD_REQUEST" => "invalid_request",
                _ => "server_error",
            };
            match self.api {
                Api::ResourceServer => challenge(error, &message, None),
                Api::Standard => error_json(error, &message),
            }
        });
        ErrorBody {
            result_code: code,
            result_message: message,
            action,
            response_content,
        }
    }

    fn store_error(&self) -> Option<&StoreError> {
        match &self.error {
            AuthleteError::Store(err) => Some(err),
            _ => None,
        }
    }

    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.error {
            AuthleteError::Signing(err) => Some(err),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        match &self.error {
            AuthleteError::Store(err) => err.is_retryable(),
            AuthleteError::Signing(err) => err.is_retryable(),
            _ => false,
        }
    }

    fn allow(&self) -> Option<&str> {
        match &self.error {
            AuthleteError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }
}

impl Failure {
    /// Status, code, action and text. Refused credentials carry no `action`, as in
    /// Authlete's shared error bodies.
    fn parts(&self) -> (StatusCode, &'static str, Option<&'static str>, String) {
        const BAD_REQUEST: Option<&str> = Some("BAD_REQUEST");
        const SERVER: Option<&str> = Some("INTERNAL_SERVER_ERROR");
        let rs = self.api == Api::ResourceServer;
        let pick = |resource_server: &'static str, standard: &'static str| {
            if rs {
                resource_server
            } else {
                standard
            }
        };
        match &self.error {
            AuthleteError::Credential(err) => {
                let (status, code, text) = credential_refusal(err).unwrap_or((
                    StatusCode::UNAUTHORIZED,
                    "A001203",
                    "The access token is invalid.",
                ));
                (status, code, None, text.to_owned())
            }
            AuthleteError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                pick("A054210", "A145210"),
                BAD_REQUEST,
                "Only POST is allowed.".to_owned(),
            ),
            AuthleteError::Body(err) => {
                let status = match err {
                    BodyError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    BodyError::Malformed | BodyError::NotAnObject => StatusCode::BAD_REQUEST,
                };
                let code = match err {
                    BodyError::Malformed => pick("A054206", "A145206"),
                    BodyError::NotAnObject => pick("A054207", "A145207"),
                    BodyError::UnsupportedMediaType => pick("A054208", "A145208"),
                    BodyError::TooLarge { .. } => pick("A054209", "A145209"),
                };
                (status, code, BAD_REQUEST, sentence(&err.to_string()))
            }
            AuthleteError::Store(err) if err.is_retryable() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                pick("A054101", "A145101"),
                SERVER,
                "The token store is temporarily unavailable; retry the request.".to_owned(),
            ),
            AuthleteError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                pick("A054102", "A145102"),
                SERVER,
                "The token could not be looked up because of a server error.".to_owned(),
            ),
            AuthleteError::Signing(err) if err.is_retryable() => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "A145103",
                SERVER,
                "The signing key is temporarily unavailable; retry the request.".to_owned(),
            ),
            AuthleteError::Signing(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "A145104",
                SERVER,
                "The response could not be signed because of a server error.".to_owned(),
            ),
        }
    }
}

/// An RFC 6750 3 `WWW-Authenticate` value. `description` and `scope` are made of
/// characters that need no escaping but `"` and `\`, which are escaped (RFC 9110 5.6.4).
pub fn challenge(error: &str, description: &str, scope: Option<&str>) -> String {
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut value = format!(
        "Bearer error=\"{error}\",error_description=\"{}\"",
        quoted(description)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(",scope=\"{}\"", quoted(scope)));
    }
    value
}

fn error_json(error: &str, description: &str) -> String {
    serde_json::json!({"error": error, "error_description": description}).to_string()
}

/// The answer of `/auth/introspection`, with the members Authlete's SDKs read. Booleans,
/// `clientId` and `expiresAt` are always present (0 or false when unknown), as Authlete's
/// own responses have them; the others only when known.
#[derive(Serialize, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntrospectionResult {
    pub result_code: &'static str,
    pub result_message: String,
    pub action: &'static str,
    pub response_content: String,
    pub existent: bool,
    pub usable: bool,
    pub sufficient: bool,
    pub refreshable: bool,
    /// Authlete's client number: the client id when it is one, else 0 with the id in
    /// `clientIdAlias`.
    pub client_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_alias: Option<String>,
    pub client_id_alias_used: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Milliseconds since the epoch, as Authlete reports it.
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

/// What a resource server asks of the token, from the request body. Fields Authlete's SDK
/// sends that bind a token to a key (`dpop`, `htm`, `htu`, `clientCertificate`, message
/// signatures) are read and ignored: Signoff records no binding, so no token it knows is
/// bound. Requirements Signoff cannot check (`acrValues`, `maxAge`) are refused rather
/// than ignored, so that no caller believes they were enforced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    pub token: String,
    pub scopes: Vec<String>,
    pub subject: Option<String>,
    pub resources: Vec<String>,
}

/// A request the resource server must refuse: the `BAD_REQUEST` result's code and text.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest {
    pub code: &'static str,
    pub text: String,
}

fn bad(code: &'static str, text: impl Into<String>) -> BadRequest {
    BadRequest {
        code,
        text: text.into(),
    }
}

/// Reads `/auth/introspection`'s body. JSON `null` is the same as an absent field (the SDK
/// sends every field), and `maxAge: 0` means no maximum.
pub fn requirements(body: Option<Map<String, Value>>) -> Result<Requirements, BadRequest> {
    let mut body = body.unwrap_or_default();
    let mut take = |name: &str| body.remove(name).filter(|v| !v.is_null());
    let token = match take("token") {
        None => {
            return Err(bad(
                "A054201",
                "The request does not contain the required 'token' parameter.",
            ))
        }
        Some(Value::String(t)) if t.is_empty() => {
            return Err(bad("A054201", "The 'token' parameter is empty."))
        }
        Some(Value::String(t)) => t,
        Some(_) => return Err(bad("A054202", "The 'token' parameter must be a string.")),
    };
    let scopes = string_list(take("scopes"), "scopes", "A054203")?;
    if let Some(scope) = scopes
        .iter()
        .find(|s| s.contains(' ') || check_scope(s).is_err())
    {
        return Err(bad(
            "A054203",
            format!(
                "Each entry of 'scopes' must be one scope token (RFC 6749 3.3); {:?} is not.",
                truncate(scope)
            ),
        ));
    }
    let subject = match take("subject") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("A054204", "The 'subject' parameter must be a string.")),
    };
    let resources = string_list(take("resources"), "resources", "A054205")?;
    if !string_list(take("acrValues"), "acrValues", "A054211")?.is_empty() {
        return Err(bad(
            "A054211",
            "Signoff does not record how a user authenticated, so 'acrValues' cannot be checked; send null.",
        ));
    }
    match take("maxAge") {
        None => {}
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_u64() == Some(0) => {}
        Some(_) => {
            return Err(bad(
                "A054212",
                "Signoff does not record when a user authenticated, so 'maxAge' cannot be checked; send 0 or null.",
            ))
        }
    }
    Ok(Requirements {
        token,
        scopes,
        subject,
        resources,
    })
}

fn string_list(
    value: Option<Value>,
    name: &str,
    code: &'static str,
) -> Result<Vec<String>, BadRequest> {
    let not_strings = || {
        bad(
            code,
            format!("The '{name}' parameter must be an array of strings."),
        )
    };
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(not_strings()),
            })
            .collect(),
        Some(_) => Err(not_strings()),
    }
}

/// A caller's value, shortened for a message.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The verdict on a looked-up token against the resource server's requirements.
pub fn verdict(
    found: Option<(TokenRecord, TokenState)>,
    wanted: &Requirements,
) -> IntrospectionResult {
    // Authlete's resource-server API introspects access tokens: a refresh token presented
    // as one does not exist for it (and must not be accepted by a resource server).
    let found = found.filter(|(record, _)| record.token_type == TokenType::Access);
    let Some((record, state)) = found else {
        return rejected("A064301", "The access token does not exist.", false);
    };
    let mut result = described(&record);
    if state == TokenState::Expired {
        let text = "The access token has expired.";
        return IntrospectionResult {
            existent: true,
            ..outcome(
                result,
                "UNAUTHORIZED",
                "A065302",
                text,
                "invalid_token",
                None,
            )
        };
    }
    if state != TokenState::Live {
        // Revoked by any path: Authlete deletes a revoked token, so it no longer exists.
        return rejected("A064301", "The access token does not exist.", false);
    }
    result.existent = true;
    result.usable = true;
    let granted: Vec<&str> = record.scope.as_deref().unwrap_or("").split(' ').collect();
    if let Some(missing) = wanted
        .scopes
        .iter()
        .find(|s| !granted.contains(&s.as_str()))
    {
        let text = format!("The access token does not cover the required scope '{missing}'.");
        let scope = wanted.scopes.join(" ");
        return outcome(
            result,
            "FORBIDDEN",
            "A064302",
            &text,
            "insufficient_scope",
            Some(&scope),
        );
    }
    if let Some(subject) = &wanted.subject {
        if record.subject.as_deref() != Some(subject.as_str()) {
            let text = "The subject associated with the access token is different from the subject contained in the request.";
            return outcome(
                result,
                "FORBIDDEN",
                "A064303",
                text,
                "invalid_request",
                None,
            );
        }
    }
    if let Some(resource) = wanted
        .resources
        .iter()
        .find(|r| !record.audience.contains(r))
    {
        let text = format!(
            "The access token is not meant for the resource '{}'.",
            truncate(resource)
        );
        return outcome(
            result,
            "FORBIDDEN",
            "A064304",
            &text,
            "invalid_request",
            None,
        );
    }
    result.sufficient = true;
    IntrospectionResult {
        result_code: "A056001",
        result_message: result_message("A056001", "The access token is valid."),
        action: "OK",
        response_content: OK_CHALLENGE.to_owned(),
        ..result
    }
}

/// The members every answer about a found access token carries.
fn described(record: &TokenRecord) -> IntrospectionResult {
    let numeric = client_number(&record.client_id);
    IntrospectionResult {
        client_id: numeric.unwrap_or(0),
        client_id_alias: numeric.is_none().then(|| record.client_id.clone()),
        client_id_alias_used: numeric.is_none(),
        subject: record.subject.clone(),
        scopes: record
            .scope
            .as_deref()
            .map(|s| s.split(' ').map(str::to_owned).collect()),
        expires_at: record.expires_at.saturating_mul(1000),
        resources: (!record.audience.is_empty()).then(|| record.audience.clone()),
        ..Default::default()
    }
}

fn outcome(
    result: IntrospectionResult,
    action: &'static str,
    code: &'static str,
    text: &str,
    error: &str,
    scope: Option<&str>,
) -> IntrospectionResult {
    let message = result_message(code, text);
    IntrospectionResult {
        result_code: code,
        response_content: challenge(error, &message, scope),
        result_message: message,
        action,
        ..result
    }
}

fn rejected(code: &'static str, text: &str, existent: bool) -> IntrospectionResult {
    IntrospectionResult {
        existent,
        ..outcome(
            IntrospectionResult::default(),
            "UNAUTHORIZED",
            code,
            text,
            "invalid_token",
            None,
        )
    }
}

/// The `BAD_REQUEST` result of `/auth/introspection`.
fn bad_request(err: BadRequest) -> IntrospectionResult {
    outcome(
        IntrospectionResult::default(),
        "BAD_REQUEST",
        err.code,
        &err.text,
        "invalid_request",
        None,
    )
}

/// `POST /api/{serviceId}/auth/introspection`.
pub async fn introspection(
    store: &Store,
    request: &Request,
    service_id: &str,
) -> Result<Response<Body>, AuthleteError> {
    request::authorize(store, request, service_id).await?;
    let body = request::json_object(request, MAX_BODY_BYTES)?;
    let result = match requirements(body) {
        Err(err) => bad_request(err),
        Ok(wanted) => {
            let now = signoff_store::now_epoch_seconds();
            let found = store
                .lookup_token(service_id, &TokenHash::of(&wanted.token), now)
                .await?;
            verdict(found, &wanted)
        }
    };
    Ok(response::json_response(StatusCode::OK, &result))
}

/// The answer of `/auth/introspection/standard`: four members, as Authlete's.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StandardResult {
    pub result_code: &'static str,
    pub result_message: String,
    pub action: &'static str,
    pub response_content: String,
}

/// What `/auth/introspection/standard` is asked, from its body.
#[derive(Debug, PartialEq, Eq)]
pub struct StandardRequest {
    pub token: String,
    /// `rsUri`: the resource server the answer is for, when the caller says.
    pub resource_server: Option<String>,
    /// The resource server asked for RFC 9701's JWT (its `Accept`, relayed).
    pub wants_jwt: bool,
}

/// Reads `/auth/introspection/standard`'s body (nulls are absent fields).
pub fn standard_request(body: Option<Map<String, Value>>) -> Result<StandardRequest, BadRequest> {
    let mut body = body.unwrap_or_default();
    let mut take = |name: &str| body.remove(name).filter(|v| !v.is_null());
    let string = |value: Option<Value>, name: &str, code| match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(
            code,
            format!("The '{name}' parameter must be a string."),
        )),
    };
    let parameters = string(take("parameters"), "parameters", "A145202")?.ok_or_else(|| {
        bad(
            "A145201",
            "The request does not contain the required 'parameters' parameter.",
        )
    })?;
    let form = Form::parse(parameters.as_bytes()).map_err(|err| {
        bad(
            "A145203",
            format!("The 'parameters' parameter is not a valid form: {err}."),
        )
    })?;
    let token = form
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            bad(
                "A145204",
                "The 'parameters' parameter does not contain the required 'token' parameter.",
            )
        })?
        .to_owned();
    let resource_server = string(take("rsUri"), "rsUri", "A145205")?;
    let accept = string(take("httpAcceptHeader"), "httpAcceptHeader", "A145205")?;
    let wants_jwt = accept.as_deref().is_some_and(crate::accepts_jwt_value);
    if wants_jwt {
        if resource_server.is_none() {
            return Err(bad(
                "A145211",
                "'rsUri' is required when 'httpAcceptHeader' asks for a JWT (RFC 9701): it becomes the JWT's audience.",
            ));
        }
        match string(take("introspectionSignAlg"), "introspectionSignAlg", "A145205")? {
            None => {}
            Some(alg) if alg == "ES256" => {}
            Some(_) => {
                return Err(bad(
                    "A145212",
                    "Signoff signs introspection responses with ES256 only; send 'introspectionSignAlg' as null or \"ES256\".",
                ))
            }
        }
        for name in [
            "introspectionEncryptionAlg",
            "introspectionEncryptionEnc",
            "publicKeyForEncryption",
            "sharedKeyForEncryption",
        ] {
            if take(name).is_some() {
                return Err(bad(
                    "A145213",
                    format!(
                        "Signoff does not encrypt introspection responses; send '{name}' as null."
                    ),
                ));
            }
        }
    }
    Ok(StandardRequest {
        token,
        resource_server,
        wants_jwt,
    })
}

fn standard_bad_request(err: BadRequest) -> StandardResult {
    let message = result_message(err.code, &err.text);
    StandardResult {
        result_code: err.code,
        response_content: error_json("invalid_request", &message),
        result_message: message,
        action: "BAD_REQUEST",
    }
}

/// `POST /api/{serviceId}/auth/introspection/standard`.
pub async fn standard(
    store: &Store,
    settings: &Settings,
    keys: Option<&KeySet>,
    request: &Request,
    service_id: &str,
) -> Result<Response<Body>, AuthleteError> {
    request::authorize(store, request, service_id).await?;
    let body = request::json_object(request, MAX_BODY_BYTES)?;
    let asked = match standard_request(body) {
        Ok(asked) => asked,
        Err(err) => return Ok(answer(&standard_bad_request(err))),
    };
    let keys = match keys {
        Some(keys) => Some(keys),
        None if asked.wants_jwt => return Ok(answer(&standard_bad_request(bad(
            "A145214",
            "This deployment does not sign introspection responses; relay the JSON answer instead.",
        )))),
        None => None,
    };
    let now = signoff_store::now_epoch_seconds();
    let found = store
        .lookup_token(service_id, &TokenHash::of(&asked.token), now)
        .await?;
    let token_type = match &found {
        Some((record, _)) if record.token_type == TokenType::Refresh => "refresh_token",
        _ => "access_token",
    };
    // Authlete's `rsUri` rule: a token with audiences is inactive for any other resource
    // server.
    let members = match found {
        Some((record, TokenState::Live))
            if asked
                .resource_server
                .as_ref()
                .is_none_or(|rs| record.audience.is_empty() || record.audience.contains(rs)) =>
        {
            crate::active_members(&record, &settings.issuer)
        }
        _ => crate::inactive(),
    };
    let active = members.get("active") == Some(&Value::Bool(true));
    let code = "A145001";
    let message = result_message(
        code,
        &format!("Introspection was performed successfully (type={token_type}, active={active})."),
    );
    let (action, response_content) = match (keys, asked.resource_server) {
        (Some(keys), Some(audience)) if asked.wants_jwt => {
            let jwt = crate::signed_response(keys, &settings.issuer, &audience, now, members)
                .await
                .map_err(AuthleteError::Signing)?;
            ("JWT", jwt)
        }
        _ => ("OK", Value::Object(members).to_string()),
    };
    Ok(answer(&StandardResult {
        result_code: code,
        result_message: message,
        action,
        response_content,
    }))
}

fn answer(result: &StandardResult) -> Response<Body> {
    response::json_response(StatusCode::OK, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn is_header_safe(value: &str) -> bool {
        lambda_http::http::HeaderValue::from_str(value).is_ok()
    }

    fn body(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    fn record(scope: Option<&str>, audience: &[&str]) -> TokenRecord {
        TokenRecord {
            tenant: "svc".into(),
            hash: TokenHash::of("t"),
            token_type: TokenType::Access,
            client_id: "26478243745571".into(),
            subject: Some("john".into()),
            session_id: None,
            grant_id: None,
            device: None,
            issued_at: 1_000,
            expires_at: 2_000,
            scope: scope.map(str::to_owned),
            audience: audience.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// What Authlete's Python SDK 1.3.0 sends (every field, nulls included).
    fn sdk_body(token: &str, scopes: Value, subject: Value) -> Option<Map<String, Value>> {
        body(json!({"token": token, "scopes": scopes, "subject": subject,
            "clientCertificate": null, "dpop": null, "htm": null, "htu": null,
            "resources": null, "uri": null, "message": null, "headers": null,
            "requiredComponents": null, "acrValues": null, "maxAge": 0,
            "dpopNonceRequired": false}))
    }

    #[test]
    fn the_sdks_body_with_its_nulls_and_zero_max_age_is_read() {
        let wanted = requirements(sdk_body("tok", json!(["read"]), Value::Null)).unwrap();
        assert_eq!(wanted.token, "tok");
        assert_eq!(wanted.scopes, ["read"]);
        assert_eq!(wanted.subject, None);
    }

    #[test]
    fn bad_requirements_name_the_field() {
        let code = |b| requirements(body(b)).unwrap_err().code;
        assert_eq!(code(json!({})), "A054201");
        assert_eq!(code(json!({"token": null})), "A054201");
        assert_eq!(code(json!({"token": ""})), "A054201");
        assert_eq!(code(json!({"token": 1})), "A054202");
        assert_eq!(code(json!({"token": "t", "scopes": "read"})), "A054203");
        assert_eq!(code(json!({"token": "t", "scopes": ["a b"]})), "A054203");
        assert_eq!(code(json!({"token": "t", "scopes": ["a\"b"]})), "A054203");
        assert_eq!(code(json!({"token": "t", "subject": 5})), "A054204");
        assert_eq!(code(json!({"token": "t", "resources": [1]})), "A054205");
        assert_eq!(code(json!({"token": "t", "acrValues": ["x"]})), "A054211");
        assert_eq!(code(json!({"token": "t", "maxAge": 60})), "A054212");
        assert!(requirements(body(json!({"token": "t", "acrValues": []}))).is_ok());
    }

    #[test]
    fn a_live_token_covering_the_request_is_ok_with_authletes_challenge() {
        let wanted = requirements(sdk_body("t", json!(["read"]), json!("john"))).unwrap();
        let result = verdict(
            Some((record(Some("read write"), &[]), TokenState::Live)),
            &wanted,
        );
        assert_eq!(result.action, "OK");
        assert_eq!(result.result_code, "A056001");
        assert_eq!(
            result.result_message,
            "[A056001] The access token is valid."
        );
        assert_eq!(result.response_content, OK_CHALLENGE);
        assert!(result.existent && result.usable && result.sufficient && !result.refreshable);
        assert_eq!(result.client_id, 26478243745571);
        assert_eq!(result.client_id_alias, None);
        assert_eq!(result.expires_at, 2_000_000);
        assert_eq!(
            result.scopes.as_deref(),
            Some(&["read".into(), "write".into()][..])
        );
    }

    #[test]
    fn a_missing_scope_is_forbidden_with_an_insufficient_scope_challenge() {
        let wanted = requirements(sdk_body("t", json!(["read", "admin"]), Value::Null)).unwrap();
        let result = verdict(Some((record(Some("read"), &[]), TokenState::Live)), &wanted);
        assert_eq!(result.action, "FORBIDDEN");
        assert_eq!(result.result_code, "A064302");
        assert!(result.usable && !result.sufficient);
        assert_eq!(
            result.response_content,
            "Bearer error=\"insufficient_scope\",error_description=\"[A064302] The access token does not cover the required scope 'admin'.\",scope=\"read admin\""
        );
        assert!(is_header_safe(&result.response_content));
    }

    #[test]
    fn subject_and_resource_mismatches_are_forbidden() {
        let wanted = requirements(sdk_body("t", Value::Null, json!("jane"))).unwrap();
        let result = verdict(Some((record(None, &[]), TokenState::Live)), &wanted);
        assert_eq!(
            (result.action, result.result_code),
            ("FORBIDDEN", "A064303")
        );
        assert!(result
            .response_content
            .starts_with("Bearer error=\"invalid_request\""));
        let wanted = requirements(body(json!({"token": "t", "resources": ["https://b"]}))).unwrap();
        let on_a = Some((record(None, &["https://a"]), TokenState::Live));
        assert_eq!(verdict(on_a, &wanted).result_code, "A064304");
        let on_b = Some((record(None, &["https://a", "https://b"]), TokenState::Live));
        assert_eq!(verdict(on_b, &wanted).action, "OK");
    }

    #[test]
    fn unknown_revoked_expired_and_refresh_tokens_are_unauthorized() {
        let wanted = requirements(body(json!({"token": "t"}))).unwrap();
        let unknown = verdict(None, &wanted);
        assert_eq!(
            (unknown.action, unknown.result_code),
            ("UNAUTHORIZED", "A064301")
        );
        assert!(!unknown.existent && !unknown.usable);
        assert!(unknown
            .response_content
            .starts_with("Bearer error=\"invalid_token\""));
        for state in [
            TokenState::SessionEnded,
            TokenState::UserLoggedOut,
            TokenState::GrantRevoked,
            TokenState::DeviceRevoked,
            TokenState::ClientSubjectCutOff,
            TokenState::ClientCutOff,
            TokenState::TenantCutOff,
        ] {
            let result = verdict(Some((record(None, &[]), state)), &wanted);
            assert_eq!(result.result_code, "A064301", "{state:?}");
            assert_eq!(result.subject, None, "a revoked token tells nothing");
        }
        let expired = verdict(Some((record(None, &[]), TokenState::Expired)), &wanted);
        assert_eq!(
            (expired.action, expired.result_code),
            ("UNAUTHORIZED", "A065302")
        );
        assert!(expired.existent && !expired.usable);
        let mut refresh = record(None, &[]);
        refresh.token_type = TokenType::Refresh;
        assert_eq!(
            verdict(Some((refresh, TokenState::Live)), &wanted).result_code,
            "A064301"
        );
    }

    #[test]
    fn a_client_id_that_is_not_a_number_is_an_alias() {
        let wanted = requirements(body(json!({"token": "t"}))).unwrap();
        let mut named = record(None, &[]);
        named.client_id = "demo-app".into();
        let result = verdict(Some((named, TokenState::Live)), &wanted);
        assert_eq!(result.client_id, 0);
        assert_eq!(result.client_id_alias.as_deref(), Some("demo-app"));
        assert!(result.client_id_alias_used);
        let mut padded = record(None, &[]);
        padded.client_id = "007".into();
        assert_eq!(
            verdict(Some((padded, TokenState::Live)), &wanted).client_id,
            0
        );
    }

    #[test]
    fn the_standard_request_reads_the_relayed_form_and_accept() {
        let asked = standard_request(body(json!({
            "parameters": "token=abc%2B1&token_type_hint=access_token",
            "withHiddenProperties": false, "rsUri": null, "httpAcceptHeader": null,
            "introspectionSignAlg": null, "introspectionEncryptionAlg": null,
            "introspectionEncryptionEnc": null, "sharedKeyForSign": null,
            "sharedKeyForEncryption": null, "publicKeyForEncryption": null})))
        .unwrap();
        assert_eq!(asked.token, "abc+1");
        assert!(!asked.wants_jwt);
        let code = |b| standard_request(body(b)).unwrap_err().code;
        assert_eq!(code(json!({})), "A145201");
        assert_eq!(code(json!({"parameters": 1})), "A145202");
        assert_eq!(code(json!({"parameters": "token=%zz"})), "A145203");
        assert_eq!(code(json!({"parameters": "token_type_hint=x"})), "A145204");
        let jwt = "application/token-introspection+jwt";
        assert_eq!(
            code(json!({"parameters": "token=a", "httpAcceptHeader": jwt})),
            "A145211"
        );
        assert_eq!(
            code(
                json!({"parameters": "token=a", "httpAcceptHeader": jwt, "rsUri": "https://rs", "introspectionSignAlg": "RS256"})
            ),
            "A145212"
        );
        assert_eq!(
            code(
                json!({"parameters": "token=a", "httpAcceptHeader": jwt, "rsUri": "https://rs", "introspectionEncryptionAlg": "RSA-OAEP"})
            ),
            "A145213"
        );
        let asked = standard_request(body(
            json!({"parameters": "token=a", "httpAcceptHeader": jwt, "rsUri": "https://rs"}),
        ))
        .unwrap();
        assert!(asked.wants_jwt);
        assert_eq!(asked.resource_server.as_deref(), Some("https://rs"));
    }

    #[test]
    fn challenges_escape_quotes() {
        assert_eq!(
            challenge("invalid_token", "a \"b\" \\", None),
            "Bearer error=\"invalid_token\",error_description=\"a \\\"b\\\" \\\\\""
        );
    }
}
