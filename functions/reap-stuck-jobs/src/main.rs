//! Lambda entry point: builds the reaper once per cold start; each scheduled
//! event runs it once.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), shared::error::BoxError> {
    shared::telemetry::init();
    let reaper = reap_stuck_jobs::ReapStuckJobs::from_env().await?;
    let reaper = &reaper;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| async move {
        let report = reaper.run().await?;
        Ok::<_, shared::error::BoxError>(serde_json::json!({"settled": report.settled, "nudged": report.nudged, "failed": report.failed}))
    }))
    .await
}
