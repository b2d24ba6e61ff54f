//! `POST /v1/uploads` over HTTP: declared type and size checked before any URL
//! is issued, the presigned PUT stores under the caller's prefix, and unused
//! uploads are swept.

use std::time::Duration;

use integration_tests::*;
use serde_json::{Value, json};

async fn declare(c: &reqwest::Client, s: &Session, body: Value) -> reqwest::Response {
    c.post(stack().url("/v1/uploads")).bearer_auth(s.access()).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn declarations_are_checked_in_the_contract_order() {
    let c = client();
    let s = sign_up(&c).await;
    let resp = declare(&c, &s, json!({"content_type": "image/gif", "content_length": 20_000_000})).await;
    assert_error(resp, 415, "unsupported_media_type").await;
    let resp = declare(&c, &s, json!({"content_type": "image/jpeg", "content_length": 10_485_761})).await;
    assert_error(resp, 413, "payload_too_large").await;
    let resp = declare(&c, &s, json!({"content_type": "image/jpeg", "content_length": 0})).await;
    assert_error(resp, 422, "validation_failed").await;
    let resp = declare(&c, &s, json!({"content_type": "image/jpeg", "content_length": 10, "name": "me.jpg"})).await;
    assert_error(resp, 422, "validation_failed").await;
    let resp = c.post(stack().url("/v1/uploads")).json(&json!({"content_type": "image/jpeg", "content_length": 10})).send().await.unwrap();
    assert_error(resp, 401, "unauthorized").await;
    // No URL was issued, so nothing was stored for this user.
    assert!(objects_of(s.user_id()).await.is_empty());
}

#[tokio::test]
async fn the_presigned_put_stores_the_photo_under_the_users_opaque_prefix() {
    let c = client();
    let s = sign_up(&c).await;
    let photo = fixture("astronaut.jpg");
    let resp = declare(&c, &s, json!({"content_type": "image/jpeg", "content_length": photo.len()})).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["content-type"], "image/jpeg");
    assert_eq!(body["headers"]["content-length"], photo.len().to_string());
    let url = body["upload_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=30&"), "{url}");
    assert!(!url.contains(s.user_id()), "the link does not carry the user id: {url}");
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((20..=30).contains(&left), "valid for the PUT to start at once, not {left}s");

    let id = upload(&c, &s, photo, "image/jpeg").await;
    let objects = user_objects(s.user_id()).await;
    assert!(list_objects("uploads/").await.contains(&objects.upload(&id)), "under uploads/, which the lifecycle rule empties");
}

#[tokio::test]
async fn unused_uploads_are_swept_and_used_ones_kept() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 1).await;
    let unused = upload(&c, &s, fixture("astronaut.png"), "image/png").await;
    let used = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_eq!(create_job_raw(&c, &s, &used, "standard", None).await.status(), 202);

    let wait: u64 = stack().var("UNUSED_UPLOAD_SECONDS").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(wait + 30);
    while objects_of(s.user_id()).await.iter().any(|k| k.ends_with(&unused)) {
        assert!(std::time::Instant::now() < deadline, "the unused upload was not swept");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(objects_of(s.user_id()).await.contains(&user_objects(s.user_id()).await.job_photo(&used)), "the job's copy of the used upload was kept");
    let items = scan_table().await;
    let record = items.iter().find(|it| it.get("sk").and_then(|v| v.as_s().ok()) == Some(&format!("UPLOAD#{used}"))).unwrap();
    assert!(!record.contains_key("expires_at") && !record.contains_key("gsi1pk"), "a used upload no longer expires");
    // The swept upload can no longer feed a job.
    grant(s.user_id(), 1).await;
    assert_error(create_job_raw(&c, &s, &unused, "standard", None).await, 404, "not_found").await;
    assert_invariant(s.user_id()).await;
}
