//! The data export worker (SQS-triggered): each message names one export to
//! prepare (see `shared::usecases::export_prepare`). A run that fails is
//! reported alone (`ReportBatchItemFailures`) and retried after the
//! visibility timeout, as a new run writing its own object; one that keeps
//! failing goes to the dead-letter queue (and its alarm), and the sweep
//! fails the export at its deadline, so none stays `preparing`.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use shared::context::{self, AppContext, AwsExporter};
use shared::entry::{Consumer, FromContext};
use shared::error::BoxError;
use shared::messages::ExportMessage;
use shared::usecases::export_prepare::Prepared;

/// The worker, over the exporter built once per cold start.
pub struct ExportWorker(AwsExporter);

impl ExportWorker {
    async fn one(&self, record: &SqsMessage) -> bool {
        let Some(Ok(msg)) = record.body.as_deref().map(serde_json::from_str::<ExportMessage>) else {
            tracing::error!(message_id = record.message_id.as_deref().unwrap_or_default(), "unreadable export message");
            return false;
        };
        let started = std::time::Instant::now();
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let outcome = self.0.prepare(&msg, &run_id, shared::time::now()).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(Prepared::Ready { files, parts }) => {
                tracing::info!(export_id = %msg.export_id, files, parts, elapsed_ms, "export ready");
                true
            }
            Ok(other) => {
                tracing::info!(export_id = %msg.export_id, outcome = ?other, elapsed_ms, "export run wrote nothing");
                true
            }
            Err(err) => {
                tracing::warn!(export_id = %msg.export_id, error = %err, elapsed_ms, "export run failed; it will be retried");
                false
            }
        }
    }
}

impl FromContext for ExportWorker {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(ExportWorker(context::exporter(&ctx)?))
    }
}

impl Consumer for ExportWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = join_all(event.records.iter().map(|m| self.one(m))).await;
        shared::queue_batch::batch_response(&event.records, outcomes)
    }
}
