//! Reading and deleting jobs (`GET /v1/jobs`, `GET /v1/jobs/{job_id}`,
//! `DELETE /v1/jobs/{job_id}`), and the contract's view of a job with fresh
//! short-lived links.

use std::time::Duration;

use crate::auth::access_token::Claims;
use crate::error::{ApiError, StoreError, unauthorized};
use crate::jobs::{Job, LINK_SECONDS, Page, is_id};
use crate::object_keys::job_objects;
use crate::ports::{JobStore, PhotoStore, SessionStore, TrashStore};
use crate::usecases::sessions::require_live;

fn no_such_job() -> ApiError {
    ApiError::NotFound("No such job.".into())
}

/// The job `job_id`, if it is the caller's, read with the session in one
/// call: 401 for a dead session, 404 for any job that is not the caller's
/// (a malformed id too, after the session check, so a revoked token is
/// still 401).
pub async fn caller_job<S: JobStore + SessionStore>(store: &S, claims: &Claims, job_id: &str, now: i64) -> Result<Job, ApiError> {
    if !is_id(job_id) {
        require_live(store, claims.clone(), now).await?;
        return Err(no_such_job());
    }
    store.job_with_live_session(&claims.sub, &claims.sid, job_id, now).await?.ok_or_else(unauthorized)?.ok_or_else(no_such_job)
}

/// The contract's `Job`, with fresh short-lived links (signed locally, no call).
pub async fn view<P: PhotoStore>(photos: &P, job: &Job) -> Result<serde_json::Value, ApiError> {
    let ttl = Duration::from_secs(LINK_SECONDS);
    let input_url = photos.presign_get(&job.input_key, ttl).await?;
    let result_url = match &job.result_key {
        Some(key) => Some(photos.presign_get(key, ttl).await?),
        None => None,
    };
    serde_json::to_value(job.view(input_url, result_url)).map_err(ApiError::internal)
}

/// `GET /v1/jobs/{job_id}`.
pub async fn get_job<S: JobStore + SessionStore, P: PhotoStore>(
    store: &S,
    photos: &P,
    claims: &Claims,
    job_id: &str,
    now: i64,
) -> Result<serde_json::Value, ApiError> {
    view(photos, &caller_job(store, claims, job_id, now).await?).await
}

/// `GET /v1/jobs`: a page of the caller's jobs, newest first, and the cursor of the next.
pub async fn list_jobs<S: JobStore + SessionStore, P: PhotoStore>(
    store: &S,
    photos: &P,
    claims: Claims,
    page: &Page,
    now: i64,
) -> Result<serde_json::Value, ApiError> {
    let claims = require_live(store, claims, now).await?;
    let (jobs, next) = store.list_jobs(&claims.sub, page.limit, page.after.as_deref()).await?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in &jobs {
        views.push(view(photos, job).await?);
    }
    let next_cursor = next.as_deref().map(Page::cursor_after);
    Ok(serde_json::json!({"jobs": views, "next_cursor": next_cursor}))
}

/// `DELETE /v1/jobs/{job_id}`: the record first (with a trash item listing
/// its objects, in the same transaction: from then on the worker, seeing no
/// record, removes anything it writes itself), then the objects, then the
/// trash item. A retry of a deletion whose record went but whose objects
/// may not have (a lost answer, a stopped function) finishes it.
pub async fn delete_job<S, P>(store: &S, photos: &P, claims: &Claims, job_id: &str, now: i64) -> Result<(), ApiError>
where
    S: JobStore + SessionStore + TrashStore,
    P: PhotoStore,
{
    // The job may change (the worker finishing it) between read and delete: read again.
    for _ in 0..5 {
        let job = match caller_job(store, claims, job_id, now).await {
            Ok(job) => job,
            Err(ApiError::NotFound(why)) => {
                let Some(trash) = store.trash(&claims.sub, job_id).await? else { return Err(ApiError::NotFound(why)) };
                return empty(store, photos, &trash.user_id, &trash.name, &trash.keys).await;
            }
            Err(err) => return Err(err),
        };
        if store.delete_job(&job, now).await? {
            return empty(store, photos, &job.user_id, &job.job_id, &job_objects(&job)).await;
        }
    }
    Err(ApiError::Unavailable("The job is changing; retry the deletion.".into()))
}

/// Deletes a deleted job's objects (a few tries), then its trash item.
async fn empty<S: TrashStore, P: PhotoStore>(store: &S, photos: &P, user_id: &str, job_id: &str, keys: &[String]) -> Result<(), ApiError> {
    if let Err(err) = delete_objects(photos, keys).await {
        // The trash item stays: the sweep tries again.
        tracing::error!(alert = "orphaned_objects", job_id, error = %err, "a deleted job's photos could not be removed yet");
        return Err(err.into());
    }
    store.empty_trash(user_id, job_id).await?;
    Ok(())
}

async fn delete_objects<P: PhotoStore>(photos: &P, keys: &[String]) -> Result<(), StoreError> {
    let mut last = Ok(());
    for attempt in 0..3u64 {
        last = photos.delete(keys).await;
        if last.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
    }
    last
}
