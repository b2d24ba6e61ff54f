//! `aws-calls`: prints, for each route, its HTTP status, the AWS calls one
//! request makes (`service.Operation × n`) and the median wall time of
//! `respond` over `BENCH_RUNS` runs (default 20).
//!
//! Needs a running local stack: `STACK_ENV_FILE` names its env file (`bin/bench`
//! starts one and sets it).

use bench::harness::Bench;
use bench::{report, scenarios};
use shared::error::BoxError;

/// Sets a variable while this process has one thread.
fn set_env(name: &str, value: &str) {
    // SAFETY: called only from `main` before the tokio runtime (and any other
    // thread that could read the environment) exists.
    unsafe { std::env::set_var(name, value) }
}

fn main() -> Result<(), BoxError> {
    let path = std::env::var("STACK_ENV_FILE").map_err(|_| "STACK_ENV_FILE is not set: run bin/bench, which starts a stack")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    for (name, value) in local_stack::stack_env::parse(&text) {
        set_env(&name, &value);
    }
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let rows = tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let bench = Bench::from_env().await?;
        scenarios::run_all(&bench, runs).await
    })?;
    println!("AWS calls per route (handlers run in-process against the local stack's moto emulator)");
    println!("calls: AWS requests sent (presigning sends none); session: of them, the separate session-alive read");
    println!("(GetItem of the session's TTL; other routes confirm the session inside their one transaction)");
    println!("median ms: wall time of respond() over the runs; the emulator's latency is not AWS's\n");
    print!("{}", report::render(&rows));
    Ok(())
}
