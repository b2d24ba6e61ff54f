//! What the bootstraps need around them: the resources of `template.yaml` on
//! the emulator, an environment as Lambda gives it (settings and secrets as
//! variables, so init makes no network call), a stand-in for the providers'
//! APIs, and the sample events (with access tokens they accept).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use local_stack::resources::{self, Created};
use local_stack::template::{EnvValue, Template};
use rand::RngCore;
use serde_json::Value;
use shared::auth::keys::KeyRing;
use shared::error::BoxError;
use tokio::net::TcpListener;

/// The key id of the access tokens the benchmark signs.
const KID: &str = "bench1";

/// The user id and session id of the sample events' access tokens.
const SAMPLE_USER: (&str, &str) = ("b7e3f8fa48c74e679fb23ea891a1fe55", "3146010c89354f31a62985f2bb209325");

/// The SDK configuration of the emulator at `endpoint`.
async fn emulator_sdk(endpoint: &str) -> aws_config::SdkConfig {
    shared::adapters::sdk_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "bench-cold"))
        .load()
        .await
}

/// Creates the table, buckets and queues of the template on the emulator at
/// `endpoint`.
pub async fn create_resources(endpoint: &str, template: &Template) -> Result<Created, BoxError> {
    let sdk = emulator_sdk(endpoint).await;
    resources::create(&sdk, template, "pro-portrait-bench").await
}

/// Each function's binary by its logical id in the template
/// (`Metadata.BuildProperties.Binary`), to name a `sam build` output
/// (`.aws-sam/build/<LogicalId>/bootstrap`).
pub fn binaries_by_logical_id(template: &Path) -> Result<HashMap<String, String>, BoxError> {
    let doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(template)?)?;
    let resources = doc.get("Resources").and_then(serde_yaml::Value::as_mapping).ok_or("the template has no Resources")?;
    Ok(resources
        .iter()
        .filter_map(|(id, res)| {
            let binary = res.get("Metadata")?.get("BuildProperties")?.get("Binary")?.as_str()?;
            Some((id.as_str()?.to_string(), binary.to_string()))
        })
        .collect())
}

/// Empties the emulator (every service's state), through moto's API.
pub async fn reset_emulator(endpoint: &str) -> Result<(), BoxError> {
    let url = format!("{}/moto-api/reset", endpoint.trim_end_matches('/'));
    let resp = reqwest::Client::new().post(&url).send().await?;
    if !resp.status().is_success() {
        return Err(format!("POST {url} answered {}", resp.status()).into());
    }
    Ok(())
}

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The secrets every bootstrap gets, and the keys that sign its tokens.
pub struct Secrets {
    /// `TOKEN_SIGNING_KEYS`.
    pub token_signing_keys: String,
    /// `IP_HASH_KEY`.
    pub ip_hash_key: String,
    /// The keys, parsed.
    pub keys: KeyRing,
}

impl Secrets {
    /// Fresh random keys.
    pub fn generate() -> Result<Self, BoxError> {
        let token_signing_keys = format!("{KID}:{}", random_key());
        let keys = KeyRing::parse(&token_signing_keys)?;
        Ok(Secrets { token_signing_keys, ip_hash_key: random_key(), keys })
    }
}

/// The environment every bootstrap shares: what Lambda sets, the template's
/// resources, the secrets, the providers' stand-in, and ceilings high enough
/// that the repeated sample requests are not refused (429) part way.
pub fn base_env(template: &Template, created: &Created, endpoint: &str, secrets: &Secrets, providers: &str, webhook_auth: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("_HANDLER", "bootstrap"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("TOKEN_SIGNING_KEYS", &secrets.token_signing_keys),
        ("IP_HASH_KEY", &secrets.ip_hash_key),
        ("KIE_API_KEY", "bench-kie-key"),
        ("KIE_BASE_URL", providers),
        ("KIE_UPLOAD_BASE_URL", providers),
        ("REVENUECAT_API_KEY", "sk_bench"),
        ("REVENUECAT_API_BASE_URL", providers),
        ("REVENUECAT_WEBHOOK_AUTH", webhook_auth),
        ("PUBLIC_API_URL", "https://api.bench.invalid"),
        ("SIGNUP_LIMIT_PER_HOUR", "1000000"),
        ("UPLOADS_PER_HOUR", "1000"),
        ("JOBS_PER_HOUR", "1000"),
        ("CREDITS_SYNC_LIMIT_PER_MINUTE", "1000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // TABLE_NAME, BUCKET_NAME, QUEUE_URL, DELETION_QUEUE_URL, EXPORT_QUEUE_URL: the template's
    // references to its resources (not the app secret: secrets come as variables).
    for (name, value) in &template.environment {
        let resolved = match value {
            EnvValue::Ref(id) if *id == template.table.logical_id => Some(created.table_name.clone()),
            EnvValue::Ref(id) => created.buckets.get(id).or_else(|| created.queue_urls.get(id)).cloned(),
            EnvValue::Literal(_) | EnvValue::Other => None,
        };
        if let Some(v) = resolved {
            env.push((name.clone(), v));
        }
    }
    env
}

/// The variables that carry the app secret's fields when no secret is read.
const SECRET_VARIABLES: [&str; 5] = ["TOKEN_SIGNING_KEYS", "IP_HASH_KEY", "KIE_API_KEY", "REVENUECAT_API_KEY", "REVENUECAT_WEBHOOK_AUTH"];

/// Stores the app secret (what `bin/init-secret` stores) in the emulator's
/// Secrets Manager; returns its ARN.
pub async fn create_app_secret(endpoint: &str, secrets: &Secrets, webhook_auth: &str) -> Result<String, BoxError> {
    let sdk = emulator_sdk(endpoint).await;
    let document = serde_json::json!({
        "token_signing_keys": secrets.token_signing_keys,
        "ip_hash_key": secrets.ip_hash_key,
        "kie_api_key": "bench-kie-key",
        "revenuecat_api_key": "sk_bench",
        "revenuecat_webhook_auth": webhook_auth,
    });
    let out = aws_sdk_secretsmanager::Client::new(&sdk).create_secret().name("pro-portrait-bench/app").secret_string(document.to_string()).send().await?;
    Ok(out.arn().ok_or("the emulator gave the secret no ARN")?.to_string())
}

/// Moves the secrets out of `env` into the secret `arn` names.
pub fn secrets_from_manager(env: &mut Vec<(String, String)>, arn: String) {
    env.retain(|(k, _)| !SECRET_VARIABLES.contains(&k.as_str()));
    env.push(("APP_SECRETS_ARN".into(), arn));
}

/// The variables of one function: its name, memory, log group and stream.
pub fn function_env(name: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name.into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".into()),
        ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
    ]
}

/// Starts the stand-in for KIE's and RevenueCat's APIs: a customer without
/// purchases at RevenueCat (`GET`/`DELETE /v1/subscribers/{id}`), 404 for
/// anything else. Returns its base URL.
pub async fn start_providers() -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let (status, body) = if req.uri().path().starts_with("/v1/subscribers/") {
                        (200, r#"{"subscriber":{"non_subscriptions":{}}}"#)
                    } else {
                        (404, r#"{"code":404,"message":"not found"}"#)
                    };
                    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::NOT_FOUND);
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(url)
}

/// The sample event of `name`: `events/<name>.json`, `events/sqs/<name>.json`
/// or `events/scheduled/<name>.json`.
pub fn sample_event(events: &Path, name: &str) -> Result<(PathBuf, Value), BoxError> {
    let file = [events.join(format!("{name}.json")), events.join("sqs").join(format!("{name}.json")), events.join("scheduled").join(format!("{name}.json"))]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no sample event for {name} in {}", events.display()))?;
    let text = std::fs::read_to_string(&file)?;
    let event = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((file, event))
}

/// The `Authorization` header of an API Gateway event.
pub fn authorization(event: &Value) -> Option<&str> {
    event.get("headers")?.get("authorization")?.as_str()
}

/// Signs access tokens for one user's session.
pub struct Tokens {
    keys: KeyRing,
    /// The user.
    pub user_id: String,
    /// The session.
    pub session_id: String,
}

impl Tokens {
    /// Tokens for the sample events' user (no such user exists: routes answer 401 or 404).
    pub fn sample(secrets: &Secrets) -> Self {
        Tokens { keys: secrets.keys.clone(), user_id: SAMPLE_USER.0.into(), session_id: SAMPLE_USER.1.into() }
    }

    /// Tokens for the user `POST /v1/auth/anonymous` answered `answer` for
    /// (the Lambda answer: `statusCode`, `body`).
    pub fn from_sign_up(secrets: &Secrets, answer: &[u8]) -> Result<Self, BoxError> {
        let answer: Value = serde_json::from_slice(answer)?;
        let body = answer.get("body").and_then(Value::as_str).ok_or("the sign-up answer has no body")?;
        let body: Value = serde_json::from_str(body)?;
        let token = body.get("access_token").and_then(Value::as_str).ok_or_else(|| format!("the sign-up answer has no access_token: {body}"))?;
        let claims = token.split('.').nth(1).ok_or("the access token is not a JWT")?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims)?)?;
        let field = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("the access token has no {name}"));
        Ok(Tokens { keys: secrets.keys.clone(), user_id: field("sub")?, session_id: field("sid")? })
    }

    /// `event` with a fresh access token in place of the sample's (when it has one).
    pub fn sign(&self, event: &Value) -> Value {
        let mut event = event.clone();
        if authorization(&event).is_some_and(|a| a.starts_with("Bearer eyJ")) {
            let now = shared::time::now();
            let token = shared::auth::access_token::issue(&self.keys, &self.user_id, &self.session_id, now, shared::config::MAX_ACCESS_TOKEN_SECONDS);
            if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
                headers.insert("authorization".into(), Value::String(format!("Bearer {token}")));
            }
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_events_carry_a_token_the_functions_accept() {
        let secrets = Secrets::generate().unwrap();
        let now = shared::time::now();
        let grant = shared::auth::access_token::issue(&secrets.keys, "u1", "s1", now, 900);
        let answer = serde_json::json!({ "statusCode": 201, "body": serde_json::json!({ "access_token": grant }).to_string() });
        let tokens = Tokens::from_sign_up(&secrets, answer.to_string().as_bytes()).unwrap();
        assert_eq!((tokens.user_id.as_str(), tokens.session_id.as_str()), ("u1", "s1"));

        let event = serde_json::json!({ "headers": { "authorization": "Bearer eyJold" } });
        let signed = tokens.sign(&event);
        let claims = shared::auth::access_token::authenticate(&secrets.keys, authorization(&signed), now, 900).unwrap();
        assert_eq!(claims.sub, "u1");
        // An event without an access token (a webhook's secret) is left as it is.
        let webhook = serde_json::json!({ "headers": { "authorization": "Bearer rc-secret" } });
        assert_eq!(tokens.sign(&webhook), webhook);
    }
}
