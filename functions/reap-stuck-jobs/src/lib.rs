//! Scheduled (EventBridge): finds queued or processing jobs past their
//! deadline through `GSI2` (never a scan), asks the provider once more, and
//! otherwise fails and refunds them as `timed_out`.

use shared::error::BoxError;
use shared::generation::Pipeline;

/// Jobs handled per run.
const BATCH: usize = 100;

/// The reaper, built once per cold start.
pub struct ReapStuckJobs {
    pipeline: Pipeline,
}

impl ReapStuckJobs {
    /// Builds the pipeline from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(ReapStuckJobs { pipeline: shared::context::pipeline_from_env().await? })
    }

    /// One run; returns how many jobs it settled.
    pub async fn run(&self) -> Result<usize, BoxError> {
        let due = self.pipeline.store.due_jobs(shared::time::now(), BATCH).await?;
        let mut settled = 0;
        for d in due {
            if let Some(job) = self.pipeline.store.job(&d.user_id, &d.job_id).await? {
                self.pipeline.reap(&job).await?;
                settled += 1;
            }
        }
        if settled > 0 {
            tracing::info!(settled, "reaped jobs past their deadline");
        }
        Ok(settled)
    }
}
