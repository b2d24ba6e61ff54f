//! When the generation queue cannot take a paid job, `POST /v1/jobs` fails
//! and refunds the job in the same request: no credit is lost. The route's
//! handler runs in-process (the same `respond` the Lambda runs) against the
//! test stack's emulator, with a queue URL that does not exist.

use integration_tests::*;
use serde_json::{Value, json};
use shared::entry::FromContext;

async fn context_with_a_missing_queue() -> shared::context::AppContext {
    let mut settings = stack_settings();
    settings.queue_url = format!("{}/123456789012/no-such-queue", stack().var("AWS_ENDPOINT_URL"));
    stack_context(settings).await
}

#[tokio::test]
async fn a_job_the_queue_refuses_is_failed_and_refunded_at_once() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 1).await;
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;

    let route = create_job::CreateJob::from_context(context_with_a_missing_queue().await).unwrap();
    let body = json!({"upload_id": upload_id, "style": style("standard")}).to_string();
    let bearer = format!("Bearer {}", s.access());
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let (status, answer) = call_route(&route, "POST", "/v1/jobs", &headers, body.as_bytes()).await;
    assert_eq!(status, 503);
    assert_eq!(answer["error"]["code"], "unavailable");

    // The job exists, failed and refunded; the balance is whole again.
    let listed: Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    let job = &listed["jobs"][0];
    assert_eq!(job["status"], "failed");
    assert_eq!(job["refunded"], true);
    assert_eq!(job["error"]["code"], "provider_failed");
    assert_eq!(credits(&c, &s).await, 1);
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}
