//! The provider budget's shared task log, over the emulator: however many
//! workers ask at once, no more than the limit get a task slot in a window,
//! and the day's spend adds up exactly under concurrent tasks.

use futures_util::future::join_all;
use integration_tests::*;
use shared::ports::ProviderBudget;
use shared::rate_limit::Admission;

#[tokio::test]
async fn workers_asking_at_once_never_get_more_task_slots_than_the_limit() {
    let store = store().await;
    let now = shared::time::now();
    // A one-second window of 20 (the stack's own workers use the same log
    // with a larger limit, so their hits may take some of these slots).
    let answers = join_all((0..60).map(|_| store.admit_provider_task(now, 20, 1))).await;
    let admitted = answers.iter().filter(|a| matches!(a, Ok(Admission::Admitted))).count();
    let waiting = answers.iter().filter(|a| matches!(a, Ok(Admission::Limited { .. }))).count();
    let busy = answers.iter().filter(|a| matches!(a, Err(shared::error::StoreError::Unavailable(_)))).count();
    assert!(admitted <= 20, "{admitted} slots given for a limit of 20");
    assert!(admitted >= 1 && waiting >= 1, "some get a slot, some are told to wait: {answers:?}");
    // A worker that met only contention retries its step later: never a failed job.
    assert_eq!(admitted + waiting + busy, 60, "{answers:?}");
}

#[tokio::test]
async fn the_days_spend_adds_up_under_concurrent_tasks() {
    let store = store().await;
    let day = format!("1999-01-{:02}", 1 + rand::random::<u8>() % 28);
    let before = store.spent(&day).await.unwrap();
    join_all((0..25).map(|_| store.add_spend(&day, 20_000))).await.into_iter().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(store.spent(&day).await.unwrap() - before, 500_000);
}
