//! Scheduled (EventBridge): deletes uploads no job used by their deadline,
//! then empties the trash deletions cut short left behind (see
//! `shared::usecases::sweep`).

use std::time::Duration;

use shared::adapters::dynamo::DynamoStore;
use shared::adapters::s3::PhotoStorage;
use shared::config::Settings;
use shared::entry::{Function, Scheduled};
use shared::error::BoxError;
use shared::usecases::sweep;

/// The sweep, over the clients built once per cold start.
pub struct SweepUploads {
    store: DynamoStore,
    photos: PhotoStorage,
    /// Trash older than this is a deletion that was cut short (`STALL_SECONDS`).
    stall_seconds: i64,
}

impl Function for SweepUploads {
    /// Needs no secret: only the table and the bucket.
    async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = shared::adapters::aws_config().await;
        Ok(SweepUploads {
            store: DynamoStore::new(shared::adapters::dynamo_client(&sdk), settings.table_name),
            photos: PhotoStorage::new(&sdk, settings.bucket_name),
            stall_seconds: settings.stall_seconds,
        })
    }
}

impl Scheduled for SweepUploads {
    async fn run(&self, budget: Duration) -> Result<serde_json::Value, BoxError> {
        let report = sweep::run(&self.store, &self.photos, self.stall_seconds, budget).await?;
        Ok(serde_json::json!({"deleted": report.deleted, "taken": report.taken, "failed": report.failed, "trash": report.trash}))
    }
}
