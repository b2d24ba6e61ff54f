//! The answer of an SQS-triggered function (`ReportBatchItemFailures`): only
//! the messages that failed are retried, not the whole batch.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};

/// The batch response for `records`, given whether each one succeeded.
pub fn batch_response(records: &[SqsMessage], succeeded: impl IntoIterator<Item = bool>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (record, ok) in records.iter().zip(succeeded) {
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}
