//! The generation pipeline: turns a paid job into a headshot without ever
//! waiting inside a Lambda while the provider works. A `start` step cleans
//! the photo, creates the provider task and schedules a `poll`; completion is
//! noticed by whichever comes first, the provider's callback (a `callback`
//! step) or a poll; the reaper settles what is past its deadline. A failure
//! on the provider's side may give the job a second model before its refund
//! (`usecases::fallback`). Every write is conditional, so duplicates and
//! late arrivals find nothing left to do.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{self, ConfigError};
use crate::error::StoreError;
use crate::jobs::{Claim, Job, JobError, JobStatus, Replacing};
use crate::messages::{GenerationMessage, Step};
use crate::object_keys::{result_key, upload_of};
use crate::photo_clean::Rewriter;
use crate::ports::{ImageProvider, PhotoStore, PipelineStore, ProviderBudget, Queue};
use crate::provider::{FailReason, ModelChoice, ProviderError, TaskRequest, TaskState};
use crate::rate_limit::Admission;

/// The pipeline's settings.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The API's public base URL, for the provider's callback (`PUBLIC_API_URL`).
    pub public_api_url: String,
    /// Delays between polls, in seconds; the last repeats (`POLL_SCHEDULE_SECONDS`).
    pub poll_schedule: Vec<u32>,
    /// How many times a refused `createTask` (429, 5xx) is retried (`CREATE_RETRIES`).
    pub create_retries: u32,
    /// How long past its expected next step a job waits before the reaper
    /// sends that step again (`STALL_SECONDS`).
    pub stall_seconds: i64,
    /// Photos decoded at once by one worker (`DECODE_CONCURRENCY`).
    pub decode_concurrency: usize,
    /// Provider tasks the whole service may create per `task_window_secs`
    /// (`KIE_TASKS_PER_WINDOW`, KIE's 20).
    pub task_limit: u32,
    /// The window of [`PipelineSettings::task_limit`] (`KIE_TASK_WINDOW_SECONDS`, KIE's 10).
    pub task_window_secs: i64,
    /// Added to the window: a slot is taken a moment before the provider
    /// sees the call (`KIE_TASK_MARGIN_SECONDS`, 1; the emulator, which
    /// answers in seconds under load, needs more).
    pub task_margin_secs: i64,
    /// Each quality's model, and the second model it may switch to
    /// (`KIE_MODEL_*`, `KIE_FALLBACK_MODEL_*`).
    pub models: ModelChoice,
}

/// The time one worker step may take; the worker abandons a step past it
/// (and SQS delivers its message again), below the function's 30 s timeout.
pub const STEP_BUDGET: Duration = Duration::from_secs(25);

impl PipelineSettings {
    /// Reads the settings; the default poll schedule follows KIE's guidance
    /// (every 3 s for 30 s, then 5–10 s, then 15–30 s after two minutes).
    /// `models` are read by the caller, which knows the provider's models.
    pub fn from_env(settings: &crate::config::Settings, models: ModelChoice) -> Result<Self, ConfigError> {
        let raw = config::optional("POLL_SCHEDULE_SECONDS").unwrap_or_else(|| "3,3,3,3,3,3,3,3,3,3,5,5,5,10,10,10,10,10,15,15,30".into());
        let poll_schedule = raw
            .split(',')
            .map(|p| p.trim().parse::<u32>().ok().filter(|d| (1..=900).contains(d)))
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError { name: "POLL_SCHEDULE_SECONDS", problem: "must be a list of 1 to 900 second delays".into() })?;
        Ok(PipelineSettings {
            public_api_url: config::required("PUBLIC_API_URL")?.trim_end_matches('/').to_string(),
            poll_schedule,
            create_retries: config::parsed("CREATE_RETRIES", 5)?,
            stall_seconds: settings.stall_seconds,
            decode_concurrency: config::parsed("DECODE_CONCURRENCY", 2)?,
            task_limit: config::parsed("KIE_TASKS_PER_WINDOW", 20)?,
            task_window_secs: config::parsed("KIE_TASK_WINDOW_SECONDS", 10)?,
            task_margin_secs: config::parsed("KIE_TASK_MARGIN_SECONDS", 1)?,
            models,
        })
    }

    fn poll_delay(&self, attempt: u32) -> u32 {
        self.poll_schedule[(attempt as usize).min(self.poll_schedule.len() - 1)]
    }

    /// When a step due in `delay_secs` must have happened by, seen from `now`.
    pub fn watch(&self, now: i64, delay_secs: u32) -> i64 {
        now + i64::from(delay_secs) + self.stall_seconds
    }
}

/// Everything the pipeline talks to, each behind its port.
#[derive(Debug, Clone)]
pub struct Pipeline<S, P, Q, K> {
    /// Jobs.
    pub store: S,
    /// Photos and results.
    pub photos: P,
    /// Follow-up steps.
    pub queue: Q,
    /// The image provider.
    pub provider: K,
    /// Settings.
    pub settings: PipelineSettings,
    /// Photo rewrites, a few at a time.
    pub rewriter: Rewriter,
}

/// The one line per job that ends it (succeeded, or failed and refunded with
/// `error`): what the operators' metrics count (outcome, reason, generation
/// time, credits refunded). No user id, no link.
pub fn finished(job: &Job, error: Option<&JobError>, now: i64) {
    let generation_ms = (now - job.created_at).max(0) * 1000;
    match error {
        None => tracing::info!(job_id = %job.job_id, outcome = "succeeded", generation_ms, refunded = 0, "job finished"),
        Some(e) => tracing::info!(job_id = %job.job_id, outcome = "failed", reason = %e.code, generation_ms, refunded = job.credits_charged, "job finished"),
    }
}

/// The SHA-256 (base64url) under which a callback secret is stored.
pub fn secret_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn job_error(code: &str, message: &str) -> JobError {
    JobError { code: code.into(), message: message.into() }
}

impl<S, P, Q, K> Pipeline<S, P, Q, K>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    /// Runs one step. `Err` means "try this message again later" (SQS makes
    /// it visible again after its visibility timeout; the dead-letter queue
    /// catches one that keeps failing).
    pub async fn run(&self, msg: &GenerationMessage, message_id: &str) -> Result<(), StoreError> {
        let Some(job) = self.store.job(&msg.user_id, &msg.job_id).await? else {
            return Ok(()); // deleted: nothing to do
        };
        match msg.step {
            Step::Start => {
                let claim = msg.claim.clone().unwrap_or_else(|| message_id.to_string());
                self.start(job, &claim, msg.attempt, msg.photo_ready).await
            }
            Step::Poll | Step::Callback => self.check(job, msg).await,
        }
    }

    async fn start(&self, job: Job, claim: &str, attempt: u32, photo_ready: bool) -> Result<(), StoreError> {
        let now = crate::time::now();
        let resumable = |job: &Job| job.status == JobStatus::Processing && job.claim.as_deref() == Some(claim) && job.task_id.is_none();
        if job.status != JobStatus::Queued && !resumable(&job) {
            return Ok(()); // a duplicate: another run owns this job
        }
        let secret = fresh_secret();
        // The run holds the job for its time budget, and is presumed dead once it is spent.
        let budget = STEP_BUDGET.as_secs() as i64;
        let watch = self.settings.watch(now, budget as u32);
        match self.store.claim_job(&job, claim, &secret_hash(&secret), now, now + budget, watch).await? {
            Claim::Claimed => {}
            Claim::AccountGone => return Ok(()),
            Claim::Refused => {
                return match self.store.job(&job.user_id, &job.job_id).await? {
                    // Another delivery of this very message is at work: look again later.
                    Some(current) if resumable(&current) => Err(StoreError::Unavailable("another delivery of this step holds the job".into())),
                    _ => Ok(()),
                };
            }
        }
        let outcome = self.provide(&job, claim, &secret, attempt, photo_ready, now).await;
        if outcome.is_err() {
            // The step is retried from the queue: let the retry claim the job at once.
            if let Err(err) = self.store.release_lease(&job, claim).await {
                tracing::warn!(job_id = %job.job_id, error = %err, "could not release a failed step's lease; it expires by itself");
            }
        }
        outcome
    }

    /// The claimed part of a start: the clean photo, the provider task, the
    /// first poll (or the delayed retry of a refused `createTask`).
    #[allow(clippy::too_many_arguments)]
    async fn provide(&self, job: &Job, claim: &str, secret: &str, attempt: u32, photo_ready: bool, now: i64) -> Result<(), StoreError> {
        let job = job.clone();
        // A retry of a refused `createTask`, a start that waited for the
        // task rate, or the second model's start comes after the photo was
        // cleaned: not again.
        if attempt == 0 && !photo_ready && job.fallback_model.is_none() {
            // The photo leaves our storage only without metadata.
            let Some(original) = self.job_photo(&job).await? else {
                return self.fail(&job, job_error("invalid_image", "The photo is missing.")).await;
            };
            let clean = match self.rewriter.rewrite(original).await {
                Ok(clean) => clean,
                Err(why) => return self.fail(&job, job_error("invalid_image", &format!("The photo cannot be used: {why}."))).await,
            };
            self.photos.put(&job.input_key, clean, "image/jpeg").await?;
            if self.store.job(&job.user_id, &job.job_id).await?.is_none() {
                // Deleted meanwhile: what we just wrote must not outlive the job.
                return self.photos.delete(std::slice::from_ref(&job.input_key)).await;
            }
        }
        let link_ttl = (job.deadline_at - now).max(60) as u64 + 300;
        let mut link = self.photos.presign_get(&job.input_key, Duration::from_secs(link_ttl)).await?;
        if self.provider.cannot_reach(&link) {
            // A local stack with the real provider: hand KIE the bytes instead of a link.
            let Some(clean) = self.photos.read(&job.input_key).await? else { return Ok(()) };
            match self.provider.upload_photo(clean, &format!("{}.jpg", job.job_id)).await {
                Ok(url) => link = url,
                Err(ProviderError::Retryable(why)) => return Err(StoreError::Unavailable(why)),
                Err(err) => return self.fail_for(&job, err).await,
            }
        }
        let callback = format!("{}/v1/webhooks/kie?job={}&token={}", self.settings.public_api_url, job.job_id, secret);
        let Ok(style) = job.style.resolve() else {
            // Ids were valid at creation; a catalog change since must not strand a paid job.
            return self.fail(&job, job_error("provider_failed", "This style is no longer offered; the credits were refunded.")).await;
        };
        let task = TaskRequest {
            model: self.model_for(&job),
            quality: job.style.quality.clone(),
            resolution: style.quality.resolution.to_string(),
            prompt: style.prompt(),
            image_url: link,
            callback_url: callback,
        };
        // The provider's task rate, shared by every worker: past it, the
        // start waits (a delayed start holds the claim); it is no failure.
        // The slot is taken right before the call, at the time of taking it.
        let settings = &self.settings;
        let window = settings.task_window_secs + settings.task_margin_secs;
        if let Admission::Limited { retry_after_secs } = self.store.admit_provider_task(crate::time::now(), settings.task_limit, window).await? {
            let delay = u32::try_from(retry_after_secs).unwrap_or(900).clamp(1, 900) + rand::random::<u32>() % 2;
            tracing::info!(job_id = %job.job_id, delay, "provider task rate reached: the start waits");
            return self
                .hand_on(&job, claim, delay, GenerationMessage { attempt, photo_ready: true, ..GenerationMessage::start(&job.user_id, &job.job_id) })
                .await;
        }
        match self.provider.create_task(&task).await {
            Ok(task_id) => {
                let (now, first) = (crate::time::now(), self.settings.poll_delay(0));
                // Counted once the task exists: a refused call costs nothing.
                self.store.add_spend(&crate::time::rfc3339(now)[..10], self.provider.price_micro_usd(&task)).await?;
                if self.store.store_task_id(&job, claim, &task_id, &task.model, now, self.settings.watch(now, first)).await? {
                    self.send(GenerationMessage { step: Step::Poll, ..GenerationMessage::start(&job.user_id, &job.job_id) }, first).await?;
                }
                Ok(())
            }
            Err(ProviderError::Retryable(why)) if attempt < self.settings.create_retries => {
                // Back off with jitter, handing the claim to the delayed retry.
                let delay = (2u32.pow(attempt.min(6)) * 2).min(900) + rand::random::<u32>() % 3;
                tracing::warn!(job_id = %job.job_id, %why, attempt, delay, "createTask refused: retrying later");
                self.hand_on(&job, claim, delay, GenerationMessage { attempt: attempt + 1, ..GenerationMessage::start(&job.user_id, &job.job_id) }).await
            }
            Err(err) if err.allows_fallback() => self.fall_back_or_fail(&job, Replacing::Start(claim), FailReason::Provider.job_error(), &err).await,
            Err(err) => self.fail_for(&job, err).await,
        }
    }

    /// Hands the claim of run `claim` to a start `next` delivered after
    /// `delay` seconds (if the run still holds it).
    async fn hand_on(&self, job: &Job, claim: &str, delay: u32, next: GenerationMessage) -> Result<(), StoreError> {
        let next_claim = uuid::Uuid::new_v4().simple().to_string();
        if self.store.pass_claim(job, claim, &next_claim, self.settings.watch(crate::time::now(), delay)).await? {
            self.send(GenerationMessage { claim: Some(next_claim), ..next }, delay).await?;
        }
        Ok(())
    }

    async fn check(&self, job: Job, msg: &GenerationMessage) -> Result<(), StoreError> {
        if job.status != JobStatus::Processing {
            return Ok(()); // settled already, or not started (its start step will run)
        }
        let Some(task_id) = job.task_id.clone() else {
            // A callback before the task id was stored: look again shortly.
            if msg.step == Step::Callback && msg.attempt < 5 {
                self.send(GenerationMessage { attempt: msg.attempt + 1, ..msg.clone() }, 2).await?;
            }
            return Ok(());
        };
        if crate::time::now() > job.deadline_at {
            return Ok(()); // the reaper settles it
        }
        match self.provider.task_state(&task_id).await {
            Ok(TaskState::Pending) | Err(ProviderError::Retryable(_)) if msg.step == Step::Poll => self.next_poll(&job, msg).await,
            Ok(TaskState::Pending) | Err(ProviderError::Retryable(_)) => Ok(()),
            // Right after createTask the task may not be visible yet.
            Err(ProviderError::Fatal { code: 404, .. }) if msg.step == Step::Poll && msg.attempt < 2 => self.next_poll(&job, msg).await,
            Ok(state) => self.settle(&job, state).await,
            Err(err) if err.allows_fallback() => self.fall_back_or_fail(&job, Replacing::Task(&task_id), FailReason::Provider.job_error(), &err).await,
            Err(err) => self.fail_for(&job, err).await,
        }
    }

    /// The job's photo; when create-job did not get to copy it from the
    /// upload, the copy is made now.
    async fn job_photo(&self, job: &Job) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(bytes) = self.photos.read(&job.input_key).await? {
            return Ok(Some(bytes));
        }
        match upload_of(&job.input_key) {
            Some(upload) if self.photos.copy(&upload, &job.input_key).await? => self.photos.read(&job.input_key).await,
            _ => Ok(None),
        }
    }

    /// Acts on the provider's final word: stores the result, or fails and
    /// refunds (a failure on the provider's side first tries the second model).
    pub async fn settle(&self, job: &Job, state: TaskState) -> Result<(), StoreError> {
        match state {
            TaskState::Success(urls) => self.succeed(job, &urls[0]).await,
            TaskState::Fail { reason, code } => {
                tracing::info!(job_id = %job.job_id, fail_code = %code, model = job.task_model.as_deref().unwrap_or_default(), "the provider failed the task");
                match &job.task_id {
                    Some(task_id) if reason.allows_fallback() => self.fall_back_or_fail(job, Replacing::Task(task_id), reason.job_error(), &code).await,
                    _ => self.fail(job, reason.job_error()).await,
                }
            }
            TaskState::Pending => Ok(()),
        }
    }

    async fn succeed(&self, job: &Job, url: &str) -> Result<(), StoreError> {
        let bytes = match self.provider.download(url).await {
            Ok(bytes) => bytes,
            Err(ProviderError::Retryable(_)) => return Err(StoreError::Unavailable("result download failed".into())),
            Err(err) => return self.fail_for(job, err).await,
        };
        let content_type = match imagesize::image_type(&bytes) {
            Ok(imagesize::ImageType::Png) => "image/png",
            Ok(imagesize::ImageType::Jpeg) => "image/jpeg",
            Ok(imagesize::ImageType::Webp) => "image/webp",
            _ => return self.fail(job, job_error("invalid_image", "The provider's result was not a usable image; the credits were refunded.")).await,
        };
        let key = result_key(&job.input_key, &job.job_id);
        self.photos.put(&key, bytes, content_type).await?;
        let now = crate::time::now();
        if self.store.complete_success(job, &key, now).await? {
            finished(job, None, now);
            return Ok(());
        }
        // Not ours to finish: keep the object only if this very result is the job's.
        match self.store.job(&job.user_id, &job.job_id).await? {
            Some(current) if current.result_key.as_deref() == Some(key.as_str()) => Ok(()),
            _ => self.photos.delete(&[key]).await,
        }
    }

    async fn fail_for(&self, job: &Job, err: ProviderError) -> Result<(), StoreError> {
        let error = match &err {
            ProviderError::Rejected(_) => FailReason::Rejected.job_error(),
            ProviderError::Operator { code, .. } => {
                // Meant for an alarm: our provider account needs a person.
                tracing::error!(alert = "kie_account", kie_code = code, job_id = %job.job_id, "KIE account problem: generation is failing");
                job_error("provider_failed", "The headshot service is unavailable; the credits were refunded.")
            }
            _ => FailReason::Provider.job_error(),
        };
        tracing::warn!(job_id = %job.job_id, error = %err, "job failed at the provider");
        self.fail(job, error).await
    }

    /// Fails a job and refunds it (once: a settled job is left as it is).
    pub async fn fail(&self, job: &Job, error: JobError) -> Result<(), StoreError> {
        let now = crate::time::now();
        if self.store.fail_and_refund(job, &error, now).await? {
            finished(job, Some(&error), now);
        }
        Ok(())
    }

    /// Schedules the poll after `msg`, if `msg`'s chain is still the live one.
    async fn next_poll(&self, job: &Job, msg: &GenerationMessage) -> Result<(), StoreError> {
        let delay = self.settings.poll_delay(msg.attempt + 1);
        if !self.store.advance_poll(job, msg.seq, self.settings.watch(crate::time::now(), delay)).await? {
            return Ok(()); // another chain (a poll the reaper re-sent) carries on
        }
        self.send(GenerationMessage { attempt: msg.attempt + 1, seq: msg.seq + 1, ..msg.clone() }, delay).await
    }

    /// Queues a step, delivered after `delay` seconds.
    pub(crate) async fn send(&self, msg: GenerationMessage, delay: u32) -> Result<(), StoreError> {
        self.queue.send(&msg, delay).await
    }
}

#[cfg(test)]
#[path = "generation_tests.rs"]
mod tests;
