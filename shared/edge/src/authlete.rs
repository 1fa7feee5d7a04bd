//! What the functions that speak Authlete's API share: how a refused API credential is
//! answered (Authlete's `A001xxx` codes, the same on every API) and how result messages
//! are written (`[Axxxxxx] text`).

use lambda_http::http::StatusCode;

use crate::request::AuthError;

/// Authlete's answer to a request whose API credential is refused: status, result code
/// and message. `None` for store trouble, which each API answers in its own family.
/// Codes Authlete documents (`A001202`) are used as they are; the others follow its
/// scheme and are listed in docs/native-sso.md.
pub fn credential_refusal(err: &AuthError) -> Option<(StatusCode, &'static str, &'static str)> {
    Some(match err {
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            "A001202",
            "Authorization header is missing.",
        ),
        AuthError::Malformed => (
            StatusCode::UNAUTHORIZED,
            "A001204",
            "Authorization header is malformed: expected 'Bearer <access token>'.",
        ),
        AuthError::Dpop => (
            StatusCode::UNAUTHORIZED,
            "A001204",
            "DPoP-bound access tokens are not supported: send 'Bearer <access token>'.",
        ),
        AuthError::Unknown => (
            StatusCode::UNAUTHORIZED,
            "A001203",
            "The access token is invalid.",
        ),
        AuthError::Forbidden => (
            StatusCode::FORBIDDEN,
            "A001205",
            "The access token is not permitted to call APIs of this service.",
        ),
        AuthError::Store(_) => return None,
    })
}

/// An Authlete result message: the code in brackets, then the text.
pub fn result_message(code: &str, text: &str) -> String {
    format!("[{code}] {text}")
}

/// `text` as a sentence: capitalised, with a full stop (error `Display`s are lower-case
/// phrases).
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_capitalised_and_stopped() {
        assert_eq!(sentence("the body is bad"), "The body is bad.");
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence(""), ".");
    }
}
