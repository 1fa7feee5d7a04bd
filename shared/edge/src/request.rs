//! Request parsing shared by the HTTP functions: JSON bodies and bearer credentials (path
//! parameters come from [`crate::route`]). Each function maps these errors onto its
//! vendor's error shape in one place.

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Map, Value};

use signoff_store::credentials::Authorization;
use signoff_store::{Store, StoreError};

/// The public base URL of what this deployment serves: `configured`
/// (`SIGNOFF_PUBLIC_BASE_URL`), else the one API Gateway was called at (its domain name
/// and, unless `$default`, its stage), which a client cannot choose. `None` where neither
/// is known (a local run without the variable).
pub fn public_base_url(configured: Option<&str>, request: &Request) -> Option<String> {
    if let Some(base) = configured {
        return Some(base.to_owned());
    }
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return None;
    };
    let domain = context.domain_name.as_deref().filter(|d| !d.is_empty())?;
    match context.stage.as_deref() {
        Some(stage) if !stage.is_empty() && stage != "$default" => {
            Some(format!("https://{domain}/{stage}"))
        }
        _ => Some(format!("https://{domain}")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body is not valid JSON")]
    Malformed,
    #[error("the request body must be a JSON object")]
    NotAnObject,
}

/// Why a caller may not act on a tenant. Each function maps these onto its vendor's
/// statuses and codes.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header at all.
    #[error("the Authorization header is missing")]
    Missing,
    /// A header that is not `Bearer <token>` (wrong scheme, no token, not ASCII).
    #[error("the Authorization header is not 'Bearer <token>'")]
    Malformed,
    /// `DPoP <token>`: sender-constrained credentials are not supported.
    #[error("DPoP-bound credentials are not supported")]
    Dpop,
    /// No such credential (or a revoked one).
    #[error("the credential is unknown")]
    Unknown,
    /// A real credential, but not for this tenant (or no such tenant).
    #[error("the credential is not permitted for this tenant")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that the request's bearer credential may act on `tenant`.
pub async fn authorize(store: &Store, request: &Request, tenant: &str) -> Result<(), AuthError> {
    let token = bearer_token(request)?;
    match store.authorize(token, tenant).await? {
        Authorization::Granted => Ok(()),
        Authorization::UnknownCredential => Err(AuthError::Unknown),
        Authorization::Forbidden => Err(AuthError::Forbidden),
    }
}

/// The request body as bytes (API Gateway's base64 bodies arrive decoded as binary).
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // Body is non-exhaustive; a kind we do not know is treated as no body.
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// Parses a JSON object body of at most `limit` bytes. An empty body is `Ok(None)`, so the
/// caller can say which field is missing rather than that the JSON is bad.
pub fn json_object(
    request: &Request,
    limit: usize,
) -> Result<Option<Map<String, Value>>, BodyError> {
    if !is_json_content_type(request) && !is_blank(body_bytes(request)) {
        return Err(BodyError::UnsupportedMediaType);
    }
    json_object_of_any_type(request, limit)
}

/// [`json_object`] for APIs whose clients do not reliably label their JSON (`curl -d '{}'`
/// sends it as a form): the body is read as JSON whatever its Content-Type.
pub fn json_object_of_any_type(
    request: &Request,
    limit: usize,
) -> Result<Option<Map<String, Value>>, BodyError> {
    let bytes = body_bytes(request);
    if is_blank(bytes) {
        return Ok(None);
    }
    if bytes.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(_) => Err(BodyError::Malformed),
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

fn is_json_content_type(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(request: &Request) -> Result<&str, AuthError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("dpop") {
        return Err(AuthError::Dpop);
    }
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = HttpRequest::builder()
            .method("POST")
            .uri("https://x/api/42/nativesso/logout");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.into())).unwrap()
    }

    #[test]
    fn json_bodies() {
        let ok = json_object(
            &request(Some("application/json; charset=utf-8"), r#"{"a":1}"#),
            100,
        );
        assert_eq!(ok.unwrap().unwrap()["a"], 1);
        assert_eq!(json_object(&request(None, "  "), 100), Ok(None));
        assert_eq!(
            json_object(&request(Some("text/plain"), "{}"), 100),
            Err(BodyError::UnsupportedMediaType)
        );
        assert_eq!(
            json_object(&request(Some("application/json"), "{"), 100),
            Err(BodyError::Malformed)
        );
        assert_eq!(
            json_object(&request(Some("application/json"), "[1]"), 100),
            Err(BodyError::NotAnObject)
        );
        assert_eq!(
            json_object(
                &request(
                    Some("application/json"),
                    &" ".repeat(101).replace("  ", "{}")
                ),
                100
            ),
            Err(BodyError::TooLarge { limit: 100 })
        );
    }

    #[test]
    fn bearer_tokens() {
        let with = |v: &str| {
            HttpRequest::builder()
                .header("authorization", v)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(bearer_token(&with("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&with("bearer  abc ")).unwrap(), "abc");
        assert!(matches!(
            bearer_token(&with("Basic abc")),
            Err(AuthError::Malformed)
        ));
        assert!(matches!(
            bearer_token(&with("Bearer ")),
            Err(AuthError::Malformed)
        ));
        assert!(matches!(
            bearer_token(&with("DPoP abc")),
            Err(AuthError::Dpop)
        ));
        let none = HttpRequest::builder().body(Body::Empty).unwrap();
        assert!(matches!(bearer_token(&none), Err(AuthError::Missing)));
    }
}
