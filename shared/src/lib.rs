//! Signoff's shared crate: everything the Lambda functions, the admin tool and the tests
//! have in common.
//!
//! - [`config`]: configuration read once at init, failing fast.
//! - [`table`]: the one definition of the DynamoDB table and its indexes.
//! - [`keys`] and [`model`]: how records are keyed (tokens by SHA-256, never raw) and stored.
//! - [`bulk`]: the bulk-delete engine behind every logout and revocation.
//! - [`credentials`], [`tokens`], [`sessions`]: tenants and API credentials, token
//!   registration, race-free session end.
//! - [`revocation`]: looking up a live token and revoking it with its session or grant.
//! - [`project_keys`]: each project's public keys (the JWK rules and refresh-JWT
//!   verification are in `signoff-jose`).
//! - [`housekeeping`]: the scheduled sweep of expired records TTL has not removed yet.
//! - [`error`]: store errors, classified retryable or not in one place.
//! - [`http`]: request parsing shared by the HTTP functions.
//! - [`oauth`]: OAuth form bodies and client credentials (form or HTTP Basic).
//! - [`telemetry`]: logs in Lambda's JSON shape, with the request id on every line.
//! - [`cors`]: CORS preflights and response headers for browser-called endpoints.

pub mod bulk;
pub mod config;
pub mod cors;
pub mod credentials;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod housekeeping;
pub mod http;
pub mod keys;
pub mod model;
pub mod oauth;
pub mod project_keys;
pub mod revocation;
pub mod sessions;
pub mod table;
pub mod telemetry;
pub mod tokens;

pub use config::Config;
pub use error::StoreError;

use aws_sdk_dynamodb::Client;

/// A handle on the token store: a DynamoDB client, the table it uses and the tuning read
/// from [`Config`]. Cheap to clone; build it once at init and share it.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    config: Config,
}

impl Store {
    pub fn new(client: Client, config: Config) -> Self {
        Self { client, config }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn table_name(&self) -> &str {
        &self.config.table_name
    }

    /// The item keyed `pk`, if any and not past its expiry: a record whose `expires_at`
    /// has passed is gone, even if neither TTL nor housekeeping has deleted it yet.
    /// `consistent` for a strongly consistent read (twice the cost): whatever decides
    /// about a revocation reads consistently.
    pub(crate) async fn get_item(
        &self,
        pk: String,
        consistent: bool,
    ) -> Result<Option<model::Item>, StoreError> {
        let now = now_epoch_seconds();
        let item = self.get_item_even_if_expired(pk, consistent).await?;
        Ok(item.filter(|item| !model::is_expired(item, now)))
    }

    /// [`Store::get_item`] without the expiry filter, for the one caller that judges
    /// expiry itself (token lookups, which allow clock skew and report expiry as a state).
    pub(crate) async fn get_item_even_if_expired(
        &self,
        pk: String,
        consistent: bool,
    ) -> Result<Option<model::Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table_name())
            .key(
                table::attr::PK,
                aws_sdk_dynamodb::types::AttributeValue::S(pk),
            )
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| error::classify("GetItem", e))?;
        Ok(output.item)
    }
}

/// Seconds since the Unix epoch, the unit of every timestamp in the table (DynamoDB's TTL
/// attribute must be epoch seconds).
pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
