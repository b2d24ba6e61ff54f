//! Scheduled (EventBridge): settles jobs past their deadline and sends
//! again the next step of jobs that missed it (see `shared::usecases::reaper`).

use std::time::Duration;

use shared::context::{self, AppContext, AwsPipeline};
use shared::entry::{FromContext, Scheduled};
use shared::error::BoxError;
use shared::usecases::reaper::{self, ReaperLimits, ReaperReport};

/// The reaper, over the pipeline built once per cold start.
pub struct ReapStuckJobs(AwsPipeline);

impl FromContext for ReapStuckJobs {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(ReapStuckJobs(context::pipeline(&ctx)?))
    }
}

impl Scheduled for ReapStuckJobs {
    /// One run within the reaper's own limits (its budget is set for a
    /// one-minute schedule and a 60 s timeout).
    async fn run(&self, _budget: Duration) -> Result<serde_json::Value, BoxError> {
        let report = reaper::run(&self.0, shared::time::now(), ReaperLimits::default()).await?;
        if report != ReaperReport::default() {
            tracing::info!(settled = report.settled, nudged = report.nudged, failed = report.failed, "reaper run");
        }
        Ok(serde_json::json!({"settled": report.settled, "nudged": report.nudged, "failed": report.failed}))
    }
}
