//! POSTing to receivers (logout tokens as OpenID Connect Back-Channel Logout 1.0 section
//! 2.5 says: `application/x-www-form-urlencoded`, `logout_token=...`; SETs as RFC 8935
//! section 2 says: `application/secevent+jwt`), never anywhere a receiver's URI should not
//! lead:
//!
//! - the name is resolved by [`CheckedResolver`], which keeps public addresses only, so
//!   the address checked is the address connected to (a name that resolves to a private
//!   address is refused, whenever it was registered);
//! - an IP literal is checked before the request, since no resolution happens for it;
//! - `localhost` and loopback literals, which only `signoff-admin set-backchannel-logout
//!   --allow-loopback` stores, may reach loopback addresses and nothing else, and only
//!   where `SIGNOFF_LOGOUT_ALLOW_LOOPBACK` is set (local runs; the template never sets it:
//!   in Lambda, loopback is the Runtime API);
//! - public receivers over https only;
//! - redirects are not followed (a 3xx is an answer, not delivered);
//! - HTTPS trusts the system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` apply), on the
//!   hyper, hyper-rustls and aws-lc the AWS SDK already links.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use signoff_store::backchannel::{is_public_address, ReceiverUri};
use signoff_store::config::ConfigError;

/// An address the receiver's URI may not lead to.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no address Signoff may send to (only public ones)")]
pub struct NotAllowed {
    host: String,
}

/// Why a POST did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URI leads somewhere no logout goes: not worth retrying.
    #[error(transparent)]
    NotAllowed(NotAllowed),
    /// The URI does not parse (it did when it was stored).
    #[error("the receiver's URI is not a URL")]
    BadUri,
    /// The stored authorization header is not a header value (control characters).
    #[error("the receiver's authorization header is not a valid header value")]
    BadAuthorization,
    /// Connecting, TLS, a timeout or a broken answer: worth retrying.
    #[error("{0}")]
    Network(String),
}

/// Which addresses a resolution may return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allowed {
    Public,
    Loopback,
}

impl Allowed {
    fn admits(self, ip: IpAddr) -> bool {
        match self {
            Allowed::Public => is_public_address(ip),
            Allowed::Loopback => ip.is_loopback(),
        }
    }
}

/// Resolves names through the system resolver and keeps only the addresses the receiver
/// may be reached at.
#[derive(Clone, Copy, Debug)]
struct CheckedResolver {
    allowed: Allowed,
}

type Resolved = Result<std::vec::IntoIter<SocketAddr>, Box<dyn std::error::Error + Send + Sync>>;

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Resolved> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allowed = self.allowed;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allowed.admits(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NotAllowed { host }) as Self::Error);
            }
            Ok(found.into_iter())
        })
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector<CheckedResolver>>, Full<Bytes>>;

/// The most of a receiver's answer read (section 2.8 answers carry at most a short error).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// What is POSTed.
#[derive(Clone)]
pub struct Push {
    pub content_type: &'static str,
    /// Sent as `Authorization` (an SSF receiver's); never logged.
    pub authorization: Option<String>,
    pub body: String,
}

/// Never shows the authorization header.
impl std::fmt::Debug for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push")
            .field("content_type", &self.content_type)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "redacted"),
            )
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Push {
    /// A logout token, as section 2.5 posts it.
    pub fn logout_token(token: &str) -> Self {
        // A logout token is base64url and dots: nothing to escape in a form value.
        Self {
            content_type: "application/x-www-form-urlencoded",
            authorization: None,
            body: format!("logout_token={token}"),
        }
    }
}

/// A receiver's answer: its status, and the error it named, if its body was JSON with
/// one (RFC 8935 section 2.3 `err` and `description`; section 2.8 of the logout spec
/// `error` and `error_description`), for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub error: Option<String>,
}

/// The most of a receiver's error text kept (it is logged and kept on the undelivered
/// queue).
const MAX_ERROR_CHARS: usize = 200;

fn named_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |names: [&str; 2]| names.iter().find_map(|n| value.get(*n)?.as_str());
    let code = text(["err", "error"])?;
    let description = text(["description", "error_description"]);
    let named = match description {
        Some(description) => format!("{code}: {description}"),
        None => code.to_owned(),
    };
    Some(
        named
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_ERROR_CHARS)
            .collect(),
    )
}

/// The two HTTP clients (public receivers, and this machine's), built once at init.
pub struct Sender {
    public: HttpClient,
    loopback: Option<HttpClient>,
    timeout: Duration,
}

impl Sender {
    /// Clients whose every POST ends after `timeout`; loopback receivers are reached only
    /// if `allow_loopback` (local runs: in Lambda, loopback is the Runtime API).
    pub fn new(timeout: Duration, allow_loopback: bool) -> Result<Self, ConfigError> {
        let tls = tls_config()?;
        let client = |allowed| {
            let mut http = HttpConnector::new_with_resolver(CheckedResolver { allowed });
            http.enforce_http(false);
            http.set_connect_timeout(Some(timeout.min(Duration::from_secs(5))));
            let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls.clone());
            // Public receivers are reached over https only, whatever a stored URI says;
            // this machine's (local runs) over http too.
            let connector = match allowed {
                Allowed::Public => builder.https_only(),
                Allowed::Loopback => builder.https_or_http(),
            }
            .enable_http1()
            .wrap_connector(http);
            Client::builder(TokioExecutor::new()).build(connector)
        };
        Ok(Self {
            public: client(Allowed::Public),
            loopback: allow_loopback.then(|| client(Allowed::Loopback)),
            timeout,
        })
    }

    /// POSTs `push` to `receiver`; the answer it gave.
    pub async fn post(&self, receiver: &ReceiverUri, push: Push) -> Result<Answer, SendError> {
        let url = url::Url::parse(receiver.as_str()).map_err(|_| SendError::BadUri)?;
        let allowed = if receiver.names_loopback() {
            Allowed::Loopback
        } else {
            Allowed::Public
        };
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(SendError::BadUri),
        };
        if let Some(ip) = literal {
            if !allowed.admits(ip) {
                return Err(SendError::NotAllowed(NotAllowed {
                    host: ip.to_string(),
                }));
            }
        }
        let client = match (allowed, &self.loopback) {
            (Allowed::Public, _) => &self.public,
            (Allowed::Loopback, Some(loopback)) => loopback,
            (Allowed::Loopback, None) => {
                return Err(SendError::NotAllowed(NotAllowed {
                    host: url.host_str().unwrap_or_default().to_owned(),
                }))
            }
        };
        let mut request = hyper::Request::post(url.as_str())
            .header(hyper::header::CONTENT_TYPE, push.content_type)
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, "Signoff");
        if let Some(authorization) = push.authorization {
            let mut value = hyper::header::HeaderValue::from_str(&authorization)
                .map_err(|_| SendError::BadAuthorization)?;
            value.set_sensitive(true);
            request = request.header(hyper::header::AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::from(push.body)))
            .map_err(|_| SendError::BadUri)?;
        let exchange = async {
            let response = client.request(request).await.map_err(classify)?;
            let status = response.status().as_u16();
            // Read a short answer, so that the connection can be used again and an error
            // it names reaches the operator; a longer one is dropped unread (never
            // buffered whole: a receiver must not be able to exhaust the function's memory).
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let error = (status >= 300).then(|| named_error(&body)).flatten();
            Ok(Answer { status, error })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Network(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                )))
            })
    }
}

/// A refused resolution inside the client's error, or a network failure with its causes.
fn classify(err: hyper_util::client::legacy::Error) -> SendError {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<NotAllowed>() {
            return SendError::NotAllowed(NotAllowed {
                host: refused.host.clone(),
            });
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::Network(text)
}

/// TLS 1.2 and 1.3 on aws-lc, trusting the system's root certificates.
fn tls_config() -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(ConfigError::Missing {
            name: "SSL_CERT_FILE",
            hint: "no trusted root certificates found on this system for HTTPS to logout receivers",
        });
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Invalid {
            name: "SSL_CERT_FILE",
            value: e.to_string(),
            reason: "TLS cannot be set up",
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use signoff_store::backchannel::Reach;

    #[test]
    fn a_named_error_is_read_in_either_spec_shape_and_kept_short() {
        assert_eq!(
            named_error(br#"{"err":"invalid_audience","description":"not us"}"#).as_deref(),
            Some("invalid_audience: not us")
        );
        assert_eq!(
            named_error(br#"{"error":"invalid_request"}"#).as_deref(),
            Some("invalid_request")
        );
        assert_eq!(named_error(b"<html>"), None);
        let long = format!(r#"{{"err":"x","description":"{}\n"}}"#, "a".repeat(500));
        let named = named_error(long.as_bytes()).unwrap();
        assert_eq!(named.chars().count(), MAX_ERROR_CHARS);
        assert!(!named.contains('\n'));
    }

    #[tokio::test]
    async fn loopback_receivers_are_refused_unless_allowed_and_literals_are_checked() {
        let local = ReceiverUri::new("http://127.0.0.1:9/logout", "uri", Reach::Loopback).unwrap();
        let push = || Push::logout_token("t");
        let deployed = Sender::new(Duration::from_secs(1), false).unwrap();
        assert!(matches!(
            deployed.post(&local, push()).await,
            Err(SendError::NotAllowed(_))
        ));
        // Allowed, it connects (nothing listens on port 9: a network error, retried).
        let local_run = Sender::new(Duration::from_secs(1), true).unwrap();
        assert!(matches!(
            local_run.post(&local, push()).await,
            Err(SendError::Network(_))
        ));
        // A name is judged by where it resolves: localhost resolves to loopback only, which
        // a public receiver may not reach, and a loopback one may.
        use std::str::FromStr;
        use tower_service::Service;
        let name = || Name::from_str("localhost").unwrap();
        let refused = CheckedResolver {
            allowed: Allowed::Public,
        }
        .call(name())
        .await
        .expect_err("loopback only");
        assert!(refused.downcast_ref::<NotAllowed>().is_some(), "{refused}");
        let found: Vec<SocketAddr> = CheckedResolver {
            allowed: Allowed::Loopback,
        }
        .call(name())
        .await
        .unwrap()
        .collect();
        assert!(!found.is_empty() && found.iter().all(|a| a.ip().is_loopback()));
    }
}
