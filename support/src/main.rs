//! `support`: the operators' command. Run against the deployed stack (AWS
//! credentials and `TABLE_NAME` in the environment) or the local one
//! (`--env-file .local/stack.env`). It prints what it did.
//!
//! ```text
//! support [--env-file PATH] grant-credits <user_id> <n> --reason <text>
//! ```

use std::process::ExitCode;

use shared::adapters::dynamo::DynamoStore;
use shared::adapters::dynamo::ledger::{LedgerReason, Posting};
use shared::error::BoxError;

const USAGE: &str = "usage: support [--env-file PATH] grant-credits <user_id> <n> --reason <text>";

/// Largest grant in one command: a typo should not mint a fortune.
const MAX_GRANT: i64 = 1000;

enum Command {
    GrantCredits { user_id: String, credits: i64, reason: String },
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
        _ => Err(USAGE.into()),
    }
}

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
        let table = shared::config::required("TABLE_NAME")?;
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
            let sdk = shared::adapters::aws_config().await;
            let store = DynamoStore::new(shared::adapters::dynamo_client(&sdk), table);
            execute(&store, command).await
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

async fn execute(store: &DynamoStore, command: Command) -> Result<String, BoxError> {
    match command {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn parses_grant_credits() {
        let (env, Command::GrantCredits { user_id, credits, reason }) =
            parse(args("--env-file .local/stack.env grant-credits u1 5 --reason welcome")).unwrap();
        assert_eq!((env.as_deref(), user_id.as_str(), credits, reason.as_str()), (Some(".local/stack.env"), "u1", 5, "welcome"));
    }

    #[test]
    fn refuses_bad_grants() {
        for bad in ["grant-credits u1 0 --reason x", "grant-credits u1 1001 --reason x", "grant-credits u1 5",
                    "grant-credits u1 five --reason x", "grant-credits u1 5 --why x", "delete-everything", ""] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }
}
