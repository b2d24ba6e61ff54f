//! Feeds a queue to a queue-triggered handler the way Lambda's SQS event
//! source does: polls batches, hands each batch over as an `SqsEvent`,
//! deletes only the messages that succeeded, and leaves the failed ones to
//! reappear after their visibility timeout (and to the queue's redrive policy
//! to move to the dead-letter queue). Delays are the queue's own.
//!
//! Like Lambda, it stops an invocation at the function's timeout (nothing of
//! that batch is deleted). The fault layer can also make it deliver a message
//! twice (a second invocation, at the same time) or lose a batch's results
//! (as if the function was killed after its work: everything redelivers).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use fault_proxy::Faults;
use serde_json::{Value, json};

use crate::registry::Consume;

/// One queue's trigger.
pub struct Trigger {
    /// A client of the emulator itself (Lambda's poller is not our code: no faults).
    pub sqs: aws_sdk_sqs::Client,
    /// The queue.
    pub queue_url: String,
    /// Its ARN, as events carry it.
    pub queue_arn: String,
    /// Messages per batch (the template's `BatchSize`).
    pub batch: i32,
    /// The function.
    pub consume: Consume,
    /// The function's timeout.
    pub timeout: Duration,
    /// Duplicate deliveries and lost batches, when asked for.
    pub faults: Faults,
}

/// The pause after the first empty receive; it doubles with each further
/// one up to [`IDLE_PAUSE_MAX`], and a receive that brings messages resets it.
const IDLE_PAUSE_FIRST: Duration = Duration::from_millis(200);

/// The longest pause of an idle poller. Five pollers a queue at this pause
/// still pick a new message up within about a third of a second on average
/// (1.6 s at worst, when their pauses line up); at a fixed
/// 200 ms, three idle queues took 75 of the emulator's requests a second,
/// more than it serves under the tests' load.
const IDLE_PAUSE_MAX: Duration = Duration::from_millis(1600);

/// Runs until aborted.
pub async fn run(t: Trigger) {
    let consume = Arc::clone(&t.consume);
    let mut idle_pause = IDLE_PAUSE_FIRST;
    loop {
        let received = t
            .sqs
            .receive_message()
            .queue_url(&t.queue_url)
            .max_number_of_messages(t.batch.clamp(1, 10))
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
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            // Instead of a long poll (which would hold the emulator): short polls, slower while idle.
            tokio::time::sleep(idle_pause).await;
            idle_pause = (idle_pause * 2).min(IDLE_PAUSE_MAX);
            continue;
        }
        idle_pause = IDLE_PAUSE_FIRST;
        let event = match event(&messages, &t.queue_arn) {
            Ok(e) => e,
            Err(err) => {
                tracing::error!(error = %err, "could not build the SQS event");
                continue;
            }
        };
        let bodies: Vec<&str> = messages.iter().map(|m| m.body().unwrap_or_default()).collect();
        let decided = t.faults.trigger(&t.queue_url, &bodies);
        let mut duplicates = SqsEvent::default();
        duplicates.records = decided.duplicate.iter().filter_map(|&i| event.records.get(i).cloned()).collect();
        let invoke = |e: SqsEvent| tokio::time::timeout(t.timeout, consume(e));
        let (response, _) = tokio::join!(invoke(event), async {
            if !duplicates.records.is_empty() {
                let _ = invoke(duplicates).await;
            }
        });
        let Ok(response) = response else {
            tracing::error!(timeout_s = t.timeout.as_secs(), "the function timed out (Lambda would stop it here); its batch will be delivered again");
            continue;
        };
        if decided.lose_batch {
            continue; // the fault layer: the function's results are lost, everything redelivers
        }
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
            .enumerate()
            .filter_map(|(i, m)| DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(m.receipt_handle()?).build().ok())
            .collect();
        if !done.is_empty()
            && let Err(err) = t.sqs.delete_message_batch().queue_url(&t.queue_url).set_entries(Some(done)).send().await
        {
            tracing::warn!(error = %err, "deleting handled messages failed; they will be delivered again");
        }
    }
}

/// The event Lambda would hand the function for `messages`.
fn event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> =
                m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone()))).collect()).unwrap_or_default();
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
    serde_json::from_value(json!({"Records": records}))
}
