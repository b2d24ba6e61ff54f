//! Scheduled (EventBridge): deletes uploads no job used by their deadline, in
//! batches, until none is due or the invocation's time is nearly spent; then
//! empties the trash deletions cut short left behind.

use std::time::{Duration, Instant};

use shared::adapters::dynamo::DynamoStore;
use shared::adapters::s3::PhotoStorage;
use shared::config::Settings;
use shared::error::BoxError;
use shared::sweep::{SweepReport, empty_trash, sweep_unused_uploads};

/// Uploads handled per query.
const BATCH: usize = 100;

/// The scheduled job.
pub struct SweepUploads {
    store: DynamoStore,
    photos: PhotoStorage,
    /// Trash older than this is a deletion that was cut short (`STALL_SECONDS`).
    stall_seconds: i64,
}

impl SweepUploads {
    /// Builds the clients from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = shared::adapters::aws_config().await;
        Ok(SweepUploads {
            store: DynamoStore::new(shared::adapters::dynamo_client(&sdk), settings.table_name),
            photos: PhotoStorage::new(&sdk, settings.bucket_name),
            stall_seconds: settings.stall_seconds,
        })
    }

    /// One run: sweeps for at most `budget`.
    pub async fn run(&self, budget: Duration) -> Result<SweepReport, BoxError> {
        let started = Instant::now();
        let mut total = SweepReport::default();
        loop {
            let report = sweep_unused_uploads(&self.store, &self.photos, shared::time::now(), BATCH, started + budget).await?;
            total.deleted += report.deleted;
            total.taken += report.taken;
            total.failed += report.failed;
            // Stop when nothing more is due, when only failures are left (they
            // wait for the next run), or when the time is spent.
            let progress = report.deleted + report.taken;
            if progress + report.failed < BATCH || progress == 0 || started.elapsed() > budget {
                break;
            }
        }
        if started.elapsed() < budget {
            total.trash = empty_trash(&self.store, &self.photos, shared::time::now() - self.stall_seconds, BATCH).await?;
        }
        if total != SweepReport::default() {
            tracing::info!(deleted = total.deleted, taken = total.taken, failed = total.failed, trash = total.trash, "swept unused uploads");
        }
        Ok(total)
    }
}
