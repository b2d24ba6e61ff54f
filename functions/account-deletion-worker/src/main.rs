//! Lambda entry point: builds the worker once per cold start, then handles
//! SQS batches.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), shared::error::BoxError> {
    shared::telemetry::init();
    let worker = account_deletion_worker::AccountDeletionWorker::from_env().await?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, shared::error::BoxError>(worker.handle(event.payload).await)
    }))
    .await
}
