//! Test data, created through the same shared-crate calls the admin tool uses.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request};
use signoff::credentials::{CredentialScope, Tenant};
use signoff::Store;

/// Creates tenant `id` (in `organization`, if given) and issues it a service access token.
pub async fn tenant(store: &Store, id: &str, organization: Option<&str>) -> String {
    store
        .create_tenant(&Tenant {
            id: id.to_owned(),
            name: format!("tenant {id}"),
            organization: organization.map(str::to_owned),
            created_at: signoff::now_epoch_seconds(),
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
    signoff::demo::register_session_tokens(store, tenant, session, count, prefix, |_| {})
        .await
        .expect("tokens are registered");
}

/// The table keys of the token records stored under `session` of `tenant`, read from
/// the index page by page.
pub async fn session_token_keys(store: &Store, tenant: &str, session: &str) -> Vec<AttributeValue> {
    let key = signoff::bulk::IndexKey::session(tenant, session);
    let mut keys = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table_name())
            .index_name(key.index.name)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", key.index.partition_key.0)
            .expression_attribute_values(":p", AttributeValue::S(key.partition.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("index query");
        keys.extend(page.items().iter().filter_map(|i| i.get("pk").cloned()));
        match page.last_evaluated_key {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return keys,
        }
    }
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
    Store::new(client, signoff::Config::for_table("signoff"))
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

/// A POST request as API Gateway hands it to a function.
pub fn post(
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .uri(path);
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    if let Some(value) = content_type {
        builder = builder.header("content-type", value);
    }
    builder
        .body(Body::Text(body.to_owned()))
        .expect("request builds")
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
