//! Job records. Creating a job is one transaction: the session is alive, the
//! balance covers the price and the active-job limit holds (one conditional
//! update of the profile), the ledger row, the job, the upload taken (once),
//! and the idempotency key (once). A job made from another job's photo gets
//! an upload record of its own for the copy, made in the same transaction.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::attrs::{get_n, get_s, item, n, s};
use super::job_record::{job_from, job_item};
use super::ledger::{free_slot, posting};
use super::schema::{TTL_ATTRIBUTE, idempotency_key, job_key, profile_key, session_key, upload_key, user_pk};
use super::{DynamoStore, session_alive_in, store_error};
use crate::credits::ledger::Posting;
use crate::error::StoreError;
use crate::jobs::{CreateOutcome, IDEMPOTENCY_SECONDS, Job, MAX_ACTIVE_JOBS, NewJob, StoredKey, UploadUse};
use crate::ports::JobStore;

impl JobStore for DynamoStore {
    /// Creates a job as one transaction (see the module doc).
    async fn create_job(&self, new: &NewJob<'_>) -> Result<CreateOutcome, StoreError> {
        let job = new.job;
        let session = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(session_key(&job.user_id, new.session_id)))
            .condition_expression("#exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(new.now))
            .build()
            .map_err(StoreError::other)?;
        let charge = Posting::charge(&job.user_id, &job.job_id, job.credits_charged, MAX_ACTIVE_JOBS, new.now);
        let [profile, ledger]: [TransactWriteItem; 2] =
            posting(&self.table, &charge, 0)?.try_into().map_err(|_| StoreError::other("a charge is two writes"))?;
        let job_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(job_item(job)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        let upload = match new.upload {
            UploadUse::Take => take_upload(&self.table, job)?,
            UploadUse::Copied { source_job_id } => copied_upload(&self.table, job, source_job_id)?,
        };
        let mut writes =
            vec![TransactWriteItem::builder().condition_check(session).build(), profile, ledger, TransactWriteItem::builder().put(job_put).build(), upload];
        if let Some((key, fingerprint)) = new.idempotency {
            let mut it = idempotency_key(&job.user_id, key);
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
                    Some(stored) => return Ok(CreateOutcome::KeyUsed(stored)),
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
    async fn idempotency_key(&self, user_id: &str, key: &str, now: i64) -> Result<Option<StoredKey>, StoreError> {
        let Some(it) = self.get_consistent(idempotency_key(user_id, key)).await? else { return Ok(None) };
        if get_n(&it, TTL_ATTRIBUTE)? <= now {
            return Ok(None);
        }
        Ok(Some(StoredKey { fingerprint: get_s(&it, "fingerprint")?, job_id: get_s(&it, "job_id")? }))
    }

    /// The profile's balance and active-job count (to explain a refusal).
    async fn balance_and_active(&self, user_id: &str) -> Result<(i64, i64), StoreError> {
        let it = self.get_consistent(profile_key(user_id)).await?.ok_or_else(|| StoreError::other("profile missing"))?;
        Ok((get_n(&it, "credits")?, get_n(&it, "active_jobs").unwrap_or(0)))
    }

    /// The job, behind a live session, in one read. `None`: the session is
    /// gone; `Some(None)`: no such job of this user.
    async fn job_with_live_session(&self, user_id: &str, session_id: &str, job_id: &str, now: i64) -> Result<Option<Option<Job>>, StoreError> {
        let (session, job) = self.get_pair(session_key(user_id, session_id), job_key(user_id, job_id)).await?;
        if !session_alive_in(session.as_ref(), now) {
            return Ok(None);
        }
        Ok(Some(job.as_ref().map(job_from).transpose()?.filter(|j| !j.is_expired(now))))
    }

    /// A page of the user's jobs, newest first, after `after` (a job id);
    /// with the id to continue after when there are more.
    async fn list_jobs(&self, user_id: &str, limit: usize, after: Option<&str>) -> Result<(Vec<Job>, Option<String>), StoreError> {
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

    /// Deletes a job's record and its upload record, leaving a trash item
    /// with its objects (the caller deletes them, then the item). An active
    /// job frees its slot in the same transaction, and is refunded (paying a debt first)
    /// only while no provider task was started for it: once the provider
    /// works, the credits stay spent. `false` when the job changed meanwhile
    /// (read it again and retry).
    async fn delete_job(&self, job: &Job, now: i64) -> Result<bool, StoreError> {
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
        let upload = Delete::builder().table_name(&self.table).set_key(Some(upload_key(&job.user_id, &job.upload_id))).build().map_err(StoreError::other)?;
        // What the record leaves behind, listed in the same transaction (see `trash`).
        let trash = super::trash::trash_put(&self.table, &job.user_id, &job.job_id, &crate::object_keys::job_objects(job), now)?;
        let records = [TransactWriteItem::builder().delete(delete).build(), TransactWriteItem::builder().delete(upload).build(), trash];
        let outcome = self
            .transact_paying_debt(&job.user_id, |owed| {
                let mut writes = records.to_vec();
                if refunds {
                    writes.extend(posting(&self.table, &Posting::refund(&job.user_id, &job.job_id, job.credits_charged, now), owed)?);
                } else if job.status.is_active() {
                    writes.push(free_slot(&self.table, &job.user_id)?);
                }
                Ok((writes, 3))
            })
            .await?;
        Ok(outcome.is_ok())
    }
}

/// Takes the caller's upload for `job`. The upload record lives as long as
/// its job: its unused-upload TTL is removed, or becomes the job's retention
/// expiry, and it leaves the sweep's index.
fn take_upload(table: &str, job: &Job) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(upload_key(&job.user_id, &job.upload_id)))
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
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The upload record of a copy of another job's photo, already `job`'s (so
/// never in the sweep's index), expiring with the job.
fn copied_upload(table: &str, job: &Job, source_job_id: &str) -> Result<TransactWriteItem, StoreError> {
    let mut record = upload_key(&job.user_id, &job.upload_id);
    record.extend(item([
        ("entity", s("upload")),
        ("user_id", s(job.user_id.as_str())),
        ("upload_id", s(job.upload_id.as_str())),
        ("job_id", s(job.job_id.as_str())),
        ("source_job_id", s(source_job_id)),
        ("created_at", n(job.created_at)),
    ]));
    if let Some(copy) = crate::object_keys::upload_of(&job.input_key) {
        record.insert("s3_key".to_string(), s(copy));
    }
    if let Some(expires) = job.expires_at {
        record.insert(TTL_ATTRIBUTE.to_string(), n(expires));
    }
    let put = Put::builder().table_name(table).set_item(Some(record)).condition_expression("attribute_not_exists(pk)").build().map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().put(put).build())
}
