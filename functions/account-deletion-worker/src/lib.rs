//! The account deletion worker (SQS-triggered): each message names one
//! account to erase. An erasure that fails (storage or RevenueCat down, a
//! late write found) is reported alone and retried after its visibility
//! timeout; it resumes where it stopped, since every step is idempotent.
//! One that keeps failing goes to the dead-letter queue, whose alarm asks an
//! operator to run `support delete-user`. A completed erasure queues one last
//! pass for when the upload links issued before the deletion have expired:
//! a photo sent through one of them meanwhile is erased then.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use shared::account_deletion::{AccountEraser, EraseError};
use shared::adapters::sqs::{DeletionMessage, DeletionQueue};
use shared::uploads::UPLOAD_LINK_SECONDS;
use shared::context::AppContext;
use shared::error::BoxError;
use shared::revenuecat::RevenueCatClient;

/// The worker, built once per cold start.
pub struct AccountDeletionWorker {
    eraser: AccountEraser,
    queue: DeletionQueue,
    final_pass_delay_secs: u32,
}

impl AccountDeletionWorker {
    /// Builds the eraser from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        let ctx = AppContext::from_env().await?;
        let base = shared::config::optional("REVENUECAT_API_BASE_URL").unwrap_or_else(|| "https://api.revenuecat.com".into());
        let revenuecat = ctx.secrets.revenuecat_api_key.clone().map(|key| RevenueCatClient::new(base, key));
        if revenuecat.is_none() {
            tracing::warn!("no REVENUECAT_API_KEY: deleted accounts are not deleted at RevenueCat");
        }
        // SQS delays a message at most 15 minutes; the links live 5.
        // After the last upload link given before the deletion expired, and within the contract's 60 s.
        let delay = shared::config::parsed("DELETION_FINAL_PASS_SECONDS", UPLOAD_LINK_SECONDS as u32 + 10)?.min(900);
        let eraser = AccountEraser { store: ctx.store, photos: ctx.photos, revenuecat, hash_key: ctx.secrets.ip_hash_key };
        Ok(Self::new(eraser, ctx.deletions, delay))
    }

    /// A worker over `eraser`, queuing final passes on `queue` after `final_pass_delay_secs`.
    pub fn new(eraser: AccountEraser, queue: DeletionQueue, final_pass_delay_secs: u32) -> Self {
        AccountDeletionWorker { eraser, queue, final_pass_delay_secs }
    }

    /// Handles a batch; the answer lists the messages to retry.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = join_all(event.records.iter().map(|m| self.one(m))).await;
        shared::queue_batch::batch_response(&event.records, outcomes)
    }

    async fn one(&self, record: &SqsMessage) -> bool {
        let Some(Ok(msg)) = record.body.as_deref().map(serde_json::from_str::<DeletionMessage>) else {
            tracing::error!(message_id = record.message_id.as_deref().unwrap_or_default(), "unreadable deletion message");
            return false;
        };
        let started = std::time::Instant::now();
        match self.eraser.erase(&msg.user_id, shared::time::now()).await {
            Ok(erased) => {
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(objects = erased.objects, items = erased.items, elapsed_ms, final_pass = msg.final_pass, "account erased");
                if msg.final_pass {
                    return true;
                }
                let last = DeletionMessage { final_pass: true, ..msg };
                match self.queue.send_delayed(&last, self.final_pass_delay_secs).await {
                    Ok(()) => true,
                    Err(err) => {
                        // Retried whole: erasing again is harmless.
                        tracing::warn!(error = %err, "could not queue the final pass; the erasure will be retried");
                        false
                    }
                }
            }
            Err(err) => {
                // Leftovers are counted, not listed: their keys name the user.
                let error = match &err {
                    EraseError::Incomplete(left) => format!("left: {} item(s), {} object(s)", left.items.len(), left.objects.len()),
                    other => other.to_string(),
                };
                tracing::warn!(%error, "account erasure incomplete; it will be retried");
                false
            }
        }
    }
}
