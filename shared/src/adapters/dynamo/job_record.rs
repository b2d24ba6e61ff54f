//! A job's record: the mapping between a [`Job`] and its item, with the
//! index keys that find it by id and, while active, by attention time.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{Item, get_n, get_s, item, n, opt_s, s};
use super::schema::{TTL_ATTRIBUTE, active_jobs_index, attention_sk, job_id_index, job_key};
use crate::error::StoreError;
use crate::jobs::{Job, JobError, JobStatus};
use crate::styles::StyleChoice;

/// A job as stored, with its index keys.
pub(super) fn job_item(job: &Job) -> Item {
    let mut it = job_key(&job.user_id, &job.job_id);
    it.extend(item([
        ("entity", s("job")),
        ("job_id", s(job.job_id.as_str())),
        ("user_id", s(job.user_id.as_str())),
        ("status", s(job.status.as_str())),
        ("attire", s(job.style.attire.as_str())),
        ("background", s(job.style.background.as_str())),
        ("lighting", s(job.style.lighting.as_str())),
        ("quality", s(job.style.quality.as_str())),
        ("credits_charged", n(job.credits_charged)),
        ("refunded", AttributeValue::Bool(job.refunded)),
        ("created_at", n(job.created_at)),
        ("updated_at", n(job.updated_at)),
        ("upload_id", s(job.upload_id.as_str())),
        ("input_key", s(job.input_key.as_str())),
        ("deadline_at", n(job.deadline_at)),
        // Found by id alone (the provider's callback), and by deadline while active (the reaper).
        ("gsi1pk", s(job_id_index(&job.job_id))),
        ("gsi1sk", s("JOB")),
        ("gsi2pk", s(active_jobs_index(&job.job_id))),
        ("gsi2sk", s(attention_sk(job, job.watch_at))),
        ("poll_seq", n(i64::from(job.poll_seq))),
    ]));
    if let Some(watch) = job.watch_at {
        it.insert("watch_at".into(), n(watch));
    }
    if let Some(expires) = job.expires_at {
        it.insert(TTL_ATTRIBUTE.into(), n(expires));
    }
    it
}

/// Reads a stored job.
pub fn job_from(it: &Item) -> Result<Job, StoreError> {
    let status = get_s(it, "status")?;
    Ok(Job {
        job_id: get_s(it, "job_id")?,
        user_id: get_s(it, "user_id")?,
        status: JobStatus::parse(&status).ok_or_else(|| StoreError::other(format!("unknown job status {status}")))?,
        style: StyleChoice {
            attire: get_s(it, "attire")?,
            background: get_s(it, "background")?,
            lighting: get_s(it, "lighting")?,
            quality: get_s(it, "quality")?,
        },
        credits_charged: get_n(it, "credits_charged")?,
        refunded: it.get("refunded").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        created_at: get_n(it, "created_at")?,
        updated_at: get_n(it, "updated_at")?,
        completed_at: get_n(it, "completed_at").ok(),
        upload_id: get_s(it, "upload_id")?,
        input_key: get_s(it, "input_key")?,
        result_key: opt_s(it, "result_key"),
        error: opt_s(it, "error_code").map(|code| JobError { code, message: opt_s(it, "error_message").unwrap_or_default() }),
        deadline_at: get_n(it, "deadline_at")?,
        task_id: opt_s(it, "task_id"),
        task_model: opt_s(it, "task_model"),
        fallback_model: opt_s(it, "fallback_model"),
        primary_task_id: opt_s(it, "primary_task_id"),
        callback_hash: opt_s(it, "callback_hash"),
        claim: opt_s(it, "claim"),
        expires_at: get_n(it, TTL_ATTRIBUTE).ok(),
        watch_at: get_n(it, "watch_at").ok(),
        poll_seq: get_n(it, "poll_seq").ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
    })
}
