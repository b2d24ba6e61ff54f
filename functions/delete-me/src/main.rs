//! Lambda entry point: builds the route once per cold start, then serves it.

#[tokio::main]
async fn main() -> Result<(), shared::error::BoxError> {
    shared::telemetry::init();
    let route = delete_me::DeleteMe::from_env().await?;
    shared::http::serve::run(route).await
}
