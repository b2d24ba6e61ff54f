//! Writing responses: JSON with the contract's status codes, errors in the
//! contract's shape. Nothing is cacheable: bodies carry tokens and links.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;

fn builder(status: u16) -> http::response::Builder {
    Response::builder().status(status).header(http::header::CACHE_CONTROL, "no-store")
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types always serialize");
    builder(status).header(http::header::CONTENT_TYPE, "application/json").body(Body::Text(text)).expect("static status and headers are valid")
}

/// An empty response (204).
pub fn no_content() -> Response<Body> {
    builder(204).body(Body::Empty).expect("static status is valid")
}

/// An error in the contract's shape, with `Retry-After` when it says when.
pub fn error(err: &ApiError, request_id: &str) -> Response<Body> {
    let mut resp = json(err.status(), &err.body(request_id));
    if let Some(secs) = err.retry_after() {
        resp.headers_mut().insert(http::header::RETRY_AFTER, secs.into());
    }
    resp
}
