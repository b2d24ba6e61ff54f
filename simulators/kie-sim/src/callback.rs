//! Posting a task's callback: KIE's body (`code` 200 on success, 501 on failure, `data` like
//! `recordInfo`'s) and, when an HMAC key is configured, the signature headers.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::state::now_secs;

/// How long KIE waits for the receiver's answer.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(15);

/// The callback body for a task's `data` object: code 200 for `success`, 501 otherwise.
pub(crate) fn body(data: Value) -> Value {
    let success = data.get("state").and_then(Value::as_str) == Some("success");
    let (code, msg) = if success {
        (200, "Image generated successfully.".to_string())
    } else {
        let reason = data.get("failMsg").and_then(Value::as_str).unwrap_or("Generation failed");
        (501, reason.to_string())
    };
    json!({"code": code, "msg": msg, "data": data})
}

/// `X-Webhook-Signature` of a callback: base64 (standard, padded) of
/// HMAC-SHA256(key, taskId + "." + timestamp), the timestamp in Unix seconds.
pub fn signature(key: &[u8], task_id: &str, timestamp: u64) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("{task_id}.{timestamp}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// POSTs `body` to `url` and returns the HTTP status (0 when no answer came).
pub(crate) async fn post(client: &reqwest::Client, url: &str, hmac_key: Option<&[u8]>, task_id: &str, body: &Value) -> u16 {
    let mut request = client.post(url).timeout(CALLBACK_TIMEOUT).json(body);
    if let Some(key) = hmac_key {
        let timestamp = now_secs();
        request = request.header("X-Webhook-Timestamp", timestamp.to_string()).header("X-Webhook-Signature", signature(key, task_id, timestamp));
    }
    match request.send().await {
        Ok(resp) => {
            tracing::info!(task = %task_id, status = resp.status().as_u16(), "kie-sim: callback answered");
            resp.status().as_u16()
        }
        Err(e) => {
            // Without the URL: its query carries the job's callback token.
            tracing::warn!(task = %task_id, error = %e.without_url(), "kie-sim: callback failed");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha256_of_id_dot_timestamp() {
        let sig = signature(b"Jefe", "task_1", 1_700_000_000);
        let raw = STANDARD.decode(&sig).expect("base64");
        assert_eq!(raw.len(), 32);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"task_1.1700000000");
        assert!(mac.verify_slice(&raw).is_ok());
    }

    #[test]
    fn failure_bodies_carry_code_501() {
        let b = body(json!({"taskId": "t", "state": "fail", "failCode": "422", "failMsg": "nope"}));
        assert_eq!(b["code"], 501);
        assert_eq!(b["msg"], "nope");
        assert_eq!(body(json!({"state": "success"}))["code"], 200);
    }
}
