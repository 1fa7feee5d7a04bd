//! Where a client hears of logouts: the client metadata of OpenID Connect Back-Channel
//! Logout 1.0 (section 2.2), `backchannel_logout_uri` and
//! `backchannel_logout_session_required`, kept on the client's item
//! (`client#<tenant>#<id>`) and set by an operator (`signoff-admin set-backchannel-logout`).
//!
//! The URI is checked when it is set, so that nothing is ever sent where it should not go:
//! absolute, `https` (or `http` to a loopback host, for a receiver on the same machine;
//! section 2.2 allows `http` for confidential clients, and Signoff allows it no further),
//! no fragment (section 2.2 forbids one), no user name or password (a credential in a URI
//! would be stored and logged in the clear), at most [`MAX_URI_BYTES`].

use aws_sdk_dynamodb::types::AttributeValue;

use crate::credentials::ProvisionError;
use crate::error::StoreError;
use crate::item_key;
use crate::model::FieldError;
use crate::Store;

/// Longest `backchannel_logout_uri` accepted.
pub const MAX_URI_BYTES: usize = 2_048;

const URI: &str = "backchannel_logout_uri";
const SESSION_REQUIRED: &str = "backchannel_logout_session_required";

/// A client's back-channel logout registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackchannelLogout {
    /// Where logout tokens are POSTed.
    pub uri: String,
    /// Whether the client needs `sid` in every logout token (section 2.2): a logout that
    /// knows no session (a user logged out everywhere) then names each of the user's
    /// sessions the client held tokens in.
    pub session_required: bool,
}

impl BackchannelLogout {
    /// A registration, with `uri` checked (see the module documentation).
    pub fn new(uri: &str, session_required: bool) -> Result<Self, FieldError> {
        let invalid = |reason: &str| FieldError::new("backchannelLogoutUri", reason);
        if uri.len() > MAX_URI_BYTES {
            return Err(invalid(&format!("must be at most {MAX_URI_BYTES} bytes")));
        }
        let parsed = url::Url::parse(uri).map_err(|_| invalid("must be an absolute URL"))?;
        let loopback = match parsed.host() {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(invalid("must name a host")),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(invalid("must use https (http only to a loopback host)")),
            _ => return Err(invalid("must be an https URL")),
        }
        if parsed.fragment().is_some() {
            return Err(invalid(
                "must not have a fragment (OpenID Connect Back-Channel Logout 1.0, section 2.2)",
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("must not carry a user name or password"));
        }
        Ok(Self {
            uri: uri.to_owned(),
            session_required,
        })
    }
}

/// What a tenant's client says about back-channel logout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientLogout {
    /// The tenant has no such client.
    UnknownClient,
    /// The client has no `backchannel_logout_uri`.
    NotRegistered,
    Registered(BackchannelLogout),
}

impl Store {
    /// Registers (`Some`) or removes (`None`) the back-channel logout of an existing
    /// client of `tenant`: one conditional UpdateItem.
    pub async fn set_backchannel_logout(
        &self,
        tenant: &str,
        client_id: &str,
        logout: Option<&BackchannelLogout>,
    ) -> Result<(), ProvisionError> {
        if let Some(logout) = logout {
            // Whoever built it may not have gone through `new`.
            BackchannelLogout::new(&logout.uri, logout.session_required)?;
        }
        self.update_client(tenant, client_id, |update| {
            let update = update
                .expression_attribute_names("#uri", URI)
                .expression_attribute_names("#required", SESSION_REQUIRED);
            Ok(match logout {
                Some(logout) => update
                    .update_expression("SET #uri = :uri, #required = :required")
                    .expression_attribute_values(":uri", AttributeValue::S(logout.uri.clone()))
                    .expression_attribute_values(
                        ":required",
                        AttributeValue::Bool(logout.session_required),
                    ),
                None => update.update_expression("REMOVE #uri, #required"),
            })
        })
        .await
    }

    /// The back-channel logout registration of client `client_id` of `tenant` (one
    /// strongly consistent GetItem).
    pub async fn client_logout(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<ClientLogout, StoreError> {
        if !item_key::valid_tenant_id(tenant)
            || crate::model::check_identifier("clientId", client_id, crate::model::MAX_ID_BYTES)
                .is_err()
        {
            return Ok(ClientLogout::UnknownClient);
        }
        let Some(item) = self
            .get_item(item_key::client_pk(tenant, client_id), true)
            .await?
        else {
            return Ok(ClientLogout::UnknownClient);
        };
        let Some(uri) = item.get(URI).and_then(|v| v.as_s().ok()) else {
            return Ok(ClientLogout::NotRegistered);
        };
        let session_required =
            matches!(item.get(SESSION_REQUIRED), Some(AttributeValue::Bool(true)));
        Ok(ClientLogout::Registered(BackchannelLogout {
            uri: uri.clone(),
            session_required,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_without_fragment_or_credentials_is_accepted() {
        for good in [
            "https://app.example/logout",
            "https://app.example:8443/bcl?tenant=a&x=1",
            "http://localhost:3000/logout",
            "http://127.0.0.1/logout",
            "http://[::1]:9/logout",
        ] {
            assert!(BackchannelLogout::new(good, false).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/logout",
            "app.example/logout",
            "http://app.example/logout",
            "ftp://app.example/logout",
            "https://app.example/logout#frag",
            "https://user:pass@app.example/logout",
            "https://user@app.example/logout",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            let err = BackchannelLogout::new(bad, false).unwrap_err();
            assert_eq!(err.field, "backchannelLogoutUri", "{bad}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_BYTES));
        assert!(BackchannelLogout::new(&long, false).is_err());
    }
}
