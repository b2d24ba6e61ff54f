//! When the generation queue cannot take a paid job, `POST /v1/jobs` fails
//! and refunds the job in the same request: no credit is lost. The route's
//! handler runs in-process (the same `respond` the Lambda runs) against the
//! test stack's emulator, with a queue URL that does not exist.

use std::collections::HashMap;

use integration_tests::*;
use lambda_http::http;
use serde_json::{Value, json};
use shared::adapters::s3::PhotoStorage;
use shared::adapters::sqs::GenerationQueue;
use shared::config::Settings;
use shared::context::AppContext;

async fn context_with_a_missing_queue() -> AppContext {
    let sdk = stack().aws().await;
    let var = |k: &str| stack().var(k).to_string();
    let settings = Settings {
        table_name: var("TABLE_NAME"),
        bucket_name: var("BUCKET_NAME"),
        queue_url: format!("{}/123456789012/no-such-queue", var("AWS_ENDPOINT_URL")),
        unused_upload_seconds: var("UNUSED_UPLOAD_SECONDS").parse().unwrap(),
        job_deadline_seconds: var("JOB_DEADLINE_SECONDS").parse().unwrap(),
        access_token_seconds: var("ACCESS_TOKEN_SECONDS").parse().unwrap(),
        refresh_grace_seconds: var("REFRESH_GRACE_SECONDS").parse().unwrap(),
        session_idle_days: var("SESSION_IDLE_DAYS").parse().unwrap(),
        signup_limit_per_hour: var("SIGNUP_LIMIT_PER_HOUR").parse().unwrap(),
        free_credits: var("FREE_CREDITS").parse().unwrap(),
    };
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let photos = PhotoStorage::new(&sdk, settings.bucket_name.clone());
    let queue = GenerationQueue::new(&sdk, settings.queue_url.clone());
    AppContext::with_clients(settings, stack_secrets().await, dynamo, photos, queue)
}

#[tokio::test]
async fn a_job_the_queue_refuses_is_failed_and_refunded_at_once() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 1).await;
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;

    let route = create_job::CreateJob::new(context_with_a_missing_queue().await);
    let body = json!({"upload_id": upload_id, "style": style("standard")}).to_string();
    let (parts, _) = http::Request::builder()
        .method("POST")
        .uri("/v1/jobs")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", s.access()))
        .body(())
        .unwrap()
        .into_parts();
    let event = local_stack::api::event(&parts, "127.0.0.1:9".parse().unwrap(), "POST", "/v1/jobs", &HashMap::new(), body.as_bytes());
    let resp = shared::http::serve::respond(&route, lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    assert_eq!(resp.status(), 503);
    let answer: Value = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("{other:?}"),
    };
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
