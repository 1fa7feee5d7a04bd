//! The one definition of Signoff's DynamoDB table. The admin tool and the tests create the
//! table from it, and a test checks that `template.yaml` declares exactly the same keys,
//! indexes and TTL, so the three cannot drift apart.
//!
//! Layout: a single partition key `pk` (see [`crate::item_key`] for its forms). Every index is
//! sparse (only items carrying its key attribute appear in it) and KEYS_ONLY (an index
//! entry is just the table key, all a delete needs, and the most entries per 1 MB page),
//! except by-status, which also carries the three attributes its list builder judges
//! cutoffs and running purges by, so that building a list never reads the records
//! themselves.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_json::{json, Value};

use crate::error::{classify, StoreError};

/// Attribute names, in one place.
pub mod attr {
    pub const PK: &str = "pk";
    pub const KIND: &str = "kind";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const SESSION_KEY: &str = "session_key";
    pub const SUBJECT_KEY: &str = "subject_key";
    pub const GRANT_KEY: &str = "grant_key";
    pub const DEVICE_KEY: &str = "device_key";
    pub const DEVICE_USER: &str = "device_user";
    pub const EXPIRY_BUCKET: &str = "expiry_bucket";
    pub const TENANT_SHARD: &str = "tenant_shard";
    pub const SUBJECT_CLIENT_ISSUED: &str = "subject_client_issued";
    pub const CLIENT_SHARD: &str = "client_shard";
    pub const ISSUED_AT: &str = "issued_at";
    pub const CLIENT_ID: &str = "client_id";
    pub const STATUS_SHARD: &str = "status_shard";
    pub const STATUS_IDX: &str = "status_idx";
    /// A status entry holder's subject, as [`crate::item_key::status_subject_key`] makes it.
    pub const STATUS_SUBJECT: &str = "status_sub";
}

/// The attribute DynamoDB's TTL deletes by (epoch seconds).
pub const TTL_ATTRIBUTE: &str = attr::EXPIRES_AT;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Number,
}

impl AttrType {
    fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "S",
            AttrType::Number => "N",
        }
    }

    fn sdk(self) -> ScalarAttributeType {
        match self {
            AttrType::String => ScalarAttributeType::S,
            AttrType::Number => ScalarAttributeType::N,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: (&'static str, AttrType),
    pub sort_key: Option<(&'static str, AttrType)>,
    /// Attributes an index entry carries besides the keys (none: KEYS_ONLY).
    pub projected: &'static [&'static str],
}

/// Tokens of one session (tenant-scoped): native SSO logout, Descope logout.
pub const BY_SESSION: Index = Index {
    name: "by-session",
    partition_key: (attr::SESSION_KEY, AttrType::String),
    sort_key: None,
    projected: &[],
};
/// Tokens of one user (tenant-scoped): Descope logout-all.
pub const BY_SUBJECT: Index = Index {
    name: "by-subject",
    partition_key: (attr::SUBJECT_KEY, AttrType::String),
    sort_key: None,
    projected: &[],
};
/// Tokens of one authorization grant (tenant-scoped): RFC 7009's rule that revoking a
/// refresh token revokes the access tokens of the same grant.
pub const BY_GRANT: Index = Index {
    name: "by-grant",
    partition_key: (attr::GRANT_KEY, AttrType::String),
    sort_key: None,
    projected: &[],
};
/// Tokens issued to one device (tenant-scoped), sorted by the user they were issued to:
/// NetIQ device revocation.
pub const BY_DEVICE: Index = Index {
    name: "by-device",
    partition_key: (attr::DEVICE_KEY, AttrType::String),
    sort_key: Some((attr::DEVICE_USER, AttrType::String)),
    projected: &[],
};
/// Records by hour of expiry: housekeeping finds what TTL has not yet removed without
/// scanning the table.
pub const BY_EXPIRY: Index = Index {
    name: "by-expiry",
    partition_key: (attr::EXPIRY_BUCKET, AttrType::String),
    sort_key: Some((attr::EXPIRES_AT, AttrType::Number)),
    projected: &[],
};

/// Every token of a tenant, spread over [`crate::item_key::PURGE_SHARDS`] partitions and
/// sorted by subject, client and issue time: what a background purge (of a user's, a
/// client's, a client and subject's or the tenant's tokens) walks, shard by shard, in
/// parallel.
pub const BY_TENANT: Index = Index {
    name: "by-tenant",
    partition_key: (attr::TENANT_SHARD, AttrType::String),
    sort_key: Some((attr::SUBJECT_CLIENT_ISSUED, AttrType::String)),
    projected: &[],
};

/// Every token of one client (tenant-scoped), spread over
/// [`crate::item_key::CLIENT_SHARDS`] partitions (so one busy client's registrations never
/// exceed an index partition's 1,000 writes a second) and sorted by issue time: what
/// Authlete's token list reads for a client, without walking the rest of the tenant.
pub const BY_CLIENT: Index = Index {
    name: "by-client",
    partition_key: (attr::CLIENT_SHARD, AttrType::String),
    sort_key: Some((attr::ISSUED_AT, AttrType::Number)),
    projected: &[],
};

/// The tokens that hold an entry of one Token Status List (tenant-scoped), spread over
/// [`crate::item_key::STATUS_SHARDS`] partitions by index and sorted by index: what the
/// list builder reads to learn which entries still have a live record
/// ([`crate::status_lists`]). Only tokens registered with a status entry appear.
pub const BY_STATUS: Index = Index {
    name: "by-status",
    partition_key: (attr::STATUS_SHARD, AttrType::String),
    sort_key: Some((attr::STATUS_IDX, AttrType::Number)),
    projected: &[attr::CLIENT_ID, attr::ISSUED_AT, attr::STATUS_SUBJECT],
};

pub const INDEXES: [Index; 8] = [
    BY_SESSION, BY_SUBJECT, BY_GRANT, BY_DEVICE, BY_EXPIRY, BY_TENANT, BY_CLIENT, BY_STATUS,
];

/// An index's projection, as CloudFormation writes it.
fn projection_json(index: &Index) -> Value {
    if index.projected.is_empty() {
        json!({"ProjectionType": "KEYS_ONLY"})
    } else {
        json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": index.projected})
    }
}

/// An index's projection, for CreateTable.
fn projection(index: &Index) -> Projection {
    let builder = Projection::builder();
    if index.projected.is_empty() {
        builder.projection_type(ProjectionType::KeysOnly).build()
    } else {
        index
            .projected
            .iter()
            .fold(
                builder.projection_type(ProjectionType::Include),
                |builder, name| builder.non_key_attributes(*name),
            )
            .build()
    }
}

/// Every attribute used in a key of the table or an index, with its type.
pub fn key_attributes() -> Vec<(&'static str, AttrType)> {
    let mut attrs = vec![(attr::PK, AttrType::String)];
    for index in INDEXES {
        for key in std::iter::once(index.partition_key).chain(index.sort_key) {
            if !attrs.contains(&key) {
                attrs.push(key);
            }
        }
    }
    attrs
}

fn key_schema(partition: &str, sort: Option<&str>) -> Vec<KeySchemaElement> {
    let element = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("key schema element has its required fields")
    };
    std::iter::once(element(partition, KeyType::Hash))
        .chain(sort.map(|s| element(s, KeyType::Range)))
        .collect()
}

/// The table's properties as CloudFormation declares them (`AWS::DynamoDB::Table`), less
/// the settings that only exist in AWS (name, encryption, recovery). `template.yaml` must
/// contain these exactly; a test compares them.
pub fn cloudformation_properties() -> Value {
    let key = |name: &str, key_type: &str| json!({"AttributeName": name, "KeyType": key_type});
    let indexes: Vec<Value> = INDEXES
        .iter()
        .map(|index| {
            let mut schema = vec![key(index.partition_key.0, "HASH")];
            if let Some((sort, _)) = index.sort_key {
                schema.push(key(sort, "RANGE"));
            }
            json!({
                "IndexName": index.name,
                "KeySchema": schema,
                "Projection": projection_json(index),
            })
        })
        .collect();
    json!({
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": key_attributes()
            .iter()
            .map(|(name, ty)| json!({"AttributeName": name, "AttributeType": ty.as_str()}))
            .collect::<Vec<_>>(),
        "KeySchema": [key(attr::PK, "HASH")],
        "GlobalSecondaryIndexes": indexes,
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": true},
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    })
}

/// Creates the table (on-demand) as the template declares it, with its stream, waits until
/// it is active and turns TTL on. Returns `false` if it already existed; an existing table
/// is left as it is.
pub async fn create_table(client: &Client, table_name: &str) -> Result<bool, StoreError> {
    create_table_with(client, table_name, Stream::On).await
}

/// Whether the table has its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    On,
    /// For tests that never read it: the local emulators record every write's images, which
    /// makes writes several times slower there (in DynamoDB a stream costs the write path
    /// nothing).
    Off,
}

/// [`create_table`], with or without the stream.
pub async fn create_table_with(
    client: &Client,
    table_name: &str,
    stream: Stream,
) -> Result<bool, StoreError> {
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(attr::PK, None)));
    if stream == Stream::On {
        // The stream carries every marker to the back-channel logout fanout: the old image
        // tells a new end or revocation from a rewrite of an old one.
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification has its required fields"),
        );
    }
    for (name, ty) in key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ty.sdk())
                .build()
                .expect("attribute definition has its required fields"),
        );
    }
    for index in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(
                    index.partition_key.0,
                    index.sort_key.map(|(name, _)| name),
                )))
                .projection(projection(&index))
                .build()
                .expect("index has its required fields"),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(false)
        }
        Err(err) => return Err(classify("CreateTable", err)),
    }
    wait_until_active(client, table_name).await?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("TTL specification has its required fields"),
        )
        .send()
        .await
        .map_err(|e| classify("UpdateTimeToLive", e))?;
    Ok(true)
}

async fn wait_until_active(client: &Client, table_name: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::TableStatus;
    for _ in 0..600 {
        let table = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", e))?;
        if table.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(StoreError::NotReady(format!(
        "table {table_name} did not become ACTIVE within two minutes"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_attribute_is_defined_once() {
        let attrs = key_attributes();
        let mut names: Vec<_> = attrs.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), attrs.len());
        assert_eq!(attrs.len(), 14);
    }

    #[test]
    fn cloudformation_shape_lists_every_index_keys_only_but_by_status() {
        let props = cloudformation_properties();
        let indexes = props["GlobalSecondaryIndexes"].as_array().unwrap();
        assert_eq!(indexes.len(), INDEXES.len());
        for index in indexes {
            let projection = &index["Projection"];
            if index["IndexName"] == "by-status" {
                assert_eq!(projection["ProjectionType"], "INCLUDE");
                assert_eq!(
                    projection["NonKeyAttributes"],
                    json!(["client_id", "issued_at", "status_sub"])
                );
            } else {
                assert_eq!(projection["ProjectionType"], "KEYS_ONLY");
            }
        }
    }
}
