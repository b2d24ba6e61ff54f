//! Lambda entry point: builds the clients once per cold start; each scheduled
//! event runs one sweep.

use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), shared::error::BoxError> {
    shared::telemetry::init();
    let sweep = sweep_uploads::SweepUploads::from_env().await?;
    let sweep = &sweep;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        // Leave a margin before the function's timeout.
        let left = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
        let budget = left.saturating_sub(Duration::from_secs(10));
        let report = sweep.run(budget).await?;
        Ok::<_, shared::error::BoxError>(serde_json::json!({"deleted": report.deleted, "taken": report.taken, "failed": report.failed, "trash": report.trash}))
    }))
    .await
}
