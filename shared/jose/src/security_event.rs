//! Security Event Tokens (RFC 8417) as the Shared Signals Framework 1.0 profiles them:
//! what an SSF receiver gets, pushed per RFC 8935, when a session or a user's sessions end
//! (CAEP 1.0 `session-revoked`), and the SSF verification event an operator sends to
//! check a stream.
//!
//! - Header: `typ` `secevent+jwt` (RFC 8417 section 2.3, SSF 1.0 section 4.1.1: explicit
//!   typing, so that a SET can never pass for an ID Token or access token), the signer's
//!   `alg` and `kid`.
//! - Claims: `iss`, `aud` (the receiver's audience), `iat`, `jti` (the caller's: the same
//!   for every attempt to deliver one event to one receiver, so that a receiver that got
//!   an attempt whose answer was lost recognises the retry as a duplicate, as RFC 8417
//!   section 2.2 lets it by `jti`),
//!   top-level `sub_id` (RFC 9493; SSF 1.0 section 3), and `events` with exactly one event
//!   (SSF 1.0 section 4.1.4 allows one per SET). No `exp` (RFC 8417 section 2.2: SETs
//!   omit it, one more thing ID Token validation rejects them for), no `sub`.
//! - `sub_id` is a complex subject (SSF 1.0 section 3.2): `user` (format `opaque`: the
//!   subject as the service knows it), `session` when one session ended, `application`
//!   (the client) when a client's tokens were cut off, `device` when a device's were
//!   revoked, and always `tenant`, so a receiver
//!   serving several of Signoff's tenants tells their users apart. What is absent is
//!   "every": without `session`, every session of the user (a logout-all); with
//!   `application` alone, every session at that client; with `tenant` alone, every
//!   session of the tenant.

use serde_json::{json, Map, Value};

use crate::sign::{sign_compact, JwsSigner, SignError};

/// The SET's `typ` header (RFC 8417 section 2.3).
pub const SECURITY_EVENT_TOKEN_TYPE: &str = "secevent+jwt";
/// The media type a SET is pushed as (RFC 8935 section 2).
pub const SECURITY_EVENT_MEDIA_TYPE: &str = "application/secevent+jwt";
/// CAEP 1.0 section 3.1.
pub const SESSION_REVOKED_EVENT: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// SSF 1.0 section 8.1.4.
pub const VERIFICATION_EVENT: &str =
    "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// The events Signoff transmits, as SSF names them; what a receiver may ask for.
pub const TRANSMITTED_EVENTS: [&str; 1] = [SESSION_REVOKED_EVENT];

/// One event for one receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityEvent<'a> {
    issuer: &'a str,
    audience: &'a str,
    sub_id: Value,
    event_type: &'static str,
    payload: Value,
}

/// A `session-revoked` names no user, session or application, and is not tenant-wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a session-revoked event names a user, a session, an application, or the whole tenant")]
pub struct NoSubject;

/// Whose sessions a `session-revoked` ends, within its tenant. Empty values count as
/// absent; a tenant-wide revocation must say so (`whole_tenant`), never follow from
/// fields left empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevokedSessions<'a> {
    pub user: Option<&'a str>,
    pub session: Option<&'a str>,
    pub application: Option<&'a str>,
    pub device: Option<&'a str>,
    pub whole_tenant: bool,
}

fn opaque(id: &str) -> Value {
    json!({ "format": "opaque", "id": id })
}

impl<'a> SecurityEvent<'a> {
    /// CAEP `session-revoked`: the sessions `revoked` names, of `tenant`, ended at
    /// `event_timestamp` (epoch seconds).
    pub fn session_revoked(
        issuer: &'a str,
        audience: &'a str,
        tenant: &str,
        revoked: RevokedSessions<'_>,
        event_timestamp: i64,
    ) -> Result<Self, NoSubject> {
        let present = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        let members = [
            ("user", present(revoked.user)),
            ("session", present(revoked.session)),
            ("application", present(revoked.application)),
            ("device", present(revoked.device)),
        ];
        if members.iter().all(|(_, v)| v.is_none()) && !revoked.whole_tenant {
            return Err(NoSubject);
        }
        let mut sub_id = Map::new();
        sub_id.insert("format".into(), "complex".into());
        for (name, value) in members {
            if let Some(value) = value {
                sub_id.insert(name.into(), opaque(&value));
            }
        }
        sub_id.insert("tenant".into(), opaque(tenant));
        Ok(Self {
            issuer,
            audience,
            sub_id: Value::Object(sub_id),
            event_type: SESSION_REVOKED_EVENT,
            payload: json!({ "event_timestamp": event_timestamp }),
        })
    }

    /// SSF verification: the stream `stream_id` (the receiver's id) carries events, and
    /// `state`, when given, is echoed for the receiver to match (SSF 1.0 section 8.1.4.1).
    pub fn verification(
        issuer: &'a str,
        audience: &'a str,
        stream_id: &str,
        state: Option<&str>,
    ) -> Self {
        let payload = match state.filter(|s| !s.is_empty()) {
            Some(state) => json!({ "state": state }),
            None => json!({}),
        };
        Self {
            issuer,
            audience,
            sub_id: opaque(stream_id),
            event_type: VERIFICATION_EVENT,
            payload,
        }
    }

    /// The claims, issued at `iat` (epoch seconds) as `jti`.
    pub fn claims(&self, iat: i64, jti: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.into());
        claims.insert("aud".into(), self.audience.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("jti".into(), jti.into());
        claims.insert("sub_id".into(), self.sub_id.clone());
        let mut events = Map::new();
        events.insert(self.event_type.into(), self.payload.clone());
        claims.insert("events".into(), Value::Object(events));
        claims
    }

    /// The signed SET: a compact JWS with `typ` `secevent+jwt`.
    pub async fn sign<S: JwsSigner>(
        &self,
        signer: &S,
        iat: i64,
        jti: &str,
    ) -> Result<String, SignError> {
        sign_compact(
            signer,
            &json!({ "typ": SECURITY_EVENT_TOKEN_TYPE }),
            &Value::Object(self.claims(iat, jti)),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_revoked_names_its_user_session_and_tenant_and_never_expires() {
        let revoked = |user, session| RevokedSessions {
            user,
            session,
            ..RevokedSessions::default()
        };
        assert_eq!(
            SecurityEvent::session_revoked("https://op", "rx", "t", revoked(Some(""), None), 1),
            Err(NoSubject)
        );
        let event = SecurityEvent::session_revoked(
            "https://op",
            "https://rx",
            "t1",
            revoked(Some("alice"), Some("s1")),
            1_700,
        )
        .unwrap();
        let claims = event.claims(1_800, "j-1");
        assert_eq!(claims["iss"], "https://op");
        assert_eq!(claims["aud"], "https://rx");
        assert_eq!(claims["iat"], 1_800);
        assert!(!claims.contains_key("exp") && !claims.contains_key("sub"));
        assert_eq!(
            claims["sub_id"],
            json!({
                "format": "complex",
                "user": {"format": "opaque", "id": "alice"},
                "session": {"format": "opaque", "id": "s1"},
                "tenant": {"format": "opaque", "id": "t1"},
            })
        );
        assert_eq!(
            claims["events"],
            json!({SESSION_REVOKED_EVENT: {"event_timestamp": 1_700}})
        );
        // Every session of a user: no session member.
        let all = SecurityEvent::session_revoked(
            "https://op",
            "rx",
            "t1",
            revoked(Some("alice"), None),
            1,
        )
        .unwrap()
        .claims(2, "j-1");
        assert!(all["sub_id"].get("session").is_none());
        assert_eq!(all["jti"], "j-1");
        // A client's cutoff: every session at the application; a tenant's: the tenant alone,
        // and only when said so.
        let client = RevokedSessions {
            application: Some("web"),
            ..RevokedSessions::default()
        };
        let claims = SecurityEvent::session_revoked("https://op", "rx", "t1", client, 1)
            .unwrap()
            .claims(2, "j-1");
        assert_eq!(
            claims["sub_id"],
            json!({"format": "complex", "application": {"format": "opaque", "id": "web"},
                   "tenant": {"format": "opaque", "id": "t1"}})
        );
        let tenant = RevokedSessions {
            whole_tenant: true,
            ..RevokedSessions::default()
        };
        let claims = SecurityEvent::session_revoked("https://op", "rx", "t1", tenant, 1)
            .unwrap()
            .claims(2, "j-1");
        assert_eq!(
            claims["sub_id"],
            json!({"format": "complex", "tenant": {"format": "opaque", "id": "t1"}})
        );
        assert_eq!(
            SecurityEvent::session_revoked("https://op", "rx", "t1", RevokedSessions::default(), 1),
            Err(NoSubject)
        );
    }

    #[test]
    fn a_verification_names_the_stream_and_echoes_its_state() {
        let claims = SecurityEvent::verification("https://op", "rx", "stream-1", Some("abc"))
            .claims(5, "j-1");
        assert_eq!(
            claims["sub_id"],
            json!({"format": "opaque", "id": "stream-1"})
        );
        assert_eq!(
            claims["events"],
            json!({VERIFICATION_EVENT: {"state": "abc"}})
        );
        let bare =
            SecurityEvent::verification("https://op", "rx", "stream-1", None).claims(5, "j-1");
        assert_eq!(bare["events"], json!({VERIFICATION_EVENT: {}}));
    }

    #[cfg(feature = "signing")]
    #[tokio::test]
    async fn the_signed_set_is_typed_and_verifies_with_the_published_key() {
        let key = crate::SigningKey::generate(crate::Algorithm::Es256, Some("k1")).unwrap();
        let token = SecurityEvent::verification("https://op", "rx", "s", None)
            .sign(&key, 1_800_000_000, "j-1")
            .await
            .unwrap();
        assert_eq!(
            crate::tests::header_of(&token),
            json!({"typ": "secevent+jwt", "alg": "ES256", "kid": "k1"})
        );
        let claims = crate::VerifyingKeySet::new(&[key.public_jwk()])
            .verify_jws(&token)
            .unwrap();
        assert_eq!(claims["aud"], "rx");
    }
}
