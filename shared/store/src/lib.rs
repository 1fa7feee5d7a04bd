//! Signoff's token store: every DynamoDB access the functions, the admin tool and the
//! tests make, and nothing else (no HTTP types). Callers hold one [`Store`], built once at
//! init by [`config::store_from_env`].
//!
//! Where each [`Store`] capability lives:
//!
//! | file | `Store` methods | what else |
//! |---|---|---|
//! | `lib.rs` | `new`, `client`, `config`, `table_name`, item reads | [`now_epoch_seconds`] |
//! | [`config`] | | [`Config`] from the environment, the SDK client ([`config::store_from_env`]) |
//! | [`table`] | | the table and its indexes, defined once (create, CloudFormation) |
//! | [`item_key`] | | partition keys, token hashes ([`item_key::TokenHash`]) |
//! | [`model`] | | token records and their item mapping, identifier limits |
//! | [`error`] | | [`StoreError`]; [`error::classify`], the one retryable-or-not decision |
//! | [`bulk`] | `delete_indexed`, `delete_indexed_except`, `query_keys` | the bulk-delete engine |
//! | [`sessions`] | `end_session`, `session_ended` | race-free end-of-session markers |
//! | [`audiences`] | `user_clients`, `device_sessions` | who hears of a logout: the clients registration notes per session, per user and per device, and the logouts the table's stream reports ([`audiences::Logout`]) |
//! | [`tokens`] | `register_tokens`, `register_tokens_with_status`, `take_back_status_entries` | registration, conditional on the session's marker; a token keeps its status entry |
//! | [`revocation`] | `find_token`, `lookup_token`, `introspect_as_bearer`, `revoke_token`, `log_user_out`, `revoke_device` | what counts as gone |
//! | [`listing`] | `list_tokens` | a subject's, a client's or a tenant's tokens in a state, paged (Authlete's token list) |
//! | [`status_lists`] | `allocate_status_entries`, `status_list_snapshot`, `kept_status_list`, `lease_status_list_build`, `keep_status_list` | Token Status List entries: collision-free, never reused; what a build reads and keeps |
//! | [`cutoffs`] | `write_cutoff` | one-write cutoffs of a client, a client and subject, a tenant |
//! | [`purge`] | `create_purge`, `purge_job`, `estimate_purge`, `purge_shard_page`, `purge_progress`, `track_background_purge`, `finish_background_purge` | the background purge of what a cutoff ended, shard by shard, and the running purges status lists judge by |
//! | [`credentials`] | `create_tenant`, `get_tenant`, `issue_credential`, `store_credential`, `register_client`, `client_registered`, `authenticate_client`, `set_introspection_access`, `revoke_credential`, `authorize` | hashed API credentials and clients |
//! | [`deliveries`] | `claim_delivery`, `finish_delivery` | each back-channel logout delivery attempt sent once, whatever the queues repeat |
//! | [`backchannel`] | `set_backchannel_logout`, `client_logout` | clients' back-channel logout URIs (OpenID Connect Back-Channel Logout 1.0 client metadata); receiver URIs checked ([`backchannel::ReceiverUri`]) |
//! | [`ssf`] | `put_ssf_receiver`, `remove_ssf_receiver`, `ssf_receivers`, `ssf_receiver` | tenants' Shared Signals receivers (push streams), their authorization headers sealed |
//! | [`project_keys`] | `project_keys`, `add_project_keys`, `remove_project_key` | each project's public keys (JWK rules: `signoff-jose`) |
//! | [`trusted_parties`] | `put_trusted_party`, `trusted_party`, `remove_trusted_party`, `use_assertion`, `release_assertion` | who may call Global Token Revocation, and its `jti` replay check |
//! | [`housekeeping`] | `sweep_expired`, `housekeeping_cursor` | the scheduled sweep |
//! | [`demo`] (feature `demo`) | | the local demo data |
//!
//! Modules depend downwards only: `error`, `item_key`, `table` < `model` < `bulk` <
//! `sessions` < `audiences` < `tokens`, `revocation`, `credentials` < `backchannel` < `ssf`; `deliveries`, `listing`, `status_lists`, `cutoffs`, `project_keys`, `trusted_parties`, `housekeeping`, `demo`
//! < `purge`.

pub mod audiences;
pub mod backchannel;
pub mod bulk;
pub mod config;
pub mod credentials;
pub mod cutoffs;
pub mod deliveries;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod housekeeping;
pub mod item_key;
pub mod listing;
pub mod model;
pub mod project_keys;
pub mod purge;
pub mod revocation;
pub mod sessions;
pub mod ssf;
pub mod status_lists;
pub mod table;
pub mod tokens;
pub mod trusted_parties;
pub mod users;

pub use config::Config;
pub use error::StoreError;
pub use sessions::now_epoch_millis;

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
