//! Authlete's `GET /auth/token/get/list`: a client's, a subject's, a client and subject's
//! or the whole service's tokens, by hash (Signoff stores nothing else), paged by
//! Authlete's `start` (inclusive) and `end` (exclusive) offsets, at most 20 a page.
//! docs/authlete-tokens.md says what each member means for Signoff's records.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::Serialize;
use signoff_edge::authlete::client_number;
use signoff_edge::response;
use signoff_store::listing::{ListScope, ListStatus, TokenList};
use signoff_store::model::{TokenRecord, TokenType, MAX_ID_BYTES};
use signoff_store::Store;

use crate::{check_field, ApiError, Done};

/// Authlete's defaults for the range, and its most tokens a page.
pub const DEFAULT_END: usize = 5;
pub const MAX_PAGE: usize = 20;

/// The query of a token list request.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    client_id: Option<String>,
    subject: Option<String>,
    start: usize,
    end: usize,
    status: ListStatus,
}

impl ListQuery {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let query = request.query_string_parameters();
        let single = |name: &str| -> Result<Option<String>, ApiError> {
            match query.all(name) {
                Some(all) if all.len() > 1 => Err(ApiError::caller(
                    14,
                    format!("The parameter '{name}' is sent more than once."),
                )),
                Some(all) => Ok(all.first().map(|v| v.to_string()).filter(|v| !v.is_empty())),
                None => Ok(None),
            }
        };
        let client_id = single("clientIdentifier")?;
        let subject = single("subject")?;
        for (name, value) in [("clientIdentifier", &client_id), ("subject", &subject)] {
            if let Some(value) = value {
                check_field(name, value, MAX_ID_BYTES)?;
            }
        }
        let offset = |name: &str, default: usize| -> Result<usize, ApiError> {
            let Some(raw) = single(name)? else {
                return Ok(default);
            };
            raw.parse::<i32>()
                .ok()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| {
                    ApiError::caller(
                        15,
                        format!(
                            "The '{name}' parameter must be a whole number from 0 to 2147483647."
                        ),
                    )
                })
        };
        let start = offset("start", 0)?;
        // Without `end`, a page of Authlete's default length from `start`.
        let end = offset("end", start.saturating_add(DEFAULT_END))?;
        if end < start {
            return Err(ApiError::caller(
                15,
                "The 'end' parameter must not be less than 'start'.",
            ));
        }
        let status = match single("tokenStatus")?.as_deref() {
            None | Some("VALID") => ListStatus::Usable,
            Some("INVALID") => ListStatus::Unusable,
            Some("ALL") => ListStatus::All,
            Some(_) => {
                return Err(ApiError::caller(
                    16,
                    "The 'tokenStatus' parameter must be VALID, INVALID or ALL.",
                ))
            }
        };
        Ok(Self {
            client_id,
            subject,
            start,
            // Authlete's limit: at most 20 a page. The answer's `end` says where it stopped.
            end: end.min(start.saturating_add(MAX_PAGE)),
            status,
        })
    }

    fn scope(&self) -> ListScope<'_> {
        match (&self.subject, &self.client_id) {
            (Some(subject), client_id) => ListScope::Subject {
                subject,
                client_id: client_id.as_deref(),
            },
            (None, Some(client_id)) => ListScope::Client(client_id),
            (None, None) => ListScope::Tenant,
        }
    }
}

/// The answer, with the members of Authlete's `TokenListResponse`.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ListBody {
    start: usize,
    end: usize,
    total_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<ClientRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    access_tokens: Vec<TokenEntry>,
}

/// The client the list was asked for, as Authlete names clients: its number, or 0 with
/// the id as alias. Nothing else of a client is Signoff's to report.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ClientRef {
    client_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_alias: Option<String>,
    client_id_alias_enabled: bool,
}

impl ClientRef {
    fn of(client_id: &str) -> Self {
        let number = client_number(client_id);
        Self {
            client_id: number.unwrap_or(0),
            client_id_alias: number.is_none().then(|| client_id.to_owned()),
            client_id_alias_enabled: number.is_none(),
        }
    }
}

/// One token record as one of Authlete's `AccessToken` entries. Signoff keeps one record
/// per token, so an entry carries an access token's hash and expiry or a refresh token's,
/// never both; times are milliseconds since the epoch, as Authlete's.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct TokenEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_at: Option<i64>,
    client_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    created_at: i64,
    last_refreshed_at: i64,
}

impl TokenEntry {
    fn of(record: TokenRecord) -> Self {
        let hash = Some(record.hash.encoded());
        let expires_at = Some(record.expires_at.saturating_mul(1000));
        let access = record.token_type == TokenType::Access;
        let client = ClientRef::of(&record.client_id);
        Self {
            access_token_hash: hash.clone().filter(|_| access),
            access_token_expires_at: expires_at.filter(|_| access),
            refresh_token_hash: hash.filter(|_| !access),
            refresh_token_expires_at: expires_at.filter(|_| !access),
            client_id: client.client_id,
            client_id_alias: client.client_id_alias,
            subject: record.subject,
            scopes: record
                .scope
                .map(|s| s.split(' ').map(str::to_owned).collect()),
            created_at: record.issued_at.saturating_mul(1000),
            // Signoff records each token as the server issued it; a refresh issues a new
            // record rather than changing this one.
            last_refreshed_at: 0,
        }
    }
}

/// `GET /auth/token/get/list`.
pub(crate) async fn list(
    store: &Store,
    limit: usize,
    request: &Request,
    tenant: &str,
) -> Result<Done, ApiError> {
    let query = ListQuery::from_request(request)?;
    let listed = store
        .list_tokens(
            tenant,
            query.scope(),
            query.status,
            query.start..query.end,
            limit,
        )
        .await?;
    let page = match listed {
        TokenList::Page(page) => page,
        TokenList::TooMany { limit } => {
            return Err(ApiError::caller(
                17,
                format!(
                    "More than {limit} token records match; narrow the list with \
                     'subject' (and 'clientIdentifier')."
                ),
            ))
        }
    };
    tracing::info!(
        service = %tenant,
        total = page.total,
        listed = page.tokens.len(),
        "Authlete token list"
    );
    let body = ListBody {
        start: query.start,
        end: query.end,
        total_count: page.total,
        client: query.client_id.as_deref().map(ClientRef::of),
        subject: query.subject.clone(),
        access_tokens: page
            .tokens
            .into_iter()
            .map(|(record, _)| TokenEntry::of(record))
            .collect(),
    };
    Ok(Done {
        response: response::json_response(StatusCode::OK, &body),
        deleted: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn query(q: &str) -> Result<ListQuery, ApiError> {
        let request: Request = http::Request::builder()
            .uri(format!("https://x/api/1/auth/token/get/list?{q}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        let params: std::collections::HashMap<String, Vec<String>> =
            url_pairs(q)
                .into_iter()
                .fold(Default::default(), |mut m, (k, v)| {
                    m.entry(k).or_default().push(v);
                    m
                });
        ListQuery::from_request(&request.with_query_string_parameters(params))
    }

    fn url_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn detail(q: &str) -> u8 {
        match query(q) {
            Err(ApiError::Caller { detail, .. }) => detail,
            other => panic!("{q}: expected a caller error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_authletes_and_a_page_is_at_most_20() {
        let q = query("").unwrap();
        assert_eq!((q.start, q.end, q.status), (0, 5, ListStatus::Usable));
        assert_eq!(q.scope(), ListScope::Tenant);
        let q = query("start=10&end=100&clientIdentifier=web").unwrap();
        assert_eq!((q.start, q.end), (10, 30));
        assert_eq!(q.scope(), ListScope::Client("web"));
        let q = query("subject=alice&clientIdentifier=web&tokenStatus=ALL").unwrap();
        assert_eq!(
            q.scope(),
            ListScope::Subject {
                subject: "alice",
                client_id: Some("web")
            }
        );
        assert_eq!(q.status, ListStatus::All);
        assert_eq!(query("subject=").unwrap().scope(), ListScope::Tenant);
        let q = query("start=10").unwrap();
        assert_eq!((q.start, q.end), (10, 15));
    }

    #[test]
    fn bad_queries_name_the_problem() {
        assert_eq!(detail("start=-1"), 15);
        assert_eq!(detail("end=x"), 15);
        assert_eq!(detail("start=3000000000"), 15);
        assert_eq!(detail("start=5&end=4"), 15);
        assert_eq!(detail("tokenStatus=valid"), 16);
        assert_eq!(detail("subject=a&subject=b"), 14);
        assert_eq!(detail(&format!("subject={}", "s".repeat(257))), 4);
    }

    #[test]
    fn a_record_is_one_entry_with_authletes_units() {
        use signoff_store::item_key::TokenHash;
        let record = TokenRecord {
            tenant: "1".into(),
            hash: TokenHash::of("rt"),
            token_type: TokenType::Refresh,
            client_id: "26888344961664".into(),
            subject: Some("john".into()),
            session_id: None,
            grant_id: None,
            device: None,
            issued_at: 1_642_044_549,
            expires_at: 1_642_048_149,
            scope: Some("openid history.read".into()),
            audience: Vec::new(),
        };
        let entry = serde_json::to_value(TokenEntry::of(record)).unwrap();
        assert_eq!(
            entry,
            serde_json::json!({
                "refreshTokenHash": TokenHash::of("rt").encoded(),
                "refreshTokenExpiresAt": 1_642_048_149_000_i64,
                "clientId": 26_888_344_961_664_i64,
                "subject": "john",
                "scopes": ["openid", "history.read"],
                "createdAt": 1_642_044_549_000_i64,
                "lastRefreshedAt": 0,
            })
        );
    }
}
