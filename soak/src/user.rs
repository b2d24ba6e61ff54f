//! One simulated user, as the app would act on a phone with a flaky
//! network: sign up, buy credits, then until the time is up upload a photo
//! and start a job, now and then delete a job (running or finished), refund
//! a purchase, ask for a data export of everything, and, for a few users,
//! delete the whole account mid-flight.
//! Purchases live in `purchases.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::api::{Answer, Api, Call, random_loopback};
use crate::model::{Deleted, JobLog, NOT_FOUND, UserLog, ended, terminal};
use crate::world::World;

/// How long one call may keep retrying before the user gives up on it.
pub const CALL_BUDGET: Duration = Duration::from_secs(120);

/// How often a waiting user looks at its jobs in flight (as the app shows them).
const WATCH_EVERY: Duration = Duration::from_secs(3);

/// Chances per iteration (after a job was created).
const SECOND_JOB: f64 = 0.2;
const DELETE_RUNNING: f64 = 0.10;
const DELETE_FINISHED: f64 = 0.08;
const REFUND: f64 = 0.05;
const DELIVER_LATE: f64 = 0.3;
const HIGH_QUALITY: f64 = 0.3;
/// Chance that a job is another style from the photo of one of the user's
/// earlier jobs still kept (`source_job_id`, no upload).
const RESTYLE: f64 = 0.25;
/// Chance per iteration of asking for a data export (one an hour is allowed:
/// a user asks once).
const EXPORT: f64 = 0.1;

/// A user and its phone.
pub struct User {
    /// What all users share.
    pub(crate) world: Arc<World>,
    /// The phone's client (its own loopback address).
    pub(crate) api: Api,
    /// The user's choices, seeded from `SOAK_SEED`.
    pub(crate) rng: StdRng,
    access: String,
    refresh: String,
    /// What it did.
    pub(crate) log: UserLog,
    /// Purchase payloads recorded but not delivered yet: (index in
    /// `log.purchases`, the webhook payload).
    pub(crate) pending: Vec<(usize, Value)>,
    /// When this user deletes its account, if it is one that does.
    delete_at: Option<Instant>,
    /// The place taken for the job being created.
    spare: Option<OwnedSemaphorePermit>,
    /// The places of the user's jobs in flight, by job id.
    places: HashMap<String, OwnedSemaphorePermit>,
}

impl User {
    /// User number `index` of the run; `deletes` says whether it deletes its account.
    pub fn new(world: Arc<World>, index: usize, deletes: bool) -> Result<Self, reqwest::Error> {
        let mut rng = StdRng::seed_from_u64(world.knobs.seed.wrapping_add(index as u64 * 7919));
        let api = Api::from(random_loopback(&mut rng))?;
        // Between 30 % and 80 % of the acting time: jobs are running by then.
        let delete_at = deletes.then(|| world.start + Duration::from_secs_f64(world.knobs.seconds as f64 * rng.random_range(0.3..0.8)));
        Ok(User {
            world,
            api,
            rng,
            access: String::new(),
            refresh: String::new(),
            log: UserLog::default(),
            pending: Vec::new(),
            delete_at,
            spare: None,
            places: HashMap::new(),
        })
    }

    /// Sends a call with the retry policy, counting its answers.
    pub(crate) async fn send(&self, call: Call) -> Answer {
        self.api.send(&call, &self.world.stats, CALL_BUDGET).await
    }

    /// Sends a call with the user's access token; a 401 of a live account
    /// refreshes the session once and tries again.
    pub(crate) async fn authed(&mut self, call: Call) -> Answer {
        let answer = self.send(call.clone().bearer(&self.access)).await;
        if answer.status == 401 && !self.log.deletion_requested && self.refresh_session().await {
            return self.send(call.bearer(&self.access)).await;
        }
        answer
    }

    async fn refresh_session(&mut self) -> bool {
        let call = Call::new(Method::POST, self.world.stack.url("/v1/auth/refresh"), "POST /v1/auth/refresh").json(json!({"refresh_token": self.refresh}));
        let answer = self.send(call).await;
        match (answer.str("access_token"), answer.str("refresh_token")) {
            (Some(access), Some(refresh)) if answer.ok() => {
                self.access = access;
                self.refresh = refresh;
                true
            }
            _ => false,
        }
    }

    /// Keeps a line about something the user gave up on.
    pub(crate) fn note(&mut self, what: String) {
        self.log.notes.push(what);
    }

    /// Runs the user until the acting time is over (or its account is
    /// deleted); returns what it did, and the user for the drain.
    pub async fn run(mut self) -> User {
        let call = Call::new(Method::POST, self.world.stack.url("/v1/auth/anonymous"), "POST /v1/auth/anonymous").json(json!({}));
        let answer = self.send(call).await;
        let (Some(user_id), Some(access), Some(refresh)) = (answer.str("user_id"), answer.str("access_token"), answer.str("refresh_token")) else {
            self.note(format!("sign-up failed: {} {}", answer.status, answer.body));
            return self;
        };
        self.log.user_id = user_id;
        self.access = access;
        self.refresh = refresh;
        self.buy().await;
        while self.world.acting() {
            if self.delete_at.is_some_and(|at| Instant::now() >= at) {
                self.delete_account().await;
                return self;
            }
            // A place among the jobs in flight, then a slot of the pace; the
            // user watches its own jobs meanwhile (which frees places).
            if !self.wait_for_room().await {
                continue;
            }
            let slot = self.world.next_slot();
            self.watch_until(slot).await;
            if !self.world.acting() {
                self.spare = None;
                break;
            }
            self.iteration().await;
        }
        // Every purchase reaches the backend before the checks.
        self.deliver_pending().await;
        self
    }

    /// Waits for a place among the jobs in flight, watching the user's jobs
    /// meanwhile; `false` when the acting time ended or the account's
    /// deletion came due first.
    async fn wait_for_room(&mut self) -> bool {
        // One request for a place, kept while the user watches its jobs: the
        // semaphore serves requests in order, so a user who just freed a place
        // does not take it back before those already waiting.
        let acquire = Arc::clone(&self.world.places).acquire_owned();
        tokio::pin!(acquire);
        loop {
            tokio::select! {
                permit = &mut acquire => {
                    self.spare = permit.ok();
                    return self.spare.is_some();
                }
                _ = tokio::time::sleep(WATCH_EVERY) => {}
            }
            if !self.world.acting() || self.delete_at.is_some_and(|at| Instant::now() >= at) {
                return false;
            }
            self.watch_until(Instant::now()).await;
        }
    }

    /// Until `until`, looks at the user's jobs in flight every few seconds.
    async fn watch_until(&mut self, until: Instant) {
        loop {
            let open: Vec<String> = self.log.jobs.iter().filter(|j| !j.settled).map(|j| j.job_id.clone()).collect();
            for id in &open {
                self.job_status(id).await;
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep((until - now).min(WATCH_EVERY)).await;
        }
    }

    /// Marks a job as ended for the user, freeing its place in flight.
    pub(crate) fn settle(&mut self, job_id: &str) {
        if let Some(job) = self.log.job_mut(job_id) {
            job.settled = true;
        }
        self.places.remove(job_id);
    }

    /// One round, on a reserved place: a job (now and then a second one at
    /// once, to meet the active-job limit), and now and then a deletion or a refund.
    async fn iteration(&mut self) {
        if !self.pending.is_empty() && self.rng.random_bool(DELIVER_LATE) {
            self.deliver_pending().await;
        }
        let Some(job_id) = self.create_job().await else { return };
        if self.rng.random_bool(SECOND_JOB)
            && let Ok(place) = Arc::clone(&self.world.places).try_acquire_owned()
        {
            self.spare = Some(place);
            self.create_job().await;
        }
        if self.rng.random_bool(DELETE_RUNNING) {
            // Some time in the pipeline first: queued, being claimed, or at the provider.
            let pause = Duration::from_millis(self.rng.random_range(0..4000));
            tokio::time::sleep(pause).await;
            self.delete_job(&job_id, Deleted::WhileActive).await;
        }
        if self.rng.random_bool(DELETE_FINISHED) {
            self.delete_a_finished_job().await;
        }
        if self.rng.random_bool(REFUND) {
            self.refund().await;
        }
        if self.log.exports.is_empty() && self.rng.random_bool(EXPORT) {
            self.request_export().await;
        }
    }

    /// `POST /v1/me/exports`. A 429 after retries means an earlier try went
    /// through (its id is then unknown here; the checks read storage).
    async fn request_export(&mut self) {
        let call = Call::new(Method::POST, self.world.stack.url("/v1/me/exports"), "POST /v1/me/exports").json(json!({}));
        let answer = self.authed(call).await;
        match (answer.status, answer.str("export_id")) {
            (202, Some(export_id)) => self.log.exports.push(export_id),
            (429, _) if answer.tries > 1 => {}
            (status, _) => self.note(format!("export: {status} {}", answer.body)),
        }
    }

    /// `GET /v1/jobs/{id}` of one job; its status (`None`: gone or unreadable).
    pub async fn job_status(&mut self, job_id: &str) -> Option<String> {
        let call = Call::new(Method::GET, self.world.stack.url(&format!("/v1/jobs/{job_id}")), "GET /v1/jobs/{id}");
        let answer = self.authed(call).await;
        let status = answer.str("status").filter(|_| answer.ok());
        let seen = match (&status, answer.status) {
            (Some(s), _) => Some(s.clone()),
            (None, 404) => Some(NOT_FOUND.to_string()),
            _ => None,
        };
        if let Some(seen) = seen {
            if ended(&seen) {
                self.settle(job_id);
            }
            if let Some(job) = self.log.job_mut(job_id) {
                job.last_status = Some(seen);
            }
        }
        status
    }

    /// `POST /v1/uploads`, then the `PUT` with exactly the returned headers.
    async fn upload(&mut self) -> Option<String> {
        let photo = self.world.photos.choose(&mut self.rng)?.clone();
        let call = Call::new(Method::POST, self.world.stack.url("/v1/uploads"), "POST /v1/uploads")
            .json(json!({"content_type": photo.content_type, "content_length": photo.bytes.len()}));
        let answer = self.authed(call).await;
        let (Some(upload_id), Some(link)) = (answer.str("upload_id"), answer.str("upload_url")) else {
            self.note(format!("upload link: {} {}", answer.status, answer.body));
            return None;
        };
        let mut put = Call::new(Method::PUT, link, "PUT <upload link>");
        for (name, value) in answer.body["headers"].as_object().into_iter().flatten() {
            put = put.header(name, value.as_str().unwrap_or_default());
        }
        put.bytes = Some(photo.bytes);
        self.log.uploads.push(upload_id.clone());
        let stored = self.send(put).await;
        if !stored.ok() {
            self.note(format!("upload PUT: {}", stored.status));
            return None;
        }
        Some(upload_id)
    }

    fn style(&mut self, quality: &str) -> Value {
        use shared::styles::{ATTIRE, BACKGROUND, LIGHTING};
        let pick = |options: &[shared::styles::StyleOption], rng: &mut StdRng| options.choose(rng).map_or("", |o| o.id);
        json!({
            "attire": pick(ATTIRE, &mut self.rng),
            "background": pick(BACKGROUND, &mut self.rng),
            "lighting": pick(LIGHTING, &mut self.rng),
            "quality": quality,
        })
    }

    /// Uploads a photo and creates a job on it, buying credits on a 402;
    /// the job id.
    async fn create_job(&mut self) -> Option<String> {
        let created = self.try_create_job().await;
        // The place taken for it: the job's while in flight, else given back.
        let place = self.spare.take();
        if let (Some(job_id), Some(place)) = (&created, place)
            && self.log.jobs.iter().any(|j| &j.job_id == job_id && !j.settled)
        {
            self.places.insert(job_id.clone(), place);
        }
        created
    }

    /// One of the user's jobs it kept, to make another style from (now and then).
    fn restyle_source(&mut self) -> Option<String> {
        let kept: Vec<String> =
            self.log.jobs.iter().filter(|j| j.deleted.is_none() && j.last_status.as_deref() != Some(NOT_FOUND)).map(|j| j.job_id.clone()).collect();
        if kept.is_empty() || !self.rng.random_bool(RESTYLE) {
            return None;
        }
        kept.choose(&mut self.rng).cloned()
    }

    async fn try_create_job(&mut self) -> Option<String> {
        let source_job_id = self.restyle_source();
        let upload_id = match source_job_id {
            Some(_) => String::new(),
            None => self.upload().await?,
        };
        let (quality, price) = if self.rng.random_bool(HIGH_QUALITY) { ("high", 2) } else { ("standard", 1) };
        let body = match &source_job_id {
            Some(source) => json!({"source_job_id": source, "style": self.style(quality)}),
            None => json!({"upload_id": upload_id, "style": self.style(quality)}),
        };
        // One key for the creation, kept through every retry of the same body.
        let key = uuid::Uuid::new_v4().simple().to_string();
        for _ in 0..4 {
            let call = Call::new(Method::POST, self.world.stack.url("/v1/jobs"), "POST /v1/jobs").json(body.clone()).header("idempotency-key", &key);
            let answer = self.authed(call).await;
            match (answer.status, answer.str("job_id")) {
                (202, Some(job_id)) => {
                    self.world.job_created();
                    let last_status = answer.str("status");
                    let done = last_status.as_deref().is_some_and(ended);
                    self.log.jobs.push(JobLog {
                        job_id: job_id.clone(),
                        quality: quality.into(),
                        price,
                        deleted: None,
                        last_status,
                        upload_id,
                        source_job_id,
                        delete_answer: None,
                        settled: false,
                    });
                    if done {
                        // A replay of a creation that was failed and refunded.
                        self.settle(&job_id);
                    }
                    return Some(job_id);
                }
                (402, _) => self.top_up().await,
                (status, _) => {
                    self.note(format!("create job: {status} {}", answer.body));
                    return None;
                }
            }
        }
        None
    }

    /// `DELETE /v1/jobs/{id}`; marked deleted before it is sent (a deletion
    /// whose answer is lost may still have happened).
    async fn delete_job(&mut self, job_id: &str, why: Deleted) {
        if let Some(job) = self.log.job_mut(job_id) {
            job.deleted = Some(why);
        }
        let call = Call::new(Method::DELETE, self.world.stack.url(&format!("/v1/jobs/{job_id}")), "DELETE /v1/jobs/{id}");
        let answer = self.authed(call).await;
        if let Some(job) = self.log.job_mut(job_id) {
            job.delete_answer = Some((answer.status, answer.tries));
        }
        // 404: a retry after a deletion whose answer was lost.
        if answer.ok() || answer.status == 404 {
            self.settle(job_id);
        } else {
            self.note(format!("delete job {job_id}: {}", answer.status));
        }
    }

    async fn delete_a_finished_job(&mut self) {
        let candidates: Vec<String> = self.log.jobs.iter().filter(|j| j.deleted.is_none()).map(|j| j.job_id.clone()).collect();
        let Some(job_id) = candidates.choose(&mut self.rng).cloned() else { return };
        if self.job_status(&job_id).await.is_some_and(|s| terminal(&s)) {
            self.delete_job(&job_id, Deleted::Finished).await;
        }
    }

    /// `DELETE /v1/me`, with jobs still running; the user stops afterwards.
    async fn delete_account(&mut self) {
        self.log.deletion_requested = true;
        let call = Call::new(Method::DELETE, self.world.stack.url("/v1/me"), "DELETE /v1/me");
        let answer = self.authed(call).await;
        // A 401 after retries: an earlier try went through and revoked the sessions.
        self.log.deletion_acknowledged = answer.status == 202 || (answer.status == 401 && answer.tries > 1);
        if !self.log.deletion_acknowledged {
            self.note(format!("delete account: {} after {} tries", answer.status, answer.tries));
        }
        // The user no longer watches its jobs: their places go back.
        let open: Vec<String> = self.log.jobs.iter().filter(|j| !j.settled).map(|j| j.job_id.clone()).collect();
        for id in open {
            self.settle(&id);
        }
    }

    /// What the user did.
    pub fn log(&self) -> &UserLog {
        &self.log
    }

    /// Whether the user still has a session (signed up, account kept).
    pub fn active(&self) -> bool {
        !self.log.user_id.is_empty() && !self.log.deletion_requested
    }
}
