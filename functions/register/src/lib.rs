//! `POST /signoff/v1/tenants/{tenantId}/tokens`: the authorization server records the
//! tokens it issues, so that logout and revocation know what to delete.
//!
//! Authenticated with the tenant's service access token (or an organization token), like
//! the logout API. The body is one token object, or `{"tokens": [...]}` with up to 25; a
//! batch is atomic. Each token is sent as its value (`token`, hashed on arrival and never
//! stored) or as `tokenHash`, the unpadded base64url SHA-256 of the value. Unknown fields
//! are refused: a misspelt `sessionId` would otherwise register a token that no logout
//! could find. Errors use the OAuth shape `{"error", "error_description"}`.
//!
//! A token registered with `"status": true` (or by default, for the tenants
//! `SIGNOFF_STATUS_LIST_TENANTS` names) gets an entry in one of the tenant's Token Status
//! Lists, and the answer says where, for the authorization server to embed as the JWT's
//! `status` claim (draft-ietf-oauth-status-list, "Referenced Token"). See
//! [`signoff_store::status_lists`] for how the entry's state follows the token's.

use lambda_http::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_edge::metrics::Meter;
use signoff_edge::request::{self, AuthError};
use signoff_edge::response::{self, respond, ErrorReply};
use signoff_edge::route::{route, Route, Routed};
use signoff_edge::runtime::MalformedEvent;
use signoff_edge::status_list::StatusListSettings;
use signoff_store::item_key::TokenHash;
use signoff_store::model::{DeviceBinding, FieldError, TokenRecord, TokenType};
use signoff_store::status_lists::StatusEntry;
use signoff_store::tokens::{RegisterError, MAX_REGISTRATION_BATCH};
use signoff_store::users::{check_alias, AliasKind, UserAlias};
use signoff_store::{Store, StoreError};

pub const ROUTE: &str = "/signoff/v1/tenants/{tenantId}/tokens";
/// Room for 25 tokens of the largest accepted size, with their attributes.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Longest token value accepted (JWTs with many claims run to a few kilobytes).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The function's one route, as template.yaml and the local router declare it.
pub const ROUTES: &[Route<()>] = &[Route::new(Method::POST, ROUTE, ())];

/// The function's settings, read once at init (the store's are [`signoff_store::Config`]).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub status_lists: StatusListSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, signoff_store::config::ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, signoff_store::config::ConfigError> {
        let status_lists = StatusListSettings::from_lookup(&get)?;
        if status_lists.default_tenants != Default::default()
            && status_lists.public_base_url.is_none()
        {
            return Err(signoff_store::config::ConfigError::Missing {
                name: signoff_edge::status_list::PUBLIC_BASE_URL_VAR,
                hint: "status list entries name their list by URL: set the API's public base URL, or unset SIGNOFF_STATUS_LIST_TENANTS",
            });
        }
        Ok(Self { status_lists })
    }
}

/// One token as the authorization server describes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenInput {
    token: Option<String>,
    token_hash: Option<String>,
    #[serde(rename = "type")]
    token_type: String,
    client_id: String,
    subject: Option<String>,
    session_id: Option<String>,
    grant_id: Option<String>,
    device_id: Option<String>,
    user_store: Option<String>,
    user_dn: Option<String>,
    #[serde(default, deserialize_with = "json_integer")]
    issued_at: Option<i64>,
    /// Epoch seconds; or `expires_in`, seconds after the issue time (OAuth's `expires_in`,
    /// which a static event can carry without going stale).
    #[serde(default, deserialize_with = "json_integer")]
    expires_at: Option<i64>,
    #[serde(default, deserialize_with = "json_integer")]
    expires_in: Option<i64>,
    /// Granted scopes, space-separated, reported by introspection.
    scope: Option<String>,
    /// One audience or several (RFC 7662 `aud`), reported by introspection.
    audience: Option<Audience>,
    /// The subject's login id (Descope's `loginId`), so that a management logout may name
    /// the user by it.
    login_id: Option<String>,
    /// The subject's email address, so that Global Token Revocation may name the user by it.
    email: Option<String>,
    /// Whether the token gets a Token Status List entry (unset: the tenant's default).
    status: Option<bool>,
}

/// An integer as JSON Schema counts one: `1800` or `1800.0` (a number whose fraction is
/// zero), within i64. serde alone refuses the second, which the contract admits.
fn json_integer<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        // 2^63 as f64 is just past i64::MAX; the range check keeps the cast exact.
        Some(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
            Ok(Some(f as i64))
        }
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {number}, expected an integer within 64 bits"
        ))),
    }
}

/// `audience` as RFC 7662 and RFC 7519 write `aud`: a string or an array of strings.
#[derive(Deserialize)]
#[serde(untagged, expecting = "a string or an array of strings")]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("no API at this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("missing credential")]
    MissingAuthorization,
    #[error("invalid credential")]
    InvalidCredential,
    #[error("credential not permitted for this tenant")]
    Forbidden,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("session(s) ended")]
    SessionEnded(Vec<String>),
    /// A status entry was asked for and this deployment hands out none.
    #[error("status lists are not configured")]
    NoStatusLists,
    /// The records were written too long after their entries were handed out: a list
    /// built meanwhile may say the entries are INVALID. A retry gets fresh entries.
    #[error("registration too slow for its status list entries")]
    StatusEntriesLate,
    #[error("token store failure")]
    Store(#[from] StoreError),
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<&'a [String]>,
}

/// The one place that maps failures to statuses and OAuth-shaped bodies.
impl ErrorReply for RegistrationError {
    type Body<'a> = ErrorBody<'a>;

    fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn body(&self) -> ErrorBody<'_> {
        let (_, error, description, sessions) = self.parts();
        ErrorBody {
            error,
            error_description: description,
            sessions,
        }
    }

    signoff_edge::store_and_allow_accessors!();

    fn retryable(&self) -> bool {
        match self {
            RegistrationError::StatusEntriesLate => true,
            RegistrationError::Store(err) => err.is_retryable(),
            _ => false,
        }
    }

    fn extra_headers(&self, headers: &mut HeaderMap) {
        if self.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
    }
}

impl RegistrationError {
    /// Status, error code, description and the ended sessions (on 409).
    fn parts(&self) -> (StatusCode, &'static str, &str, Option<&[String]>) {
        match self {
            RegistrationError::NotFound => (
                StatusCode::NOT_FOUND,
                "invalid_request",
                "there is no API at this path",
                None,
            ),
            RegistrationError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "only POST is allowed",
                None,
            ),
            RegistrationError::MissingAuthorization => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the Authorization header is missing; send 'Bearer <service access token>'",
                None,
            ),
            RegistrationError::InvalidCredential => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is malformed or unknown",
                None,
            ),
            RegistrationError::Forbidden => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the access token is not permitted to register tokens for this tenant",
                None,
            ),
            RegistrationError::InvalidRequest(description) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                description.as_str(),
                None,
            ),
            RegistrationError::SessionEnded(sessions) => (
                StatusCode::CONFLICT,
                "session_ended",
                "the session has been logged out: tokens for it can no longer be registered; nothing was registered",
                Some(sessions.as_slice()),
            ),
            RegistrationError::NoStatusLists => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "this deployment issues no Token Status Lists: register the token without \"status\": true",
                None,
            ),
            RegistrationError::StatusEntriesLate => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store was too slow to register the tokens with their status list entries; retry the request, which hands out fresh entries",
                None,
            ),
            RegistrationError::Store(err) if err.is_retryable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store is busy or unavailable; nothing was registered, retry the request",
                None,
            ),
            RegistrationError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the tokens could not be registered because of a server error",
                None,
            ),
        }
    }
}

impl From<AuthError> for RegistrationError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Missing => RegistrationError::MissingAuthorization,
            AuthError::Malformed | AuthError::Dpop | AuthError::Unknown => {
                RegistrationError::InvalidCredential
            }
            AuthError::Forbidden => RegistrationError::Forbidden,
            AuthError::Store(e) => RegistrationError::Store(e),
        }
    }
}

fn invalid(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidRequest(message.into())
}

/// A registration body, parsed and checked.
struct Parsed {
    records: Vec<TokenRecord>,
    aliases: Vec<UserAlias>,
    /// Per record, its `status` field.
    status_asked: Vec<Option<bool>>,
    /// Whether the body was `{"tokens": [...]}` rather than one token.
    batch: bool,
}

/// Parses and checks the body into records of `tenant`, naming the first bad field.
fn parse_tokens(
    tenant: &str,
    body: Option<Map<String, Value>>,
    now: i64,
) -> Result<Parsed, RegistrationError> {
    let mut body = body.ok_or_else(|| {
        invalid("the request body is empty: send a token object or {\"tokens\": [...]}")
    })?;
    let (inputs, batch) = match body.remove("tokens") {
        Some(Value::Array(items)) if body.is_empty() => (items, true),
        Some(Value::Array(_)) => return Err(invalid("a batch body has only the 'tokens' field")),
        Some(_) => return Err(invalid("'tokens' must be an array of token objects")),
        None => (vec![Value::Object(body)], false),
    };
    if inputs.is_empty() || inputs.len() > MAX_REGISTRATION_BATCH {
        return Err(invalid(format!(
            "'tokens' must hold 1 to {MAX_REGISTRATION_BATCH} tokens"
        )));
    }
    let mut records = Vec::with_capacity(inputs.len());
    let mut status_asked = Vec::with_capacity(inputs.len());
    let mut aliases: Vec<UserAlias> = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let at = |message: String| {
            if batch {
                invalid(format!("tokens[{i}]: {message}"))
            } else {
                invalid(message)
            }
        };
        let input: TokenInput = serde_path_to_error::deserialize(input).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            if field == "." {
                at(inner.to_string())
            } else {
                at(format!("{field}: {inner}"))
            }
        })?;
        status_asked.push(input.status);
        let (record, named) = to_record(tenant, input, now).map_err(|e| at(e.to_string()))?;
        if records.iter().any(|r: &TokenRecord| r.hash == record.hash) {
            return Err(at("the same token appears twice in the batch".into()));
        }
        for alias in named {
            // One write per alias however many tokens of the batch name it.
            match aliases
                .iter_mut()
                .find(|a| a.kind == alias.kind && a.value == alias.value)
            {
                Some(seen) if seen.subject != alias.subject => {
                    return Err(at(format!(
                        "{} names two subjects in the batch",
                        if alias.kind == AliasKind::Email {
                            "email"
                        } else {
                            "loginId"
                        }
                    )))
                }
                Some(seen) => seen.expires_at = seen.expires_at.max(alias.expires_at),
                None => aliases.push(alias),
            }
        }
        records.push(record);
    }
    Ok(Parsed {
        records,
        aliases,
        status_asked,
        batch,
    })
}

fn to_record(
    tenant: &str,
    input: TokenInput,
    now: i64,
) -> Result<(TokenRecord, Vec<UserAlias>), FieldError> {
    let hash = match (input.token, input.token_hash) {
        (Some(token), None) if !token.is_empty() && token.len() <= MAX_TOKEN_BYTES => {
            TokenHash::of(&token)
        }
        (Some(_), None) => {
            return Err(FieldError::new(
                "token",
                format!("must be 1 to {MAX_TOKEN_BYTES} bytes"),
            ))
        }
        (None, Some(hash)) => {
            TokenHash::parse(&hash).map_err(|e| FieldError::new("tokenHash", e.to_string()))?
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "token",
                "send either token or tokenHash, not both",
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "token",
                "one of token or tokenHash is required",
            ))
        }
    };
    let token_type = TokenType::parse(&input.token_type)
        .ok_or_else(|| FieldError::new("type", "must be \"access\" or \"refresh\""))?;
    let device = match (input.device_id, input.user_store, input.user_dn) {
        (None, None, None) => None,
        (Some(device_id), Some(user_store), Some(user_dn)) => Some(DeviceBinding {
            device_id,
            user_store,
            user_dn,
        }),
        _ => {
            return Err(FieldError::new(
                "deviceId",
                "deviceId, userStore and userDn go together: send all three or none",
            ))
        }
    };
    let issued_at = input.issued_at.unwrap_or(now);
    let expires_at =
        match (input.expires_at, input.expires_in) {
            (Some(at), None) => at,
            (None, Some(seconds)) if seconds > 0 => issued_at.saturating_add(seconds),
            (None, Some(_)) => return Err(FieldError::new("expiresIn", "must be positive")),
            _ => return Err(FieldError::new(
                "expiresAt",
                "send expiresAt (epoch seconds) or expiresIn (seconds after issuedAt), one of them",
            )),
        };
    let audience = match input.audience {
        None => Vec::new(),
        Some(Audience::One(audience)) => vec![audience],
        Some(Audience::Many(list)) if list.is_empty() => {
            return Err(FieldError::new(
                "audience",
                "must name at least one audience (or be left out)",
            ))
        }
        Some(Audience::Many(list)) => list,
    };
    let record = TokenRecord {
        tenant: tenant.to_owned(),
        hash,
        token_type,
        client_id: input.client_id,
        subject: input.subject,
        session_id: input.session_id,
        grant_id: input.grant_id,
        device,
        issued_at,
        expires_at,
        scope: input.scope,
        audience,
    };
    record.validate(now)?;
    let mut aliases = Vec::new();
    for (kind, value) in [
        (AliasKind::LoginId, input.login_id),
        (AliasKind::Email, input.email),
    ] {
        let Some(value) = value else { continue };
        check_alias(kind, &value)?;
        let Some(subject) = &record.subject else {
            let field = if kind == AliasKind::Email {
                "email"
            } else {
                "loginId"
            };
            return Err(FieldError::new(
                field,
                "names the subject's alias: send subject too",
            ));
        };
        aliases.push(UserAlias {
            tenant: tenant.to_owned(),
            subject: subject.clone(),
            kind,
            value,
            expires_at: record.expires_at,
        });
    }
    Ok((record, aliases))
}

/// Handles one request. Never fails: every outcome is a response.
/// The answer to an event that cannot become a request (see [`signoff_edge::runtime`]).
pub fn malformed_event(reason: MalformedEvent) -> Response<Body> {
    response::error_response(&RegistrationError::InvalidRequest(reason.to_string()))
}

pub async fn handle(
    store: &Store,
    settings: &Settings,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let meter = Meter::start();
    let outcome = match route(ROUTES, &request) {
        Routed::Found { params, .. } => {
            let tenant = params.get("tenantId").unwrap_or_default();
            register(store, settings, &request, tenant).await
        }
        Routed::MethodNotAllowed { allow, .. } => {
            Err(RegistrationError::MethodNotAllowed { allow })
        }
        Routed::NotFound => Err(RegistrationError::NotFound),
    };
    let outcome = outcome.map(|registered| {
        let records = &registered.records;
        let mut body = json!({
            "registered": records.len(),
            "tokenHashes": records.iter().map(|r| r.hash.encoded()).collect::<Vec<_>>(),
        });
        if registered.statuses.iter().any(Option::is_some) {
            // The claim as the token carries it: {"status_list": {"idx", "uri"}}.
            let claims: Vec<Value> = registered
                .statuses
                .iter()
                .map(|entry| match entry {
                    Some((entry, uri)) => json!({"status_list": {"idx": entry.index, "uri": uri}}),
                    None => Value::Null,
                })
                .collect();
            if !registered.batch {
                body["status"] = claims[0].clone();
            }
            body["statuses"] = Value::Array(claims);
        }
        response::json_response(StatusCode::OK, &body)
    });
    Ok(respond(
        "token registration",
        &request,
        &CorsPolicy::Disabled,
        &meter,
        outcome,
    ))
}

/// What a registration did: the records, and per record its status entry and list URI.
struct Registered {
    records: Vec<TokenRecord>,
    statuses: Vec<Option<(StatusEntry, String)>>,
    batch: bool,
}

async fn register(
    store: &Store,
    settings: &Settings,
    request: &Request,
    tenant: &str,
) -> Result<Registered, RegistrationError> {
    request::authorize(store, request, tenant).await?;
    let body = request::json_object(request, MAX_BODY_BYTES).map_err(|e| invalid(e.to_string()))?;
    let Parsed {
        records,
        aliases,
        status_asked,
        batch,
    } = parse_tokens(tenant, body, signoff_store::now_epoch_seconds())?;
    let lists = &settings.status_lists;
    let wanted: Vec<bool> = status_asked
        .iter()
        .map(|asked| asked.unwrap_or_else(|| lists.on_by_default(tenant)))
        .collect();
    let count = wanted.iter().filter(|w| **w).count() as u64;
    if count > 0 && lists.public_base_url.is_none() {
        return Err(RegistrationError::NoStatusLists);
    }
    let handed_out = std::time::Instant::now();
    let mut entries = store
        .allocate_status_entries(tenant, count, lists.capacity)
        .await?
        .into_iter();
    let fresh: Vec<Option<StatusEntry>> = wanted
        .iter()
        .map(|w| if *w { entries.next() } else { None })
        .collect();
    // A token registered before keeps its entry (the store says which it holds), even
    // when this request asked for none: it may be embedded in a token already.
    let statuses = match store.register_tokens_with_status(&records, &fresh).await {
        Ok(stored) => stored,
        Err(RegisterError::SessionEnded { sessions }) => {
            return Err(RegistrationError::SessionEnded(sessions))
        }
        Err(RegisterError::Store(e)) => return Err(e.into()),
        Err(e @ (RegisterError::BatchSize(_) | RegisterError::Invalid(_))) => {
            return Err(invalid(e.to_string()))
        }
    };
    // A list build reads the allocation, waits the settle time, then reads which entries
    // have records: records written later than half that after their entries were handed
    // out may have been judged missing (store::status_lists).
    // The fresh entries this request stored (the others were the records' own already).
    let stored_fresh: Vec<(&TokenRecord, StatusEntry)> = records
        .iter()
        .zip(statuses.iter().zip(&fresh))
        .filter_map(|(record, (stored, fresh))| match (stored, fresh) {
            (Some(stored), Some(fresh)) if stored == fresh => Some((record, *stored)),
            _ => None,
        })
        .collect();
    let late = !stored_fresh.is_empty() && handed_out.elapsed() > lists.settle / 2;
    // After the tokens: a failure here is a 503, and the retry registers both again.
    store.record_aliases(&aliases).await?;
    if late {
        tracing::warn!(tenant = %tenant, elapsed_ms = handed_out.elapsed().as_millis() as u64, "status entries registered late; asking for a retry");
        // The retry keeps whatever entry a record holds: take these back first, so that it
        // hands out fresh ones. Should that fail, the retry keeps them, and they may read
        // INVALID until the list's next build.
        if let Err(err) = store.take_back_status_entries(&stored_fresh).await {
            tracing::warn!(tenant = %tenant, error = %err, "late status entries could not be taken back");
        }
        return Err(RegistrationError::StatusEntriesLate);
    }
    tracing::info!(tenant = %tenant, registered = records.len(), aliases = aliases.len(), status_entries = statuses.iter().flatten().count(), "tokens registered");
    let statuses = statuses
        .into_iter()
        .map(|entry| {
            // An entry kept from an earlier registration cannot be named by a deployment
            // that has since lost its public base URL; it is still kept.
            entry.and_then(|entry| lists.uri(tenant, entry.list).map(|uri| (entry, uri)))
        })
        .collect();
    Ok(Registered {
        records,
        statuses,
        batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Vec<TokenRecord>, String> {
        parse_with_aliases(v).map(|(records, _)| records)
    }

    fn parse_with_aliases(v: Value) -> Result<(Vec<TokenRecord>, Vec<UserAlias>), String> {
        parse_tokens("t1", v.as_object().cloned(), 1_000)
            .map(|parsed| (parsed.records, parsed.aliases))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn login_ids_and_emails_become_aliases_of_the_subject_once_per_batch() {
        let token = |t: &str, exp: i64| {
            json!({"token": t, "type": "access", "clientId": "app", "expiresAt": exp,
                   "subject": "U2x", "email": "Alice@Example.com", "loginId": "alice"})
        };
        let (records, aliases) =
            parse_with_aliases(json!({"tokens": [token("a", 5_000), token("b", 9_000)]})).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(aliases.len(), 2);
        assert!(aliases
            .iter()
            .all(|a| a.subject == "U2x" && a.expires_at == 9_000));
        let err = parse(json!({"token": "t", "type": "access", "clientId": "app",
                               "expiresAt": 5_000, "email": "a@b.c"}))
        .unwrap_err();
        assert!(err.contains("email") && err.contains("subject"), "{err}");
        let err = parse(json!({"token": "t", "type": "access", "clientId": "app",
                               "expiresAt": 5_000, "subject": "s", "email": "nope"}))
        .unwrap_err();
        assert!(err.contains("email"), "{err}");
        let mut other = token("c", 5_000);
        other["subject"] = json!("U2y");
        let err = parse(json!({"tokens": [token("a", 5_000), other]})).unwrap_err();
        assert!(err.contains("two subjects"), "{err}");
    }

    fn base() -> Value {
        json!({"token": "tok", "type": "access", "clientId": "app", "expiresAt": 5_000})
    }

    #[test]
    fn a_single_token_and_a_batch() {
        let one = parse(base()).unwrap();
        assert_eq!(one[0].hash, TokenHash::of("tok"));
        assert_eq!(one[0].issued_at, 1_000);
        let mut second = base();
        second["token"] = json!("tok2");
        assert_eq!(parse(json!({"tokens": [base(), second]})).unwrap().len(), 2);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut v = base();
        v["sessionID"] = json!("s");
        assert!(parse(v).unwrap_err().contains("unknown field `sessionID`"));
        let mut v = base();
        v["tokenHash"] = json!(TokenHash::of("x").encoded());
        assert!(parse(v).unwrap_err().starts_with("token: send either"));
        let mut v = base();
        v["deviceId"] = json!("d");
        assert!(parse(v).unwrap_err().starts_with("deviceId:"));
        let mut v = base();
        v["expiresAt"] = json!(10);
        assert!(parse(v).unwrap_err().starts_with("expiresAt:"));
        assert!(parse(json!({"tokens": [base(), base()]}))
            .unwrap_err()
            .contains("tokens[1]: the same token"));
        assert!(parse(json!({"tokens": []}))
            .unwrap_err()
            .contains("1 to 25"));
    }
}
