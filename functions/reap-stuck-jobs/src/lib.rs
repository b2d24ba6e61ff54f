//! Scheduled (EventBridge, every minute): looks at the active jobs that need
//! it through `GSI2` (never a scan): settles those past their deadline (one
//! last look at the provider, else `timed_out` and refunded) and sends a
//! stalled job's next step again (see `shared::reaper`).

use shared::error::BoxError;
use shared::generation::Pipeline;
use shared::reaper::{ReaperLimits, ReaperReport};

/// The reaper, built once per cold start.
pub struct ReapStuckJobs {
    pipeline: Pipeline,
}

impl ReapStuckJobs {
    /// Builds the pipeline from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(ReapStuckJobs { pipeline: shared::context::pipeline_from_env().await? })
    }

    /// One run. A job that fails or runs out of time is logged and left for
    /// the next run; only a failure to read the index fails the run.
    pub async fn run(&self) -> Result<ReaperReport, BoxError> {
        let report = shared::reaper::run(&self.pipeline, shared::time::now(), ReaperLimits::default()).await?;
        if report != ReaperReport::default() {
            tracing::info!(settled = report.settled, nudged = report.nudged, failed = report.failed, "reaper run");
        }
        Ok(report)
    }
}
