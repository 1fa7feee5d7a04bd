//! Logout tokens of OpenID Connect Back-Channel Logout 1.0 incorporating errata set 1
//! (section 2.4, "Logout Token"): what a relying party receives, as a form
//! `logout_token=...` POST to its `backchannel_logout_uri`, when a session or a user it
//! knows has been logged out.
//!
//! - Header: `typ` `logout+jwt` (section 2.4 recommends it, so that a logout token can
//!   never pass for an ID Token), and the signer's `alg` and `kid`.
//! - Claims: `iss`, `aud` (the client), `iat`, `exp` (REQUIRED since errata 1, and at most
//!   two minutes ahead, as it recommends), `jti` (128 random bits, so that a receiver's
//!   replay check refuses a second use but never a fresh token), `events` with the
//!   back-channel logout event and an empty object, and `sid`, `sub` or both. Never
//!   `nonce` (section 2.4 forbids it).
//!
//! A token is minted per delivery attempt: a receiver that checks `jti` for replays (Apache
//! mod_auth_openidc keeps them about 20 minutes) would refuse a resent one, and `exp` is
//! short.

use serde_json::{json, Map, Value};

use crate::sign::{sign_compact, JwsSigner, SignError};

/// The logout token's `typ` header.
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// The event member every logout token's `events` claim holds.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token lives: errata 1 recommends "preferably at most two minutes".
pub const LOGOUT_TOKEN_LIFETIME_SECONDS: i64 = 120;

/// What a logout token says: who logged out, for which client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutToken<'a> {
    issuer: &'a str,
    client_id: &'a str,
    subject: Option<&'a str>,
    session_id: Option<&'a str>,
}

/// A logout token names no one: section 2.4 requires `sub`, `sid` or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a logout token names a subject, a session or both")]
pub struct NoOneLoggedOut;

impl<'a> LogoutToken<'a> {
    /// The token telling `client_id` that `session_id` (the OP's `sid`), or every session
    /// of `subject` when there is no session, was logged out at `issuer`. Empty values
    /// count as absent.
    pub fn new(
        issuer: &'a str,
        client_id: &'a str,
        subject: Option<&'a str>,
        session_id: Option<&'a str>,
    ) -> Result<Self, NoOneLoggedOut> {
        let subject = subject.filter(|s| !s.is_empty());
        let session_id = session_id.filter(|s| !s.is_empty());
        if subject.is_none() && session_id.is_none() {
            return Err(NoOneLoggedOut);
        }
        Ok(Self {
            issuer,
            client_id,
            subject,
            session_id,
        })
    }

    /// The claims at `now` (epoch seconds), with a fresh `jti`.
    pub fn claims(&self, now: i64) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.into());
        claims.insert("aud".into(), self.client_id.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + LOGOUT_TOKEN_LIFETIME_SECONDS).into());
        claims.insert("jti".into(), fresh_jti().into());
        claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        if let Some(subject) = self.subject {
            claims.insert("sub".into(), subject.into());
        }
        if let Some(session_id) = self.session_id {
            claims.insert("sid".into(), session_id.into());
        }
        claims
    }

    /// The signed token at `now`: a compact JWS with `typ` `logout+jwt`.
    pub async fn sign<S: JwsSigner>(&self, signer: &S, now: i64) -> Result<String, SignError> {
        sign_compact(
            signer,
            &json!({ "typ": LOGOUT_TOKEN_TYPE }),
            &Value::Object(self.claims(now)),
        )
        .await
    }
}

/// 128 random bits, unpadded base64url.
fn fresh_jti() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_a_subject_a_session_or_both_and_never_a_nonce() {
        assert_eq!(
            LogoutToken::new("https://op", "app", None, None),
            Err(NoOneLoggedOut)
        );
        assert_eq!(
            LogoutToken::new("https://op", "app", Some(""), Some("")),
            Err(NoOneLoggedOut)
        );
        let now = 1_800_000_000;
        let user = LogoutToken::new("https://op", "app", Some("alice"), None).unwrap();
        let claims = user.claims(now);
        assert_eq!(claims["iss"], "https://op");
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 120);
        assert_eq!(claims["sub"], "alice");
        assert!(!claims.contains_key("sid"));
        assert!(!claims.contains_key("nonce"));
        assert_eq!(claims["events"], json!({BACKCHANNEL_LOGOUT_EVENT: {}}));
        let session = LogoutToken::new("https://op", "app", Some("alice"), Some("s1")).unwrap();
        let claims = session.claims(now);
        assert_eq!(
            (claims["sub"].as_str(), claims["sid"].as_str()),
            (Some("alice"), Some("s1"))
        );
        let session_only = LogoutToken::new("https://op", "app", None, Some("s1")).unwrap();
        assert!(!session_only.claims(now).contains_key("sub"));
    }

    #[test]
    fn every_token_gets_its_own_jti() {
        let token = LogoutToken::new("https://op", "app", Some("alice"), None).unwrap();
        let jtis: std::collections::HashSet<String> = (0..100)
            .map(|_| token.claims(0)["jti"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(jtis.len(), 100);
        assert!(jtis.iter().all(|jti| jti.len() == 22));
    }

    #[cfg(feature = "signing")]
    #[tokio::test]
    async fn the_signed_token_is_typed_and_verifies_with_the_published_key() {
        let key = crate::SigningKey::generate(crate::Algorithm::Es256, Some("k1")).unwrap();
        let token = LogoutToken::new("https://op", "app", None, Some("s1"))
            .unwrap()
            .sign(&key, 1_800_000_000)
            .await
            .unwrap();
        assert_eq!(
            crate::tests::header_of(&token),
            json!({"typ": "logout+jwt", "alg": "ES256", "kid": "k1"})
        );
        let claims = crate::VerifyingKeySet::new(&[key.public_jwk()])
            .verify_jws(&token)
            .unwrap();
        assert_eq!(claims["sid"], "s1");
    }
}
