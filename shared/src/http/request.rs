//! Reading a request: its id, source IP, bearer token, path parameters and a
//! strictly validated JSON body.

use std::net::IpAddr;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// API Gateway's request id (the local stack sets one too), or a fresh one.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .filter(|id| !id.is_empty())
    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The caller's IP as API Gateway saw it (`requestContext.http.sourceIp`),
/// never a client-supplied header.
pub fn source_ip(req: &Request) -> Option<IpAddr> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// The `Authorization` header, if it is valid text.
pub fn authorization(req: &Request) -> Option<&str> {
    req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()
}

/// A path parameter (`{job_id}`).
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.path_parameters_ref()?.first(name)
}

/// The body as JSON of type `T`: 400 when the content type is not JSON or the
/// body is not JSON at all; 422 when it is JSON but has unknown fields, a
/// missing field or a value of the wrong type.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    typed(json_value(req)?)
}

/// The body as a JSON object, or 400. Bearer routes call this before checking
/// the token, because 400 comes before 401, and [`typed`] after it.
pub fn json_value(req: &Request) -> Result<serde_json::Value, ApiError> {
    let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::InvalidRequest("Send the body as JSON with `Content-Type: application/json`.".into()));
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    serde_json::from_slice(bytes).map_err(|_| ApiError::InvalidRequest("The request body is not valid JSON.".into()))
}

/// A JSON value as `T`, or 422 saying what is wrong.
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::ValidationFailed("The request body must be a JSON object.".into()));
    }
    serde_json::from_value(value).map_err(|e| ApiError::ValidationFailed(format!("The request body is not accepted: {e}.")))
}

/// A query string parameter.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()?.first(name)
}

/// A provider's JSON body, read tolerantly (any content type, unknown fields
/// welcome); 400 only when it is not JSON at all.
pub fn provider_json(req: &Request) -> Result<serde_json::Value, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    serde_json::from_slice(bytes).map_err(|_| ApiError::InvalidRequest("The body is not JSON.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Refresh {
        refresh_token: String,
    }

    fn req(content_type: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/v1/auth/refresh");
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(Body::Text(body.into())).unwrap()
    }

    #[test]
    fn json_body_maps_each_failure_to_its_status() {
        let ok = json_body::<Refresh>(&req(Some("application/json; charset=utf-8"), r#"{"refresh_token":"x"}"#));
        assert!(ok.is_ok());
        let status = |r: Result<Refresh, ApiError>| r.unwrap_err().status();
        assert_eq!(status(json_body(&req(None, r#"{"refresh_token":"x"}"#))), 400);
        assert_eq!(status(json_body(&req(Some("text/plain"), r#"{"refresh_token":"x"}"#))), 400);
        assert_eq!(status(json_body(&req(Some("application/json"), "not json"))), 400);
        assert_eq!(status(json_body(&req(Some("application/json"), ""))), 400);
        assert_eq!(status(json_body(&req(Some("application/json"), r#"{"refresh_token":"x","admin":true}"#))), 422);
        assert_eq!(status(json_body(&req(Some("application/json"), r#"{"refresh_token":5}"#))), 422);
        assert_eq!(status(json_body(&req(Some("application/json"), "[]"))), 422);
    }
}
