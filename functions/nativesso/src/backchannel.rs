//! Authlete's `POST /api/{serviceId}/backchannel/logout/token`: a signed logout token
//! (OpenID Connect Back-Channel Logout 1.0 with errata 1, section 2.4) for a client, for
//! authorization servers that deliver back-channel logouts themselves.
//!
//! The body is Authlete's `BackchannelLogoutTokenRequest`: `clientIdentifier` (required),
//! `subject` and `sessionId` (at least one), which become `aud`, `sub` and `sid`. The
//! answer is its `BackchannelLogoutTokenResponse`: `action` `OK` with `logoutToken` and
//! the client's `backchannelLogoutUri` (left out when the client has none: Authlete
//! documents that it may be null), result code `A504001`. The token is signed ES256 by the
//! deployment's KMS key, whose `kid` the JWKS (`/.well-known/jwks.json`) publishes, with
//! `iss` the deployment's issuer (`SIGNOFF_ISSUER`).
//!
//! Like Authlete, which "does not verify" the client's metadata, a token without `sid` is
//! issued even for a client registered with `backchannel_logout_session_required` (a
//! warning is logged); an unknown client is a caller error. Only the deployment's own
//! service gets tokens ([`LogoutTokens::tenant`]).

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;
use serde_json::{Map, Value};
use signoff_edge::request;
use signoff_edge::response;
use signoff_edge::signing::LogoutTokens;
use signoff_jose::logout_token::LogoutToken;
use signoff_store::backchannel::ClientLogout;
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::Store;

use crate::tokens::json_string;
use crate::{check_field, ApiError, Done, MAX_BODY_BYTES};

/// The answer, with the members of Authlete's `BackchannelLogoutTokenResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    result_code: &'static str,
    result_message: String,
    action: &'static str,
    logout_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_uri: Option<String>,
}

/// A string member of the body ([`json_string`]: absent, null and "" are not given),
/// checked as an identifier.
fn optional_string(body: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    let value = json_string(body, name)?;
    if let Some(value) = &value {
        check_field(name, value, MAX_ID_BYTES)?;
    }
    Ok(value)
}

pub(crate) async fn logout_token(
    store: &Store,
    tokens: Option<&LogoutTokens>,
    request: &Request,
    service_id: &str,
) -> Result<Done, ApiError> {
    let mut body = request::json_object(request, MAX_BODY_BYTES)?.unwrap_or_default();
    let client_id = optional_string(&mut body, "clientIdentifier")?.ok_or_else(|| {
        ApiError::caller(
            1,
            "The request does not contain the required 'clientIdentifier' parameter.",
        )
    })?;
    let subject = optional_string(&mut body, "subject")?;
    let session_id = optional_string(&mut body, "sessionId")?;
    let neither = || {
        ApiError::caller(
            17,
            "The request contains neither 'subject' nor 'sessionId': a logout token names at least one.",
        )
    };
    if subject.is_none() && session_id.is_none() {
        return Err(neither());
    }
    let tokens = tokens
        .filter(|tokens| tokens.tenant == service_id)
        .ok_or(ApiError::NoLogoutTokens)?;
    let uri = match store.client_logout(service_id, &client_id).await? {
        ClientLogout::UnknownClient => {
            return Err(ApiError::caller(
                18,
                "No client of this service has the identifier given as 'clientIdentifier'.",
            ))
        }
        ClientLogout::NotRegistered => None,
        ClientLogout::Registered(logout) => {
            // As Authlete, which does not check the client's metadata: the token is the
            // caller's to send, and a caller looping over clients must not be stopped.
            if logout.session_required() && session_id.is_none() {
                tracing::warn!(service = %service_id, client = %client_id, "logout token without sid for a client that requires one");
            }
            Some(logout.uri().to_owned())
        }
    };
    let token = LogoutToken::new(
        &tokens.issuer,
        &client_id,
        subject.as_deref(),
        session_id.as_deref(),
    )
    .map_err(|_| neither())?;
    let signer = tokens
        .keys
        .signer()
        .await
        .map_err(|e| ApiError::Signing(e.into()))?;
    let logout_token = token
        .sign(signer, signoff_store::now_epoch_seconds())
        .await
        .map_err(ApiError::Signing)?;
    tracing::info!(
        service = %service_id,
        client = %client_id,
        with_sid = session_id.is_some(),
        with_sub = subject.is_some(),
        "logout token issued"
    );
    let response = response::json_response(
        StatusCode::OK,
        &TokenBody {
            result_code: "A504001",
            result_message: "[A504001] The logout token was generated successfully.".into(),
            action: "OK",
            logout_token,
            backchannel_logout_uri: uri,
        },
    );
    Ok(Done {
        response,
        deleted: 0,
    })
}
