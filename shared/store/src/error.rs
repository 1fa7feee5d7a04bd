//! Store errors, and the one place that decides whether a DynamoDB failure is worth
//! retrying. Callers map [`StoreError::is_retryable`] onto their vendor's status (500 or
//! 503 with `Retry-After`); the underlying SDK error is kept as the source for logs and is
//! never shown to a caller.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} failed ({code})")]
    Dynamo {
        operation: &'static str,
        /// The service's error code, or the kind of transport failure.
        code: String,
        retryable: bool,
        #[source]
        source: BoxError,
    },
    /// Some writes of a batch were still unprocessed after every retry: those records
    /// remain, so the operation did not complete.
    #[error("{remaining} write(s) still unprocessed after {attempts} attempts")]
    Unprocessed { remaining: usize, attempts: u32 },
    /// Other writes to the same item kept conflicting (DynamoDB transactions): retry later.
    #[error(
        "DynamoDB {operation} kept conflicting with concurrent writes after {attempts} attempts"
    )]
    Contention {
        operation: &'static str,
        attempts: u32,
    },
    /// The table did not become usable in time.
    #[error("{0}")]
    NotReady(String),
    /// An item in the table does not have the shape this code writes.
    #[error("malformed item in the table: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the same request may succeed if tried again later: throttling, service-side
    /// 5xx, timeouts and connection failures, and writes left unprocessed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Dynamo { retryable, .. } => *retryable,
            StoreError::Unprocessed { .. } | StoreError::Contention { .. } => true,
            StoreError::NotReady(_) | StoreError::Corrupt(_) => false,
        }
    }

    /// Logs this failure of `action` with its cause (for operators; callers only ever see
    /// a generic message).
    pub fn log(&self, action: &'static str) {
        tracing::error!(
            action,
            error = %self,
            cause = ?std::error::Error::source(self),
            retryable = self.is_retryable(),
            "token store failure"
        );
    }

    /// The service error code, when DynamoDB answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StoreError::Dynamo { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Error codes DynamoDB uses for "slow down" and transient trouble.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Classifies an SDK error. This is the only place that decides retryability.
pub fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, retryable) = match &err {
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_owned(), false),
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown").to_owned();
            let status = ctx.raw().status().as_u16();
            let retryable = status >= 500 || RETRYABLE_CODES.contains(&code.as_str());
            (code, retryable)
        }
        _ => ("Unknown".to_owned(), false),
    };
    StoreError::Dynamo {
        operation,
        code,
        retryable,
        source: Box::new(err),
    }
}

/// Why DynamoDB refused a TransactWriteItems the caller can act on: the one reading of
/// cancellation reasons, for every transaction the store writes.
pub(crate) enum TransactionRefusal {
    /// Cancelled because these actions' conditions failed (their indexes in the request).
    ConditionsFailed(Vec<usize>),
    /// Another transaction held an item, or the same request is still in progress: retry.
    Conflict,
}

/// The refusal in `err`, if it is one; any other failure is for [`classify`].
pub(crate) fn transaction_refusal<R>(
    err: &SdkError<TransactWriteItemsError, R>,
) -> Option<TransactionRefusal> {
    let service_error = err.as_service_error()?;
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service_error else {
        return service_error
            .is_transaction_in_progress_exception()
            .then_some(TransactionRefusal::Conflict);
    };
    let reasons = cancelled.cancellation_reasons();
    let failed: Vec<usize> = reasons
        .iter()
        .enumerate()
        .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
        .map(|(index, _)| index)
        .collect();
    if !failed.is_empty() {
        return Some(TransactionRefusal::ConditionsFailed(failed));
    }
    reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
        .then_some(TransactionRefusal::Conflict)
}

/// Whether a conditional UpdateItem's condition held (`false`: it did not, and nothing was
/// written); any other failure is the store's.
pub(crate) fn condition_held(
    result: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
            Ok(false)
        }
        Err(e) => Err(classify("UpdateItem", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn service_error(status: u16, code: &str) -> StoreError {
        let err = PutItemError::generic(ErrorMetadata::builder().code(code).build());
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        classify("PutItem", SdkError::service_error(err, raw))
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        for (status, code) in [
            (400, "ProvisionedThroughputExceededException"),
            (400, "ThrottlingException"),
            (400, "RequestLimitExceeded"),
            (400, "TransactionConflictException"),
            (500, "InternalServerError"),
            (503, "ServiceUnavailable"),
            (502, "SomethingNew"),
        ] {
            let err = service_error(status, code);
            assert!(err.is_retryable(), "{status} {code}");
            assert_eq!(err.code(), Some(code));
        }
    }

    #[test]
    fn caller_and_configuration_errors_are_not_retryable() {
        for code in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
        ] {
            assert!(!service_error(400, code).is_retryable(), "{code}");
        }
    }

    #[test]
    fn unprocessed_writes_are_retryable_and_corruption_is_not() {
        assert!(StoreError::Unprocessed {
            remaining: 3,
            attempts: 8
        }
        .is_retryable());
        assert!(!StoreError::Corrupt("x".into()).is_retryable());
    }
}
