//! Data exports on the local stack, as the app uses them: `POST /v1/me/exports`,
//! polling `GET /v1/me/exports/{export_id}` until ready, downloading the ZIP
//! from `download_url` and opening it: every photo and result byte-identical
//! with what the job's links serve, `account.json` consistent with `GET /v1/me`
//! and `GET /v1/jobs` and holding nothing we do not keep. Then the hourly
//! limit, other users' exports, an account deleted while its export is being
//! written, and the deletion of a ZIP whose time is over. The balance
//! invariant is checked after each.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::{Duration, Instant};

use integration_tests::*;
use serde_json::{Value, json};

async fn post_export(c: &reqwest::Client, s: &Session) -> reqwest::Response {
    c.post(stack().url("/v1/me/exports")).bearer_auth(s.access()).json(&json!({})).send().await.unwrap()
}

async fn get_export(c: &reqwest::Client, token: &str, export_id: &str) -> reqwest::Response {
    c.get(stack().url(&format!("/v1/me/exports/{export_id}"))).bearer_auth(token).send().await.unwrap()
}

/// Asks for an export (202 asserted); its `Export`.
async fn request(c: &reqwest::Client, s: &Session) -> Value {
    let resp = post_export(c, s).await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let export: Value = resp.json().await.unwrap();
    assert_eq!(export["status"], "preparing");
    assert_eq!(export["download_url"], Value::Null);
    export
}

/// Polls the export until it is no longer preparing (or `secs` pass).
async fn wait_settled(c: &reqwest::Client, s: &Session, export_id: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let resp = get_export(c, s.access(), export_id).await;
        assert_eq!(resp.status(), 200);
        let export: Value = resp.json().await.unwrap();
        if export["status"] != "preparing" || Instant::now() > deadline {
            return export;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Downloads a ZIP with a plain client (no token, as a browser would) and opens it.
async fn download(url: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success(), "download: {}", resp.status());
    let bytes = resp.bytes().await.unwrap().to_vec();
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("the download is a ZIP")
}

fn entry(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut file = archive.by_name(name).unwrap_or_else(|_| panic!("{name} is in the ZIP"));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

async fn fetch(url: &Value) -> Vec<u8> {
    reqwest::get(url.as_str().expect("a link")).await.unwrap().bytes().await.unwrap().to_vec()
}

/// A job from `upload_id`, run to its end; the final `Job`.
async fn finished_job(c: &reqwest::Client, s: &Session, upload_id: &str) -> Value {
    let resp = create_job_raw(c, s, upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    wait_for_job(c, s, &id, 40, finished).await
}

/// Every object key in `value` (recursively).
fn keys_of(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys_of(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys_of(v, out)),
        _ => {}
    }
}

/// The fields a job has in both `GET /v1/jobs` and `account.json`.
const JOB_FIELDS: &[&str] = &["job_id", "status", "style", "credits_charged", "refunded", "created_at", "updated_at", "completed_at", "error"];

#[tokio::test]
async fn an_export_holds_every_photo_and_result_and_an_account_consistent_with_the_api() {
    let ip = random_loopback();
    let c = client_from(ip);
    let s = sign_up(&c).await;
    let bought = buy(s.user_id(), "credits_5", 1).await;
    // One job succeeds, one is refused by moderation, one succeeds and is deleted.
    let ok_upload = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let rejected_upload = upload(&c, &s, fixture("astronaut.png"), "image/png").await;
    sim_rule_matching(&rejected_upload, json!({"outcome": "fail", "fail_code": "422", "fail_msg": "Invalid prompt: prohibited content"})).await;
    let deleted_upload = upload(&c, &s, fixture("exif-gps.jpg"), "image/jpeg").await;
    let succeeded = finished_job(&c, &s, &ok_upload).await;
    let rejected = finished_job(&c, &s, &rejected_upload).await;
    let deleted = finished_job(&c, &s, &deleted_upload).await;
    assert_eq!((succeeded["status"].as_str(), rejected["status"].as_str()), (Some("succeeded"), Some("failed")));
    let deleted_id = deleted["job_id"].as_str().unwrap();
    let resp = c.delete(stack().url(&format!("/v1/jobs/{deleted_id}"))).bearer_auth(s.access()).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    // And a photo uploaded but not used by a job yet.
    let unused = upload(&c, &s, fixture("astronaut.webp"), "image/webp").await;

    let export = request(&c, &s).await;
    let export_id = export["export_id"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(export["created_at"].as_str().unwrap()).is_ok());
    let ready = wait_settled(&c, &s, export_id, 60).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let expires = chrono::DateTime::parse_from_rfc3339(ready["expires_at"].as_str().unwrap()).unwrap().timestamp();
    let retention: i64 = stack().var("EXPORT_RETENTION_SECONDS").parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now..=now + retention).contains(&expires), "expires_at is the retention after it became ready: {ready}");

    let mut zip = download(ready["download_url"].as_str().expect("a download link when ready")).await;
    let account: Value = serde_json::from_slice(&entry(&mut zip, "account.json")).expect("account.json is JSON");

    // The ZIP is stored under the user's prefix only, tagged for the lifecycle backstop.
    let prefix = format!("users/{}/exports/{export_id}/", user_objects(s.user_id()).await.prefix());
    let objects = list_objects(&prefix).await;
    assert_eq!(objects.len(), 1, "one ZIP: {objects:?}");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&stack().aws().await).force_path_style(true).build());
    let tags = s3.get_object_tagging().bucket(stack().var("BUCKET_NAME")).key(&objects[0]).send().await.unwrap();
    assert!(tags.tag_set().iter().any(|t| t.key() == "kind" && t.value() == "export"), "tagged kind=export");
    let template = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap();
    assert!(template.contains("Id: ExpireDataExports") && template.contains("Key: kind\n                Value: export"), "the lifecycle rule filters that tag");

    // The same account as GET /v1/me.
    let me: Value = me_raw(&c, s.access()).await.json().await.unwrap();
    for field in ["user_id", "created_at", "credits"] {
        assert_eq!(account[field], me[field], "{field}");
    }
    // Every ledger row, and nothing about the payment.
    let ledger = account["ledger"].as_array().unwrap();
    use shared::ports::LedgerStore;
    let stored = store().await.ledger_entries(s.user_id()).await.unwrap();
    assert_eq!(ledger.len(), stored.len());
    assert_eq!(ledger.iter().map(|e| e["amount"].as_i64().unwrap()).sum::<i64>(), me["credits"].as_i64().unwrap());
    for (line, row) in ledger.iter().zip(&stored) {
        assert_eq!(
            (line["amount"].as_i64(), line["reason"].as_str(), line["created_at"].as_str()),
            (Some(row.amount), Some(row.reason.as_str()), Some(row.created_at.as_str()))
        );
    }
    assert!(ledger.iter().any(|e| e["reason"] == "purchase") && ledger.iter().any(|e| e["reason"] == "job_refund"));

    // The same jobs as GET /v1/jobs, in the same order, with their files.
    let listed: Value = c.get(stack().url("/v1/jobs?limit=100")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    let (listed, exported) = (listed["jobs"].as_array().unwrap(), account["jobs"].as_array().unwrap());
    assert_eq!(listed.len(), 2, "the deleted job is gone");
    assert_eq!(exported.len(), listed.len());
    let mut names: BTreeSet<String> = BTreeSet::from(["account.json".to_string()]);
    for (job, line) in listed.iter().zip(exported) {
        for field in JOB_FIELDS {
            assert_eq!(job[field], line[field], "{field} of {}", job["job_id"]);
        }
        let photo = line["photo_file"].as_str().expect("every job's photo is in the ZIP");
        assert!(entry(&mut zip, photo) == fetch(&job["input_url"]).await, "{photo} is byte-identical");
        names.insert(photo.to_string());
        match job["status"].as_str() {
            Some("succeeded") => {
                let result = line["result_file"].as_str().expect("a result");
                assert!(entry(&mut zip, result) == fetch(&job["result_url"]).await, "{result} is byte-identical");
                names.insert(result.to_string());
            }
            _ => assert_eq!(line["result_file"], Value::Null),
        }
    }
    let unused_name = format!("uploads/{unused}.webp");
    assert_eq!(account["unused_uploads"], json!([unused_name]));
    assert!(entry(&mut zip, &unused_name) == fixture("astronaut.webp"));
    names.insert(unused_name);
    let in_zip: BTreeSet<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(in_zip, names, "nothing else: no file of the deleted job");

    // Nothing the privacy policy says we do not keep.
    let mut keys = BTreeSet::new();
    keys_of(&account, &mut keys);
    let allowed: BTreeSet<&str> = [
        "user_id",
        "created_at",
        "credits",
        "exported_at",
        "ledger",
        "amount",
        "reason",
        "job_id",
        "jobs",
        "status",
        "style",
        "attire",
        "background",
        "lighting",
        "quality",
        "credits_charged",
        "refunded",
        "updated_at",
        "completed_at",
        "error",
        "code",
        "message",
        "photo_file",
        "result_file",
        "unused_uploads",
    ]
    .into();
    let unexpected: Vec<&String> = keys.iter().filter(|k| !allowed.contains(k.as_str())).collect();
    assert!(unexpected.is_empty(), "fields we do not promise to keep: {unexpected:?}");
    let text = account.to_string().to_lowercase();
    for forbidden in ["price", "currency", "usd", "transaction", "gpa.", &ip.to_string(), bought["transaction_id"].as_str().unwrap(), "credits_5"] {
        assert!(!text.contains(&forbidden.to_lowercase()), "account.json mentions {forbidden}");
    }
    assert!(!text.contains("prohibited content"), "the provider's text is not passed on");

    // One an hour.
    let again = post_export(&c, &s).await;
    let retry_after: u64 = again.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(again, 429, "rate_limited").await;
    assert_eq!(assert_invariant(s.user_id()).await, me["credits"].as_i64().unwrap());
}

#[tokio::test]
async fn another_users_export_and_bad_requests_are_refused() {
    let c = client();
    let (owner, other) = (sign_up(&c).await, sign_up(&c).await);
    let export = request(&c, &owner).await;
    let export_id = export["export_id"].as_str().unwrap();
    assert_error(get_export(&c, other.access(), export_id).await, 404, "not_found").await;
    assert_error(get_export(&c, owner.access(), "0123456789abcdef0123456789abcdef").await, 404, "not_found").await;
    assert_error(get_export(&c, owner.access(), "not-an-id").await, 404, "not_found").await;
    assert_error(get_export(&c, "not-a-token", export_id).await, 401, "unauthorized").await;
    let post = |body: &'static str, content_type: &'static str| {
        let c = c.clone();
        let token = other.access().to_string();
        async move { c.post(stack().url("/v1/me/exports")).bearer_auth(token).header("content-type", content_type).body(body).send().await.unwrap() }
    };
    assert_error(post("{", "application/json").await, 400, "invalid_request").await;
    assert_error(post("{}", "text/plain").await, 400, "invalid_request").await;
    assert_error(post(r#"{"format": "tar"}"#, "application/json").await, 422, "validation_failed").await;
    let anonymous = c.post(stack().url("/v1/me/exports")).json(&json!({})).send().await.unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
    // None of the refusals used the other user's hour.
    request(&c, &other).await;
    // An empty account exports too: account.json and nothing else.
    let ready = wait_settled(&c, &owner, export_id, 60).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let mut zip = download(ready["download_url"].as_str().unwrap()).await;
    assert_eq!(zip.file_names().map(|n| n.unwrap().into_owned()).collect::<Vec<_>>(), ["account.json"]);
    let account: Value = serde_json::from_slice(&entry(&mut zip, "account.json")).unwrap();
    assert_eq!((account["user_id"].as_str(), account["jobs"].as_array().map(Vec::len)), (Some(owner.user_id()), Some(0)));
    assert_eq!(assert_invariant(owner.user_id()).await, 0);
}

#[tokio::test]
async fn deleting_the_account_while_its_export_is_written_leaves_nothing() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 1).await;
    let photo = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_eq!(finished_job(&c, &s, &photo).await["status"], "succeeded");
    // The worker's last S3 call is held 4 s: the account is deleted meanwhile.
    let prefix = user_objects(s.user_id()).await.prefix().to_string();
    let hold = fault_rule(json!({"service": "s3", "operation": "CompleteMultipartUpload", "match": prefix, "fault": "latency", "ms": 4000, "times": 1})).await;
    let export = request(&c, &s).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while fault_rule_state(hold).await["fired"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the worker never completed its upload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(export["status"], "preparing");
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);
    assert_gone_within(s.user_id(), 20).await;
    // The held run completes (or fails to) after the deletion; nothing reappears.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_gone_within(s.user_id(), 10).await;
    remove_fault_rule(hold).await;
}

#[tokio::test]
async fn a_ready_export_is_deleted_when_its_time_is_over() {
    let retention: u64 = stack().var("EXPORT_RETENTION_SECONDS").parse().unwrap();
    assert!(retention <= 60, "the test stack keeps exports a few seconds (bin/test sets EXPORT_RETENTION_SECONDS), not {retention}");
    let c = client();
    let s = sign_up(&c).await;
    upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let export = request(&c, &s).await;
    let export_id = export["export_id"].as_str().unwrap();
    let ready = wait_settled(&c, &s, export_id, 60).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let prefix = format!("users/{}/exports/{export_id}/", user_objects(s.user_id()).await.prefix());
    assert_eq!(list_objects(&prefix).await.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(retention + 30);
    loop {
        let resp = get_export(&c, s.access(), export_id).await;
        if resp.status() == 404 && list_objects(&prefix).await.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the export outlived its time: {}", resp.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let left: Vec<String> = scan_table().await.iter().map(|it| format!("{it:?}")).filter(|t| t.contains(export_id)).collect();
    assert!(left.is_empty(), "its record is gone: {left:?}");
    // The link it gave no longer downloads anything.
    assert!(!reqwest::get(ready["download_url"].as_str().unwrap()).await.unwrap().status().is_success());
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}
