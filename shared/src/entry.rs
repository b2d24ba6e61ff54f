//! The one entry point of every function: a binary's `main` is one line
//! naming its kind (`http`, `queue`, `schedule`) and its type. Each builds
//! the function once per cold start from the environment ([`Function`]),
//! then serves the Lambda runtime; the local stack builds the same types.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

use crate::context::AppContext;
use crate::error::BoxError;
use crate::http::Route;
use crate::http::serve;

/// A function built from the environment, once per cold start.
pub trait Function: Sized {
    /// Reads the settings and secrets and builds the clients.
    fn from_env() -> impl Future<Output = Result<Self, BoxError>> + Send;
}

/// A function built over the service's AWS context (most of them).
pub trait FromContext: Sized {
    /// Builds the function over a ready context.
    fn from_context(ctx: AppContext) -> Result<Self, BoxError>;
}

impl<T: FromContext> Function for T {
    async fn from_env() -> Result<Self, BoxError> {
        T::from_context(AppContext::from_env().await?)
    }
}

/// An SQS-triggered function: handles a batch, answering the messages to retry.
pub trait Consumer: Send + Sync + 'static {
    /// Handles one batch.
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send;
}

/// A scheduled function: one run per event, within `budget`.
pub trait Scheduled: Send + Sync + 'static {
    /// One run; what it did, as the invocation's answer.
    fn run(&self, budget: Duration) -> impl Future<Output = Result<serde_json::Value, BoxError>> + Send;
}

/// A single-threaded runtime: a Lambda instance handles one event at a time,
/// and its calls wait on the network together on one thread. A multi-thread
/// runtime would start a worker per CPU at every cold start for nothing.
/// CPU-heavy work (photo decoding) runs on tokio's blocking threads, which
/// start only when used. Before it starts, while `main` is the only thread,
/// the SDK is pointed at the one partition table it needs
/// ([`crate::adapters::partitions`]). A function has a few sockets open at
/// most, so the I/O driver's event buffer holds 64 events per poll instead
/// of tokio's 1,024 (12 KB of memory touched at every cold start); more
/// ready sockets are simply taken at the next poll.
///
/// Each entry point below boxes its future before `block_on`: held by value,
/// it would be moved, and so copied, through `block_on`'s frames, and the SDK's
/// futures make it ~12 KB (the worker's init touched 24 pages of stack unboxed,
/// 15 boxed). Boxed in place: a shared generic helper doing it measured 3–5
/// page faults more at init.
fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    crate::adapters::partitions::use_own_partition_only();
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().max_io_events_per_tick(64).build()?)
}

/// Runs the HTTP route `R` behind API Gateway.
pub fn http<R: Route + Function>() -> Result<(), BoxError> {
    runtime()?.block_on(Box::pin(async {
        crate::telemetry::init();
        serve::run(R::from_env().await?).await
    }))
}

/// Runs the queue consumer `C`.
pub fn queue<C: Consumer + Function>() -> Result<(), BoxError> {
    runtime()?.block_on(Box::pin(async {
        crate::telemetry::init();
        let consumer = Arc::new(C::from_env().await?);
        lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
            let consumer = Arc::clone(&consumer);
            async move { Ok::<_, BoxError>(consumer.handle(event.payload).await) }
        }))
        .await
    }))
}

/// Runs the scheduled function `S`, leaving 10 s of each invocation's time
/// as a margin before its timeout.
pub fn schedule<S: Scheduled + Function>() -> Result<(), BoxError> {
    runtime()?.block_on(Box::pin(async {
        crate::telemetry::init();
        let function = Arc::new(S::from_env().await?);
        lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let function = Arc::clone(&function);
            async move {
                let left = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
                function.run(left.saturating_sub(Duration::from_secs(10))).await
            }
        }))
        .await
    }))
}
