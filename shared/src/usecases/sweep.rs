//! The sweep of unused uploads: an upload no job took by its deadline is
//! marked (so no job can take it any more), its object deleted, then its
//! record. The same run empties the trash a deletion left behind when it
//! was cut short (see `trash`), and looks after data exports (see
//! `exports::sweep_exports`: a stalled one sent again, a late one failed, a
//! ZIP and its record deleted when their time is over). Runs on a schedule
//! on AWS and on a timer in the local stack.
//! Uploads are swept a few at a time, each within its own time budget, so
//! one that fails (or hangs) is logged and left for the next run while the
//! rest proceed.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::error::StoreError;
use crate::exports::ExportSettings;
use crate::messages::ExportMessage;
use crate::ports::{ExportStore, ObjectUploads, PhotoStore, Queue, TrashStore, UploadStore};
use crate::uploads::DueUpload;
use crate::usecases::exports::{ExportSweep, sweep_exports};

/// Uploads handled per query.
const BATCH: usize = 100;
/// Uploads swept at once.
const PARALLEL: usize = 8;
/// The time one upload may take.
const PER_UPLOAD: Duration = Duration::from_secs(10);

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unused uploads deleted.
    pub deleted: usize,
    /// Uploads a job took at the last moment, left alone.
    pub taken: usize,
    /// Uploads that failed or ran out of time (swept again next run).
    pub failed: usize,
    /// Trash items emptied.
    pub trash: usize,
    /// What was done to data exports.
    pub exports: ExportSweep,
}

/// Deletes up to `batch` unused uploads whose deadline passed before `now`,
/// starting none after `start_by` (the rest waits for the next run).
pub async fn sweep_unused_uploads<S: UploadStore + Sync, P: PhotoStore + Sync>(
    store: &S,
    photos: &P,
    now: i64,
    batch: usize,
    start_by: Instant,
) -> Result<SweepReport, StoreError> {
    let due = store.due_uploads(now, batch).await?;
    let outcomes: Vec<_> = futures_util::stream::iter(due)
        .take_while(|_| std::future::ready(Instant::now() < start_by))
        .map(|upload| async move {
            let outcome = tokio::time::timeout(PER_UPLOAD, sweep_one(store, photos, &upload)).await;
            (upload, outcome)
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut report = SweepReport::default();
    for (upload, outcome) in outcomes {
        match outcome {
            Ok(Ok(true)) => report.deleted += 1,
            Ok(Ok(false)) => report.taken += 1,
            Ok(Err(err)) => {
                report.failed += 1;
                tracing::warn!(upload_id = %upload.upload_id, error = %err, "an unused upload could not be swept; next run tries again");
            }
            Err(_) => {
                report.failed += 1;
                tracing::warn!(upload_id = %upload.upload_id, "sweeping an unused upload ran out of time; next run tries again");
            }
        }
    }
    Ok(report)
}

/// Deletes the objects of up to `batch` trash items written before `before`
/// (older than a stalled request could be), then the items; how many were
/// emptied. One that fails is logged and left for the next run.
pub async fn empty_trash<S: TrashStore + Sync, P: PhotoStore + Sync>(store: &S, photos: &P, before: i64, batch: usize) -> Result<usize, StoreError> {
    let mut emptied = 0;
    for trash in store.due_trash(before, batch).await? {
        let done = async {
            photos.delete(&trash.keys).await?;
            store.empty_trash(&trash.user_id, &trash.name).await
        };
        match tokio::time::timeout(PER_UPLOAD, done).await {
            Ok(Ok(())) => emptied += 1,
            Ok(Err(err)) => tracing::warn!(name = %trash.name, error = %err, "trash could not be emptied; next run tries again"),
            Err(_) => tracing::warn!(name = %trash.name, "emptying trash ran out of time; next run tries again"),
        }
    }
    Ok(emptied)
}

/// Sweeps one upload: `false` when a job took it first.
async fn sweep_one<S: UploadStore + Sync, P: PhotoStore + Sync>(store: &S, photos: &P, upload: &DueUpload) -> Result<bool, StoreError> {
    if !store.mark_sweeping(upload).await? {
        return Ok(false);
    }
    photos.delete(std::slice::from_ref(&upload.s3_key)).await?;
    store.delete_upload_record(&upload.user_id, &upload.upload_id).await?;
    Ok(true)
}

/// What the sweep of data exports needs.
#[derive(Debug, Clone)]
pub struct ExportSweeping<Q> {
    /// The export queue (a stalled export's message is sent again).
    pub queue: Q,
    /// Retention and deadlines.
    pub settings: ExportSettings,
}

/// One scheduled run: sweeps unused uploads in batches until none is due,
/// only failures are left, or `budget` is nearly spent; then empties the
/// trash older than `stall_seconds` (deletions that were cut short), then
/// looks after the data exports that are due.
pub async fn run<S, P, Q>(store: &S, photos: &P, exports: &ExportSweeping<Q>, stall_seconds: i64, budget: Duration) -> Result<SweepReport, StoreError>
where
    S: UploadStore + TrashStore + ExportStore + Sync,
    P: PhotoStore + ObjectUploads + Sync,
    Q: Queue<ExportMessage> + Sync,
{
    let started = Instant::now();
    let mut total = SweepReport::default();
    loop {
        let report = sweep_unused_uploads(store, photos, crate::time::now(), BATCH, started + budget).await?;
        total.deleted += report.deleted;
        total.taken += report.taken;
        total.failed += report.failed;
        // Failures wait for the next run.
        let progress = report.deleted + report.taken;
        if progress + report.failed < BATCH || progress == 0 || started.elapsed() > budget {
            break;
        }
    }
    if started.elapsed() < budget {
        total.trash = empty_trash(store, photos, crate::time::now() - stall_seconds, BATCH).await?;
    }
    if started.elapsed() < budget {
        total.exports = sweep_exports(store, photos, &exports.queue, &exports.settings, crate::time::now(), BATCH).await?;
    }
    if total != SweepReport::default() {
        let e = total.exports;
        tracing::info!(
            deleted = total.deleted,
            taken = total.taken,
            failed = total.failed,
            trash = total.trash,
            exports_resent = e.resent,
            exports_failed = e.failed,
            exports_deleted = e.deleted,
            export_errors = e.errors,
            "swept unused uploads and exports"
        );
    }
    Ok(total)
}
