//! Keep nothing we promised not to keep: the whole flow (sign-up, upload,
//! job, purchase, refund, sync, deletion) leaves no token, link signature,
//! photo byte, IP address or price in the logs (captured at debug level), and
//! no field beyond what the features need in the table. Links live minutes.

use shared::entry::FromContext;
use shared::ports::PipelineStore;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use integration_tests::*;
use serde_json::{Value, json};

/// Every attribute each kind of item may hold; anything else is a leak.
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let common = ["pk", "sk", "entity"];
    let kinds: [(&str, &[&str]); 17] = [
        ("user", &["user_id", "credits", "created_at", "active_jobs", "purchased", "owed", "purchases", "deleting"]),
        ("session", &["user_id", "session_id", "expires_at", "live_hashes", "consumed", "previous_hash", "rotated_at"]),
        ("ledger", &["user_id", "amount", "reason", "reference", "created_at"]),
        (
            "upload",
            &[
                "user_id",
                "upload_id",
                "s3_key",
                "content_type",
                "content_length",
                "created_at",
                "use_by",
                "job_id",
                "sweeping",
                "expires_at",
                "gsi1pk",
                "gsi1sk",
            ],
        ),
        (
            "job",
            &[
                "user_id",
                "job_id",
                "status",
                "attire",
                "background",
                "lighting",
                "quality",
                "credits_charged",
                "refunded",
                "created_at",
                "updated_at",
                "completed_at",
                "upload_id",
                "input_key",
                "result_key",
                "deadline_at",
                "task_id",
                "task_model",
                "fallback_model",
                "primary_task_id",
                "callback_hash",
                "claim",
                "lease_until",
                "watch_at",
                "poll_seq",
                "error_code",
                "error_message",
                "expires_at",
                "gsi1pk",
                "gsi1sk",
                "gsi2pk",
                "gsi2sk",
            ],
        ),
        ("idempotency_key", &["user_id", "idempotency_key", "fingerprint", "job_id", "created_at", "expires_at"]),
        ("rate_limit", &["hits", "expires_at"]),
        ("signup_limit", &["hits", "expires_at"]),
        // Service-wide, no user: the provider's task rate and the day's spend.
        ("provider_tasks", &["hits", "expires_at"]),
        ("provider_spend", &["spent", "expires_at"]),
        ("purchase", &["user_id", "product_id", "credits", "state", "updated_at", "gsi1pk", "gsi1sk"]),
        ("revenuecat_event", &["type", "outcome", "created_at", "expires_at"]),
        ("unknown_user_event", &["type", "product_id", "created_at", "expires_at"]),
        ("deletion_log", &["user_hash", "expires_at"]),
        ("trash", &["user_id", "name", "keys", "gsi1pk", "gsi1sk", "expires_at"]),
        (
            "export",
            &[
                "user_id",
                "export_id",
                "status",
                "created_at",
                "object_prefix",
                "deadline_at",
                "delete_at",
                "due_at",
                "ready_at",
                "object_key",
                "gsi1pk",
                "gsi1sk",
                "expires_at",
            ],
        ),
        ("export_limit", &["last_created_at", "expires_at"]),
    ];
    kinds.into_iter().map(|(k, fields)| (k, common.iter().chain(fields).copied().collect())).collect()
}

/// The value of `name` in a URL's query.
fn query_value(url: &str, name: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_else(|| panic!("{name} missing from a presigned link"))
}

/// Runs the flow from `ip`; returns the user and every secret it saw.
async fn whole_flow(ip: IpAddr) -> (Session, Vec<(String, String)>) {
    let c = client_from(ip);
    let s = sign_up(&c).await;
    let mut secrets = vec![("access token".to_string(), s.access().to_string()), ("refresh token".into(), s.refresh_token().to_string())];
    let refreshed: Value = refresh_raw(&c, s.refresh_token()).await.json().await.unwrap();
    secrets.push(("rotated refresh token".into(), refreshed["refresh_token"].as_str().unwrap().into()));
    let s = Session { body: refreshed };

    let photo = fixture("astronaut.jpg");
    let created = upload_answer(&c, &s, photo, "image/jpeg").await;
    let upload_url = created["upload_url"].as_str().unwrap();
    assert!(query_value(upload_url, "X-Amz-Expires").parse::<u64>().unwrap() <= 900, "upload links live minutes");
    secrets.push(("upload link signature".into(), query_value(upload_url, "X-Amz-Signature")));

    buy(s.user_id(), "credits_5", 0).await; // granted by the sync below
    let paid = revenuecat_sim(
        "POST",
        "/_sim/purchases",
        json!({"app_user_id": s.user_id(), "product_id": "credits_10", "price": 1234.56, "currency": "NOK", "country_code": "NO", "deliver": true}),
    )
    .await;
    assert_eq!(paid["deliveries"][0]["status"], 200);
    revenuecat_sim("POST", "/_sim/events", json!({"type": "CANCELLATION", "transaction_id": paid["transaction_id"]})).await;
    assert_eq!(sync_raw(&c, &s).await.status(), 200);

    let resp = create_job_raw(&c, &s, created["upload_id"].as_str().unwrap(), "standard", Some("privacy-flow-key")).await;
    assert_eq!(resp.status(), 202);
    let job_id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    let job = wait_for_job(&c, &s, &job_id, 30, |j| j["status"] == "succeeded").await;
    for link in ["input_url", "result_url"] {
        let url = job[link].as_str().unwrap();
        assert!(query_value(url, "X-Amz-Expires").parse::<u64>().unwrap() <= 900, "{link} lives minutes");
        secrets.push((format!("{link} signature"), query_value(url, "X-Amz-Signature")));
    }
    let export: Value = c.post(stack().url("/v1/me/exports")).bearer_auth(s.access()).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let export_id = export["export_id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let export = loop {
        let got: Value = c.get(stack().url(&format!("/v1/me/exports/{export_id}"))).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
        if got["status"] != "preparing" || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let download_url = export["download_url"].as_str().unwrap_or_else(|| panic!("the export is ready: {export}")).to_string();
    secrets.push(("export download link signature".into(), query_value(&download_url, "X-Amz-Signature")));
    let task = &sim_tasks(s.user_id()).await[0];
    if let Some(callback) = task["callback_url"].as_str() {
        secrets.push(("KIE callback token".into(), query_value(callback, "token")));
    }
    // Nothing given to the app or to the provider names the user.
    for (what, text) in [
        ("upload link", upload_url.to_string()),
        ("input link", job["input_url"].to_string()),
        ("result link", job["result_url"].to_string()),
        ("the provider's task", task.to_string()),
        ("export download link", download_url.clone()),
    ] {
        assert!(!text.contains(s.user_id()), "the {what} carries the user id: {text}");
    }
    (s, secrets)
}

#[tokio::test]
async fn the_logs_hold_no_token_link_photo_ip_or_price() {
    let path = std::env::var("STACK_LOG_FILE").expect("STACK_LOG_FILE: bin/test passes the test stack's log (written at LOG_LEVEL=debug)");
    let ip = random_loopback();
    let (s, mut secrets) = whole_flow(ip).await;
    let c = client_from(ip);
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);
    assert_gone_within(s.user_id(), 20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let photo = fixture("astronaut.jpg");
    let middle = &photo[photo.len() / 2..photo.len() / 2 + 48];
    secrets.extend([
        ("IP address".to_string(), ip.to_string()),
        ("price".into(), "1234.56".into()),
        ("currency".into(), "\"NOK\"".into()),
        ("photo bytes (base64)".into(), base64::engine::general_purpose::STANDARD.encode(middle)[..40].to_string()),
        ("photo bytes (hex)".into(), middle.iter().map(|b| format!("{b:02x}")).collect()),
        ("photo bytes (escaped)".into(), format!("{:?}", &middle[..12])),
        ("RevenueCat webhook secret".into(), stack().var("REVENUECAT_WEBHOOK_AUTH").to_string()),
        ("user id".into(), s.user_id().to_string()),
    ]);
    // The app's log lines are JSON; the rest of the file is the stack's own banner.
    let logs: String = std::fs::read_to_string(&path).unwrap().lines().filter(|l| l.starts_with('{')).collect::<Vec<_>>().join("\n");
    assert!(logs.contains("\"level\":\"DEBUG\"") || logs.contains("\"level\":\"debug\""), "the stack logs at debug level");
    assert!(logs.contains("account erased"), "the flow's own lines are in the captured log");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 4, "{what} is too short to search for");
        assert!(!logs.contains(secret.as_str()), "the logs contain the {what}");
    }
}

#[tokio::test]
async fn stored_records_hold_only_what_the_features_need() {
    let ip = random_loopback();
    let (s, _) = whole_flow(ip).await;
    let allowed = allowed();
    let items = scan_table().await;
    let mut checked = 0;
    for it in &items {
        let entity = it.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str).unwrap_or("(none)");
        let fields = allowed.get(entity).unwrap_or_else(|| panic!("an item of unknown kind `{entity}`: {it:?}"));
        for name in it.keys() {
            assert!(fields.contains(name.as_str()), "`{entity}` items must not store `{name}`: {it:?}");
        }
        let text = format!("{it:?}");
        assert!(!text.contains(&ip.to_string()), "an IP address in clear: {text}");
        for value in it.values().filter_map(|v| v.as_s().ok()) {
            let raw_payload = serde_json::from_str::<Value>(value).is_ok_and(|v| v.is_object() || v.is_array());
            assert!(!raw_payload, "a raw payload is stored: {text}");
        }
        checked += usize::from(text.contains(s.user_id()));
    }
    assert!(checked >= 8, "the flow's own items were checked ({checked})");
}

#[tokio::test]
async fn the_template_keeps_the_bucket_private_encrypted_and_tls_only() {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap();
    let t: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let res = &t["Resources"];
    let bucket = &res["PhotoBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[flag], serde_yaml::Value::Bool(true), "{flag}");
    }
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"];
    assert!(matches!(sse.as_str(), Some("AES256" | "aws:kms")), "encrypted at rest");
    assert!(bucket.get("VersioningConfiguration").is_none(), "no versioning: a deleted photo must not live on as a version");

    let policy = &res["PhotoBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let deny_plain = policy.as_sequence().unwrap().iter().any(|st| {
        st["Effect"] == "Deny"
            && st["Principal"] == "*"
            && st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            && st["Resource"].as_sequence().is_some_and(|r| r.len() == 2)
    });
    assert!(deny_plain, "the bucket policy denies every request without TLS, on the bucket and its objects");

    let rules = bucket["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    let retention = rules.iter().find_map(|r| r.get("Fn::If")).expect("a retention rule, conditional");
    assert_eq!(retention[0], "HasResultRetention");
    assert_eq!(retention[1]["Prefix"], "users/");
    let uploads = rules.iter().find(|r| r["Prefix"] == "uploads/").expect("a rule that empties uploads/");
    assert_eq!((uploads["Status"].as_str(), uploads["ExpirationInDays"].as_u64()), (Some("Enabled"), Some(1)), "uploads are gone within a day");

    for (id, r) in res.as_mapping().unwrap() {
        if r["Type"] == "AWS::Logs::LogGroup" {
            assert!(r["Properties"].get("RetentionInDays").is_some(), "{id:?} keeps logs for a set time");
        }
    }
    let table = &res["Table"]["Properties"];
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], serde_yaml::Value::Bool(true));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], "expires_at");
}

#[tokio::test]
async fn with_a_retention_period_jobs_expire_and_read_as_gone() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 1).await;
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let mut settings = stack_settings();
    settings.result_retention_days = 7;
    let route = create_job::CreateJob::from_context(stack_context(settings).await).unwrap();
    let body = json!({"upload_id": upload_id, "style": style("standard")}).to_string();
    let bearer = format!("Bearer {}", s.access());
    let (status, job) =
        call_route(&route, "POST", "/v1/jobs", &[("content-type", "application/json"), ("authorization", bearer.as_str())], body.as_bytes()).await;
    assert_eq!(status, 202, "{job}");
    let job_id = job["job_id"].as_str().unwrap();
    let stored = store().await.job(s.user_id(), job_id).await.unwrap().unwrap();
    let in_days = (stored.expires_at.unwrap() - stored.created_at) as f64 / 86_400.0;
    assert_eq!(in_days, 7.0, "the TTL attribute is set for the retention period");
    let dynamo = aws_sdk_dynamodb::Client::new(&stack().aws().await);
    let upload_record = dynamo
        .get_item()
        .table_name(stack().var("TABLE_NAME"))
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", s.user_id())))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("UPLOAD#{upload_id}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(upload_record["expires_at"].as_n().unwrap(), &stored.expires_at.unwrap().to_string(), "its upload record expires with it");

    // Once the period is over the job is gone for the user, before DynamoDB's TTL sweeps it.
    dynamo
        .update_item()
        .table_name(stack().var("TABLE_NAME"))
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", s.user_id())))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{job_id}")))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()))
        .send()
        .await
        .unwrap();
    let got = c.get(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(s.access()).send().await.unwrap();
    assert_error(got, 404, "not_found").await;
    let listed: Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"], json!([]));
}
