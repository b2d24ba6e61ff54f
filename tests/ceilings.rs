//! The cost and abuse ceilings, from outside the route: per-user uploads
//! and job creations per hour (429 with `Retry-After`), and the daily
//! provider spend ceiling (503 with `Retry-After`, nothing charged). Each
//! route runs in-process over the test stack with small ceilings.

use integration_tests::*;
use serde_json::json;
use shared::entry::FromContext;
use shared::ports::ProviderBudget;

fn bearer(s: &Session) -> String {
    format!("Bearer {}", s.access())
}

fn retry_after(headers: &lambda_http::http::HeaderMap) -> u64 {
    headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn uploads_past_the_hourly_ceiling_are_refused_with_retry_after() {
    let mut settings = stack_settings();
    settings.uploads_per_hour = 2;
    let route = create_upload::CreateUpload::from_context(stack_context(settings).await).unwrap();
    let c = client();
    let s = sign_up(&c).await;
    let body = json!({"content_type": "image/jpeg", "content_length": 1000}).to_string();
    let auth = bearer(&s);
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    for _ in 0..2 {
        let (status, _, _) = call_route_full(&route, "POST", "/v1/uploads", &headers, body.as_bytes()).await;
        assert_eq!(status, 201);
    }
    let (status, headers_out, answer) = call_route_full(&route, "POST", "/v1/uploads", &headers, body.as_bytes()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (429, Some("rate_limited")), "{answer}");
    assert!((1..=3600).contains(&retry_after(&headers_out)), "Retry-After within the hour");

    // Another user is not affected.
    let other = sign_up(&c).await;
    let auth = bearer(&other);
    let (status, _, _) =
        call_route_full(&route, "POST", "/v1/uploads", &[("content-type", "application/json"), ("authorization", auth.as_str())], body.as_bytes()).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn job_creations_past_the_hourly_ceiling_are_refused_and_not_charged() {
    let mut settings = stack_settings();
    settings.jobs_per_hour = 1;
    let route = create_job::CreateJob::from_context(stack_context(settings).await).unwrap();
    let (c, s, first) = user_with_upload(10, None, "astronaut.jpg").await;
    let second = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let auth = bearer(&s);
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let body = |id: &str| json!({"upload_id": id, "style": style("standard")}).to_string();
    let (status, _, job) = call_route_full(&route, "POST", "/v1/jobs", &headers, body(&first).as_bytes()).await;
    assert_eq!(status, 202, "{job}");
    let balance = credits(&c, &s).await;
    let (status, headers_out, answer) = call_route_full(&route, "POST", "/v1/jobs", &headers, body(&second).as_bytes()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (429, Some("rate_limited")), "{answer}");
    assert!(retry_after(&headers_out) >= 1);
    assert_eq!(credits(&c, &s).await, balance, "nothing charged");
    assert_invariant(s.user_id()).await;
}

#[tokio::test]
async fn past_the_daily_spend_ceiling_new_jobs_are_refused_and_nothing_is_charged() {
    let today = &shared::time::rfc3339(shared::time::now())[..10];
    // Some spend of today is on record (the stack's own jobs add more).
    store().await.add_spend(today, 1).await.unwrap();
    let mut settings = stack_settings();
    settings.daily_spend_limit_micro_usd = 1;
    let route = create_job::CreateJob::from_context(stack_context(settings).await).unwrap();
    let (c, s, upload_id) = user_with_upload(10, None, "astronaut.jpg").await;
    let auth = bearer(&s);
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let body = json!({"upload_id": upload_id, "style": style("standard")}).to_string();
    let (status, headers_out, answer) = call_route_full(&route, "POST", "/v1/jobs", &headers, body.as_bytes()).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("unavailable")), "{answer}");
    let wait = retry_after(&headers_out);
    assert!((1..=86_400).contains(&wait), "Retry-After until midnight UTC: {wait}");
    assert_eq!(credits(&c, &s).await, 10, "nothing charged");
    let jobs: serde_json::Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "no job recorded");

    // The stack's own ceiling (the default $50) still admits jobs.
    let resp = create_job_raw(&c, &s, &upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202);
}
