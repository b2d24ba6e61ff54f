//! Every `TransactWriteItems` goes through [`DynamoStore::transact`]:
//!
//! - it carries a `ClientRequestToken`, so when an attempt committed but its
//!   answer was lost, the SDK's retry (the same request, the same token) is
//!   answered with the success it was instead of failing on its own writes;
//! - a cancellation that is not a failed condition (`TransactionConflict`
//!   with another transaction on one of the items, an item throttled) is
//!   retried with jittered backoff, with the same token: DynamoDB applies a
//!   resubmitted request whose first try did not commit;
//! - only a condition that really failed reads as "refused", with the
//!   reason of each item so the caller can tell which one.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{DynamoStore, store_error};
use crate::backoff::Backoff;
use crate::error::StoreError;

/// Tries of one transaction while it conflicts with others.
const CONFLICT_TRIES: u32 = 8;

/// A transaction that did not commit because a condition failed: each
/// item's cancellation code (`None` where that item was fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub Vec<Option<String>>);

impl Refused {
    /// Whether item `i` failed its condition.
    pub fn failed_at(&self, i: usize) -> bool {
        self.0.get(i).and_then(|c| c.as_deref()) == Some(CONDITION_FAILED)
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// What one attempt's error means.
enum Cancelled {
    /// A condition failed: the answer.
    Refused(Refused),
    /// Contention or throttling on an item, or the same token still in
    /// flight: try again.
    Transient(String),
    /// Anything else.
    Error(StoreError),
}

fn classify<R>(err: SdkError<TransactWriteItemsError, R>) -> Cancelled
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let codes: Vec<Option<String>> = c.cancellation_reasons().iter().map(|r| r.code().filter(|code| *code != "None").map(str::to_string)).collect();
            if codes.iter().flatten().any(|c| c == CONDITION_FAILED) {
                return Cancelled::Refused(Refused(codes));
            }
            let retryable = |c: &str| matches!(c, "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded");
            match codes.iter().flatten().find(|c| !retryable(c)) {
                None => Cancelled::Transient(codes.iter().flatten().cloned().collect::<Vec<_>>().join(", ")),
                Some(other) => Cancelled::Error(StoreError::other(format!("transaction cancelled: {other}"))),
            }
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => Cancelled::Transient("the same request is in progress".into()),
        _ => Cancelled::Error(store_error(err)),
    }
}

/// A fresh client request token (at most 36 characters).
fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl DynamoStore {
    /// Runs `writes` as one idempotent transaction (see the module doc):
    /// `Ok(Ok(()))` when it committed, `Ok(Err(refused))` when a condition
    /// failed, `Err` when it could not be done (503 / retry the message).
    pub(crate) async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<Result<(), Refused>, StoreError> {
        let token = token();
        let mut backoff = Backoff::contention();
        for _ in 0..CONFLICT_TRIES {
            let attempt = self.client.transact_write_items().set_transact_items(Some(writes.clone())).client_request_token(&token).send().await;
            match attempt.map_err(classify) {
                Ok(_) => return Ok(Ok(())),
                Err(Cancelled::Refused(refused)) => return Ok(Err(refused)),
                Err(Cancelled::Error(err)) => return Err(err),
                Err(Cancelled::Transient(why)) => {
                    tracing::debug!(%why, "transaction contended: retrying");
                    backoff.pause().await;
                }
            }
        }
        Err(StoreError::Unavailable("a transaction kept conflicting with others".into()))
    }

    /// [`DynamoStore::transact`] for callers that only need to know whether
    /// it committed: `false` when a condition failed.
    pub(crate) async fn transact_if(&self, writes: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        Ok(self.transact(writes).await?.is_ok())
    }
}
