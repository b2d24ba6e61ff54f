//! Anonymous sessions over HTTP against the local stack: sign-up, `/v1/me`,
//! refresh rotation and its grace, reuse revocation, token failures and the
//! per-IP sign-up limit.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::*;
use serde_json::Value;
use shared::auth::access_token;
use shared::auth::keys::Secrets;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn sign_up_then_me() {
    let c = client();
    let s = sign_up(&c).await;
    assert_eq!(s.body["token_type"], "Bearer");
    let expires_in = s.body["expires_in"].as_i64().unwrap();
    assert!((1..=900).contains(&expires_in), "access tokens live at most 15 minutes");
    assert_ne!(s.access(), s.refresh_token());
    assert_eq!(s.body.as_object().unwrap().len(), 5, "exactly the contract's Session fields: {}", s.body);

    let resp = me_raw(&c, s.access()).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["user_id"], s.user_id());
    let free: i64 = stack().var("FREE_CREDITS").parse().unwrap();
    assert_eq!(me["credits"], free);
    let created = chrono::DateTime::parse_from_rfc3339(me["created_at"].as_str().unwrap()).unwrap();
    assert!((now() - created.timestamp()).abs() < 60);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn two_sign_ups_are_two_users() {
    let c = client();
    let (a, b) = (sign_up(&c).await, sign_up(&c).await);
    assert_ne!(a.user_id(), b.user_id());
}

#[tokio::test]
async fn refresh_rotates_the_pair() {
    let c = client();
    let first = sign_up(&c).await;
    let resp = refresh_raw(&c, first.refresh_token()).await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["user_id"], first.user_id());
    assert_ne!(second["refresh_token"], first.refresh_token());
    assert_ne!(second["access_token"], first.access());
    let me = me_raw(&c, second["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
    // The new refresh token is itself good for one more rotation.
    assert_eq!(refresh_raw(&c, second["refresh_token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_all_succeed_within_the_grace() {
    let c = client();
    let s = sign_up(&c).await;
    let answers = futures_util::future::join_all((0..4).map(|_| refresh_raw(&c, s.refresh_token()))).await;
    let mut fresh = Vec::new();
    for resp in answers {
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["user_id"], s.user_id(), "the same session's user");
        fresh.push(body["refresh_token"].as_str().unwrap().to_string());
    }
    fresh.dedup();
    assert_eq!(fresh.len(), 1, "every answer carries the same successor: no extra live tokens");
    assert_eq!(refresh_raw(&c, &fresh[0]).await.status(), 200);
}

#[tokio::test]
async fn reuse_after_the_grace_revokes_the_session() {
    let c = client();
    let s = sign_up(&c).await;
    let rotated: Value = refresh_raw(&c, s.refresh_token()).await.json().await.unwrap();
    let grace: u64 = stack().var("REFRESH_GRACE_SECONDS").parse().unwrap();
    tokio::time::sleep(Duration::from_secs(grace + 1)).await;

    assert_error(refresh_raw(&c, s.refresh_token()).await, 401, "unauthorized").await;
    // The whole session is gone: its newest refresh token and its access token too.
    assert_error(refresh_raw(&c, rotated["refresh_token"].as_str().unwrap()).await, 401, "unauthorized").await;
    assert_error(me_raw(&c, rotated["access_token"].as_str().unwrap()).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn malformed_and_unknown_refresh_tokens_are_401() {
    let c = client();
    let s = sign_up(&c).await;
    assert_error(refresh_raw(&c, "nonsense").await, 401, "unauthorized").await;
    // Well-formed, right user and session (both public), a secret never issued: a plain 401.
    let forged = format!("rt1.{}.{}.{}", s.user_id(), s.refresh_token().split('.').nth(2).unwrap(), URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert_error(refresh_raw(&c, &forged).await, 401, "unauthorized").await;
    // It changed nothing: the real token still works.
    assert_eq!(refresh_raw(&c, s.refresh_token()).await.status(), 200);
}

#[tokio::test]
async fn bad_access_tokens_are_401() {
    let c = client();
    let s = sign_up(&c).await;
    let keys = stack_secrets().await.token_keys;
    let claims = access_token::verify(&keys, s.access(), now(), 900).expect("the stack's own key verifies its tokens");

    let expired = access_token::issue(&keys, &claims.sub, &claims.sid, now() - 1_000, 900);
    let wrong_key = Secrets::parse(&format!("{}:{}", keys.signing().kid, URL_SAFE_NO_PAD.encode([9u8; 32])), &"k".repeat(32)).unwrap();
    let wrong_signature = access_token::issue(&wrong_key.token_keys, &claims.sub, &claims.sid, now(), 900);
    let mut parts: Vec<String> = s.access().split('.').map(String::from).collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["exp"] = (now() + 86_400 * 365).into();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tampered = parts.join(".");
    let no_session = access_token::issue(&keys, &claims.sub, "0000000000000000000000000000dead", now(), 900);

    for (what, token) in [
        ("expired", expired),
        ("wrong signature", wrong_signature),
        ("tampered", tampered),
        ("unknown session", no_session),
        ("garbage", "abc.def.ghi".to_string()),
    ] {
        let body = assert_error(me_raw(&c, &token).await, 401, "unauthorized").await;
        assert!(!body.to_string().contains(&token), "{what}: the token is not echoed");
    }
    let missing = c.get(stack().url("/v1/me")).send().await.unwrap();
    assert_error(missing, 401, "unauthorized").await;
    let basic = c.get(stack().url("/v1/me")).header("authorization", "Basic dXNlcjpwYXNz").send().await.unwrap();
    assert_error(basic, 401, "unauthorized").await;
    // The real token still works: nothing above harmed the session.
    assert_eq!(me_raw(&c, s.access()).await.status(), 200);
}

#[tokio::test]
async fn sign_ups_are_limited_per_source_ip() {
    let ip = random_loopback();
    let c = client_from(ip);
    let limit: usize = stack().var("SIGNUP_LIMIT_PER_HOUR").parse().unwrap();
    for _ in 0..limit {
        assert_eq!(sign_up_raw(&c).await.status(), 201);
    }
    let resp = sign_up_raw(&c).await;
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!((1..=3600).contains(&retry_after), "retry after {retry_after}s");
    assert_error(resp, 429, "rate_limited").await;
    // Another address is not affected.
    assert_eq!(sign_up_raw(&client()).await.status(), 201);
    // The address is stored only as a keyed hash.
    let stored = format!("{:?}", scan_table().await);
    assert!(!stored.contains(&ip.to_string()), "the source IP must not be stored in clear");
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let c = client();
    let s = sign_up(&c).await;
    let secret = s.refresh_token().rsplit('.').next().unwrap().to_string();
    let stored = format!("{:?}", scan_table().await);
    assert!(stored.contains(s.user_id()));
    assert!(!stored.contains(&secret), "refresh token secret stored in clear");
    assert!(!stored.contains(s.access()), "access token stored");
}
