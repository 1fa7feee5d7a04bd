//! Bearer headers: `signoff_edge::request::bearer_token` and the Descope split
//! (`Bearer <ProjectID>:<RefreshJWT>[:<key>]`, `signoff_descope::project_and_jwt`) on an
//! arbitrary `Authorization` value never panic, and what they return is part of the
//! header: a non-empty token without surrounding whitespace; a project id that is a valid
//! tenant id and a JWT without ':'.
#![no_main]

use lambda_http::http::Request as HttpRequest;
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use signoff_edge::request::bearer_token;
use signoff_store::item_key::valid_tenant_id;

fuzz_target!(|data: &[u8]| {
    let Ok(request): Result<Request, _> = HttpRequest::builder()
        .method("POST")
        .uri("https://x/v1/auth/logout")
        .header("authorization", data)
        .body(Body::Empty)
    else {
        return;
    };
    let header = std::str::from_utf8(data).ok();
    if let Ok(token) = bearer_token(&request) {
        let header = header.expect("a token comes from a UTF-8 header");
        assert!(!token.is_empty());
        assert_eq!(token, token.trim());
        assert!(header.contains(token));
    }
    if let Ok((project, jwt)) = signoff_descope::project_and_jwt(&request) {
        let token = bearer_token(&request).expect("the Descope split reads a bearer token");
        assert!(valid_tenant_id(project));
        assert!(!jwt.is_empty() && !jwt.contains(':'));
        assert!(token.starts_with(&format!("{project}:{jwt}")));
    }
});
