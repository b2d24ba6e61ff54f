//! The worker's memory bounds: a batch of the largest photos a user can send
//! (40 megapixels each, 120 MB of pixels) is decoded a few at a time, so
//! every job in it succeeds, and a photo whose decode would need more than
//! one decode may use fails its own job (refunded) and nothing else. The
//! peak memory of such a batch is measured by `bin/bench-memory`.

use futures_util::future::join_all;
use integration_tests::*;
use serde_json::Value;

/// Signs up a user with `credits`, uploads `photo` and creates a standard job.
async fn job_from(photo: &'static str) -> (reqwest::Client, Session, String) {
    let (c, s, upload_id) = user_with_upload(1, None, photo).await;
    let resp = create_job_raw(&c, &s, &upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202, "{photo}");
    let job_id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    (c, s, job_id)
}

#[tokio::test]
async fn a_batch_of_the_largest_photos_succeeds_and_an_oversized_one_fails_alone() {
    let mut photos = vec!["worst-case-6300x6300.png"; 8];
    photos.extend(["over-limit-16bit-5000x5000.png", "astronaut.jpg"]);
    // Ten jobs queued at once: the worker takes them in batches of up to ten.
    let jobs = join_all(photos.iter().map(|p| job_from(p))).await;
    for ((c, s, job_id), photo) in jobs.iter().zip(&photos) {
        let job = wait_for_job(c, s, job_id, 60, finished).await;
        if photo.starts_with("over-limit") {
            assert_eq!(
                (job["status"].as_str(), job["error"]["code"].as_str(), job["refunded"].as_bool()),
                (Some("failed"), Some("invalid_image"), Some(true)),
                "{job}"
            );
            assert!(job["error"]["message"].as_str().unwrap().contains("too large"), "{job}");
            assert_eq!(credits(c, s).await, 1, "refunded");
            assert!(sim_tasks(s.user_id()).await.is_empty(), "never sent to the provider");
        } else {
            assert_eq!(job["status"], "succeeded", "{photo}: {job}");
            assert_eq!(credits(c, s).await, 0);
        }
        assert!(assert_invariant(s.user_id()).await >= 0);
    }
}
