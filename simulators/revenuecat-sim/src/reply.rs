//! Building HTTP answers (RevenueCat's v1 `{"code", "message"}` errors, the control API's
//! `{"error"}` errors, on top of the shared JSON helper of `sim-http`), reading query strings
//! and decoding path segments.

use http::{StatusCode, header};
use serde_json::json;

pub(crate) use sim_http::{Response, json, query};

/// A RevenueCat v1 error: `{"code": <RevenueCat code>, "message": "…"}` under `status`.
pub(crate) fn rc_error(status: StatusCode, code: u32, message: &str) -> Response {
    json(status, &json!({"code": code, "message": message}))
}

/// RevenueCat's answer to a missing or wrong secret key (backend code 7225, invalid API key).
pub(crate) fn unauthorized() -> Response {
    let mut resp = rc_error(StatusCode::UNAUTHORIZED, 7225, "Invalid API Key.");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    resp
}

/// A scripted REST failure: `status` with `Retry-After` when given.
pub(crate) fn failure(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many requests. Please retry later.",
        s if s.is_server_error() => "Internal server error. Please retry later.",
        _ => "The request failed (simulated).",
    };
    let mut resp = rc_error(status, u32::from(status.as_u16()), message);
    if let Some(seconds) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    resp
}

/// The control API's error body `{"error": msg}`.
pub(crate) fn control_error(status: StatusCode, msg: &str) -> Response {
    json(status, &json!({"error": msg}))
}

/// Decodes `%XX` escapes of a path segment (`+` stays `+`); `None` for bad escapes or UTF-8.
pub(crate) fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_decode() {
        assert_eq!(percent_decode("%24RCAnonymousID%3Aab+c").as_deref(), Some("$RCAnonymousID:ab+c"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("é%C3%A9").as_deref(), Some("éé"));
    }

    #[test]
    fn failures_carry_retry_after() {
        let resp = failure(429, Some(2));
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        assert!(failure(503, None).headers().get(header::RETRY_AFTER).is_none());
    }
}
