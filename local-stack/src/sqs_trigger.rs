//! Feeds a queue to a queue-triggered handler the way Lambda's SQS event
//! source does: polls batches, hands each batch over as an `SqsEvent`,
//! deletes only the messages that succeeded, and leaves the failed ones to
//! reappear after their visibility timeout (and to the queue's redrive policy
//! to move to the dead-letter queue). Delays are the queue's own.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Value, json};

use crate::registry::Consume;

/// Runs until aborted.
pub async fn run(sqs: aws_sdk_sqs::Client, queue_url: String, queue_arn: String, batch: i32, consume: Consume) {
    let consume = Arc::clone(&consume);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(batch.clamp(1, 10))
            // Short polls: the emulator serves one request at a time, and a long poll
            // would hold it (and every other request) for its whole wait.
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(error = %err, "receiving from the queue failed");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone()))).collect())
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": std::env::var("AWS_REGION").unwrap_or_default(),
                })
            })
            .collect();
        let event: SqsEvent = match serde_json::from_value(json!({"Records": records})) {
            Ok(e) => e,
            Err(err) => {
                tracing::error!(error = %err, "could not build the SQS event");
                continue;
            }
        };
        let response = consume(event).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
            .enumerate()
            .filter_map(|(i, m)| DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(m.receipt_handle()?).build().ok())
            .collect();
        if !done.is_empty() {
            if let Err(err) = sqs.delete_message_batch().queue_url(&queue_url).set_entries(Some(done)).send().await {
                tracing::warn!(error = %err, "deleting handled messages failed; they will be delivered again");
            }
        }
    }
}
