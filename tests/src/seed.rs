//! Test data, created through the same shared-crate calls the admin tool uses.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request};

use crate::event::HttpApiEvent;
use signoff_store::bulk::IndexKey;
use signoff_store::credentials::{CredentialScope, Tenant};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{DeviceBinding, TokenRecord, TokenType};
use signoff_store::Store;

/// Creates tenant `id` (in `organization`, if given) and issues it a service access token.
pub async fn tenant(store: &Store, id: &str, organization: Option<&str>) -> String {
    store
        .create_tenant(&Tenant {
            id: id.to_owned(),
            name: format!("tenant {id}"),
            organization: organization.map(str::to_owned),
            created_at: signoff_store::now_epoch_seconds(),
        })
        .await
        .expect("tenant is created");
    store
        .issue_credential(
            CredentialScope::Service {
                tenant: id.to_owned(),
            },
            "test",
        )
        .await
        .expect("service token is issued")
}

/// Issues an organization token for `organization`.
pub async fn organization_token(store: &Store, organization: &str) -> String {
    store
        .issue_credential(
            CredentialScope::Organization {
                organization: organization.to_owned(),
            },
            "test",
        )
        .await
        .expect("organization token is issued")
}

/// Registers `count` tokens in `session` of `tenant`; token values are `{prefix}-{i}`.
pub async fn session_tokens(
    store: &Store,
    tenant: &str,
    session: &str,
    count: usize,
    prefix: &str,
) {
    signoff_store::demo::register_session_tokens(store, tenant, session, count, prefix, |_| {})
        .await
        .expect("tokens are registered");
}

/// The table keys of the token records stored under `session` of `tenant`, read from
/// the index page by page.
pub async fn session_token_keys(store: &Store, tenant: &str, session: &str) -> Vec<AttributeValue> {
    index_keys(store, &IndexKey::session(tenant, session)).await
}

/// The table keys of the records stored under one index key, read page by page with the
/// bulk-delete engine's own pager.
pub async fn index_keys(store: &Store, key: &IndexKey) -> Vec<AttributeValue> {
    let mut keys = Vec::new();
    let mut start = None;
    loop {
        let page = store.query_keys(key, start).await.expect("index query");
        keys.extend(page.items().iter().filter_map(|i| i.get("pk").cloned()));
        match page.last_evaluated_key {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return keys,
        }
    }
}

/// How many token records of `tenant` are stored for `device_id` and the given user.
pub async fn count_device_tokens(
    store: &Store,
    tenant: &str,
    device_id: &str,
    user_store: &str,
    user_dn: &str,
) -> usize {
    index_keys(
        store,
        &IndexKey::device_user(tenant, device_id, user_store, user_dn),
    )
    .await
    .len()
}

/// Registers an OAuth client of `tenant`; returns its secret if it is confidential.
pub async fn client(
    store: &Store,
    tenant: &str,
    client_id: &str,
    confidential: bool,
) -> Option<String> {
    store
        .register_client(tenant, client_id, confidential)
        .await
        .expect("client is registered")
}

/// A record of token `value` of `tenant`, issued to `client_id`, valid for a day.
pub fn token(tenant: &str, value: &str, token_type: TokenType, client_id: &str) -> TokenRecord {
    let now = signoff_store::now_epoch_seconds();
    TokenRecord {
        tenant: tenant.to_owned(),
        hash: TokenHash::of(value),
        token_type,
        client_id: client_id.to_owned(),
        subject: Some("alice".to_owned()),
        session_id: None,
        grant_id: None,
        device: None,
        issued_at: now,
        expires_at: now + 86_400,
        scope: None,
        audience: Vec::new(),
    }
}

/// [`token`] of `client_id` in authorization grant `grant`.
pub fn grant_token(
    tenant: &str,
    value: &str,
    token_type: TokenType,
    client_id: &str,
    grant: &str,
) -> TokenRecord {
    TokenRecord {
        grant_id: Some(grant.to_owned()),
        ..token(tenant, value, token_type, client_id)
    }
}

/// Registers `records` through the registration path, in batches of 25 with the store's
/// bounded concurrency.
pub async fn register(store: &Store, records: Vec<TokenRecord>) {
    signoff_store::demo::register_in_batches(store, records, |_| {})
        .await
        .expect("tokens are registered");
}

/// Registers `count` refresh tokens of `client_id` issued to the user on `device_id`;
/// token values are `{prefix}-{i}`.
#[allow(clippy::too_many_arguments)]
pub async fn device_tokens(
    store: &Store,
    tenant: &str,
    device_id: &str,
    user_store: &str,
    user_dn: &str,
    client_id: &str,
    count: usize,
    prefix: &str,
) {
    let records = (0..count)
        .map(|i| {
            let mut record = token(
                tenant,
                &format!("{prefix}-{i}"),
                TokenType::Refresh,
                client_id,
            );
            record.device = Some(DeviceBinding {
                device_id: device_id.to_owned(),
                user_store: user_store.to_owned(),
                user_dn: user_dn.to_owned(),
            });
            record
        })
        .collect();
    register(store, records).await;
}

/// Whether the record of token `value` of `tenant` is still in the table (read directly,
/// whatever its expiry).
pub async fn token_stored(store: &Store, tenant: &str, value: &str) -> bool {
    item_stored(
        store,
        signoff_store::item_key::token_pk(tenant, &TokenHash::of(value)),
    )
    .await
}

/// Whether the item keyed `pk` is in the table (read directly, whatever its expiry).
pub async fn item_stored(store: &Store, pk: String) -> bool {
    store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S(pk))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .is_some()
}

/// `application/x-www-form-urlencoded` encoding of one component: unreserved characters
/// as they are, space as `+`, everything else `%XX`.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A form body from name/value pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// An `Authorization` header with HTTP Basic client credentials, each form-encoded first
/// as RFC 6749 2.3.1 asks.
pub fn basic(client_id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", form_encode(client_id), form_encode(secret));
    format!(
        "Basic {}",
        aws_smithy_types::base64::encode(pair.as_bytes())
    )
}

/// How many token records are stored under `session` of `tenant`.
pub async fn count_session_tokens(store: &Store, tenant: &str, session: &str) -> usize {
    session_token_keys(store, tenant, session).await.len()
}

/// A store whose DynamoDB endpoint refuses connections, with the SDK's retries off: a
/// transient outage, as a function sees it.
pub fn unreachable_store() -> Store {
    let client = aws_sdk_dynamodb::Client::from_conf(
        crate::db::client_config("http://127.0.0.1:9")
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    Store::new(client, signoff_store::Config::for_table("signoff"))
}

/// How many token records the table holds in all (a full scan: for assertions only).
pub async fn count_all_tokens(store: &Store) -> usize {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table_name())
            .filter_expression("#k = :k")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(
                ":k",
                aws_sdk_dynamodb::types::AttributeValue::S("token".into()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        count += page.count() as usize;
        match page.last_evaluated_key {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return count,
        }
    }
}

/// A POST request as API Gateway hands it to a function: an HTTP API event for `path`,
/// routed by the router table, as the runtime turns it into a request.
pub fn post(
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Request {
    post_event(path, authorization, content_type, body).request()
}

/// The event of [`post`], to change before it becomes a request (a named stage, another
/// method, more headers).
pub fn post_event(
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> HttpApiEvent {
    let event = HttpApiEvent::post(path).body(body);
    let event = match authorization {
        Some(value) => event.header("authorization", value),
        None => event,
    };
    match content_type {
        Some(value) => event.header("content-type", value),
        None => event,
    }
}

/// Status and JSON body of a function response.
pub fn parts(response: lambda_http::Response<Body>) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        Body::Empty => serde_json::Value::Null,
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("JSON body"),
        #[allow(unreachable_patterns)]
        _ => serde_json::Value::Null,
    };
    (status, body)
}

/// A record of token `value` of `tenant` that expired `ago` seconds ago, an hour after it
/// was issued: what DynamoDB's TTL has not removed yet.
pub fn expired_token(tenant: &str, value: &str, ago: i64) -> TokenRecord {
    let now = signoff_store::now_epoch_seconds();
    TokenRecord {
        issued_at: now - ago - 3600,
        expires_at: now - ago,
        ..token(tenant, value, TokenType::Access, "app")
    }
}

/// Writes `items` as they are, 25 to a BatchWriteItem with up to 8 in flight, bypassing
/// registration (which refuses expired tokens): for housekeeping tests and benchmarks.
pub async fn put_items(store: &Store, items: Vec<signoff_store::model::Item>) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures_util::stream::{self, StreamExt};
    let batches: Vec<Vec<WriteRequest>> = items
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .expect("put has an item");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .for_each_concurrent(8, |mut batch| async move {
            while !batch.is_empty() {
                let output = store
                    .client()
                    .batch_write_item()
                    .request_items(store.table_name(), batch)
                    .send()
                    .await
                    .expect("batch write");
                batch = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(store.table_name()))
                    .unwrap_or_default();
            }
        })
        .await;
}
