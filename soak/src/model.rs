//! What each simulated user did, as the checks need it: its jobs (and which
//! it deleted), its purchases (and which it refunded), and whether it
//! deleted its account.

/// Why a job was deleted by its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Right after its creation, while queued or processing.
    WhileActive,
    /// After it was seen `succeeded` or `failed`.
    Finished,
}

/// A job the user created.
#[derive(Debug, Clone)]
pub struct JobLog {
    /// The job id `POST /v1/jobs` answered.
    pub job_id: String,
    /// `standard` or `high`.
    pub quality: String,
    /// Its price in credits.
    pub price: i64,
    /// Set when the user sent a `DELETE` for it (whatever the answer: a
    /// deletion whose answer was lost may still have happened).
    pub deleted: Option<Deleted>,
    /// The last status the API showed (after the drain: the final one).
    pub last_status: Option<String>,
    /// The upload it was created on (its photo is `uploads/<prefix>/<upload_id>`, then the job's
    /// own copy); empty for a job made from another job's photo.
    pub upload_id: String,
    /// The job whose photo it was made from (`source_job_id`), if any.
    pub source_job_id: Option<String>,
    /// The final answer to its `DELETE` and how many tries it took.
    pub delete_answer: Option<(u16, u32)>,
    /// Whether the user knows it ended (final, deleted or gone): it no
    /// longer counts against the run's jobs in flight.
    pub settled: bool,
}

/// How a purchase reached the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The webhook, delivered twice at once by the simulator.
    Webhook,
    /// Recorded only, its webhook delivered later, out of order.
    Late,
    /// Recorded only, granted by `POST /v1/credits/sync`.
    Sync,
}

/// A purchase the user made at the simulated RevenueCat.
#[derive(Debug, Clone)]
pub struct PurchaseLog {
    /// The store's transaction id.
    pub transaction_id: String,
    /// The product.
    pub product_id: String,
    /// The credits `PRODUCT_CREDITS` gives it.
    pub credits: i64,
    /// How it was delivered.
    pub delivery: Delivery,
    /// Whether the backend acknowledged it (a webhook delivery or a sync
    /// answered 200 after it was recorded).
    pub confirmed: bool,
    /// Whether the user had it refunded (a `CANCELLATION` was built).
    pub refunded: bool,
    /// Whether the refund's webhook was answered 200.
    pub refund_acknowledged: bool,
}

/// Everything one user did.
#[derive(Debug, Clone, Default)]
pub struct UserLog {
    /// The user id (empty when the sign-up never succeeded).
    pub user_id: String,
    /// Its jobs, in order.
    pub jobs: Vec<JobLog>,
    /// Its purchases, in order.
    pub purchases: Vec<PurchaseLog>,
    /// Upload ids it was given.
    pub uploads: Vec<String>,
    /// Data exports it asked for (`POST /v1/me/exports` answered 202).
    pub exports: Vec<String>,
    /// Whether it sent `DELETE /v1/me`.
    pub deletion_requested: bool,
    /// Whether that deletion was acknowledged (202, or 401 on a retry whose
    /// first try went through).
    pub deletion_acknowledged: bool,
    /// Things that went wrong on the client's side (gave up after retries).
    pub notes: Vec<String>,
}

impl UserLog {
    /// Whether the user deleted (or tried to delete) its account.
    pub fn deleted_account(&self) -> bool {
        self.deletion_requested
    }

    /// The job with this id.
    pub fn job_mut(&mut self, job_id: &str) -> Option<&mut JobLog> {
        self.jobs.iter_mut().find(|j| j.job_id == job_id)
    }
}

/// Whether a job status is final.
pub fn terminal(status: &str) -> bool {
    status == "succeeded" || status == "failed"
}

/// Whether a status seen through the API means the job will not move any
/// more (final, or gone: `GET` answered 404).
pub fn ended(status: &str) -> bool {
    terminal(status) || status == NOT_FOUND
}

/// The `last_status` of a job `GET /v1/jobs/{id}` answered 404 for.
pub const NOT_FOUND: &str = "not found";
