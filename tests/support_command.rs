//! The operators' `support` command against the test stack.

use integration_tests::*;

#[tokio::test]
async fn grant_credits_writes_a_ledger_entry_the_user_can_spend() {
    let c = client();
    let s = sign_up(&c).await;
    let out = support(&["grant-credits", s.user_id(), "3", "--reason", "refund for ticket 812"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("granted 3 credits") && printed.contains("balance now 3"), "{printed}");
    assert_eq!(credits(&c, &s).await, 3);
    assert_eq!(assert_invariant(s.user_id()).await, 3);
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_eq!(create_job_raw(&c, &s, &id, "standard", None).await.status(), 202);
}

#[tokio::test]
async fn grant_credits_refuses_unknown_users_and_bad_amounts() {
    let out = support(&["grant-credits", "0123456789abcdef0123456789abcdef", "3", "--reason", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing granted"));
    let stored = format!("{:?}", scan_table().await);
    assert!(!stored.contains("0123456789abcdef0123456789abcdef"), "no ledger row for an unknown user");
    let out = support(&["grant-credits", "u", "-3", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(out.status.success(), "support failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn show_user_prints_balance_ledger_jobs_purchases_and_exports_without_links() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_5", 1).await;
    let id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let job: serde_json::Value = create_job_raw(&c, &s, &id, "high", None).await.json().await.unwrap();
    let job_id = job["job_id"].as_str().unwrap();
    let export: serde_json::Value =
        c.post(stack().url("/v1/me/exports")).bearer_auth(s.access()).json(&serde_json::json!({})).send().await.unwrap().json().await.unwrap();
    let export_id = export["export_id"].as_str().unwrap();
    let printed = stdout_of(&support(&["show-user", s.user_id()]));
    assert!(printed.contains("balance 3"), "{printed}");
    assert!(printed.contains("+5  purchase") && printed.contains("-2  job_charge"), "{printed}");
    assert!(printed.contains(job_id) && printed.contains("high 2 credit(s)"), "{printed}");
    assert!(printed.contains("credits_5  5 credits  granted"), "{printed}");
    assert!(printed.contains("exports (1):") && printed.contains(export_id), "{printed}");
    assert!(!printed.contains("http") && !printed.contains("users/"), "no links or object keys: {printed}");
    let unknown = stdout_of(&support(&["show-user", "0123456789abcdef0123456789abcdee"]));
    assert!(unknown.contains("nothing is stored"), "{unknown}");
}

#[tokio::test]
async fn delete_user_is_the_guardian_request_and_reports_the_verification() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_10", 1).await;
    upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let printed = stdout_of(&support(&["delete-user", s.user_id()]));
    assert!(printed.contains("queued") && printed.contains("verified"), "{printed}");
    assert_error(me_raw(&c, s.access()).await, 401, "unauthorized").await;
    assert_error(refresh_raw(&c, s.refresh_token()).await, 401, "unauthorized").await;
    assert_gone_within(s.user_id(), 5).await;
}

#[tokio::test]
async fn reapply_deletions_deletes_again_an_account_a_restore_brought_back() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 2).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&stack().aws().await);
    let table = stack().var("TABLE_NAME");
    let backup = dynamo
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", s.user_id())))
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    stdout_of(&support(&["delete-user", s.user_id()]));
    assert_gone_within(s.user_id(), 5).await;
    // The erasure's last pass (DELETION_FINAL_PASS_SECONDS after a completed run; with the
    // test stack's 2 s visibility a busy erasure can run, and queue its last pass, more than
    // once) would erase the restored items itself: restore after it, and again if one
    // still came between the restore and the command's scan.
    let last_pass: u64 = std::env::var("DELETION_FINAL_PASS_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let mut printed = String::new();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_secs(last_pass + 10)).await;
        // A restore from a point before the deletion brings the items back.
        for item in &backup {
            dynamo.put_item().table_name(table).set_item(Some(item.clone())).send().await.unwrap();
        }
        if remains_of(s.user_id()).await.1.is_empty() {
            continue; // a late last pass got there first
        }
        printed = stdout_of(&support(&["reapply-deletions"]));
        if printed.contains(s.user_id()) {
            break;
        }
    }
    assert!(printed.contains(s.user_id()), "{printed}");
    assert_gone_within(s.user_id(), 20).await;
}
