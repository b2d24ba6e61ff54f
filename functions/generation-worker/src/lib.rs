//! The generation worker (SQS-triggered): each message is one pipeline step
//! of one job (see `shared::usecases::generation`). A message that fails is
//! reported alone (`ReportBatchItemFailures`), so it is retried after its
//! visibility timeout without failing the batch; one that keeps failing (a
//! poison message) goes to the dead-letter queue by the queue's redrive policy.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use shared::context::{self, AppContext, AwsPipeline};
use shared::entry::{Consumer, FromContext};
use shared::error::{BoxError, StoreError};
use shared::messages::GenerationMessage;
use shared::usecases::generation::STEP_BUDGET;

/// The worker, over the pipeline built once per cold start.
pub struct GenerationWorker(AwsPipeline);

impl GenerationWorker {
    /// A worker over `pipeline`.
    pub fn new(pipeline: AwsPipeline) -> Self {
        GenerationWorker(pipeline)
    }

    async fn one(&self, record: &SqsMessage) -> bool {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let Some(Ok(msg)) = record.body.as_deref().map(serde_json::from_str::<GenerationMessage>) else {
            // Retried until the redrive policy moves it to the dead-letter queue.
            tracing::error!(%message_id, "unreadable generation message");
            return false;
        };
        let started = std::time::Instant::now();
        // A step that outlives its budget is abandoned (its writes are safe to
        // stop between) and retried from the queue, before the function's
        // timeout could fail every other message of the batch with it.
        let outcome = match tokio::time::timeout(STEP_BUDGET, self.0.run(&msg, message_id)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Unavailable("the step ran out of time".into())),
        };
        // One line per step: the worker's busy time per job is the sum (the latency benchmark reads it).
        tracing::info!(job_id = %msg.job_id, step = ?msg.step, elapsed_ms = started.elapsed().as_millis() as u64, ok = outcome.is_ok(), "generation step");
        if let Err(err) = &outcome {
            tracing::warn!(job_id = %msg.job_id, error = %err, "generation step failed; it will be retried");
        }
        outcome.is_ok()
    }
}

impl FromContext for GenerationWorker {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(GenerationWorker(context::pipeline(&ctx)?))
    }
}

impl Consumer for GenerationWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = join_all(event.records.iter().map(|m| self.one(m))).await;
        shared::queue_batch::batch_response(&event.records, outcomes)
    }
}
