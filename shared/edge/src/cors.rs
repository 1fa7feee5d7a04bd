//! CORS for endpoints that browser apps call directly (RFC 7009 2.3 allows it for token
//! revocation). The function answers preflights itself, so the allowed origins are a
//! function setting, not an API Gateway one; no cookies are involved, so credentials mode
//! is never allowed.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Which origins may call. Browsers send the origin as `scheme://host[:port]`, lower case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No CORS headers at all: browsers refuse cross-origin calls.
    #[default]
    Disabled,
    /// `*`: any origin.
    AnyOrigin,
    /// Exactly these origins.
    Origins(Vec<String>),
}

/// Methods and request headers a preflight allows.
const ALLOW_METHODS: &str = "POST";
const ALLOW_HEADERS: &str = "authorization, content-type";
/// Response headers a browser app may read (the retry delay and the auth challenge).
const EXPOSE_HEADERS: &str = "retry-after, www-authenticate";
/// How long a browser may cache a preflight answer (seconds).
const MAX_AGE: &str = "600";

impl CorsPolicy {
    /// Parses a comma-separated list of origins (`https://app.example.com,
    /// http://localhost:3000`), or `*`; empty means [`CorsPolicy::Disabled`].
    pub fn parse(list: &str) -> Result<Self, &'static str> {
        let origins: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if origins.is_empty() {
            return Ok(CorsPolicy::Disabled);
        }
        if origins.iter().any(|o| o == "*") {
            return if origins.len() == 1 {
                Ok(CorsPolicy::AnyOrigin)
            } else {
                Err("'*' cannot be combined with other origins")
            };
        }
        if !origins.iter().all(|o| valid_origin(o)) {
            return Err(
                "each origin is scheme://host[:port] (http or https, no path, no trailing slash)",
            );
        }
        Ok(CorsPolicy::Origins(origins))
    }

    /// The `Access-Control-Allow-Origin` value for this request, if its origin may call.
    fn allowed_origin(&self, request: &Request) -> Option<HeaderValue> {
        let origin = request.headers().get(header::ORIGIN)?;
        match self {
            CorsPolicy::Disabled => None,
            CorsPolicy::AnyOrigin => Some(HeaderValue::from_static("*")),
            CorsPolicy::Origins(allowed) => {
                let text = origin.to_str().ok()?.to_ascii_lowercase();
                allowed.contains(&text).then(|| origin.clone())
            }
        }
    }

    /// The answer to an `OPTIONS` request: 204 with `Allow`, plus the CORS headers when the
    /// origin may call and asks for POST. A refused preflight gets no CORS headers, which
    /// is how a browser learns it may not send the request.
    pub fn preflight(&self, request: &Request) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("OPTIONS, POST"));
        let asks_for_post = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| m.as_bytes() == Method::POST.as_str().as_bytes());
        if asks_for_post {
            if let Some(origin) = self.allowed_origin(request) {
                let headers = response.headers_mut();
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOW_HEADERS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE),
                );
            }
        }
        self.vary(&mut response);
        response
    }

    /// Adds the CORS headers of an actual (non-preflight) response, whatever its status: a
    /// browser app must be able to read errors too.
    pub fn decorate(&self, request: &Request, response: &mut Response<Body>) {
        if let Some(origin) = self.allowed_origin(request) {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
        self.vary(response);
    }

    /// Whether the request may come from where it says: no `Origin` (not a browser's
    /// cross-origin request), or an allowed one. For endpoints that take requests without
    /// credentials, which a browser would otherwise send cross-site on any page's behalf.
    pub fn admits(&self, request: &Request) -> bool {
        request.headers().get(header::ORIGIN).is_none() || self.allowed_origin(request).is_some()
    }

    /// Whenever CORS is on the answer depends on the request's `Origin` (`*` too: it is
    /// sent only to requests that carry one): say so to caches.
    fn vary(&self, response: &mut Response<Body>) {
        if !matches!(self, CorsPolicy::Disabled) {
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}

fn valid_origin(origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = HttpRequest::builder()
            .method(method)
            .uri("https://x/oauth2/revoke");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn parses_origin_lists() {
        assert_eq!(CorsPolicy::parse(""), Ok(CorsPolicy::Disabled));
        assert_eq!(CorsPolicy::parse(" , "), Ok(CorsPolicy::Disabled));
        assert_eq!(CorsPolicy::parse("*"), Ok(CorsPolicy::AnyOrigin));
        assert_eq!(
            CorsPolicy::parse("https://App.example.com, http://localhost:3000"),
            Ok(CorsPolicy::Origins(vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into()
            ]))
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://a.example.com/path",
            "*,https://a.example.com",
            "ftp://a.example.com",
            "https://",
        ] {
            assert!(CorsPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn preflights_from_allowed_origins_get_the_cors_headers() {
        let policy = CorsPolicy::parse("https://app.example.com").unwrap();
        let allowed = request(
            "OPTIONS",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
        );
        let response = policy.preflight(&allowed);
        assert_eq!(response.status(), 204);
        let h = response.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], "POST");
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type"
        );
        assert_eq!(h["vary"], "origin");
        assert!(h.get("access-control-allow-credentials").is_none());

        for refused in [
            request(
                "OPTIONS",
                &[
                    ("origin", "https://evil.example.com"),
                    ("access-control-request-method", "POST"),
                ],
            ),
            request(
                "OPTIONS",
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "DELETE"),
                ],
            ),
        ] {
            let response = policy.preflight(&refused);
            assert_eq!(response.status(), 204);
            assert!(response
                .headers()
                .get("access-control-allow-origin")
                .is_none());
        }
    }

    #[test]
    fn responses_are_decorated_only_for_allowed_origins() {
        let decorate = |policy: &CorsPolicy, origin: Option<&str>| {
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            let mut response = Response::new(Body::Empty);
            policy.decorate(&request("POST", &headers), &mut response);
            response
        };
        let list = CorsPolicy::parse("https://app.example.com").unwrap();
        let r = decorate(&list, Some("https://app.example.com"));
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(
            r.headers()["access-control-expose-headers"],
            "retry-after, www-authenticate"
        );
        let r = decorate(&list, Some("https://other.example.com"));
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert_eq!(r.headers()["vary"], "origin");
        let r = decorate(&CorsPolicy::AnyOrigin, Some("https://any.example.com"));
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(r.headers()["vary"], "origin");
        let r = decorate(&CorsPolicy::Disabled, Some("https://app.example.com"));
        assert!(r.headers().is_empty());
        let r = decorate(&CorsPolicy::AnyOrigin, None);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }

    #[test]
    fn requests_without_an_origin_or_from_an_allowed_one_are_admitted() {
        let list = CorsPolicy::parse("https://app.example.com").unwrap();
        let from = |origin: Option<&str>| {
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            request("POST", &headers)
        };
        assert!(list.admits(&from(None)));
        assert!(list.admits(&from(Some("https://app.example.com"))));
        assert!(!list.admits(&from(Some("https://evil.example.com"))));
        assert!(!CorsPolicy::Disabled.admits(&from(Some("https://app.example.com"))));
        assert!(CorsPolicy::AnyOrigin.admits(&from(Some("https://evil.example.com"))));
    }
}
