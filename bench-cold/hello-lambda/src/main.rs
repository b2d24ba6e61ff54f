//! The empty function: `lambda_runtime`'s hello world, answering each event
//! with the event itself. `bench-cold` times it beside the functions, built
//! with the same profile, as the floor a Rust Lambda's cold start can reach.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|e: LambdaEvent<serde_json::Value>| async { Ok::<_, lambda_runtime::Error>(e.payload) })).await
}
