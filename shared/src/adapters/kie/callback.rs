//! KIE's optional webhook signature: base64(HMAC-SHA256(key, taskId + "." +
//! timestamp)) in `X-Webhook-Signature`, the timestamp in `X-Webhook-Timestamp`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Signed timestamps older (or newer) than this are refused.
const HMAC_WINDOW_SECS: i64 = 300;

/// Whether `signature` is KIE's for `task_id` at `timestamp`, within the window around `now`.
pub fn signature_ok(key: &[u8], task_id: &str, timestamp: &str, signature: &str, now: i64) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else { return false };
    if (now - ts).abs() > HMAC_WINDOW_SECS {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    mac.update(format!("{task_id}.{timestamp}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    expected.as_bytes().ct_eq(signature.trim().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_signatures() {
        let key = b"webhook-key";
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(b"task_1.1000");
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        assert!(signature_ok(key, "task_1", "1000", &sig, 1100));
        assert!(!signature_ok(key, "task_2", "1000", &sig, 1100), "another task");
        assert!(!signature_ok(key, "task_1", "1000", &sig, 2000), "stale");
        assert!(!signature_ok(b"other", "task_1", "1000", &sig, 1100), "another key");
        assert!(!signature_ok(key, "task_1", "x", &sig, 1100));
    }
}
