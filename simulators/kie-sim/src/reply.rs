//! Building HTTP answers: KIE's `{"code","msg","data"}` envelope on top of the shared JSON, raw
//! bytes and query-string helpers of `sim-http`.

use http::StatusCode;
use serde_json::{Value, json};

pub(crate) use sim_http::{Response, bytes, json, query};

use crate::rules::ErrorAnswer;

/// KIE's envelope under HTTP 200 (KIE reports business errors in the body `code`).
pub(crate) fn envelope(code: i64, msg: &str, data: Value) -> Response {
    envelope_with_status(StatusCode::OK, code, msg, data)
}

/// KIE's envelope under a given HTTP status.
pub(crate) fn envelope_with_status(status: StatusCode, code: i64, msg: &str, data: Value) -> Response {
    json(status, &json!({"code": code, "msg": msg, "data": data}))
}

/// A scripted error answer (`data: null`).
pub(crate) fn scripted(answer: &ErrorAnswer) -> Response {
    let status = StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::OK);
    envelope_with_status(status, answer.code, &answer.message(), Value::Null)
}

/// HTTP 401 with envelope code 401.
pub(crate) fn unauthorized() -> Response {
    envelope_with_status(StatusCode::UNAUTHORIZED, 401, "You do not have access permissions", Value::Null)
}

/// HTTP 404 with envelope code 404 (no such route or file).
pub(crate) fn not_found(what: &str) -> Response {
    envelope_with_status(StatusCode::NOT_FOUND, 404, &format!("Not found: {what}"), Value::Null)
}

/// HTTP 405 with envelope code 405.
pub(crate) fn method_not_allowed(method: &http::Method, path: &str) -> Response {
    envelope_with_status(StatusCode::METHOD_NOT_ALLOWED, 405, &format!("{method} is not allowed on {path}"), Value::Null)
}

/// The content type of an image by its magic bytes (`application/octet-stream` otherwise).
pub(crate) fn sniff_content_type(body: &[u8]) -> &'static str {
    match image::guess_format(body) {
        Ok(image::ImageFormat::Png) => "image/png",
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::WebP) => "image/webp",
        Ok(image::ImageFormat::Gif) => "image/gif",
        _ => "application/octet-stream",
    }
}
