//! Jobs over HTTP against the local stack: the photo checked by its bytes,
//! paying exactly once under races, idempotency, the active-job limit,
//! history with pagination, cross-user 404s and deletion. The balance
//! invariant is checked after every scenario. The provider (the KIE
//! simulator) is told to refuse these users' tasks for now (a refused
//! `createTask` is retried for a minute), so their jobs stay active with no
//! provider task started; `generation.rs` covers jobs that finish.

use futures_util::future::join_all;
use integration_tests::*;
use serde_json::Value;

/// A user with `credits` whose provider tasks are refused (and retried) for
/// now, so the jobs these tests create stay active, with no task started,
/// while they look at them.
async fn funded_user(credits: i64) -> (reqwest::Client, Session) {
    let c = client();
    let s = sign_up(&c).await;
    sim_rule(s.user_id(), serde_json::json!({"create_error_rate": 1.0, "create_error_code": 429})).await;
    if credits > 0 {
        grant(s.user_id(), credits).await;
    }
    (c, s)
}

async fn get_job(c: &reqwest::Client, s: &Session, job_id: &str) -> reqwest::Response {
    c.get(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(s.access()).send().await.unwrap()
}

async fn delete_job(c: &reqwest::Client, s: &Session, job_id: &str) -> reqwest::Response {
    c.delete(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(s.access()).send().await.unwrap()
}

#[tokio::test]
async fn happy_path_with_a_real_photo() {
    let (c, s) = funded_user(3).await;
    let photo = fixture("astronaut.jpg");
    let upload_id = upload(&c, &s, photo.clone(), "image/jpeg").await;
    let resp = create_job_raw(&c, &s, &upload_id, "high", None).await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["status"], "queued");
    assert_eq!(job["credits_charged"], 2);
    assert_eq!(job["refunded"], false);
    assert_eq!(job["style"], style("high"));
    assert_eq!(job["result_url"], Value::Null);
    assert_eq!(job["error"], Value::Null);
    assert_eq!(job["completed_at"], Value::Null);
    assert_eq!(credits(&c, &s).await, 1);

    // The input link serves the very photo.
    let input = c.get(job["input_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(input.bytes().await.unwrap().to_vec(), photo);

    let job_id = job["job_id"].as_str().unwrap();
    let fetched: Value = get_job(&c, &s, job_id).await.json().await.unwrap();
    assert_eq!(fetched["job_id"], job_id);
    assert!(fetched["status"] == "queued" || fetched["status"] == "processing", "{fetched}");
    let listed: Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"][0]["job_id"], job_id);
    assert_eq!(listed["next_cursor"], Value::Null);
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn png_webp_and_photos_with_large_metadata_are_accepted() {
    let (c, s) = funded_user(3).await;
    for (file, ct) in [("astronaut.png", "image/png"), ("astronaut.webp", "image/webp"), ("big-metadata.jpg", "image/jpeg")] {
        let id = upload(&c, &s, fixture(file), ct).await;
        let resp = create_job_raw(&c, &s, &id, "standard", None).await;
        assert_eq!(resp.status(), 202, "{file}: {:?}", resp.text().await);
    }
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn unusable_photos_are_422_and_charge_nothing() {
    let (c, s) = funded_user(2).await;
    for (file, declared) in [("not-an-image.jpg", "image/jpeg"), ("small-100x100.png", "image/png"), ("wide-600x200.jpg", "image/jpeg")] {
        let id = upload(&c, &s, fixture(file), declared).await;
        let body = assert_error(create_job_raw(&c, &s, &id, "standard", None).await, 422, "validation_failed").await;
        assert!(!body.to_string().contains("users/"), "no storage keys in messages");
    }
    assert_eq!(credits(&c, &s).await, 2);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn missing_and_other_users_uploads_are_404() {
    let (c, s) = funded_user(2).await;
    let (c2, other) = funded_user(0).await;
    let theirs = upload(&c2, &other, fixture("astronaut.jpg"), "image/jpeg").await;
    for id in [theirs.as_str(), "0123456789abcdef0123456789abcdef", "not-an-id"] {
        assert_error(create_job_raw(&c, &s, id, "standard", None).await, 404, "not_found").await;
    }
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn unknown_styles_and_bad_keys_are_422_before_any_charge() {
    let (c, s) = funded_user(2).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    for bad in [("attire", "spacesuit"), ("background", "moon"), ("lighting", "disco"), ("quality", "ultra")] {
        let mut st = style("standard");
        st[bad.0] = bad.1.into();
        let resp = c.post(stack().url("/v1/jobs")).bearer_auth(s.access()).json(&serde_json::json!({"upload_id": id, "style": st})).send().await.unwrap();
        let body = assert_error(resp, 422, "validation_failed").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(bad.0));
    }
    let missing_field = c
        .post(stack().url("/v1/jobs"))
        .bearer_auth(s.access())
        .json(&serde_json::json!({"upload_id": id, "style": {"attire": "business_suit"}}))
        .send()
        .await
        .unwrap();
    assert_error(missing_field, 422, "validation_failed").await;
    assert_error(create_job_raw(&c, &s, &id, "standard", Some(&"k".repeat(129))).await, 422, "validation_failed").await;
    assert_eq!(assert_invariant(s.user_id()).await, 2);
    // The upload is still usable afterwards.
    assert_eq!(create_job_raw(&c, &s, &id, "standard", None).await.status(), 202);
}

#[tokio::test]
async fn an_empty_balance_is_402() {
    let (c, s) = funded_user(1).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_error(create_job_raw(&c, &s, &id, "high", None).await, 402, "insufficient_credits").await;
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn an_upload_feeds_one_job_only() {
    let (c, s) = funded_user(2).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_eq!(create_job_raw(&c, &s, &id, "standard", None).await.status(), 202);
    assert_error(create_job_raw(&c, &s, &id, "standard", None).await, 422, "validation_failed").await;
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

async fn race(c: &reqwest::Client, s: &Session, n: usize) -> Vec<u16> {
    let photo = fixture("astronaut.jpg");
    let uploads = join_all((0..n).map(|_| upload(c, s, photo.clone(), "image/jpeg"))).await;
    let answers = join_all(uploads.iter().map(|id| create_job_raw(c, s, id, "standard", None))).await;
    answers.iter().map(|r| r.status().as_u16()).collect()
}

#[tokio::test]
async fn fifty_creations_racing_for_two_credits_make_exactly_two_jobs() {
    let (c, s) = funded_user(2).await;
    let statuses = race(&c, &s, 50).await;
    assert_eq!(statuses.iter().filter(|&&st| st == 202).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&st| st == 402).count(), 48, "{statuses:?}");
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn fifty_creations_racing_for_five_credits_stop_at_the_active_job_limit() {
    let (c, s) = funded_user(5).await;
    let statuses = race(&c, &s, 50).await;
    assert_eq!(statuses.iter().filter(|&&st| st == 202).count(), 3, "at most 3 active jobs: {statuses:?}");
    assert_eq!(statuses.iter().filter(|&&st| st == 429).count(), 47, "{statuses:?}");
    assert_eq!(credits(&c, &s).await, 2);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn an_idempotent_retry_racing_itself_charges_once() {
    let (c, s) = funded_user(3).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let answers = join_all((0..10).map(|_| create_job_raw(&c, &s, &id, "standard", Some("tap-once-42")))).await;
    let mut job_ids = Vec::new();
    for resp in answers {
        assert_eq!(resp.status(), 202);
        let job: Value = resp.json().await.unwrap();
        job_ids.push(job["job_id"].as_str().unwrap().to_string());
    }
    job_ids.dedup();
    assert_eq!(job_ids.len(), 1, "one job for one key");
    assert_eq!(credits(&c, &s).await, 2, "charged once");
    // A later retry still answers the same job; another body under the key is 409.
    let again: Value = create_job_raw(&c, &s, &id, "standard", Some("tap-once-42")).await.json().await.unwrap();
    assert_eq!(again["job_id"], job_ids[0].as_str());
    assert_error(create_job_raw(&c, &s, &id, "high", Some("tap-once-42")).await, 409, "conflict").await;
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn the_fourth_active_job_is_429_until_one_is_deleted() {
    let (c, s) = funded_user(5).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
        let job: Value = create_job_raw(&c, &s, &id, "standard", None).await.json().await.unwrap();
        jobs.push(job["job_id"].as_str().unwrap().to_string());
    }
    let fourth = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let resp = create_job_raw(&c, &s, &fourth, "standard", None).await;
    assert!(resp.headers().get("retry-after").is_some());
    assert_error(resp, 429, "rate_limited").await;
    assert_eq!(credits(&c, &s).await, 2);

    // Deleting a job whose provider task has not started refunds it and frees its slot.
    assert_eq!(delete_job(&c, &s, &jobs[0]).await.status(), 204);
    assert_eq!(credits(&c, &s).await, 3);
    assert_eq!(create_job_raw(&c, &s, &fourth, "standard", None).await.status(), 202);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn history_pages_newest_first_across_three_pages() {
    let (c, s) = funded_user(3).await;
    let mut created = Vec::new();
    for _ in 0..3 {
        let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
        let job: Value = create_job_raw(&c, &s, &id, "standard", None).await.json().await.unwrap();
        created.push(job["job_id"].as_str().unwrap().to_string());
    }
    created.reverse();
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut url = stack().url("/v1/jobs?limit=1");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = c.get(url).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
        pages += 1;
        seen.extend(page["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "newest first, each once");
    for bad in ["limit=0", "limit=101", "limit=abc", "cursor=%21%21"] {
        let resp = c.get(stack().url(&format!("/v1/jobs?{bad}"))).bearer_auth(s.access()).send().await.unwrap();
        assert_error(resp, 422, "validation_failed").await;
    }
    assert_invariant(s.user_id()).await;
}

#[tokio::test]
async fn another_users_job_is_404_and_untouched() {
    let (c, s) = funded_user(1).await;
    let (c2, other) = funded_user(0).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let job: Value = create_job_raw(&c, &s, &id, "standard", None).await.json().await.unwrap();
    let job_id = job["job_id"].as_str().unwrap();
    assert_error(get_job(&c2, &other, job_id).await, 404, "not_found").await;
    assert_error(delete_job(&c2, &other, job_id).await, 404, "not_found").await;
    assert_error(get_job(&c, &s, "0123456789abcdef0123456789abcdef").await, 404, "not_found").await;
    assert_eq!(get_job(&c, &s, job_id).await.status(), 200);
    let listed: Value = c2.get(stack().url("/v1/jobs")).bearer_auth(other.access()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 0);
    assert_invariant(s.user_id()).await;
}

#[tokio::test]
async fn deleting_a_job_removes_its_objects_and_record() {
    let (c, s) = funded_user(1).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let job: Value = create_job_raw(&c, &s, &id, "standard", None).await.json().await.unwrap();
    let job_id = job["job_id"].as_str().unwrap();
    assert_eq!(objects_of(s.user_id()).await, vec![user_objects(s.user_id()).await.job_photo(&id)], "the job's own copy, the upload gone");

    assert_eq!(delete_job(&c, &s, job_id).await.status(), 204);
    assert_no_objects_soon(s.user_id(), 5).await;
    assert_error(get_job(&c, &s, job_id).await, 404, "not_found").await;
    assert_error(delete_job(&c, &s, job_id).await, 404, "not_found").await;
    let stored = format!("{:?}", scan_table().await);
    assert!(!stored.contains(&format!("JOB#{job_id}")) && !stored.contains(&format!("UPLOAD#{id}")), "records gone");
    // No provider task had started: refunded, and the ledger still explains the balance.
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}
