//! OAuth 2.0 request plumbing: form bodies (`application/x-www-form-urlencoded`, RFC 6749
//! appendix B) and client credentials sent in the form or by HTTP Basic (RFC 6749 2.3.1).
//! Checking the credentials against the store is [`signoff_store::Store::authenticate_client`].
//!
//! Nothing here keeps or shows a parameter's value in an error: values may be tokens or
//! secrets, and errors end up in logs.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use lambda_http::http::header;
use lambda_http::Request;

pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the Content-Type must be application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body is not valid application/x-www-form-urlencoded: {0}")]
    Malformed(&'static str),
    /// RFC 6749 3.1: request parameters must not be included more than once.
    #[error("the parameter {0} is sent more than once")]
    Duplicate(String),
}

/// Parameters a form may carry.
pub const MAX_PARAMETERS: usize = 32;

/// Whether a request without a `Content-Type` is read as a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingContentType {
    /// RFC 6749/7009 requests: the header is required.
    Refused,
    /// NetIQ's documented device-revocation request sends none.
    ReadAsForm,
}

/// The parameters of a form body, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    params: Vec<(String, String)>,
}

impl Form {
    /// Reads the form body of `request`: at most `limit` bytes, `Content-Type`
    /// `application/x-www-form-urlencoded` (parameters such as `charset` allowed), and no
    /// parameter twice.
    pub fn from_request(
        request: &Request,
        limit: usize,
        missing: MissingContentType,
    ) -> Result<Self, FormError> {
        match request.headers().get(header::CONTENT_TYPE) {
            None if missing == MissingContentType::ReadAsForm => {}
            None => return Err(FormError::UnsupportedMediaType),
            Some(value) => {
                let media = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.split(';').next())
                    .map(str::trim);
                if !media.is_some_and(|m| m.eq_ignore_ascii_case(FORM_MEDIA_TYPE)) {
                    return Err(FormError::UnsupportedMediaType);
                }
            }
        }
        let bytes = crate::request::body_bytes(request);
        if bytes.len() > limit {
            return Err(FormError::TooLarge { limit });
        }
        Self::parse(bytes)
    }

    /// Parses `name=value&...`: `+` is a space, `%XX` a byte, and the result must be UTF-8.
    /// Empty pairs (`a=1&&b=2`) are skipped, as browsers do. At most [`MAX_PARAMETERS`]:
    /// these endpoints take a handful, and the duplicate check must stay cheap before the
    /// caller is authenticated.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if params.len() == MAX_PARAMETERS {
                return Err(FormError::Malformed("too many parameters"));
            }
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = form_decode(name)?;
            if params.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Duplicate(describe_name(&name)));
            }
            params.push((name, form_decode(value)?));
        }
        Ok(Self { params })
    }

    /// The value of `name`. A parameter sent without a value counts as absent
    /// (RFC 6749 3.1), which is how client libraries send an empty `client_secret`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// How an error names a duplicated parameter: quoted if it is short, printable ASCII;
/// otherwise it is not repeated back (a caller-chosen name could be anything).
fn describe_name(name: &str) -> String {
    if !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic()) {
        format!("'{name}'")
    } else {
        "(a parameter)".to_owned()
    }
}

/// Decodes one form component: `+` is a space and `%XX` a byte (RFC 6749 appendix B).
pub fn form_decode(raw: &[u8]) -> Result<String, FormError> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = raw
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(raw.get(i + 2).copied().and_then(hex))
                    .map(|(high, low)| high << 4 | low)
                    .ok_or(FormError::Malformed(
                        "a '%' is not followed by two hexadecimal digits",
                    ))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::Malformed("a decoded value is not UTF-8"))
}

/// Client credentials as presented: a client id, and the secret if one was sent.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// True when they came by HTTP Basic: a failure is then a 401 with
    /// `WWW-Authenticate: Basic` (RFC 6749 5.2).
    pub basic: bool,
}

/// Never shows the secret.
impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("basic", &self.basic)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// An `Authorization` header that is not usable HTTP Basic credentials.
    #[error("the Authorization header is not valid HTTP Basic client credentials")]
    MalformedBasic,
    /// An `Authorization` header with another scheme (Bearer, DPoP, ...).
    #[error("only HTTP Basic client authentication is supported in the Authorization header")]
    UnsupportedScheme,
    /// Basic credentials and a `client_secret` (or another `client_id`) in the body: RFC 6749
    /// 2.3 allows one authentication method per request.
    #[error("client credentials are sent both by HTTP Basic and in the body; use one method")]
    TwoMethods,
}

/// Reads the client credentials of a request: HTTP Basic (`client_id:client_secret`, each
/// form-urlencoded, then base64, RFC 6749 2.3.1) or the body's `client_id` and
/// `client_secret`. `None` when the request carries neither. With Basic, the body may repeat
/// the same `client_id` (some clients do) but may not carry a `client_secret`.
pub fn client_credentials(
    request: &Request,
    form: &Form,
) -> Result<Option<ClientCredentials>, CredentialsError> {
    let form_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    let Some(header) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(form_id.map(|id| ClientCredentials {
            client_id: id.to_owned(),
            client_secret: form_secret.map(str::to_owned),
            basic: false,
        }));
    };
    let basic = basic_credentials(header.as_bytes())?;
    if form_secret.is_some() || form_id.is_some_and(|id| id != basic.client_id) {
        return Err(CredentialsError::TwoMethods);
    }
    Ok(Some(basic))
}

const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses an `Authorization: Basic ...` value into client credentials.
pub fn basic_credentials(value: &[u8]) -> Result<ClientCredentials, CredentialsError> {
    let value = std::str::from_utf8(value)
        .map_err(|_| CredentialsError::MalformedBasic)?
        .trim();
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(CredentialsError::UnsupportedScheme);
    }
    let decoded = BASE64_ANY_PADDING
        .decode(encoded.trim())
        .map_err(|_| CredentialsError::MalformedBasic)?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or(CredentialsError::MalformedBasic)?;
    let decode = |raw: &[u8]| form_decode(raw).map_err(|_| CredentialsError::MalformedBasic);
    let client_id = decode(&decoded[..colon])?;
    let secret = decode(&decoded[colon + 1..])?;
    if client_id.is_empty() {
        return Err(CredentialsError::MalformedBasic);
    }
    Ok(ClientCredentials {
        client_id,
        client_secret: (!secret.is_empty()).then_some(secret),
        basic: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::Request as HttpRequest;
    use lambda_http::Body;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = HttpRequest::builder().method("POST").uri("https://x/r");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Text(body.into())).unwrap()
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    #[test]
    fn decodes_plus_and_percent_escapes() {
        let form = Form::parse(b"a=x+y%2Bz&b=%E2%82%AC&c&d=&&e=1=2").unwrap();
        assert_eq!(form.get("a"), Some("x y+z"));
        assert_eq!(form.get("b"), Some("\u{20ac}"));
        // Sent without a value: absent.
        assert_eq!(form.get("c"), None);
        assert_eq!(form.get("d"), None);
        assert_eq!(form.get("e"), Some("1=2"));
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
    }

    #[test]
    fn refuses_bad_escapes_non_utf8_and_duplicates() {
        for bad in [&b"a=%zz"[..], b"a=%4", b"a=%", b"a=%FF", b"%ZZ=1"] {
            assert!(
                matches!(Form::parse(bad), Err(FormError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            Form::parse(b"token=a&token=b"),
            Err(FormError::Duplicate("'token'".into()))
        );
        // Decoded names are compared, and empty values count as sent.
        assert!(matches!(
            Form::parse(b"tok%65n=a&token="),
            Err(FormError::Duplicate(_))
        ));
        // A name that cannot be shown safely is not repeated back.
        assert_eq!(
            Form::parse(b"a%0Ab=1&a%0Ab=2"),
            Err(FormError::Duplicate("(a parameter)".into()))
        );
    }

    #[test]
    fn reads_form_requests() {
        let form = Form::from_request(
            &request(
                &[(
                    "Content-Type",
                    "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                )],
                "token=t",
            ),
            100,
            MissingContentType::Refused,
        )
        .unwrap();
        assert_eq!(form.get("token"), Some("t"));
        let json = request(&[("content-type", "application/json")], "{}");
        for missing in [MissingContentType::Refused, MissingContentType::ReadAsForm] {
            assert_eq!(
                Form::from_request(&json, 100, missing),
                Err(FormError::UnsupportedMediaType)
            );
        }
        let bare = request(&[], "a=1");
        assert_eq!(
            Form::from_request(&bare, 100, MissingContentType::Refused),
            Err(FormError::UnsupportedMediaType)
        );
        assert!(Form::from_request(&bare, 100, MissingContentType::ReadAsForm).is_ok());
        assert_eq!(
            Form::from_request(
                &request(&[FORM], &"a".repeat(101)),
                100,
                MissingContentType::Refused
            ),
            Err(FormError::TooLarge { limit: 100 })
        );
    }

    fn basic(id_and_secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(id_and_secret)
        )
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let creds = basic_credentials(basic("my%3Aapp+1:s%25cr%2Bt").as_bytes()).unwrap();
        assert_eq!(creds.client_id, "my:app 1");
        assert_eq!(creds.client_secret.as_deref(), Some("s%cr+t"));
        assert!(creds.basic);
        // The secret may contain colons; only the first separates.
        let creds = basic_credentials(basic("app:a:b").as_bytes()).unwrap();
        assert_eq!(creds.client_secret.as_deref(), Some("a:b"));
        // A public client: empty secret.
        let creds = basic_credentials(basic("app:").as_bytes()).unwrap();
        assert_eq!(creds.client_secret, None);
        // Unpadded base64 and a lower-case scheme are accepted.
        let unpadded = format!(
            "basic {}",
            basic("ab:c")
                .trim_start_matches("Basic ")
                .trim_end_matches('=')
        );
        assert_eq!(
            basic_credentials(unpadded.as_bytes()).unwrap().client_id,
            "ab"
        );
    }

    #[test]
    fn malformed_basic_credentials_are_refused() {
        use CredentialsError::*;
        for (value, err) in [
            ("Basic !!!", MalformedBasic),
            (basic("no-colon").as_str(), MalformedBasic),
            (basic(":secret").as_str(), MalformedBasic),
            (basic("a%zz:b").as_str(), MalformedBasic),
            ("Basic", MalformedBasic),
            ("Bearer abc", UnsupportedScheme),
            ("DPoP abc", UnsupportedScheme),
        ] {
            assert_eq!(basic_credentials(value.as_bytes()), Err(err), "{value}");
        }
    }

    #[test]
    fn one_authentication_method_per_request() {
        let with_basic = |body: &str| request(&[FORM, ("authorization", &basic("app:s"))], body);
        let form = |body: &str| Form::parse(body.as_bytes()).unwrap();
        let from = |req: &Request, body: &str| client_credentials(req, &form(body));

        let creds = from(&with_basic("token=t"), "token=t").unwrap().unwrap();
        assert_eq!((creds.client_id.as_str(), creds.basic), ("app", true));
        // The same client_id in the body is tolerated; a secret or another id is not.
        assert!(from(&with_basic(""), "client_id=app").unwrap().is_some());
        assert_eq!(
            from(&with_basic(""), "client_secret=s"),
            Err(CredentialsError::TwoMethods)
        );
        assert_eq!(
            from(&with_basic(""), "client_id=other"),
            Err(CredentialsError::TwoMethods)
        );

        let plain = request(&[FORM], "");
        let creds = from(&plain, "client_id=app&client_secret=s")
            .unwrap()
            .unwrap();
        assert_eq!(creds.client_secret.as_deref(), Some("s"));
        assert!(!creds.basic);
        assert_eq!(from(&plain, "client_secret=s").unwrap(), None);
        assert_eq!(from(&plain, "").unwrap(), None);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let creds = basic_credentials(basic("app:hunter2").as_bytes()).unwrap();
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}

/// RFC 6749 5.2's error body, as the OAuth endpoints (revocation, introspection) write it.
#[derive(Debug, serde::Serialize)]
pub struct OAuthErrorBody<'a> {
    pub error: &'a str,
    pub error_description: &'a str,
}
