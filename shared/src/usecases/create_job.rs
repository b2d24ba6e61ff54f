//! `POST /v1/jobs`: checks the upload by its bytes, then charges the price,
//! records the job and takes the upload in one transaction, copies the photo
//! into the job's own key (out of `uploads/`, which a lifecycle rule empties,
//! and out of reach of the upload's link), then queues the generation. If
//! queueing fails the job is failed and refunded at once, so no credit is
//! ever lost. An `Idempotency-Key` makes a retry return the same job, charged
//! once.

use crate::app::App;
use crate::auth::access_token::Claims;
use crate::error::{ApiError, unauthorized};
use crate::jobs::{CreateJobRequest, CreateOutcome, Job, JobError, JobStatus, MAX_ACTIVE_JOBS, NewJob, PhotoSource, UploadUse, is_id, new_job_id};
use crate::messages::GenerationMessage;
use crate::object_keys::{UserObjects, upload_of};
use crate::ports::{ActionLimiter, JobStore, PhotoStore, PipelineStore, ProviderBudget, Queue, SessionStore, UploadStore};
use crate::rate_limit::Admission;
use crate::uploads::HeaderCheck;
use crate::usecases::jobs::view;
use crate::usecases::sessions::require_live;
use crate::usecases::uploads::inspect;

fn upload_not_found() -> ApiError {
    ApiError::NotFound("No such upload: upload the photo first with POST /v1/uploads.".into())
}

/// Creates the job `create` asks for (under `idempotency_key`, if any) and
/// answers the contract's `Job`.
pub async fn create_job<S, P, G, D>(
    app: &App<S, P, G, D>,
    claims: &Claims,
    create: &CreateJobRequest,
    idempotency_key: Option<&str>,
    now: i64,
) -> Result<serde_json::Value, ApiError>
where
    S: JobStore + UploadStore + PipelineStore + SessionStore + ActionLimiter + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    G: Queue<GenerationMessage> + Sync,
{
    let style = create.style.resolve().map_err(|e| ApiError::ValidationFailed(format!("{e}.")))?;
    let store = &app.store;
    let objects = UserObjects::new(&app.secrets.ip_hash_key, &claims.sub);
    // The upload whose key holds the photo: the caller's, or a copy of the source job's.
    let (upload_id, upload) = match create.source()? {
        PhotoSource::Upload(upload_id) => {
            check_upload(app, claims, &objects, upload_id, now).await?;
            (upload_id.to_string(), UploadUse::Take)
        }
        PhotoSource::Job(source_job_id) => (copy_source_photo(app, claims, &objects, source_job_id, now).await?, UploadUse::Copied { source_job_id }),
    };
    let upload_key = objects.upload(&upload_id);
    let result = charge_and_record(app, claims, create, &objects, &upload_id, upload, style.credits(), idempotency_key, now).await;
    // A refusal charged nothing for this copy: remove it. After an error the
    // transaction may have committed (a lost answer): the copy is removed
    // only when its upload record (written by that transaction) is known
    // not to exist, else it stays for the job, or for the lifecycle rule.
    let refused = match &result {
        Ok(Recorded::Earlier(_)) => true,
        Ok(Recorded::New(_)) => false,
        Err(ApiError::Internal(_) | ApiError::Unavailable(_)) => {
            matches!(upload, UploadUse::Copied { .. }) && matches!(app.store.upload_state(&claims.sub, &upload_id).await, Ok(None))
        }
        Err(_) => true,
    };
    if matches!(upload, UploadUse::Copied { .. })
        && refused
        && let Err(err) = app.photos.delete(std::slice::from_ref(&upload_key)).await
    {
        tracing::warn!(error = %err, "an unused copy of a job's photo was left for the lifecycle rule");
    }
    let job = match result? {
        Recorded::New(job) => job,
        Recorded::Earlier(earlier) => return view(&app.photos, &earlier).await,
    };

    // The job's own copy; should this step fail or be lost, the worker makes it.
    match app.photos.copy(&upload_key, &job.input_key).await {
        // Best effort: the lifecycle rule removes what is left.
        Ok(true) => {
            if let Err(err) = app.photos.delete(std::slice::from_ref(&upload_key)).await {
                tracing::warn!(job_id = %job.job_id, error = %err, "a used upload was left for the lifecycle rule");
            }
        }
        Ok(false) => tracing::warn!(job_id = %job.job_id, "the upload went before the job's copy was made"),
        Err(err) => tracing::warn!(job_id = %job.job_id, error = %err, "the job's copy of its photo is left to the worker"),
    }
    if let Err(err) = app.queue.send(&GenerationMessage::start(&job.user_id, &job.job_id), 0).await {
        tracing::error!(job_id = %job.job_id, error = %err, "could not queue a paid job: failing and refunding it");
        let reason = JobError { code: "provider_failed".into(), message: "The job could not be started; its credits were refunded.".into() };
        let now = crate::time::now();
        if store.fail_and_refund(&job, &reason, now).await? {
            super::generation::finished(&job, Some(&reason), now);
        }
        return Err(ApiError::Unavailable("The job could not be started and was refunded; please retry.".into()));
    }
    view(&app.photos, &job).await
}

/// What the charge-and-record step came to.
enum Recorded {
    /// A new job, charged and recorded.
    New(Job),
    /// The job an earlier request under the same `Idempotency-Key` created.
    Earlier(Job),
}

/// Passes the ceilings, then charges and records the job of the photo under
/// `upload_id`'s key in one transaction (or finds the earlier job of the same
/// `Idempotency-Key`).
#[allow(clippy::too_many_arguments)]
async fn charge_and_record<S, P, G, D>(
    app: &App<S, P, G, D>,
    claims: &Claims,
    create: &CreateJobRequest,
    objects: &UserObjects,
    upload_id: &str,
    upload: UploadUse<'_>,
    credits: i64,
    idempotency_key: Option<&str>,
    now: i64,
) -> Result<Recorded, ApiError>
where
    S: JobStore + UploadStore + PipelineStore + SessionStore + ActionLimiter + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    G: Queue<GenerationMessage> + Sync,
{
    let store = &app.store;
    let settings = &app.settings;
    admit(app, claims, now).await?;
    let job = Job {
        input_key: objects.job_photo(upload_id),
        job_id: new_job_id(),
        user_id: claims.sub.clone(),
        status: JobStatus::Queued,
        style: create.style.clone(),
        credits_charged: credits,
        refunded: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
        upload_id: upload_id.to_string(),
        result_key: None,
        error: None,
        deadline_at: now + settings.job_deadline_seconds,
        task_id: None,
        task_model: None,
        fallback_model: None,
        primary_task_id: None,
        callback_hash: None,
        claim: None,
        expires_at: (settings.result_retention_days > 0).then(|| now + settings.result_retention_days * 86_400),
        // The worker must claim it by then, or the reaper sends its start again.
        watch_at: Some(now + settings.stall_seconds),
        poll_seq: 0,
    };
    let fingerprint = create.fingerprint();
    let new = NewJob { job: &job, session_id: &claims.sid, idempotency: idempotency_key.map(|k| (k, fingerprint.as_str())), upload, now };
    match store.create_job(&new).await? {
        CreateOutcome::Created => {}
        CreateOutcome::SessionGone => return Err(unauthorized()),
        CreateOutcome::UploadUnavailable => {
            if let UploadUse::Copied { .. } = upload {
                return Err(ApiError::internal("a new upload id was taken"));
            }
            return Err(match store.upload_state(&claims.sub, upload_id).await? {
                None => upload_not_found(),
                Some(_) => ApiError::ValidationFailed("This upload was already used by another job; upload the photo again.".into()),
            });
        }
        CreateOutcome::ProfileRefused => {
            let (credits, active) = store.balance_and_active(&claims.sub).await?;
            return Err(if active >= MAX_ACTIVE_JOBS {
                ApiError::RateLimited { message: format!("{MAX_ACTIVE_JOBS} headshots are already being made; wait for one to finish."), retry_after_secs: 30 }
            } else {
                ApiError::InsufficientCredits(format!("This style costs {} credits and the balance is {credits}; buy credits first.", job.credits_charged))
            });
        }
        CreateOutcome::KeyUsed(stored) => {
            if stored.fingerprint != fingerprint {
                return Err(ApiError::Conflict("This Idempotency-Key was used with a different request.".into()));
            }
            let earlier = store
                .job_with_live_session(&claims.sub, &claims.sid, &stored.job_id, now)
                .await?
                .ok_or_else(unauthorized)?
                .ok_or_else(|| ApiError::NotFound("The job this Idempotency-Key created was deleted.".into()))?;
            if earlier.status == JobStatus::Queued {
                // The first request may have died before queueing it; a
                // second start is harmless (only one run can claim the job).
                app.queue.send(&GenerationMessage::start(&earlier.user_id, &earlier.job_id), 0).await?;
            }
            return Ok(Recorded::Earlier(earlier));
        }
    }
    Ok(Recorded::New(job))
}

/// Checks the caller's upload by its bytes (the real guard: the emulator, and
/// a misbehaving client, can store anything): 404 when it does not exist,
/// 422 when it is not a usable photo.
async fn check_upload<S, P, G, D>(app: &App<S, P, G, D>, claims: &Claims, objects: &UserObjects, upload_id: &str, now: i64) -> Result<(), ApiError>
where
    S: UploadStore + SessionStore + Sync,
    P: PhotoStore + Sync,
{
    let store = &app.store;
    if !is_id(upload_id) {
        require_live(store, claims.clone(), now).await?;
        return Err(upload_not_found());
    }
    match inspect(&app.photos, &objects.upload(upload_id)).await? {
        // A job took it (and its copy), so the object is gone: the
        // transaction tells a retry under the same key from a second use.
        None if store.upload_state(&claims.sub, upload_id).await? == Some(true) => Ok(()),
        None => {
            require_live(store, claims.clone(), now).await?;
            Err(upload_not_found())
        }
        Some(HeaderCheck::Unusable(why)) => Err(ApiError::ValidationFailed(why)),
        Some(HeaderCheck::NeedMore) => Err(ApiError::internal("header check gave no verdict")),
        Some(HeaderCheck::Usable { .. }) => Ok(()),
    }
}

/// Copies the photo of the caller's job `source_job_id` (checked when that job
/// was made) to a new upload key of the new job's own, server-side: 404 when
/// the job is not the caller's or its photo is gone. Copied before anything is
/// charged, so a deletion of the source a moment later cannot leave the new
/// job without a photo; a copy no job takes is removed by `uploads/`'s
/// lifecycle rule.
async fn copy_source_photo<S, P, G, D>(app: &App<S, P, G, D>, claims: &Claims, objects: &UserObjects, source_job_id: &str, now: i64) -> Result<String, ApiError>
where
    S: JobStore + SessionStore + Sync,
    P: PhotoStore + Sync,
{
    let not_found = || ApiError::NotFound("No such job with a photo: name one of your jobs that still has its photo.".into());
    if !is_id(source_job_id) {
        require_live(&app.store, claims.clone(), now).await?;
        return Err(not_found());
    }
    let source = app.store.job_with_live_session(&claims.sub, &claims.sid, source_job_id, now).await?.ok_or_else(unauthorized)?.ok_or_else(not_found)?;
    let upload_id = new_job_id();
    let copy = objects.upload(&upload_id);
    // The job's own photo; before its worker made that, the upload it comes from.
    for from in [Some(source.input_key.clone()), upload_of(&source.input_key)].into_iter().flatten() {
        if app.photos.copy(&from, &copy).await? {
            return Ok(upload_id);
        }
    }
    Err(not_found())
}

/// The ceilings a creation passes before anything is charged: the day's
/// provider spend (503 until the next UTC day, and an alarm), and the
/// caller's creations per hour (429).
async fn admit<S, P, G, D>(app: &App<S, P, G, D>, claims: &Claims, now: i64) -> Result<(), ApiError>
where
    S: SessionStore + ActionLimiter + ProviderBudget + Sync,
{
    let limit = app.settings.daily_spend_limit_micro_usd;
    if limit > 0 && app.store.spent(&crate::time::rfc3339(now)[..10]).await? >= limit {
        tracing::error!(alert = "spend_ceiling", "the daily provider spend ceiling is reached: new jobs are refused until midnight UTC");
        let retry_after_secs = u64::try_from(86_400 - now.rem_euclid(86_400)).unwrap_or(3600);
        return Err(ApiError::UnavailableFor {
            message: "Headshots are paused until tomorrow (UTC): the service reached its daily capacity. Nothing was charged.".into(),
            retry_after_secs,
        });
    }
    // The counter lives in the caller's records: only behind a live session.
    require_live(&app.store, claims.clone(), now).await?;
    if let Admission::Limited { retry_after_secs } = app.store.admit_user_action(&claims.sub, "create_job", now, app.settings.jobs_per_hour, 3600).await? {
        return Err(ApiError::RateLimited { message: format!("At most {} headshots an hour; try again later.", app.settings.jobs_per_hour), retry_after_secs });
    }
    Ok(())
}
