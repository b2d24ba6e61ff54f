//! The generation pipeline's view of a job's life: what claiming it for a
//! worker run came to, and an active job the reaper must look at.

/// What a claim came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The run owns the job.
    Claimed,
    /// The account is being deleted (or gone): nothing to do.
    AccountGone,
    /// The job moved on, or another delivery of the same run holds it.
    Refused,
}

/// An active job the reaper must look at, as the index finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    /// The owner.
    pub user_id: String,
    /// The job.
    pub job_id: String,
}
