//! Building HTTP answers (JSON, raw bytes) and reading query strings.

use std::collections::HashMap;

use http::{StatusCode, header};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::Value;

/// The response type of every handler.
pub type Response = hyper::Response<Full<Bytes>>;

/// A JSON answer with `status`.
pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

/// Raw bytes with a content type (`application/octet-stream` when `content_type` is not a valid
/// header value), status 200.
pub fn bytes(content_type: &str, body: Bytes) -> Response {
    let mut resp = hyper::Response::new(Full::new(body));
    let value = header::HeaderValue::from_str(content_type).unwrap_or_else(|_| header::HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(header::CONTENT_TYPE, value);
    resp
}

/// The query parameters of `uri` (the last one wins when repeated).
pub fn query(uri: &http::Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_their_content_type() {
        let resp = json(StatusCode::CREATED, &serde_json::json!({"a": 1}));
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let resp = bytes("image/png", Bytes::from_static(b"x"));
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/png");
        let resp = bytes("bad\nvalue", Bytes::new());
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/octet-stream");
    }

    #[test]
    fn query_last_value_wins() {
        let uri: http::Uri = "/x?a=1&b=two%20words&a=3".parse().expect("uri");
        let q = query(&uri);
        assert_eq!(q["a"], "3");
        assert_eq!(q["b"], "two words");
        assert!(query(&"/x".parse().expect("uri")).is_empty());
    }
}
