//! Scheduled (EventBridge): deletes uploads no job used by their deadline,
//! empties the trash deletions cut short left behind, and looks after data
//! exports: sends a stalled one's message again, fails one past its
//! deadline, deletes ZIPs and records whose day is over (see
//! `shared::usecases::sweep`).

use std::time::Duration;

use shared::adapters::dynamo::DynamoStore;
use shared::adapters::s3::PhotoStorage;
use shared::adapters::sqs::ExportQueue;
use shared::config::Settings;
use shared::entry::{Function, Scheduled};
use shared::error::BoxError;
use shared::exports::ExportSettings;
use shared::usecases::sweep::{self, ExportSweeping};

/// The sweep, over the clients built once per cold start.
pub struct SweepUploads {
    store: DynamoStore,
    photos: PhotoStorage,
    /// Trash older than this is a deletion that was cut short (`STALL_SECONDS`).
    stall_seconds: i64,
    /// The export queue and the exports' timing.
    exports: ExportSweeping<ExportQueue>,
}

impl Function for SweepUploads {
    /// Needs no secret: only the table, the bucket and the export queue.
    async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = shared::adapters::aws_config().await;
        let (photos, queue) = (PhotoStorage::new(&sdk, settings.bucket_name), ExportQueue::new(&sdk, settings.export_queue_url));
        // Built now rather than in the first run.
        photos.ready();
        queue.ready();
        Ok(SweepUploads {
            store: DynamoStore::new(shared::adapters::dynamo_client(&sdk), settings.table_name),
            photos,
            stall_seconds: settings.stall_seconds,
            exports: ExportSweeping { queue, settings: ExportSettings::from_env()? },
        })
    }
}

impl Scheduled for SweepUploads {
    async fn run(&self, budget: Duration) -> Result<serde_json::Value, BoxError> {
        let report = sweep::run(&self.store, &self.photos, &self.exports, self.stall_seconds, budget).await?;
        let e = report.exports;
        Ok(serde_json::json!({"deleted": report.deleted, "taken": report.taken, "failed": report.failed, "trash": report.trash,
            "exports": {"resent": e.resent, "failed": e.failed, "deleted": e.deleted, "errors": e.errors}}))
    }
}
