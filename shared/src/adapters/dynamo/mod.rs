//! The DynamoDB adapter: one table, items of a user under `pk = USER#<id>`.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | profile | `USER#<user>` | `PROFILE` |
//! | session | `USER#<user>` | `SESSION#<session>` |
//! | ledger entry | `USER#<user>` | `LEDGER#<time>#<id>` |
//! | sign-up counter | `SIGNUP#<hmac of ip>` | `SIGNUP` |
//!
//! `expires_at` (Unix seconds) is the table's TTL attribute. DynamoDB deletes
//! expired items late (and the local emulator never), so reads ignore them.

mod accounts;
mod attrs;
pub mod ledger;
mod rate_limits;
mod sessions;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::StoreError;

/// The table's TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// All ports over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// The SDK client, for callers that compose their own transactions.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The partition key of everything a user owns.
pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// Maps an SDK error: throttling, timeouts and unreachable endpoints are
/// `Unavailable` (the route answers 503), the rest unexpected.
pub(crate) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            )
        ),
        _ => false,
    };
    if transient { StoreError::Unavailable(err.to_string()) } else { StoreError::other(err) }
}
