//! Classifying a request from itself alone: which AWS service it is for, which operation, which
//! DynamoDB tables it touches and whether it came through a presigned URL.
//!
//! Nothing here needs the emulator: the AWS SDKs name the operation in `x-amz-target` for the
//! JSON protocols (DynamoDB, SQS, Secrets Manager), and S3's REST operations follow from the
//! method, the path (path-style `/<bucket>/<key>`), the query and one header.

use http::{HeaderMap, Method};
use serde_json::Value;

/// The AWS service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// DynamoDB (AWS JSON 1.0, `x-amz-target: DynamoDB_20120810.<Operation>`).
    DynamoDb,
    /// S3 (REST, path-style).
    S3,
    /// SQS (AWS JSON 1.0, `x-amz-target: AmazonSQS.<Operation>`).
    Sqs,
    /// Secrets Manager (AWS JSON 1.1, `x-amz-target: secretsmanager.<Operation>`).
    SecretsManager,
}

impl Service {
    /// The name rules and stats use: `dynamodb`, `s3`, `sqs`, `secretsmanager`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::S3 => "s3",
            Service::Sqs => "sqs",
            Service::SecretsManager => "secretsmanager",
        }
    }

    /// The service of a SigV4 credential scope's service part.
    fn from_scope(name: &str) -> Option<Self> {
        match name {
            "dynamodb" => Some(Service::DynamoDb),
            "s3" => Some(Service::S3),
            "sqs" => Some(Service::Sqs),
            "secretsmanager" => Some(Service::SecretsManager),
            _ => None,
        }
    }
}

/// What the proxy knows about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The service it is for.
    pub service: Service,
    /// The operation (`TransactWriteItems`, `SendMessage`, `PutObject`, … or `Other`).
    pub operation: String,
    /// DynamoDB tables named in the body (several for transactions and batches).
    pub tables: Vec<String>,
    /// Number of `TransactItems` of a DynamoDB transaction (0 otherwise).
    pub transact_items: usize,
    /// Whether the query string carries `X-Amz-Signature` (a presigned URL, not an SDK call).
    pub presigned: bool,
}

/// The `x-amz-target` prefixes of the JSON-protocol services.
const TARGETS: [(&str, Service); 3] = [("DynamoDB_20120810.", Service::DynamoDb), ("AmazonSQS.", Service::Sqs), ("secretsmanager.", Service::SecretsManager)];

/// Classifies a request from its method, path and query, headers and body.
pub fn classify(method: &Method, path: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> RequestInfo {
    let presigned = query_keys(query).any(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Signature"));
    let target = header(headers, "x-amz-target");
    let by_target = target.and_then(|t| TARGETS.iter().find_map(|(prefix, service)| t.strip_prefix(prefix).map(|op| (*service, op.to_string()))));
    let (service, operation) = match by_target {
        Some(found) => found,
        None => match header(headers, "authorization").and_then(scope_service) {
            Some(Service::S3) | None => (Service::S3, s3_operation(method, path, query, headers)),
            Some(other) => (other, "Other".to_string()),
        },
    };
    let (tables, transact_items) = if service == Service::DynamoDb { dynamodb_tables(&operation, body) } else { (Vec::new(), 0) };
    RequestInfo { service, operation, tables, transact_items, presigned }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The service of `Credential=<key>/<date>/<region>/<service>/aws4_request` in a SigV4
/// `Authorization` header.
fn scope_service(authorization: &str) -> Option<Service> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [.., service, "aws4_request"] => Service::from_scope(service),
        _ => None,
    }
}

/// The `key=value` pairs of a query string, undecoded (only ASCII names are looked at).
fn query_keys(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// The S3 operation of a path-style request, or `Other`.
fn s3_operation(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> String {
    let has = |name: &str| query_keys(query).any(|(k, _)| k == name);
    let value = |name: &str| query_keys(query).find(|(k, _)| *k == name).map(|(_, v)| v);
    // The Rust SDK names most S3 operations itself in `x-id` (presigned URLs included).
    if let Some(named) = value("x-id").filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return named.to_string();
    }
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let on_object = !bucket.is_empty() && !key.is_empty();
    let on_bucket = !bucket.is_empty() && key.is_empty();
    // Query names that select another sub-resource of an object (`?tagging`, `?acl`, …) make
    // the request something other than the plain object operation.
    let plain = query_keys(query).all(|(k, _)| k == "x-id" || k == "versionId" || k.starts_with("response-") || k.to_ascii_lowercase().starts_with("x-amz-"));
    let operation = match *method {
        Method::POST if on_bucket && has("delete") => "DeleteObjects",
        Method::POST if on_object && has("uploads") => "CreateMultipartUpload",
        Method::POST if on_object && has("uploadId") => "CompleteMultipartUpload",
        Method::PUT if on_object && has("uploadId") && has("partNumber") => "UploadPart",
        Method::DELETE if on_object && has("uploadId") => "AbortMultipartUpload",
        Method::PUT if on_object && plain && headers.contains_key("x-amz-copy-source") => "CopyObject",
        Method::PUT if on_object && plain => "PutObject",
        Method::GET if on_object && plain => "GetObject",
        Method::HEAD if on_object && plain => "HeadObject",
        Method::DELETE if on_object && plain => "DeleteObject",
        Method::GET if on_bucket && value("list-type") == Some("2") => "ListObjectsV2",
        _ => "Other",
    };
    operation.to_string()
}

/// The tables a DynamoDB request names and the number of its `TransactItems`.
fn dynamodb_tables(operation: &str, body: &[u8]) -> (Vec<String>, usize) {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return (Vec::new(), 0);
    };
    let mut tables: Vec<String> = Vec::new();
    let mut push = |name: Option<&str>| {
        if let Some(name) = name
            && !tables.iter().any(|t| t == name)
        {
            tables.push(name.to_string());
        }
    };
    let mut items = 0;
    match operation {
        "TransactWriteItems" | "TransactGetItems" => {
            let list = json.get("TransactItems").and_then(Value::as_array);
            for item in list.into_iter().flatten() {
                items += 1;
                // Each item is `{"Put": {...}}`, `{"Update": …}`, `{"Delete": …}`,
                // `{"ConditionCheck": …}` or `{"Get": …}`, each with its `TableName`.
                for action in item.as_object().into_iter().flat_map(|o| o.values()) {
                    push(action.get("TableName").and_then(Value::as_str));
                }
            }
        }
        "BatchWriteItem" | "BatchGetItem" => {
            let map = json.get("RequestItems").and_then(Value::as_object);
            for name in map.into_iter().flat_map(|m| m.keys()) {
                push(Some(name));
            }
        }
        _ => push(json.get("TableName").and_then(Value::as_str)),
    }
    (tables, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("header value"));
        }
        headers
    }

    fn s3(method: Method, path_and_query: &str, headers: &[(&'static str, &str)]) -> String {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let info = classify(&method, path, query, &with(headers), b"");
        assert_eq!(info.service, Service::S3);
        info.operation
    }

    #[test]
    fn json_services_come_from_the_target() {
        let body = br#"{"TransactItems":[{"Put":{"TableName":"t1","Item":{}}},
            {"Update":{"TableName":"t2"}},{"ConditionCheck":{"TableName":"t1"}}]}"#;
        let headers = with(&[("x-amz-target", "DynamoDB_20120810.TransactWriteItems")]);
        let info = classify(&Method::POST, "/", "", &headers, body);
        assert_eq!(info.service, Service::DynamoDb);
        assert_eq!(info.operation, "TransactWriteItems");
        assert_eq!(info.tables, ["t1", "t2"]);
        assert_eq!(info.transact_items, 3);

        let headers = with(&[("x-amz-target", "DynamoDB_20120810.BatchWriteItem")]);
        let body = br#"{"RequestItems":{"a":[],"b":[]}}"#;
        assert_eq!(classify(&Method::POST, "/", "", &headers, body).tables, ["a", "b"]);
        let headers = with(&[("x-amz-target", "DynamoDB_20120810.GetItem")]);
        let info = classify(&Method::POST, "/", "", &headers, br#"{"TableName":"x"}"#);
        assert_eq!((info.tables, info.transact_items), (vec!["x".to_string()], 0));

        let headers = with(&[("x-amz-target", "AmazonSQS.SendMessage")]);
        let info = classify(&Method::POST, "/", "", &headers, b"{}");
        assert_eq!((info.service, info.operation.as_str()), (Service::Sqs, "SendMessage"));
        let headers = with(&[("x-amz-target", "secretsmanager.GetSecretValue")]);
        let info = classify(&Method::POST, "/", "", &headers, b"{}");
        assert_eq!(info.service, Service::SecretsManager);
        assert_eq!(info.operation, "GetSecretValue");
    }

    #[test]
    fn credential_scope_is_the_fallback() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, \
                    SignedHeaders=host, Signature=abc";
        let info = classify(&Method::POST, "/", "", &with(&[("authorization", auth)]), b"");
        assert_eq!((info.service, info.operation.as_str()), (Service::Sqs, "Other"));
        let auth = auth.replace("/sqs/", "/s3/");
        let info = classify(&Method::GET, "/b/k", "", &with(&[("authorization", &auth)]), b"");
        assert_eq!((info.service, info.operation.as_str()), (Service::S3, "GetObject"));
    }

    #[test]
    fn s3_operations() {
        assert_eq!(s3(Method::PUT, "/b/k/x.jpg?x-id=PutObject", &[]), "PutObject");
        assert_eq!(s3(Method::GET, "/b/k?x-id=GetObject", &[]), "GetObject");
        assert_eq!(s3(Method::HEAD, "/b/k", &[]), "HeadObject");
        assert_eq!(s3(Method::DELETE, "/b/k?x-id=DeleteObject", &[]), "DeleteObject");
        assert_eq!(s3(Method::POST, "/b?delete&x-id=DeleteObjects", &[]), "DeleteObjects");
        assert_eq!(s3(Method::GET, "/b?list-type=2&prefix=u%2F", &[]), "ListObjectsV2");
        assert_eq!(s3(Method::GET, "/b?prefix=u", &[]), "Other");
        assert_eq!(s3(Method::PUT, "/b/k", &[("x-amz-copy-source", "b/src")]), "CopyObject");
        assert_eq!(s3(Method::POST, "/b/k?uploads", &[]), "CreateMultipartUpload");
        assert_eq!(s3(Method::PUT, "/b/k?partNumber=1&uploadId=u", &[]), "UploadPart");
        assert_eq!(s3(Method::POST, "/b/k?uploadId=u", &[]), "CompleteMultipartUpload");
        assert_eq!(s3(Method::DELETE, "/b/k?uploadId=u", &[]), "AbortMultipartUpload");
        assert_eq!(s3(Method::PUT, "/b/k?tagging", &[]), "Other");
        assert_eq!(s3(Method::PUT, "/b/k?tagging&x-id=PutObjectTagging", &[]), "PutObjectTagging");
        assert_eq!(s3(Method::PUT, "/b", &[]), "Other");
    }

    #[test]
    fn presigned_urls_are_recognised() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Signature=ff&x-id=PutObject";
        let info = classify(&Method::PUT, "/b/uploads/u1", query, &HeaderMap::new(), b"");
        assert!(info.presigned);
        assert_eq!(info.operation, "PutObject");
        assert!(!classify(&Method::PUT, "/b/k", "", &HeaderMap::new(), b"").presigned);
    }
}
