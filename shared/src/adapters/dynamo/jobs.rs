//! Job records. Creating a job is one transaction: the session is alive, the
//! balance covers the price and the active-job limit holds (one conditional
//! update of the profile), the ledger row, the job, the upload taken (once),
//! and the idempotency key (once).

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::attrs::{Item, get_n, get_s, item, n, opt_s, s};
use super::ledger::{LedgerReason, Posting, free_slot, posting};
use super::sessions::session_key;
use super::uploads::upload_record_key;
use super::{DynamoStore, TTL_ATTRIBUTE, profile_key, session_alive_in, store_error, user_pk};
use crate::error::StoreError;
use crate::jobs::{IDEMPOTENCY_SECONDS, Job, JobError, JobStatus, MAX_ACTIVE_JOBS};
use crate::styles::StyleChoice;

/// The key of a job record.
pub fn job_key(user_id: &str, job_id: &str) -> Item {
    item([("pk", s(user_pk(user_id))), ("sk", s(format!("JOB#{job_id}")))])
}

fn idempotency_key_item(user_id: &str, key: &str) -> Item {
    item([("pk", s(user_pk(user_id))), ("sk", s(format!("IDEM#{key}")))])
}

fn job_item(job: &Job) -> Item {
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
        ("gsi1pk", s(format!("JOBID#{}", job.job_id))),
        ("gsi1sk", s("JOB")),
        ("gsi2pk", s(super::pipeline::ACTIVE_JOBS)),
        ("gsi2sk", s(super::pipeline::attention_sk(job, job.watch_at))),
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
        callback_hash: opt_s(it, "callback_hash"),
        claim: opt_s(it, "claim"),
        expires_at: get_n(it, TTL_ATTRIBUTE).ok(),
        watch_at: get_n(it, "watch_at").ok(),
        poll_seq: get_n(it, "poll_seq").ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
    })
}

/// A job to create, and what it is created under.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The job (status `queued`).
    pub job: &'a Job,
    /// The caller's session, which must be alive.
    pub session_id: &'a str,
    /// `Idempotency-Key` and the request's fingerprint.
    pub idempotency: Option<(&'a str, &'a str)>,
    /// Unix seconds.
    pub now: i64,
}

/// What creating a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Charged and recorded.
    Created,
    /// The session is revoked or lapsed.
    SessionGone,
    /// The upload record is missing, used by another job, or being swept.
    UploadUnavailable,
    /// The balance is short or the active-job limit is reached.
    ProfileRefused,
    /// The idempotency key was used before: (its fingerprint, its job id).
    KeyUsed(String, String),
}

/// A stored idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The fingerprint of the request that first used it.
    pub fingerprint: String,
    /// The job it created.
    pub job_id: String,
}

impl DynamoStore {
    /// Creates a job as one transaction (see the module doc).
    pub async fn create_job(&self, new: &NewJob<'_>) -> Result<CreateOutcome, StoreError> {
        let job = new.job;
        let session = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(session_key(&job.user_id, new.session_id)))
            .condition_expression("#exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(new.now))
            .build()
            .map_err(StoreError::other)?;
        let charge = Posting {
            user_id: &job.user_id,
            amount: -job.credits_charged,
            reason: LedgerReason::JobCharge,
            reference: Some(&job.job_id),
            active_jobs_delta: 1,
            max_active_jobs: Some(MAX_ACTIVE_JOBS),
            now: new.now,
        };
        let [profile, ledger]: [TransactWriteItem; 2] = posting(&self.table, &charge, 0)?.try_into().map_err(|_| StoreError::other("a charge is two writes"))?;
        let job_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(job_item(job)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        // The upload record lives as long as its job: its unused-upload TTL is
        // removed, or becomes the job's retention expiry.
        let take_upload = Update::builder()
            .table_name(&self.table)
            .set_key(Some(upload_record_key(&job.user_id, &job.upload_id)))
            .update_expression(match job.expires_at {
                Some(_) => "SET job_id = :job, #exp = :expires REMOVE gsi1pk, gsi1sk",
                None => "SET job_id = :job REMOVE gsi1pk, gsi1sk, #exp",
            })
            .set_expression_attribute_values(job.expires_at.map(|e| [(":expires".to_string(), n(e))].into()))
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(job_id) AND attribute_not_exists(sweeping)")
            .expression_attribute_values(":job", s(job.job_id.as_str()))
            .build()
            .map_err(StoreError::other)?;
        let mut writes = vec![
            TransactWriteItem::builder().condition_check(session).build(),
            profile,
            ledger,
            TransactWriteItem::builder().put(job_put).build(),
            TransactWriteItem::builder().update(take_upload).build(),
        ];
        if let Some((key, fingerprint)) = new.idempotency {
            let mut it = idempotency_key_item(&job.user_id, key);
            it.extend(item([
                ("entity", s("idempotency_key")),
                ("user_id", s(job.user_id.as_str())),
                ("fingerprint", s(fingerprint)),
                ("job_id", s(job.job_id.as_str())),
                (TTL_ATTRIBUTE, n(new.now + IDEMPOTENCY_SECONDS)),
            ]));
            // An expired key (not yet deleted by TTL) may be reused.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(new.now))
                .build()
                .map_err(StoreError::other)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        // Only an idempotency key that expired (but is not yet deleted by
        // TTL) between the transaction and the read sends it round again.
        for _ in 0..3 {
            let refused = match self.transact(writes.clone()).await? {
                Ok(()) => return Ok(CreateOutcome::Created),
                Err(refused) => refused,
            };
            if let Some((key, _)) = new.idempotency.filter(|_| refused.failed_at(5)) {
                match self.idempotency_key(&job.user_id, key, new.now).await? {
                    Some(stored) => return Ok(CreateOutcome::KeyUsed(stored.fingerprint, stored.job_id)),
                    None => continue,
                }
            }
            return match (refused.failed_at(0), refused.failed_at(4), refused.failed_at(1)) {
                (true, _, _) => Ok(CreateOutcome::SessionGone),
                (_, true, _) => Ok(CreateOutcome::UploadUnavailable),
                (_, _, true) => Ok(CreateOutcome::ProfileRefused),
                _ => Err(StoreError::other("job id collision")),
            };
        }
        Err(StoreError::Unavailable("job creation kept meeting an expiring idempotency key".into()))
    }

    /// The stored idempotency key, if it exists and has not expired.
    pub async fn idempotency_key(&self, user_id: &str, key: &str, now: i64) -> Result<Option<StoredKey>, StoreError> {
        let Some(it) = self.get_consistent(idempotency_key_item(user_id, key)).await? else { return Ok(None) };
        if get_n(&it, TTL_ATTRIBUTE)? <= now {
            return Ok(None);
        }
        Ok(Some(StoredKey { fingerprint: get_s(&it, "fingerprint")?, job_id: get_s(&it, "job_id")? }))
    }

    /// The profile's balance and active-job count (to explain a refusal).
    pub async fn balance_and_active(&self, user_id: &str) -> Result<(i64, i64), StoreError> {
        let it = self.get_consistent(profile_key(user_id)).await?.ok_or_else(|| StoreError::other("profile missing"))?;
        Ok((get_n(&it, "credits")?, get_n(&it, "active_jobs").unwrap_or(0)))
    }

    /// The job, behind a live session, in one read. `None`: the session is
    /// gone; `Some(None)`: no such job of this user.
    pub async fn job_with_live_session(&self, user_id: &str, session_id: &str, job_id: &str, now: i64) -> Result<Option<Option<Job>>, StoreError> {
        let (session, job) = self.get_pair(session_key(user_id, session_id), job_key(user_id, job_id)).await?;
        if !session_alive_in(session.as_ref(), now) {
            return Ok(None);
        }
        Ok(Some(job.as_ref().map(job_from).transpose()?.filter(|j| !j.is_expired(now))))
    }

    /// Whether the session is alive (one small read).
    pub async fn session_alive(&self, user_id: &str, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, session_id)))
            .projection_expression("#exp")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            // Strongly consistent: a session revoked a moment ago (a deleted account) is refused.
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(session_alive_in(out.item(), now))
    }

    /// A page of the user's jobs, newest first, after `after` (a job id);
    /// with the id to continue after when there are more.
    pub async fn list_jobs(&self, user_id: &str, limit: usize, after: Option<&str>) -> Result<(Vec<Job>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :job)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":job", s("JOB#"))
            .scan_index_forward(false)
            // One more than the page, to know whether another page exists.
            .limit(limit as i32 + 1);
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(job_key(user_id, after)));
        }
        let out = query.send().await.map_err(store_error)?;
        let mut jobs = out.items().iter().map(job_from).collect::<Result<Vec<_>, _>>()?;
        let next = (jobs.len() > limit).then(|| {
            jobs.truncate(limit);
            jobs[limit - 1].job_id.clone()
        });
        // Past the retention period: gone for the user (TTL deletes it later).
        let now = crate::time::now();
        jobs.retain(|j| !j.is_expired(now));
        Ok((jobs, next))
    }

    /// Fails a queued or processing job and refunds it (paying a debt first),
    /// in one transaction. `false` when the job is no longer active (someone
    /// else finished it) or the account is going.
    pub async fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .update_expression("SET #st = :failed, refunded = :t, error_code = :code, error_message = :msg, updated_at = :now, completed_at = :now REMOVE gsi2pk, gsi2sk")
            .condition_expression("#st IN (:queued, :processing)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":code", s(error.code.as_str()))
            .expression_attribute_values(":msg", s(error.message.as_str()))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        let fail = TransactWriteItem::builder().update(update).build();
        let outcome = self
            .transact_paying_debt(&job.user_id, |owed| {
                let mut writes = vec![fail.clone()];
                writes.extend(posting(&self.table, &refund(job, now), owed)?);
                Ok((writes, 1))
            })
            .await?;
        Ok(outcome.is_ok())
    }

    /// Deletes a job's record and its upload record, leaving a trash item
    /// with its objects (the caller deletes them, then the item). An active
    /// job frees its slot in the same transaction, and is refunded (paying a debt first)
    /// only while no provider task was started for it: once the provider
    /// works, the credits stay spent. `false` when the job changed meanwhile
    /// (read it again and retry).
    pub async fn delete_job(&self, job: &Job) -> Result<bool, StoreError> {
        let refunds = job.status.is_active() && job.task_id.is_none();
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            // A refund holds only while no task was stored meanwhile.
            .condition_expression(if refunds { "#st = :status AND attribute_not_exists(task_id)" } else { "#st = :status" })
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":status", s(job.status.as_str()))
            .build()
            .map_err(StoreError::other)?;
        let upload = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(upload_record_key(&job.user_id, &job.upload_id)))
            .build()
            .map_err(StoreError::other)?;
        let now = crate::time::now();
        // What the record leaves behind, listed in the same transaction (see `trash`).
        let trash = super::trash::trash_put(&self.table, &job.user_id, &job.job_id, &crate::object_keys::job_objects(job), now)?;
        let records = [TransactWriteItem::builder().delete(delete).build(), TransactWriteItem::builder().delete(upload).build(), trash];
        let outcome = self
            .transact_paying_debt(&job.user_id, |owed| {
                let mut writes = records.to_vec();
                if refunds {
                    writes.extend(posting(&self.table, &refund(job, now), owed)?);
                } else if job.status.is_active() {
                    writes.push(free_slot(&self.table, &job.user_id)?);
                }
                Ok((writes, 3))
            })
            .await?;
        Ok(outcome.is_ok())
    }
}

/// A job's price given back, freeing its slot.
fn refund(job: &Job, now: i64) -> Posting<'_> {
    Posting {
        user_id: &job.user_id,
        amount: job.credits_charged,
        reason: LedgerReason::JobRefund,
        reference: Some(&job.job_id),
        active_jobs_delta: -1,
        max_active_jobs: None,
        now,
    }
}
