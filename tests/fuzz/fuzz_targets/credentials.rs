//! Client credentials: an `Authorization` header (up to the first newline of the input)
//! and a form body (the rest). `basic_credentials` and `client_credentials` never panic,
//! and what they accept is well formed: a non-empty client id, a secret that is absent
//! rather than empty, Basic credentials marked as such and never combined with a secret
//! in the body.
#![no_main]

use lambda_http::http::Request as HttpRequest;
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;
use signoff_edge::oauth::{basic_credentials, client_credentials, Form};

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(creds) = basic_credentials(header) {
        assert!(creds.basic);
        assert!(!creds.client_id.is_empty());
        assert_ne!(creds.client_secret.as_deref(), Some(""));
    }
    let Ok(form) = Form::parse(body) else {
        return;
    };
    let mut builder = HttpRequest::builder()
        .method("POST")
        .uri("https://x/oauth2/revoke");
    if !header.is_empty() {
        builder = builder.header("authorization", header);
    }
    // Header values lambda_http cannot hold never reach the parser.
    let Ok(request) = builder.body(Body::Binary(body.to_vec())) else {
        return;
    };
    if let Ok(Some(creds)) = client_credentials(&request, &form) {
        assert!(!creds.client_id.is_empty());
        assert_ne!(creds.client_secret.as_deref(), Some(""));
        if creds.basic {
            assert!(form.get("client_secret").is_none());
            assert!(form.get("client_id").is_none_or(|id| id == creds.client_id));
        } else {
            assert_eq!(form.get("client_id"), Some(creds.client_id.as_str()));
            assert_eq!(form.get("client_secret"), creds.client_secret.as_deref());
        }
    }
});
