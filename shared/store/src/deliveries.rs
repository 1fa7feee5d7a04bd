//! Delivery attempts, claimed once: at-least-once queues (SQS may hand a message to two
//! receivers; a stream batch retried after a partial failure queues its deliveries again)
//! must not make a relying party hear the same logout twice.
//!
//! Each attempt has an identity (the logout, the client, the attempt number: whatever
//! the caller hashes into it). Before it sends, the sender claims it: one conditional
//! UpdateItem on `delivery#<tenant>#<sha256 of the identity>`, which succeeds only if no
//! one has claimed the attempt, or a claim was left `hold` ago by a sender that never
//! finished (a crash: the attempt is not lost, it is sent once the hold has passed).
//! After sending, the sender marks it finished, for good. The items expire after two days,
//! longer than any attempt stays queued.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{condition_held, StoreError};
use crate::item_key::{self, TokenHash};
use crate::table::attr;
use crate::Store;

const DELIVERY_KIND: &str = "delivery";
const STATE: &str = "state";
const HELD_UNTIL: &str = "held_until";
const SENDING: &str = "sending";
const FINISHED: &str = "finished";
/// How long a delivery attempt is remembered.
const REMEMBERED_SECONDS: i64 = 2 * 86_400;

fn delivery_pk(tenant: &str, identity: &str) -> String {
    item_key::compose(&[DELIVERY_KIND, tenant, &TokenHash::of(identity).encoded()])
}

impl Store {
    /// Claims the delivery attempt `identity` of `tenant` for `hold`: `true` if this caller
    /// is to send it, `false` if another has sent it or is sending it.
    pub async fn claim_delivery(
        &self,
        tenant: &str,
        identity: &str,
        hold: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = crate::now_epoch_seconds();
        let pk = delivery_pk(tenant, identity);
        let expires_at = now + REMEMBERED_SECONDS;
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk.clone()))
            .update_expression(
                "SET #kind = :kind, #state = :sending, #held = :held, #exp = :exp, #bucket = :bucket",
            )
            .condition_expression(
                "attribute_not_exists(#state) OR (#state = :sending AND #held < :now)",
            )
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#held", HELD_UNTIL)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#bucket", attr::EXPIRY_BUCKET)
            .expression_attribute_values(":kind", AttributeValue::S(DELIVERY_KIND.into()))
            .expression_attribute_values(":sending", AttributeValue::S(SENDING.into()))
            .expression_attribute_values(
                ":held",
                AttributeValue::N((now + hold.as_secs() as i64).to_string()),
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(
                ":bucket",
                AttributeValue::S(item_key::item_expiry_bucket(&pk, expires_at)),
            )
            .send()
            .await;
        condition_held(result)
    }

    /// Marks the claimed attempt `identity` of `tenant` finished: no one sends it again.
    pub async fn finish_delivery(&self, tenant: &str, identity: &str) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(delivery_pk(tenant, identity)))
            .update_expression("SET #state = :finished")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":finished", AttributeValue::S(FINISHED.into()))
            .send()
            .await
            .map_err(|e| crate::error::classify("UpdateItem", e))?;
        Ok(())
    }
}
