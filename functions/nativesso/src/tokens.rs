//! Authlete's token management APIs: `/auth/token/revoke`, `/auth/token/delete/{id}` and
//! `/client/authorization/delete/{clientId}`. One token is revoked with its grant (the
//! refresh token Authlete keeps with an access token); many are ended with one write (a
//! user's marker, a cutoff of the client or of the client for the subject) and their
//! records deleted for at most the hand-off's inline budget, the rest in the background.
//! docs/authlete-tokens.md says what each answers.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};
use signoff_edge::oauth::{Form, MissingContentType, FORM_MEDIA_TYPE};
use signoff_edge::request;
use signoff_edge::response;
use signoff_edge::route::PathParams;
use signoff_queue::Handoff;
use signoff_store::cutoffs::Cutoff;
use signoff_store::item_key::TokenHash;
use signoff_store::model::MAX_ID_BYTES;
use signoff_store::{Store, StoreError};

use crate::{check_field, ApiError, Done, ResultBody, MAX_BODY_BYTES};

/// The longest token value accepted as an identifier (a hash is 43 characters).
pub const MAX_TOKEN_IDENTIFIER_BYTES: usize = 4096;

/// What `/auth/token/revoke` ends, in Authlete's order of precedence: the first parameter
/// present decides, and the others are ignored (authlete-java-common
/// `TokenRevokeRequest`).
#[derive(Debug, PartialEq, Eq)]
enum RevokeTarget {
    Token(String),
    ClientSubject { client_id: String, subject: String },
    Client(String),
    Subject(String),
}

/// The four parameters of a revocation request, from a JSON body or a form.
#[derive(Debug, Default, PartialEq, Eq)]
struct RevokeParams {
    access_token: Option<String>,
    refresh_token: Option<String>,
    client: Option<String>,
    subject: Option<String>,
}

const ACCESS_TOKEN: &str = "accessTokenIdentifier";
const REFRESH_TOKEN: &str = "refreshTokenIdentifier";
const CLIENT: &str = "clientIdentifier";
const SUBJECT: &str = "subject";

impl RevokeParams {
    /// Reads a form body when the request says it is one, JSON otherwise (Authlete takes
    /// both).
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_MEDIA_TYPE));
        let params = if is_form {
            let form = Form::from_request(request, MAX_BODY_BYTES, MissingContentType::Refused)?;
            let get = |name| form.get(name).map(str::to_owned);
            Self {
                access_token: get(ACCESS_TOKEN),
                refresh_token: get(REFRESH_TOKEN),
                client: get(CLIENT),
                subject: get(SUBJECT),
            }
        } else {
            let mut body = request::json_object(request, MAX_BODY_BYTES)?.unwrap_or_default();
            Self {
                access_token: json_string(&mut body, ACCESS_TOKEN)?,
                refresh_token: json_string(&mut body, REFRESH_TOKEN)?,
                client: json_string(&mut body, CLIENT)?,
                subject: json_string(&mut body, SUBJECT)?,
            }
        };
        params.check()?;
        Ok(params)
    }

    fn check(&self) -> Result<(), ApiError> {
        let fields = [
            (ACCESS_TOKEN, &self.access_token, MAX_TOKEN_IDENTIFIER_BYTES),
            (
                REFRESH_TOKEN,
                &self.refresh_token,
                MAX_TOKEN_IDENTIFIER_BYTES,
            ),
            (CLIENT, &self.client, MAX_ID_BYTES),
            (SUBJECT, &self.subject, MAX_ID_BYTES),
        ];
        for (name, value, max) in fields {
            if let Some(value) = value {
                check_field(name, value, max)?;
            }
        }
        Ok(())
    }

    fn target(self) -> Result<RevokeTarget, ApiError> {
        Ok(match self {
            Self {
                access_token: Some(token),
                ..
            }
            | Self {
                refresh_token: Some(token),
                ..
            } => RevokeTarget::Token(token),
            Self {
                client: Some(client_id),
                subject: Some(subject),
                ..
            } => RevokeTarget::ClientSubject { client_id, subject },
            Self {
                client: Some(client_id),
                ..
            } => RevokeTarget::Client(client_id),
            Self {
                subject: Some(subject),
                ..
            } => RevokeTarget::Subject(subject),
            _ => {
                return Err(ApiError::caller(
                    1,
                    "The request contains none of 'accessTokenIdentifier', \
                     'refreshTokenIdentifier', 'clientIdentifier' and 'subject'.",
                ))
            }
        })
    }
}

/// A string member of a JSON body: absent, null and "" are all "not given" (SDKs send
/// unset members as null); anything else but a string is a caller error.
pub(crate) fn json_string(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ApiError> {
    match body.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value).filter(|v| !v.is_empty())),
        Some(_) => Err(ApiError::caller(
            2,
            format!("The '{name}' parameter must be a string."),
        )),
    }
}

/// `POST /auth/token/revoke`.
pub(crate) async fn revoke(
    store: &Store,
    handoff: Option<&Handoff>,
    request: &Request,
    tenant: &str,
) -> Result<Done, ApiError> {
    let target = RevokeParams::from_request(request)?.target()?;
    let (deleted, purge) = match &target {
        RevokeTarget::Token(identifier) => (
            revoke_token(store, tenant, identifier).await?.unwrap_or(0),
            None,
        ),
        RevokeTarget::Subject(subject) => {
            let outcome =
                signoff_queue::log_user_out(store, handoff, tenant, subject, None).await?;
            (
                outcome.logout.report.deleted,
                outcome.purge.map(|j| j.job_id),
            )
        }
        RevokeTarget::ClientSubject { client_id, subject } => {
            let cutoff = Cutoff::ClientSubject { client_id, subject };
            cut_off(store, handoff, tenant, cutoff).await?
        }
        RevokeTarget::Client(client_id) => {
            cut_off(store, handoff, tenant, Cutoff::Client { client_id }).await?
        }
    };
    tracing::info!(service = %tenant, deleted, purge = ?purge, "Authlete token revocation");
    let message = with_purge_note(
        format!("[A312001] Revoked {deleted} token record(s)."),
        purge.as_deref(),
    );
    let response = response::json_response(
        StatusCode::OK,
        &ResultBody {
            result_code: "A312001".into(),
            result_message: message,
            action: None,
            count: Some(deleted),
        },
    );
    Ok(Done { response, deleted })
}

/// A bulk revocation's message, with a sentence naming the background purge when one
/// continues the job.
fn with_purge_note(mut message: String, purge: Option<&str>) -> String {
    if let Some(job) = purge {
        message.push_str(&format!(
            " The others are unusable and are being deleted in the background (purge {job})."
        ));
    }
    message
}

/// Cuts `cutoff` off and purges inline for the hand-off's budget: (deleted, the
/// background purge's job id if records remain).
async fn cut_off(
    store: &Store,
    handoff: Option<&Handoff>,
    tenant: &str,
    cutoff: Cutoff<'_>,
) -> Result<(u64, Option<String>), ApiError> {
    let outcome = signoff_queue::cut_off(store, handoff, tenant, cutoff).await?;
    Ok((
        outcome.deleted,
        outcome.queued.then_some(outcome.job.job_id),
    ))
}

/// Revokes the token `identifier` names (its value, or the base64url SHA-256 of it, as
/// Authlete's `accessTokenHash`) with the rest of its grant. `None`: no such token.
async fn revoke_token(
    store: &Store,
    tenant: &str,
    identifier: &str,
) -> Result<Option<u64>, StoreError> {
    let by_value = TokenHash::of(identifier);
    let by_hash = TokenHash::parse(identifier).ok();
    for hash in std::iter::once(by_value).chain(by_hash) {
        if let Some(report) = store.revoke_token_by_hash(tenant, &hash).await? {
            return Ok(Some(report.deleted));
        }
    }
    Ok(None)
}

/// `DELETE /auth/token/delete/{accessTokenIdentifier}`: 204, or 404 for no such token.
pub(crate) async fn delete(
    store: &Store,
    tenant: &str,
    identifier: &str,
) -> Result<Done, ApiError> {
    if identifier.is_empty() {
        return Err(ApiError::UnknownToken);
    }
    check_field(
        "accessTokenIdentifier",
        identifier,
        MAX_TOKEN_IDENTIFIER_BYTES,
    )?;
    let deleted = revoke_token(store, tenant, identifier)
        .await?
        .ok_or(ApiError::UnknownToken)?;
    tracing::info!(service = %tenant, deleted, "Authlete token deletion");
    Ok(Done {
        response: response::no_content(),
        deleted,
    })
}

/// The `subject` of a client authorization deletion: the path's (the older form) or the
/// query's, required.
pub(crate) fn subject_of(request: &Request, params: &PathParams) -> Result<String, ApiError> {
    let query = request.query_string_parameters();
    let subject = match params.get("subject") {
        Some(subject) => subject.to_owned(),
        None => {
            if query.all("subject").is_some_and(|all| all.len() > 1) {
                return Err(ApiError::caller(
                    14,
                    "The parameter 'subject' is sent more than once.",
                ));
            }
            query.first("subject").unwrap_or_default().to_owned()
        }
    };
    if subject.is_empty() {
        return Err(ApiError::caller(
            1,
            "The request does not contain the required 'subject' parameter.",
        ));
    }
    check_field("subject", &subject, MAX_ID_BYTES)?;
    Ok(subject)
}

/// `DELETE /client/authorization/delete/{clientId}?subject=`: every token of the client
/// for the subject, as a cutoff of the pair.
pub(crate) async fn delete_client_authorization(
    store: &Store,
    handoff: Option<&Handoff>,
    tenant: &str,
    client_id: &str,
    subject: &str,
) -> Result<Done, ApiError> {
    check_field("clientId", client_id, MAX_ID_BYTES)?;
    let cutoff = Cutoff::ClientSubject { client_id, subject };
    let (deleted, purge) = cut_off(store, handoff, tenant, cutoff).await?;
    tracing::info!(service = %tenant, deleted, purge = ?purge, "Authlete client authorization deletion");
    let message = with_purge_note(
        format!(
            "[A137001] Deleted {deleted} token record(s) issued to the client (ID = {client_id}) \
             of the service (API Key = {tenant})."
        ),
        purge.as_deref(),
    );
    let response = response::json_response(
        StatusCode::OK,
        &ResultBody {
            result_code: "A137001".into(),
            result_message: message,
            action: None,
            count: None,
        },
    );
    Ok(Done { response, deleted })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(a: &str, r: &str, c: &str, s: &str) -> RevokeParams {
        let some = |v: &str| Some(v.to_owned()).filter(|v| !v.is_empty());
        RevokeParams {
            access_token: some(a),
            refresh_token: some(r),
            client: some(c),
            subject: some(s),
        }
    }

    #[test]
    fn the_first_parameter_given_decides_as_authlete_documents() {
        let target = |p: RevokeParams| p.target().unwrap();
        assert_eq!(
            target(params("at", "rt", "c", "s")),
            RevokeTarget::Token("at".into())
        );
        assert_eq!(
            target(params("", "rt", "c", "s")),
            RevokeTarget::Token("rt".into())
        );
        assert_eq!(
            target(params("", "", "c", "s")),
            RevokeTarget::ClientSubject {
                client_id: "c".into(),
                subject: "s".into()
            }
        );
        assert_eq!(
            target(params("", "", "c", "")),
            RevokeTarget::Client("c".into())
        );
        assert_eq!(
            target(params("", "", "", "s")),
            RevokeTarget::Subject("s".into())
        );
        assert!(matches!(
            params("", "", "", "").target(),
            Err(ApiError::Caller { detail: 1, .. })
        ));
    }

    #[test]
    fn json_members_must_be_strings_and_empty_is_absent() {
        let mut body = serde_json::json!({"a": "", "b": null, "c": 5, "d": "x"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(json_string(&mut body, "a").unwrap(), None);
        assert_eq!(json_string(&mut body, "b").unwrap(), None);
        assert_eq!(json_string(&mut body, "missing").unwrap(), None);
        assert_eq!(json_string(&mut body, "d").unwrap(), Some("x".into()));
        assert!(matches!(
            json_string(&mut body, "c"),
            Err(ApiError::Caller { detail: 2, .. })
        ));
    }
}
