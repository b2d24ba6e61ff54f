//! `POST /v1/webhooks/kie?job=<job_id>&token=<per-job secret>`: the provider's
//! callback. It checks the per-job secret (stored only as a hash) and, when a
//! key is configured, KIE's HMAC headers; then it queues a re-check of the
//! task and answers 200 at once. The body is never trusted: the worker reads
//! the task's state with `recordInfo` before acting.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::adapters::sqs::{GenerationMessage, Step};
use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::generation::secret_hash;
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::is_id;
use subtle::ConstantTimeEq;

/// Signed timestamps older (or newer) than this are refused.
const HMAC_WINDOW_SECS: i64 = 300;

/// The route.
pub struct KieWebhook {
    ctx: AppContext,
}

impl KieWebhook {
    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(KieWebhook { ctx: AppContext::from_env().await? })
    }
}

fn forged() -> ApiError {
    ApiError::Unauthorized("The callback's credentials are not valid.".into())
}

/// KIE's signature: base64(HMAC-SHA256(key, taskId + "." + timestamp)).
pub fn signature_ok(key: &[u8], task_id: &str, timestamp: &str, signature: &str, now: i64) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else { return false };
    if (now - ts).abs() > HMAC_WINDOW_SECS {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{task_id}.{timestamp}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    expected.as_bytes().ct_eq(signature.trim().as_bytes()).into()
}

impl Route for KieWebhook {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::provider_json(&req)?;
        let job_id = request::query_param(&req, "job").unwrap_or_default();
        let token = request::query_param(&req, "token").unwrap_or_default();
        if !is_id(job_id) || token.is_empty() {
            return Err(forged());
        }
        let Some(job) = self.ctx.store.job_by_id(job_id).await? else {
            // Unknown or deleted: nothing to do, and nothing to tell.
            return Ok(response::json(200, &serde_json::json!({"status": "ignored"})));
        };
        let stored = job.callback_hash.as_deref().unwrap_or_default();
        if !bool::from(secret_hash(token).as_bytes().ct_eq(stored.as_bytes())) || stored.is_empty() {
            tracing::warn!(job_id, "callback with a wrong secret");
            return Err(forged());
        }
        if let Some(key) = &self.ctx.secrets.kie_webhook_hmac_key {
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let task_id = body.pointer("/data/taskId").and_then(|v| v.as_str()).unwrap_or_default();
            let known_task = job.task_id.as_deref().is_none_or(|t| t == task_id);
            if !known_task || !signature_ok(key, task_id, header("x-webhook-timestamp"), header("x-webhook-signature"), shared::time::now()) {
                tracing::warn!(job_id, "callback with a wrong signature");
                return Err(forged());
            }
        }
        let check = GenerationMessage { step: Step::Callback, ..GenerationMessage::start(&job.user_id, &job.job_id) };
        self.ctx.queue.send_delayed(&check, 0).await?;
        Ok(response::json(200, &serde_json::json!({"status": "ok"})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signatures() {
        let key = b"webhook-key";
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(b"task_1.1000");
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        assert!(signature_ok(key, "task_1", "1000", &sig, 1100));
        assert!(!signature_ok(key, "task_2", "1000", &sig, 1100), "another task");
        assert!(!signature_ok(key, "task_1", "1000", &sig, 2000), "stale");
        assert!(!signature_ok(b"other", "task_1", "1000", &sig, 1100), "another key");
        assert!(!signature_ok(key, "task_1", "x", &sig, 1100));
    }
}
