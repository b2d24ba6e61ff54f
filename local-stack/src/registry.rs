//! Every Lambda binary's handler, by binary name: the local server calls the
//! very `Route`, `Consumer` or `Scheduled` type the binary's `main.rs` runs
//! (through the same `respond` for routes), built the same way
//! ([`Function::from_env`]). Adding a function is one line in the list below.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::future::BoxFuture;
use shared::entry::{Consumer, Function, Scheduled};
use shared::error::BoxError;
use shared::http::{Body, Request, Response, Route, serve::respond};

/// A built handler, callable per request.
pub type Dispatch = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// One invocation of a queue-triggered function with a batch.
pub type Consume = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// One run of a scheduled function.
pub type Tick = Arc<dyn Fn() -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// The time a local scheduled run may take (the functions' 60 s timeout, less the margin).
const SCHEDULED_BUDGET: Duration = Duration::from_secs(50);

async fn route<R: Route + Function>() -> Result<Dispatch, BoxError> {
    let route = Arc::new(R::from_env().await?);
    Ok(Arc::new(move |req| {
        let route = Arc::clone(&route);
        Box::pin(async move { respond(route.as_ref(), req).await })
    }))
}

async fn consumer<C: Consumer + Function>() -> Result<Consume, BoxError> {
    let consumer = Arc::new(C::from_env().await?);
    Ok(Arc::new(move |event| {
        let consumer = Arc::clone(&consumer);
        Box::pin(async move { consumer.handle(event).await })
    }))
}

async fn scheduled<S: Scheduled + Function>() -> Result<Tick, BoxError> {
    let function = Arc::new(S::from_env().await?);
    Ok(Arc::new(move || {
        let function = Arc::clone(&function);
        Box::pin(async move { function.run(SCHEDULED_BUDGET).await.map(|_| ()) })
    }))
}

/// The one list of functions: binary name and type, by kind. It makes the
/// name lists and the three builders below.
macro_rules! functions {
    (http: { $($h:literal => $ht:ty,)* } queue: { $($q:literal => $qt:ty,)* } scheduled: { $($s:literal => $st:ty,)* }) => {
        /// The HTTP binaries this server can run.
        pub const BINARIES: &[&str] = &[$($h),*];
        /// The queue-triggered binaries the local stack feeds from SQS.
        pub const QUEUE_CONSUMERS: &[&str] = &[$($q),*];
        /// The scheduled binaries the local stack runs on a timer.
        pub const SCHEDULED: &[&str] = &[$($s),*];

        /// Builds `binary`'s handler from the environment, as its cold start would.
        pub async fn build(binary: &str) -> Result<Dispatch, BoxError> {
            match binary {
                $($h => route::<$ht>().await,)*
                other => Err(format!("no handler is registered for binary `{other}`").into()),
            }
        }

        /// Builds a queue-triggered binary's handler, as its cold start would.
        pub async fn build_consumer(binary: &str) -> Result<Consume, BoxError> {
            match binary {
                $($q => consumer::<$qt>().await,)*
                other => Err(format!("no queue consumer is registered for binary `{other}`").into()),
            }
        }

        /// Builds a scheduled binary's handler, as its cold start would.
        pub async fn build_scheduled(binary: &str) -> Result<Tick, BoxError> {
            match binary {
                $($s => scheduled::<$st>().await,)*
                other => Err(format!("no scheduled handler is registered for binary `{other}`").into()),
            }
        }
    };
}

functions! {
    http: {
        "auth-anonymous" => auth_anonymous::AuthAnonymous,
        "auth-refresh" => auth_refresh::AuthRefresh,
        "get-me" => get_me::GetMe,
        "get-styles" => get_styles::GetStyles,
        "create-upload" => create_upload::CreateUpload,
        "create-job" => create_job::CreateJob,
        "list-jobs" => list_jobs::ListJobs,
        "get-job" => get_job::GetJob,
        "delete-job" => delete_job::DeleteJob,
        "kie-webhook" => kie_webhook::KieWebhook,
        "revenuecat-webhook" => revenuecat_webhook::RevenueCatWebhook,
        "credits-sync" => credits_sync::CreditsSync,
        "delete-me" => delete_me::DeleteMe,
        "create-export" => create_export::CreateExport,
        "get-export" => get_export::GetExport,
    }
    queue: {
        "generation-worker" => generation_worker::GenerationWorker,
        "account-deletion-worker" => account_deletion_worker::AccountDeletionWorker,
        "export-worker" => export_worker::ExportWorker,
    }
    scheduled: {
        "sweep-uploads" => sweep_uploads::SweepUploads,
        "reap-stuck-jobs" => reap_stuck_jobs::ReapStuckJobs,
    }
}
