//! `POST /v1/webhooks/kie?job=<job_id>&token=<per-job secret>`: the
//! provider's callback. The per-job secret and, when a key is configured,
//! KIE's HMAC headers are checked; a re-check of the task is queued and the
//! answer is 200 at once (see `shared::usecases::callbacks`).

use shared::adapters::kie::callback::signature_ok;
use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::callbacks::{CallbackOutcome, callback};

/// `POST /v1/webhooks/kie`.
pub struct KieWebhook(AppContext);

impl FromContext for KieWebhook {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.queue.ready();
        Ok(KieWebhook(ctx))
    }
}

impl Route for KieWebhook {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::provider_json(&req)?;
        let job_id = request::query_param(&req, "job").unwrap_or_default();
        let token = request::query_param(&req, "token").unwrap_or_default();
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let task_id = body.pointer("/data/taskId").and_then(|v| v.as_str()).unwrap_or_default();
        let signed = |job: &shared::jobs::Job| match &self.0.secrets.kie_webhook_hmac_key {
            None => true,
            Some(key) => {
                job.task_id.as_deref().is_none_or(|t| t == task_id)
                    && signature_ok(key, task_id, header("x-webhook-timestamp"), header("x-webhook-signature"), shared::time::now())
            }
        };
        let status = match callback(&self.0.store, &self.0.queue, job_id, token, signed).await? {
            CallbackOutcome::Queued => "ok",
            CallbackOutcome::Ignored => "ignored",
        };
        Ok(response::json(200, &serde_json::json!({"status": status})))
    }
}
