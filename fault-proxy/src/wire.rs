//! The error answers real AWS gives, byte for byte where it matters to an SDK: status, the
//! error code where each protocol puts it, the message, and the headers the SDK reads.
//!
//! - DynamoDB (AWS JSON 1.0): `{"__type": "com.amazonaws.dynamodb.v20120810#<Code>", "message": …}`.
//! - SQS (AWS JSON 1.0, query-compatible): the same shape plus `x-amzn-query-error: <Code>;<Fault>`,
//!   which the SDK prefers over `__type` for the error code.
//! - Secrets Manager (AWS JSON 1.1): `{"__type": "<Code>", "message": …}`.
//! - S3 (REST-XML): `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId><HostId>…</HostId></Error>`,
//!   no body on `HEAD`.

use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use hyper::body::Bytes;
use rand::Rng;
use serde_json::json;

use crate::classify::{RequestInfo, Service};
use crate::kinds::FaultKind;

/// The response type of the proxy.
pub(crate) type Response = hyper::Response<Full<Bytes>>;

const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810#";

/// The answer for an error fault (`conflict`, `throttle`, `provisioned_throughput`, `slow_down`,
/// `server_error`); `status` is a rule's `status`, `conflict_item` the index of the
/// conflicting transaction item, `head` whether the request was a `HEAD`.
pub(crate) fn error_answer(info: &RequestInfo, kind: FaultKind, status: Option<u16>, conflict_item: usize, head: bool) -> Response {
    let unavailable = status == Some(503);
    match info.service {
        Service::DynamoDb => dynamodb(info, kind, unavailable, conflict_item),
        Service::S3 => s3(kind, unavailable, head),
        Service::Sqs => sqs(kind, unavailable),
        Service::SecretsManager => secrets_manager(kind, unavailable),
    }
}

fn dynamodb(info: &RequestInfo, kind: FaultKind, unavailable: bool, conflict_item: usize) -> Response {
    let (status, code, message) = match kind {
        FaultKind::Conflict if info.operation == "TransactWriteItems" => {
            return transaction_cancelled(info.transact_items, conflict_item);
        }
        FaultKind::Conflict => (400, "TransactionConflictException", "Transaction is ongoing for the item"),
        FaultKind::Throttle => (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
        FaultKind::ProvisionedThroughput => (
            400,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. \
             Consider increasing your provisioning level with the UpdateTable API.",
        ),
        _ if unavailable => (503, "ServiceUnavailable", "The service is currently unavailable."),
        _ => (500, "InternalServerError", "Internal server error"),
    };
    let body = json!({"__type": format!("{DYNAMODB}{code}"), "message": message});
    json_answer(status, "application/x-amz-json-1.0", body.to_string(), dynamodb_request_id())
}

/// `TransactionCanceledException` with one reason per item: `TransactionConflict` for item
/// `conflict_item`, `None` for the others (the reasons' order is the items' order).
fn transaction_cancelled(items: usize, conflict_item: usize) -> Response {
    let items = items.max(1);
    let reasons: Vec<_> = (0..items)
        .map(|i| {
            if i == conflict_item { json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}) } else { json!({"Code": "None"}) }
        })
        .collect();
    let codes: Vec<&str> = (0..items).map(|i| if i == conflict_item { "TransactionConflict" } else { "None" }).collect();
    let body = json!({
        "__type": format!("{DYNAMODB}TransactionCanceledException"),
        "Message": format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
        "CancellationReasons": reasons,
    });
    json_answer(400, "application/x-amz-json-1.0", body.to_string(), dynamodb_request_id())
}

fn sqs(kind: FaultKind, unavailable: bool) -> Response {
    // `RequestThrottled` is SQS's own throttling error (modeled on every SQS operation in the
    // Rust SDK, and in the SDK's list of throttling codes, so it is retried as throttling).
    let (status, type_, query_error, message) = match kind {
        FaultKind::Throttle => (400, "com.amazonaws.sqs#RequestThrottled", "RequestThrottled;Sender", "Request is throttled."),
        _ if unavailable => (503, "com.amazon.coral.service#ServiceUnavailable", "ServiceUnavailable;Receiver", "Service is unavailable. Try again later."),
        _ => (
            500,
            "com.amazon.coral.service#InternalFailure",
            "InternalFailure;Receiver",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
    };
    let body = json!({"__type": type_, "message": message});
    let mut resp = json_answer(status, "application/x-amz-json-1.0", body.to_string(), uuid_like());
    resp.headers_mut().insert("x-amzn-query-error", HeaderValue::from_static(query_error));
    resp
}

fn secrets_manager(kind: FaultKind, unavailable: bool) -> Response {
    let (status, code, message) = match kind {
        FaultKind::Throttle => (400, "ThrottlingException", "Rate exceeded"),
        _ if unavailable => (503, "ServiceUnavailable", "The service is currently unavailable."),
        _ => (500, "InternalServiceError", "An error occurred on the server side."),
    };
    let body = json!({"__type": code, "message": message});
    json_answer(status, "application/x-amz-json-1.1", body.to_string(), uuid_like())
}

fn s3(kind: FaultKind, unavailable: bool, head: bool) -> Response {
    let (status, code, message) = match kind {
        FaultKind::Throttle | FaultKind::SlowDown => (503, "SlowDown", "Please reduce your request rate."),
        _ if unavailable => (503, "ServiceUnavailable", "Service is unable to handle request."),
        _ => (500, "InternalError", "We encountered an internal error. Please try again."),
    };
    let request_id = hex(16);
    let host_id = hex(64);
    // S3 answers a HEAD with the status and headers only.
    let body = if head {
        String::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
        )
    };
    let mut resp = answer(status, "application/xml", body);
    let headers = resp.headers_mut();
    insert(headers, "x-amz-request-id", &request_id);
    insert(headers, "x-amz-id-2", &host_id);
    resp
}

fn json_answer(status: u16, content_type: &'static str, body: String, request_id: String) -> Response {
    let mut resp = answer(status, content_type, body);
    insert(resp.headers_mut(), "x-amzn-requestid", &request_id);
    resp
}

fn answer(status: u16, content_type: &'static str, body: String) -> Response {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn insert(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A DynamoDB-style request id: 52 characters of `[0-9A-Z]`.
fn dynamodb_request_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..52).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// `n` random uppercase hex digits.
fn hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| char::from(b"0123456789ABCDEF"[rng.random_range(0..16)])).collect()
}

/// A random id in the shape of a UUID (what SQS and Secrets Manager put in `x-amzn-RequestId`).
fn uuid_like() -> String {
    let h = hex(32).to_ascii_lowercase();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use serde_json::Value;

    fn info(service: Service, operation: &str, items: usize) -> RequestInfo {
        RequestInfo { service, operation: operation.into(), tables: Vec::new(), transact_items: items, presigned: false }
    }

    async fn body(resp: Response) -> (u16, http::HeaderMap, String) {
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (parts.status.as_u16(), parts.headers, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    #[tokio::test]
    async fn transaction_cancelled_has_one_reason_per_item() {
        let req = info(Service::DynamoDb, "TransactWriteItems", 3);
        let (status, _, text) = body(error_answer(&req, FaultKind::Conflict, None, 1, false)).await;
        assert_eq!(status, 400);
        let json: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(json["__type"], "com.amazonaws.dynamodb.v20120810#TransactionCanceledException");
        assert_eq!(json["Message"], "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict, None]");
        let codes: Vec<&str> = json["CancellationReasons"].as_array().expect("reasons").iter().map(|r| r["Code"].as_str().expect("code")).collect();
        assert_eq!(codes, ["None", "TransactionConflict", "None"]);
    }

    #[tokio::test]
    async fn each_service_speaks_its_protocol() {
        let put = info(Service::DynamoDb, "PutItem", 0);
        let (status, _, text) = body(error_answer(&put, FaultKind::Conflict, None, 0, false)).await;
        assert_eq!(status, 400);
        assert!(text.contains("#TransactionConflictException"), "{text}");
        let (status, _, text) = body(error_answer(&put, FaultKind::ServerError, Some(503), 0, false)).await;
        assert_eq!(status, 503);
        assert!(text.contains("#ServiceUnavailable"), "{text}");

        let sqs = info(Service::Sqs, "SendMessage", 0);
        let (status, headers, text) = body(error_answer(&sqs, FaultKind::Throttle, None, 0, false)).await;
        assert_eq!(status, 400);
        assert_eq!(headers["x-amzn-query-error"], "RequestThrottled;Sender");
        assert!(text.contains("com.amazonaws.sqs#RequestThrottled"), "{text}");

        let get = info(Service::S3, "GetObject", 0);
        let (status, headers, text) = body(error_answer(&get, FaultKind::SlowDown, None, 0, false)).await;
        assert_eq!(status, 503);
        assert_eq!(headers[header::CONTENT_TYPE], "application/xml");
        assert!(text.contains("<Code>SlowDown</Code>"), "{text}");
        let head = info(Service::S3, "HeadObject", 0);
        let (status, _, text) = body(error_answer(&head, FaultKind::ServerError, None, 0, true)).await;
        assert_eq!((status, text.as_str()), (500, ""));

        let secret = info(Service::SecretsManager, "GetSecretValue", 0);
        let (status, _, text) = body(error_answer(&secret, FaultKind::ServerError, None, 0, false)).await;
        assert_eq!(status, 500);
        assert!(text.contains("\"InternalServiceError\""), "{text}");
    }
}
