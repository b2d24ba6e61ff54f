//! `support`: the operators' command. Run against the deployed stack (AWS
//! credentials and the functions' environment: `TABLE_NAME`, `BUCKET_NAME`,
//! `QUEUE_URL`, `DELETION_QUEUE_URL`, `EXPORT_QUEUE_URL`, `APP_SECRETS_ARN`) or the local one
//! (`--env-file .local/stack.env`). It prints what it did.
//!
//! ```text
//! support [--env-file PATH] grant-credits <user_id> <n> --reason <text>
//! support [--env-file PATH] show-user <user_id>
//! support [--env-file PATH] delete-user <user_id> [--no-wait]
//! support [--env-file PATH] reapply-deletions
//! ```

use shared::ports::{DeletionStore, LedgerStore};
use std::process::ExitCode;

mod show;

use shared::context::AppContext;
use shared::credits::ledger::{LedgerReason, Posting};
use shared::error::BoxError;

const USAGE: &str = "usage: support [--env-file PATH] grant-credits <user_id> <n> --reason <text>
       support [--env-file PATH] show-user <user_id>
       support [--env-file PATH] delete-user <user_id> [--no-wait]
       support [--env-file PATH] reapply-deletions";

/// How long `delete-user` waits for the erasure before it says it is still running.
const DELETE_WAIT_SECS: u64 = 90;

/// Largest grant in one command: a typo should not mint a fortune.
const MAX_GRANT: i64 = 1000;

enum Command {
    GrantCredits { user_id: String, credits: i64, reason: String },
    ShowUser { user_id: String },
    DeleteUser { user_id: String, wait: bool },
    ReapplyDeletions,
}

fn parse(mut args: Vec<String>) -> Result<(Option<String>, Command), String> {
    let mut env_file = None;
    if args.first().map(String::as_str) == Some("--env-file") {
        if args.len() < 2 {
            return Err("--env-file needs a path".into());
        }
        env_file = Some(args.remove(1));
        args.remove(0);
    }
    match args.first().map(String::as_str) {
        Some("grant-credits") => {
            let [_, user_id, n, flag, reason] = <[String; 5]>::try_from(args).map_err(|_| USAGE.to_string())?;
            let credits: i64 = n.parse().ok().filter(|c| (1..=MAX_GRANT).contains(c)).ok_or(format!("<n> must be 1 to {MAX_GRANT}"))?;
            if flag != "--reason" || reason.trim().is_empty() {
                return Err("a grant needs --reason <text>, kept in the ledger".into());
            }
            Ok((env_file, Command::GrantCredits { user_id, credits, reason }))
        }
        Some("show-user") => match args.as_slice() {
            [_, user_id] => Ok((env_file, Command::ShowUser { user_id: user_id.clone() })),
            _ => Err(USAGE.into()),
        },
        Some("reapply-deletions") if args.len() == 1 => Ok((env_file, Command::ReapplyDeletions)),
        Some("delete-user") => match args.as_slice() {
            [_, user_id] => Ok((env_file, Command::DeleteUser { user_id: user_id.clone(), wait: true })),
            [_, user_id, flag] if flag == "--no-wait" => Ok((env_file, Command::DeleteUser { user_id: user_id.clone(), wait: false })),
            _ => Err(USAGE.into()),
        },
        _ => Err(USAGE.into()),
    }
}

#[allow(unsafe_code)]
fn load_env_file(path: &str) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    for (key, value) in local_stack::stack_env::parse(&text) {
        // SAFETY: called from `main` before the runtime or any other thread exists.
        unsafe { std::env::set_var(key, value) };
    }
    Ok(())
}

fn main() -> ExitCode {
    let (env_file, command) = match parse(std::env::args().skip(1).collect()) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let run = || -> Result<String, BoxError> {
        if let Some(path) = env_file {
            load_env_file(&path)?;
        }
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
            let ctx = AppContext::from_env().await?;
            execute(&ctx, command).await
        })
    };
    match run() {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("support: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(ctx: &AppContext, command: Command) -> Result<String, BoxError> {
    let store = &ctx.store;
    match command {
        Command::ShowUser { user_id } => show::show_user(ctx, &user_id).await,
        Command::DeleteUser { user_id, wait } => delete_user(ctx, &user_id, wait).await,
        Command::ReapplyDeletions => reapply_deletions(ctx).await,
        Command::GrantCredits { user_id, credits, reason } => {
            let note = format!("support: {}", reason.trim());
            let posting = Posting {
                user_id: &user_id,
                amount: credits,
                reason: LedgerReason::SupportGrant,
                reference: Some(&note),
                active_jobs_delta: 0,
                max_active_jobs: None,
                now: shared::time::now(),
            };
            if !store.post(&posting).await? {
                return Err(format!("no user {user_id}: nothing granted").into());
            }
            let balance = store.check_balance_invariant(&user_id).await?.map_err(|v| v.to_string())?;
            Ok(format!("granted {credits} credits to {user_id} ({note}); balance now {balance}"))
        }
    }
}

/// The guardian request: the same path as `DELETE /v1/me` (queue the
/// erasure, mark the account, revoke every session), then, unless told not
/// to, wait for the verifier to find nothing. Running it again is harmless:
/// it resumes an unfinished erasure or proves a finished one.
async fn delete_user(ctx: &AppContext, user_id: &str, wait: bool) -> Result<String, BoxError> {
    let existed = shared::usecases::account_deletion::request_deletion(&ctx.store, &ctx.deletions, user_id, shared::time::now()).await?;
    let mut report = if existed {
        format!("deletion of {user_id} queued; every session revoked")
    } else {
        format!("no profile for {user_id}; an erasure of anything left was queued")
    };
    if !wait {
        return Ok(report);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(DELETE_WAIT_SECS);
    loop {
        let left = shared::usecases::account_deletion::verify_gone(&ctx.store, &ctx.photos, &ctx.secrets.ip_hash_key, user_id).await?;
        if left.is_empty() {
            report.push_str("\nverified: no item and no object of the user is left");
            return Ok(report);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("{report}\nstill left after {DELETE_WAIT_SECS} s (the worker keeps retrying): {left:?}").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// After a restore from a backup (point-in-time recovery keeps 35 days),
/// deletes again every account the deletion log names: the log holds only
/// keyed hashes, so every profile's id is hashed and compared.
async fn reapply_deletions(ctx: &AppContext) -> Result<String, BoxError> {
    let logged: std::collections::HashSet<String> = ctx.store.deletion_log().await?.into_iter().collect();
    let mut again = Vec::new();
    for user_id in ctx.store.all_user_ids().await? {
        if logged.contains(&shared::credits::user_hash(&ctx.secrets.ip_hash_key, &user_id)) {
            shared::usecases::account_deletion::request_deletion(&ctx.store, &ctx.deletions, &user_id, shared::time::now()).await?;
            again.push(user_id);
        }
    }
    Ok(format!("{} deletions in the log; {} restored account(s) queued for deletion again: {}", logged.len(), again.len(), again.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn parses_grant_credits() {
        let (env, Command::GrantCredits { user_id, credits, reason }) = parse(args("--env-file .local/stack.env grant-credits u1 5 --reason welcome")).unwrap()
        else {
            panic!("not a grant")
        };
        assert_eq!((env.as_deref(), user_id.as_str(), credits, reason.as_str()), (Some(".local/stack.env"), "u1", 5, "welcome"));
    }

    #[test]
    fn parses_show_and_delete() {
        assert!(matches!(parse(args("show-user u1")).unwrap().1, Command::ShowUser { user_id } if user_id == "u1"));
        assert!(matches!(parse(args("delete-user u1")).unwrap().1, Command::DeleteUser { wait: true, .. }));
        assert!(matches!(parse(args("delete-user u1 --no-wait")).unwrap().1, Command::DeleteUser { wait: false, .. }));
        for bad in ["show-user", "show-user u1 u2", "delete-user", "delete-user u1 --now"] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_grants() {
        for bad in [
            "grant-credits u1 0 --reason x",
            "grant-credits u1 1001 --reason x",
            "grant-credits u1 5",
            "grant-credits u1 five --reason x",
            "grant-credits u1 5 --why x",
            "delete-everything",
            "",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }
}
