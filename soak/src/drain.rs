//! The drain after the acting time: every job of every remaining user
//! polled (`GET /v1/jobs/{id}`) until it is final, every account deletion
//! waited for (its last pass included), the data exports and the queues
//! left to settle, each wait bounded, before the checks read storage.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::config::{Stack, Timing};
use crate::model::ended;
use crate::storage::Storage;
use crate::user::User;

/// What the drain saw.
#[derive(Debug, Default)]
pub struct Drained {
    /// Seconds spent waiting for the last jobs.
    pub jobs_secs: f64,
    /// Seconds spent waiting for the account deletions (last pass included).
    pub deletions_secs: f64,
    /// Job ids still not final through the API when the wait ran out.
    pub unfinished: Vec<String>,
    /// Problems of the drain itself (a wait that ran out).
    pub notes: Vec<String>,
}

impl User {
    /// Polls the user's jobs (not deleted by it) until each is final or
    /// gone, or `until`; the ids still not final.
    async fn finish_jobs(&mut self, until: Instant) -> Vec<String> {
        loop {
            let open: Vec<String> =
                self.log().jobs.iter().filter(|j| j.deleted.is_none() && !j.last_status.as_deref().is_some_and(ended)).map(|j| j.job_id.clone()).collect();
            if open.is_empty() || Instant::now() >= until {
                return open;
            }
            for id in &open {
                self.job_status(id).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Waits until `ready()` or `bound` passes; whether it became ready.
async fn wait_for<F, Fut>(bound: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + bound;
    loop {
        if ready().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs the drain.
pub async fn drain(users: &mut [User], stack: &Stack, storage: &Storage, timing: Timing) -> Drained {
    let mut out = Drained::default();
    let started = Instant::now();
    let until = started + timing.drain_bound();
    let open = join_all(users.iter_mut().filter(|u| u.active()).map(|u| u.finish_jobs(until))).await;
    out.unfinished = open.into_iter().flatten().collect();
    out.jobs_secs = started.elapsed().as_secs_f64();
    if !out.unfinished.is_empty() {
        out.notes.push(format!("{} job(s) not final after {} s of drain", out.unfinished.len(), timing.drain_bound().as_secs()));
    }

    // An erasure that fails is retried after the queue's visibility timeout;
    // its last pass comes DELETION_FINAL_PASS_SECONDS after it completes.
    let started = Instant::now();
    let visibility = stack.setting("QUEUE_VISIBILITY_SECONDS", 360);
    let deleted: Vec<String> = users.iter().filter(|u| u.log().deleted_account() && !u.log().user_id.is_empty()).map(|u| u.log().user_id.clone()).collect();
    let erasure_bound = Duration::from_secs(3 * visibility + 60);
    for user_id in &deleted {
        let gone = wait_for(erasure_bound.saturating_sub(started.elapsed()), || async {
            shared::usecases::account_deletion::verify_gone(&storage.store, &storage.photos, &storage.hash_key, user_id).await.is_ok_and(|left| left.is_empty())
        })
        .await;
        if !gone {
            out.notes.push(format!("user {user_id} not erased after {} s", started.elapsed().as_secs()));
        }
    }
    if !deleted.is_empty() {
        // The last passes: the deletion queue holds them (delayed) until they ran.
        if let Some(url) = stack.get("DELETION_QUEUE_URL") {
            let bound = Duration::from_secs(timing.final_pass + 2 * visibility + 30);
            if !wait_for(bound, || async { storage.queue_depth(url).await.is_ok_and(|n| n == 0) }).await {
                out.notes.push(format!("the account deletion queue still held messages after {} s", bound.as_secs()));
            }
        }
    }
    out.deletions_secs = started.elapsed().as_secs_f64();

    // Data exports being written: the export queue empties as each run ends.
    if let Some(url) = stack.get("EXPORT_QUEUE_URL") {
        let bound = Duration::from_secs(2 * visibility + 60);
        if !wait_for(bound, || async { storage.queue_depth(url).await.is_ok_and(|n| n == 0) }).await {
            out.notes.push(format!("the export queue still held messages after {} s", bound.as_secs()));
        }
    }

    // A worker step of a job deleted meanwhile removes what it wrote a moment
    // later: let the generation queue settle before the bucket is listed.
    if let Some(url) = stack.get("QUEUE_URL") {
        let bound = Duration::from_secs(visibility + 30);
        if !wait_for(bound, || async { storage.queue_depth(url).await.is_ok_and(|n| n == 0) }).await {
            out.notes.push(format!("the generation queue still held messages after {} s", bound.as_secs()));
        }
    }
    out
}
