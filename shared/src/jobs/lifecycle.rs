//! The generation pipeline's view of a job's life: what claiming it for a
//! worker run came to, what a switch to the second model replaces, and an
//! active job the reaper must look at.

/// A job switches to its second model only while at least this fraction
/// (1/3) of its time (creation to deadline) is left: KIE's images take 10 to
/// 90 s, and a default 780 s deadline then leaves the second task 260 s.
pub const FALLBACK_ROOM_DIVISOR: i64 = 3;

/// What a switch to the second model replaces: the switch is conditional
/// on it, so of the steps that saw the primary fail only one switches, and
/// a step that saw an older state steps aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacing<'a> {
    /// The primary model's task, which failed.
    Task(&'a str),
    /// The start run holding this claim, whose `createTask` the primary
    /// model kept refusing (no task was created).
    Start(&'a str),
}

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
