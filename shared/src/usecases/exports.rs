//! Data exports as the routes and the sweep see them: `POST /v1/me/exports`
//! records one (one per user per hour, checked in the same transaction that
//! records it) and queues its preparation; `GET /v1/me/exports/{export_id}`
//! reports it with a short-lived download link once ready; the sweep sends
//! the message of an export still preparing at its stall time again (the
//! request may have died before queueing it), fails one past its deadline,
//! and deletes ZIPs and records when their time is over. The preparation
//! itself is `export_prepare`.

use std::time::Duration;

use crate::auth::access_token::Claims;
use crate::error::{ApiError, StoreError, unauthorized};
use crate::exports::{DOWNLOAD_LINK_SECONDS, EXPORT_INTERVAL_SECONDS, Export, ExportSettings, ExportStatus, retry_after};
use crate::jobs::{is_id, new_job_id};
use crate::messages::ExportMessage;
use crate::object_keys::UserObjects;
use crate::ports::{CreateExportOutcome, ExportStore, ObjectUploads, PhotoStore, Queue, SessionStore};
use crate::usecases::sessions::require_live;

fn no_such_export() -> ApiError {
    ApiError::NotFound("No such export: request one with POST /v1/me/exports.".into())
}

/// `POST /v1/me/exports`: records a new export of the caller (401 for a dead
/// session or an account being deleted, 429 within an hour of the last) and
/// queues it. Should the message not go out, the export is recorded all the
/// same and the sweep sends it at its stall time.
pub async fn request_export<S, Q>(store: &S, queue: &Q, hash_key: &[u8], claims: &Claims, settings: &ExportSettings, now: i64) -> Result<Export, ApiError>
where
    S: ExportStore,
    Q: Queue<ExportMessage>,
{
    let export_id = new_job_id();
    let prefix = UserObjects::new(hash_key, &claims.sub).export_prefix(&export_id);
    let export = Export::new(&claims.sub, &export_id, &prefix, now, settings);
    match store.create_export(&export, &claims.sid, EXPORT_INTERVAL_SECONDS).await? {
        CreateExportOutcome::Created => {}
        CreateExportOutcome::SessionGone => return Err(unauthorized()),
        CreateExportOutcome::Limited { last_created_at } => {
            return Err(ApiError::RateLimited {
                message: "One data export an hour: the last one is still available, or ask again later.".into(),
                retry_after_secs: retry_after(last_created_at, now),
            });
        }
    }
    if let Err(err) = queue.send(&ExportMessage { user_id: export.user_id.clone(), export_id: export.export_id.clone() }, 0).await {
        tracing::warn!(export_id = %export.export_id, error = %err, "an export's message was not sent: the sweep sends it later");
    }
    tracing::info!(export_id = %export.export_id, "export requested");
    Ok(export)
}

/// `GET /v1/me/exports/{export_id}`: the caller's export, with a fresh
/// download link when ready; 404 for any export that is not the caller's
/// (a malformed id too, after the session check).
pub async fn get_export<S, P>(store: &S, photos: &P, claims: &Claims, export_id: &str, now: i64) -> Result<serde_json::Value, ApiError>
where
    S: ExportStore + SessionStore,
    P: PhotoStore,
{
    if !is_id(export_id) {
        require_live(store, claims.clone(), now).await?;
        return Err(no_such_export());
    }
    let export = store.export_with_live_session(&claims.sub, &claims.sid, export_id, now).await?.ok_or_else(unauthorized)?.ok_or_else(no_such_export)?;
    view(photos, &export).await
}

/// The contract's `Export`, with a fresh short-lived link when ready.
pub async fn view<P: PhotoStore>(photos: &P, export: &Export) -> Result<serde_json::Value, ApiError> {
    let url = match (&export.status, &export.object_key) {
        (ExportStatus::Ready, Some(key)) => Some(photos.presign_get(key, Duration::from_secs(DOWNLOAD_LINK_SECONDS)).await?),
        _ => None,
    };
    serde_json::to_value(export.view(url)).map_err(ApiError::internal)
}

/// What one sweep of exports did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSweep {
    /// Messages of stalled exports sent again.
    pub resent: usize,
    /// Exports failed at their deadline.
    pub failed: usize,
    /// Exports whose time was over, deleted (ZIP and record).
    pub deleted: usize,
    /// Exports that could not be handled (tried again next run).
    pub errors: usize,
}

/// Handles up to `batch` exports due by `now`; one that fails is logged and
/// left for the next run.
pub async fn sweep_exports<S, P, Q>(store: &S, photos: &P, queue: &Q, settings: &ExportSettings, now: i64, batch: usize) -> Result<ExportSweep, StoreError>
where
    S: ExportStore + Sync,
    P: PhotoStore + ObjectUploads + Sync,
    Q: Queue<ExportMessage> + Sync,
{
    let mut report = ExportSweep::default();
    for export in store.due_exports(now, batch).await? {
        match sweep_one(store, photos, queue, settings, &export, now).await {
            Ok(Some(Swept::Resent)) => report.resent += 1,
            Ok(Some(Swept::Failed)) => report.failed += 1,
            Ok(Some(Swept::Deleted)) => report.deleted += 1,
            Ok(None) => {}
            Err(err) => {
                report.errors += 1;
                tracing::warn!(export_id = %export.export_id, error = %err, "an export could not be swept; next run tries again");
            }
        }
    }
    Ok(report)
}

enum Swept {
    Resent,
    Failed,
    Deleted,
}

async fn sweep_one<S, P, Q>(store: &S, photos: &P, queue: &Q, settings: &ExportSettings, export: &Export, now: i64) -> Result<Option<Swept>, StoreError>
where
    S: ExportStore + Sync,
    P: PhotoStore + ObjectUploads + Sync,
    Q: Queue<ExportMessage> + Sync,
{
    match export.status {
        ExportStatus::Preparing if now < export.deadline_at => {
            // A duplicate of a message still queued is harmless: one run settles it.
            queue.send(&ExportMessage { user_id: export.user_id.clone(), export_id: export.export_id.clone() }, 0).await?;
            store.renew_export_watch(export, export.deadline_at).await?;
            tracing::warn!(export_id = %export.export_id, "an export was still preparing at its stall time: sent again");
            Ok(Some(Swept::Resent))
        }
        ExportStatus::Preparing => {
            if !store.settle_export(&export.failed(now, settings)).await? {
                return Ok(None);
            }
            // What a run cut short may have left: its parts, its object.
            photos.abort_uploads_under(&export.prefix).await?;
            photos.delete_prefix(&export.prefix).await?;
            tracing::error!(alert = "export_failed", export_id = %export.export_id, "an export was not ready by its deadline: failed");
            Ok(Some(Swept::Failed))
        }
        ExportStatus::Ready | ExportStatus::Failed if export.is_expired(now) => {
            photos.abort_uploads_under(&export.prefix).await?;
            photos.delete_prefix(&export.prefix).await?;
            if !store.delete_export_record(export).await? {
                return Ok(None);
            }
            Ok(Some(Swept::Deleted))
        }
        ExportStatus::Ready | ExportStatus::Failed => Ok(None),
    }
}

#[cfg(test)]
#[path = "exports_tests.rs"]
mod tests;
