//! What the functions that speak Authlete's API share: how a refused API credential is
//! answered (Authlete's `A001xxx` codes, the same on every API), how result messages
//! are written (`[Axxxxxx] text`) and how a client id becomes Authlete's client number.

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

/// Authlete's client number for a client id: the id itself when it is a number written
/// the canonical way (no sign, no leading zero), else `None`, and Authlete's answers give
/// 0 with the id as `clientIdAlias`.
pub fn client_number(client_id: &str) -> Option<i64> {
    let canonical = client_id == "0" || !client_id.starts_with(['+', '-', '0']);
    client_id.parse::<i64>().ok().filter(|_| canonical)
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

    #[test]
    fn only_canonical_numbers_are_client_numbers() {
        assert_eq!(client_number("26888344961664"), Some(26_888_344_961_664));
        assert_eq!(client_number("0"), Some(0));
        for alias in ["web", "007", "+5", "-5", "", "99999999999999999999"] {
            assert_eq!(client_number(alias), None, "{alias}");
        }
    }
}
