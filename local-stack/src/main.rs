//! `local-stack`: starts the AWS emulator on 127.0.0.1, creates the resources
//! of `template.yaml` on it, serves every template route with the handler of
//! its Lambda binary, writes `.local/stack.env`, and stops it all on Ctrl-C.
//!
//! Usage: `local-stack [--port N] [--env-file PATH] [--template PATH] [--python PATH]`
//! (`--python`: the interpreter of the venv moto is installed in).

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::sync::Arc;

use local_stack::emulator::Emulator;
use local_stack::registry::{self, Dispatch};
use local_stack::resources::{self, Created};
use local_stack::router::{Entry, Router};
use local_stack::stack_env::StackEnv;
use local_stack::template::{EnvValue, Template};
use shared::config::Settings;
use shared::error::BoxError;

struct Args {
    port: u16,
    env_file: PathBuf,
    template: PathBuf,
    python: PathBuf,
}

fn args() -> Result<Args, BoxError> {
    let mut a = Args { port: 0, env_file: ".local/stack.env".into(), template: "template.yaml".into(), python: ".venv/moto/bin/python".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => a.port = value()?.parse()?,
            "--env-file" => a.env_file = value()?.into(),
            "--template" => a.template = value()?.into(),
            "--python" => a.python = value()?.into(),
            other => return Err(format!("unknown argument {other}; see the README").into()),
        }
    }
    Ok(a)
}

fn free_port() -> Result<u16, BoxError> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sets a variable while this process has one thread.
#[allow(unsafe_code)]
fn set_env(name: &str, value: &str) {
    // SAFETY: called only from `main` before the serving runtime (and any other
    // thread that could read the environment) exists.
    unsafe { std::env::set_var(name, value) }
}

fn main() -> Result<(), BoxError> {
    let args = args()?;
    let template = Template::load(&args.template)?;
    let api_listener = StdListener::bind(("127.0.0.1", args.port))?;
    api_listener.set_nonblocking(true)?;
    let api_url = format!("http://{}", api_listener.local_addr()?);

    if let Some(dir) = args.env_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let moto_log = args.env_file.with_extension("moto.log");
    // AWS_FAULTS / AWS_FAULT_RULES: checked before anything starts.
    let fault_config = fault_proxy::FaultConfig::from_env()?;
    // The emulator serves one request at a time, so under load its calls take
    // far longer than AWS's: functions get this many times their template
    // timeout, and their AWS calls this many times the default limit.
    let time_scale: u32 = match std::env::var("LOCAL_TIME_SCALE") {
        Ok(v) => v.parse().ok().filter(|s| (1..=20).contains(s)).ok_or("LOCAL_TIME_SCALE must be a whole number from 1 to 20")?,
        Err(_) => 1,
    };
    if std::env::var("AWS_CALL_TIMEOUT_MS").is_err() {
        set_env("AWS_CALL_TIMEOUT_MS", &(5_000 * time_scale).to_string());
    }
    let mut emulator = Emulator::start(&args.python, free_port()?, &moto_log)?;
    // Every function reaches the emulator through the fault layer (a
    // pass-through unless faults are asked for, here or at its control API).
    let fault_listener = StdListener::bind("127.0.0.1:0")?;
    fault_listener.set_nonblocking(true)?;
    let faults_url = format!("http://{}", fault_listener.local_addr()?);
    // The KIE simulator stands in for the provider unless KIE_BASE_URL names one.
    let kie_sim = match std::env::var("KIE_BASE_URL") {
        Ok(_) => None,
        Err(_) => {
            let listener = StdListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            let url = format!("http://{}", listener.local_addr()?);
            let key = std::env::var("KIE_API_KEY").unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string());
            set_env("KIE_BASE_URL", &url);
            set_env("KIE_UPLOAD_BASE_URL", &url);
            set_env("KIE_API_KEY", &key);
            Some((listener, url, key))
        }
    };
    // Likewise the RevenueCat simulator, unless REVENUECAT_API_BASE_URL names RevenueCat.
    let revenuecat_sim = match std::env::var("REVENUECAT_API_BASE_URL") {
        Ok(_) => None,
        Err(_) => {
            let listener = StdListener::bind("127.0.0.1:0")?;
            listener.set_nonblocking(true)?;
            let url = format!("http://{}", listener.local_addr()?);
            let key = std::env::var("REVENUECAT_API_KEY").unwrap_or_else(|_| format!("sk_local_{}", uuid::Uuid::new_v4().simple()));
            set_env("REVENUECAT_API_BASE_URL", &url);
            set_env("REVENUECAT_API_KEY", &key);
            Some((listener, url, key))
        }
    };
    if std::env::var("REVENUECAT_WEBHOOK_AUTH").is_err() {
        set_env("REVENUECAT_WEBHOOK_AUTH", &format!("Bearer rc-local-{}", uuid::Uuid::new_v4().simple()));
    }
    if std::env::var("PRODUCT_CREDITS").is_err() {
        set_env("PRODUCT_CREDITS", shared::credits::DEFAULT_PRODUCTS);
    }
    if std::env::var("PUBLIC_API_URL").is_err() {
        set_env("PUBLIC_API_URL", &api_url);
    }
    for (name, value) in [
        ("AWS_ENDPOINT_URL", emulator.endpoint().as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", std::env::var("AWS_REGION").as_deref().unwrap_or("us-east-1")),
    ] {
        set_env(name, value);
    }
    // Resources are created on a runtime that is gone before the environment is set.
    let created = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        emulator.wait_ready().await?;
        let sdk = shared::adapters::aws_config().await;
        resources::create(&sdk, &template, "pro-portrait-local").await
    })?;
    let mut pairs = vec![
        ("API_URL".to_string(), api_url.clone()),
        ("AWS_ENDPOINT_URL".to_string(), emulator.endpoint()),
        ("AWS_REGION".to_string(), std::env::var("AWS_REGION")?),
        ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
    ];
    pairs.extend(resolve_environment(&template, &created)?);
    for (name, value) in &pairs {
        set_env(name, value);
    }
    // The functions' endpoint; the env file keeps the emulator's, for checks of what is stored.
    set_env("AWS_ENDPOINT_URL", &faults_url);
    pairs.push(("AWS_FAULTS_URL".into(), faults_url.clone()));
    let settings = Settings::from_env()?;
    pairs.extend(settings_pairs(&settings));
    let exports = shared::exports::ExportSettings::from_env()?;
    pairs.push(("EXPORT_RETENTION_SECONDS".into(), exports.retention_seconds.to_string()));
    if let Some((_, url, key)) = &kie_sim {
        pairs.push(("KIE_SIM_URL".into(), url.clone()));
        // The simulator's key only (a real one is never written to a file).
        pairs.push(("KIE_API_KEY".into(), key.clone()));
    }
    pairs.push(("PUBLIC_API_URL".into(), std::env::var("PUBLIC_API_URL")?));
    if let Some((_, url, key)) = &revenuecat_sim {
        pairs.push(("REVENUECAT_SIM_URL".into(), url.clone()));
        // The simulator's key only (a real one is never written to a file).
        pairs.push(("REVENUECAT_API_KEY".into(), key.clone()));
    }
    for name in ["REVENUECAT_API_BASE_URL", "REVENUECAT_WEBHOOK_AUTH", "PRODUCT_CREDITS"] {
        pairs.push((name.into(), std::env::var(name)?));
    }

    shared::telemetry::init();
    let emulator_url = emulator.endpoint();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async move {
        let timeout_of = |binary: &str| template.timeout_of(binary) * time_scale;
        let faults = fault_proxy::Faults::new(emulator_url.clone(), fault_config);
        let fault_server = faults.spawn(tokio::net::TcpListener::from_std(fault_listener)?);
        let router = Arc::new(build_router(&template, &timeout_of).await?);
        let server = tokio::spawn(local_stack::api::serve(tokio::net::TcpListener::from_std(api_listener)?, router));
        let mut tasks = Vec::new();
        if let Some((listener, _, key)) = kie_sim {
            let hmac_key = std::env::var("KIE_WEBHOOK_HMAC_KEY").ok().map(String::into_bytes);
            let delay_ms = std::env::var("KIE_SIM_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
            let sim = kie_sim::Simulator::new(kie_sim::SimConfig { api_key: key, hmac_key, default_delay: std::time::Duration::from_millis(delay_ms) });
            // `KIE_SIM_RATE_LIMIT=20/10`: the simulated account refuses (429) tasks over 20 per 10 s, as KIE does.
            if let Some((tasks, secs)) = std::env::var("KIE_SIM_RATE_LIMIT")
                .ok()
                .and_then(|v| Some((v.split_once('/')?.0.trim().parse().ok()?, v.split_once('/')?.1.trim().parse().ok()?)))
            {
                sim.limit_rate(tasks, std::time::Duration::from_secs(secs));
            }
            tasks.push(sim.spawn(tokio::net::TcpListener::from_std(listener)?));
        }
        if let Some((listener, _, api_key)) = revenuecat_sim {
            let sim = revenuecat_sim::Simulator::new(revenuecat_sim::SimConfig {
                api_key,
                webhook_url: Some(format!("{api_url}/v1/webhooks/revenuecat")),
                webhook_authorization: std::env::var("REVENUECAT_WEBHOOK_AUTH")?,
            });
            tasks.push(sim.spawn(tokio::net::TcpListener::from_std(listener)?));
        }
        // Lambda's event source mapping is not our code: it reaches the emulator directly.
        let direct = aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&emulator_url).load().await;
        // Lambda's SQS trigger starts with five concurrent batches; so does the local one.
        let pollers = std::env::var("LOCAL_QUEUE_POLLERS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
        for (binary, queue, batch) in &template.queue_consumers {
            let consume = registry::build_consumer(binary).await?;
            let (url, arn) = (created.queue_urls[queue].clone(), created.queue_arns[queue].clone());
            for _ in 0..pollers {
                let trigger = local_stack::sqs_trigger::Trigger {
                    sqs: aws_sdk_sqs::Client::new(&direct),
                    queue_url: url.clone(),
                    queue_arn: arn.clone(),
                    batch: *batch,
                    consume: consume.clone(),
                    timeout: timeout_of(binary),
                    faults: faults.clone(),
                };
                tasks.push(tokio::spawn(local_stack::sqs_trigger::run(trigger)));
            }
        }
        let mut timers = vec![fault_server];
        for binary in &template.scheduled {
            let tick = registry::build_scheduled(binary).await?;
            timers.push(tokio::spawn(run_on_timer(binary.clone(), tick, timeout_of(binary))));
        }
        self_check(&api_url).await?;
        let _env_file = StackEnv::write(&args.env_file, &pairs)?;
        println!("Pro Portrait local stack is up:");
        for (k, v) in pairs.iter().filter(|(k, _)| !k.starts_with("AWS_SECRET")) {
            println!("  {k}={v}");
        }
        println!("(written to {}; Ctrl-C stops everything)", args.env_file.display());
        shutdown_signal().await;
        server.abort();
        timers.iter().chain(&tasks).for_each(tokio::task::JoinHandle::abort);
        println!("local stack stopped");
        Ok::<_, BoxError>(())
    })?;
    drop(emulator);
    Ok(())
}

/// The template's function environment, with `!Ref`s resolved to what was created.
fn resolve_environment(template: &Template, created: &Created) -> Result<Vec<(String, String)>, BoxError> {
    let mut out = Vec::new();
    for (name, value) in &template.environment {
        let resolved = match value {
            EnvValue::Literal(v) => Some(v.clone()),
            EnvValue::Ref(id) if *id == template.table.logical_id => Some(created.table_name.clone()),
            EnvValue::Ref(id) if id == "AppSecretArn" => Some(created.secret_arn.clone()),
            EnvValue::Ref(id) => created.buckets.get(id).or_else(|| created.queue_urls.get(id)).cloned(),
            EnvValue::Other => None,
        };
        // Parameters (settings) keep the process environment or their defaults.
        if let Some(v) = resolved {
            out.push((name.clone(), v));
        }
    }
    // Each dead-letter queue, named after its queue's variable: QUEUE_URL's is
    // DEAD_LETTER_QUEUE_URL, DELETION_QUEUE_URL's DEAD_LETTER_DELETION_QUEUE_URL.
    for q in &template.queues {
        let Some(dlq) = &q.dead_letter_target else { continue };
        let var = template.environment.iter().find(|(_, v)| matches!(v, EnvValue::Ref(id) if *id == q.logical_id));
        if let Some((name, _)) = var {
            out.push((format!("DEAD_LETTER_{name}"), created.queue_urls[dlq].clone()));
        }
    }
    Ok(out)
}

fn settings_pairs(s: &Settings) -> Vec<(String, String)> {
    [
        ("ACCESS_TOKEN_SECONDS", s.access_token_seconds.to_string()),
        ("REFRESH_GRACE_SECONDS", s.refresh_grace_seconds.to_string()),
        ("SESSION_IDLE_DAYS", s.session_idle_days.to_string()),
        ("SIGNUP_LIMIT_PER_HOUR", s.signup_limit_per_hour.to_string()),
        ("FREE_CREDITS", s.free_credits.to_string()),
        ("UNUSED_UPLOAD_SECONDS", s.unused_upload_seconds.to_string()),
        ("JOB_DEADLINE_SECONDS", s.job_deadline_seconds.to_string()),
        ("RESULT_RETENTION_DAYS", s.result_retention_days.to_string()),
        ("STALL_SECONDS", s.stall_seconds.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Builds each binary's handler once, as each Lambda's cold start would.
async fn build_router(template: &Template, timeout_of: &dyn Fn(&str) -> std::time::Duration) -> Result<Router, BoxError> {
    let mut built: Vec<(String, Dispatch)> = Vec::new();
    let mut entries = Vec::new();
    for spec in &template.routes {
        let dispatch = match built.iter().find(|(b, _)| *b == spec.binary) {
            Some((_, d)) => Arc::clone(d),
            None => {
                let d = registry::build(&spec.binary).await?;
                built.push((spec.binary.clone(), Arc::clone(&d)));
                d
            }
        };
        entries.push(Entry { spec: spec.clone(), dispatch, timeout: timeout_of(&spec.binary) });
    }
    Ok(Router::new(entries))
}

/// One real request through the server before anyone is told it is up.
async fn self_check(api_url: &str) -> Result<(), BoxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET /v1/styles HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes()).await?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    if &head[9..12] != b"200" {
        return Err(format!("self-check GET /v1/styles answered {}", String::from_utf8_lossy(&head)).into());
    }
    Ok(())
}

/// Runs a scheduled function every `LOCAL_SCHEDULE_SECONDS` (default 5): the
/// template's rates are for production; locally, sooner is more useful.
/// Runs that may overlap: like EventBridge, a run starts on time while the
/// last one is still running, but the local schedule is much tighter than
/// AWS's, so a slow emulator must not pile them up without end.
const MAX_OVERLAPPING_RUNS: usize = 8;

/// Like EventBridge, a run starts on time even while the last one is still
/// running (up to [`MAX_OVERLAPPING_RUNS`]); each is stopped at the
/// function's `timeout`, as Lambda would.
async fn run_on_timer(binary: String, tick: registry::Tick, timeout: std::time::Duration) {
    let every = std::env::var("LOCAL_SCHEDULE_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(every));
    let running = Arc::new(tokio::sync::Semaphore::new(MAX_OVERLAPPING_RUNS));
    loop {
        interval.tick().await;
        let Ok(slot) = Arc::clone(&running).try_acquire_owned() else { continue };
        let (binary, run) = (binary.clone(), tick());
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(%binary, error = %err, "scheduled run failed"),
                Err(_) => tracing::error!(%binary, "scheduled run timed out (Lambda would stop it here)"),
            }
        });
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
