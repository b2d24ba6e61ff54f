//! `soak`: the soak run (a benchmark, not a test). Many simulated app users
//! act at once on a flaky network against a local stack whose AWS calls
//! fail now and then (the fault layer) and whose provider misbehaves (the
//! KIE simulator's catch-all rule); then the run drains, reads storage
//! directly from the emulator and checks that every job ended, every credit
//! is explained, every purchase was granted once, nothing is stored that no
//! record owns, every data export was made or failed (none stuck), and
//! deleted accounts left nothing (their exports included). Prints one table; exits
//! 1 on any violation, 2 when the run itself could not be made.
//!
//! Run by `bin/soak`, which starts the stack and passes `STACK_ENV_FILE`
//! (and `STACK_LOG_FILE`); the knobs are in the README ("The soak run").

mod api;
mod checks;
mod config;
mod drain;
mod external;
mod facts;
mod logscan;
mod model;
mod purchases;
mod report;
mod storage;
mod user;
mod world;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use config::{Knobs, Stack, Timing};
use user::User;
use world::World;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("soak: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the users (acting time), then returns them for the drain, with the
/// seconds they acted.
async fn act(world: &Arc<World>) -> Result<(Vec<User>, f64), String> {
    let knobs = &world.knobs;
    // Which users delete their account: a seeded choice.
    let mut order: Vec<usize> = (0..knobs.users).collect();
    order.shuffle(&mut StdRng::seed_from_u64(knobs.seed));
    let deleting: Vec<usize> = order.into_iter().take(knobs.deleting_users()).collect();
    let mut tasks = Vec::new();
    for i in 0..knobs.users {
        let user = User::new(Arc::clone(world), i, deleting.contains(&i)).map_err(|e| format!("an HTTP client: {e}"))?;
        tasks.push(tokio::spawn(user.run()));
    }
    // A line now and then, so an operator sees the run move.
    let progress = {
        let world = Arc::clone(world);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                eprintln!(
                    "soak: {:>4.0} s, {} jobs created, {} in flight",
                    world.start.elapsed().as_secs_f64(),
                    world.created.load(Ordering::Relaxed),
                    world.in_flight()
                );
            }
        })
    };
    let mut users = Vec::new();
    for task in tasks {
        users.push(task.await.map_err(|e| format!("a user task failed: {e}"))?);
    }
    progress.abort();
    Ok((users, world.start.elapsed().as_secs_f64()))
}

async fn run() -> Result<bool, String> {
    let knobs = Knobs::from_env()?;
    let stack = Stack::from_env()?;
    let timing = Timing::of(&stack);
    let storage = storage::Storage::connect(&stack).await?;
    external::set_kie_rule(&stack, &knobs).await?;
    let world = Arc::new(World::new(stack.clone(), knobs.clone())?);
    eprintln!("soak: {} users for {} s (at least {} jobs), seed {}; then the drain and the checks", knobs.users, knobs.seconds, knobs.jobs, knobs.seed);

    let (mut users, acting_secs) = act(&world).await?;
    eprintln!("soak: users done after {acting_secs:.0} s, {} jobs created; draining", world.created.load(Ordering::Relaxed));
    let drained = drain::drain(&mut users, &stack, &storage, timing).await;
    let logs: Vec<model::UserLog> = users.iter().map(|u| u.log().clone()).collect();

    eprintln!("soak: reading storage for the checks");
    let facts = facts::gather(&storage, &logs).await?;
    let kie = external::kie_summary(&stack).await?;
    let faults = external::fault_summary(&stack).await?;
    let kie_tasks = kie.as_ref().map_or(&[][..], |k| &k.tasks[..]);
    let mut all = checks::jobs::check_final(&facts, &drained.unfinished, timing, kie_tasks);
    all.push(checks::jobs::check_models(&facts, kie_tasks));
    all.extend(checks::jobs::check_credits(&facts, &logs));
    all.extend(checks::purchases::check(&facts, &logs));
    all.extend(checks::storage::check(&facts, &logs, &storage).await?);
    all.push(checks::exports::check(&facts, &logs));
    let (dead_letters, dead_letter_lines) = checks::dead_letters::check(&stack, &storage, &facts, &logs).await?;
    all.push(dead_letters);
    // The simulated KIE account refuses tasks over 20 per 10 s (KIE_SIM_RATE_LIMIT): the
    // workers' shared task rate must keep every createTask under it, however many run.
    let mut rate = checks::Check::new("no createTask refused for the account's task rate");
    let refused = kie.as_ref().and_then(|k| k.stats["rate_refusals"].as_u64()).unwrap_or(0);
    if refused > 0 {
        rate.fail(format!("{refused} createTask call(s) refused with 429 for the rate"));
    }
    all.push(rate.with_note(format!("{} createTask calls", kie.as_ref().and_then(|k| k.stats["create_calls"].as_u64()).unwrap_or(0))));

    let outcomes = checks::jobs::outcomes(&facts, &logs);
    report::print(&report::Summary {
        knobs: &knobs,
        timing,
        aws_faults: std::env::var("AWS_FAULTS").unwrap_or_default(),
        fallback_models: ["STANDARD", "HIGH"].map(|q| std::env::var(format!("KIE_FALLBACK_MODEL_{q}")).unwrap_or_default()),
        logs: &logs,
        acting_secs,
        drained: &drained,
        outcomes: &outcomes,
        answers: world.stats.snapshot(),
        faults: &faults,
        api_times: &world.stats.times(),
        kie: kie.as_ref(),
        checks: &all,
        untracked_profiles: facts.untracked_profiles.len(),
    });
    for line in &dead_letter_lines {
        println!("{line}");
    }
    for note in &drained.notes {
        println!("drain: {note}");
    }
    let notes: Vec<&String> = logs.iter().flat_map(|l| &l.notes).collect();
    for note in notes.iter().take(10) {
        println!("client: {note}");
    }
    if notes.len() > 10 {
        println!("client: … and {} more", notes.len() - 10);
    }
    for check in all.iter().filter(|c| c.offenders.len() > 3) {
        println!("{}: all {} offenders:", check.name, check.offenders.len());
        for o in check.offenders.iter().take(30) {
            println!("  {o}");
        }
    }
    logscan::print_for(&all);
    Ok(all.iter().all(checks::Check::passed))
}
