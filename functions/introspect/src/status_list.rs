//! `GET /signoff/v1/tenants/{tenantId}/statuslists/{listId}`: a tenant's Token Status
//! List, as a signed Status List Token (draft-ietf-oauth-status-list, "Status List Token"
//! and "Status List Request"): `Content-Type: application/statuslist+jwt`, a JWT with
//! `typ` `statuslist+jwt`, `sub` the list's URI, `iat`, `exp`, `ttl` and `status_list`
//! (`bits` 1, `lst`), signed by the KMS key whose `kid` the JWKS publishes.
//!
//! A list is built at most once per `ttl` (`SIGNOFF_STATUS_LIST_TTL_SECONDS`), by whichever
//! instance takes the lease on it, and kept in one item that every instance serves from;
//! an instance also remembers the last list it served until it is `ttl` old, so a warm
//! instance answers without reading the table. While one instance rebuilds, the others
//! serve the list kept before (still unexpired). Anyone may fetch a list (resource servers
//! fetch it without credentials; browsers too: CORS allows any origin), and
//! `Cache-Control` lets caches keep it for the rest of its `ttl`, so a revocation reaches
//! the served list within `ttl` plus the settle time and one build.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use signoff_edge::status_list::StatusListSettings;
use signoff_jose::status_list::{
    sign_status_list_token, StatusList, StatusListClaims, INVALID, STATUS_LIST_JWT_MEDIA_TYPE,
};
use signoff_kms::KeySet;
use signoff_store::status_lists::KeptStatusList;
use signoff_store::{item_key, Store};

use crate::IntrospectError;

/// How long a build may take before another instance may take it over: the index settle
/// time, reading the list's entries and one KMS signature, with room to spare.
const BUILD_LEASE: Duration = Duration::from_secs(30);
/// Bits per entry: VALID (0) or INVALID (1).
const BITS: u8 = 1;

/// Which list: (table, tenant, list number).
type ListKey = (String, String, u64);
/// The last list this instance served, per list: one table in a deployment, several in
/// the tests.
type Remembered = Mutex<HashMap<ListKey, Arc<ServedList>>>;

/// A list as this instance serves it: the kept token, and its gzip encoding, made on the
/// first request that accepts gzip and reused by every later one until the next build.
struct ServedList {
    kept: KeptStatusList,
    gzipped: OnceLock<Option<Vec<u8>>>,
}

impl ServedList {
    fn new(kept: KeptStatusList) -> Arc<Self> {
        Arc::new(Self {
            kept,
            gzipped: OnceLock::new(),
        })
    }

    /// The token gzip-encoded (`None` if encoding failed: the plain token is served).
    fn gzipped(&self) -> Option<&[u8]> {
        self.gzipped
            .get_or_init(|| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder
                    .write_all(self.kept.token.as_bytes())
                    .and_then(|()| encoder.finish())
                    .ok()
            })
            .as_deref()
    }
}

fn remembered() -> &'static Remembered {
    static LISTS: OnceLock<Remembered> = OnceLock::new();
    LISTS.get_or_init(Default::default)
}

/// A list id as its URI writes it: a decimal number without leading zeros.
fn parse_list_id(text: &str) -> Option<u64> {
    let valid = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    valid.then(|| text.parse().ok()).flatten()
}

/// Serves list `list_id` of `tenant`.
pub(crate) async fn serve(
    store: &Store,
    lists: &StatusListSettings,
    keys: Option<&KeySet>,
    request: &Request,
    tenant: &str,
    list_id: &str,
) -> Result<Response<Body>, IntrospectError> {
    let (Some(list), true) = (parse_list_id(list_id), item_key::valid_tenant_id(tenant)) else {
        return Err(IntrospectError::NoStatusList);
    };
    let (Some(keys), Some(uri)) = (keys, lists.uri(tenant, list)) else {
        // Without a signing key or a public URL this deployment hands out no entries.
        return Err(IntrospectError::NoStatusList);
    };
    let served = current(store, lists, keys, tenant, list, &uri).await?;
    Ok(list_response(request, &served, lists.ttl))
}

/// The list to serve: remembered, kept or freshly built.
async fn current(
    store: &Store,
    lists: &StatusListSettings,
    keys: &KeySet,
    tenant: &str,
    list: u64,
    uri: &str,
) -> Result<Arc<ServedList>, IntrospectError> {
    let key = (store.table_name().to_owned(), tenant.to_owned(), list);
    let fresh = |kept: &KeptStatusList| age(kept) < lists.ttl;
    if let Some(served) = remembered().lock().expect("not poisoned").get(&key) {
        if fresh(&served.kept) {
            return Ok(served.clone());
        }
    }
    let remember = |kept: KeptStatusList| {
        let served = ServedList::new(kept);
        remembered()
            .lock()
            .expect("not poisoned")
            .insert(key.clone(), served.clone());
        served
    };
    let kept = store.kept_status_list(tenant, list).await?;
    let now = signoff_store::now_epoch_seconds();
    match kept {
        Some(kept) if fresh(&kept) => return Ok(remember(kept)),
        // Never built, and not a list the tenant has: nothing to lease or build.
        None if store.status_list_allocation(tenant, list).await?
            == signoff_store::status_lists::Allocation::Unknown =>
        {
            return Err(IntrospectError::NoStatusList)
        }
        _ => {}
    }
    let now_ms = signoff_store::now_epoch_millis();
    if let Some(lease) = store
        .lease_status_list_build(tenant, list, now_ms, BUILD_LEASE)
        .await?
    {
        let built = build(store, lists, keys, tenant, list, uri).await;
        if !matches!(built, Ok(Some(_))) {
            // Best effort: a lease not given back runs out by itself.
            if let Err(err) = store.release_status_list_lease(tenant, list, lease).await {
                tracing::warn!(tenant, list, error = %err, "could not give back a status list lease");
            }
        }
        match built {
            Ok(Some(built)) => {
                // A later snapshot kept meanwhile stays; serving this one is still right,
                // and so it is if keeping it fails (the next request builds again).
                if let Err(err) = store.keep_status_list(tenant, list, &built).await {
                    tracing::warn!(tenant, list, error = %err, "a built status list could not be kept");
                }
                return Ok(remember(built));
            }
            Ok(None) => return Err(IntrospectError::NoStatusList),
            // The list kept before is still true enough to serve until it expires.
            Err(err) => match kept {
                Some(kept) if kept.expires_at > now => {
                    tracing::warn!(tenant, list, error = %err, "status list rebuild failed; serving the kept one");
                    return Ok(ServedList::new(kept));
                }
                _ => return Err(err),
            },
        }
    }
    // Another instance is building: serve what is kept while it is valid. With nothing to
    // serve, answer at once (503, Retry-After) rather than hold this instance waiting: the
    // path is public, and introspection shares the function.
    match kept.filter(|k| k.expires_at > now) {
        Some(kept) => Ok(ServedList::new(kept)),
        None => Err(IntrospectError::StatusListBuilding),
    }
}

/// How old a kept list is.
fn age(kept: &KeptStatusList) -> Duration {
    let now_ms = signoff_store::now_epoch_millis();
    Duration::from_millis(now_ms.saturating_sub(kept.built_at_ms).max(0) as u64)
}

/// Builds and signs list `list` of `tenant`: `None` if the tenant has no such list.
async fn build(
    store: &Store,
    lists: &StatusListSettings,
    keys: &KeySet,
    tenant: &str,
    list: u64,
    uri: &str,
) -> Result<Option<KeptStatusList>, IntrospectError> {
    let Some(snapshot) = store
        .status_list_snapshot(tenant, list, lists.capacity, lists.settle)
        .await?
    else {
        return Ok(None);
    };
    let mut bits = StatusList::new(BITS, lists.capacity as usize)
        .expect("the capacity is within the list's bounds (settings)");
    let invalid = snapshot.invalid_indexes(lists.capacity);
    for index in &invalid {
        bits.set(*index as usize, INVALID)
            .expect("indexes are below the capacity");
    }
    let issued_at = snapshot.taken_at_ms / 1_000;
    let expires_at = issued_at + lists.validity.as_secs() as i64;
    let claims = StatusListClaims {
        uri,
        issued_at,
        expires_at,
        ttl: lists.ttl.as_secs(),
    };
    let signer = keys.signer().await?;
    let token = sign_status_list_token(signer, &claims, &bits)
        .await
        .map_err(IntrospectError::Signing)?;
    tracing::info!(
        tenant,
        list,
        allocated = snapshot.allocated,
        holders = snapshot.holders.len(),
        invalid = invalid.len(),
        bytes = token.len(),
        "status list built"
    );
    Ok(Some(KeptStatusList {
        token,
        built_at_ms: snapshot.taken_at_ms,
        expires_at,
    }))
}

/// The 200 answer: the token, cacheable for the rest of its `ttl`, gzip-compressed when
/// the client accepts it (the handler adds the CORS header every answer gets).
fn list_response(request: &Request, served: &ServedList, ttl: Duration) -> Response<Body> {
    let kept = &served.kept;
    let remaining = ttl.saturating_sub(age(kept)).as_secs();
    let gzipped = accepts_gzip(request).then(|| served.gzipped()).flatten();
    let body = match gzipped {
        Some(bytes) => Body::Binary(bytes.to_vec()),
        None => Body::Text(kept.token.clone()),
    };
    let compressed = matches!(body, Body::Binary(_));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(STATUS_LIST_JWT_MEDIA_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={remaining}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if compressed {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Whether `Accept-Encoding` admits gzip (RFC 9110 12.5.3: a q of 0 refuses it).
fn accepts_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ids_are_plain_decimal_numbers() {
        assert_eq!(parse_list_id("0"), Some(0));
        assert_eq!(parse_list_id("42"), Some(42));
        for bad in ["", "01", "-1", "1e3", "x", "99999999999999999999"] {
            assert_eq!(parse_list_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn gzip_only_when_accepted() {
        let with = |value: &str| {
            let mut request = Request::default();
            request.headers_mut().insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&request)
        };
        assert!(with("gzip"));
        assert!(with("br, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&Request::default()));
    }
}
