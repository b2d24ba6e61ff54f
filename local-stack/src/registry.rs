//! Every Lambda binary's handler, by binary name: the local server calls the
//! very `Route` the binary's `main.rs` runs, through the same `respond`.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::future::BoxFuture;
use shared::error::BoxError;
use shared::http::{Body, Request, Response, Route, serve::respond};

/// A built handler, callable per request.
pub type Dispatch = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// The HTTP binaries this server can run.
pub const BINARIES: &[&str] = &[
    "auth-anonymous",
    "auth-refresh",
    "get-me",
    "get-styles",
    "create-upload",
    "create-job",
    "list-jobs",
    "get-job",
    "delete-job",
    "kie-webhook",
    "revenuecat-webhook",
    "credits-sync",
    "delete-me",
];

/// The scheduled binaries the local stack runs on a timer.
pub const SCHEDULED: &[&str] = &["sweep-uploads", "reap-stuck-jobs"];

/// The queue-triggered binaries the local stack feeds from SQS.
pub const QUEUE_CONSUMERS: &[&str] = &["generation-worker", "account-deletion-worker"];

/// One invocation of a queue-triggered function with a batch.
pub type Consume = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// One run of a scheduled function.
pub type Tick = Arc<dyn Fn() -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

fn wrap<R: Route>(route: R) -> Dispatch {
    let route = Arc::new(route);
    Arc::new(move |req| {
        let route = Arc::clone(&route);
        Box::pin(async move { respond(route.as_ref(), req).await })
    })
}

/// Builds `binary`'s handler from the environment, as its cold start would.
pub async fn build(binary: &str) -> Result<Dispatch, BoxError> {
    Ok(match binary {
        "auth-anonymous" => wrap(auth_anonymous::AuthAnonymous::from_env().await?),
        "auth-refresh" => wrap(auth_refresh::AuthRefresh::from_env().await?),
        "get-me" => wrap(get_me::GetMe::from_env().await?),
        "get-styles" => wrap(get_styles::GetStyles::from_env().await?),
        "create-upload" => wrap(create_upload::CreateUpload::from_env().await?),
        "create-job" => wrap(create_job::CreateJob::from_env().await?),
        "list-jobs" => wrap(list_jobs::ListJobs::from_env().await?),
        "get-job" => wrap(get_job::GetJob::from_env().await?),
        "delete-job" => wrap(delete_job::DeleteJob::from_env().await?),
        "kie-webhook" => wrap(kie_webhook::KieWebhook::from_env().await?),
        "revenuecat-webhook" => wrap(revenuecat_webhook::RevenueCatWebhook::from_env().await?),
        "credits-sync" => wrap(credits_sync::CreditsSync::from_env().await?),
        "delete-me" => wrap(delete_me::DeleteMe::from_env().await?),
        other => return Err(format!("no handler is registered for binary `{other}`").into()),
    })
}

/// Builds a scheduled binary's handler, as its cold start would.
pub async fn build_scheduled(binary: &str) -> Result<Tick, BoxError> {
    match binary {
        "sweep-uploads" => {
            let sweep = Arc::new(sweep_uploads::SweepUploads::from_env().await?);
            Ok(Arc::new(move || {
                let sweep = Arc::clone(&sweep);
                Box::pin(async move { sweep.run(std::time::Duration::from_secs(50)).await.map(|_| ()) })
            }))
        }
        "reap-stuck-jobs" => {
            let reaper = Arc::new(reap_stuck_jobs::ReapStuckJobs::from_env().await?);
            Ok(Arc::new(move || {
                let reaper = Arc::clone(&reaper);
                Box::pin(async move { reaper.run().await.map(|_| ()) })
            }))
        }
        other => Err(format!("no scheduled handler is registered for binary `{other}`").into()),
    }
}

/// Builds a queue-triggered binary's handler, as its cold start would.
pub async fn build_consumer(binary: &str) -> Result<Consume, BoxError> {
    match binary {
        "generation-worker" => {
            let worker = Arc::new(generation_worker::GenerationWorker::from_env().await?);
            Ok(Arc::new(move |event| {
                let worker = Arc::clone(&worker);
                Box::pin(async move { worker.handle(event).await })
            }))
        }
        "account-deletion-worker" => {
            let worker = Arc::new(account_deletion_worker::AccountDeletionWorker::from_env().await?);
            Ok(Arc::new(move |event| {
                let worker = Arc::clone(&worker);
                Box::pin(async move { worker.handle(event).await })
            }))
        }
        other => Err(format!("no queue consumer is registered for binary `{other}`").into()),
    }
}
