//! What the integration tests share: the test stack's coordinates (from the
//! env file `bin/test` passes as `STACK_ENV_FILE`), HTTP clients that each
//! come from their own loopback address, and checks of the contract's shapes.

use shared::ports::LedgerStore;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use rand::Rng;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// The running test stack.
pub struct Stack {
    vars: HashMap<String, String>,
}

impl Stack {
    /// A value from the stack's env file.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| panic!("{key} missing from the stack env file"))
    }

    /// `API_URL` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.var("API_URL"))
    }

    /// An SDK configuration pointed at the stack's emulator.
    pub async fn aws(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.var("AWS_ENDPOINT_URL"))
            .region(aws_config::Region::new(self.var("AWS_REGION").to_string()))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
            .load()
            .await
    }
}

/// The stack `bin/test` started for this run.
pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let path = std::env::var("STACK_ENV_FILE").expect("STACK_ENV_FILE is not set: run the integration tests with bin/test, which starts their stack");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        Stack { vars: local_stack::stack_env::parse(&text).into_iter().collect() }
    })
}

/// A random loopback address other than 127.0.0.1, so each test has its own
/// "source IP" for the per-IP sign-up limit.
pub fn random_loopback() -> IpAddr {
    let mut r = rand::rng();
    IpAddr::V4(Ipv4Addr::new(127, r.random_range(1..=254), r.random_range(0..=255), r.random_range(1..=254)))
}

/// An HTTP client whose connections come from `ip`.
pub fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip).build().expect("client")
}

/// An HTTP client from a fresh random loopback address.
pub fn client() -> reqwest::Client {
    client_from(random_loopback())
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The whole `Session` body.
    pub body: Value,
}

impl Session {
    pub fn user_id(&self) -> &str {
        self.body["user_id"].as_str().unwrap()
    }
    /// The access token.
    pub fn access(&self) -> &str {
        self.body["access_token"].as_str().unwrap()
    }
    pub fn refresh_token(&self) -> &str {
        self.body["refresh_token"].as_str().unwrap()
    }
}

/// `POST /v1/auth/anonymous` with `{}`; the raw response.
pub async fn sign_up_raw(client: &reqwest::Client) -> Response {
    client.post(stack().url("/v1/auth/anonymous")).json(&json!({})).send().await.expect("sign-up request")
}

/// Signs up a new user (asserting 201).
pub async fn sign_up(client: &reqwest::Client) -> Session {
    let resp = sign_up_raw(client).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Session { body: resp.json().await.unwrap() }
}

/// `POST /v1/auth/refresh`; the raw response.
pub async fn refresh_raw(client: &reqwest::Client, token: &str) -> Response {
    client.post(stack().url("/v1/auth/refresh")).json(&json!({"refresh_token": token})).send().await.expect("refresh request")
}

/// `GET /v1/me` with `token`; the raw response.
pub async fn me_raw(client: &reqwest::Client, token: &str) -> Response {
    client.get(stack().url("/v1/me")).bearer_auth(token).send().await.expect("me request")
}

/// Asserts `resp` is the contract's error with `status` and `code`, and
/// returns its body.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let header_id = resp.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    let body: Value = resp.json().await.expect("error body is JSON");
    let err = &body["error"];
    assert_eq!(err["code"], code, "error code in {body}");
    let message = err["message"].as_str().expect("message");
    assert!(message.len() > 10, "a sentence a person can act on: {message}");
    let request_id = err["request_id"].as_str().expect("request_id");
    assert!(!request_id.is_empty());
    assert_eq!(header_id.as_deref(), Some(request_id), "x-request-id matches the body");
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error` at top level");
    body
}

/// Every item of the table, for checks of what is stored (tests only).
pub async fn scan_table() -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let client = aws_sdk_dynamodb::Client::new(&stack().aws().await);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client.scan().table_name(stack().var("TABLE_NAME")).set_exclusive_start_key(start).send().await.expect("scan");
        items.extend(out.items().iter().cloned());
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// A fixture file's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The store over the stack's table, for the domain crate's own functions.
pub async fn store() -> shared::adapters::dynamo::DynamoStore {
    shared::adapters::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(&stack().aws().await), stack().var("TABLE_NAME"))
}

/// Gives `user_id` credits through the one ledger-writing function (as the
/// support command and purchases do), never by writing the balance.
pub async fn grant(user_id: &str, credits: i64) {
    use shared::credits::ledger::{LedgerReason, Posting};
    let posting = Posting {
        user_id,
        amount: credits,
        reason: LedgerReason::SupportGrant,
        reference: None,
        active_jobs_delta: 0,
        max_active_jobs: None,
        now: chrono::Utc::now().timestamp(),
    };
    assert!(store().await.post(&posting).await.unwrap(), "grant to an existing user");
}

/// Asserts balance = sum of the ledger, and never below zero; returns the balance.
pub async fn assert_invariant(user_id: &str) -> i64 {
    match store().await.check_balance_invariant(user_id).await.unwrap() {
        Ok(balance) => balance,
        Err(violation) => panic!("balance invariant broken: {violation}"),
    }
}

/// Uploads `bytes` the way the app does: `POST /v1/uploads`, then a `PUT`
/// with exactly the returned method, URL and headers. Returns the upload id.
pub async fn upload(client: &reqwest::Client, session: &Session, bytes: Vec<u8>, content_type: &str) -> String {
    upload_answer(client, session, bytes, content_type).await["upload_id"].as_str().unwrap().to_string()
}

/// [`upload`], returning `POST /v1/uploads`' whole answer (the link included).
pub async fn upload_answer(client: &reqwest::Client, session: &Session, bytes: Vec<u8>, content_type: &str) -> Value {
    let body = upload_link(client, session, bytes.len(), content_type).await;
    put_to_link(client, &body, bytes).await;
    body
}

/// `POST /v1/uploads` alone (201 asserted): the link, not used yet.
pub async fn upload_link(client: &reqwest::Client, session: &Session, length: usize, content_type: &str) -> Value {
    let resp = client
        .post(stack().url("/v1/uploads"))
        .bearer_auth(session.access())
        .json(&json!({"content_type": content_type, "content_length": length}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "upload: {:?}", resp.text().await);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["method"], "PUT");
    body
}

/// The `PUT` of `bytes` with exactly the method, URL and headers of `POST /v1/uploads`' answer.
pub async fn put_to_link(client: &reqwest::Client, created: &Value, bytes: Vec<u8>) {
    let mut put = client.put(created["upload_url"].as_str().unwrap());
    for (name, value) in created["headers"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    let stored = put.body(bytes).send().await.unwrap();
    assert!(stored.status().is_success(), "PUT to the presigned URL: {}", stored.status());
}

/// The default style with `quality`.
pub fn style(quality: &str) -> Value {
    json!({"attire": "business_suit", "background": "office", "lighting": "soft_studio", "quality": quality})
}

/// `POST /v1/jobs`; the raw response.
pub async fn create_job_raw(client: &reqwest::Client, session: &Session, upload_id: &str, quality: &str, key: Option<&str>) -> Response {
    let mut req = client.post(stack().url("/v1/jobs")).bearer_auth(session.access()).json(&json!({"upload_id": upload_id, "style": style(quality)}));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    req.send().await.unwrap()
}

/// The caller's balance from `GET /v1/me`.
pub async fn credits(client: &reqwest::Client, session: &Session) -> i64 {
    let me: Value = me_raw(client, session.access()).await.json().await.unwrap();
    me["credits"].as_i64().unwrap()
}

/// Keys of every object under `prefix` in the stack's bucket.
pub async fn list_objects(prefix: &str) -> Vec<String> {
    let sdk = stack().aws().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let out = s3.list_objects_v2().bucket(stack().var("BUCKET_NAME")).prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(String::from)).collect()
}

/// Where the stack keeps `user_id`'s objects (under its opaque prefixes).
pub async fn user_objects(user_id: &str) -> shared::object_keys::UserObjects {
    shared::object_keys::UserObjects::new(&stack_secrets().await.ip_hash_key, user_id)
}

/// Every object of a user, under all of its prefixes.
pub async fn objects_of(user_id: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for prefix in user_objects(user_id).await.prefixes() {
        keys.extend(list_objects(&prefix).await);
    }
    keys
}

/// The results stored for a user's jobs.
pub async fn results_of(user_id: &str) -> Vec<String> {
    objects_of(user_id).await.into_iter().filter(|k| k.contains("/results/")).collect()
}

/// Adds a KIE simulator rule for the tasks of `user_id` (the photo link the
/// provider gets carries the user's opaque storage prefix, never the id).
pub async fn sim_rule(user_id: &str, behaviour: Value) {
    sim_rule_matching(user_objects(user_id).await.prefix(), behaviour).await;
}

/// Adds a KIE simulator rule for the tasks whose photo link, callback or
/// prompt contains `needle` (an upload id: its job's photo is
/// `users/<prefix>/photos/<upload_id>`).
pub async fn sim_rule_matching(needle: &str, behaviour: Value) {
    post_sim_rule(json!({"match": needle, "behaviour": behaviour})).await;
}

/// Adds a KIE simulator rule for the tasks of `user_id` that ask for `model` only.
pub async fn sim_rule_for_model(user_id: &str, model: &str, behaviour: Value) {
    post_sim_rule(json!({"match": user_objects(user_id).await.prefix(), "model": model, "behaviour": behaviour})).await;
}

async fn post_sim_rule(rule: Value) {
    let resp = reqwest::Client::new().post(format!("{}/sim/rules", stack().var("KIE_SIM_URL"))).json(&rule).send().await.unwrap();
    assert!(resp.status().is_success(), "sim rule: {:?}", resp.text().await);
}

/// The simulator's tasks for `user_id`'s jobs.
pub async fn sim_tasks(user_id: &str) -> Vec<Value> {
    sim_tasks_matching(user_objects(user_id).await.prefix()).await
}

/// The simulator's tasks whose photo link, callback or prompt contains
/// `needle` (an upload id, a job id).
pub async fn sim_tasks_matching(needle: &str) -> Vec<Value> {
    let url = format!("{}/sim/tasks?match={needle}", stack().var("KIE_SIM_URL"));
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Polls `GET /v1/jobs/{job_id}` until `done(job)` or `secs` pass; returns the last job.
pub async fn wait_for_job(client: &reqwest::Client, session: &Session, job_id: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let job: Value = client.get(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(session.access()).send().await.unwrap().json().await.unwrap();
        if done(&job) || std::time::Instant::now() > deadline {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Waits up to `secs` for no object of `user_id` to be left (a worker run
/// that raced a deletion removes what it wrote a moment later).
pub async fn assert_no_objects_soon(user_id: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = objects_of(user_id).await;
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "objects of {user_id} left: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The stack's secrets, read from the emulator's Secrets Manager.
pub async fn stack_secrets() -> shared::auth::keys::Secrets {
    let sm = aws_sdk_secretsmanager::Client::new(&stack().aws().await);
    let out = sm.get_secret_value().secret_id(stack().var("APP_SECRETS_ARN")).send().await.unwrap();
    let doc: Value = serde_json::from_str(out.secret_string().unwrap()).unwrap();
    shared::auth::keys::Secrets::parse(doc["token_signing_keys"].as_str().unwrap(), doc["ip_hash_key"].as_str().unwrap()).unwrap()
}

/// A call to the RevenueCat simulator's control API (`/_sim/…`); the answer's JSON.
pub async fn revenuecat_sim(method: &str, path: &str, body: Value) -> Value {
    let url = format!("{}{path}", stack().var("REVENUECAT_SIM_URL"));
    let req = match method {
        "GET" => reqwest::Client::new().get(url),
        "DELETE" => reqwest::Client::new().delete(url),
        _ => reqwest::Client::new().post(url).json(&body),
    };
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "simulator {method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// A purchase of `product_id` by `user_id` at the simulated RevenueCat, its
/// webhook delivered `times` times (0: recorded only). Returns the simulator's
/// answer (`transaction_id`, `event`, `deliveries`).
pub async fn buy(user_id: &str, product_id: &str, times: u32) -> Value {
    let mut body = json!({"app_user_id": user_id, "product_id": product_id, "deliver": times > 0});
    if times > 0 {
        body["times"] = json!(times);
    }
    let answer = revenuecat_sim("POST", "/_sim/purchases", body).await;
    for d in answer["deliveries"].as_array().unwrap() {
        assert_eq!(d["status"], 200, "delivery answered {d}");
    }
    answer
}

/// `POST /v1/credits/sync`; the raw response.
pub async fn sync_raw(client: &reqwest::Client, session: &Session) -> Response {
    client.post(stack().url("/v1/credits/sync")).bearer_auth(session.access()).send().await.unwrap()
}

/// The stack's settings as its functions read them.
pub fn stack_settings() -> shared::config::Settings {
    let var = |k: &str| stack().var(k).to_string();
    shared::config::Settings {
        table_name: var("TABLE_NAME"),
        bucket_name: var("BUCKET_NAME"),
        queue_url: var("QUEUE_URL"),
        deletion_queue_url: var("DELETION_QUEUE_URL"),
        export_queue_url: var("EXPORT_QUEUE_URL"),
        unused_upload_seconds: var("UNUSED_UPLOAD_SECONDS").parse().unwrap(),
        job_deadline_seconds: var("JOB_DEADLINE_SECONDS").parse().unwrap(),
        access_token_seconds: var("ACCESS_TOKEN_SECONDS").parse().unwrap(),
        refresh_grace_seconds: var("REFRESH_GRACE_SECONDS").parse().unwrap(),
        session_idle_days: var("SESSION_IDLE_DAYS").parse().unwrap(),
        signup_limit_per_hour: var("SIGNUP_LIMIT_PER_HOUR").parse().unwrap(),
        free_credits: var("FREE_CREDITS").parse().unwrap(),
        result_retention_days: var("RESULT_RETENTION_DAYS").parse().unwrap(),
        stall_seconds: var("STALL_SECONDS").parse().unwrap(),
        uploads_per_hour: 60,
        jobs_per_hour: 30,
        daily_spend_limit_micro_usd: 50_000_000,
    }
}

/// A context over the test stack (for running a route's handler in-process
/// with other settings), with `settings`.
pub async fn stack_context(settings: shared::config::Settings) -> shared::context::AppContext {
    let sdk = stack().aws().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let photos = shared::adapters::s3::PhotoStorage::new(&sdk, settings.bucket_name.clone());
    let queue = shared::adapters::sqs::GenerationQueue::new(&sdk, settings.queue_url.clone());
    let mut secrets = stack_secrets().await;
    secrets.revenuecat_webhook_auth = vec![stack().var("REVENUECAT_WEBHOOK_AUTH").to_string()];
    shared::context::AppContext::with_clients(settings, secrets, dynamo, photos, queue)
}

/// Runs `route` in-process (the same `respond` the Lambda runs) on a request
/// built like the local API server builds it; the status and JSON body.
pub async fn call_route(route: &impl shared::http::Route, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let (status, _, json) = call_route_full(route, method, path, headers, body).await;
    (status, json)
}

/// [`call_route`], with the response's headers.
pub async fn call_route_full(
    route: &impl shared::http::Route,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, lambda_http::http::HeaderMap, Value) {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let event = local_stack::api::event(&parts, "127.0.0.1:9".parse().unwrap(), method, path, &HashMap::new(), body);
    let resp = shared::http::serve::respond(route, lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    let json = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (resp.status().as_u16(), resp.headers().clone(), json)
}

/// Runs the operators' `support` command against the test stack.
pub fn support(args: &[&str]) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/support");
    assert!(bin.exists(), "build the workspace first (bin/test does): {} is missing", bin.display());
    let env_file = std::env::var("STACK_ENV_FILE").unwrap();
    std::process::Command::new(bin).arg("--env-file").arg(env_file).args(args).output().unwrap()
}

/// The photo storage over the stack's bucket.
pub async fn photos() -> shared::adapters::s3::PhotoStorage {
    shared::adapters::s3::PhotoStorage::new(&stack().aws().await, stack().var("BUCKET_NAME"))
}

/// What is left of a user: the domain verifier's findings, plus every item of
/// the whole table that holds the user id anywhere (key or attribute), so
/// records keyed by a job id or a hash cannot escape.
pub async fn remains_of(user_id: &str) -> (shared::usecases::account_deletion::Leftovers, Vec<String>) {
    let left = shared::usecases::account_deletion::verify_gone(&store().await, &photos().await, &stack_secrets().await.ip_hash_key, user_id).await.unwrap();
    let mentions = scan_table().await.iter().map(|it| format!("{it:?}")).filter(|text| text.contains(user_id)).collect();
    (left, mentions)
}

/// Waits up to `secs` for a user to be gone for good; panics with what is left.
pub async fn assert_gone_within(user_id: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (left, mentions) = remains_of(user_id).await;
        if left.is_empty() && mentions.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "user {user_id} not gone after {secs} s: {left:?}; items naming the user: {mentions:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The session id inside an access token (its `sid` claim; the signature is
/// not checked here, the stack checks it).
pub fn session_id_of(access_token: &str) -> String {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_string()
}

/// `DELETE /v1/me`; the raw response.
pub async fn delete_me_raw(client: &reqwest::Client, token: &str) -> Response {
    client.delete(stack().url("/v1/me")).bearer_auth(token).send().await.unwrap()
}

/// Adds a rule to the stack's fault layer (`AWS_FAULTS_URL/_faults/rules`,
/// see `fault-proxy/README.md`); returns its id.
pub async fn fault_rule(rule: Value) -> u64 {
    let resp = reqwest::Client::new().post(format!("{}/_faults/rules", stack().var("AWS_FAULTS_URL"))).json(&rule).send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "fault rule {rule}: {status} {body}");
    body["id"].as_u64().expect("rule id")
}

/// A fault rule as the fault layer lists it now (with its `matched` and
/// `fired` counters).
pub async fn fault_rule_state(id: u64) -> Value {
    let rules: Value = reqwest::get(format!("{}/_faults/rules", stack().var("AWS_FAULTS_URL"))).await.unwrap().json().await.unwrap();
    rules.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("no fault rule {id} in {rules}"))
}

/// An SDK configuration for running a function in-process the way Lambda
/// runs it (the production call limits), reaching the emulator through the
/// stack's fault layer.
pub async fn aws_via_faults() -> aws_config::SdkConfig {
    shared::adapters::sdk_loader()
        .endpoint_url(stack().var("AWS_FAULTS_URL"))
        .region(aws_config::Region::new(stack().var("AWS_REGION").to_string()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// A context like [`stack_context`] whose clients go through the fault layer.
pub async fn stack_context_via_faults(settings: shared::config::Settings) -> shared::context::AppContext {
    let mut secrets = stack_secrets().await;
    secrets.revenuecat_webhook_auth = vec![stack().var("REVENUECAT_WEBHOOK_AUTH").to_string()];
    shared::context::AppContext::with_config(settings, secrets, &aws_via_faults().await)
}

/// A signed-up user with `credits`, the KIE simulator's `behaviour` for its
/// tasks (if any), and one uploaded photo; returns the client, the session
/// and the upload id.
pub async fn user_with_upload(credits: i64, behaviour: Option<Value>, photo: &str) -> (reqwest::Client, Session, String) {
    let c = client();
    let s = sign_up(&c).await;
    if credits > 0 {
        grant(s.user_id(), credits).await;
    }
    if let Some(b) = behaviour {
        sim_rule(s.user_id(), b).await;
    }
    let content_type = if photo.ends_with(".png") { "image/png" } else { "image/jpeg" };
    let id = upload(&c, &s, fixture(photo), content_type).await;
    (c, s, id)
}

/// Whether a job (the contract's `Job`) is in a final state.
pub fn finished(job: &Value) -> bool {
    job["status"] == "succeeded" || job["status"] == "failed"
}

/// Removes a rule from the stack's fault layer.
pub async fn remove_fault_rule(id: u64) {
    let resp = reqwest::Client::new().delete(format!("{}/_faults/rules/{id}", stack().var("AWS_FAULTS_URL"))).send().await.unwrap();
    assert!(resp.status().is_success(), "removing fault rule {id}: {}", resp.status());
}
