//! The account deletion worker (SQS-triggered): each message names one
//! account to erase (see `shared::usecases::account_deletion`). An erasure
//! that fails (storage or RevenueCat down, a late write found) is reported
//! alone and retried after its visibility timeout; it resumes where it
//! stopped, since every step is idempotent. One that keeps failing goes to
//! the dead-letter queue, whose alarm asks an operator to run `support
//! delete-user`. A completed erasure queues one last pass for when the upload
//! links issued before the deletion have expired.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use shared::context::{self, AppContext, AwsEraser};
use shared::entry::{Consumer, FromContext};
use shared::error::BoxError;
use shared::messages::DeletionMessage;
use shared::uploads::UPLOAD_LINK_SECONDS;
use shared::usecases::account_deletion::EraseError;

/// The worker, over the eraser built once per cold start.
pub struct AccountDeletionWorker(AwsEraser);

impl AccountDeletionWorker {
    /// A worker over `eraser`.
    pub fn new(eraser: AwsEraser) -> Self {
        AccountDeletionWorker(eraser)
    }

    async fn one(&self, record: &SqsMessage) -> bool {
        let Some(Ok(msg)) = record.body.as_deref().map(serde_json::from_str::<DeletionMessage>) else {
            tracing::error!(message_id = record.message_id.as_deref().unwrap_or_default(), "unreadable deletion message");
            return false;
        };
        let started = std::time::Instant::now();
        match self.0.handle(&msg, shared::time::now()).await {
            Ok(erased) => {
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(objects = erased.objects, items = erased.items, elapsed_ms, final_pass = msg.final_pass, "account erased");
                true
            }
            Err(err) => {
                // Leftovers are counted, not listed: their keys name the user.
                let error = match &err {
                    EraseError::Incomplete(left) => {
                        format!("left: {} item(s), {} object(s), {} upload(s)", left.items.len(), left.objects.len(), left.uploads.len())
                    }
                    other => other.to_string(),
                };
                tracing::warn!(%error, "account erasure incomplete; it will be retried");
                false
            }
        }
    }
}

impl FromContext for AccountDeletionWorker {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // SQS delays a message at most 15 minutes; the links live 5 (the default
        // comes after the last link given before the deletion expired).
        let delay = shared::config::parsed("DELETION_FINAL_PASS_SECONDS", UPLOAD_LINK_SECONDS as u32 + 10)?.min(900);
        Ok(AccountDeletionWorker(context::eraser(&ctx, delay)))
    }
}

impl Consumer for AccountDeletionWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = join_all(event.records.iter().map(|m| self.one(m))).await;
        shared::queue_batch::batch_response(&event.records, outcomes)
    }
}
