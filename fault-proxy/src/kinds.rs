//! The fault kinds, and which requests each can happen to.

use serde::{Deserialize, Serialize};

use crate::classify::Service;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// DynamoDB write conflict: `TransactionCanceledException` with a `TransactionConflict`
    /// reason (transactions) or `TransactionConflictException` (single-item writes).
    Conflict,
    /// Throttling: DynamoDB `ThrottlingException`, S3 `SlowDown`, SQS `RequestThrottled`,
    /// Secrets Manager `ThrottlingException`.
    Throttle,
    /// DynamoDB `ProvisionedThroughputExceededException`.
    ProvisionedThroughput,
    /// S3 `503 SlowDown`.
    SlowDown,
    /// A 5xx answer (500, or 503 with `status: 503`).
    ServerError,
    /// The connection is reset without an answer; nothing is forwarded.
    Reset,
    /// The request is held `ms` milliseconds, then forwarded.
    Latency,
    /// The request is forwarded and applied, then the connection is closed without the answer.
    LostResponse,
    /// (SQS trigger) a message is handed to the function twice.
    DuplicateDelivery,
    /// (SQS trigger) the batch's result is lost: no message of it is deleted.
    LoseBatch,
}

impl FaultKind {
    /// The snake_case name used in rules, rates, stats and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Conflict => "conflict",
            FaultKind::Throttle => "throttle",
            FaultKind::ProvisionedThroughput => "provisioned_throughput",
            FaultKind::SlowDown => "slow_down",
            FaultKind::ServerError => "server_error",
            FaultKind::Reset => "reset",
            FaultKind::Latency => "latency",
            FaultKind::LostResponse => "lost_response",
            FaultKind::DuplicateDelivery => "duplicate_delivery",
            FaultKind::LoseBatch => "lose_batch",
        }
    }

    /// Whether the local stack's SQS trigger performs it (not the proxy).
    pub fn is_trigger(self) -> bool {
        matches!(self, FaultKind::DuplicateDelivery | FaultKind::LoseBatch)
    }

    /// Whether this fault can happen to `operation` of `service`.
    pub fn applies_to(self, service: Service, operation: &str) -> bool {
        match self {
            FaultKind::Conflict => service == Service::DynamoDb && CONFLICT_OPERATIONS.contains(&operation),
            FaultKind::ProvisionedThroughput => service == Service::DynamoDb,
            FaultKind::SlowDown => service == Service::S3,
            FaultKind::Throttle | FaultKind::ServerError | FaultKind::Reset | FaultKind::Latency | FaultKind::LostResponse => true,
            FaultKind::DuplicateDelivery | FaultKind::LoseBatch => false,
        }
    }
}

/// The DynamoDB operations a write conflict can happen to.
pub const CONFLICT_OPERATIONS: [&str; 4] = ["TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"];
