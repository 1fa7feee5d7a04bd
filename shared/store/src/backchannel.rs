//! Where a client hears of logouts: the client metadata of OpenID Connect Back-Channel
//! Logout 1.0 (section 2.2), `backchannel_logout_uri` and
//! `backchannel_logout_session_required`, kept on the client's item
//! (`client#<tenant>#<id>`) and set by an operator (`signoff-admin set-backchannel-logout`).
//!
//! The URI is checked when it is set, so that nothing is ever sent where it should not go,
//! and stored as the URL parser writes it (IDN hosts in punycode), so that every reader
//! sees the same host:
//!
//! - written as `https://host...` literally: no whitespace, control characters or `\`,
//!   which parsers disagree about;
//! - `https` only. Section 2.2 would allow `http` for a confidential client; a logout token
//!   sent in the clear can be replayed for its two minutes. [`Reach::Loopback`] (the
//!   admin tool's `--allow-loopback`, for a receiver on the same machine) also admits
//!   `http` to `localhost`, `127.0.0.1` or `[::1]`;
//! - no IP address that is not public (loopback, private, link-local, shared, unspecified,
//!   multicast, unique-local, and IPv4-mapped forms of these), unless loopback is allowed
//!   and it is loopback. A host *name* is only checked for what it says; where it resolves
//!   is for delivery to check when it connects;
//! - no fragment (section 2.2 forbids one), no user name or password (a credential in a
//!   URI would be stored and logged in the clear), at most [`MAX_URI_BYTES`].

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

/// Which hosts a back-channel logout URI may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Public hosts over https: what a deployment accepts.
    Public,
    /// Also loopback over http or https, for a receiver on the same machine (local runs).
    Loopback,
}

/// A receiver's URI (a client's logout URI, an SSF receiver's push endpoint), checked
/// against a [`Reach`] as the module documentation says, stored as the URL parser writes
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverUri(String);

impl ReceiverUri {
    /// `uri` checked against `reach`; a refusal names `field`.
    pub fn new(uri: &str, field: &'static str, reach: Reach) -> Result<Self, FieldError> {
        let invalid = |reason: &str| FieldError::new(field, reason);
        if uri.len() > MAX_URI_BYTES {
            return Err(invalid(&format!("must be at most {MAX_URI_BYTES} bytes")));
        }
        if uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(invalid(
                "must not contain whitespace, control characters or backslashes",
            ));
        }
        let lower = uri.to_ascii_lowercase();
        let plain = lower.starts_with("http://");
        if !lower.starts_with("https://") && !plain {
            return Err(invalid("must be an absolute https URL (https://host/...)"));
        }
        let parsed = url::Url::parse(uri).map_err(|_| invalid("must be an absolute URL"))?;
        let loopback = match parsed.host() {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(invalid("must name a host")),
        };
        let local_allowed = loopback && reach == Reach::Loopback;
        if plain && !local_allowed {
            return Err(invalid("must use https"));
        }
        let public_address = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => is_public_address(ip.into()),
            Some(url::Host::Ipv6(ip)) => is_public_address(ip.into()),
            _ => !loopback,
        };
        if !public_address && !local_allowed {
            return Err(invalid(
                "must name a public host, not a loopback, private or link-local one",
            ));
        }
        if parsed.fragment().is_some() {
            return Err(invalid("must not have a fragment"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("must not carry a user name or password"));
        }
        Ok(Self(parsed.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A URI read back from the table, checked when it was stored.
    pub(crate) fn stored(uri: String) -> Self {
        Self(uri)
    }

    /// Whether the URI names this machine (`localhost` or a loopback address), which only
    /// [`Reach::Loopback`] admits: delivery may then connect to loopback addresses.
    pub fn names_loopback(&self) -> bool {
        match url::Url::parse(&self.0)
            .ok()
            .as_ref()
            .and_then(url::Url::host)
        {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }
}

/// A client's back-channel logout registration, its URI checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackchannelLogout {
    uri: ReceiverUri,
    session_required: bool,
}

impl BackchannelLogout {
    /// A registration, with `uri` checked against `reach` (see the module documentation;
    /// section 2.2 forbids a fragment).
    pub fn new(uri: &str, session_required: bool, reach: Reach) -> Result<Self, FieldError> {
        Ok(Self {
            uri: ReceiverUri::new(uri, "backchannelLogoutUri", reach)?,
            session_required,
        })
    }

    /// Where logout tokens are POSTed, as the URL parser writes it.
    pub fn uri(&self) -> &str {
        self.uri.as_str()
    }

    /// The same, checked.
    pub fn receiver(&self) -> &ReceiverUri {
        &self.uri
    }

    /// Whether the client needs `sid` in every logout token (section 2.2).
    pub fn session_required(&self) -> bool {
        self.session_required
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared,
/// unspecified, broadcast, multicast, documentation or unique-local, IPv4-mapped forms
/// included. What a logout URI may name, and what delivery may connect to.
pub fn is_public_address(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => is_public_v4(ip),
        std::net::IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 100.64.0.0/10, shared address space (RFC 6598); 0.0.0.0/8.
        || (a == 100 && (64..128).contains(&b))
        || a == 0
        // 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking),
        // 240.0.0.0/4 (reserved).
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: std::net::Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    let embedded = |high: u16, low: u16| {
        std::net::Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    // Forms that carry an IPv4 address, which must be public itself: NAT64
    // (64:ff9b::/96, RFC 6052; DNS64 synthesises it from a private A record too) and
    // 6to4 (2002::/16, RFC 3056).
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(segments[6], segments[7]));
    }
    if first == 0x2002 {
        return is_public_v4(embedded(segments[1], segments[2]));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 64:ff9b:1::/48, local-use NAT64 (RFC 8215); ::/96, IPv4-compatible (deprecated).
        || segments[..3] == [0x64, 0xff9b, 1]
        || segments[..6] == [0, 0, 0, 0, 0, 0])
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
        self.update_client(tenant, client_id, |update| {
            let update = update
                .expression_attribute_names("#uri", URI)
                .expression_attribute_names("#required", SESSION_REQUIRED);
            Ok(match logout {
                Some(logout) => update
                    .update_expression("SET #uri = :uri, #required = :required")
                    .expression_attribute_values(":uri", AttributeValue::S(logout.uri().to_owned()))
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
        if !crate::credentials::could_be_client(tenant, client_id) {
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
            uri: ReceiverUri(uri.clone()),
            session_required,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_urls_are_accepted_and_loopback_only_when_allowed() {
        for good in [
            "https://app.example/logout",
            "https://app.example:8443/bcl?tenant=a&x=1",
            "HTTPS://App.Example/bcl",
            "https://93.184.216.34/bcl",
            "https://[2606:2800:220:1::1]/bcl",
            // NAT64 and 6to4 forms of a public address.
            "https://[64:ff9b::5db8:d822]/bcl",
            "https://[2002:5db8:d822::1]/bcl",
        ] {
            assert!(
                BackchannelLogout::new(good, false, Reach::Public).is_ok(),
                "{good}"
            );
        }
        // Stored as parsed: lower-case scheme and host, punycode.
        let idn = BackchannelLogout::new("https://Bücher.example/x", false, Reach::Public).unwrap();
        assert_eq!(idn.uri(), "https://xn--bcher-kva.example/x");
        for local in [
            "http://localhost:3000/logout",
            "http://127.0.0.1/logout",
            "http://[::1]:9/logout",
            "https://localhost/logout",
        ] {
            assert!(
                BackchannelLogout::new(local, false, Reach::Public).is_err(),
                "{local}"
            );
            assert!(
                BackchannelLogout::new(local, false, Reach::Loopback).is_ok(),
                "{local}"
            );
        }
        for bad in [
            "",
            "/logout",
            "app.example/logout",
            "https:app.example/x",
            "https:/app.example/x",
            "https://good.example\\@evil.example/",
            " https://app.example/x",
            "https://app.example/x\n",
            "https://app.example/a b",
            "http://app.example/logout",
            "ftp://app.example/logout",
            "https://app.example/logout#frag",
            "https://user:pass@app.example/logout",
            "https://user@app.example/logout",
            "https://10.0.0.1/bcl",
            "https://192.168.1.1/bcl",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/bcl",
            "https://0.0.0.0/bcl",
            "https://127.1/bcl",
            "https://0x7f.1/bcl",
            "https://[fd00::1]/bcl",
            "https://[fe80::1]/bcl",
            "https://[::ffff:169.254.169.254]/bcl",
            "https://[::]/bcl",
            // NAT64 and 6to4 forms of private addresses, and other reserved ranges.
            "https://[64:ff9b::a9fe:a9fe]/bcl",
            "https://[64:ff9b:1::1]/bcl",
            "https://[2002:a00:1::1]/bcl",
            "https://[::a00:1]/bcl",
            "https://[fec0::1]/bcl",
            "https://198.18.0.1/bcl",
            "https://192.0.0.8/bcl",
            "https://240.0.0.1/bcl",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            let err = BackchannelLogout::new(bad, false, Reach::Public).expect_err(bad);
            assert_eq!(err.field, "backchannelLogoutUri", "{bad}");
            // Loopback written another way is loopback; everything else stays refused.
            if !bad.contains("127.1") && !bad.contains("0x7f") {
                assert!(
                    BackchannelLogout::new(bad, false, Reach::Loopback).is_err(),
                    "{bad}"
                );
            }
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_BYTES));
        assert!(BackchannelLogout::new(&long, false, Reach::Public).is_err());
    }
}
