//! OAuth 2.0 Global Token Revocation (draft-parecki-oauth-global-token-revocation, editor's
//! copy -06): a party the tenant trusts (its identity provider, a security tool) logs a
//! user out everywhere with one request, and the authorization server metadata that
//! advertises the endpoint (RFC 8414).
//!
//! - `POST /oauth2/global-token-revocation`, `{"sub_id": {...}}` (RFC 9493 formats
//!   `opaque`, `iss_sub` and `email`), `Authorization: Bearer <JWT>`: the JWT is signed by
//!   the party's registered key with `iss`/`sub` as registered, `aud` this endpoint's
//!   exact URL, `exp` at most five minutes ahead, and a `jti` that works once. 204 once the
//!   user's tokens are unusable (a user marker, one write); the records that cannot be
//!   deleted within the call's budget are purged in the background.
//! - `GET /.well-known/oauth-authorization-server`: the endpoints, with
//!   `global_token_revocation_endpoint` and its authentication method.
//!
//! The draft defines the statuses, not the bodies; errors carry an RFC 6749-style
//! `{"error","error_description"}` body so a caller can tell its mistakes apart
//! (docs/global-token-revocation.md lists them).

use lambda_http::http::{header, HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use signoff_edge::oauth::OAuthErrorBody;
use signoff_edge::request::{self, AuthError, BodyError};
use signoff_edge::response::{self, ErrorReply};
use signoff_jose::{unverified_issuer, AssertionError, AssertionRules, VerifyingKeySet};
use signoff_queue::HandoffError;
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::trusted_parties::TrustedParty;
use signoff_store::users::{check_alias, AliasKind, UserRef};
use signoff_store::{Store, StoreError};

use crate::settings::Settings;
use crate::RFC7009_ROUTE;

/// The Global Token Revocation endpoint.
pub const GLOBAL_ROUTE: &str = "/oauth2/global-token-revocation";
/// RFC 8414 authorization server metadata.
pub const METADATA_ROUTE: &str = "/.well-known/oauth-authorization-server";
/// Introspection's standard path (served by the introspection function), for the metadata.
const INTROSPECTION_ROUTE: &str = "/oauth2/introspect";
/// The longest an assertion may live: the draft recommends a short `exp`, five minutes.
pub const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 300;
/// A subject identifier is small; this leaves room for long issuers.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// How the endpoint's callers authenticate, as the metadata says: a JWT signed with the
/// party's private key (RFC 7523's shape), sent as the bearer credential.
pub const AUTH_METHOD: &str = "private_key_jwt";

/// Why a Global Token Revocation request was not carried out. Displayed in logs; never
/// shows a credential or a user identifier.
#[derive(Debug, thiserror::Error)]
pub enum GlobalRevocationError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unsupported subject identifier format")]
    UnsupportedFormat,
    /// No credential at all: a bare challenge (RFC 6750 3.1).
    #[error("no bearer assertion")]
    MissingCredential,
    #[error("{0}")]
    InvalidAssertion(String),
    #[error("the party may not name users of this issuer")]
    IssuerNotAllowed,
    #[error("no such user")]
    UserNotFound,
    #[error("the endpoint's public URL is unknown (set SIGNOFF_PUBLIC_BASE_URL)")]
    NoPublicUrl,
    #[error("the user could not be logged out: {0}")]
    Handoff(#[source] HandoffError),
    #[error("token store failure")]
    Store(#[from] StoreError),
}

impl From<HandoffError> for GlobalRevocationError {
    fn from(err: HandoffError) -> Self {
        match err {
            HandoffError::Store(err) => GlobalRevocationError::Store(err),
            err => GlobalRevocationError::Handoff(err),
        }
    }
}

impl From<BodyError> for GlobalRevocationError {
    fn from(err: BodyError) -> Self {
        GlobalRevocationError::InvalidRequest(err.to_string())
    }
}

impl From<AssertionError> for GlobalRevocationError {
    fn from(err: AssertionError) -> Self {
        GlobalRevocationError::InvalidAssertion(err.to_string())
    }
}

impl GlobalRevocationError {
    fn invalid_assertion(description: &str) -> Self {
        GlobalRevocationError::InvalidAssertion(description.to_owned())
    }

    /// Status, error code and description: the draft's statuses (section 3.4.2).
    fn parts(&self) -> (StatusCode, &'static str, &str) {
        use GlobalRevocationError as E;
        match self {
            E::InvalidRequest(description) => {
                (StatusCode::BAD_REQUEST, "invalid_request", description)
            }
            E::UnsupportedFormat => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "unsupported subject identifier format: use opaque, iss_sub or email",
            ),
            E::MissingCredential => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "authenticate with Authorization: Bearer <JWT signed by your registered key>",
            ),
            E::InvalidAssertion(description) => {
                (StatusCode::UNAUTHORIZED, "invalid_token", description)
            }
            E::IssuerNotAllowed => (
                StatusCode::FORBIDDEN,
                "access_denied",
                "this party may not name users of that issuer (iss_sub)",
            ),
            E::UserNotFound => (
                StatusCode::NOT_FOUND,
                "user_not_found",
                "the user indicated by sub_id was not found",
            ),
            E::NoPublicUrl => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the endpoint is not configured",
            ),
            E::Handoff(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the user's tokens are unusable but their deletion could not be queued: retry the request",
            ),
            E::Handoff(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unable_to_log_out",
                "the user's tokens are unusable but their deletion could not be started: retry later",
            ),
            E::Store(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store is busy or unavailable: retry the request",
            ),
            E::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the revocation could not be completed because of a server error",
            ),
        }
    }
}

/// The one place that maps these failures to statuses and bodies.
impl ErrorReply for GlobalRevocationError {
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

    fn store_error(&self) -> Option<&StoreError> {
        match self {
            GlobalRevocationError::Store(err) => Some(err),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            GlobalRevocationError::Store(err) => err.is_retryable(),
            GlobalRevocationError::Handoff(err) => err.is_retryable(),
            _ => false,
        }
    }

    fn dependency_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GlobalRevocationError::Handoff(err) => Some(err),
            _ => None,
        }
    }

    fn extra_headers(&self, headers: &mut HeaderMap) {
        // RFC 6750 3: a 401 names the scheme; with an error when a credential was sent.
        let challenge = match self {
            GlobalRevocationError::MissingCredential => "Bearer",
            GlobalRevocationError::InvalidAssertion(_) => "Bearer error=\"invalid_token\"",
            _ => return,
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
}

/// The user a request names (RFC 9493 subject identifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectId {
    Opaque(String),
    IssSub { iss: String, sub: String },
    Email(String),
}

impl SubjectId {
    fn format(&self) -> &'static str {
        match self {
            SubjectId::Opaque(_) => "opaque",
            SubjectId::IssSub { .. } => "iss_sub",
            SubjectId::Email(_) => "email",
        }
    }

    /// Reads `{"sub_id": {...}}`. Other members of the body and of `sub_id` are ignored
    /// (RFC 9493 3 lets formats carry more members).
    pub fn from_body(body: &Map<String, Value>) -> Result<Self, GlobalRevocationError> {
        let invalid = |m: &str| GlobalRevocationError::InvalidRequest(m.to_owned());
        let sub_id = match body.get("sub_id") {
            Some(Value::Object(sub_id)) => sub_id,
            Some(_) => return Err(invalid("sub_id must be a JSON object (RFC 9493)")),
            None => return Err(invalid("the body must carry sub_id")),
        };
        let member = |name: &'static str| match sub_id.get(name) {
            Some(Value::String(v)) if !v.is_empty() => Ok(v.clone()),
            _ => Err(GlobalRevocationError::InvalidRequest(format!(
                "sub_id has no '{name}' string"
            ))),
        };
        let identifier = |name: &'static str| {
            let value = member(name)?;
            if value.len() > MAX_ID_BYTES || value.chars().any(char::is_control) {
                return Err(GlobalRevocationError::InvalidRequest(format!(
                    "sub_id's '{name}' must be at most {MAX_ID_BYTES} bytes without control characters"
                )));
            }
            Ok(value)
        };
        match member("format")?.as_str() {
            "opaque" => Ok(SubjectId::Opaque(identifier("id")?)),
            "iss_sub" => {
                let iss = member("iss")?;
                signoff_store::trusted_parties::check_party_id("iss", &iss)
                    .map_err(|e| GlobalRevocationError::InvalidRequest(e.to_string()))?;
                Ok(SubjectId::IssSub {
                    iss,
                    sub: identifier("sub")?,
                })
            }
            "email" => {
                let email = member("email")?;
                check_alias(AliasKind::Email, &email)
                    .map_err(|_| invalid("sub_id's email is not an email address"))?;
                Ok(SubjectId::Email(email))
            }
            _ => Err(GlobalRevocationError::UnsupportedFormat),
        }
    }

    /// Whom the store should look up, if `party` may name this user.
    fn user_ref<'a>(&'a self, party: &TrustedParty) -> Result<UserRef<'a>, GlobalRevocationError> {
        match self {
            SubjectId::Opaque(id) => Ok(UserRef::Subject(id)),
            SubjectId::Email(email) => Ok(UserRef::Alias(AliasKind::Email, email)),
            SubjectId::IssSub { iss, sub } => {
                if party.subject_issuers.iter().any(|allowed| allowed == iss) {
                    Ok(UserRef::Subject(sub))
                } else {
                    Err(GlobalRevocationError::IssuerNotAllowed)
                }
            }
        }
    }
}

/// The public base URL ([`request::public_base_url`]).
pub fn public_base_url(settings: &Settings, request: &Request) -> Option<String> {
    request::public_base_url(settings.public_base_url.as_deref(), request)
}

/// Carries out one Global Token Revocation request; returns the token records deleted
/// inline (the rest, if any, are being purged).
pub async fn revoke_globally(
    store: &Store,
    settings: &Settings,
    request: &Request,
) -> Result<u64, GlobalRevocationError> {
    let audience = public_base_url(settings, request)
        .map(|base| format!("{base}{}", GLOBAL_ROUTE))
        .ok_or(GlobalRevocationError::NoPublicUrl)?;
    let tenant = settings.tenant.as_str();

    // Authenticate: the claimed issuer finds the party, whose keys and registered values
    // the assertion must then satisfy. Nothing is written before it verifies.
    let token = request::bearer_token(request).map_err(|err| match err {
        AuthError::Missing => GlobalRevocationError::MissingCredential,
        AuthError::Dpop => {
            GlobalRevocationError::invalid_assertion("DPoP-bound credentials are not supported")
        }
        _ => GlobalRevocationError::invalid_assertion(
            "the Authorization header is not 'Bearer <JWT>'",
        ),
    })?;
    let issuer = unverified_issuer(token).ok_or_else(|| {
        GlobalRevocationError::invalid_assertion("the bearer assertion is not a JWT with an iss")
    })?;
    let party = store.trusted_party(tenant, &issuer).await?.ok_or_else(|| {
        GlobalRevocationError::invalid_assertion(
            "the bearer assertion's issuer is not a trusted party of this tenant",
        )
    })?;
    let assertion = VerifyingKeySet::new(&party.keys).verify_assertion(
        token,
        &AssertionRules {
            issuer: &party.issuer,
            subject: &party.subject,
            audience: &audience,
            now: signoff_store::now_epoch_seconds(),
            max_lifetime: MAX_ASSERTION_LIFETIME_SECONDS,
        },
    )?;

    let body = request::json_object(request, MAX_BODY_BYTES)?.ok_or_else(|| {
        GlobalRevocationError::InvalidRequest("the body must carry sub_id".into())
    })?;
    let subject_id = SubjectId::from_body(&body)?;
    let user = subject_id.user_ref(&party)?;

    // The assertion works once, from here on: a replay is refused before anything else.
    if !store
        .use_assertion(tenant, &party.issuer, &assertion.jti, assertion.expires_at)
        .await?
    {
        return Err(GlobalRevocationError::invalid_assertion(
            "the bearer assertion has been used before (jti): sign a new one for each request",
        ));
    }
    let outcome = log_out(store, settings, tenant, user).await;
    if let Err(err) = &outcome {
        // A failure the caller should retry: let the same assertion be sent again.
        if err.retryable() || matches!(err, GlobalRevocationError::Handoff(_)) {
            if let Err(release) = store
                .release_assertion(tenant, &party.issuer, &assertion.jti)
                .await
            {
                tracing::warn!(error = %release, "could not release a used assertion");
            }
        }
    }
    let (deleted, purge) = outcome?;
    tracing::info!(
        tenant,
        party = %party.issuer,
        format = subject_id.format(),
        deleted,
        purge = purge.as_deref(),
        "global token revocation"
    );
    Ok(deleted)
}

/// Finds the user and logs them out everywhere: records deleted inline, and the purge job
/// that deletes the rest, if one was needed.
async fn log_out(
    store: &Store,
    settings: &Settings,
    tenant: &str,
    user: UserRef<'_>,
) -> Result<(u64, Option<String>), GlobalRevocationError> {
    let subject = store
        .resolve_user(tenant, user)
        .await?
        .ok_or(GlobalRevocationError::UserNotFound)?;
    let outcome =
        signoff_queue::log_user_out(store, settings.handoff.as_ref(), tenant, &subject, None)
            .await?;
    Ok((
        outcome.logout.report.deleted,
        outcome.purge.map(|job| job.job_id),
    ))
}

/// RFC 8414 metadata of the endpoints this deployment serves, or `None` without a public
/// URL. `issuer` is the authorization server's (`SIGNOFF_ISSUER`); where the
/// authorization server publishes its own metadata, it copies these members into it.
pub fn metadata(settings: &Settings, request: &Request) -> Option<Response<Body>> {
    let base = public_base_url(settings, request)?;
    let issuer = settings.issuer.clone().unwrap_or_else(|| base.clone());
    let document = json!({
        "issuer": issuer,
        "revocation_endpoint": format!("{base}{RFC7009_ROUTE}"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{base}{INTROSPECTION_ROUTE}"),
        "global_token_revocation_endpoint": format!("{base}{GLOBAL_ROUTE}"),
        "global_token_revocation_endpoint_auth_methods_supported": [AUTH_METHOD],
    });
    let mut response = response::json_response(StatusCode::OK, &document);
    // Metadata changes with a deployment, not per request.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<SubjectId, GlobalRevocationError> {
        SubjectId::from_body(body.as_object().unwrap())
    }

    #[test]
    fn subject_identifiers_of_the_three_formats_are_read_and_others_refused() {
        assert_eq!(
            parse(json!({"sub_id": {"format": "opaque", "id": "u1"}})).unwrap(),
            SubjectId::Opaque("u1".into())
        );
        assert_eq!(
            parse(json!({"sub_id": {"format": "iss_sub", "iss": "https://idp", "sub": "u1"}}))
                .unwrap(),
            SubjectId::IssSub {
                iss: "https://idp".into(),
                sub: "u1".into()
            }
        );
        assert_eq!(
            parse(json!({"sub_id": {"format": "email", "email": "a@b.example"}})).unwrap(),
            SubjectId::Email("a@b.example".into())
        );
        for unsupported in ["phone_number", "account", "did", "uri", "aliases", "x"] {
            assert!(matches!(
                parse(json!({"sub_id": {"format": unsupported, "id": "u1"}})),
                Err(GlobalRevocationError::UnsupportedFormat)
            ));
        }
        for bad in [
            json!({}),
            json!({"sub_id": "u1"}),
            json!({"sub_id": {"id": "u1"}}),
            json!({"sub_id": {"format": "opaque"}}),
            json!({"sub_id": {"format": "opaque", "id": 7}}),
            json!({"sub_id": {"format": "opaque", "id": "a\nb"}}),
            json!({"sub_id": {"format": "opaque", "id": "x".repeat(257)}}),
            json!({"sub_id": {"format": "iss_sub", "sub": "u1"}}),
            json!({"sub_id": {"format": "email", "email": "not-an-email"}}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert!(
                matches!(err, GlobalRevocationError::InvalidRequest(_)),
                "{bad}: {err:?}"
            );
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        }
    }
}
