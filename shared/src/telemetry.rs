//! Structured logs: JSON lines with the current request's id, at `LOG_LEVEL`
//! (default `info`). AWS SDK and HTTP client internals stay at `warn` whatever
//! the level, because at debug they print request headers and URLs.

use tracing_subscriber::EnvFilter;

const QUIET_DEPENDENCIES: &str = "aws_smithy_runtime=warn,aws_smithy_http_client=warn,aws_sdk_dynamodb=warn,\
aws_sdk_s3=warn,aws_sdk_sqs=warn,aws_sdk_secretsmanager=warn,aws_config=warn,aws_runtime=warn,\
hyper=warn,hyper_util=warn,h2=warn,rustls=warn,reqwest=warn,lambda_runtime=warn,lambda_http=warn";

/// The filter for `level` with the dependencies kept quiet.
pub fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_new(format!("{level},{QUIET_DEPENDENCIES}")).unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_DEPENDENCIES}")))
}

/// Installs the JSON subscriber and a panic hook that logs the panic once,
/// inside the request's span. Call once at start.
pub fn init() {
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(&level))
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(%location, "panic: {}", panic_message(info));
    }));
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(std::string::ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic".into())
}
