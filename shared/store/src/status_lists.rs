//! Token Status List entries: which list and index a token's status lives at.
//!
//! Each tenant has one allocator item (`statuslists#<tenant>`): the list being filled and
//! the next free index in it. An allocation is one conditional UpdateItem that moves the
//! index on by the number of entries wanted and returns where it ended, so concurrent
//! registrations never get the same index. A list holds `capacity` entries; when the
//! next allocation would not fit, the allocator moves to a fresh list (another
//! conditional UpdateItem, which only one of the racing callers wins) and the
//! allocation is tried again there. Indexes are never handed out twice, so one is never
//! reused while a token that references it can still be valid; a full list is left as
//! it is, and stays served for as long as its tokens can live.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::error::{classify, StoreError};
use crate::item_key;
use crate::model::number;
use crate::table::attr;
use crate::Store;

/// The allocator item's attributes.
const LIST: &str = "list";
const NEXT: &str = "next";

/// Where a token's status lives: list `list` of its tenant, entry `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusEntry {
    pub list: u64,
    pub index: u64,
}

/// How many times an allocation moves to a fresh list before giving up: more than one
/// move in one call means the lists are far too small for the registrations.
const MAX_ROLLOVERS: u32 = 3;

impl Store {
    /// `count` consecutive entries of one list of `tenant`, each list holding `capacity`.
    pub async fn allocate_status_entries(
        &self,
        tenant: &str,
        count: u64,
        capacity: u64,
    ) -> Result<Vec<StatusEntry>, StoreError> {
        // Callers allocate for one registration batch (at most 25) in lists of at least
        // 1,024 entries (their settings' bounds).
        assert!(
            count <= capacity,
            "{count} entries cannot fit a list of {capacity}"
        );
        if count == 0 {
            return Ok(Vec::new());
        }
        let pk = item_key::status_allocator_pk(tenant);
        for _ in 0..=MAX_ROLLOVERS {
            let result = self
                .client()
                .update_item()
                .table_name(self.table_name())
                .key(attr::PK, AttributeValue::S(pk.clone()))
                .update_expression(
                    "SET #next = if_not_exists(#next, :zero) + :count, \
                     #list = if_not_exists(#list, :zero)",
                )
                .condition_expression("attribute_not_exists(#next) OR #next <= :last_start")
                .expression_attribute_names("#next", NEXT)
                .expression_attribute_names("#list", LIST)
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":count", AttributeValue::N(count.to_string()))
                .expression_attribute_values(
                    ":last_start",
                    AttributeValue::N((capacity - count).to_string()),
                )
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match result {
                Ok(output) => {
                    let item = output.attributes;
                    let (Some(list), Some(next)) =
                        (number(item.as_ref(), LIST), number(item.as_ref(), NEXT))
                    else {
                        return Err(StoreError::Corrupt(
                            "status list allocator without list or next".into(),
                        ));
                    };
                    let (list, end) = (list as u64, next as u64);
                    return Ok((end - count..end)
                        .map(|index| StatusEntry { list, index })
                        .collect());
                }
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    self.start_next_status_list(&pk, capacity - count).await?;
                }
                Err(e) => return Err(classify("UpdateItem", e)),
            }
        }
        // Only lists filling faster than this loop runs get here: try again later.
        Err(StoreError::Contention {
            operation: "UpdateItem",
            attempts: MAX_ROLLOVERS + 1,
        })
    }

    /// Moves the allocator at `pk` to a fresh list if the current one has no room for an
    /// allocation starting at `last_start` or later. Racing callers all see the list full;
    /// one moves it on, the others' conditions fail and they simply try again.
    async fn start_next_status_list(&self, pk: &str, last_start: u64) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(attr::PK, AttributeValue::S(pk.to_owned()))
            .update_expression("SET #list = #list + :one, #next = :zero")
            .condition_expression("#next > :last_start")
            .expression_attribute_names("#next", NEXT)
            .expression_attribute_names("#list", LIST)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":last_start", AttributeValue::N(last_start.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }
}
