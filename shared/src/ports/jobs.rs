//! Jobs as the routes see them: created in one transaction, read behind a
//! live session, listed, deleted.

use crate::error::StoreError;
use crate::jobs::{CreateOutcome, Job, NewJob, StoredKey};

/// The routes' jobs.
pub trait JobStore {
    /// Creates a job as one transaction: the session is alive, the balance
    /// covers the price and the active-job limit holds, the ledger row, the
    /// job, the upload taken (once), and the idempotency key (once).
    fn create_job(&self, new: &NewJob<'_>) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// The stored idempotency key, if it exists and has not expired.
    fn idempotency_key(&self, user_id: &str, key: &str, now: i64) -> impl Future<Output = Result<Option<StoredKey>, StoreError>> + Send;

    /// The profile's balance and active-job count (to explain a refusal).
    fn balance_and_active(&self, user_id: &str) -> impl Future<Output = Result<(i64, i64), StoreError>> + Send;

    /// The job, behind a live session, in one read. `None`: the session is
    /// gone; `Some(None)`: no such job of this user.
    fn job_with_live_session(
        &self,
        user_id: &str,
        session_id: &str,
        job_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Option<Job>>, StoreError>> + Send;

    /// A page of the user's jobs, newest first, after `after` (a job id),
    /// with the id to continue after when there are more.
    fn list_jobs(&self, user_id: &str, limit: usize, after: Option<&str>) -> impl Future<Output = Result<(Vec<Job>, Option<String>), StoreError>> + Send;

    /// Deletes the job's record and its upload record, lists its objects as
    /// trash, and frees its slot (refunding it while no provider task was
    /// started), in one transaction. `false`: the job changed since it was
    /// read (read it again and retry).
    fn delete_job(&self, job: &Job, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
