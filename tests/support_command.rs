//! The operators' `support` command against the test stack.

use std::process::Command;

use integration_tests::*;

fn support(args: &[&str]) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/support");
    assert!(bin.exists(), "build the workspace first (bin/test does): {} is missing", bin.display());
    let env_file = std::env::var("STACK_ENV_FILE").unwrap();
    Command::new(bin).arg("--env-file").arg(env_file).args(args).output().unwrap()
}

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
